/* test_observables.c: the observables of method population (README "Observables"), against
 * things computed another way.
 *
 * 1. Raw-weight network (THEORY.md 2, "Two coordinates"): S sampled neurons ARE a raw-weight
 *    network of width S. With lambda = delta = 0 the population's Euler reference and a finite
 *    network (finite.h) started from the same draws take the same steps, so the rebuilt hidden
 *    weights (akt_population_hidden_weights), the joint distances (from the reduced formula),
 *    the source test loss of the joint state and the kernels Phi and G match the network's to
 *    round-off (1e-10 relative), in reduced and in weight coordinates.
 * 2. Distance formula with decay and elastic pull (rho != 1, e1 != 1), adaptive integrator:
 *    the reduced formula of akt_population_joint_distances against |W - W_src|^2 / D of the
 *    rebuilt raw weights, every pairing of coordinates of the two phases (round-off). And the
 *    rebuilt weights are the state's: with linear activation Phi = <h h'> of the population on
 *    every point set it knows equals (1/S) H H' with H = X W' / sqrt(D) (round-off), which also
 *    checks the w0 remainder off the data span (test points).
 * 3. Method level (the phase ops of akt_method_population, one replica), linear activation:
 *    (a) source at T1 -> 0: the alignments equal those of the initial kernels built from the
 *        raw draws (O(T1)); feature_learning is O(T1): 0 in the limit, doubling with T1;
 *    (c) joint with readout_init source at T2 -> 0: hidden and readout distances vanish like
 *        T2^2 (ratio 4 when T2 doubles), feature_learning like T2 (ratio 2);
 *    (d) feature_learning: lazy scaling (O(gamma^2) as gamma -> 0 from an antithetic start,
 *        ratio 4 when gamma doubles; with decay 1 - e^{-2 lambda T}, relu being homogeneous) and
 *        of order 1 at gamma = 1;
 *    (e) a restored source (keep_source / restore_source) gives every target observable and
 *        readout_kernel_test bit for bit as the fresh run;
 *    (f) trajectory rows: the row at t = 0 has feature_learning 0, rows before the end have no
 *        test-split alignments, the final row carries the result's observables, and recording
 *        rows leaves the losses bit for bit unchanged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "../check.h"
#include "akt/data.h"
#include "akt/finite.h"
#include "akt/method.h"
#include "akt/observables.h"
#include "akt/population.h"
#include "akt/random.h"
#include "akt/spec.h"

#define ROUND_OFF 1e-10
#define NEURONS 64

/* A small problem: D = 8, source P1, target P2, test and source test 30 points. */
static void load(akt_spec *spec, akt_data *data, const char *activation, int P1, int P2,
                 const char *set, const char *set2)
{
    char text[1024];
    snprintf(text, sizeof text,
             "seed: 5\n"
             "data: {task: polynomial, dim: 8, alignment: 0.6, noise: 0.1,"
             " hermite: {1: 1.0, 2: 0.5}, source: {samples: %d}, target: {samples: %d},"
             " test: {samples: 30}}\n"
             "network: {activation: %s}\n"
             "source: {gamma: 1.0, weight_decay: 0.05, time: 2}\n"
             "target: {regimes: [scratch, readout, joint], gamma: 1.0, weight_decay: 0.05,"
             " elastic: 0.5, readout_decay: 0.1, readout_init: source, time: 2}\n"
             "solver: {method: population, neurons: %d, replicas: 1, step_tolerance: 1e-4}\n",
             P1, P2, activation, NEURONS);
    akt_error err;
    const char *overrides[] = {set, set2};
    size_t count = set2 ? 2 : set ? 1 : 0;
    CHECK(akt_spec_load_string(spec, text, "observables", ".", overrides, count, &err) ==
          AKT_OK);
    CHECK(akt_data_load(data, spec, &err) == AKT_OK);
}

static double *doubles(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    CHECK(p != NULL);
    return p;
}

/* The draws of akt_population_sample (the documented order, population.h): w0 of pair k from
 * the hidden stream row by row, z0 of pair k from the readout stream; neurons 2k and 2k + 1
 * share w0 and have opposite z0. Gaussian law, scales 1. */
static void sampled_draws(unsigned long seed, unsigned long replica, size_t S, size_t D,
                          double *W, double *z)
{
    gsl_rng *hidden = gsl_rng_alloc(gsl_rng_mt19937), *readout = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(hidden, akt_population_stream_seed(seed, AKT_POPULATION_STREAM_HIDDEN, replica));
    gsl_rng_set(readout, akt_population_stream_seed(seed, AKT_POPULATION_STREAM_READOUT, replica));
    for (size_t k = 0; k < S / 2; k++)
        for (size_t j = 0; j < D; j++)
            W[2 * k * D + j] = W[(2 * k + 1) * D + j] = gsl_ran_gaussian_ziggurat(hidden, 1.0);
    for (size_t k = 0; k < S / 2; k++) {
        z[2 * k] = gsl_ran_gaussian_ziggurat(readout, 1.0);
        z[2 * k + 1] = -z[2 * k];
    }
    gsl_rng_free(hidden);
    gsl_rng_free(readout);
}

/* mean over rows of |A_i - B_i|^2 / D */
static double mean_square_distance(const double *A, const double *B, size_t S, size_t D)
{
    double sum = 0.0;
    for (size_t i = 0; i < S * D; i++)
        sum += (A[i] - B[i]) * (A[i] - B[i]);
    return sum / (double)S / (double)D;
}

/* Pre-activations H = X W' / sqrt(D) (M x S) and the kernels Phi = phi(H) phi(H)' / S and
 * G = (phi'(H) z)(phi'(H) z)' / S of a raw network on M points: erf or linear. */
static void raw_kernels(const double *W, const double *z, size_t S, size_t D, const double *X,
                        size_t M, akt_activation activation, double *Phi, double *G)
{
    double *F = doubles(M * S), *Fp = doubles(M * S);
    for (size_t a = 0; a < M; a++)
        for (size_t i = 0; i < S; i++) {
            double h = 0.0;
            for (size_t j = 0; j < D; j++)
                h += X[a * D + j] * W[i * D + j];
            h /= sqrt((double)D);
            bool erf_ = activation == AKT_ACTIVATION_ERF;
            F[a * S + i] = erf_ ? erf(h) : h;
            Fp[a * S + i] = (erf_ ? 1.1283791670955126 /* 2 / sqrt(pi) */ * exp(-h * h) : 1.0) * z[i];
        }
    for (size_t a = 0; a < M; a++)
        for (size_t b = 0; b < M; b++) {
            double phi = 0.0, g = 0.0;
            for (size_t i = 0; i < S; i++) {
                phi += F[a * S + i] * F[b * S + i];
                g += Fp[a * S + i] * Fp[b * S + i];
            }
            Phi[a * M + b] = phi / (double)S;
            if (G)
                G[a * M + b] = g / (double)S;
        }
    free(F);
    free(Fp);
}

static double max_relative(const double *a, const double *b, size_t n)
{
    double scale = 0.0, worst = 0.0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(a[i] - b[i]) / scale);
    return worst;
}

/* ---- 1. the population against the raw-weight network it is ---------------------------- */

static void against_raw_network(akt_population_coordinates coordinates)
{
    akt_spec spec;
    akt_data data;
    load(&spec, &data, "erf", 24, 12, NULL, NULL);
    akt_error err;
    size_t S = NEURONS, D = data.dim, P2 = data.target.rows;
    double gamma = 0.7, T = 1.0, dt = 0.01;
    akt_population *pop =
        akt_population_alloc_coordinates(&data, AKT_ACTIVATION_ERF, S, coordinates, &err);
    CHECK(pop != NULL);
    akt_population_sample(pop, 9, 2);
    akt_population_phase phase = {gamma, 0.0, 0.0, T, 1e-6, 1e-6, 1e5, 1e-9};
    akt_population_run run;
    CHECK(akt_population_run_euler(pop, &phase, dt, &run, &err) == AKT_OK);

    akt_network *net = akt_network_alloc(S, D, AKT_ACTIVATION_ERF, &err);
    CHECK(net != NULL);
    sampled_draws(9, 2, S, D, net->W, net->z);
    akt_finite_problem source = {data.source.x, data.source.y, data.source.rows, gamma, 0.0, 0.0,
                                 true, NULL};
    akt_finite_stepping stepping = {dt, 0.0, 0, 0.0};
    CHECK(akt_network_train(net, &source, T, &stepping, NULL, &err) == AKT_OK);

    double *W_src = doubles(S * D), *W = doubles(S * D), *z_src = doubles(S);
    CHECK(akt_population_hidden_weights(pop, W_src, &err) == AKT_OK);
    double rebuilt = max_relative(W_src, net->W, S * D);
    memcpy(z_src, net->z, S * sizeof *z_src);
    akt_network_set_anchor(net);

    /* joint, readout_init source, lambda2 = delta = 0 */
    CHECK(akt_population_start_joint(pop, AKT_READOUT_SOURCE, &err) == AKT_OK);
    CHECK(akt_population_run_euler(pop, &phase, dt, &run, &err) == AKT_OK);
    akt_finite_problem target = {data.target.x, data.target.y, P2, gamma, 0.0, 0.0, true, NULL};
    CHECK(akt_network_train(net, &target, T, &stepping, NULL, &err) == AKT_OK);
    CHECK(akt_population_hidden_weights(pop, W, &err) == AKT_OK);
    rebuilt = fmax(rebuilt, max_relative(W, net->W, S * D));

    double hidden, readout, raw_readout = 0.0;
    CHECK(akt_population_joint_distances(pop, &hidden, &readout, &err) == AKT_OK);
    for (size_t i = 0; i < S; i++)
        raw_readout += (net->z[i] - z_src[i]) * (net->z[i] - z_src[i]) / (double)S;
    double raw_hidden = mean_square_distance(net->W, W_src, S, D);

    size_t Mst = data.source_test.rows;
    double *f = doubles(Mst), *f_net = doubles(Mst), loss_net;
    CHECK(akt_population_predict(pop, AKT_POINTS_SOURCE_TEST, f, &err) == AKT_OK);
    CHECK(akt_network_test_loss(net, gamma, data.source_test.x, data.source_test.y, NULL, Mst,
                                &loss_net, &err) == AKT_OK);
    double loss = akt_mean_squared_error(f, data.source_test.y, Mst);

    bool sets[AKT_POINTS_COUNT] = {false, true, false, false};
    double *Phi = doubles(P2 * P2), *G = doubles(P2 * P2);
    double *Phi_net = doubles(P2 * P2), *G_net = doubles(P2 * P2);
    CHECK(akt_population_kernels(pop, sets, Phi, G, &err) == AKT_OK);
    raw_kernels(net->W, net->z, S, D, data.target.x, P2, AKT_ACTIVATION_ERF, Phi_net, G_net);

    printf("raw network (%s): weights %.2e, hidden %.10f vs %.10f, readout %.10f vs %.10f,\n"
           "  source test loss %.10f vs %.10f, Phi %.2e, G %.2e\n",
           coordinates == AKT_POPULATION_COORDINATES_WEIGHTS ? "weights" : "reduced", rebuilt,
           hidden, raw_hidden, readout, raw_readout, loss, loss_net,
           max_relative(Phi, Phi_net, P2 * P2), max_relative(G, G_net, P2 * P2));
    CHECK(rebuilt <= ROUND_OFF);
    CHECK(raw_hidden > 1e-3 && raw_readout > 1e-3); /* something moved */
    CHECK_RELATIVE(hidden, raw_hidden, ROUND_OFF);
    CHECK_RELATIVE(readout, raw_readout, ROUND_OFF);
    CHECK_RELATIVE(loss, loss_net, ROUND_OFF);
    CHECK(max_relative(Phi, Phi_net, P2 * P2) <= ROUND_OFF);
    CHECK(max_relative(G, G_net, P2 * P2) <= ROUND_OFF);

    free(f);
    free(f_net);
    free(Phi);
    free(G);
    free(Phi_net);
    free(G_net);
    free(W_src);
    free(W);
    free(z_src);
    akt_network_free(net);
    akt_population_free(pop);
    akt_data_free(&data);
    akt_spec_free(&spec);
}

/* ---- 2. the distance formula with decay and pull; the rebuilt weights are the state's ------- */

/* Phi of the population on the sets against (1/S) H H' from rebuilt weights (linear). */
static double kernel_mismatch(akt_population *pop, const akt_data *data, const bool sets[])
{
    akt_error err;
    size_t S = NEURONS, D = data->dim, M = 0;
    const akt_split *splits[AKT_POINTS_COUNT] = {&data->source, &data->target, &data->test,
                                                 &data->source_test};
    for (int s = 0; s < AKT_POINTS_COUNT; s++)
        M += sets[s] ? splits[s]->rows : 0;
    double *X = doubles(M * D), *W = doubles(S * D), *z = doubles(S);
    double *Phi = doubles(M * M), *Phi_raw = doubles(M * M);
    size_t row = 0;
    for (int s = 0; s < AKT_POINTS_COUNT; s++)
        if (sets[s]) {
            memcpy(X + row * D, splits[s]->x, splits[s]->rows * D * sizeof *X);
            row += splits[s]->rows;
        }
    CHECK(akt_population_hidden_weights(pop, W, &err) == AKT_OK);
    CHECK(akt_population_kernels(pop, sets, Phi, NULL, &err) == AKT_OK);
    raw_kernels(W, z, S, D, X, M, AKT_ACTIVATION_LINEAR, Phi_raw, NULL);
    double mismatch = max_relative(Phi, Phi_raw, M * M);
    free(X);
    free(W);
    free(z);
    free(Phi);
    free(Phi_raw);
    return mismatch;
}

static void distance_formula(const char *activation, int P1, int P2,
                             akt_population_coordinates coordinates, const char *label)
{
    akt_spec spec;
    akt_data data;
    load(&spec, &data, activation, P1, P2, NULL, NULL);
    akt_error err;
    size_t S = NEURONS, D = data.dim;
    akt_activation act = spec.network.activation;
    akt_population *pop = akt_population_alloc_coordinates(&data, act, S, coordinates, &err);
    CHECK(pop != NULL);
    akt_population_set_scales(pop, 0.8, 1.3);
    akt_population_sample(pop, 4, 1);
    akt_population_phase source = {1.0, 0.2, 0.0, 2.0, 1e-6, 1e-6, 1e5, 1e-9};
    akt_population_phase target = {1.0, 0.1, 0.5, 1.5, 1e-6, 1e-6, 1e5, 1e-9};
    akt_population_run run;
    bool every[AKT_POINTS_COUNT] = {true, true, true, true};
    bool target_sets[AKT_POINTS_COUNT] = {false, true, true, false};
    double *W_src = doubles(S * D), *W = doubles(S * D);
    CHECK(akt_population_run_source(pop, &source, &run, &err) == AKT_OK);
    CHECK(akt_population_hidden_weights(pop, W_src, &err) == AKT_OK);
    double mismatch = act == AKT_ACTIVATION_LINEAR ? kernel_mismatch(pop, &data, every) : 0.0;
    CHECK(akt_population_start_joint(pop, AKT_READOUT_ZERO, &err) == AKT_OK);
    CHECK(akt_population_run_target(pop, &target, &run, &err) == AKT_OK);
    CHECK(akt_population_hidden_weights(pop, W, &err) == AKT_OK);
    if (act == AKT_ACTIVATION_LINEAR)
        mismatch = fmax(mismatch, kernel_mismatch(pop, &data, target_sets));
    double hidden, readout;
    CHECK(akt_population_joint_distances(pop, &hidden, &readout, &err) == AKT_OK);
    double raw = mean_square_distance(W, W_src, S, D);
    printf("distance formula (%s, %s): hidden %.12f, raw %.12f; kernels from raw weights %.2e\n",
           activation, label, hidden, raw, mismatch);
    CHECK(raw > 1e-3);
    CHECK_RELATIVE(hidden, raw, ROUND_OFF);
    CHECK(mismatch <= ROUND_OFF);
    free(W_src);
    free(W);
    akt_population_free(pop);
    akt_data_free(&data);
    akt_spec_free(&spec);
}

/* ---- 3. method level ------------------------------------------------------------------------ */

typedef struct {
    akt_regime regime;
    size_t rows;
    double t[512], train[512], test[512], observables[512][AKT_OBSERVABLE_COUNT];
} row_log;

static bool wants_rows(void *context, akt_regime regime)
{
    row_log *log = context;
    return regime == log->regime;
}

static int add_row(void *context, akt_regime regime, unsigned long replica, double t,
                   double train, double test, const double *observables, akt_error *err)
{
    (void)replica;
    (void)err;
    row_log *log = context;
    CHECK(regime == log->regime && log->rows < 512 && observables != NULL);
    if (log->rows >= 512 || !observables)
        return AKT_OK;
    log->t[log->rows] = t;
    log->train[log->rows] = train;
    log->test[log->rows] = test;
    memcpy(log->observables[log->rows], observables, sizeof log->observables[0]);
    log->rows++;
    return AKT_OK;
}

/* Every wanted regime of replica 0 by the phase ops (readout by the solve layer: skipped). */
typedef struct {
    akt_result result[AKT_REGIME_COUNT];
    double *K_test;                       /* readout_kernel_test */
} method_run;

static void *method_state(const akt_spec *spec, const akt_data *data, const akt_observer *o)
{
    bool wanted[AKT_REGIME_COUNT] = {true, true, true, true};
    akt_method_problem problem = {spec, data, wanted, o, NULL};
    akt_error err;
    void *state = akt_method_population.alloc(&problem, &err);
    CHECK(state != NULL);
    return state;
}

static void fresh(akt_result *r)
{
    memset(r, 0, sizeof *r);
    akt_observables_clear(r->observables);
}

static void run_targets(void *state, const akt_data *data, method_run *out)
{
    const akt_method_type *m = &akt_method_population;
    akt_error err;
    fresh(&out->result[AKT_REGIME_SCRATCH]);
    fresh(&out->result[AKT_REGIME_JOINT]);
    CHECK(m->scratch(state, 0, &out->result[AKT_REGIME_SCRATCH], &err) == AKT_OK);
    size_t Mt = data->test.rows;
    out->K_test = doubles(Mt * Mt);
    CHECK(m->readout_kernel_test(state, 0, out->K_test, &err) == AKT_OK);
    CHECK(m->joint(state, 0, &out->result[AKT_REGIME_JOINT], &err) == AKT_OK);
}

static method_run run_method(const akt_spec *spec, const akt_data *data, const akt_observer *o)
{
    method_run out;
    akt_error err;
    void *state = method_state(spec, data, o);
    fresh(&out.result[AKT_REGIME_SOURCE]);
    CHECK(akt_method_population.source(state, 0, &out.result[AKT_REGIME_SOURCE], &err) ==
          AKT_OK);
    run_targets(state, data, &out);
    akt_method_population.free(state);
    return out;
}

static const double *observables_of(const method_run *run, akt_regime regime)
{
    return run->result[regime].observables;
}

static void method_solve(const char *activation, const char *set, const char *set2,
                         method_run *out)
{
    akt_spec spec;
    akt_data data;
    load(&spec, &data, activation, 24, 12, set, set2);
    *out = run_method(&spec, &data, NULL);
    akt_data_free(&data);
    akt_spec_free(&spec);
}

/* (a) the source at T1 -> 0 against the initial kernels of the raw draws */
static void source_limit(void)
{
    akt_spec spec;
    akt_data data;
    load(&spec, &data, "linear", 24, 12, NULL, NULL);
    size_t S = NEURONS, D = data.dim, P1 = data.source.rows, Mst = data.source_test.rows;
    double *W = doubles(S * D), *z = doubles(S);
    double *Phi = doubles(P1 * P1), *G = doubles(P1 * P1), *K = doubles(P1 * P1);
    double *Phi_t = doubles(Mst * Mst), *G_t = doubles(Mst * Mst), *K_t = doubles(Mst * Mst);
    sampled_draws(spec.seed, 0, S, D, W, z);
    raw_kernels(W, z, S, D, data.source.x, P1, AKT_ACTIVATION_LINEAR, Phi, G);
    raw_kernels(W, z, S, D, data.source_test.x, Mst, AKT_ACTIVATION_LINEAR, Phi_t, G_t);
    for (size_t a = 0; a < P1; a++)
        for (size_t b = 0; b < P1; b++) {
            double C = 0.0;
            for (size_t j = 0; j < D; j++)
                C += data.source.x[a * D + j] * data.source.x[b * D + j] / (double)D;
            K[a * P1 + b] = Phi[a * P1 + b] + G[a * P1 + b] * C;
        }
    for (size_t a = 0; a < Mst; a++)
        for (size_t b = 0; b < Mst; b++) {
            double C = 0.0;
            for (size_t j = 0; j < D; j++)
                C += data.source_test.x[a * D + j] * data.source_test.x[b * D + j] / (double)D;
            K_t[a * Mst + b] = Phi_t[a * Mst + b] + G_t[a * Mst + b] * C;
        }
    double expected[AKT_OBSERVABLE_COUNT];
    akt_observables_clear(expected);
    expected[AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN] = akt_kernel_target_alignment(K, data.source.y, P1);
    expected[AKT_OBSERVABLE_FEATURE_ALIGNMENT_TRAIN] =
        akt_kernel_target_alignment(Phi, data.source.y, P1);
    expected[AKT_OBSERVABLE_NTK_ALIGNMENT_TEST] =
        akt_kernel_target_alignment(K_t, data.source_test.y, Mst);
    expected[AKT_OBSERVABLE_FEATURE_ALIGNMENT_TEST] =
        akt_kernel_target_alignment(Phi_t, data.source_test.y, Mst);

    method_run small, smaller;
    method_solve("linear", "source.time=2e-7", NULL, &small);
    method_solve("linear", "source.time=1e-7", NULL, &smaller);
    const double *o = observables_of(&smaller, AKT_REGIME_SOURCE);
    const double *o2 = observables_of(&small, AKT_REGIME_SOURCE);
    printf("source T1 = 1e-7: ntk alignment train %.10f (initial %.10f), test %.10f (%.10f),\n"
           "  feature learning %.6e (2 lambda1 T1 = %.6e), at 2e-7 %.6e\n",
           o[AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN], expected[AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN],
           o[AKT_OBSERVABLE_NTK_ALIGNMENT_TEST], expected[AKT_OBSERVABLE_NTK_ALIGNMENT_TEST],
           o[AKT_OBSERVABLE_FEATURE_LEARNING], 2.0 * spec.source.weight_decay * 1e-7,
           o2[AKT_OBSERVABLE_FEATURE_LEARNING]);
    /* O(T1) = 1e-7 changes; 1e-6 leaves a factor 10 */
    for (int k = AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN; k <= AKT_OBSERVABLE_FEATURE_ALIGNMENT_TEST; k++)
        CHECK_ABSOLUTE(o[k], expected[k], 1e-6);
    /* Closed form to first order in T1: an antithetic start has <z h> = 0, so learning moves
     * Phi = <h h'> and G = <z^2> only at second order, and the decay shrinks both by
     * e^{-2 lambda1 t}: |K_end - K_start| / |K_start| = 2 lambda1 T1 (1 + O(T1)). The second
     * order is large against the small decay (measured 1.6e-3 relative at T1 = 1e-6, so about
     * 1.6e-4 here): tolerance 1e-3, and the ratio of two times 2. */
    CHECK_RELATIVE(o[AKT_OBSERVABLE_FEATURE_LEARNING], 2.0 * spec.source.weight_decay * 1e-7,
                   1e-3);
    CHECK_RELATIVE(o2[AKT_OBSERVABLE_FEATURE_LEARNING] / o[AKT_OBSERVABLE_FEATURE_LEARNING], 2.0,
                   1e-3);
    /* the source regime has no retention, distances or forgetting */
    CHECK(isnan(o[AKT_OBSERVABLE_RETENTION]) && isnan(o[AKT_OBSERVABLE_HIDDEN_DISTANCE]) &&
          isnan(o[AKT_OBSERVABLE_SOURCE_TEST_LOSS]));
    free(W);
    free(z);
    free(Phi);
    free(G);
    free(K);
    free(Phi_t);
    free(G_t);
    free(K_t);
    free(small.K_test);
    free(smaller.K_test);
    akt_data_free(&data);
    akt_spec_free(&spec);
}

/* (c) the joint's distances at T2 -> 0 with the source readout; (d) feature learning */
static void joint_limit(void)
{
    method_run a, b;
    method_solve("erf", "target.time=1e-4", NULL, &a);
    method_solve("erf", "target.time=2e-4", NULL, &b);
    const double *o = observables_of(&a, AKT_REGIME_JOINT), *o2 = observables_of(&b, AKT_REGIME_JOINT);
    const double *s = observables_of(&a, AKT_REGIME_SCRATCH);
    printf("joint T2 = 1e-4: hidden %.3e readout %.3e feature learning %.3e retention %.12f;\n"
           "  ratios at 2e-4: %.6f %.6f %.6f; source test loss %.6f (source's %.6f)\n",
           o[AKT_OBSERVABLE_HIDDEN_DISTANCE], o[AKT_OBSERVABLE_READOUT_DISTANCE],
           o[AKT_OBSERVABLE_FEATURE_LEARNING], o[AKT_OBSERVABLE_RETENTION],
           o2[AKT_OBSERVABLE_HIDDEN_DISTANCE] / o[AKT_OBSERVABLE_HIDDEN_DISTANCE],
           o2[AKT_OBSERVABLE_READOUT_DISTANCE] / o[AKT_OBSERVABLE_READOUT_DISTANCE],
           o2[AKT_OBSERVABLE_FEATURE_LEARNING] / o[AKT_OBSERVABLE_FEATURE_LEARNING],
           o[AKT_OBSERVABLE_SOURCE_TEST_LOSS], a.result[AKT_REGIME_SOURCE].test_loss);
    CHECK(o[AKT_OBSERVABLE_HIDDEN_DISTANCE] > 0.0 && o[AKT_OBSERVABLE_HIDDEN_DISTANCE] < 1e-6);
    CHECK(o[AKT_OBSERVABLE_READOUT_DISTANCE] > 0.0 && o[AKT_OBSERVABLE_READOUT_DISTANCE] < 1e-6);
    /* quadratic and linear in T2 (corrections O(T2) = 1e-4 relative) */
    CHECK_RELATIVE(o2[AKT_OBSERVABLE_HIDDEN_DISTANCE] / o[AKT_OBSERVABLE_HIDDEN_DISTANCE], 4.0,
                   1e-2);
    CHECK_RELATIVE(o2[AKT_OBSERVABLE_READOUT_DISTANCE] / o[AKT_OBSERVABLE_READOUT_DISTANCE], 4.0,
                   1e-2);
    CHECK_RELATIVE(o2[AKT_OBSERVABLE_FEATURE_LEARNING] / o[AKT_OBSERVABLE_FEATURE_LEARNING], 2.0,
                   1e-2);
    /* the joint starts from the source: its kernel is Phi_s (retention 1 - O(T2)), and its loss
     * on the source test split is the source's test loss (gamma2 = gamma1, readout source) */
    CHECK_ABSOLUTE(o[AKT_OBSERVABLE_RETENTION], 1.0, 1e-3);
    CHECK_RELATIVE(o[AKT_OBSERVABLE_SOURCE_TEST_LOSS], a.result[AKT_REGIME_SOURCE].test_loss,
                   1e-3);
    /* scratch: its own start, no distances */
    CHECK(s[AKT_OBSERVABLE_FEATURE_LEARNING] < 1e-3 && isnan(s[AKT_OBSERVABLE_HIDDEN_DISTANCE]));
    free(a.K_test);
    free(b.K_test);
}

/* (d) feature learning against the lazy limit (relu, source phase, T1 = 2) */
static void lazy_feature_learning(void)
{
    method_run g1, g2, g3, g4;
    /* no decay: the kernel moves by learning alone, O(gamma^2) as gamma -> 0: the first-order
     * changes d<phi phi'> ~ gamma <z phi' phi ...> and d<z^2 phi'^2> ~ gamma <z phi phi'^2 ...>
     * are odd in z, and antithetic pairs (w0, z0), (w0, -z0) cancel them exactly; so the
     * relative change quadruples when gamma doubles */
    method_solve("relu", "source.gamma=1e-4", "source.weight_decay=0", &g1);
    method_solve("relu", "source.gamma=2e-4", "source.weight_decay=0", &g2);
    /* with decay: relu is homogeneous and z decays too, so the lazy kernel is e^{-2 lambda1 t}
     * K0: the change tends to 1 - e^{-2 lambda1 T1} */
    method_solve("relu", "source.gamma=1e-4", NULL, &g3);
    method_solve("relu", NULL, NULL, &g4); /* gamma = 1 */
    double f1 = observables_of(&g1, AKT_REGIME_SOURCE)[AKT_OBSERVABLE_FEATURE_LEARNING];
    double f2 = observables_of(&g2, AKT_REGIME_SOURCE)[AKT_OBSERVABLE_FEATURE_LEARNING];
    double f3 = observables_of(&g3, AKT_REGIME_SOURCE)[AKT_OBSERVABLE_FEATURE_LEARNING];
    double f4 = observables_of(&g4, AKT_REGIME_SOURCE)[AKT_OBSERVABLE_FEATURE_LEARNING];
    double decay = 1.0 - exp(-2.0 * 0.05 * 2.0);
    printf("feature learning (relu source, T1 = 2): no decay, gamma 1e-4 %.4e, 2e-4 %.4e "
           "(ratio %.5f);\n  decay, gamma 1e-4 %.6f (1 - e^{-2 lambda T} = %.6f); gamma 1: %.4f\n",
           f1, f2, f2 / f1, f3, decay, f4);
    CHECK(f1 > 0.0);
    CHECK_RELATIVE(f2 / f1, 4.0, 1e-2);  /* corrections O(gamma) */
    CHECK_ABSOLUTE(f3, decay, 1e-6);     /* the learning part is O(f1) = 6e-8 */
    CHECK(f4 > 1.0 && f4 > 1000.0 * f1); /* gamma = 1: the kernel is rebuilt */
    free(g1.K_test);
    free(g2.K_test);
    free(g3.K_test);
    free(g4.K_test);
}

/* (e) a restored source: the same target observables bit for bit */
static void restored_source(void)
{
    akt_spec spec;
    akt_data data;
    load(&spec, &data, "relu", 24, 12, NULL, NULL);
    const akt_method_type *m = &akt_method_population;
    akt_error err;
    void *state = method_state(&spec, &data, NULL);
    method_run fresh_run, restored_run;
    fresh(&fresh_run.result[AKT_REGIME_SOURCE]);
    CHECK(m->source(state, 0, &fresh_run.result[AKT_REGIME_SOURCE], &err) == AKT_OK);
    double gib;
    void *kept = m->keep_source(state, 0, &gib);
    CHECK(kept != NULL);
    run_targets(state, &data, &fresh_run);
    m->free(state);
    /* a new state: scratch of another replica first (so nothing of replica 0 is left) */
    state = method_state(&spec, &data, NULL);
    akt_result other;
    fresh(&other);
    CHECK(m->scratch(state, 1, &other, &err) == AKT_OK);
    CHECK(m->restore_source(state, 0, kept, &err) == AKT_OK);
    run_targets(state, &data, &restored_run);
    m->free(state);
    m->free_kept(kept);
    size_t Mt = data.test.rows;
    for (int r = AKT_REGIME_SCRATCH; r <= AKT_REGIME_JOINT; r += 2) {
        const akt_result *a = &fresh_run.result[r], *b = &restored_run.result[r];
        CHECK(memcmp(a->observables, b->observables, sizeof a->observables) == 0);
        CHECK(memcmp(&a->test_loss, &b->test_loss, sizeof a->test_loss) == 0);
        for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++)
            if (k != AKT_OBSERVABLE_SOURCE_TEST_LOSS || r == AKT_REGIME_JOINT)
                CHECK(!isnan(a->observables[k]) ==
                      (r == AKT_REGIME_JOINT || (k != AKT_OBSERVABLE_HIDDEN_DISTANCE &&
                                                 k != AKT_OBSERVABLE_READOUT_DISTANCE)));
    }
    CHECK(memcmp(fresh_run.K_test, restored_run.K_test, Mt * Mt * sizeof *fresh_run.K_test) == 0);
    printf("restored source: scratch retention %.6f, joint retention %.6f, hidden %.6f, readout "
           "%.6f (bit for bit)\n",
           fresh_run.result[AKT_REGIME_SCRATCH].observables[AKT_OBSERVABLE_RETENTION],
           fresh_run.result[AKT_REGIME_JOINT].observables[AKT_OBSERVABLE_RETENTION],
           fresh_run.result[AKT_REGIME_JOINT].observables[AKT_OBSERVABLE_HIDDEN_DISTANCE],
           fresh_run.result[AKT_REGIME_JOINT].observables[AKT_OBSERVABLE_READOUT_DISTANCE]);
    free(fresh_run.K_test);
    free(restored_run.K_test);
    akt_data_free(&data);
    akt_spec_free(&spec);
}

/* (f) trajectory rows of the joint regime */
static void trajectory_rows(void)
{
    akt_spec spec;
    akt_data data;
    load(&spec, &data, "relu", 24, 12, NULL, NULL);
    static row_log log;
    memset(&log, 0, sizeof log);
    log.regime = AKT_REGIME_JOINT;
    akt_observer observer = {.context = &log, .wants_trajectory = wants_rows, .add_losses = add_row};
    method_run plain = run_method(&spec, &data, NULL);
    method_run recorded = run_method(&spec, &data, &observer);
    const akt_result *r = &recorded.result[AKT_REGIME_JOINT], *p = &plain.result[AKT_REGIME_JOINT];
    CHECK(memcmp(&r->test_loss, &p->test_loss, sizeof r->test_loss) == 0);
    CHECK(memcmp(&r->train_loss, &p->train_loss, sizeof r->train_loss) == 0);
    CHECK(memcmp(r->observables, p->observables, sizeof r->observables) == 0);
    size_t n = log.rows;
    CHECK(n > 10);
    if (n > 10) {
        CHECK(log.t[0] == 0.0 && log.observables[0][AKT_OBSERVABLE_FEATURE_LEARNING] == 0.0);
        CHECK(log.observables[0][AKT_OBSERVABLE_HIDDEN_DISTANCE] == 0.0);
        for (size_t i = 1; i < n; i++)
            CHECK(log.t[i] > log.t[i - 1]);
        for (size_t i = 0; i + 1 < n; i++)
            CHECK(isnan(log.observables[i][AKT_OBSERVABLE_NTK_ALIGNMENT_TEST]) &&
                  !isnan(log.observables[i][AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN]));
        CHECK(log.t[n - 1] == spec.target.time);
        CHECK(memcmp(log.observables[n - 1], r->observables, sizeof r->observables) == 0);
        CHECK(log.test[n - 1] == r->test_loss);
    }
    printf("trajectory: %zu joint rows, hidden distance %.4f at t = %.3g, %.4f at the end\n", n,
           log.observables[n / 2][AKT_OBSERVABLE_HIDDEN_DISTANCE], log.t[n / 2],
           log.observables[n - 1][AKT_OBSERVABLE_HIDDEN_DISTANCE]);
    free(plain.K_test);
    free(recorded.K_test);
    akt_data_free(&data);
    akt_spec_free(&spec);
}

int main(void)
{
    against_raw_network(AKT_POPULATION_COORDINATES_REDUCED);
    against_raw_network(AKT_POPULATION_COORDINATES_WEIGHTS);
    /* D = 8: P1 = 24 runs in weights, P2 = 12 reduced under AUTO, and the other way round */
    distance_formula("relu", 24, 12, AKT_POPULATION_COORDINATES_REDUCED, "reduced");
    distance_formula("relu", 24, 12, AKT_POPULATION_COORDINATES_WEIGHTS, "weights");
    distance_formula("relu", 24, 12, AKT_POPULATION_COORDINATES_AUTO, "weights, then reduced");
    distance_formula("relu", 12, 24, AKT_POPULATION_COORDINATES_AUTO, "reduced, then weights");
    distance_formula("linear", 24, 12, AKT_POPULATION_COORDINATES_AUTO, "weights, then reduced");
    distance_formula("linear", 12, 24, AKT_POPULATION_COORDINATES_AUTO, "reduced, then weights");
    source_limit();
    joint_limit();
    lazy_feature_learning();
    restored_source();
    trajectory_rows();
    return check_finish();
}
