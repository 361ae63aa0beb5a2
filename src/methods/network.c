/* network.c: method network, finite-width networks trained by the same protocol as the theory.
 *
 * One network of the settings' width per solve (akt_network_settings; seeds are separate
 * solves, so akt compare sees each seed's losses): the source network trained from its stream,
 * then a fresh network for scratch, the readout refitted in closed form on the source network's
 * features, and the source network trained on for joint (with elastic pull toward its source
 * weights). Every phase needs a numeric time (DESIGN.md, Decisions: Finite-width networks).
 *
 * Observables (README "Observables") come from the weights: the empirical Phi and G of
 * akt_network_feature_kernels (the finite-N averages of the theory's <phi phi'> and <g g'>) on
 * the regime's splits, the NTK right after the phase's start state is set, Phi_s of the source
 * network on the target points, and the joint regime's forgetting and distances from the
 * source network. Measuring only reads the weights: the losses do not change. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "akt/finite.h"
#include "core/util.h"
#include "methods/common.h"

typedef struct {
    const akt_spec *spec;
    const akt_data *data;
    akt_network_settings settings;
    akt_finite_stepping stepping;
    akt_network *source, *work;
} network_state;

/* Initial-network outputs on train and test (network.center): the offsets subtracted from the
 * outputs in the source and scratch phases. NULL offsets when centring is off. */
static int centre_offsets(const network_state *n, const akt_network *net, double gamma,
                          const akt_split *train, const akt_split *test, double **offset_train,
                          double **offset_test, akt_error *err)
{
    *offset_train = *offset_test = NULL;
    if (!n->spec->network.center)
        return AKT_OK;
    *offset_train = malloc((train->rows + 1) * sizeof **offset_train);
    *offset_test = malloc((test->rows + 1) * sizeof **offset_test);
    if (!*offset_train || !*offset_test)
        return akt_out_of_memory(err, "the centring offsets");
    int status = akt_network_predict(net, train->x, train->rows, gamma, *offset_train, err);
    if (!status)
        status = akt_network_predict(net, test->x, test->rows, gamma, *offset_test, err);
    return status;
}

/* ---- observables ---- */

/* Phi (and G unless G_out is NULL) of net on a point set, malloc'd n x n; NULL kernels for an
 * empty set. */
static int point_kernels(const akt_data *data, const akt_network *net, akt_points points,
                         double **Phi_out, double **G_out, akt_error *err)
{
    size_t n = method_split(data, points)->rows;
    *Phi_out = NULL;
    if (G_out)
        *G_out = NULL;
    if (n == 0)
        return AKT_OK;
    double *Phi = malloc(n * n * sizeof *Phi), *G = G_out ? malloc(n * n * sizeof *G) : NULL;
    int status = Phi && (G || !G_out) ? AKT_OK : akt_out_of_memory(err, "the network's kernels");
    if (!status)
        status = akt_network_feature_kernels(net, method_split(data, points)->x, n, Phi, G, err);
    if (status) {
        free(Phi);
        free(G);
        return status;
    }
    *Phi_out = Phi;
    if (G_out)
        *G_out = G;
    return AKT_OK;
}

/* The NTK Phi + G o C of net on the regime's training points (malloc'd): K_start of the
 * feature-learning magnitude, taken right after the phase's start state is set. */
static int start_ntk(const network_state *n, const akt_network *net, akt_regime regime,
                     double **K_out, akt_error *err)
{
    akt_points train, test;
    method_regime_points(regime, &train, &test);
    double *Phi, *G;
    int status = point_kernels(n->data, net, train, &Phi, &G, err);
    if (!status)
        status = method_ntk(n->data, train, Phi, G, Phi, err); /* K may be Phi */
    if (status) {
        free(Phi);
        Phi = NULL;
    }
    free(G);
    *K_out = Phi;
    return status;
}

/* The kernel observables of net's final state in a regime (ntk_start may be NULL): Phi and G on
 * the regime's training and test splits and, for the target regimes, Phi_s on the target
 * training points from the source network. */
static int kernel_observables(const network_state *n, const akt_network *net, akt_regime regime,
                              const double *ntk_start, akt_result *result, akt_error *err)
{
    /* a split beyond AKT_OBSERVABLES_MAX_POINTS is not measured (its kernels stay NULL) */
    method_observed_splits observed = method_observed_splits_of(n->data, regime);
    double *Phi_train = NULL, *G_train = NULL, *Phi_test = NULL, *G_test = NULL, *Phi_s = NULL;
    int status = AKT_OK;
    if (observed.train_measured)
        status = point_kernels(n->data, net, observed.train_points, &Phi_train, &G_train, err);
    if (!status && observed.test_measured)
        status = point_kernels(n->data, net, observed.test_points, &Phi_test, &G_test, err);
    if (!status && regime != AKT_REGIME_SOURCE)
        status = point_kernels(n->data, n->source, AKT_POINTS_TARGET_TRAIN, &Phi_s, NULL, err);
    if (!status)
        status = method_kernel_observables(n->data, regime, Phi_train, G_train, Phi_test, G_test,
                                           ntk_start, Phi_s, result->observables, err);
    free(Phi_train);
    free(G_train);
    free(Phi_test);
    free(G_test);
    free(Phi_s);
    return status;
}

/* Trains net on the split for time T and fills the result's losses and step count. */
static int train_and_score(const network_state *n, akt_network *net,
                           const akt_finite_problem *pb, double T, const akt_split *train,
                           const akt_split *test, const double *offset_test, akt_result *result,
                           akt_error *err)
{
    akt_finite_trace trace;
    int status = akt_network_train(net, pb, T, &n->stepping, &trace, err);
    result->iterations = trace.steps;
    if (status)
        return status;
    double *f = malloc((train->rows + 1) * sizeof *f);
    if (!f)
        return akt_out_of_memory(err, "the training predictions");
    status = akt_network_predict(net, train->x, train->rows, pb->gamma, f, err);
    if (!status) {
        if (pb->offset)
            for (size_t i = 0; i < train->rows; i++)
                f[i] -= pb->offset[i];
        result->train_loss = akt_mean_squared_error(f, train->y, train->rows);
        status = akt_network_test_loss(net, pb->gamma, test->x, test->y, offset_test,
                                       test->rows, &result->test_loss, err);
    }
    free(f);
    /* Outputs can be finite while their squares overflow (e.g. gamma 1e-200 scales f by
     * 1/(gamma N)): a loss of Inf must not pass as a result. An absent test split (csv without
     * source_test) leaves NAN on purpose. */
    if (!status && (!isfinite(result->train_loss) ||
                    (test->rows > 0 && !isfinite(result->test_loss))))
        status = akt_error_set(err, AKT_ERR_NUMERIC, "non-finite %s loss at t = %g (gamma %g): the "
                               "outputs overflow", isfinite(result->train_loss) ? "test" : "training",
                               T, pb->gamma);
    if (!status)
        result->converged = true;
    return status;
}

/* Source phase (leaves the trained source network in net) and the scratch regime: a fresh
 * network trained on a split, with the optional centring. Errors carry no prefix: the solve
 * layer names the regime, akt train and compare the width and the seed. */
static int fresh_phase(const network_state *n, akt_network *net, akt_regime regime,
                       unsigned purpose, double gamma, double lambda, double T,
                       const akt_split *train, const akt_split *test, akt_result *result,
                       akt_error *err)
{
    int status = akt_network_init(net, akt_finite_stream_seed(n->spec->seed,
                                  (unsigned long)n->settings.seed_index, purpose), err);
    double *offset_train = NULL, *offset_test = NULL, *ntk_start = NULL;
    if (!status)
        status = centre_offsets(n, net, gamma, train, test, &offset_train, &offset_test, err);
    if (!status)
        status = start_ntk(n, net, regime, &ntk_start, err);
    if (!status) {
        akt_finite_problem pb = {.X = train->x, .y = train->y, .P = train->rows, .gamma = gamma,
                                 .lambda = lambda, .train_hidden = true, .offset = offset_train};
        status = train_and_score(n, net, &pb, T, train, test, offset_test, result, err);
    }
    if (!status)
        status = kernel_observables(n, net, regime, ntk_start, result, err);
    free(offset_train);
    free(offset_test);
    free(ntk_start);
    return status;
}

static int network_source(void *state, size_t replica, akt_result *result, akt_error *err)
{
    (void)replica;
    network_state *n = state;
    const akt_spec *spec = n->spec;
    return fresh_phase(n, n->source, AKT_REGIME_SOURCE, AKT_FINITE_STREAM_SOURCE,
                       spec->source.gamma, spec->source.weight_decay, spec->source.time,
                       &n->data->source, &n->data->source_test, result, err);
}

static int network_scratch(void *state, size_t replica, akt_result *result, akt_error *err)
{
    (void)replica;
    network_state *n = state;
    const akt_spec *spec = n->spec;
    return fresh_phase(n, n->work, AKT_REGIME_SCRATCH, AKT_FINITE_STREAM_SCRATCH,
                       spec->target.gamma, spec->target.weight_decay, spec->target.time,
                       &n->data->target, &n->data->test, result, err);
}

/* The source network's empirical kernel: train rows, then test rows (two products, as the
 * trained network's features on each split). */
static int network_readout_kernel(void *state, size_t replica, double *K, double *K_cross,
                                  akt_error *err)
{
    (void)replica;
    network_state *n = state;
    const akt_split *train = &n->data->target, *test = &n->data->test;
    size_t P = train->rows;
    int status = akt_network_kernel(n->source, train->x, P, train->x, P, K, err);
    if (!status)
        memcpy(K_cross, K, P * P * sizeof *K);
    if (!status && test->rows)
        status = akt_network_kernel(n->source, test->x, test->rows, train->x, P, K_cross + P * P,
                                    err);
    return status;
}

/* Phi_s of the source network on the target test points (the readout regime's test-split
 * alignment). */
static int network_readout_kernel_test(void *state, size_t replica, double *K_test,
                                       akt_error *err)
{
    (void)replica;
    network_state *n = state;
    const akt_split *test = &n->data->test;
    return akt_network_feature_kernels(n->source, test->x, test->rows, K_test, NULL, err);
}

/* The joint regime's own observables: the source test loss of the jointly trained network
 * (forgetting) and the distances travelled from the source network's weights. */
static int joint_observables(const network_state *n, const akt_network *net, akt_result *result,
                             akt_error *err)
{
    const akt_split *source_test = &n->data->source_test;
    double *o = result->observables;
    akt_network_distances(net, n->source, &o[AKT_OBSERVABLE_HIDDEN_DISTANCE],
                          &o[AKT_OBSERVABLE_READOUT_DISTANCE]);
    return akt_network_test_loss(net, n->spec->target.gamma, source_test->x, source_test->y, NULL,
                                 source_test->rows, &o[AKT_OBSERVABLE_SOURCE_TEST_LOSS], err);
}

static int network_joint(void *state, size_t replica, akt_result *result, akt_error *err)
{
    (void)replica;
    network_state *n = state;
    const akt_spec *spec = n->spec;
    akt_network *net = n->work;
    int status = AKT_OK;
    akt_network_copy(net, n->source);
    akt_network_set_anchor(net);
    if (spec->target.readout_init == AKT_READOUT_ZERO)
        memset(net->z, 0, net->width * sizeof *net->z);
    else if (spec->target.readout_init == AKT_READOUT_RANDOM)
        status = akt_network_init_readout(net, akt_finite_stream_seed(spec->seed,
                                          (unsigned long)n->settings.seed_index,
                                          AKT_FINITE_STREAM_READOUT), err);
    double *ntk_start = NULL;
    if (!status)
        status = start_ntk(n, net, AKT_REGIME_JOINT, &ntk_start, err);
    if (!status) {
        const akt_split *train = &n->data->target;
        akt_finite_problem pb = {.X = train->x, .y = train->y, .P = train->rows,
                                 .gamma = spec->target.gamma,
                                 .lambda = spec->target.weight_decay,
                                 .delta = spec->target.elastic, .train_hidden = true};
        status = train_and_score(n, net, &pb, spec->target.time, train, &n->data->test, NULL,
                                 result, err);
    }
    if (!status)
        status = kernel_observables(n, net, AKT_REGIME_JOINT, ntk_start, result, err);
    if (!status)
        status = joint_observables(n, net, result, err);
    free(ntk_start);
    return status;
}

static void network_free(void *state)
{
    network_state *n = state;
    if (!n)
        return;
    akt_network_free(n->source);
    akt_network_free(n->work);
    free(n);
}

static void *network_alloc(const akt_method_problem *problem, akt_error *err)
{
    const akt_network_settings *settings = problem->settings;
    const akt_data *data = problem->data;
    if (!settings || settings->width <= 0) {
        akt_error_set(err, AKT_ERR_INPUT, "finite network: width must be positive (got %ld)",
                      settings ? settings->width : 0L);
        return NULL;
    }
    if (data->dim == 0 || data->source.rows == 0 || data->target.rows == 0) {
        akt_error_set(err, AKT_ERR_INPUT, "finite network: empty data (D %zu, source %zu, "
                      "target %zu points)", data->dim, data->source.rows, data->target.rows);
        return NULL;
    }
    network_state *n = calloc(1, sizeof *n);
    if (!n) {
        akt_out_of_memory(err, "the network");
        return NULL;
    }
    n->spec = problem->spec;
    n->data = data;
    n->settings = *settings;
    n->stepping.dt = settings->dt;
    n->stepping.stability = settings->stability;
    n->stepping.min_step = n->spec->solver.min_step;
    akt_activation activation = n->spec->network.activation;
    n->source = akt_network_alloc((size_t)settings->width, data->dim, activation, err);
    n->work = n->source ? akt_network_alloc((size_t)settings->width, data->dim, activation, err)
                        : NULL;
    if (!n->work) {
        network_free(n);
        return NULL;
    }
    akt_network *nets[] = {n->source, n->work};
    for (int k = 0; k < 2; k++) {
        nets[k]->hidden_scale = n->spec->network.hidden_scale;
        nets[k]->readout_scale = n->spec->network.readout_scale;
    }
    return n;
}

/* Finite-width networks follow the flow for a time: every phase they run needs a number. */
static int network_applies(const akt_spec *spec, akt_regime regime, akt_error *err)
{
    if (spec->source.time == AKT_TIME_CONVERGE || !(spec->source.time > 0.0))
        return akt_error_set(err, AKT_ERR_INPUT, "source.time: finite-width networks need a "
                             "numeric time, not converge (give a time, e.g. source.time: 100)");
    if ((regime == AKT_REGIME_SCRATCH || regime == AKT_REGIME_JOINT) &&
        (spec->target.time == AKT_TIME_CONVERGE || !(spec->target.time > 0.0)))
        return akt_error_set(err, AKT_ERR_INPUT, "target.time: finite-width networks need a "
                             "numeric time, not converge (give a time, e.g. target.time: 100)");
    return AKT_OK;
}

const akt_method_type akt_method_network = {
    .name = "network",
    .flags = 0,
    .applies = network_applies,
    .alloc = network_alloc,
    .free = network_free,
    .source = network_source,
    .scratch = network_scratch,
    .readout_kernel = network_readout_kernel,
    .readout_kernel_test = network_readout_kernel_test,
    .joint = network_joint,
};
