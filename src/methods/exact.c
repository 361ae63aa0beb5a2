/* exact.c: method exact, linear networks solved without sampling.
 *
 * A linear network's infinite-width limit closes on second moments (THEORY.md section 4): the
 * moment closure serves every regime at any finite time (akt_moments_*), and the adaptive-ridge
 * fixed point (akt_linear_fixed_point) the source and scratch phases at time converge. The
 * source state the readout and joint regimes start from is the moment matrix, or the fixed
 * point's weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "akt/exact.h"
#include "akt/observables.h"
#include "core/util.h"
#include "methods/common.h"


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

/* ---- observables (README "Observables") ---- */

/* What a phase measures besides its losses, through method_kernel_observables: the regime, the
 * phase's gamma, the NTK the phase started from on the regime's training points, Phi_s on the
 * target training points (NULL: no source state in this solve), and the kernels' workspaces.
 * Linear activation makes G = <z^2 phi'(h) phi'(h')> = <z^2> a constant matrix. */
typedef struct {
    const akt_data *data;
    akt_regime regime;
    double gamma;
    size_t n_train, n_test;
    double *ntk_start;                       /* n_train x n_train */
    double *source_phi;                      /* P2 x P2, or NULL */
    double *Phi_train, *G_train, *Phi_test, *G_test;
    double *f_source_test;                   /* joint: predictions on the source test split */
    double *projected;                       /* max(n_train, n_test) x D */
    bool train_measured, test_measured;      /* the split is small enough to be measured */
} exact_observing;

static void observing_free(exact_observing *o)
{
    free(o->ntk_start);
    free(o->source_phi);
    free(o->Phi_train);
    free(o->G_train);
    free(o->Phi_test);
    free(o->G_test);
    free(o->f_source_test);
    free(o->projected);
    memset(o, 0, sizeof *o);
}

static double *square_buffer(size_t n)
{
    return malloc((n ? n * n : 1) * sizeof(double));
}

static int observing_alloc(exact_observing *o, const akt_data *data, akt_regime regime,
                           double gamma, akt_error *err)
{
    memset(o, 0, sizeof *o);
    o->data = data;
    o->regime = regime;
    o->gamma = gamma;
    /* A split beyond AKT_OBSERVABLES_MAX_POINTS is not measured: n 0, kernels NULL. */
    method_observed_splits observed = method_observed_splits_of(data, regime);
    o->n_train = observed.train_rows;
    o->n_test = observed.test_rows;
    o->train_measured = observed.train_measured;
    o->test_measured = observed.test_measured;
    o->ntk_start = square_buffer(o->n_train);
    o->Phi_train = square_buffer(o->n_train);
    o->G_train = square_buffer(o->n_train);
    o->Phi_test = square_buffer(o->n_test);
    o->G_test = square_buffer(o->n_test);
    size_t rows = o->n_train > o->n_test ? o->n_train : o->n_test;
    o->projected = malloc((rows * data->dim + 1) * sizeof *o->projected);
    bool ok = o->ntk_start && o->Phi_train && o->G_train && o->Phi_test && o->G_test &&
              o->projected;
    if (ok && regime == AKT_REGIME_JOINT)
        ok = (o->f_source_test = malloc((data->source_test.rows + 1) * sizeof(double))) != NULL;
    if (!ok) {
        observing_free(o);
        return akt_out_of_memory(err, "the observables' kernels");
    }
    return AKT_OK;
}

static void fill_constant(double *K, size_t n, double value)
{
    for (size_t i = 0; i < n * n; i++)
        K[i] = value;
}

/* The NTK of a fresh network on the training points: Phi0 = s_h^2 C (<w w'> = s_h^2 I) and
 * G0 = <z^2> = s_z^2 (THEORY.md section 1); the start of the source and scratch phases. */
static int observing_fresh_start(exact_observing *o, const akt_spec *spec, akt_error *err)
{
    akt_points train, test;
    method_regime_points(o->regime, &train, &test);
    const akt_split *split = method_split(o->data, train);
    size_t n = o->n_train;
    double s_h = spec->network.hidden_scale, s_z = spec->network.readout_scale;
    if (!o->train_measured)
        return AKT_OK;
    if (n && akt_gram(split->x, n, split->x, n, o->data->dim, o->Phi_train) != AKT_OK)
        return akt_out_of_memory(err, "the Gram kernel");
    for (size_t i = 0; i < n * n; i++)
        o->Phi_train[i] *= s_h * s_h;
    fill_constant(o->G_train, n, s_z * s_z);
    return method_ntk(o->data, train, o->Phi_train, o->G_train, o->ntk_start, err);
}

static int exact_source_kernel(const void *source, const akt_spec *spec, const double *A,
                               size_t a, const double *B, size_t b, size_t dim, double *out,
                               akt_error *err);

/* Phi_s on the target training points from the source state, when this solve has one (the
 * scratch regime of a family without the source has none: retention stays NAN). */
static int observing_source_phi(exact_observing *o, const exact_source *source,
                                const akt_spec *spec, akt_error *err)
{
    const akt_split *target = &o->data->target;
    if ((!source->moments && !source->beta) || target->rows > AKT_OBSERVABLES_MAX_POINTS)
        return AKT_OK;
    if (!(o->source_phi = square_buffer(target->rows)))
        return akt_out_of_memory(err, "the source kernel");
    return exact_source_kernel(source, spec, target->x, target->rows, target->x, target->rows,
                               o->data->dim, o->source_phi, err);
}

/* The kernel observables from Phi_train and Phi_test (already filled) and G = <z^2>. */
static int observing_kernels(exact_observing *o, double z_square, double *observables,
                             akt_error *err)
{
    fill_constant(o->G_train, o->n_train, z_square);
    fill_constant(o->G_test, o->n_test, z_square);
    bool train = o->train_measured, test = o->test_measured;
    return method_kernel_observables(o->data, o->regime, train ? o->Phi_train : NULL,
                                     train ? o->G_train : NULL, test ? o->Phi_test : NULL,
                                     test ? o->G_test : NULL, train ? o->ntk_start : NULL,
                                     o->source_phi, observables, err);
}

/* Phi = X <w w'> X' / D on one split (n x n) as two matrix products through the n x D buffer
 * projected: the observables' kernels at every trajectory row, where akt_moments_kernel (row by
 * row, for any pair of point sets) would cost a matrix-vector product per point. */
static void moments_split_kernel(const akt_moments *m, const double *X, size_t n, size_t dim,
                                 double *projected, double *Phi)
{
    if (n == 0)
        return;
    size_t stride = akt_moments_size(m);
    const double *W = akt_moments_matrix(m) + stride + 1; /* <w w'>, leading dimension stride */
    cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, (int)n, (int)dim, 1.0 / (double)dim, W,
                (int)stride, X, (int)dim, 0.0, projected, (int)dim);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)dim, 1.0, projected,
                (int)dim, X, (int)dim, 0.0, Phi, (int)n);
}

/* Every observable of a moment state: the kernels Phi = x'<w w'>x'/D and G = <z^2>, and in the
 * joint regime the source test loss of the current predictor and the distances travelled from
 * the source (the moments' w_src block and tracked source readout). */
static int moment_observables(exact_observing *o, const akt_moments *m, double *observables,
                              akt_error *err)
{
    akt_points train, test;
    method_regime_points(o->regime, &train, &test);
    const akt_split *train_split = method_split(o->data, train);
    const akt_split *test_split = method_split(o->data, test);
    moments_split_kernel(m, train_split->x, o->n_train, o->data->dim, o->projected, o->Phi_train);
    moments_split_kernel(m, test_split->x, o->n_test, o->data->dim, o->projected, o->Phi_test);
    int status = observing_kernels(o, akt_moments_matrix(m)[0], observables, err);
    if (status != AKT_OK || o->regime != AKT_REGIME_JOINT)
        return status;
    const akt_split *source_test = &o->data->source_test;
    akt_moments_predict(m, source_test->x, source_test->rows, o->gamma, o->f_source_test);
    observables[AKT_OBSERVABLE_SOURCE_TEST_LOSS] =
        source_test->rows ? akt_mean_squared_error(o->f_source_test, source_test->y,
                                                   source_test->rows)
                          : NAN;
    observables[AKT_OBSERVABLE_HIDDEN_DISTANCE] = akt_moments_hidden_distance(m);
    observables[AKT_OBSERVABLE_READOUT_DISTANCE] = akt_moments_readout_distance(m);
    return AKT_OK;
}

static void rank_one_kernel(const double *beta, double gamma, const double *A, size_t rows_a,
                            const double *B, size_t rows_b, size_t dim, double *projection_a,
                            double *projection_b, double *out);

/* The observables at the adaptive-ridge fixed point (source or scratch at time converge):
 * Phi = gamma |beta| (u.x)(u.x')/D and G = <z^2> = gamma |beta|. Every neuron is stationary:
 * lambda z = gamma w.u and lambda w = gamma z u (u = X' Delta/sqrt(D)), so lambda |w|^2 =
 * gamma z w.u = lambda z^2: |z| = |w| for each neuron (balance), and w is along u, the ray of
 * beta. Hence <z^2> = <|w|^2> = tr <w w'> = gamma |beta| (from Phi's rank-one form), whatever
 * the spread of the neurons' amplitudes. tests/exact/test_observables.c checks it against the
 * closure run to t = 2000. */
static int fixed_point_observables(exact_observing *o, const double *beta, double gamma,
                                   double *observables, akt_error *err)
{
    akt_points train, test;
    method_regime_points(o->regime, &train, &test);
    const akt_split *train_split = method_split(o->data, train);
    const akt_split *test_split = method_split(o->data, test);
    size_t n = o->n_train > o->n_test ? o->n_train : o->n_test, dim = o->data->dim;
    double *projections = malloc((2 * n + 1) * sizeof *projections);
    if (!projections)
        return akt_out_of_memory(err, "the observables' kernels");
    rank_one_kernel(beta, gamma, train_split->x, o->n_train, train_split->x, o->n_train, dim,
                    projections, projections + n, o->Phi_train);
    rank_one_kernel(beta, gamma, test_split->x, o->n_test, test_split->x, o->n_test, dim,
                    projections, projections + n, o->Phi_test);
    free(projections);
    return observing_kernels(o, gamma * cblas_dnrm2((int)dim, beta, 1), observables, err);
}

/* ---- what the observer wants of the exact method: trajectories and kernels ---- */

/* A moment-closure phase's loss trajectory: rows at the clock's times through the closure's
 * observer, plus t = 0 and the end (replica 0: nothing is sampled), each with the observables
 * of the state at that time (NULL observing: none). */
typedef struct {
    const akt_observer *observer;
    akt_regime regime;
    const akt_split *train, *test;
    const double *query;     /* [train; test], q rows */
    size_t q;
    double gamma;
    exact_observing *observing;
    double *f;
    akt_trajectory_clock clock;
    double recorded, last;   /* times of the last row and of the last step */
} moments_recorder;

static int moments_row(moments_recorder *r, const akt_moments *m, double t, akt_error *err)
{
    /* The same product on the same rows as exact_flow_once, so a row at the end of the phase
     * equals the reported losses to the last bit (and the observables, the same computation as
     * the result's). */
    akt_moments_predict(m, r->query, r->q, r->gamma, r->f);
    r->recorded = t;
    double observables[AKT_OBSERVABLE_COUNT];
    akt_observables_clear(observables);
    if (r->observing) {
        int status = moment_observables(r->observing, m, observables, err);
        if (status != AKT_OK)
            return status;
    }
    return method_add_losses(r->observer, r->regime, 0, t,
                             akt_mean_squared_error(r->f, r->train->y, r->train->rows),
                             akt_mean_squared_error(r->f + r->train->rows, r->test->y,
                                                    r->test->rows),
                             r->observing ? observables : NULL, err);
}

static int observe_moments(void *context, double t, const akt_moments *m, akt_error *err)
{
    moments_recorder *r = context;
    r->last = t;
    return akt_trajectory_clock_due(&r->clock, t) ? moments_row(r, m, t, err) : AKT_OK;
}

/* The row at t = 0 and the observer on (no observer: nothing to record). */
static int moments_record_begin(moments_recorder *r, akt_moments *m, double time,
                                const akt_spec *spec, akt_error *err)
{
    if (!method_wants_trajectory(r->observer, r->regime))
        return AKT_OK;
    if (!(r->f = malloc((r->q ? r->q : 1) * sizeof *r->f)))
        return akt_out_of_memory(err, "the trajectory");
    akt_trajectory_clock_start(&r->clock, time == AKT_TIME_CONVERGE ? spec->solver.max_time : time);
    r->last = 0.0;
    akt_moments_set_observer(m, observe_moments, r);
    return moments_row(r, m, 0.0, err);
}

/* The observer off and, unless the observer took the end, the final row from the reported
 * losses and observables. */
static int moments_record_end(moments_recorder *r, akt_moments *m, const akt_result *result,
                              int status, akt_error *err)
{
    akt_moments_set_observer(m, NULL, NULL);
    if (status == AKT_OK && r->f && r->recorded < r->last)
        status = method_add_losses(r->observer, r->regime, 0, r->last, result->train_loss,
                                   result->test_loss, result->observables, err);
    free(r->f);
    r->f = NULL;
    return status;
}

/* Hands a linear network's kernels on the regime's kernel points to the outputs: Phi =
 * x'<ww'>x'/D from the moments, or gamma |beta| (u.x)(u.x')/D at the fixed point (THEORY.md
 * section 4); G = <z^2 phi'(h) phi'(h')> = <z^2> everywhere (phi' = 1): the moments' <z z>, or
 * at the balanced fixed point (|z| = |w| per neuron) <|w|^2> = trace <ww'> = gamma |beta|. */
static int exact_kernels(const akt_observer *observer, akt_regime regime, const akt_moments *m,
                         const double *beta, double gamma, const akt_data *data, akt_error *err)
{
    if (!method_wants_kernels(observer, regime))
        return AKT_OK;
    bool splits[AKT_POINTS_COUNT];
    size_t M;
    size_t dim = data->dim;
    double *X = method_kernel_points(observer, data, regime, splits, &M, err);
    if (!X)
        return err->status;
    size_t n = M ? M : 1;
    double *Phi = malloc(n * n * sizeof *Phi), *G = malloc(n * n * sizeof *G);
    double *projection_a = malloc(n * sizeof *projection_a);
    double *projection_b = malloc(n * sizeof *projection_b);
    int status = AKT_OK;
    if (!Phi || !G || !projection_a || !projection_b) {
        status = akt_out_of_memory(err, "the kernels");
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
        status = method_add_kernels(observer, regime, Phi, G, err);
    }
    free(X);
    free(Phi);
    free(G);
    free(projection_a);
    free(projection_b);
    return status;
}

/* The test loss error of a fixed point reached to relative residual rho: predictions off by at
 * most about rho |f| (rms delta <= rho rms f) move the loss by at most 2 sqrt(L) delta + delta^2
 * (Cauchy-Schwarz on mean (f + e - y)^2 - mean (f - y)^2). */
static double converged_loss_error(double loss, double rho, const double *f, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += f[i] * f[i];
    double delta = rho * sqrt(n ? sum / (double)n : 0.0);
    return 2.0 * sqrt(loss) * delta + delta * delta;
}

/* One linear-network phase from the moment state m on (train), evaluated on [train; test].
 * For a finite time the phase runs twice, at step_tolerance and 16 times tighter, from the same
 * start; the finer run is reported and the relative difference of the two runs' predictions is
 * the integrator's error estimate (an upper bound for the finer run's error, since the 8th-order
 * pair's error falls with the tolerance); the two runs' test losses differ by the integration
 * error reported. For time converge the residual is the fixed-point residual. */
static int exact_flow_phase(akt_moments *m, const akt_split *train, const akt_split *test,
                            size_t dim, double gamma, double lambda, double delta, double time,
                            const akt_spec *spec, const akt_observer *observer, akt_regime regime,
                            exact_observing *observing, akt_result *result, akt_error *err)
{
    size_t q = train->rows + test->rows;
    double *query = method_stack_rows(train, test, dim);
    double *f = malloc(q * sizeof *f);
    double *f_coarse = malloc(q * sizeof *f_coarse);
    double *start = malloc(akt_moments_state_length(m) * sizeof *start);
    int status = AKT_OK;
    if (!query || !f || !f_coarse || !start) {
        status = akt_out_of_memory(err, "predictions");
        goto done;
    }
    akt_moments_save(m, start);
    double residual = NAN, tolerance = spec->solver.step_tolerance;
    if (time != AKT_TIME_CONVERGE) {
        status = exact_flow_once(m, train, query, q, gamma, lambda, delta, time, tolerance, spec,
                                 f_coarse, &result->iterations, &residual, err);
        if (status == AKT_OK)
            akt_moments_restore(m, start);
        tolerance /= 16.0;
    }
    /* The trajectory follows the reported (finer) run. */
    moments_recorder recorder = {observer, regime, train, test, query, q, gamma, observing, NULL,
                                 {0.0, 0.0}, -1.0, 0.0};
    if (status == AKT_OK)
        status = moments_record_begin(&recorder, m, time, spec, err);
    if (status == AKT_OK)
        status = exact_flow_once(m, train, query, q, gamma, lambda, delta, time, tolerance, spec,
                                 f, &result->iterations, &residual, err);
    /* A failed run leaves f (and, when the first run failed, f_coarse) unwritten: only the
     * fixed-point residual reached is known then. */
    if (time == AKT_TIME_CONVERGE)
        result->residual = residual;
    else if (status == AKT_OK)
        result->residual = relative_difference(f_coarse, f, q);
    if (status == AKT_OK) {
        method_set_losses(result, f, train, test);
        if (time != AKT_TIME_CONVERGE) {
            double coarse = akt_mean_squared_error(f_coarse + train->rows, test->y, test->rows);
            result->integration_error = fabs(coarse - result->test_loss);
        } else {
            result->integration_error = converged_loss_error(result->test_loss, residual,
                                                             f + train->rows, test->rows);
        }
        result->converged = true;
        if (observing)
            status = moment_observables(observing, m, result->observables, err);
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
                                   double gamma, double lambda, double *beta,
                                   exact_observing *observing, akt_result *result, akt_error *err)
{
    double kappa = 0.0;
    int status = akt_linear_fixed_point(train->x, train->y, train->rows, dim, gamma, lambda, beta,
                                        &kappa, err);
    if (status != AKT_OK)
        return status;
    double *f = malloc((train->rows + test->rows) * sizeof *f);
    if (!f)
        return akt_out_of_memory(err, "predictions");
    linear_predict(beta, train->x, train->rows, dim, f);
    linear_predict(beta, test->x, test->rows, dim, f + train->rows);
    method_set_losses(result, f, train, test);
    result->integration_error = 0.0;   /* a root to machine precision, no time steps */
    result->converged = true;
    free(f);
    return fixed_point_observables(observing, beta, gamma, result->observables, err);
}

static int exact_source_run(const akt_spec *spec, const akt_data *data, exact_source *state,
                            const akt_observer *observer, exact_observing *observing,
                            akt_result *result, akt_error *err)
{
    if (spec->source.time == AKT_TIME_CONVERGE) {
        state->beta = calloc(data->dim, sizeof *state->beta);
        if (!state->beta)
            return akt_out_of_memory(err, "source fixed point");
        return exact_fixed_point_phase(&data->source, &data->source_test, data->dim,
                                       spec->source.gamma, spec->source.weight_decay, state->beta,
                                       observing, result, err);
    }
    state->moments = akt_moments_alloc(data->dim, err);
    if (!state->moments)
        return err->status;
    akt_moments_set_min_step(state->moments, spec->solver.min_step);
    akt_moments_init_scaled(state->moments, spec->network.hidden_scale,
                            spec->network.readout_scale);
    return exact_flow_phase(state->moments, &data->source, &data->source_test, data->dim,
                            spec->source.gamma, spec->source.weight_decay, 0.0, spec->source.time,
                            spec, observer, AKT_REGIME_SOURCE, observing, result, err);
}

/* The source phase from a fresh network, measured against that network's NTK. */
static int exact_source_phase(const akt_spec *spec, const akt_data *data, exact_source *state,
                              const akt_observer *observer, akt_result *result, akt_error *err)
{
    exact_observing observing;
    int status = observing_alloc(&observing, data, AKT_REGIME_SOURCE, spec->source.gamma, err);
    if (status != AKT_OK)
        return status;
    status = observing_fresh_start(&observing, spec, err);
    if (status == AKT_OK)
        status = exact_source_run(spec, data, state, observer, &observing, result, err);
    observing_free(&observing);
    return status;
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
            return akt_out_of_memory(err, "source fixed point");
        memcpy(state->beta, kept->beta, dim * sizeof *state->beta);
        return AKT_OK;
    }
    state->moments = akt_moments_alloc(dim, err);
    if (!state->moments)
        return err->status;
    akt_moments_set_min_step(state->moments, spec->solver.min_step);
    return akt_moments_set(state->moments, kept->matrix, kept->n, err);
}

static int exact_scratch_run(const akt_spec *spec, const akt_data *data,
                             const akt_observer *observer, exact_observing *observing,
                             akt_result *result, akt_error *err)
{
    if (spec->target.time == AKT_TIME_CONVERGE) {
        double *beta = calloc(data->dim, sizeof *beta);
        if (!beta)
            return akt_out_of_memory(err, "scratch fixed point");
        int status = exact_fixed_point_phase(&data->target, &data->test, data->dim,
                                             spec->target.gamma, spec->target.weight_decay, beta,
                                             observing, result, err);
        if (status == AKT_OK)
            status = exact_kernels(observer, AKT_REGIME_SCRATCH, NULL, beta, spec->target.gamma,
                                   data, err);
        free(beta);
        return status;
    }
    akt_moments *m = akt_moments_alloc(data->dim, err);
    if (!m)
        return err->status;
    akt_moments_set_min_step(m, spec->solver.min_step);
    akt_moments_init_scaled(m, spec->network.hidden_scale, spec->network.readout_scale);
    int status = exact_flow_phase(m, &data->target, &data->test, data->dim, spec->target.gamma,
                                  spec->target.weight_decay, 0.0, spec->target.time, spec, observer,
                                  AKT_REGIME_SCRATCH, observing, result, err);
    if (status == AKT_OK)
        status = exact_kernels(observer, AKT_REGIME_SCRATCH, m, NULL, spec->target.gamma, data, err);
    akt_moments_free(m);
    return status;
}

/* The scratch phase from a fresh network; its retention compares with the source of this solve
 * when there is one. */
static int exact_scratch(const akt_spec *spec, const akt_data *data, const exact_source *source,
                         const akt_observer *observer, akt_result *result, akt_error *err)
{
    exact_observing observing;
    int status = observing_alloc(&observing, data, AKT_REGIME_SCRATCH, spec->target.gamma, err);
    if (status != AKT_OK)
        return status;
    status = observing_fresh_start(&observing, spec, err);
    if (status == AKT_OK)
        status = observing_source_phi(&observing, source, spec, err);
    if (status == AKT_OK)
        status = exact_scratch_run(spec, data, observer, &observing, result, err);
    observing_free(&observing);
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
        return akt_out_of_memory(err, "readout kernels");
    }
    rank_one_kernel(state->beta, spec->source.gamma, A, a, B, b, dim, projection_a, projection_b,
                    out);
    free(projection_a);
    free(projection_b);
    return AKT_OK;
}

/* Joint regime: the source moments keep learning on the target (THEORY.md section 3). The
 * source state is consumed (it becomes the target state). The phase starts from Phi_s with the
 * readout readout_init sets: its NTK is Phi_s + <z^2> C (Phi_s alone with readout_init zero). */
static int exact_joint(const akt_spec *spec, const akt_data *data, exact_source *state,
                       const akt_observer *observer, akt_result *result, akt_error *err)
{
    if (!state->moments) /* spec validation refuses joint after a converged source */
        return akt_error_set(err, AKT_ERR_INPUT,
                             "target.regimes: joint needs a numeric source.time");
    exact_observing observing;
    int status = observing_alloc(&observing, data, AKT_REGIME_JOINT, spec->target.gamma, err);
    if (status != AKT_OK)
        return status;
    status = observing_source_phi(&observing, state, spec, err);
    akt_moments_start_target(state->moments, spec->target.readout_init);
    if (status == AKT_OK && observing.source_phi) {
        fill_constant(observing.G_train, observing.n_train, akt_moments_matrix(state->moments)[0]);
        status = method_ntk(data, AKT_POINTS_TARGET_TRAIN, observing.source_phi, observing.G_train,
                            observing.ntk_start, err);
    }
    if (status == AKT_OK)
        status = exact_flow_phase(state->moments, &data->target, &data->test, data->dim,
                                  spec->target.gamma, spec->target.weight_decay,
                                  spec->target.elastic, spec->target.time, spec, observer,
                                  AKT_REGIME_JOINT, &observing, result, err);
    if (status == AKT_OK)
        status = exact_kernels(observer, AKT_REGIME_JOINT, state->moments, NULL, spec->target.gamma,
                               data, err);
    observing_free(&observing);
    return status;
}


/* ---- the method type ------------------------------------------------------------------------- */

typedef struct {
    const akt_spec *spec;
    const akt_data *data;
    const akt_observer *observer;
    exact_source source;
} exact_state;

static void exact_source_clear(exact_source *source)
{
    akt_moments_free(source->moments);
    free(source->beta);
    source->moments = NULL;
    source->beta = NULL;
}

static void *exact_alloc(const akt_method_problem *problem, akt_error *err)
{
    exact_state *state = calloc(1, sizeof *state);
    if (!state) {
        akt_out_of_memory(err, "the exact solver");
        return NULL;
    }
    state->spec = problem->spec;
    state->data = problem->data;
    state->observer = problem->observer;
    return state;
}

static void exact_free(void *state)
{
    exact_state *e = state;
    exact_source_clear(&e->source);
    free(e);
}

static int exact_source_op(void *state, size_t replica, akt_result *result, akt_error *err)
{
    (void)replica;
    exact_state *e = state;
    exact_source_clear(&e->source);
    int status = exact_source_phase(e->spec, e->data, &e->source, e->observer, result, err);
    if (status == AKT_OK)
        status = exact_kernels(e->observer, AKT_REGIME_SOURCE, e->source.moments, e->source.beta,
                               e->spec->source.gamma, e->data, err);
    return status;
}

static int exact_scratch_op(void *state, size_t replica, akt_result *result, akt_error *err)
{
    (void)replica;
    exact_state *e = state;
    return exact_scratch(e->spec, e->data, &e->source, e->observer, result, err);
}

static int exact_readout_kernel(void *state, size_t replica, double *K, double *K_cross,
                                akt_error *err)
{
    (void)replica;
    exact_state *e = state;
    const akt_split *train = &e->data->target, *test = &e->data->test;
    size_t P = train->rows, M = train->rows + test->rows, D = e->data->dim;
    double *query = method_stack_rows(train, test, D);
    if (!query)
        return akt_out_of_memory(err, "readout kernels");
    int status = exact_source_kernel(&e->source, e->spec, train->x, P, train->x, P, D, K, err);
    if (status == AKT_OK)
        status = exact_source_kernel(&e->source, e->spec, query, M, train->x, P, D, K_cross, err);
    free(query);
    return status;
}

/* Phi_s on the target test points, for the readout regime's test-split alignment. */
static int exact_readout_kernel_test(void *state, size_t replica, double *K_test, akt_error *err)
{
    (void)replica;
    exact_state *e = state;
    const akt_split *test = &e->data->test;
    if (test->rows > AKT_OBSERVABLES_MAX_POINTS) { /* not measured: NAN alignment */
        fill_constant(K_test, test->rows, NAN);
        return AKT_OK;
    }
    return exact_source_kernel(&e->source, e->spec, test->x, test->rows, test->x, test->rows,
                               e->data->dim, K_test, err);
}

static int exact_joint_op(void *state, size_t replica, akt_result *result, akt_error *err)
{
    (void)replica;
    exact_state *e = state;
    return exact_joint(e->spec, e->data, &e->source, e->observer, result, err);
}

static void *exact_keep(void *state, size_t replica, double *gib)
{
    (void)replica;
    exact_state *e = state;
    return exact_keep_copy(&e->source, e->data->dim, gib);
}

static int exact_restore(void *state, size_t replica, const void *kept, akt_error *err)
{
    (void)replica;
    exact_state *e = state;
    exact_source_clear(&e->source);
    return exact_source_restore(kept, e->spec, e->data->dim, &e->source, err);
}

static int exact_applies(const akt_spec *spec, akt_regime regime, akt_error *err)
{
    if (spec->network.activation != AKT_ACTIVATION_LINEAR)
        return akt_error_set(err, AKT_ERR_INPUT,
                             "solver.method: regime %s: method exact serves linear activation "
                             "only; %s networks are served by method population (or lazy for "
                             "the gamma -> 0 limit)", akt_regime_name(regime),
                             akt_activation_name(spec->network.activation));
    return method_refuse_converge_without_decay(spec, regime, err);
}

static bool exact_preferred(const akt_spec *spec, akt_regime regime)
{
    (void)regime;
    return spec->network.activation == AKT_ACTIVATION_LINEAR;
}

static const char *exact_no_trajectory(const akt_spec *spec, akt_regime regime)
{
    if (regime == AKT_REGIME_JOINT || method_phase_time(spec, regime) != AKT_TIME_CONVERGE)
        return NULL;
    return " at time converge, a closed-form fixed point (no time steps)";
}

/* GSL's rk8pd stepper keeps 13 stage and error vectors of the state's size; the moment
 * solver adds the state, a copy of the start (to run a phase twice) and the derivative. */
#define EXACT_STATE_COPIES 16.0

/* The (1 + 2D)^2 moment state with the stepper's copies, the D x D Gram of the closed-form
 * fixed point (and its factorisation), the readout kernels P x P, M x P, and the observables'
 * kernels on a split (Phi, G, the Gram, the NTK and the solve layer's test kernel: 5 T^2, T the
 * largest split measured) with its T x D projection. */
static double exact_memory_gib(const akt_spec *spec, const akt_data *data)
{
    method_sizes s = method_sizes_of(spec, data);
    double P = fmax(s.P1, s.P2), M = s.P1 + s.P2 + s.test + s.source_test;
    double T = fmin(fmax(P, fmax(s.test, s.source_test)), AKT_OBSERVABLES_MAX_POINTS);
    double n = 1.0 + 2.0 * s.D;
    double doubles = EXACT_STATE_COPIES * n * n + 3.0 * s.D * s.D + P * P + M * P +
                     5.0 * T * T + T * s.D;
    return doubles * sizeof(double) / AKT_BYTES_PER_GIB;
}

/* The (1 + D)^2 moment matrix, or D doubles of the fixed point at time converge. */
static double exact_source_state_gib(const akt_spec *spec, const akt_data *data)
{
    method_sizes s = method_sizes_of(spec, data);
    double doubles = spec->source.time == AKT_TIME_CONVERGE ? s.D : (1.0 + s.D) * (1.0 + s.D);
    return doubles * sizeof(double) / AKT_BYTES_PER_GIB;
}

const akt_method_type akt_method_exact = {
    .name = "exact",
    .flags = AKT_METHOD_ADAPTIVE_KERNELS | AKT_METHOD_CACHEABLE_SOURCE,
    .applies = exact_applies,
    .preferred = exact_preferred,
    .memory_gib = exact_memory_gib,
    .no_trajectory = exact_no_trajectory,
    .alloc = exact_alloc,
    .free = exact_free,
    .source = exact_source_op,
    .scratch = exact_scratch_op,
    .readout_kernel = exact_readout_kernel,
    .readout_kernel_test = exact_readout_kernel_test,
    .joint = exact_joint_op,
    .source_keys = method_source_keys,
    .keep_source = exact_keep,
    .restore_source = exact_restore,
    .free_kept = exact_kept_free,
    .source_state_gib = exact_source_state_gib,
};
