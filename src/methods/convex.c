/* convex.c: method convex, relu and linear networks at t -> infinity with weight decay.
 *
 * The stationary state of a phase with weight decay lambda > 0 is a lasso over a continuum of
 * features (THEORY.md section 4), solved by akt_convex_solve with a certified duality gap; its
 * source kernel is in closed form. It serves the source and scratch phases at time converge and
 * the readout regime on such a source; the joint regime has no convex form. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "akt/activation.h"
#include "akt/convex.h"
#include "akt/exact.h"
#include "core/util.h"
#include "akt/observables.h"
#include "methods/common.h"

/* Seeds of the convex oracle's random starts: streams of akt_data_stream_seed beyond the data's
 * purposes (0..10), one per phase, so they never coincide with a data stream. */
enum { CONVEX_STREAM_SOURCE = 40, CONVEX_STREAM_SCRATCH = 41 };
/* Outer conditional-gradient iterations allowed; each adds at most one atom and the problems
 * tested (P <= 30) converge in tens of iterations. */
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
    double *query = method_stack_rows(train, test, dim);
    double *f = malloc((train->rows + test->rows) * sizeof *f);
    if (!query || !f) {
        free(query);
        free(f);
        return akt_out_of_memory(err, "predictions");
    }
    status = akt_convex_predict(solution, query, train->rows + test->rows, dim,
                                spec->network.activation, f, err);
    if (status == AKT_OK) {
        method_set_losses(result, f, train, test);
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

/* Hands a convex solution's kernels on the regime's kernel points to the outputs: Phi in closed
 * form (akt_convex_kernel) and, by the same argument (atom k carries neurons of mass m_k and
 * balanced norm r_k, m_k r_k^2 = gamma |c_k|, and phi' is homogeneous of degree 0),
 * G(x, x') = gamma sum_k |c_k| phi'(u_k.x/sqrt(D)) phi'(u_k.x'/sqrt(D)). */
static int convex_kernels(const akt_observer *observer, akt_regime regime, const akt_spec *spec,
                          const akt_data *data, const akt_convex_solution *solution,
                          double gamma, akt_error *err)
{
    if (!method_wants_kernels(observer, regime))
        return AKT_OK;
    bool splits[AKT_POINTS_COUNT];
    size_t M, K = solution->K, dim = data->dim;
    double *X = method_kernel_points(observer, data, regime, splits, &M, err);
    if (!X)
        return err->status;
    size_t n = M ? M : 1;
    double *Phi = malloc(n * n * sizeof *Phi), *G = calloc(n * n, sizeof *G);
    double *slopes = malloc((K ? K : 1) * n * sizeof *slopes);
    int status = Phi && G && slopes ? AKT_OK : akt_out_of_memory(err, "the kernels");
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
        status = method_add_kernels(observer, regime, Phi, G, err);
    free(X);
    free(Phi);
    free(G);
    free(slopes);
    return status;
}


/* ---- observables (README "Observables") ---- */

/* An atom closer to a kink of a point than this (|u.x| / |x|, u a unit vector) sits on it: the
 * oracle's exact cone projections put atoms on kinks to round-off, far below this, while an
 * atom genuinely off a kink keeps a margin far above it. */
#define CONVEX_KINK_TOLERANCE 1e-9

/* G = gamma sum_k |c_k| phi'(u_k.x/sqrt(D)) phi'(u_k.x'/sqrt(D)) on the n rows of X (n x n),
 * the balanced stationary neurons' <z^2 phi'(h) phi'(h')> (convex_kernels). For relu it is
 * undefined when an atom sits on a kink of one of the points (phi' jumps there, and the neurons
 * of a population keep crossing it: THEORY.md section 2): then *defined is false. */
static int convex_slope_kernel(const akt_convex_solution *solution, akt_activation activation,
                               double gamma, const double *X, size_t n, size_t dim, double *G,
                               bool *defined, akt_error *err)
{
    size_t K = solution->K;
    *defined = true;
    memset(G, 0, n * n * sizeof *G);
    if (K == 0 || n == 0)
        return AKT_OK;
    double *slopes = malloc(K * n * sizeof *slopes);
    if (!slopes)
        return akt_out_of_memory(err, "the observables' kernels");
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)K, (int)n, (int)dim, 1.0,
                solution->U, (int)dim, X, (int)dim, 0.0, slopes, (int)n);
    for (size_t k = 0; k < K; k++) {
        double weight = sqrt(gamma * fabs(solution->c[k]));
        for (size_t i = 0; i < n; i++) {
            double *v = &slopes[k * n + i];
            double norm = cblas_dnrm2((int)dim, X + i * dim, 1);
            if (activation != AKT_ACTIVATION_LINEAR && fabs(*v) <= CONVEX_KINK_TOLERANCE * norm)
                *defined = false;
            *v = activation == AKT_ACTIVATION_LINEAR || *v > 0.0 ? weight : 0.0;
        }
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)n, (int)K, 1.0, slopes, (int)n, 0.0,
                G, (int)n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            G[i * n + j] = G[j * n + i];
    free(slopes);
    return AKT_OK;
}

/* The NTK of the initial network on the regime's training points (closed forms, layer scales of
 * THEORY.md section 1): where feature learning is measured from. */
static int convex_initial_ntk(const akt_spec *spec, const akt_data *data, akt_points points,
                              double *K, akt_error *err)
{
    const akt_split *split = method_split(data, points);
    size_t n = split->rows;
    double s_h = spec->network.hidden_scale, s_z = spec->network.readout_scale;
    double *Phi0 = malloc((n * n + 1) * sizeof *Phi0), *G0 = malloc((n * n + 1) * sizeof *G0);
    int status = Phi0 && G0 ? AKT_OK : akt_out_of_memory(err, "the initial kernels");
    if (status == AKT_OK)
        status = akt_lazy_kernel_matrix_scaled(spec->network.activation, s_h * s_h, split->x, n,
                                               split->x, n, data->dim, Phi0, G0, err);
    if (status == AKT_OK) {
        for (size_t i = 0; i < n * n; i++)
            G0[i] *= s_z * s_z;
        status = method_ntk(data, points, Phi0, G0, K, err);
    }
    free(Phi0);
    free(G0);
    return status;
}

/* The observables of a phase at its convex optimum: Phi in closed form; G from the balanced
 * neurons (|z| = |w| at every stationary neuron with weight decay, since phi'(h) h = phi(h):
 * lambda |w|^2 = gamma z sum Delta phi'(h) h = gamma z sum Delta phi(h) = lambda z^2), where
 * defined (relu: no atom on a kink of the split's points; NAN NTK observables otherwise);
 * retention against the source's atoms (source: NULL). */
static int convex_observables(const akt_spec *spec, const akt_data *data, akt_regime regime,
                              const akt_convex_solution *solution, double gamma,
                              const akt_convex_solution *source, double *observables,
                              akt_error *err)
{
    method_observed_splits observed = method_observed_splits_of(data, regime);
    const akt_split *train_split = observed.train, *test_split = observed.test;
    bool train_measured = observed.train_measured, test_measured = observed.test_measured;
    size_t a = observed.train_rows, b = observed.test_rows;
    size_t dim = data->dim;
    akt_activation activation = spec->network.activation;
    double *Phi_train = malloc((a * a + 1) * sizeof *Phi_train);
    double *G_train = malloc((a * a + 1) * sizeof *G_train);
    double *ntk_start = malloc((a * a + 1) * sizeof *ntk_start);
    double *Phi_test = malloc((b * b + 1) * sizeof *Phi_test);
    double *G_test = malloc((b * b + 1) * sizeof *G_test);
    double *source_phi = NULL;
    int status = Phi_train && G_train && ntk_start && Phi_test && G_test
                     ? AKT_OK : akt_out_of_memory(err, "the observables' kernels");
    bool train_defined = false, test_defined = false;
    if (status == AKT_OK)
        status = akt_convex_kernel(solution, activation, gamma, train_split->x, a, train_split->x,
                                   a, dim, Phi_train, err);
    if (status == AKT_OK)
        status = akt_convex_kernel(solution, activation, gamma, test_split->x, b, test_split->x, b,
                                   dim, Phi_test, err);
    if (status == AKT_OK)
        status = convex_slope_kernel(solution, activation, gamma, train_split->x, a, dim, G_train,
                                     &train_defined, err);
    if (status == AKT_OK)
        status = convex_slope_kernel(solution, activation, gamma, test_split->x, b, dim, G_test,
                                     &test_defined, err);
    if (status == AKT_OK && train_measured)
        status = convex_initial_ntk(spec, data, observed.train_points, ntk_start, err);
    if (status == AKT_OK && source && regime != AKT_REGIME_SOURCE && train_measured) {
        const akt_split *target = &data->target;
        source_phi = malloc((target->rows * target->rows + 1) * sizeof *source_phi);
        status = source_phi ? akt_convex_kernel(source, activation, spec->source.gamma, target->x,
                                                target->rows, target->x, target->rows, dim,
                                                source_phi, err)
                            : akt_out_of_memory(err, "the source kernel");
    }
    if (status == AKT_OK)
        status = method_kernel_observables(data, regime, train_measured ? Phi_train : NULL,
                                           train_measured && train_defined ? G_train : NULL,
                                           test_measured ? Phi_test : NULL,
                                           test_measured && test_defined ? G_test : NULL,
                                           train_measured ? ntk_start : NULL, source_phi,
                                           observables, err);
    free(Phi_train);
    free(G_train);
    free(ntk_start);
    free(Phi_test);
    free(G_test);
    free(source_phi);
    return status;
}

/* ---- the method type ------------------------------------------------------------------------- */

typedef struct {
    const akt_spec *spec;
    const akt_data *data;
    const akt_observer *observer;
    akt_convex_solution source;          /* the source this solve ran */
    const akt_convex_solution *used;     /* the source the readout reads: &source or a kept one */
} convex_state;

static void *convex_alloc(const akt_method_problem *problem, akt_error *err)
{
    convex_state *state = calloc(1, sizeof *state);
    if (!state) {
        akt_out_of_memory(err, "the convex solver");
        return NULL;
    }
    state->spec = problem->spec;
    state->data = problem->data;
    state->observer = problem->observer;
    return state;
}

static void convex_free(void *state)
{
    convex_state *c = state;
    akt_convex_free(&c->source);
    free(c);
}

static int convex_source(void *state, size_t replica, akt_result *result, akt_error *err)
{
    (void)replica;
    convex_state *c = state;
    const akt_spec *spec = c->spec;
    const akt_data *data = c->data;
    int status = convex_phase(spec, &data->source, &data->source_test, data->dim,
                              spec->source.gamma, spec->source.weight_decay,
                              CONVEX_STREAM_SOURCE, &c->source, result, err);
    c->used = &c->source;
    if (status == AKT_OK)
        status = convex_observables(spec, data, AKT_REGIME_SOURCE, &c->source, spec->source.gamma,
                                    NULL, result->observables, err);
    if (status == AKT_OK)
        status = convex_kernels(c->observer, AKT_REGIME_SOURCE, spec, data, &c->source,
                                spec->source.gamma, err);
    return status;
}

static int convex_scratch(void *state, size_t replica, akt_result *result, akt_error *err)
{
    (void)replica;
    convex_state *c = state;
    const akt_spec *spec = c->spec;
    const akt_data *data = c->data;
    akt_convex_solution scratch = {0};
    int status = convex_phase(spec, &data->target, &data->test, data->dim, spec->target.gamma,
                              spec->target.weight_decay, CONVEX_STREAM_SCRATCH, &scratch, result,
                              err);
    if (status == AKT_OK)
        status = convex_observables(spec, data, AKT_REGIME_SCRATCH, &scratch, spec->target.gamma,
                                    c->used, result->observables, err);
    if (status == AKT_OK)
        status = convex_kernels(c->observer, AKT_REGIME_SCRATCH, spec, data, &scratch,
                                spec->target.gamma, err);
    akt_convex_free(&scratch);
    return status;
}

static int convex_readout_kernel(void *state, size_t replica, double *K, double *K_cross,
                                 akt_error *err)
{
    (void)replica;
    convex_state *c = state;
    const akt_split *train = &c->data->target, *test = &c->data->test;
    size_t P = train->rows, M = train->rows + test->rows, D = c->data->dim;
    double *query = method_stack_rows(train, test, D);
    if (!query)
        return akt_out_of_memory(err, "readout kernels");
    int status = convex_source_kernel(c->used, c->spec, train->x, P, train->x, P, D, K, err);
    if (status == AKT_OK)
        status = convex_source_kernel(c->used, c->spec, query, M, train->x, P, D, K_cross, err);
    free(query);
    return status;
}

/* Phi_s on the target test points, for the readout regime's test-split alignment. */
static int convex_readout_kernel_test(void *state, size_t replica, double *K_test,
                                      akt_error *err)
{
    (void)replica;
    convex_state *c = state;
    const akt_split *test = &c->data->test;
    if (test->rows > AKT_OBSERVABLES_MAX_POINTS) { /* not measured: NAN alignment */
        for (size_t i = 0; i < test->rows * test->rows; i++)
            K_test[i] = NAN;
        return AKT_OK;
    }
    return convex_source_kernel(c->used, c->spec, test->x, test->rows, test->x, test->rows,
                                c->data->dim, K_test, err);
}

static void convex_kept_free(void *kept)
{
    akt_convex_free(kept);
    free(kept);
}

/* A copy of the source's atoms (the readout of this solve still reads the original). */
static void *convex_keep(void *state, size_t replica, double *gib)
{
    (void)replica;
    const akt_convex_solution *source = &((convex_state *)state)->source;
    akt_convex_solution *kept = malloc(sizeof *kept);
    if (!kept)
        return NULL;
    *kept = *source;
    kept->U = kept->c = NULL;
    size_t K = source->K, D = source->D;
    if (K > 0) {
        kept->U = malloc(K * D * sizeof *kept->U);
        kept->c = malloc(K * sizeof *kept->c);
        if (!kept->U || !kept->c) {
            convex_kept_free(kept);
            return NULL;
        }
        memcpy(kept->U, source->U, K * D * sizeof *kept->U);
        memcpy(kept->c, source->c, K * sizeof *kept->c);
    }
    *gib = (double)K * (double)(D + 1) * sizeof(double) / AKT_BYTES_PER_GIB;
    return kept;
}

/* The readout regime only reads the source's atoms, so a kept one serves as it is. */
static int convex_restore(void *state, size_t replica, const void *kept, akt_error *err)
{
    (void)replica;
    (void)err;
    ((convex_state *)state)->used = kept;
    return AKT_OK;
}

/* The phase whose t -> infinity limit decides whether the convex method applies. */
static bool convex_serves(const akt_spec *spec, akt_regime regime)
{
    if (!akt_activation_positively_homogeneous(spec->network.activation))
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

static int convex_applies(const akt_spec *spec, akt_regime regime, akt_error *err)
{
    if (convex_serves(spec, regime))
        return AKT_OK;
    return akt_error_set(err, AKT_ERR_INPUT,
                         "solver.method: regime %s: method convex serves relu or linear "
                         "networks with weight_decay > 0 at time converge (source, scratch, "
                         "readout on a converged source)", akt_regime_name(regime));
}

static const char *convex_no_trajectory(const akt_spec *spec, akt_regime regime)
{
    (void)spec;
    (void)regime;
    return ", which solves the t -> infinity limit directly (no time steps)";
}

/* Bounded like a population of solver.neurons (the oracle's starts and atoms are far fewer). */
static double convex_memory_gib(const akt_spec *spec, const akt_data *data)
{
    return akt_method_population.memory_gib(spec, data);
}

/* Its atoms: at most P1 + 1 of D + 1 doubles (the representer bound of THEORY.md section 4,
 * with one to spare). */
static double convex_source_state_gib(const akt_spec *spec, const akt_data *data)
{
    method_sizes s = method_sizes_of(spec, data);
    return (s.P1 + 1.0) * (s.D + 1.0) * sizeof(double) / AKT_BYTES_PER_GIB;
}

const akt_method_type akt_method_convex = {
    .name = "convex",
    .flags = AKT_METHOD_ADAPTIVE_KERNELS | AKT_METHOD_CACHEABLE_SOURCE,
    .applies = convex_applies,
    .preferred = convex_serves,
    .memory_gib = convex_memory_gib,
    .no_trajectory = convex_no_trajectory,
    .alloc = convex_alloc,
    .free = convex_free,
    .source = convex_source,
    .scratch = convex_scratch,
    .readout_kernel = convex_readout_kernel,
    .readout_kernel_test = convex_readout_kernel_test,
    .source_keys = method_source_keys,
    .keep_source = convex_keep,
    .restore_source = convex_restore,
    .free_kept = convex_kept_free,
    .source_state_gib = convex_source_state_gib,
};
