/* lazy.c: method lazy, the gamma -> 0 kernel limit.
 *
 * With gamma -> 0 the hidden layer does not move: every phase is a kernel gradient flow with the
 * closed-form kernels at initialisation (arc-cosine for relu, arcsine for erf, THEORY.md
 * section 2), solved in closed form (akt_kernel_flow_predict), except the joint regime with
 * elastic pull, a small linear ODE. It is how a user asks for the kernel limit, whatever gamma
 * the spec gives; weight decay must be 0 (spec validation), since it does not vanish with
 * gamma. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>

#include "akt/exact.h"
#include "akt/observables.h"
#include "core/util.h"
#include "methods/common.h"


/* Kernels at initialisation between the query rows Q (q x D) and the train rows X (P x D):
 * nngp = Phi0, tangent = G0 * C (G0 = <z^2> <phi'(h) phi'(h')>, <z^2> = s_z^2), so the NTK is
 * nngp + tangent. */
static int lazy_kernels(const akt_spec *spec, const double *Q, size_t q, const double *X,
                        size_t P, size_t dim, double *nngp, double *tangent, akt_error *err)
{
    double hidden_scale = spec->network.hidden_scale, readout_scale = spec->network.readout_scale;
    int status = akt_lazy_kernel_matrix_scaled(spec->network.activation,
                                               hidden_scale * hidden_scale, Q, q, X, P, dim,
                                               nngp, tangent, err);
    if (status != AKT_OK)
        return status;
    double *gram = malloc(q * P * sizeof *gram);
    if (!gram)
        return akt_out_of_memory(err, "Gram kernel");
    akt_gram(Q, q, X, P, dim, gram);
    double readout_variance = readout_scale * readout_scale;
    for (size_t i = 0; i < q * P; i++)
        tangent[i] *= readout_variance * gram[i];
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
        return akt_out_of_memory(err, "lazy flow state");
    gsl_odeiv2_system system = {pulled_flow_rhs, NULL, 2 * P, flow};
    gsl_odeiv2_driver *driver =
        gsl_odeiv2_driver_alloc_y_new(&system, gsl_odeiv2_step_rk8pd, 1e-3, 1e-12, 1e-10);
    if (!driver) {
        free(state);
        return akt_out_of_memory(err, "lazy flow driver");
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
static int lazy_workspace_build(lazy_workspace *w, const akt_spec *spec,
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
        return akt_out_of_memory(err, "lazy kernels");
    }
    memcpy(w->query, train->x, train->rows * dim * sizeof *w->query);
    memcpy(w->query + train->rows * dim, test->x, test->rows * dim * sizeof *w->query);
    if (extra_rows)
        memcpy(w->query + (train->rows + test->rows) * dim, extra,
               extra_rows * dim * sizeof *w->query);
    int status = lazy_kernels(spec, train->x, w->P, train->x, w->P, dim, w->nngp,
                              w->tangent, err);
    if (status == AKT_OK)
        status = lazy_kernels(spec, w->query, w->q, train->x, w->P, dim, w->nngp_cross,
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
    int status = lazy_workspace_build(&w, spec, train, test, extra,
                                      extra_rows, dim, err);
    if (status != AKT_OK)
        return status;
    status = lazy_ntk_flow(&w, train->y, NULL, time, f, err);
    if (status == AKT_OK) {
        method_set_losses(result, f, train, test);
        result->integration_error = 0.0;   /* closed form */
        result->converged = true;
    }
    lazy_workspace_free(&w);
    return status;
}

/* Joint regime in the lazy limit on the workspace's queries [target train; queried rows], from
 * f_init on them. The hidden weights equal their initial values to O(gamma), so the target
 * starts from the same kernels: with readout_init zero the readout is O(gamma), G = <z^2 phi'^2>
 * vanishes and only Phi0 acts; with source or random readouts (<z^2> = s_z^2) the hidden part
 * G0 C acts as well and feels the elastic pull. readout_init source starts from (gamma1/gamma2)
 * times the source predictor. */
static int lazy_joint_flow(const akt_spec *spec, const akt_data *data, lazy_workspace *w,
                           const double *f_init, double *f, long *iterations, akt_error *err)
{
    double *r = malloc((w->P ? w->P : 1) * sizeof *r);
    if (!r)
        return akt_out_of_memory(err, "predictions");
    int status;
    if (spec->target.readout_init == AKT_READOUT_ZERO) {
        status = akt_kernel_flow_predict(w->nngp, w->P, w->nngp_cross, w->q, data->target.y, NULL,
                                         NULL, spec->target.time, f, err);
    } else if (spec->target.elastic == 0.0) {
        status = lazy_ntk_flow(w, data->target.y, f_init, spec->target.time, f, err);
    } else if (spec->target.time == AKT_TIME_CONVERGE) {
        /* The pulled part decays, so the flow ends interpolating through Phi0 alone. */
        for (size_t i = 0; i < w->P; i++)
            r[i] = data->target.y[i] - f_init[i];
        status = akt_ridge_predict(w->nngp, w->P, w->nngp_cross, w->q, r, 0.0, f, err);
        for (size_t i = 0; status == AKT_OK && i < w->q; i++)
            f[i] += f_init[i];
    } else {
        for (size_t i = 0; i < w->P; i++)
            r[i] = data->target.y[i] - f_init[i];
        pulled_flow flow = {w->nngp, w->tangent, r, w->P, spec->target.elastic};
        status = pulled_flow_predict(&flow, w->nngp_cross, w->tangent_cross, w->q,
                                     spec->target.time, f, iterations, err);
        for (size_t i = 0; status == AKT_OK && i < w->q; i++)
            f[i] += f_init[i];
    }
    free(r);
    return status;
}

/* The lazy joint predictor on [target train; queried split] (f, P2 + rows values) from the
 * source predictor on the target training points and on the queried split. */
static int lazy_joint_on(const akt_spec *spec, const akt_data *data, const akt_split *queried,
                         const double *source_on_train, const double *source_on_queried,
                         double *f, long *iterations, akt_error *err)
{
    lazy_workspace w;
    int status = lazy_workspace_build(&w, spec, &data->target, queried, NULL, 0, data->dim, err);
    if (status != AKT_OK)
        return status;
    double *f_init = calloc(w.q ? w.q : 1, sizeof *f_init);
    if (!f_init) {
        lazy_workspace_free(&w);
        return akt_out_of_memory(err, "predictions");
    }
    if (spec->target.readout_init == AKT_READOUT_SOURCE) {
        double ratio = spec->source.gamma / spec->target.gamma;
        for (size_t i = 0; i < w.P; i++)
            f_init[i] = ratio * source_on_train[i];
        for (size_t i = w.P; i < w.q; i++)
            f_init[i] = ratio * source_on_queried[i - w.P];
    }
    status = lazy_joint_flow(spec, data, &w, f_init, f, iterations, err);
    free(f_init);
    lazy_workspace_free(&w);
    return status;
}

/* The source test loss of the joint regime (forgetting): the same flow queried on the source
 * test split (a second, independent solve of the small target system, so the reported target
 * losses are computed exactly as without it). NAN without source test points. */
static int lazy_source_test_loss(const akt_spec *spec, const akt_data *data,
                                 const double *source_on_train,
                                 const double *source_on_source_test, double *loss,
                                 akt_error *err)
{
    const akt_split *source_test = &data->source_test;
    *loss = NAN;
    if (source_test->rows == 0)
        return AKT_OK;
    double *f = malloc((data->target.rows + source_test->rows) * sizeof *f);
    if (!f)
        return akt_out_of_memory(err, "predictions");
    long iterations = 0;
    int status = lazy_joint_on(spec, data, source_test, source_on_train, source_on_source_test,
                               f, &iterations, err);
    if (status == AKT_OK)
        *loss = akt_mean_squared_error(f + data->target.rows, source_test->y, source_test->rows);
    free(f);
    return status;
}

/* The lazy limit's observables: the kernels are the initial ones, Phi0 and G0 = s_z^2
 * <phi'(h) phi'(h')> (0 in the joint regime with readout_init zero, whose readout is O(gamma)),
 * on the regime's splits; the phase starts and ends with the same NTK (feature learning 0) and
 * the source kernel is Phi0 too (retention CKA(Phi0, Phi0) = 1). In the joint regime the hidden
 * weights stay at the source's (distance 0) and the readout z = z0 + O(gamma) against
 * z_src = z_src0 + O(gamma): <(z - z_src)^2> is 0 with the source readout kept, s_z^2 from a zero
 * readout and 2 s_z^2 from a fresh one. */
static int lazy_observables(const akt_spec *spec, const akt_data *data, akt_regime regime,
                            double *observables, akt_error *err)
{
    method_observed_splits observed = method_observed_splits_of(data, regime);
    const akt_split *train_split = observed.train, *test_split = observed.test;
    bool train_measured = observed.train_measured, test_measured = observed.test_measured;
    size_t a = observed.train_rows, b = observed.test_rows;
    size_t dim = data->dim;
    double s_h = spec->network.hidden_scale, s_z2 = spec->network.readout_scale *
                                                    spec->network.readout_scale;
    bool zero_readout = regime == AKT_REGIME_JOINT &&
                        spec->target.readout_init == AKT_READOUT_ZERO;
    double *Phi_train = malloc((a * a + 1) * sizeof *Phi_train);
    double *G_train = malloc((a * a + 1) * sizeof *G_train);
    double *ntk_start = malloc((a * a + 1) * sizeof *ntk_start);
    double *Phi_test = malloc((b * b + 1) * sizeof *Phi_test);
    double *G_test = malloc((b * b + 1) * sizeof *G_test);
    int status = Phi_train && G_train && ntk_start && Phi_test && G_test
                     ? AKT_OK : akt_out_of_memory(err, "the observables' kernels");
    if (status == AKT_OK)
        status = akt_lazy_kernel_matrix_scaled(spec->network.activation, s_h * s_h,
                                               train_split->x, a, train_split->x, a, dim,
                                               Phi_train, G_train, err);
    if (status == AKT_OK)
        status = akt_lazy_kernel_matrix_scaled(spec->network.activation, s_h * s_h, test_split->x,
                                               b, test_split->x, b, dim, Phi_test, G_test, err);
    if (status == AKT_OK) {
        double readout_variance = zero_readout ? 0.0 : s_z2;
        for (size_t i = 0; i < a * a; i++)
            G_train[i] *= readout_variance;
        for (size_t i = 0; i < b * b; i++)
            G_test[i] *= readout_variance;
        if (train_measured)
            status = method_ntk(data, observed.train_points, Phi_train, G_train, ntk_start, err);
    }
    /* Scratch and joint train on the target points, where Phi_s = Phi0 = Phi_train. */
    if (status == AKT_OK)
        status = method_kernel_observables(data, regime, train_measured ? Phi_train : NULL,
                                           train_measured ? G_train : NULL,
                                           test_measured ? Phi_test : NULL,
                                           test_measured ? G_test : NULL,
                                           train_measured ? ntk_start : NULL,
                                           train_measured ? Phi_train : NULL, observables, err);
    if (status == AKT_OK && regime == AKT_REGIME_JOINT) {
        akt_readout_init init = spec->target.readout_init;
        observables[AKT_OBSERVABLE_HIDDEN_DISTANCE] = 0.0;
        observables[AKT_OBSERVABLE_READOUT_DISTANCE] =
            init == AKT_READOUT_SOURCE ? 0.0 : init == AKT_READOUT_ZERO ? s_z2 : 2.0 * s_z2;
    }
    free(Phi_train);
    free(G_train);
    free(ntk_start);
    free(Phi_test);
    free(G_test);
    return status;
}

/* Joint regime in the lazy limit on the target train and test points. */
static int lazy_joint(const akt_spec *spec, const akt_data *data, const double *source_on_target,
                      const double *source_on_source_test, akt_result *result, akt_error *err)
{
    size_t q = data->target.rows + data->test.rows;
    double *f = malloc((q ? q : 1) * sizeof *f);
    if (!f)
        return akt_out_of_memory(err, "predictions");
    int status = lazy_joint_on(spec, data, &data->test, source_on_target,
                               source_on_target + data->target.rows, f, &result->iterations, err);
    if (status == AKT_OK) {
        method_set_losses(result, f, &data->target, &data->test);
        result->integration_error = 0.0;   /* closed form */
        result->converged = true;
        status = lazy_observables(spec, data, AKT_REGIME_JOINT, result->observables, err);
    }
    if (status == AKT_OK)
        status = lazy_source_test_loss(spec, data, source_on_target, source_on_source_test,
                                       &result->observables[AKT_OBSERVABLE_SOURCE_TEST_LOSS], err);
    free(f);
    return status;
}


/* ---- the method type ------------------------------------------------------------------------- */

typedef struct {
    const akt_spec *spec;
    const akt_data *data;
    double *f_source;      /* the source predictor on [source train; source test; target
                              train; test] */
} lazy_state;

static void *lazy_alloc(const akt_method_problem *problem, akt_error *err)
{
    lazy_state *state = calloc(1, sizeof *state);
    const akt_data *data = problem->data;
    size_t rows = data->source.rows + data->source_test.rows + data->target.rows +
                  data->test.rows;
    if (state)
        state->f_source = malloc((rows ? rows : 1) * sizeof *state->f_source);
    if (!state || !state->f_source) {
        free(state);
        akt_out_of_memory(err, "lazy predictions");
        return NULL;
    }
    state->spec = problem->spec;
    state->data = data;
    return state;
}

static void lazy_free(void *state)
{
    lazy_state *l = state;
    free(l->f_source);
    free(l);
}

/* The source predictor is queried on the target train and test rows as well, for the joint
 * regime's readout_init source. */
static int lazy_source(void *state, size_t replica, akt_result *result, akt_error *err)
{
    (void)replica;
    lazy_state *l = state;
    const akt_data *data = l->data;
    size_t target_rows = data->target.rows + data->test.rows;
    double *target_query = method_stack_rows(&data->target, &data->test, data->dim);
    if (!target_query)
        return akt_out_of_memory(err, "lazy predictions");
    int status = lazy_plain_phase(l->spec, &data->source, &data->source_test, target_query,
                                  target_rows, data->dim, l->spec->source.time, l->f_source,
                                  result, err);
    free(target_query);
    if (status == AKT_OK)
        status = lazy_observables(l->spec, data, AKT_REGIME_SOURCE, result->observables, err);
    return status;
}

static int lazy_scratch(void *state, size_t replica, akt_result *result, akt_error *err)
{
    (void)replica;
    lazy_state *l = state;
    const akt_data *data = l->data;
    double *f = malloc((data->target.rows + data->test.rows + 1) * sizeof *f);
    if (!f)
        return akt_out_of_memory(err, "lazy predictions");
    int status = lazy_plain_phase(l->spec, &data->target, &data->test, NULL, 0, data->dim,
                                  l->spec->target.time, f, result, err);
    free(f);
    if (status == AKT_OK)
        status = lazy_observables(l->spec, data, AKT_REGIME_SCRATCH, result->observables, err);
    return status;
}

/* The hidden layer does not move in the lazy limit: the source kernel is Phi0. */
static int lazy_readout_kernel(void *state, size_t replica, double *K, double *K_cross,
                               akt_error *err)
{
    (void)replica;
    lazy_state *l = state;
    lazy_workspace w;
    int status = lazy_workspace_build(&w, l->spec, &l->data->target,
                                      &l->data->test, NULL, 0, l->data->dim, err);
    if (status != AKT_OK)
        return status;
    memcpy(K, w.nngp, w.P * w.P * sizeof *K);
    memcpy(K_cross, w.nngp_cross, w.q * w.P * sizeof *K_cross);
    lazy_workspace_free(&w);
    return AKT_OK;
}

static int lazy_joint_op(void *state, size_t replica, akt_result *result, akt_error *err)
{
    (void)replica;
    lazy_state *l = state;
    size_t source_rows = l->data->source.rows + l->data->source_test.rows;
    return lazy_joint(l->spec, l->data, l->f_source + source_rows,
                      l->f_source + l->data->source.rows, result, err);
}

/* Phi0 on the target test points (the lazy source kernel), for the readout regime. */
static int lazy_readout_kernel_test(void *state, size_t replica, double *K_test, akt_error *err)
{
    (void)replica;
    lazy_state *l = state;
    const akt_split *test = &l->data->test;
    double s_h = l->spec->network.hidden_scale;
    if (test->rows > AKT_OBSERVABLES_MAX_POINTS) { /* not measured: NAN alignment */
        for (size_t i = 0; i < test->rows * test->rows; i++)
            K_test[i] = NAN;
        return AKT_OK;
    }
    return akt_lazy_kernel_matrix_scaled(l->spec->network.activation, s_h * s_h, test->x,
                                         test->rows, test->x, test->rows, l->data->dim, K_test,
                                         NULL, err);
}

static int lazy_applies(const akt_spec *spec, akt_regime regime, akt_error *err)
{
    if (spec->network.activation == AKT_ACTIVATION_TANH)
        return akt_error_set(err, AKT_ERR_INPUT,
                             "solver.method: regime %s: method lazy needs a closed-form kernel, "
                             "which tanh has not; use activation erf or method population",
                             akt_regime_name(regime));
    return AKT_OK;
}

static const char *lazy_no_trajectory(const akt_spec *spec, akt_regime regime)
{
    (void)spec;
    (void)regime;
    return ", whose kernel flow is solved in closed form (no time steps)";
}

/* NNGP and derivative kernels on the training points and on the queries, the
 * eigendecomposition's copy and workspace, and the observables' kernels on a split (Phi, G, the
 * Gram, the NTK and the solve layer's test kernel: 5 T^2, T the largest split measured). */
static double lazy_memory_gib(const akt_spec *spec, const akt_data *data)
{
    method_sizes s = method_sizes_of(spec, data);
    double P = fmax(s.P1, s.P2), M = s.P1 + s.P2 + s.test + s.source_test;
    double T = fmin(fmax(P, fmax(s.test, s.source_test)), AKT_OBSERVABLES_MAX_POINTS);
    return (4.0 * P * P + 2.0 * M * P + 5.0 * T * T) * sizeof(double) / AKT_BYTES_PER_GIB;
}

const akt_method_type akt_method_lazy = {
    .name = "lazy",
    .flags = 0,
    .applies = lazy_applies,
    .memory_gib = lazy_memory_gib,
    .no_trajectory = lazy_no_trajectory,
    .alloc = lazy_alloc,
    .free = lazy_free,
    .source = lazy_source,
    .scratch = lazy_scratch,
    .readout_kernel = lazy_readout_kernel,
    .readout_kernel_test = lazy_readout_kernel_test,
    .joint = lazy_joint_op,
};
