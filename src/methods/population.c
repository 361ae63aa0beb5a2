/* population.c: method population, sampled neurons of the single-site law (THEORY.md 2, 3).
 *
 * Each replica is an independent population of solver.neurons neurons (numerics/population.c)
 * drawn from its own streams, so the replicas' spread is the Monte-Carlo error. Per replica the
 * solve layer runs the source phase, then scratch, readout and joint on the same population:
 * the joint regime starts from the replica's own source state and ends with the perturbation
 * test of THEORY.md section 4 (its stable flag). Trajectories and kernels reach the observer
 * from the integrator's step hook.
 *
 * Observables (README "Observables"): every phase measures the NTK of its start state on its
 * training points, and at its end Phi and G on its training and test splits; the source kernel
 * Phi_s on the target training points is kept per replica after the source (run or restored);
 * the joint phase adds the distances from the source and the source test loss. Trajectory rows
 * carry the training-split ones (and the joint's) at their time; the test-split alignments,
 * which cost S Mt^2 each, only on the final row. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "akt/observables.h"
#include "akt/population.h"
#include "core/util.h"
#include "methods/common.h"

/* Population estimate without data (coarse O(S (P + M))): the per-neuron vectors of
 * akt_population_memory_gib add up to about M + 26 P doubles for P = max(P1, P2). */
#define POPULATION_DOUBLES_PER_POINT 26.0

/* The stability test runs for min(T2, 10) more (10 for time converge): long enough for an
 * O(1)-rate instability to amplify a kick by e^10, and for the slow one of THEORY.md section 4
 * (rate ~0.12) to show as growth over both halves (docs/stability.md); it costs three runs of
 * that length (the plain copy and two kicked ones). */
#define STABILITY_TIME 10.0

typedef struct {
    const akt_spec *spec;
    const akt_data *data;
    const akt_observer *observer;
    akt_population *pop;
    size_t sampled;                  /* the replica the population was drawn for */
    double *f;                       /* predictions on the largest point set */
    /* trajectory recording of the phase that runs */
    akt_regime regime;
    size_t replica;
    akt_points train, test;
    akt_trajectory_clock clock;
    bool recording;
    double recorded;                 /* time of the phase's last row */
    double horizon;
    long steps;                      /* accepted steps of the phase that runs */
    /* the step hook's last row, held back so that the phase's final row (the only one with the
     * test-split observables) takes its place when both fall on the same time */
    struct {
        bool held;
        double t, train, test, observables[AKT_OBSERVABLE_COUNT];
    } pending;
    /* observables */
    double *source_phi;              /* Phi_s on the target training points (P2 x P2) */
    size_t source_phi_replica;       /* the replica source_phi belongs to; SIZE_MAX: none */
    double *ntk_start;               /* the NTK the running phase started from (train, n x n) */
} population_state;

static akt_population_phase make_phase(const akt_spec *spec, double gamma, double weight_decay,
                                       double elastic, double time)
{
    akt_population_phase phase = {gamma, weight_decay, elastic, time,
                                  spec->solver.step_tolerance, spec->solver.tolerance,
                                  spec->solver.max_time, spec->solver.min_step};
    return phase;
}

static akt_population_phase target_phase(const akt_spec *spec)
{
    return make_phase(spec, spec->target.gamma, spec->target.weight_decay, spec->target.elastic,
                      spec->target.time);
}

/* Losses of the current state: train on the training set, test on the test set. */
static int state_losses(population_state *p, akt_points train, akt_points test,
                        double *train_loss, double *test_loss, akt_error *err)
{
    const akt_split *train_split = method_split(p->data, train);
    const akt_split *test_split = method_split(p->data, test);
    int status = akt_population_predict(p->pop, train, p->f, err);
    if (status != AKT_OK)
        return status;
    *train_loss = akt_mean_squared_error(p->f, train_split->y, train_split->rows);
    if ((status = akt_population_predict(p->pop, test, p->f, err)) != AKT_OK)
        return status;
    *test_loss = akt_mean_squared_error(p->f, test_split->y, test_split->rows);
    return AKT_OK;
}

/* ---- observables (README "Observables") ------------------------------------------------------ */

/* Phi and G of the current state on one point set (n x n each, malloc'd into *Phi and *G). */
static int set_kernels(population_state *p, akt_points points, double **Phi, double **G,
                       akt_error *err)
{
    bool sets[AKT_POINTS_COUNT] = {false};
    sets[points] = true;
    size_t n = method_split(p->data, points)->rows;
    *Phi = malloc((n ? n * n : 1) * sizeof **Phi);
    *G = malloc((n ? n * n : 1) * sizeof **G);
    if (!*Phi || !*G)
        return akt_out_of_memory(err, "the kernels of the observables");
    return akt_population_kernels(p->pop, sets, *Phi, *G, err);
}

/* The NTK of the phase's start state (in place) on the regime's training points, for the
 * feature-learning magnitude. */
static int measure_ntk_start(population_state *p, akt_regime regime, akt_error *err)
{
    akt_points train, test;
    method_regime_points(regime, &train, &test);
    double *Phi = NULL, *G = NULL;
    int status = set_kernels(p, train, &Phi, &G, err);
    if (status == AKT_OK)
        status = method_ntk(p->data, train, Phi, G, p->ntk_start, err);
    free(Phi);
    free(G);
    return status;
}

/* Phi_s on the target training points of the replica's source state (run or restored), kept
 * for the target regimes' retention. */
static int keep_source_phi(population_state *p, size_t replica, akt_error *err)
{
    int status = akt_population_source_phi(p->pop, AKT_POINTS_TARGET_TRAIN, p->source_phi, err);
    p->source_phi_replica = status == AKT_OK ? replica : SIZE_MAX;
    return status;
}

/* The joint state's distances from the source and its loss on the source test split. */
static int joint_observables(population_state *p, double observables[AKT_OBSERVABLE_COUNT],
                             akt_error *err)
{
    int status = akt_population_joint_distances(p->pop,
                                                &observables[AKT_OBSERVABLE_HIDDEN_DISTANCE],
                                                &observables[AKT_OBSERVABLE_READOUT_DISTANCE],
                                                err);
    const akt_split *source_test = &p->data->source_test;
    if (status != AKT_OK || source_test->rows == 0)
        return status;
    status = akt_population_predict(p->pop, AKT_POINTS_SOURCE_TEST, p->f, err);
    if (status == AKT_OK)
        observables[AKT_OBSERVABLE_SOURCE_TEST_LOSS] =
            akt_mean_squared_error(p->f, source_test->y, source_test->rows);
    return status;
}

/* Every observable of the current state of the regime's phase into observables[] (the rest
 * NAN): the training-split ones, the test-split alignments when final, and the joint's. Reads
 * the state only, so a trajectory's measurements leave the numbers of the run unchanged. */
static int measure_observables(population_state *p, akt_regime regime, bool final,
                               double observables[AKT_OBSERVABLE_COUNT], akt_error *err)
{
    method_observed_splits observed = method_observed_splits_of(p->data, regime);
    akt_observables_clear(observables);
    bool with_test = final && observed.test_rows > 0;
    double *Phi = NULL, *G = NULL, *Phi_test = NULL, *G_test = NULL;
    int status = set_kernels(p, observed.train_points, &Phi, &G, err);
    if (status == AKT_OK && with_test)
        status = set_kernels(p, observed.test_points, &Phi_test, &G_test, err);
    const double *source_phi = p->source_phi_replica == p->replica ? p->source_phi : NULL;
    if (status == AKT_OK)
        status = method_kernel_observables(p->data, regime, Phi, G, Phi_test, G_test,
                                           p->ntk_start, source_phi, observables, err);
    free(Phi);
    free(G);
    free(Phi_test);
    free(G_test);
    if (status == AKT_OK && regime == AKT_REGIME_JOINT)
        status = joint_observables(p, observables, err);
    return status;
}

/* ---- what the observer sees: progress, loss trajectories and kernels ------------------------- */

static int flush_pending(population_state *p, akt_error *err)
{
    if (!p->pending.held)
        return AKT_OK;
    p->pending.held = false;
    return method_add_losses(p->observer, p->regime, p->replica, p->pending.t, p->pending.train,
                             p->pending.test, p->pending.observables, err);
}

/* A row of the current state at time t: losses and the training-split observables; held back
 * (the previous held row goes out) unless it is the row at t = 0. */
static int record_row(population_state *p, double t, akt_error *err)
{
    double train, test, observables[AKT_OBSERVABLE_COUNT];
    int status = state_losses(p, p->train, p->test, &train, &test, err);
    if (status == AKT_OK)
        status = measure_observables(p, p->regime, false, observables, err);
    if (status == AKT_OK)
        status = flush_pending(p, err);
    p->recorded = t;
    if (status != AKT_OK)
        return status;
    if (t == 0.0)
        return method_add_losses(p->observer, p->regime, p->replica, t, train, test, observables,
                                 err);
    p->pending.held = true;
    p->pending.t = t;
    p->pending.train = train;
    p->pending.test = test;
    memcpy(p->pending.observables, observables, sizeof observables);
    return AKT_OK;
}

static int observe_step(void *context, double t, akt_population *pop, akt_error *err)
{
    (void)pop;
    population_state *p = context;
    p->steps++;
    int status = method_step(p->observer, p->regime, p->replica, t, p->horizon, p->steps, err);
    if (status == AKT_OK && p->recording && akt_trajectory_clock_due(&p->clock, t))
        status = record_row(p, t, err);
    return status;
}

/* Before a phase run (its start state in place): the row at t = 0 and the step hook on. A
 * target start takes the phase's parameters first, so that its output is read with its gamma. */
static int record_begin(population_state *p, akt_regime regime, size_t replica,
                        const akt_population_phase *phase, akt_error *err)
{
    bool source = regime == AKT_REGIME_SOURCE;
    p->regime = regime;
    p->replica = replica;
    p->train = source ? AKT_POINTS_SOURCE_TRAIN : AKT_POINTS_TARGET_TRAIN;
    p->test = source ? AKT_POINTS_SOURCE_TEST : AKT_POINTS_TEST;
    p->horizon = phase->time == AKT_TIME_CONVERGE ? phase->max_time : phase->time;
    p->recording = method_wants_trajectory(p->observer, regime);
    p->recorded = 0.0;
    p->steps = 0;
    p->pending.held = false;
    if (p->observer)
        akt_population_set_observer(p->pop, observe_step, p);
    if (!p->recording)
        return AKT_OK;
    if (!source)
        akt_population_set_target_phase(p->pop, phase);
    akt_trajectory_clock_start(&p->clock, p->horizon);
    return record_row(p, 0.0, err);
}

static int record_kernels(population_state *p, akt_regime regime, akt_error *err)
{
    bool points[AKT_POINTS_COUNT];
    size_t M;
    p->observer->kernel_splits(p->observer->context, regime, points, &M);
    double *Phi = malloc((M ? M * M : 1) * sizeof *Phi), *G = malloc((M ? M * M : 1) * sizeof *G);
    int status = Phi && G ? akt_population_kernels(p->pop, points, Phi, G, err)
                          : akt_out_of_memory(err, "the kernels");
    if (status == AKT_OK)
        status = method_add_kernels(p->observer, regime, Phi, G, err);
    free(Phi);
    free(G);
    return status;
}

/* After a phase run, given the losses and observables of its final state: the hook off, the
 * final row (in place of the hook's row at this very time, if it took one) and the kernels. */
static int record_end(population_state *p, akt_regime regime, double train, double test,
                      const double *observables, akt_error *err)
{
    akt_population_set_observer(p->pop, NULL, NULL);
    int status = AKT_OK;
    double t = akt_population_time(p->pop);
    if (p->pending.held && p->pending.t >= t)
        p->pending.held = false;
    if (p->recording)
        status = flush_pending(p, err);
    if (status == AKT_OK && p->recording && t > 0.0) /* (the row at t = 0 is out already) */
        status = method_add_losses(p->observer, regime, p->replica, t, train, test, observables,
                                   err);
    p->recording = false;
    if (status == AKT_OK && method_wants_kernels(p->observer, regime))
        status = record_kernels(p, regime, err);
    return status;
}

/* ---- the phases --------------------------------------------------------------------------------- */

static void sample(population_state *p, size_t replica)
{
    akt_population_sample(p->pop, p->spec->seed, replica);
    p->sampled = replica;
    p->source_phi_replica = SIZE_MAX;
}

static void fill_run(akt_result *result, const akt_population_run *run, double train,
                     double test)
{
    result->train_loss = train;
    result->test_loss = test;
    result->iterations = run->steps;
    result->residual = run->residual;
    result->converged = run->converged;
}

static int population_source(void *state, size_t replica, akt_result *result, akt_error *err)
{
    population_state *p = state;
    const akt_spec *spec = p->spec;
    akt_population_run run;
    double train, test;
    akt_population_phase source = make_phase(spec, spec->source.gamma, spec->source.weight_decay,
                                             0.0, spec->source.time);
    sample(p, replica);
    p->replica = replica;
    int status;
    if ((status = measure_ntk_start(p, AKT_REGIME_SOURCE, err)) != AKT_OK ||
        (status = record_begin(p, AKT_REGIME_SOURCE, replica, &source, err)) != AKT_OK ||
        (status = akt_population_run_source(p->pop, &source, &run, err)) != AKT_OK ||
        (status = state_losses(p, AKT_POINTS_SOURCE_TRAIN, AKT_POINTS_SOURCE_TEST, &train, &test,
                               err)) != AKT_OK ||
        (status = measure_observables(p, AKT_REGIME_SOURCE, true, result->observables, err)) !=
            AKT_OK ||
        (status = record_end(p, AKT_REGIME_SOURCE, train, test, result->observables, err)) !=
            AKT_OK ||
        (status = keep_source_phi(p, replica, err)) != AKT_OK)
        return status;
    fill_run(result, &run, train, test);
    return AKT_OK;
}

/* A target phase from its started state: its start NTK, run, scored, measured and recorded. */
static int target_run(population_state *p, akt_regime regime, size_t replica,
                      const akt_population_phase *phase, akt_result *result, akt_error *err)
{
    akt_population_run run;
    double train, test;
    p->replica = replica;
    int status;
    if ((status = measure_ntk_start(p, regime, err)) != AKT_OK ||
        (status = record_begin(p, regime, replica, phase, err)) != AKT_OK ||
        (status = akt_population_run_target(p->pop, phase, &run, err)) != AKT_OK ||
        (status = state_losses(p, AKT_POINTS_TARGET_TRAIN, AKT_POINTS_TEST, &train, &test,
                               err)) != AKT_OK ||
        (status = measure_observables(p, regime, true, result->observables, err)) != AKT_OK ||
        (status = record_end(p, regime, train, test, result->observables, err)) != AKT_OK)
        return status;
    fill_run(result, &run, train, test);
    return AKT_OK;
}

static int population_scratch(void *state, size_t replica, akt_result *result, akt_error *err)
{
    population_state *p = state;
    akt_population_phase target = target_phase(p->spec);
    if (p->sampled != replica) /* scratch alone (the source served by another method) */
        sample(p, replica);
    int status = akt_population_start_scratch(p->pop, err);
    return status == AKT_OK ? target_run(p, AKT_REGIME_SCRATCH, replica, &target, result, err)
                            : status;
}

static int population_readout_kernel(void *state, size_t replica, double *K, double *K_cross,
                                     akt_error *err)
{
    (void)replica;
    population_state *p = state;
    return akt_population_source_kernel(p->pop, K, K_cross, err);
}

static int population_readout_kernel_test(void *state, size_t replica, double *K_test,
                                          akt_error *err)
{
    (void)replica;
    population_state *p = state;
    return akt_population_source_phi(p->pop, AKT_POINTS_TEST, K_test, err);
}

static int population_joint(void *state, size_t replica, akt_result *result, akt_error *err)
{
    population_state *p = state;
    const akt_spec *spec = p->spec;
    akt_population_phase target = target_phase(spec);
    int status = akt_population_start_joint(p->pop, spec->target.readout_init, err);
    if (status == AKT_OK)
        status = target_run(p, AKT_REGIME_JOINT, replica, &target, result, err);
    if (status != AKT_OK)
        return status;
    double extra = spec->target.time == AKT_TIME_CONVERGE ? STABILITY_TIME
                                                          : fmin(spec->target.time, STABILITY_TIME);
    double growth;
    return akt_population_stability(p->pop, &target, extra, &growth, &result->stable, err);
}

/* ---- state, cache and checks ------------------------------------------------------------------- */

static int check_request(const akt_method_problem *problem, akt_error *err)
{
    const akt_spec *spec = problem->spec;
    if (spec->solver.replicas < 1)
        return akt_error_set(err, AKT_ERR_INPUT, "solver.replicas: need at least 1");
    if (spec->solver.neurons < 2 || spec->solver.neurons % 2 != 0)
        return akt_error_set(err, AKT_ERR_INPUT, "solver.neurons: the population needs an even "
                             "number >= 2 (antithetic pairs), got %ld", spec->solver.neurons);
    if (problem->wanted[AKT_REGIME_JOINT] && spec->source.time == AKT_TIME_CONVERGE)
        return akt_error_set(err, AKT_ERR_INPUT, "target.regimes: the joint regime needs a "
                             "numeric source.time (the e^{-lambda1 T1} h0 remainder carries the "
                             "neuron diversity that decides where the joint flow goes)");
    return AKT_OK;
}

static void population_free(void *state)
{
    population_state *p = state;
    if (!p)
        return;
    akt_population_free(p->pop);
    free(p->f);
    free(p->source_phi);
    free(p->ntk_start);
    free(p);
}

static void *population_alloc(const akt_method_problem *problem, akt_error *err)
{
    if (check_request(problem, err) != AKT_OK)
        return NULL;
    const akt_data *data = problem->data;
    population_state *p = calloc(1, sizeof *p);
    size_t source_rows = data->source.rows + data->source_test.rows;
    size_t target_rows = data->target.rows + data->test.rows;
    size_t rows = source_rows > target_rows ? source_rows : target_rows;
    size_t P2 = data->target.rows, P = data->source.rows > P2 ? data->source.rows : P2;
    if (p) {
        p->f = malloc((rows ? rows : 1) * sizeof *p->f);
        p->source_phi = malloc((P2 ? P2 * P2 : 1) * sizeof *p->source_phi);
        p->ntk_start = malloc((P ? P * P : 1) * sizeof *p->ntk_start);
    }
    if (!p || !p->f || !p->source_phi || !p->ntk_start) {
        population_free(p);
        akt_out_of_memory(err, "results");
        return NULL;
    }
    p->spec = problem->spec;
    p->data = data;
    p->observer = problem->observer;
    p->sampled = SIZE_MAX;
    p->source_phi_replica = SIZE_MAX;
    p->pop = akt_population_alloc(data, p->spec->network.activation,
                                  (size_t)p->spec->solver.neurons, err);
    if (!p->pop) {
        population_free(p);
        return NULL;
    }
    akt_population_set_scales(p->pop, p->spec->network.hidden_scale,
                              p->spec->network.readout_scale);
    return p;
}

static size_t population_replicas(const akt_spec *spec)
{
    return spec->solver.replicas > 0 ? (size_t)spec->solver.replicas : 0;
}

static void population_kept_free(void *kept)
{
    akt_population_source_free(kept);
}

/* A copy of the replica's finished source state; one that does not fit is simply not kept. */
static void *population_keep(void *state, size_t replica, double *gib)
{
    (void)replica;
    population_state *p = state;
    akt_error ignored = {0};
    *gib = akt_population_source_gib((size_t)p->spec->solver.neurons, p->data->source.rows);
    return akt_population_source_save(p->pop, &ignored);
}

static int population_restore(void *state, size_t replica, const void *kept, akt_error *err)
{
    population_state *p = state;
    sample(p, replica);
    int status = akt_population_source_restore(p->pop, kept, err);
    return status == AKT_OK ? keep_source_phi(p, replica, err) : status;
}

static int population_applies(const akt_spec *spec, akt_regime regime, akt_error *err)
{
    return method_refuse_converge_without_decay(spec, regime, err);
}

static bool population_preferred(const akt_spec *spec, akt_regime regime)
{
    (void)spec;
    (void)regime;
    return true;
}

static double population_memory_gib(const akt_spec *spec, const akt_data *data)
{
    method_sizes s = method_sizes_of(spec, data);
    double S = (double)spec->solver.neurons;
    double P = fmax(s.P1, s.P2), M = s.P1 + s.P2 + s.test + s.source_test;
    double sampling = S / 2.0 * s.D; /* w0, one row of D per antithetic pair (kept) */
    /* the observables: Phi and G on a training and a test split, their Gram and NTK, the kept
     * Phi_s and start NTK (at most 6 n^2 for the largest measured split) */
    double largest = fmin(fmax(P, fmax(s.test, s.source_test)), AKT_OBSERVABLES_MAX_POINTS);
    double observables = 6.0 * largest * largest;
    if (data) /* (which counts w0) */
        return akt_population_memory_gib(data, (size_t)spec->solver.neurons) +
               observables * sizeof(double) / AKT_BYTES_PER_GIB;
    double doubles = S * (M + POPULATION_DOUBLES_PER_POINT * P) + (s.P1 + s.P2) * M +
                     4.0 * P * P + sampling + observables;
    return doubles * sizeof(double) / AKT_BYTES_PER_GIB;
}

static double population_source_state_gib(const akt_spec *spec, const akt_data *data)
{
    method_sizes s = method_sizes_of(spec, data);
    return akt_population_source_gib((size_t)spec->solver.neurons, (size_t)s.P1);
}

const akt_method_type akt_method_population = {
    .name = "population",
    .flags = AKT_METHOD_ADAPTIVE_KERNELS | AKT_METHOD_CACHEABLE_SOURCE | AKT_METHOD_SAMPLED,
    .applies = population_applies,
    .preferred = population_preferred,
    .memory_gib = population_memory_gib,
    .replicas = population_replicas,
    .alloc = population_alloc,
    .free = population_free,
    .source = population_source,
    .scratch = population_scratch,
    .readout_kernel = population_readout_kernel,
    .readout_kernel_test = population_readout_kernel_test,
    .joint = population_joint,
    .source_keys = method_source_keys,
    .keep_source = population_keep,
    .restore_source = population_restore,
    .free_kept = population_kept_free,
    .source_state_gib = population_source_state_gib,
};
