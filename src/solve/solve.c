/* transfer.c: source phase, then each target regime, dispatched to the method that serves it.
 *
 * THEORY.md section 3 defines the regimes; DESIGN.md ("Decisions: Methods") says which method
 * serves which. This file owns the order of work (the source is solved once and shared by the
 * readout and joint regimes), the losses, the timing, and the refusal of requests no
 * implemented method can serve. The numerics live in the method modules (exact.h). With a
 * source cache (akt_solve_cached) the source phase of a method family is looked up first and,
 * when it ran, kept: each family knows what its source state is (moment matrix or fixed point,
 * convex atoms, per-replica population states); source_cache.c knows only keys and memory. */
#include "akt/transfer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>

#include "akt/convex.h"
#include "akt/exact.h"
#include "akt/output.h"
#include "akt/population.h"
#include "akt/resources.h"
#include "solve/source_cache.h"

/* ---- small helpers ---------------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double akt_mean_squared_error(const double *f, const double *y, size_t n)
{
    if (n == 0)
        return NAN;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (f[i] - y[i]) * (f[i] - y[i]);
    return sum / (double)n;
}

const akt_result *akt_solution_find(const akt_solution *solution, akt_regime regime)
{
    for (size_t i = 0; i < solution->count; i++)
        if (solution->results[i].regime == regime)
            return &solution->results[i];
    return NULL;
}

static int out_of_memory(akt_error *err, const char *what)
{
    return akt_error_set(err, AKT_ERR_MEMORY, "out of memory allocating %s", what);
}

/* Rows of a on top of rows of b (both with dim columns): the query set "train then test". */
static double *stack_rows(const akt_split *a, const akt_split *b, size_t dim)
{
    size_t rows = a->rows + b->rows;
    double *out = malloc((rows ? rows : 1) * dim * sizeof *out);
    if (!out)
        return NULL;
    if (a->rows)
        memcpy(out, a->x, a->rows * dim * sizeof *out);
    if (b->rows)
        memcpy(out + a->rows * dim, b->x, b->rows * dim * sizeof *out);
    return out;
}

/* Fills a result's losses from predictions on the stacked query set [train; test]. */
static void set_losses(akt_result *result, const double *f, const akt_split *train,
                       const akt_split *test)
{
    result->train_loss = akt_mean_squared_error(f, train->y, train->rows);
    result->test_loss = akt_mean_squared_error(f + train->rows, test->y, test->rows);
}

static void result_start(akt_result *result, akt_regime regime, akt_method method)
{
    memset(result, 0, sizeof *result);
    result->regime = regime;
    result->method = method;
    result->test_loss = NAN;
    result->train_loss = NAN;
    result->mc_error = NAN;
    result->residual = NAN;
    result->stable = AKT_STABLE_UNTESTED;
    result->converged = false;
    result->seconds = now_seconds();
}

static void result_finish(akt_result *result)
{
    result->seconds = now_seconds() - result->seconds;
}

/* ---- which method serves which regime ---------------------------------------------------- */

static bool positively_homogeneous(akt_activation activation)
{
    return activation == AKT_ACTIVATION_RELU || activation == AKT_ACTIVATION_LINEAR;
}

/* The phase whose t -> infinity limit decides whether the convex method applies. */
static bool convex_applies(const akt_spec *spec, akt_regime regime)
{
    if (!positively_homogeneous(spec->network.activation))
        return false;
    switch (regime) {
    case AKT_REGIME_SOURCE:
    case AKT_REGIME_READOUT:
        return spec->source.time == AKT_TIME_CONVERGE && spec->source.weight_decay > 0;
    case AKT_REGIME_SCRATCH:
        return spec->target.time == AKT_TIME_CONVERGE && spec->target.weight_decay > 0;
    default:
        return false;
    }
}

/* A phase the regime runs at time converge without weight decay (readout always converges, but
 * its ridge is readout_decay; its source phase is what matters). */
static bool converges_without_decay(const akt_spec *spec, akt_regime regime)
{
    bool source_phase = spec->source.time == AKT_TIME_CONVERGE && spec->source.weight_decay == 0;
    bool target_phase = spec->target.time == AKT_TIME_CONVERGE && spec->target.weight_decay == 0;
    switch (regime) {
    case AKT_REGIME_SOURCE:
    case AKT_REGIME_READOUT:
        return source_phase;
    case AKT_REGIME_SCRATCH:
        return target_phase;
    default:
        return source_phase || target_phase;
    }
}

static akt_method resolve_auto(const akt_spec *spec, akt_regime regime)
{
    if (spec->network.activation == AKT_ACTIVATION_LINEAR)
        return AKT_METHOD_EXACT;
    return convex_applies(spec, regime) ? AKT_METHOD_CONVEX : AKT_METHOD_POPULATION;
}

int akt_transfer_method(const akt_spec *spec, akt_regime regime, akt_method *method, akt_error *err)
{
    akt_method chosen = spec->solver.method;
    if (chosen == AKT_METHOD_AUTO)
        chosen = resolve_auto(spec, regime);
    const char *regime_name = akt_regime_name(regime);
    const char *activation = akt_activation_name(spec->network.activation);

    if ((chosen == AKT_METHOD_EXACT || chosen == AKT_METHOD_POPULATION) &&
        converges_without_decay(spec, regime))
        return akt_error_set(err, AKT_ERR_INPUT,
                             "regime %s: time converge with weight_decay 0: the t -> infinity "
                             "state then depends on the whole path (no fixed point to certify); "
                             "give a finite time, or use method lazy for the kernel limit",
                             regime_name);
    switch (chosen) {
    case AKT_METHOD_EXACT:
        if (spec->network.activation != AKT_ACTIVATION_LINEAR)
            return akt_error_set(err, AKT_ERR_INPUT,
                                 "solver.method: regime %s: method exact serves linear activation "
                                 "only; %s networks are served by method population (or lazy for "
                                 "the gamma -> 0 limit)", regime_name, activation);
        break;
    case AKT_METHOD_LAZY:
        if (spec->network.activation == AKT_ACTIVATION_TANH)
            return akt_error_set(err, AKT_ERR_INPUT,
                                 "solver.method: regime %s: method lazy needs a closed-form kernel, "
                                 "which tanh has not; use activation erf or method population",
                                 regime_name);
        break;
    case AKT_METHOD_CONVEX:
        if (!convex_applies(spec, regime))
            return akt_error_set(err, AKT_ERR_INPUT,
                                 "solver.method: regime %s: method convex serves relu or linear "
                                 "networks with weight_decay > 0 at time converge (source, scratch, "
                                 "readout on a converged source)", regime_name);
        break;
    case AKT_METHOD_POPULATION:
        break;
    case AKT_METHOD_AUTO:
        break;
    }
    *method = chosen;
    return AKT_OK;
}

/* ---- kept source phases (transfer.h: akt_solve_cached) -------------------------------------- */

/* The kept state of the source phase of (spec, data) by method, or NULL (also for a NULL cache).
 * On a hit *source is the kept source row. On a miss *keep says whether the state about to be
 * computed may be kept: the cache made room for it under the memory limit. */
static void *kept_source(akt_source_cache *cache, const akt_spec *spec, const akt_data *data,
                         akt_method method, akt_result *source, bool *keep)
{
    *keep = false;
    if (!cache)
        return NULL;
    double solve_gib = akt_resources_estimate_gib(spec, data, method, 0);
    void *state = akt_source_cache_find(cache, spec, data, method, source);
    if (state)
        akt_source_cache_fit(cache, data, solve_gib);
    else
        *keep = akt_source_cache_reserve(cache, data, solve_gib,
                                         akt_resources_source_state_gib(spec, data, method));
    return state;
}

/* ---- method exact: linear networks --------------------------------------------------------- */

/* The source state the readout and joint regimes start from: moments for a finite source time,
 * the adaptive-ridge fixed point for time converge. */
typedef struct {
    akt_moments *moments;
    double *beta;
} exact_source;

static void linear_predict(const double *beta, const double *X, size_t rows, size_t dim, double *f)
{
    double scale = 1.0 / sqrt((double)dim);
    for (size_t i = 0; i < rows; i++) {
        double dot = 0.0;
        for (size_t j = 0; j < dim; j++)
            dot += X[i * dim + j] * beta[j];
        f[i] = dot * scale;
    }
}

/* Phi_s(x, x') = gamma |beta| (u.x)(u.x')/D, u = beta/|beta| (THEORY.md section 4): every
 * neuron ends on the ray of beta, balanced. rows_a x rows_b into out. */
static void rank_one_kernel(const double *beta, double gamma, const double *A, size_t rows_a,
                            const double *B, size_t rows_b, size_t dim, double *projection_a,
                            double *projection_b, double *out)
{
    linear_predict(beta, A, rows_a, dim, projection_a); /* beta.x/sqrt(D) = |beta| u.x/sqrt(D) */
    linear_predict(beta, B, rows_b, dim, projection_b);
    double norm = 0.0;
    for (size_t j = 0; j < dim; j++)
        norm += beta[j] * beta[j];
    norm = sqrt(norm);
    /* (u.x)(u.x')/D = (beta.x/sqrt(D))(beta.x'/sqrt(D)) / |beta|^2 */
    double scale = norm > 0 ? gamma * norm / (norm * norm) : 0.0;
    for (size_t i = 0; i < rows_a; i++)
        for (size_t k = 0; k < rows_b; k++)
            out[i * rows_b + k] = scale * projection_a[i] * projection_b[k];
}

/* Runs one moment flow from m's current state and writes predictions on the query rows. */
static int exact_flow_once(akt_moments *m, const akt_split *train, const double *query, size_t q,
                           double gamma, double lambda, double delta, double time,
                           double step_tolerance, const akt_spec *spec, double *f, long *steps,
                           double *residual, akt_error *err)
{
    long taken = 0;
    int status = akt_moments_flow(m, train->x, train->y, train->rows, gamma, lambda, delta, time,
                                  step_tolerance, spec->solver.tolerance, spec->solver.max_time,
                                  &taken, residual, err);
    *steps += taken;
    if (status == AKT_OK)
        akt_moments_predict(m, query, q, gamma, f);
    return status;
}

/* Largest |a - b| relative to the root mean square of b: the size of the integrator's error in
 * the units the losses are read in. */
static double relative_difference(const double *a, const double *b, size_t n)
{
    double worst = 0.0, square = 0.0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(a[i] - b[i]));
        square += b[i] * b[i];
    }
    double scale = sqrt(square / (double)(n ? n : 1));
    return scale > 0 ? worst / scale : worst;
}

/* ---- optional outputs of the exact method (output.h) ---- */

/* A moment-closure phase's loss trajectory: rows at the clock's times through the closure's
 * observer, plus t = 0 and the end (replica 0: nothing is sampled). */
typedef struct {
    akt_outputs *outputs;
    akt_regime regime;
    const akt_split *train, *test;
    const double *query;     /* [train; test], q rows */
    size_t q;
    double gamma;
    double *f;
    akt_trajectory_clock clock;
    double recorded, last;   /* times of the last row and of the last step */
} moments_recorder;

static int moments_row(moments_recorder *r, const akt_moments *m, double t, akt_error *err)
{
    /* The same product on the same rows as exact_flow_once, so a row at the end of the phase
     * equals the reported losses to the last bit. */
    akt_moments_predict(m, r->query, r->q, r->gamma, r->f);
    r->recorded = t;
    return akt_outputs_add_losses(r->outputs, r->regime, 0, t,
                                  akt_mean_squared_error(r->f, r->train->y, r->train->rows),
                                  akt_mean_squared_error(r->f + r->train->rows, r->test->y,
                                                         r->test->rows), err);
}

static int observe_moments(void *context, double t, const akt_moments *m, akt_error *err)
{
    moments_recorder *r = context;
    r->last = t;
    return akt_trajectory_clock_due(&r->clock, t) ? moments_row(r, m, t, err) : AKT_OK;
}

/* The row at t = 0 and the observer on (r->outputs NULL: nothing to record). */
static int moments_record_begin(moments_recorder *r, akt_moments *m, double time,
                                const akt_spec *spec, akt_error *err)
{
    if (!akt_outputs_wants_trajectory(r->outputs, r->regime))
        return AKT_OK;
    if (!(r->f = malloc((r->q ? r->q : 1) * sizeof *r->f)))
        return out_of_memory(err, "the trajectory");
    akt_trajectory_clock_start(&r->clock, time == AKT_TIME_CONVERGE ? spec->solver.max_time : time);
    r->last = 0.0;
    akt_moments_set_observer(m, observe_moments, r);
    return moments_row(r, m, 0.0, err);
}

/* The observer off and, unless the observer took the end, the final row from the reported
 * losses. */
static int moments_record_end(moments_recorder *r, akt_moments *m, const akt_result *result,
                              int status, akt_error *err)
{
    akt_moments_set_observer(m, NULL, NULL);
    if (status == AKT_OK && r->f && r->recorded < r->last)
        status = akt_outputs_add_losses(r->outputs, r->regime, 0, r->last, result->train_loss,
                                        result->test_loss, err);
    free(r->f);
    r->f = NULL;
    return status;
}

/* Hands a linear network's kernels on the regime's kernel points to the outputs: Phi =
 * x'<ww'>x'/D from the moments, or gamma |beta| (u.x)(u.x')/D at the fixed point (THEORY.md
 * section 4); G = <z^2 phi'(h) phi'(h')> = <z^2> everywhere (phi' = 1): the moments' <z z>, or
 * at the balanced fixed point (|z| = |w| per neuron) <|w|^2> = trace <ww'> = gamma |beta|. */
static int exact_kernels(akt_outputs *outputs, akt_regime regime, const akt_moments *m,
                         const double *beta, double gamma, size_t dim, akt_error *err)
{
    if (!akt_outputs_wants_kernels(outputs, regime))
        return AKT_OK;
    bool splits[AKT_POINTS_COUNT];
    size_t M;
    akt_outputs_kernel_splits(outputs, regime, splits, &M);
    double *X = akt_outputs_kernel_points(outputs, regime, err);
    if (!X)
        return err->status;
    size_t n = M ? M : 1;
    double *Phi = malloc(n * n * sizeof *Phi), *G = malloc(n * n * sizeof *G);
    double *projection_a = malloc(n * sizeof *projection_a);
    double *projection_b = malloc(n * sizeof *projection_b);
    int status = AKT_OK;
    if (!Phi || !G || !projection_a || !projection_b) {
        status = out_of_memory(err, "the kernels");
    } else {
        double z_square = 0.0;
        if (m) {
            akt_moments_kernel(m, X, M, X, M, Phi);
            z_square = akt_moments_matrix(m)[0];
        } else {
            rank_one_kernel(beta, gamma, X, M, X, M, dim, projection_a, projection_b, Phi);
            z_square = gamma * cblas_dnrm2((int)dim, beta, 1);
        }
        for (size_t i = 0; i < M * M; i++)
            G[i] = z_square;
        status = akt_outputs_add_kernels(outputs, regime, Phi, G, err);
    }
    free(X);
    free(Phi);
    free(G);
    free(projection_a);
    free(projection_b);
    return status;
}

/* One linear-network phase from the moment state m on (train), evaluated on [train; test].
 * For a finite time the phase runs twice, at step_tolerance and 16 times tighter, from the same
 * start; the finer run is reported and the relative difference of the two runs' predictions is
 * the integrator's error estimate (an upper bound for the finer run's error, since the 8th-order
 * pair's error falls with the tolerance). For time converge the residual is the fixed-point
 * residual. */
static int exact_flow_phase(akt_moments *m, const akt_split *train, const akt_split *test,
                            size_t dim, double gamma, double lambda, double delta, double time,
                            const akt_spec *spec, akt_outputs *outputs, akt_regime regime,
                            akt_result *result, akt_error *err)
{
    size_t q = train->rows + test->rows, n = akt_moments_size(m);
    double *query = stack_rows(train, test, dim);
    double *f = malloc(q * sizeof *f);
    double *f_coarse = malloc(q * sizeof *f_coarse);
    double *start = malloc(n * n * sizeof *start);
    int status = AKT_OK;
    if (!query || !f || !f_coarse || !start) {
        status = out_of_memory(err, "predictions");
        goto done;
    }
    memcpy(start, akt_moments_matrix(m), n * n * sizeof *start);
    double residual = NAN, tolerance = spec->solver.step_tolerance;
    if (time != AKT_TIME_CONVERGE) {
        status = exact_flow_once(m, train, query, q, gamma, lambda, delta, time, tolerance, spec,
                                 f_coarse, &result->iterations, &residual, err);
        if (status == AKT_OK)
            status = akt_moments_set(m, start, n, err);
        tolerance /= 16.0;
    }
    /* The trajectory follows the reported (finer) run. */
    moments_recorder recorder = {outputs, regime, train, test, query, q, gamma, NULL,
                                 {0.0, 0.0}, -1.0, 0.0};
    if (status == AKT_OK)
        status = moments_record_begin(&recorder, m, time, spec, err);
    if (status == AKT_OK)
        status = exact_flow_once(m, train, query, q, gamma, lambda, delta, time, tolerance, spec,
                                 f, &result->iterations, &residual, err);
    result->residual = time == AKT_TIME_CONVERGE ? residual : relative_difference(f_coarse, f, q);
    if (status == AKT_OK) {
        set_losses(result, f, train, test);
        result->converged = true;
    }
    status = moments_record_end(&recorder, m, result, status, err);
done:
    free(query);
    free(f);
    free(f_coarse);
    free(start);
    return status;
}

/* A linear network phase at t -> infinity: the adaptive-ridge fixed point (closed form). */
static int exact_fixed_point_phase(const akt_split *train, const akt_split *test, size_t dim,
                                   double gamma, double lambda, double *beta, akt_result *result,
                                   akt_error *err)
{
    double kappa = 0.0;
    int status = akt_linear_fixed_point(train->x, train->y, train->rows, dim, gamma, lambda, beta,
                                        &kappa, err);
    if (status != AKT_OK)
        return status;
    double *f = malloc((train->rows + test->rows) * sizeof *f);
    if (!f)
        return out_of_memory(err, "predictions");
    linear_predict(beta, train->x, train->rows, dim, f);
    linear_predict(beta, test->x, test->rows, dim, f + train->rows);
    set_losses(result, f, train, test);
    result->converged = true;
    free(f);
    return AKT_OK;
}

static int exact_source_phase(const akt_spec *spec, const akt_data *data, exact_source *state,
                              akt_outputs *outputs, akt_result *result, akt_error *err)
{
    if (spec->source.time == AKT_TIME_CONVERGE) {
        state->beta = calloc(data->dim, sizeof *state->beta);
        if (!state->beta)
            return out_of_memory(err, "source fixed point");
        return exact_fixed_point_phase(&data->source, &data->source_test, data->dim,
                                       spec->source.gamma, spec->source.weight_decay, state->beta,
                                       result, err);
    }
    state->moments = akt_moments_alloc(data->dim, err);
    if (!state->moments)
        return err->status;
    akt_moments_set_min_step(state->moments, spec->solver.min_step);
    akt_moments_init_fresh(state->moments);
    return exact_flow_phase(state->moments, &data->source, &data->source_test, data->dim,
                            spec->source.gamma, spec->source.weight_decay, 0.0, spec->source.time,
                            spec, outputs, AKT_REGIME_SOURCE, result, err);
}

/* A kept exact source: the moment matrix after a finite source time, or the fixed point. */
typedef struct {
    size_t n;          /* the moment matrix is n x n (0 with a fixed point) */
    double *matrix;
    double *beta;      /* D values, time converge */
} exact_kept;

static void exact_kept_free(void *kept)
{
    exact_kept *k = kept;
    if (!k)
        return;
    free(k->matrix);
    free(k->beta);
    free(k);
}

/* Copies the source state for the cache (the readout and joint regimes consume the original);
 * NULL when the copy does not fit. The moment flow keeps its matrix exactly symmetric, so
 * akt_moments_set (which symmetrises) gives it back bit for bit. */
static exact_kept *exact_keep_copy(const exact_source *state, size_t dim, double *gib)
{
    exact_kept *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    size_t count = dim;
    if (state->moments) {
        k->n = akt_moments_size(state->moments);
        count = k->n * k->n;
        k->matrix = malloc(count * sizeof *k->matrix);
        if (k->matrix)
            memcpy(k->matrix, akt_moments_matrix(state->moments), count * sizeof *k->matrix);
    } else {
        k->beta = malloc(dim * sizeof *k->beta);
        if (k->beta)
            memcpy(k->beta, state->beta, dim * sizeof *k->beta);
    }
    if (!k->matrix && !k->beta) {
        exact_kept_free(k);
        return NULL;
    }
    *gib = (double)count * sizeof(double) / (1024.0 * 1024.0 * 1024.0);
    return k;
}

/* The source state from a kept one: a fresh copy, since the joint regime consumes it. */
static int exact_source_restore(const exact_kept *kept, const akt_spec *spec, size_t dim,
                                exact_source *state, akt_error *err)
{
    if (kept->beta) {
        state->beta = malloc(dim * sizeof *state->beta);
        if (!state->beta)
            return out_of_memory(err, "source fixed point");
        memcpy(state->beta, kept->beta, dim * sizeof *state->beta);
        return AKT_OK;
    }
    state->moments = akt_moments_alloc(dim, err);
    if (!state->moments)
        return err->status;
    akt_moments_set_min_step(state->moments, spec->solver.min_step);
    return akt_moments_set(state->moments, kept->matrix, kept->n, err);
}

/* The source phase of method exact: restored from the cache, or run (with its outputs, and kept
 * when the cache has room). A solve has a cache or outputs, never both (solve_all). */
static int exact_source_cached(const akt_spec *spec, const akt_data *data, akt_source_cache *cache,
                               akt_outputs *outputs, exact_source *state, akt_result *result,
                               akt_error *err)
{
    bool keep;
    const exact_kept *kept = kept_source(cache, spec, data, AKT_METHOD_EXACT, result, &keep);
    if (kept)
        return exact_source_restore(kept, spec, data->dim, state, err);
    int status = exact_source_phase(spec, data, state, outputs, result, err);
    if (status == AKT_OK)
        status = exact_kernels(outputs, AKT_REGIME_SOURCE, state->moments, state->beta,
                               spec->source.gamma, data->dim, err);
    result_finish(result);
    if (status == AKT_OK && keep) {
        double gib = 0.0;
        exact_kept *copy = exact_keep_copy(state, data->dim, &gib);
        if (copy)
            akt_source_cache_keep(cache, spec, data, AKT_METHOD_EXACT, result, copy,
                                  exact_kept_free, gib);
    }
    return status;
}

static int exact_scratch(const akt_spec *spec, const akt_data *data, akt_outputs *outputs,
                         akt_result *result, akt_error *err)
{
    if (spec->target.time == AKT_TIME_CONVERGE) {
        double *beta = calloc(data->dim, sizeof *beta);
        if (!beta)
            return out_of_memory(err, "scratch fixed point");
        int status = exact_fixed_point_phase(&data->target, &data->test, data->dim,
                                             spec->target.gamma, spec->target.weight_decay, beta,
                                             result, err);
        if (status == AKT_OK)
            status = exact_kernels(outputs, AKT_REGIME_SCRATCH, NULL, beta, spec->target.gamma,
                                   data->dim, err);
        free(beta);
        return status;
    }
    akt_moments *m = akt_moments_alloc(data->dim, err);
    if (!m)
        return err->status;
    akt_moments_set_min_step(m, spec->solver.min_step);
    akt_moments_init_fresh(m);
    int status = exact_flow_phase(m, &data->target, &data->test, data->dim, spec->target.gamma,
                                  spec->target.weight_decay, 0.0, spec->target.time, spec, outputs,
                                  AKT_REGIME_SCRATCH, result, err);
    if (status == AKT_OK)
        status = exact_kernels(outputs, AKT_REGIME_SCRATCH, m, NULL, spec->target.gamma, data->dim,
                               err);
    akt_moments_free(m);
    return status;
}

/* A source kernel Phi_s between the rows of A (a x D) and of B (b x D), written to out (a x b). */
typedef int (*source_kernel)(const void *source, const akt_spec *spec, const double *A, size_t a,
                             const double *B, size_t b, size_t dim, double *out, akt_error *err);

/* Readout regime on any source whose kernel is known: f = Phi_s(x, X2) (Phi_s(X2, X2) +
 * lambda_r I)^{-1} y2 on the target train and test points (THEORY.md section 3). */
static int readout_regime(const akt_spec *spec, const akt_data *data, source_kernel kernel,
                          const void *source, akt_result *result, akt_error *err)
{
    const akt_split *train = &data->target, *test = &data->test;
    size_t P = train->rows, M = train->rows + test->rows;
    double *query = stack_rows(train, test, data->dim);
    double *K = malloc(P * P * sizeof *K);
    double *K_cross = malloc(M * P * sizeof *K_cross);
    double *f = malloc(M * sizeof *f);
    int status = AKT_OK;
    if (!query || !K || !K_cross || !f)
        status = out_of_memory(err, "readout kernels");
    if (status == AKT_OK)
        status = kernel(source, spec, train->x, P, train->x, P, data->dim, K, err);
    if (status == AKT_OK)
        status = kernel(source, spec, query, M, train->x, P, data->dim, K_cross, err);
    if (status == AKT_OK)
        status = akt_ridge_predict(K, P, K_cross, M, train->y, spec->target.readout_decay, f, err);
    if (status == AKT_OK) {
        set_losses(result, f, train, test);
        result->converged = true;
    }
    free(query);
    free(K);
    free(K_cross);
    free(f);
    return status;
}

/* The linear network's source kernel: from the moments (finite time) or rank one on the ray of
 * the fixed point (time converge). */
static int exact_source_kernel(const void *source, const akt_spec *spec, const double *A,
                               size_t a, const double *B, size_t b, size_t dim, double *out,
                               akt_error *err)
{
    const exact_source *state = source;
    if (state->moments) {
        akt_moments_kernel(state->moments, A, a, B, b, out);
        return AKT_OK;
    }
    double *projection_a = malloc(a * sizeof *projection_a);
    double *projection_b = malloc(b * sizeof *projection_b);
    if (!projection_a || !projection_b) {
        free(projection_a);
        free(projection_b);
        return out_of_memory(err, "readout kernels");
    }
    rank_one_kernel(state->beta, spec->source.gamma, A, a, B, b, dim, projection_a, projection_b,
                    out);
    free(projection_a);
    free(projection_b);
    return AKT_OK;
}

/* Joint regime: the source moments keep learning on the target (THEORY.md section 3). The
 * source state is consumed (it becomes the target state). */
static int exact_joint(const akt_spec *spec, const akt_data *data, exact_source *state,
                       akt_outputs *outputs, akt_result *result, akt_error *err)
{
    if (!state->moments) /* spec validation refuses joint after a converged source */
        return akt_error_set(err, AKT_ERR_INPUT,
                             "target.regimes: joint needs a numeric source.time");
    akt_moments_start_target(state->moments, spec->target.readout_init);
    int status = exact_flow_phase(state->moments, &data->target, &data->test, data->dim,
                                  spec->target.gamma, spec->target.weight_decay,
                                  spec->target.elastic, spec->target.time, spec, outputs,
                                  AKT_REGIME_JOINT, result, err);
    if (status == AKT_OK)
        status = exact_kernels(outputs, AKT_REGIME_JOINT, state->moments, NULL, spec->target.gamma,
                               data->dim, err);
    return status;
}

/* ---- method lazy: the gamma -> 0 kernel limit ------------------------------------------------ */

/* Kernels at initialisation between the query rows Q (q x D) and the train rows X (P x D):
 * nngp = Phi0, tangent = G0 * C (with <z^2> = 1), so the NTK is nngp + tangent. */
static int lazy_kernels(akt_activation activation, const double *Q, size_t q, const double *X,
                        size_t P, size_t dim, double *nngp, double *tangent, akt_error *err)
{
    int status = akt_lazy_kernel_matrix(activation, Q, q, X, P, dim, nngp, tangent, err);
    if (status != AKT_OK)
        return status;
    double *gram = malloc(q * P * sizeof *gram);
    if (!gram)
        return out_of_memory(err, "Gram kernel");
    akt_gram(Q, q, X, P, dim, gram);
    for (size_t i = 0; i < q * P; i++)
        tangent[i] *= gram[i];
    free(gram);
    return AKT_OK;
}

/* The linear flow of the lazy joint regime with elastic pull delta (THEORY.md sections 1 and 3
 * at gamma -> 0): the readout part of the output follows df_z/dt = Phi0 Delta, the hidden part
 * df_w/dt = (G0 C) Delta - delta f_w. With J1 = int Delta dt and J2 = int e^{-delta (T - t)}
 * Delta dt, f(x, T) = f_init(x) + Phi0(x, X) J1 + (G0 C)(x, X) J2 and on the train points
 * Delta = r - Phi0 J1 - (G0 C) J2, r = y - f_init(X). */
typedef struct {
    const double *A, *B, *r; /* Phi0 (P x P), G0 C (P x P), r */
    size_t P;
    double delta;
} pulled_flow;

static int pulled_flow_rhs(double t, const double *state, double *rate, void *params)
{
    (void)t;
    const pulled_flow *flow = params;
    size_t P = flow->P;
    const double *J1 = state, *J2 = state + P;
    for (size_t i = 0; i < P; i++) {
        double delta_i = flow->r[i];
        for (size_t k = 0; k < P; k++)
            delta_i -= flow->A[i * P + k] * J1[k] + flow->B[i * P + k] * J2[k];
        rate[i] = delta_i;
        rate[P + i] = delta_i - flow->delta * J2[i];
    }
    return GSL_SUCCESS;
}

/* Integrates the pulled flow to time T and writes f - f_init on the q query rows. The
 * constant-coefficient system is smooth, so an 8th-order embedded pair with relative tolerance
 * 1e-10 (absolute 1e-12 on J) is far below any loss difference we report. */
static int pulled_flow_predict(pulled_flow *flow, const double *A_cross, const double *B_cross,
                               size_t q, double T, double *increment, long *steps, akt_error *err)
{
    size_t P = flow->P;
    double *state = calloc(2 * P, sizeof *state);
    if (!state)
        return out_of_memory(err, "lazy flow state");
    gsl_odeiv2_system system = {pulled_flow_rhs, NULL, 2 * P, flow};
    gsl_odeiv2_driver *driver =
        gsl_odeiv2_driver_alloc_y_new(&system, gsl_odeiv2_step_rk8pd, 1e-3, 1e-12, 1e-10);
    if (!driver) {
        free(state);
        return out_of_memory(err, "lazy flow driver");
    }
    double t = 0.0;
    int gsl_status = gsl_odeiv2_driver_apply(driver, &t, T, state);
    *steps = (long)driver->n;
    gsl_odeiv2_driver_free(driver);
    if (gsl_status != GSL_SUCCESS) {
        free(state);
        return akt_error_set(err, AKT_ERR_NUMERIC, "lazy joint flow failed at t = %g: %s", t,
                             gsl_strerror(gsl_status));
    }
    for (size_t i = 0; i < q; i++) {
        double sum = 0.0;
        for (size_t k = 0; k < P; k++)
            sum += A_cross[i * P + k] * state[k] + B_cross[i * P + k] * state[P + k];
        increment[i] = sum;
    }
    free(state);
    return AKT_OK;
}

/* Kernel flow of a lazy phase on (train), queried on [train; test] plus optional extra rows
 * (used to carry the source predictor to the target points): f = f_init + flow. */
typedef struct {
    double *nngp, *tangent;             /* train x train */
    double *nngp_cross, *tangent_cross; /* query x train */
    double *query;
    size_t P, q;
} lazy_workspace;

static void lazy_workspace_free(lazy_workspace *w)
{
    free(w->nngp);
    free(w->tangent);
    free(w->nngp_cross);
    free(w->tangent_cross);
    free(w->query);
    memset(w, 0, sizeof *w);
}

/* Builds the kernels between the query rows [train; test; extra] and train. */
static int lazy_workspace_build(lazy_workspace *w, akt_activation activation,
                                const akt_split *train, const akt_split *test,
                                const double *extra, size_t extra_rows, size_t dim, akt_error *err)
{
    memset(w, 0, sizeof *w);
    w->P = train->rows;
    w->q = train->rows + test->rows + extra_rows;
    w->nngp = malloc(w->P * w->P * sizeof *w->nngp);
    w->tangent = malloc(w->P * w->P * sizeof *w->tangent);
    w->nngp_cross = malloc(w->q * w->P * sizeof *w->nngp_cross);
    w->tangent_cross = malloc(w->q * w->P * sizeof *w->tangent_cross);
    w->query = malloc(w->q * dim * sizeof *w->query);
    if (!w->nngp || !w->tangent || !w->nngp_cross || !w->tangent_cross || !w->query) {
        lazy_workspace_free(w);
        return out_of_memory(err, "lazy kernels");
    }
    memcpy(w->query, train->x, train->rows * dim * sizeof *w->query);
    memcpy(w->query + train->rows * dim, test->x, test->rows * dim * sizeof *w->query);
    if (extra_rows)
        memcpy(w->query + (train->rows + test->rows) * dim, extra,
               extra_rows * dim * sizeof *w->query);
    int status = lazy_kernels(activation, train->x, w->P, train->x, w->P, dim, w->nngp,
                              w->tangent, err);
    if (status == AKT_OK)
        status = lazy_kernels(activation, w->query, w->q, train->x, w->P, dim, w->nngp_cross,
                              w->tangent_cross, err);
    if (status != AKT_OK)
        lazy_workspace_free(w);
    return status;
}

/* Kernel gradient flow with the full NTK (nngp + tangent) from f_init (NULL: zero). */
static int lazy_ntk_flow(lazy_workspace *w, const double *y, const double *f_init, double T,
                         double *f, akt_error *err)
{
    for (size_t i = 0; i < w->P * w->P; i++)
        w->tangent[i] += w->nngp[i];
    for (size_t i = 0; i < w->q * w->P; i++)
        w->tangent_cross[i] += w->nngp_cross[i];
    /* The query rows start with the train rows, so f_init's head is its value on train. */
    return akt_kernel_flow_predict(w->tangent, w->P, w->tangent_cross, w->q, y, f_init, f_init,
                                   T, f, err);
}

/* Source (or scratch) phase in the lazy limit: NTK flow from zero for the phase's time.
 * extra rows are queried too (their predictions follow the test rows in f). */
static int lazy_plain_phase(const akt_spec *spec, const akt_split *train, const akt_split *test,
                            const double *extra, size_t extra_rows, size_t dim, double time,
                            double *f, akt_result *result, akt_error *err)
{
    lazy_workspace w;
    int status = lazy_workspace_build(&w, spec->network.activation, train, test, extra,
                                      extra_rows, dim, err);
    if (status != AKT_OK)
        return status;
    status = lazy_ntk_flow(&w, train->y, NULL, time, f, err);
    if (status == AKT_OK) {
        set_losses(result, f, train, test);
        result->converged = true;
    }
    lazy_workspace_free(&w);
    return status;
}

static int lazy_readout(const akt_spec *spec, const akt_data *data, akt_result *result,
                        akt_error *err)
{
    lazy_workspace w;
    int status = lazy_workspace_build(&w, spec->network.activation, &data->target, &data->test,
                                      NULL, 0, data->dim, err);
    if (status != AKT_OK)
        return status;
    double *f = malloc(w.q * sizeof *f);
    if (!f) {
        lazy_workspace_free(&w);
        return out_of_memory(err, "predictions");
    }
    /* The hidden layer does not move in the lazy limit: the source kernel is Phi0. */
    status = akt_ridge_predict(w.nngp, w.P, w.nngp_cross, w.q, data->target.y,
                               spec->target.readout_decay, f, err);
    if (status == AKT_OK) {
        set_losses(result, f, &data->target, &data->test);
        result->converged = true;
    }
    free(f);
    lazy_workspace_free(&w);
    return status;
}

/* Joint regime in the lazy limit. The hidden weights equal their initial values to O(gamma),
 * so the target starts from the same kernels: with readout_init zero the readout is O(gamma),
 * G = <z^2 phi'^2> vanishes and only Phi0 acts; with source or random readouts (<z^2> = 1) the
 * hidden part G0 C acts as well and feels the elastic pull. readout_init source starts from
 * (gamma1/gamma2) times the source predictor. */
static int lazy_joint(const akt_spec *spec, const akt_data *data, const double *source_on_target,
                      akt_result *result, akt_error *err)
{
    lazy_workspace w;
    int status = lazy_workspace_build(&w, spec->network.activation, &data->target, &data->test,
                                      NULL, 0, data->dim, err);
    if (status != AKT_OK)
        return status;
    double *f = malloc(w.q * sizeof *f);
    double *f_init = calloc(w.q, sizeof *f_init);
    double *r = malloc(w.P * sizeof *r);
    if (!f || !f_init || !r) {
        status = out_of_memory(err, "predictions");
        goto done;
    }
    if (spec->target.readout_init == AKT_READOUT_SOURCE)
        for (size_t i = 0; i < w.q; i++)
            f_init[i] = spec->source.gamma / spec->target.gamma * source_on_target[i];

    if (spec->target.readout_init == AKT_READOUT_ZERO) {
        status = akt_kernel_flow_predict(w.nngp, w.P, w.nngp_cross, w.q, data->target.y, NULL,
                                         NULL, spec->target.time, f, err);
    } else if (spec->target.elastic == 0.0) {
        status = lazy_ntk_flow(&w, data->target.y, f_init, spec->target.time, f, err);
    } else if (spec->target.time == AKT_TIME_CONVERGE) {
        /* The pulled part decays, so the flow ends interpolating through Phi0 alone. */
        for (size_t i = 0; i < w.P; i++)
            r[i] = data->target.y[i] - f_init[i];
        status = akt_ridge_predict(w.nngp, w.P, w.nngp_cross, w.q, r, 0.0, f, err);
        for (size_t i = 0; status == AKT_OK && i < w.q; i++)
            f[i] += f_init[i];
    } else {
        for (size_t i = 0; i < w.P; i++)
            r[i] = data->target.y[i] - f_init[i];
        pulled_flow flow = {w.nngp, w.tangent, r, w.P, spec->target.elastic};
        status = pulled_flow_predict(&flow, w.nngp_cross, w.tangent_cross, w.q,
                                     spec->target.time, f, &result->iterations, err);
        for (size_t i = 0; status == AKT_OK && i < w.q; i++)
            f[i] += f_init[i];
    }
    if (status == AKT_OK) {
        set_losses(result, f, &data->target, &data->test);
        result->converged = true;
    }
done:
    free(f);
    free(f_init);
    free(r);
    lazy_workspace_free(&w);
    return status;
}

/* ---- orchestration ---------------------------------------------------------------------------- */

typedef struct {
    akt_method methods[AKT_REGIME_COUNT];
    bool wanted[AKT_REGIME_COUNT];
} solve_plan;

/* Resolves every regime's method before any work starts, so an unsupported request costs
 * nothing and leaves no partial result. */
static int make_plan(const akt_spec *spec, solve_plan *plan, akt_error *err)
{
    memset(plan, 0, sizeof *plan);
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        plan->wanted[r] = r == AKT_REGIME_SOURCE || spec->target.regimes[r];
        if (!plan->wanted[r])
            continue;
        int status = akt_transfer_method(spec, (akt_regime)r, &plan->methods[r], err);
        if (status != AKT_OK)
            return status;
    }
    /* readout and joint start from the source state, so they share its method; scratch is a
     * separate problem and may use another (e.g. convex at time converge next to a population
     * source at a finite time). */
    akt_method source_method = plan->methods[AKT_REGIME_SOURCE];
    for (int r = AKT_REGIME_READOUT; r <= AKT_REGIME_JOINT; r++)
        if (plan->wanted[r] && plan->methods[r] != source_method)
            return akt_error_set(err, AKT_ERR_INPUT,
                                 "solver.method: regime %s would use method %s but the source "
                                 "state it starts from comes from method %s",
                                 akt_regime_name((akt_regime)r),
                                 akt_method_name(plan->methods[r]),
                                 akt_method_name(source_method));
    return AKT_OK;
}

static akt_result *next_result(akt_solution *solution, akt_regime regime, akt_method method)
{
    akt_result *result = &solution->results[solution->count++];
    result_start(result, regime, method);
    return result;
}

static int solve_exact(const akt_spec *spec, const akt_data *data, const bool *wanted,
                       akt_source_cache *cache, akt_outputs *outputs, akt_solution *solution,
                       akt_error *err)
{
    exact_source state = {NULL, NULL};
    /* The source is always solved but handed to the outputs only when wanted. */
    akt_outputs *source_outputs = wanted[AKT_REGIME_SOURCE] ? outputs : NULL;
    akt_result *result = next_result(solution, AKT_REGIME_SOURCE, AKT_METHOD_EXACT);
    int status = exact_source_cached(spec, data, cache, source_outputs, &state, result, err);
    if (status == AKT_OK && wanted[AKT_REGIME_SCRATCH]) {
        result = next_result(solution, AKT_REGIME_SCRATCH, AKT_METHOD_EXACT);
        status = exact_scratch(spec, data, outputs, result, err);
        result_finish(result);
    }
    if (status == AKT_OK && wanted[AKT_REGIME_READOUT]) {
        result = next_result(solution, AKT_REGIME_READOUT, AKT_METHOD_EXACT);
        status = readout_regime(spec, data, exact_source_kernel, &state, result, err);
        result_finish(result);
    }
    if (status == AKT_OK && wanted[AKT_REGIME_JOINT]) {
        result = next_result(solution, AKT_REGIME_JOINT, AKT_METHOD_EXACT);
        status = exact_joint(spec, data, &state, outputs, result, err);
        result_finish(result);
    }
    if (status != AKT_OK)
        akt_error_prefix(err, "regime %s: ", akt_regime_name(result->regime));
    akt_moments_free(state.moments);
    free(state.beta);
    return status;
}

static int solve_lazy(const akt_spec *spec, const akt_data *data, const bool *wanted,
                      akt_solution *solution, akt_error *err)
{
    /* The source predictor is queried on the target train and test rows as well, for
     * readout_init source. */
    size_t target_rows = data->target.rows + data->test.rows;
    double *target_query = stack_rows(&data->target, &data->test, data->dim);
    size_t source_rows = data->source.rows + data->source_test.rows;
    double *f_source = malloc((source_rows + target_rows) * sizeof *f_source);
    double *f = malloc(target_rows * sizeof *f);
    if (!target_query || !f_source || !f) {
        free(target_query);
        free(f_source);
        free(f);
        return out_of_memory(err, "lazy predictions");
    }
    akt_result *result = next_result(solution, AKT_REGIME_SOURCE, AKT_METHOD_LAZY);
    int status = lazy_plain_phase(spec, &data->source, &data->source_test, target_query,
                                  target_rows, data->dim, spec->source.time, f_source, result,
                                  err);
    result_finish(result);
    if (status == AKT_OK && wanted[AKT_REGIME_SCRATCH]) {
        result = next_result(solution, AKT_REGIME_SCRATCH, AKT_METHOD_LAZY);
        status = lazy_plain_phase(spec, &data->target, &data->test, NULL, 0, data->dim,
                                  spec->target.time, f, result, err);
        result_finish(result);
    }
    if (status == AKT_OK && wanted[AKT_REGIME_READOUT]) {
        result = next_result(solution, AKT_REGIME_READOUT, AKT_METHOD_LAZY);
        status = lazy_readout(spec, data, result, err);
        result_finish(result);
    }
    if (status == AKT_OK && wanted[AKT_REGIME_JOINT]) {
        result = next_result(solution, AKT_REGIME_JOINT, AKT_METHOD_LAZY);
        status = lazy_joint(spec, data, f_source + source_rows, result, err);
        result_finish(result);
    }
    if (status != AKT_OK)
        akt_error_prefix(err, "regime %s: ", akt_regime_name(result->regime));
    free(target_query);
    free(f_source);
    free(f);
    return status;
}

/* ---- method convex: relu and linear at t -> infinity with weight decay ----------------------- */

/* Seeds of the convex oracle's random starts: streams of akt_data_stream_seed beyond the data's
 * purposes (0..10), one per phase, so they never coincide with a data stream. */
enum { CONVEX_STREAM_SOURCE = 40, CONVEX_STREAM_SCRATCH = 41 };
/* Outer conditional-gradient iterations allowed; each adds at most one atom and the problems
 * converge in far fewer (the benchmark: P = 1000 to a gap of 1e-6). */
#define CONVEX_MAX_ITERATIONS 5000

/* One phase at t -> infinity on (train), evaluated on [train; test]; keeps the solution. */
static int convex_phase(const akt_spec *spec, const akt_split *train, const akt_split *test,
                        size_t dim, double gamma, double lambda, unsigned purpose,
                        akt_convex_solution *solution, akt_result *result, akt_error *err)
{
    int status = akt_convex_solve(train->x, train->y, train->rows, dim,
                                  spec->network.activation, gamma, lambda,
                                  spec->solver.tolerance, akt_data_stream_seed(spec->seed, purpose),
                                  CONVEX_MAX_ITERATIONS, solution, err);
    result->iterations = solution->iterations;
    result->residual = solution->gap;
    if (status != AKT_OK)
        return status;
    double *query = stack_rows(train, test, dim);
    double *f = malloc((train->rows + test->rows) * sizeof *f);
    if (!query || !f) {
        free(query);
        free(f);
        return out_of_memory(err, "predictions");
    }
    status = akt_convex_predict(solution, query, train->rows + test->rows, dim,
                                spec->network.activation, f, err);
    if (status == AKT_OK) {
        set_losses(result, f, train, test);
        result->converged = solution->converged;
    }
    free(query);
    free(f);
    return status;
}

/* The convex source's kernel, in closed form (THEORY.md section 4). */
static int convex_source_kernel(const void *source, const akt_spec *spec, const double *A,
                                size_t a, const double *B, size_t b, size_t dim, double *out,
                                akt_error *err)
{
    return akt_convex_kernel(source, spec->network.activation, spec->source.gamma, A, a, B, b,
                             dim, out, err);
}

static void convex_kept_free(void *kept)
{
    akt_convex_free(kept);
    free(kept);
}

/* Hands a finished convex source to the cache (the solve has read it for the last time). */
static void convex_keep(akt_source_cache *cache, const akt_spec *spec, const akt_data *data,
                        const akt_result *result, akt_convex_solution *source)
{
    akt_convex_solution *kept = malloc(sizeof *kept);
    if (!kept)
        return;
    *kept = *source;
    memset(source, 0, sizeof *source);
    double gib = (double)kept->K * (double)(kept->D + 1) * sizeof(double) /
                 (1024.0 * 1024.0 * 1024.0);
    akt_source_cache_keep(cache, spec, data, AKT_METHOD_CONVEX, result, kept, convex_kept_free,
                          gib);
}

/* Hands a convex solution's kernels on the regime's kernel points to the outputs: Phi in closed
 * form (akt_convex_kernel) and, by the same argument (atom k carries neurons of mass m_k and
 * balanced norm r_k, m_k r_k^2 = gamma |c_k|, and phi' is homogeneous of degree 0),
 * G(x, x') = gamma sum_k |c_k| phi'(u_k.x/sqrt(D)) phi'(u_k.x'/sqrt(D)). */
static int convex_kernels(akt_outputs *outputs, akt_regime regime, const akt_spec *spec,
                          const akt_convex_solution *solution, double gamma, size_t dim,
                          akt_error *err)
{
    if (!akt_outputs_wants_kernels(outputs, regime))
        return AKT_OK;
    bool splits[AKT_POINTS_COUNT];
    size_t M, K = solution->K;
    akt_outputs_kernel_splits(outputs, regime, splits, &M);
    double *X = akt_outputs_kernel_points(outputs, regime, err);
    if (!X)
        return err->status;
    size_t n = M ? M : 1;
    double *Phi = malloc(n * n * sizeof *Phi), *G = calloc(n * n, sizeof *G);
    double *slopes = malloc((K ? K : 1) * n * sizeof *slopes);
    int status = Phi && G && slopes ? AKT_OK : out_of_memory(err, "the kernels");
    if (status == AKT_OK)
        status = akt_convex_kernel(solution, spec->network.activation, gamma, X, M, X, M, dim, Phi,
                                   err);
    if (status == AKT_OK && K > 0 && M > 0) {
        /* slopes_k(x) = sqrt(gamma |c_k|) phi'(u_k.x/sqrt(D)); G = slopes' slopes. */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)K, (int)M, (int)dim,
                    1.0 / sqrt((double)dim), solution->U, (int)dim, X, (int)dim, 0.0, slopes,
                    (int)M);
        for (size_t k = 0; k < K; k++) {
            double weight = sqrt(gamma * fabs(solution->c[k]));
            for (size_t i = 0; i < M; i++) {
                double *v = &slopes[k * M + i];
                *v = spec->network.activation == AKT_ACTIVATION_LINEAR || *v > 0.0 ? weight : 0.0;
            }
        }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)M, (int)K, 1.0, slopes, (int)M,
                    0.0, G, (int)M);
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < i; j++)
                G[i * M + j] = G[j * M + i];
    }
    if (status == AKT_OK)
        status = akt_outputs_add_kernels(outputs, regime, Phi, G, err);
    free(X);
    free(Phi);
    free(G);
    free(slopes);
    return status;
}

static int solve_convex(const akt_spec *spec, const akt_data *data, const bool *wanted,
                        akt_source_cache *cache, akt_outputs *outputs, akt_solution *solution,
                        akt_error *err)
{
    akt_convex_solution source = {0}, scratch = {0};
    akt_result *result = next_result(solution, AKT_REGIME_SOURCE, AKT_METHOD_CONVEX);
    akt_result *source_result = result;
    bool keep;
    /* The readout regime only reads the source's atoms, so a kept one serves as it is. */
    const akt_convex_solution *used =
        kept_source(cache, spec, data, AKT_METHOD_CONVEX, result, &keep);
    int status = AKT_OK;
    if (!used) {
        status = convex_phase(spec, &data->source, &data->source_test, data->dim,
                              spec->source.gamma, spec->source.weight_decay,
                              CONVEX_STREAM_SOURCE, &source, result, err);
        if (status == AKT_OK && wanted[AKT_REGIME_SOURCE])
            status = convex_kernels(outputs, AKT_REGIME_SOURCE, spec, &source,
                                    spec->source.gamma, data->dim, err);
        result_finish(result);
        used = &source;
    }
    if (status == AKT_OK && wanted[AKT_REGIME_SCRATCH]) {
        result = next_result(solution, AKT_REGIME_SCRATCH, AKT_METHOD_CONVEX);
        status = convex_phase(spec, &data->target, &data->test, data->dim, spec->target.gamma,
                              spec->target.weight_decay, CONVEX_STREAM_SCRATCH, &scratch, result,
                              err);
        if (status == AKT_OK)
            status = convex_kernels(outputs, AKT_REGIME_SCRATCH, spec, &scratch,
                                    spec->target.gamma, data->dim, err);
        result_finish(result);
    }
    if (status == AKT_OK && wanted[AKT_REGIME_READOUT]) {
        result = next_result(solution, AKT_REGIME_READOUT, AKT_METHOD_CONVEX);
        status = readout_regime(spec, data, convex_source_kernel, used, result, err);
        result_finish(result);
    }
    if (status == AKT_OK && wanted[AKT_REGIME_JOINT]) /* make_plan never lets this through */
        status = akt_error_set(err, AKT_ERR_INPUT, "the joint regime has no convex form");
    if (status != AKT_OK)
        akt_error_prefix(err, "regime %s: ", akt_regime_name(result->regime));
    if (keep && source_result->converged)
        convex_keep(cache, spec, data, source_result, &source);
    akt_convex_free(&source);
    akt_convex_free(&scratch);
    return status;
}

/* ---- method population with a target Monte-Carlo error ------------------------------------ */

/* Neurons cap for target_mc_error: the memory check's share of the machine decides the rest. */
#define MC_GROWTH_ROUNDS 4

static double largest_mc_error(const akt_solution *solution)
{
    double worst = 0.0;
    for (size_t k = 0; k < solution->count; k++)
        if (isfinite(solution->results[k].mc_error))
            worst = fmax(worst, solution->results[k].mc_error);
    return worst;
}

/* A kept population source: one saved source run per replica. */
typedef struct {
    size_t replicas;
    akt_population_source **sources;
} population_kept;

static void population_kept_free(void *kept)
{
    population_kept *k = kept;
    if (!k)
        return;
    for (size_t r = 0; k->sources && r < k->replicas; r++)
        akt_population_source_free(k->sources[r]);
    free(k->sources);
    free(k);
}

static population_kept *population_kept_alloc(size_t replicas)
{
    population_kept *k = calloc(1, sizeof *k);
    if (k)
        k->sources = calloc(replicas, sizeof *k->sources);
    if (!k || !k->sources) {
        population_kept_free(k);
        return NULL;
    }
    k->replicas = replicas;
    return k;
}

/* One population solve at the spec's neurons: the replicas' source runs restored from the cache
 * (the source row is then the kept one), or run and kept when the cache has room and every
 * replica's source finished. */
static int population_cached(const akt_spec *spec, const akt_data *data, const bool *wanted,
                             akt_source_cache *cache, akt_outputs *outputs,
                             akt_solution *solution, akt_error *err)
{
    if (outputs)
        return akt_population_transfer_outputs(spec, data, wanted, outputs, solution, err);
    akt_result kept_row;
    bool keep;
    population_kept *kept = kept_source(cache, spec, data, AKT_METHOD_POPULATION, &kept_row,
                                        &keep);
    if (kept) {
        int status = akt_population_transfer_sources(spec, data, wanted, kept->sources, true,
                                                     solution, err);
        if (solution->count > 0 && solution->results[0].regime == AKT_REGIME_SOURCE)
            solution->results[0] = kept_row;
        return status;
    }
    population_kept *fresh = keep ? population_kept_alloc((size_t)spec->solver.replicas) : NULL;
    if (!fresh)
        return akt_population_transfer(spec, data, wanted, solution, err);
    int status = akt_population_transfer_sources(spec, data, wanted, fresh->sources, false,
                                                 solution, err);
    bool complete = solution->count > 0 && solution->results[0].regime == AKT_REGIME_SOURCE &&
                    solution->results[0].converged;
    for (size_t r = 0; r < fresh->replicas; r++)
        complete = complete && fresh->sources[r];
    if (complete)
        akt_source_cache_keep(cache, spec, data, AKT_METHOD_POPULATION, &solution->results[0],
                              fresh, population_kept_free,
                              (double)fresh->replicas *
                                  akt_population_source_gib((size_t)spec->solver.neurons,
                                                            data->source.rows));
    else
        population_kept_free(fresh);
    return status;
}

/* The population solve, grown until every regime's mc_error is below solver.target_mc_error
 * (when it is > 0). mc_error falls like 1/sqrt(S), so the next S is the current one times
 * (mc_error / target)^2, with 10 percent to spare, rounded up to an even count. Each round is
 * a solve of its own for the cache (its neurons are part of the source's key). */
static int solve_population(const akt_spec *spec, const akt_data *data, const bool *wanted,
                            akt_source_cache *cache, akt_outputs *outputs,
                            akt_solution *solution, akt_error *err)
{
    double target = spec->solver.target_mc_error;
    if (!(target > 0))
        return population_cached(spec, data, wanted, cache, outputs, solution, err);
    akt_spec grown;
    int status = akt_spec_copy(&grown, spec, err);
    if (status != AKT_OK)
        return status;
    for (int round = 0;; round++) {
        /* Each round starts the outputs afresh: they describe the last round's populations. */
        status = population_cached(&grown, data, wanted, cache, outputs, solution, err);
        double reached = largest_mc_error(solution);
        if (status != AKT_OK || reached <= target)
            break;
        if (round == MC_GROWTH_ROUNDS) {
            status = akt_error_set(err, AKT_ERR_NUMERIC,
                                   "solver.target_mc_error %g not reached: mc_error %g with %ld "
                                   "neurons after %d rounds of growth", target, reached,
                                   grown.solver.neurons, MC_GROWTH_ROUNDS);
            for (size_t k = 0; k < solution->count; k++)
                solution->results[k].converged = false;
            break;
        }
        double factor = 1.1 * (reached / target) * (reached / target);
        long neurons = (long)ceil((double)grown.solver.neurons * fmax(factor, 1.5));
        grown.solver.neurons = neurons + (neurons % 2);
        status = akt_resources_check(&grown, data, AKT_METHOD_POPULATION, 0, err);
        if (status != AKT_OK) {
            akt_error_prefix(err, "solver.target_mc_error %g needs about %ld neurons: ", target,
                             grown.solver.neurons);
            break;
        }
    }
    akt_spec_free(&grown);
    return status;
}

/* ---- dispatch ----------------------------------------------------------------------------------- */

/* The source phase and the wanted regimes, all by one method. */
static int solve_family(akt_method method, const akt_spec *spec, const akt_data *data,
                        const bool *wanted, akt_source_cache *cache, akt_outputs *outputs,
                        akt_solution *solution, akt_error *err)
{
    switch (method) {
    case AKT_METHOD_EXACT: return solve_exact(spec, data, wanted, cache, outputs, solution, err);
    /* lazy: akt_outputs_alloc refuses outputs for it */
    case AKT_METHOD_LAZY: return solve_lazy(spec, data, wanted, solution, err);
    case AKT_METHOD_CONVEX:
        return solve_convex(spec, data, wanted, cache, outputs, solution, err);
    case AKT_METHOD_POPULATION:
        return solve_population(spec, data, wanted, cache, outputs, solution, err);
    case AKT_METHOD_AUTO: break;
    }
    return akt_error_set(err, AKT_ERR_INPUT, "no method resolved");
}

/* The scratch regime by a method other than the source's: the family solver of that method
 * with only scratch wanted (a source it computes on the way is discarded, or kept in the
 * cache like any other). */
static int solve_scratch_apart(akt_method method, const akt_spec *spec, const akt_data *data,
                               akt_source_cache *cache, akt_outputs *outputs,
                               akt_result *scratch, akt_error *err)
{
    bool wanted[AKT_REGIME_COUNT] = {false};
    wanted[AKT_REGIME_SCRATCH] = true;
    akt_solution apart;
    int status = solve_family(method, spec, data, wanted, cache, outputs, &apart, err);
    const akt_result *found = akt_solution_find(&apart, AKT_REGIME_SCRATCH);
    if (found)
        *scratch = *found;
    else
        result_start(scratch, AKT_REGIME_SCRATCH, method);
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

static int solve_all(const akt_spec *spec, const akt_data *data, akt_source_cache *cache,
                     akt_outputs *outputs, akt_solution *solution, akt_error *err);

int akt_solve(const akt_spec *spec, const akt_data *data, akt_solution *solution, akt_error *err)
{
    return solve_all(spec, data, NULL, NULL, solution, err);
}

int akt_solve_cached(const akt_spec *spec, const akt_data *data, akt_source_cache *cache,
                     akt_solution *solution, akt_error *err)
{
    return solve_all(spec, data, cache, NULL, solution, err);
}

int akt_solve_outputs(const akt_spec *spec, const akt_data *data, akt_outputs *outputs,
                      akt_solution *solution, akt_error *err)
{
    return solve_all(spec, data, NULL, outputs, solution, err);
}

/* Every solve: with a source cache (sweeps) or with output files (akt solve), never both: a
 * source restored from the cache has no trajectory or kernels to hand over. */
static int solve_all(const akt_spec *spec, const akt_data *data, akt_source_cache *cache,
                     akt_outputs *outputs, akt_solution *solution, akt_error *err)
{
    memset(solution, 0, sizeof *solution);
    if (cache && outputs)
        return akt_error_set(err, AKT_ERR_INPUT, "a solve takes a source cache or output files, "
                             "not both");
    solve_plan plan;
    int status = make_plan(spec, &plan, err);
    if (status != AKT_OK)
        return status;
    /* Several solves (a sweep's points, compare's) would all write the one file. */
    if (!outputs && (spec->output.kernels || spec->output.trajectory))
        return akt_error_set(err, AKT_ERR_INPUT,
                             "output.%s: only akt solve writes output files (this command would "
                             "overwrite the file at every solve); remove the key",
                             spec->output.kernels ? "kernels" : "trajectory");
    for (int r = 0; r < AKT_REGIME_COUNT; r++)
        if (plan.wanted[r] &&
            (status = akt_resources_check(spec, data, plan.methods[r], 0, err)) != AKT_OK)
            return status;
    akt_method source_method = plan.methods[AKT_REGIME_SOURCE];
    bool wanted[AKT_REGIME_COUNT];
    memcpy(wanted, plan.wanted, sizeof wanted);
    bool scratch_apart = wanted[AKT_REGIME_SCRATCH] &&
                         plan.methods[AKT_REGIME_SCRATCH] != source_method;
    if (scratch_apart)
        wanted[AKT_REGIME_SCRATCH] = false;
    status = solve_family(source_method, spec, data, wanted, cache, outputs, solution, err);
    if (status != AKT_OK || !scratch_apart)
        return status;
    akt_result scratch;
    status = solve_scratch_apart(plan.methods[AKT_REGIME_SCRATCH], spec, data, cache, outputs,
                                 &scratch,
                                 err);
    insert_scratch(solution, &scratch);
    return status;
}
