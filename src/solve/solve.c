/* solve.c: the regime protocol, once for every method (solve.h).
 *
 * THEORY.md section 3 defines the regimes; the registry (registry.c) says which method serves
 * which. This file owns the order of work (per replica: the source, then scratch, readout and
 * joint, so the readout and joint regimes start from the very source state the replica made),
 * the readout regime's ridge regression on the method's source kernel, the timing, the average
 * over replicas, the errors every replica shares and the refinement to a target error, the source cache
 * and the bridge from the methods' observer hooks to the output files. The numerics are the
 * methods' (src/methods/). */
#include "akt/solve.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "akt/exact.h"
#include "akt/observables.h"
#include "akt/output.h"
#include "akt/resources.h"
#include "core/parallel.h"
#include "core/util.h"
#include "solve/source_cache.h"

/* Replicas running at once, at most (the machine's cores decide below that). */
#define AKT_MAX_THREADS 64

struct akt_solver {
    const akt_spec *spec;
    const akt_data *data;
    const akt_method_type *methods[AKT_REGIME_COUNT];
    bool wanted[AKT_REGIME_COUNT];
    akt_source_cache *cache;
    akt_outputs *outputs;
    akt_solve_progress progress;
    void *progress_context;
    const void *settings;            /* the method's own settings (akt_solver_alloc_method) */
    size_t threads;                  /* replicas at once; 0: one per core */
    const akt_observer *observer;    /* the caller's own hooks (akt_solver_set_observer) */
};

/* ---- the plan ------------------------------------------------------------------------------ */

/* Resolves every regime's method before any work starts, so an unsupported request costs
 * nothing and leaves no partial result. */
static int make_plan(akt_solver *solver, akt_error *err)
{
    const akt_spec *spec = solver->spec;
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        solver->wanted[r] = r == AKT_REGIME_SOURCE || spec->target.regimes[r];
        if (!solver->wanted[r])
            continue;
        int status = akt_method_resolve(spec, (akt_regime)r, &solver->methods[r], err);
        if (status != AKT_OK)
            return status;
    }
    /* readout and joint start from the source state, so they share its method; scratch is a
     * separate problem and may use another (e.g. convex at time converge next to a population
     * source at a finite time). */
    const akt_method_type *source = solver->methods[AKT_REGIME_SOURCE];
    for (int r = AKT_REGIME_READOUT; r <= AKT_REGIME_JOINT; r++)
        if (solver->wanted[r] && solver->methods[r] != source)
            return akt_error_set(err, AKT_ERR_INPUT,
                                 "solver.method: regime %s would use method %s but the source "
                                 "state it starts from comes from method %s",
                                 akt_regime_name((akt_regime)r), solver->methods[r]->name,
                                 source->name);
    return AKT_OK;
}

/* Every wanted regime by the one method given: it must serve each. */
static int plan_one_method(akt_solver *solver, const akt_method_type *method, akt_error *err)
{
    const akt_spec *spec = solver->spec;
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        solver->wanted[r] = r == AKT_REGIME_SOURCE || spec->target.regimes[r];
        if (!solver->wanted[r])
            continue;
        akt_method_phase phase = r == AKT_REGIME_SOURCE    ? method->source
                                 : r == AKT_REGIME_SCRATCH ? method->scratch
                                 : r == AKT_REGIME_JOINT   ? method->joint
                                                           : NULL;
        if (!phase && !(r == AKT_REGIME_READOUT && method->readout_kernel))
            return akt_error_set(err, AKT_ERR_INPUT, "regime %s: method %s does not serve it",
                                 akt_regime_name((akt_regime)r), method->name);
        int status = method->applies ? method->applies(spec, (akt_regime)r, err) : AKT_OK;
        if (status != AKT_OK)
            return status;
        solver->methods[r] = method;
    }
    return AKT_OK;
}

static akt_solver *solver_alloc(const akt_spec *spec, const akt_data *data,
                                const akt_method_type *method, const void *settings,
                                akt_error *err)
{
    akt_solver *solver = calloc(1, sizeof *solver);
    if (!solver) {
        akt_out_of_memory(err, "the solver");
        return NULL;
    }
    solver->spec = spec;
    solver->data = data;
    solver->settings = settings;
    int status = method ? plan_one_method(solver, method, err) : make_plan(solver, err);
    for (int r = 0; status == AKT_OK && r < AKT_REGIME_COUNT; r++)
        if (solver->wanted[r])
            status = akt_resources_check(spec, data, solver->methods[r], 0, err);
    if (status != AKT_OK) {
        free(solver);
        return NULL;
    }
    return solver;
}

akt_solver *akt_solver_alloc(const akt_spec *spec, const akt_data *data, akt_error *err)
{
    return solver_alloc(spec, data, NULL, NULL, err);
}

akt_solver *akt_solver_alloc_method(const akt_spec *spec, const akt_data *data,
                                    const akt_method_type *method, const void *settings,
                                    akt_error *err)
{
    return solver_alloc(spec, data, method, settings, err);
}

void akt_solver_free(akt_solver *solver)
{
    free(solver);
}

void akt_solver_set_cache(akt_solver *solver, akt_source_cache *cache)
{
    solver->cache = cache;
}

void akt_solver_set_outputs(akt_solver *solver, akt_outputs *outputs)
{
    solver->outputs = outputs;
}

void akt_solver_set_progress(akt_solver *solver, akt_solve_progress progress, void *context)
{
    solver->progress = progress;
    solver->progress_context = context;
}

void akt_solver_set_observer(akt_solver *solver, const akt_observer *observer)
{
    solver->observer = observer;
}

void akt_solver_set_threads(akt_solver *solver, size_t threads)
{
    solver->threads = threads < AKT_MAX_THREADS ? threads : AKT_MAX_THREADS;
}

const akt_method_type *akt_solver_method(const akt_solver *solver, akt_regime regime)
{
    return solver->wanted[regime] ? solver->methods[regime] : NULL;
}

/* ---- observers: the methods' hooks, answered by the outputs and the progress callback ------- */

typedef struct {
    akt_outputs *outputs;
    bool record[AKT_REGIME_COUNT];   /* the regimes whose outputs this family hands over */
    akt_solve_progress progress;
    void *progress_context;
    pthread_mutex_t progress_lock;   /* replicas in threads report progress one at a time */
    size_t replicas;
} observation;

static bool observe_wants_kernels(void *context, akt_regime regime)
{
    observation *o = context;
    return o->record[regime] && akt_outputs_wants_kernels(o->outputs, regime);
}

static void observe_kernel_splits(void *context, akt_regime regime,
                                  bool splits[AKT_POINTS_COUNT], size_t *M)
{
    observation *o = context;
    akt_outputs_kernel_splits(o->outputs, regime, splits, M);
}

static int observe_add_kernels(void *context, akt_regime regime, const double *Phi,
                               const double *G, akt_error *err)
{
    observation *o = context;
    return akt_outputs_add_kernels(o->outputs, regime, Phi, G, err);
}

static bool observe_wants_trajectory(void *context, akt_regime regime)
{
    observation *o = context;
    return o->record[regime] && akt_outputs_wants_trajectory(o->outputs, regime);
}

static int observe_add_losses(void *context, akt_regime regime, unsigned long replica, double t,
                              double train_loss, double test_loss, const double *observables,
                              akt_error *err)
{
    observation *o = context;
    return akt_outputs_add_losses(o->outputs, regime, replica, t, train_loss, test_loss,
                                  observables, err);
}

static int observe_step(void *context, akt_regime regime, size_t replica, double t,
                        double horizon, long steps, akt_error *err)
{
    observation *o = context;
    pthread_mutex_lock(&o->progress_lock);
    int status = o->progress(o->progress_context, regime, replica, o->replicas, t, horizon, steps,
                             err);
    pthread_mutex_unlock(&o->progress_lock);
    return status;
}

/* The observer of one family's run: NULL when nothing watches (the methods then skip every
 * hook). The source regime's outputs are handed over only when it is wanted. */
static const akt_observer *make_observer(const akt_solver *solver, const bool wanted[],
                                         size_t replicas, observation *o, akt_observer *observer)
{
    memset(o, 0, sizeof *o);
    if (solver->observer)
        return solver->observer;
    if (!solver->outputs && !solver->progress)
        return NULL;
    memset(o, 0, sizeof *o);
    memset(observer, 0, sizeof *observer);
    o->outputs = solver->outputs;
    o->progress = solver->progress;
    o->progress_context = solver->progress_context;
    o->replicas = replicas;
    for (int r = 0; r < AKT_REGIME_COUNT; r++)
        o->record[r] = solver->outputs && wanted[r];
    observer->context = o;
    if (solver->outputs) {
        observer->wants_kernels = observe_wants_kernels;
        observer->kernel_splits = observe_kernel_splits;
        observer->add_kernels = observe_add_kernels;
        observer->wants_trajectory = observe_wants_trajectory;
        observer->add_losses = observe_add_losses;
    }
    if (solver->progress) {
        pthread_mutex_init(&o->progress_lock, NULL);
        observer->step = observe_step;
    }
    return observer;
}

static void observation_end(observation *o, const akt_observer *observer)
{
    if (observer && observer->context == o && observer->step)
        pthread_mutex_destroy(&o->progress_lock);
}

/* ---- per-replica tallies and the averaged result ------------------------------------------ */

typedef struct {
    double *test, *train;    /* one value per replica done */
    double *observables;     /* observable k of replica r at k * capacity + r */
    size_t capacity;         /* the replicas */
    size_t done;
    long iterations;
    double residual, integration_error, seconds;
    akt_stability stable;
    bool converged, attempted, failed;
} regime_tally;

/* The larger of a replica's estimate and the worst so far; NAN only while both are NAN. */
static double worst_of(double worst, double value)
{
    if (value <= worst)
        return worst;
    return isnan(worst) ? value : fmax(worst, value);
}

static void tally_add(regime_tally *t, const akt_result *r)
{
    t->test[t->done] = r->test_loss;
    t->train[t->done] = r->train_loss;
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++)
        t->observables[(size_t)k * t->capacity + t->done] = r->observables[k];
    t->done++;
    t->iterations += r->iterations;
    t->residual = worst_of(t->residual, r->residual);
    t->integration_error = worst_of(t->integration_error, r->integration_error);
    t->converged = t->converged && r->converged;
    if (t->stable != AKT_STABLE_NO)
        t->stable = t->done == 1 || r->stable == AKT_STABLE_NO ? r->stable : t->stable;
}

static double mean(const double *v, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return n ? sum / (double)n : NAN;
}

static double standard_error(const double *v, size_t n)
{
    if (n < 2)
        return NAN;
    double m = mean(v, n), sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (v[i] - m) * (v[i] - m);
    return sqrt(sum / (double)(n - 1)) / sqrt((double)n);
}

static double counted_mc_error(double mc_error, size_t replicas);

/* The replicas' mean of each observable; its error is the counted standard error for a sampled
 * method (the shared parts are added by the error runs) and 0 for a deterministic one. */
static void average_observables(akt_result *result, const regime_tally *t, bool sampled)
{
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++) {
        const double *values = t->observables + (size_t)k * t->capacity;
        result->observables[k] = mean(values, t->done);
        if (isnan(result->observables[k]))
            result->observable_errors[k] = NAN;
        else
            result->observable_errors[k] =
                sampled ? counted_mc_error(standard_error(values, t->done), t->done) : 0.0;
    }
}

static void fresh_result(akt_result *result, akt_regime regime, const akt_method_type *method)
{
    memset(result, 0, sizeof *result);
    result->regime = regime;
    result->method = method->name;
    result->test_loss = result->train_loss = NAN;
    result->mc_error = NAN;
    result->residual = NAN;
    result->integration_error = result->bias = result->error = NAN;
    akt_observables_clear(result->observables);
    akt_observables_clear(result->observable_errors);
    result->stable = AKT_STABLE_UNTESTED;
    result->converged = false;
}

static void fill_result(akt_result *result, akt_regime regime, const akt_method_type *method,
                        const regime_tally *t)
{
    fresh_result(result, regime, method);
    result->test_loss = mean(t->test, t->done);
    result->train_loss = mean(t->train, t->done);
    result->mc_error = standard_error(t->test, t->done);
    result->residual = t->residual;
    /* what the method knows of its own integration (the worst replica's); a sampled method's
     * shared parts are measured afterwards (run_family_with_errors) */
    result->integration_error = t->integration_error;
    result->bias = method->flags & AKT_METHOD_SAMPLED ? NAN : 0.0;
    result->stable = t->stable;
    result->converged = !t->failed && t->done > 0 && t->converged && t->stable != AKT_STABLE_NO;
    result->iterations = t->iterations;
    result->seconds = t->seconds;
    average_observables(result, t, method->flags & AKT_METHOD_SAMPLED);
}

/* ---- one regime of one replica --------------------------------------------------------------- */

/* The readout regime's observables: only the readout trains, so its NTK is the source feature
 * kernel Phi_s; the hidden weights keep the source's (retention 1, hidden distance 0) and the
 * kernel does not move (no feature-learning magnitude). The test-split alignment needs Phi_s on
 * the test points, which a method may not offer (then NAN). */
static int readout_observables(const akt_method_type *method, void *state, size_t replica,
                               const akt_data *data, const double *K, akt_result *result,
                               akt_error *err)
{
    double *o = result->observables;
    o[AKT_OBSERVABLE_FEATURE_ALIGNMENT_TRAIN] = o[AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN] =
        akt_kernel_target_alignment(K, data->target.y, data->target.rows);
    o[AKT_OBSERVABLE_RETENTION] = 1.0;
    o[AKT_OBSERVABLE_HIDDEN_DISTANCE] = 0.0;
    size_t Mt = data->test.rows;
    if (!method->readout_kernel_test || Mt == 0 || Mt > AKT_OBSERVABLES_MAX_POINTS)
        return AKT_OK;
    double *K_test = malloc(Mt * Mt * sizeof *K_test);
    if (!K_test)
        return akt_out_of_memory(err, "the source kernel on the test points");
    int status = method->readout_kernel_test(state, replica, K_test, err);
    if (status == AKT_OK)
        o[AKT_OBSERVABLE_FEATURE_ALIGNMENT_TEST] = o[AKT_OBSERVABLE_NTK_ALIGNMENT_TEST] =
            akt_kernel_target_alignment(K_test, data->test.y, Mt);
    free(K_test);
    return status;
}

/* The readout regime (THEORY.md section 3): f = Phi_s(x, X2) (Phi_s(X2, X2) + lambda_r I)^{-1} y2
 * on the target train and test points, from the method's source kernel. */
static int readout_regime(const akt_method_type *method, void *state, size_t replica,
                          const akt_spec *spec, const akt_data *data, akt_result *result,
                          akt_error *err)
{
    size_t P = data->target.rows, M = P + data->test.rows;
    double *K = malloc((P ? P * P : 1) * sizeof *K);
    double *K_cross = malloc((M * P > 0 ? M * P : 1) * sizeof *K_cross);
    double *f = malloc((M ? M : 1) * sizeof *f);
    int status = K && K_cross && f ? AKT_OK : akt_out_of_memory(err, "the readout kernels");
    if (status == AKT_OK)
        status = method->readout_kernel(state, replica, K, K_cross, err);
    if (status == AKT_OK)
        status = akt_ridge_predict(K, P, K_cross, M, data->target.y, spec->target.readout_decay,
                                   f, err);
    if (status == AKT_OK) {
        result->train_loss = akt_mean_squared_error(f, data->target.y, P);
        result->test_loss = akt_mean_squared_error(f + P, data->test.y, data->test.rows);
        result->converged = true;
        status = readout_observables(method, state, replica, data, K, result, err);
    }
    free(K);
    free(K_cross);
    free(f);
    return status;
}

static int run_regime(const akt_method_type *method, void *state, size_t replica,
                      akt_regime regime, const akt_spec *spec, const akt_data *data,
                      akt_result *result, akt_error *err)
{
    fresh_result(result, regime, method);
    switch (regime) {
    case AKT_REGIME_SOURCE: return method->source(state, replica, result, err);
    case AKT_REGIME_SCRATCH: return method->scratch(state, replica, result, err);
    case AKT_REGIME_READOUT:
        return readout_regime(method, state, replica, spec, data, result, err);
    case AKT_REGIME_JOINT: default: return method->joint(state, replica, result, err);
    }
}

/* ---- one method's family of regimes over its replicas ---------------------------------------- */

/* A source kept for the cache: one state per replica. */
typedef struct {
    const akt_method_type *method;
    size_t replicas;
    void **states;
} kept_source;

static void kept_source_free(void *kept)
{
    kept_source *k = kept;
    if (!k)
        return;
    for (size_t r = 0; k->states && r < k->replicas; r++)
        if (k->states[r])
            k->method->free_kept(k->states[r]);
    free(k->states);
    free(k);
}

static kept_source *kept_source_alloc(const akt_method_type *method, size_t replicas)
{
    kept_source *k = calloc(1, sizeof *k);
    if (k && !(k->states = calloc(replicas, sizeof *k->states))) {
        free(k);
        return NULL;
    }
    if (k) {
        k->method = method;
        k->replicas = replicas;
    }
    return k;
}

/* What one replica reached: each regime's result as the method filled it, how long it took,
 * and where it stopped. The replicas are tallied in order afterwards, so the averages do not
 * depend on which thread ran which replica. */
typedef struct {
    akt_result results[AKT_REGIME_COUNT];
    bool done[AKT_REGIME_COUNT];     /* the regime finished */
    double seconds[AKT_REGIME_COUNT];
    int status;
    akt_regime failed;
    akt_error err;
    double kept_gib;
} replica_outcome;

/* What one family run shares: the method, the replicas' outcomes, the cache's part. */
typedef struct {
    const akt_solver *solver;
    const akt_spec *spec;
    const akt_method_type *method;
    const bool *wanted;
    size_t replicas;
    replica_outcome *outcomes;
    regime_tally tally[AKT_REGIME_COUNT];
    const kept_source *restore;      /* a kept source to start from, or NULL */
    akt_result restored_row;         /* its source row */
    kept_source *keep;               /* where this run's sources go, or NULL */
    const akt_observer *observer;    /* the methods' hooks, or NULL */
} family_run;

/* The cache's part before a family runs: a kept source to reuse, or room to keep this one.
 * With outputs set the cache is filled but not read (a kept source has nothing to hand over). */
static void consult_cache(family_run *run)
{
    const akt_solver *solver = run->solver;
    const akt_method_type *method = run->method;
    if (!solver->cache || !(method->flags & AKT_METHOD_CACHEABLE_SOURCE) ||
        !run->wanted[AKT_REGIME_SOURCE])
        return;
    double solve_gib = akt_resources_estimate_gib(run->spec, solver->data, method, 0);
    if (!solver->outputs) {
        run->restore = akt_source_cache_find(solver->cache, run->spec, solver->data, method,
                                             &run->restored_row);
        if (run->restore) {
            akt_source_cache_fit(solver->cache, solver->data, solve_gib);
            return;
        }
    }
    double state_gib = method->source_state_gib
                           ? (double)run->replicas * method->source_state_gib(run->spec,
                                                                              solver->data)
                           : 0.0;
    if (akt_source_cache_reserve(solver->cache, solver->data, solve_gib, state_gib))
        run->keep = kept_source_alloc(method, run->replicas);
}

/* One regime of one replica into its outcome; the source is restored from the cache instead
 * when one is kept (then nothing is tallied for it: its row is the kept one). */
static int replica_regime(const family_run *run, void *state, size_t replica, akt_regime regime,
                          replica_outcome *out)
{
    const akt_method_type *method = run->method;
    /* Every regime starts with a word to the progress hook, so an interrupt is seen between
     * phases even of methods without time steps. */
    const akt_observer *o = run->observer;
    if (o && o->step) {
        double time = regime == AKT_REGIME_SOURCE ? run->spec->source.time : run->spec->target.time;
        double horizon = time == AKT_TIME_CONVERGE ? run->spec->solver.max_time : time;
        int status = o->step(o->context, regime, replica, 0.0, horizon, 0, &out->err);
        if (status != AKT_OK)
            return status;
    }
    if (regime == AKT_REGIME_SOURCE && run->restore)
        return method->restore_source(state, replica, run->restore->states[replica],
                                      &out->err);
    double start = akt_now_seconds();
    int status = run_regime(method, state, replica, regime, run->spec, run->solver->data,
                            &out->results[regime], &out->err);
    out->seconds[regime] = akt_now_seconds() - start;
    out->done[regime] = status == AKT_OK;
    if (status == AKT_OK && regime == AKT_REGIME_SOURCE && run->keep)
        run->keep->states[replica] = method->keep_source(state, replica, &out->kept_gib);
    return status;
}

/* Every wanted regime of one replica, the source first; stops at the first failure. */
static void run_replica(const family_run *run, void *state, size_t replica)
{
    replica_outcome *out = &run->outcomes[replica];
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        if (!run->wanted[r])
            continue;
        out->status = replica_regime(run, state, replica, (akt_regime)r, out);
        if (out->status != AKT_OK) {
            out->failed = (akt_regime)r;
            return;
        }
    }
}

/* One worker: replicas first, first + stride, ... on its own method state, until one fails
 * (a failure ends the family, so later replicas would not be reported anyway). */
typedef struct {
    const family_run *run;
    void *state;
    size_t first, stride;
} worker;

static void *work(void *argument)
{
    worker *w = argument;
    for (size_t r = w->first; r < w->run->replicas; r += w->stride) {
        run_replica(w->run, w->state, r);
        if (w->run->outcomes[r].status != AKT_OK)
            break;
    }
    return NULL;
}

/* How many replicas run at once: one per core, at most one per replica, one when outputs are
 * collected (their kernel averages depend on the order estimates arrive), and no more states
 * than fit in memory beside each other. */
static size_t worker_count(const akt_solver *solver, const akt_spec *spec,
                           const akt_method_type *method, size_t replicas)
{
    size_t wanted = solver->threads ? solver->threads : akt_cores();
    if (wanted > replicas)
        wanted = replicas;
    if (solver->outputs || solver->observer || !(method->flags & AKT_METHOD_SAMPLED))
        wanted = 1;
    double physical = akt_resources_physical_gib();
    double state_gib = akt_resources_estimate_gib(spec, solver->data, method, 0);
    while (wanted > 1 && physical > 0.0 &&
           !((double)wanted * state_gib <= AKT_RESOURCES_MEMORY_SHARE * physical))
        wanted--;
    return wanted;
}

static void work_job(void *context, size_t i)
{
    work(&((worker *)context)[i]);
}

/* Runs the replicas on `workers` threads (the calling thread among them), each worker on its
 * own method state, taking every workers-th replica. */
static int run_workers(family_run *run, const akt_method_problem *problem, size_t workers,
                       akt_error *err)
{
    worker pool[AKT_MAX_THREADS];
    size_t allocated = 0;
    int status = AKT_OK;
    for (; allocated < workers; allocated++) {
        pool[allocated] = (worker){run, run->method->alloc(problem, err), allocated, workers};
        if (!pool[allocated].state) {
            status = err ? err->status : AKT_ERR_MEMORY;
            break;
        }
    }
    if (status == AKT_OK)
        akt_parallel_for(workers, workers, work_job, pool);
    for (size_t w = 0; w < allocated; w++)
        run->method->free(pool[w].state);
    return status;
}

/* Tallies the outcomes in replica order up to the first failure, as a serial run reaches
 * them; returns that failure's status with its message. */
static int tally_outcomes(family_run *run, akt_error *err)
{
    for (size_t r = 0; r < run->replicas; r++) {
        replica_outcome *out = &run->outcomes[r];
        for (int k = 0; k < AKT_REGIME_COUNT; k++) {
            if (!run->wanted[k] || (k == AKT_REGIME_SOURCE && run->restore))
                continue;
            regime_tally *t = &run->tally[k];
            if (out->done[k]) {
                t->attempted = true;
                tally_add(t, &out->results[k]);
                t->seconds += out->seconds[k];
            }
        }
        if (out->status == AKT_OK)
            continue;
        run->tally[out->failed].failed = true;
        run->tally[out->failed].attempted = true;
        run->tally[out->failed].seconds += out->seconds[out->failed];
        if (err) {
            *err = out->err;
            if (run->method->flags & AKT_METHOD_SAMPLED)
                akt_error_prefix(err, "regime %s, replica %zu: ", akt_regime_name(out->failed),
                                 r);
            else
                akt_error_prefix(err, "regime %s: ", akt_regime_name(out->failed));
        }
        return out->status;
    }
    return AKT_OK;
}

static void start_tallies(family_run *run, double *store)
{
    size_t R = run->replicas, per_regime = (2 + AKT_OBSERVABLE_COUNT) * R;
    memset(run->tally, 0, sizeof run->tally);
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        run->tally[r].test = store + (size_t)r * per_regime;
        run->tally[r].train = run->tally[r].test + R;
        run->tally[r].observables = run->tally[r].train + R;
        run->tally[r].capacity = R;
        run->tally[r].residual = NAN;
        run->tally[r].integration_error = NAN;
        run->tally[r].converged = true;
        run->tally[r].stable = AKT_STABLE_UNTESTED;
    }
}

/* The results of a family run, in the order source, scratch, readout, joint: every regime that
 * was attempted (a failure leaves the failed regime with converged false), the source row of a
 * restored source as it was kept. */
static void collect_results(const family_run *run, akt_solution *solution)
{
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        if (!run->wanted[r])
            continue;
        if (r == AKT_REGIME_SOURCE && run->restore)
            solution->results[solution->count++] = run->restored_row;
        else if (run->tally[r].attempted)
            fill_result(&solution->results[solution->count++], (akt_regime)r, run->method,
                        &run->tally[r]);
    }
    /* The readout's ridge is exact given the source kernel, so it is as accurate as the source:
     * after a closed-form source it has no integration error; after an integrated one it is not
     * estimated here (a sampled method's is measured by its error runs). */
    akt_result *readout = (akt_result *)akt_solution_find(solution, AKT_REGIME_READOUT);
    const akt_result *source = akt_solution_find(solution, AKT_REGIME_SOURCE);
    if (readout && !(run->method->flags & AKT_METHOD_SAMPLED))
        readout->integration_error = source && source->integration_error == 0.0 ? 0.0 : NAN;
}

/* Hands a complete set of new sources to the cache (or drops it). */
static void finish_cache(family_run *run, const akt_solution *solution)
{
    kept_source *keep = run->keep;
    run->keep = NULL;
    if (!keep)
        return;
    const akt_result *source = akt_solution_find(solution, AKT_REGIME_SOURCE);
    bool complete = source && source->converged;
    double gib = 0.0;
    for (size_t r = 0; complete && r < keep->replicas; r++) {
        complete = keep->states[r] != NULL;
        gib += run->outcomes[r].kept_gib;
    }
    if (complete)
        akt_source_cache_keep(run->solver->cache, run->spec, run->solver->data, run->method,
                              source, keep, kept_source_free, gib);
    else
        kept_source_free(keep);
}

/* The wanted regimes (the source among them, or not) by one method over its replicas. */
static int run_family(const akt_solver *solver, const akt_spec *spec,
                      const akt_method_type *method, const bool wanted[AKT_REGIME_COUNT],
                      akt_solution *solution, akt_error *err)
{
    family_run run = {.solver = solver, .spec = spec, .method = method, .wanted = wanted};
    run.replicas = method->replicas ? method->replicas(spec) : 1;
    if (run.replicas < 1)
        return akt_error_set(err, AKT_ERR_INPUT, "solver.replicas: need at least 1");
    double *store =
        malloc((2 + AKT_OBSERVABLE_COUNT) * AKT_REGIME_COUNT * run.replicas * sizeof *store);
    run.outcomes = calloc(run.replicas, sizeof *run.outcomes);
    if (!store || !run.outcomes) {
        free(store);
        free(run.outcomes);
        return akt_out_of_memory(err, "the results");
    }
    start_tallies(&run, store);
    akt_outputs_clear(solver->outputs, wanted);
    consult_cache(&run);

    size_t workers = worker_count(solver, spec, method, run.replicas);
    observation o;
    akt_observer observer_storage;
    akt_method_problem problem = {spec, solver->data, wanted,
                                  make_observer(solver, wanted, run.replicas, &o,
                                                &observer_storage),
                                  solver->settings};
    run.observer = problem.observer;
    int status = run_workers(&run, &problem, workers, err);
    if (status == AKT_OK)
        status = tally_outcomes(&run, err);
    collect_results(&run, solution);
    finish_cache(&run, solution);
    observation_end(&o, problem.observer);
    free(run.outcomes);
    free(store);
    return status;
}

/* ---- the errors every replica shares ---------------------------------------------------------- */

/* DESIGN.md, Decisions, "Errors of a theory value". The replica spread cannot see what every
 * replica shares, so a sampled method runs its family twice more, on the very same neurons
 * (the same seed and replica streams; a population of S/2 neurons is the first half of the
 * population of S, antithetic pairs intact):
 *   - at ERROR_TOLERANCE_FACTOR times solver.step_tolerance and solver.tolerance: the
 *     integrator's error. Measured on problems/relu_small.yaml, the test loss error of the
 *     adaptive relu stepper is about first order in the tolerance (its step count is inversely
 *     proportional to it, kink crossings set both), so the error of the run at tol is about the
 *     difference between the runs at tol and 2 tol; against runs down to 16 times tighter that
 *     difference was 0.55 to 1.6 times the actual error of the four regimes (README, "Errors").
 *   - with S/2 neurons: the finite-S bias. The mean-field corrections to a mean are O(1/S)
 *     (assumed, not fitted: two sizes give the bias only for an assumed power), so
 *     L(S) = L + b/S, L(S/2) = L + 2b/S and the bias of L(S) is L(S/2) - L(S).
 * Both differences are paired, so most of the Monte-Carlo noise cancels in them. They cost
 * about 0.5 and 0.7 of the main run (1.2 together on problems/relu_small.yaml). */
#define ERROR_TOLERANCE_FACTOR 2.0

/* Rounds of growth for solver.target_error; the memory check decides the rest. */
#define ERROR_GROWTH_ROUNDS 4

static bool has_shared_error_runs(const akt_spec *spec, const akt_method_type *method)
{
    return (method->flags & AKT_METHOD_SAMPLED) && spec->solver.estimate_errors;
}

/* The Monte-Carlo part as the total counts it: the replicas' standard error times
 * t_{R-1}(0.975) / z(0.975), so that +- 2 error is a 95 percent interval although the spread
 * itself is estimated from R replicas (Student's t with R - 1 degrees of freedom: with 4
 * replicas +- 2 standard errors hold the mean only 86 percent of the time, +- 3.18 do 95). */
static double counted_mc_error(double mc_error, size_t replicas)
{
    if (replicas < 2)
        return NAN;
    return mc_error * gsl_cdf_tdist_Pinv(0.975, (double)(replicas - 1)) /
           gsl_cdf_ugaussian_Pinv(0.975);
}

/* The total of DESIGN.md: sqrt(mc^2 + integration_error^2) + |bias|, mc the counted Monte-Carlo
 * part; parts that are not estimated leave it NAN, except a method without Monte-Carlo error
 * (mc_error NAN by design). */
static void total_error(akt_result *r, bool sampled, size_t replicas)
{
    double mc = !sampled ? (isnan(r->mc_error) ? 0.0 : r->mc_error)
                         : counted_mc_error(r->mc_error, replicas);
    r->error = sqrt(mc * mc + r->integration_error * r->integration_error) + fabs(r->bias);
}

/* One run of the family with a changed copy of its spec, for an error estimate: no outputs and
 * no caller's observer (they describe the main run), the progress kept (and Ctrl-C with it). */
static int run_error_family(const akt_solver *solver, const akt_spec *spec,
                            const akt_method_type *method, const bool wanted[],
                            akt_solution *into, const char *what, akt_error *err)
{
    akt_solver quiet = *solver;
    quiet.outputs = NULL;
    quiet.observer = NULL;
    memset(into, 0, sizeof *into);
    int status = run_family(&quiet, spec, method, wanted, into, err);
    if (status != AKT_OK)
        akt_error_prefix(err, "error estimate (%s): ", what);
    return status;
}

/* The observables' errors as the test loss's: sqrt(mc^2 + integration^2) + |bias| with the same
 * two runs (c at the looser tolerance, h with half the neurons, bias factor h / (S - h)); an
 * observable missing from a run keeps the Monte-Carlo part alone; one replica leaves it NAN, as
 * the test loss's total. */
static void observable_shared_errors(akt_result *r, const akt_result *c, const akt_result *h,
                                     double bias_factor)
{
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++) {
        double value = r->observables[k], mc = r->observable_errors[k];
        if (isnan(value) || isnan(mc))
            continue;
        double integration = c && !isnan(c->observables[k]) ? fabs(value - c->observables[k])
                                                             : 0.0;
        double bias = h && !isnan(h->observables[k]) ? (h->observables[k] - value) * bias_factor
                                                      : 0.0;
        r->observable_errors[k] =
            sqrt((isnan(mc) ? 0.0 : mc * mc) + integration * integration) + fabs(bias);
    }
}

/* The integration error and the bias of every result from first on, by the two extra runs. */
static int estimate_shared_errors(const akt_solver *solver, const akt_spec *spec,
                                  const akt_method_type *method, const bool wanted[],
                                  size_t replicas, akt_solution *solution, size_t first,
                                  akt_error *err)
{
    akt_spec loose, half;
    int status = akt_spec_copy(&loose, spec, err);
    if (status != AKT_OK)
        return status;
    status = akt_spec_copy(&half, spec, err);
    if (status != AKT_OK) {
        akt_spec_free(&loose);
        return status;
    }
    loose.solver.step_tolerance *= ERROR_TOLERANCE_FACTOR;
    loose.solver.tolerance *= ERROR_TOLERANCE_FACTOR;
    long neurons = spec->solver.neurons / 2;
    half.solver.neurons = neurons + (neurons % 2);
    akt_solution coarse, small;
    status = run_error_family(solver, &loose, method, wanted, &coarse, "step tolerance x 2", err);
    if (status == AKT_OK && half.solver.neurons >= 2 && half.solver.neurons < spec->solver.neurons)
        status = run_error_family(solver, &half, method, wanted, &small, "half the neurons", err);
    else
        small.count = 0;
    for (size_t k = first; status == AKT_OK && k < solution->count; k++) {
        akt_result *r = &solution->results[k];
        const akt_result *c = akt_solution_find(&coarse, r->regime);
        const akt_result *h = akt_solution_find(&small, r->regime);
        r->integration_error = c ? fabs(r->test_loss - c->test_loss) : NAN;
        /* L(n) = L + b/n at n = S and n = h (h = S/2, rounded up to pairs): b/S is
         * (L(h) - L(S)) h / (S - h) */
        double S = (double)spec->solver.neurons, n = (double)half.solver.neurons;
        r->bias = h ? (h->test_loss - r->test_loss) * n / (S - n) : NAN;
        total_error(r, true, replicas);
        observable_shared_errors(r, c, h, n / (S - n));
    }
    akt_spec_free(&loose);
    akt_spec_free(&half);
    return status;
}

/* The family once, and its errors: the shared parts by two more runs where the method is
 * sampled, or the method's own integration error otherwise. */
static int run_family_with_errors(const akt_solver *solver, const akt_spec *spec,
                                  const akt_method_type *method, const bool wanted[],
                                  akt_solution *solution, akt_error *err)
{
    size_t first = solution->count;
    size_t replicas = method->replicas ? method->replicas(spec) : 1;
    int status = run_family(solver, spec, method, wanted, solution, err);
    if (status == AKT_OK && has_shared_error_runs(spec, method))
        return estimate_shared_errors(solver, spec, method, wanted, replicas, solution, first,
                                      err);
    for (size_t k = first; k < solution->count; k++)
        total_error(&solution->results[k], method->flags & AKT_METHOD_SAMPLED, replicas);
    return status;
}

/* ---- the whole problem ------------------------------------------------------------------------ */

/* The largest sampling part (mc_error and bias together) and integration part over the results
 * from first on; a part that is not estimated counts as unknown (infinite). */
static void largest_parts(const akt_solution *solution, size_t first, double *sampling,
                          double *integration)
{
    *sampling = *integration = 0.0;
    for (size_t k = first; k < solution->count; k++) {
        const akt_result *r = &solution->results[k];
        double s = hypot(r->mc_error, r->bias);
        *sampling = fmax(*sampling, isnan(s) ? INFINITY : s);
        *integration = fmax(*integration, isnan(r->integration_error) ? INFINITY
                                                                      : r->integration_error);
    }
}

/* A sampled family, refined until every regime's error parts are below solver.target_error
 * (when it is > 0): the sampling part hypot(mc_error, bias) and the integration part each.
 * mc_error falls like 1/sqrt(S) and the bias like 1/S, so the next S is the current one times
 * (sampling / target)^2, with 10 percent to spare (at least 1.5 times), rounded to an even
 * count; the integration error is about first order in the step tolerance (above), so the next
 * tolerance is the current one times target / integration, halved to spare (at most 16 times
 * smaller in one round). Each round is a solve of its own for the cache (neurons and tolerances
 * are part of the source's key) and starts the outputs afresh. */
static int run_family_refined(const akt_solver *solver, const akt_method_type *method,
                              const bool wanted[], akt_solution *solution, akt_error *err)
{
    const akt_spec *spec = solver->spec;
    double target = spec->solver.target_error;
    if (!(target > 0) || !(method->flags & AKT_METHOD_SAMPLED))
        return run_family_with_errors(solver, spec, method, wanted, solution, err);
    if (!spec->solver.estimate_errors)
        return akt_error_set(err, AKT_ERR_INPUT,
                             "solver.target_error needs solver.estimate_errors: true (it bounds "
                             "the integration error and the bias, which only those runs see)");
    akt_spec refined;
    int status = akt_spec_copy(&refined, spec, err);
    if (status != AKT_OK)
        return status;
    size_t first = solution->count;
    for (int round = 0;; round++) {
        solution->count = first;
        status = run_family_with_errors(solver, &refined, method, wanted, solution, err);
        double sampling, integration;
        largest_parts(solution, first, &sampling, &integration);
        if (status != AKT_OK || (sampling <= target && integration <= target))
            break;
        if (round == ERROR_GROWTH_ROUNDS) {
            status = akt_error_set(err, AKT_ERR_NUMERIC,
                                   "solver.target_error %g not reached after %d rounds: sampling "
                                   "part %g with %ld neurons, integration part %g at "
                                   "step_tolerance %g", target, ERROR_GROWTH_ROUNDS, sampling,
                                   refined.solver.neurons, integration,
                                   refined.solver.step_tolerance);
            for (size_t k = first; k < solution->count; k++)
                solution->results[k].converged = false;
            break;
        }
        if (sampling > target) {
            double factor = 1.1 * (sampling / target) * (sampling / target);
            long neurons = (long)ceil((double)refined.solver.neurons * fmax(factor, 1.5));
            refined.solver.neurons = neurons + (neurons % 2);
        }
        if (integration > target) {
            double factor = fmax(0.5 * target / integration, 1.0 / 16.0);
            refined.solver.step_tolerance *= factor;
            refined.solver.tolerance *= factor;
        }
        status = akt_resources_check(&refined, solver->data, method, 0, err);
        if (status != AKT_OK) {
            akt_error_prefix(err, "solver.target_error %g needs about %ld neurons: ", target,
                             refined.solver.neurons);
            break;
        }
    }
    akt_spec_free(&refined);
    return status;
}

/* Keeps the contract's order: source, scratch, readout, joint. */
static void insert_scratch(akt_solution *solution, const akt_result *scratch)
{
    size_t at = solution->count > 0 ? 1 : 0;
    memmove(&solution->results[at + 1], &solution->results[at],
            (solution->count - at) * sizeof solution->results[0]);
    solution->results[at] = *scratch;
    solution->count++;
}

int akt_solver_run(akt_solver *solver, akt_solution *solution, akt_error *err)
{
    const akt_spec *spec = solver->spec;
    memset(solution, 0, sizeof *solution);
    /* Several solves (a sweep's points, compare's) would all write the one file. */
    if (!solver->outputs && (spec->output.kernels || spec->output.trajectory))
        return akt_error_set(err, AKT_ERR_INPUT,
                             "output.%s: only akt solve writes output files (this command would "
                             "overwrite the file at every solve); remove the key",
                             spec->output.kernels ? "kernels" : "trajectory");
    const akt_method_type *source = solver->methods[AKT_REGIME_SOURCE];
    bool family[AKT_REGIME_COUNT];
    memcpy(family, solver->wanted, sizeof family);
    bool scratch_apart = family[AKT_REGIME_SCRATCH] &&
                         solver->methods[AKT_REGIME_SCRATCH] != source;
    family[AKT_REGIME_SCRATCH] = family[AKT_REGIME_SCRATCH] && !scratch_apart;
    int status = run_family_refined(solver, source, family, solution, err);
    if (status != AKT_OK || !scratch_apart)
        return status;
    /* The scratch regime by a method other than the source's: its own family, scratch alone. */
    bool alone[AKT_REGIME_COUNT] = {false};
    alone[AKT_REGIME_SCRATCH] = true;
    akt_solution apart = {0};
    status = run_family_refined(solver, solver->methods[AKT_REGIME_SCRATCH], alone, &apart, err);
    if (apart.count > 0)
        insert_scratch(solution, &apart.results[0]);
    return status;
}

int akt_solve(const akt_spec *spec, const akt_data *data, akt_solution *solution, akt_error *err)
{
    memset(solution, 0, sizeof *solution);
    akt_solver *solver = akt_solver_alloc(spec, data, err);
    if (!solver)
        return err ? err->status : AKT_ERR_INPUT;
    int status = akt_solver_run(solver, solution, err);
    akt_solver_free(solver);
    return status;
}
