/* test_observables.c: the observables method network measures from its weights (README
 * "Observables"), against an independent computation here.
 *
 * - akt_network_feature_kernels: Phi and G by explicit sums over neurons (tanh, so phi' varies;
 *   a width above the neuron block, so the blocks are summed);
 * - akt_finite_transfer: the source, scratch and joint networks are rebuilt from their documented
 *   streams and trainer (bitwise the method's, test_transfer.c), and every observable of every
 *   regime is recomputed from their weights with naive loops: the kernels, the NTK Phi + G o C,
 *   the uncentred alignment y'Ky / (|K|_F |y|^2), centred kernel alignment through explicit
 *   H = I - 11'/n products, the relative change from the start NTK, the forgetting loss and the
 *   distances. The readout regime's test alignment comes from Phi_s on the test points;
 * - limits: joint with readout_init source and a target time of 1e-9 has not moved, so both
 *   distances and the feature-learning magnitude are ~0, retention is 1 and the source test
 *   loss is the source regime's test loss (same gamma). */
#include "../check.h"
#include "finite_fixture.h"
#include "akt/compare.h"

enum { D = 6, P1 = 24, P2 = 12, M = 30, WIDTH = 40 };

/* ---- independent formulas ---- */

static double activation(akt_activation act, double h, double *derivative)
{
    if (act == AKT_ACTIVATION_TANH) {
        *derivative = 1.0 - tanh(h) * tanh(h);
        return tanh(h);
    }
    *derivative = h > 0.0 ? 1.0 : 0.0; /* relu */
    return h > 0.0 ? h : 0.0;
}

/* Phi, G and the NTK Phi + G o C by explicit sums (n <= M). */
static void naive_kernels(const akt_network *net, const double *X, size_t n, double *Phi,
                          double *G, double *K)
{
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            double phi = 0.0, g = 0.0, c = 0.0;
            for (size_t i = 0; i < net->width; i++) {
                double ha = 0.0, hb = 0.0, da, db;
                for (size_t k = 0; k < net->dim; k++) {
                    ha += net->W[i * net->dim + k] * X[a * net->dim + k];
                    hb += net->W[i * net->dim + k] * X[b * net->dim + k];
                }
                double fa = activation(net->activation, ha / sqrt((double)net->dim), &da);
                double fb = activation(net->activation, hb / sqrt((double)net->dim), &db);
                phi += fa * fb;
                g += net->z[i] * net->z[i] * da * db;
            }
            for (size_t k = 0; k < net->dim; k++)
                c += X[a * net->dim + k] * X[b * net->dim + k];
            Phi[a * n + b] = phi / (double)net->width;
            G[a * n + b] = g / (double)net->width;
            K[a * n + b] = Phi[a * n + b] + G[a * n + b] * c / (double)net->dim;
        }
}

static double frobenius(const double *A, size_t n)
{
    double s = 0.0;
    for (size_t k = 0; k < n * n; k++)
        s += A[k] * A[k];
    return sqrt(s);
}

static double alignment(const double *K, const double *y, size_t n)
{
    double yKy = 0.0, yy = 0.0;
    for (size_t a = 0; a < n; a++) {
        yy += y[a] * y[a];
        for (size_t b = 0; b < n; b++)
            yKy += y[a] * K[a * n + b] * y[b];
    }
    return yKy / (frobenius(K, n) * yy);
}

/* H A H with H = I - 11'/n, by two explicit matrix products. */
static void centre(const double *A, size_t n, double *out)
{
    double H[M * M], HA[M * M];
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++)
            H[a * n + b] = (a == b) - 1.0 / (double)n;
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            double s = 0.0;
            for (size_t k = 0; k < n; k++)
                s += H[a * n + k] * A[k * n + b];
            HA[a * n + b] = s;
        }
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            double s = 0.0;
            for (size_t k = 0; k < n; k++)
                s += HA[a * n + k] * H[k * n + b];
            out[a * n + b] = s;
        }
}

static double cka(const double *A, const double *B, size_t n)
{
    double cA[M * M], cB[M * M], ab = 0.0;
    centre(A, n, cA);
    centre(B, n, cB);
    for (size_t k = 0; k < n * n; k++)
        ab += cA[k] * cB[k];
    return ab / (frobenius(cA, n) * frobenius(cB, n));
}

static double relative_change(const double *end, const double *start, size_t n)
{
    double d[M * M] = {0};
    for (size_t k = 0; k < n * n; k++)
        d[k] = end[k] - start[k];
    return frobenius(d, n) / frobenius(start, n);
}

/* ---- akt_network_feature_kernels ---- */

static void check_feature_kernels(const akt_data *data)
{
    akt_error err = {0};
    enum { N = 300 }; /* above the 256-neuron block */
    akt_network *net = akt_network_alloc(N, D, AKT_ACTIVATION_TANH, &err);
    CHECK(net && akt_network_init(net, 11, &err) == AKT_OK);
    double Phi[M * M], G[M * M], Phi_ref[M * M], G_ref[M * M], K_ref[M * M];
    CHECK(akt_network_feature_kernels(net, data->test.x, M, Phi, G, &err) == AKT_OK);
    naive_kernels(net, data->test.x, M, Phi_ref, G_ref, K_ref);
    double worst = 0.0;
    for (size_t k = 0; k < M * M; k++)
        worst = fmax(worst, fmax(fabs(Phi[k] - Phi_ref[k]), fabs(G[k] - G_ref[k])));
    printf("feature kernels (tanh, N = %d, %d points): max |difference| %.2e\n", N, M, worst);
    CHECK(worst < 1e-12);
    double Phi_only[M * M]; /* G NULL: Phi alone, the same numbers */
    CHECK(akt_network_feature_kernels(net, data->test.x, M, Phi_only, NULL, &err) == AKT_OK);
    CHECK(memcmp(Phi_only, Phi, sizeof Phi) == 0);
    /* the distances from a perturbed copy: every hidden weight +0.1, every readout -0.3 */
    akt_network *moved = akt_network_alloc(N, D, AKT_ACTIVATION_TANH, &err);
    akt_network_copy(moved, net);
    for (size_t k = 0; k < (size_t)N * D; k++)
        moved->W[k] += 0.1;
    for (size_t i = 0; i < N; i++)
        moved->z[i] -= 0.3;
    double hidden, readout;
    akt_network_distances(moved, net, &hidden, &readout);
    CHECK_RELATIVE(hidden, 0.01, 1e-12); /* D * 0.1^2 / D */
    CHECK_RELATIVE(readout, 0.09, 1e-12);
    akt_network_free(moved);
    akt_network_free(net);
}

/* ---- the protocol's observables ---- */

/* Observables a regime's final network should have, from the splits it trained and tested on. */
typedef struct {
    const akt_split *train, *test;
    const double *K_start;          /* NTK of the start state on train */
    const double *Phi_s;            /* source Phi on the target train points, or NULL */
} regime_case;

static void expected_kernel_observables(const akt_network *net, const regime_case *c,
                                        double o[AKT_OBSERVABLE_COUNT])
{
    double Phi[M * M], G[M * M], K[M * M];
    size_t n = c->train->rows;
    naive_kernels(net, c->train->x, n, Phi, G, K);
    o[AKT_OBSERVABLE_FEATURE_ALIGNMENT_TRAIN] = alignment(Phi, c->train->y, n);
    o[AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN] = alignment(K, c->train->y, n);
    o[AKT_OBSERVABLE_FEATURE_LEARNING] = relative_change(K, c->K_start, n);
    o[AKT_OBSERVABLE_RETENTION] = c->Phi_s ? cka(c->Phi_s, Phi, n) : NAN;
    naive_kernels(net, c->test->x, c->test->rows, Phi, G, K);
    o[AKT_OBSERVABLE_FEATURE_ALIGNMENT_TEST] = alignment(Phi, c->test->y, c->test->rows);
    o[AKT_OBSERVABLE_NTK_ALIGNMENT_TEST] = alignment(K, c->test->y, c->test->rows);
}

static void compare_observables(const akt_result *r, const double expected[AKT_OBSERVABLE_COUNT])
{
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++) {
        const char *name = akt_observable_name((akt_observable)k);
        printf("  %-8s %-24s %12.8f (expected %12.8f)\n", akt_regime_name(r->regime), name,
               r->observables[k], expected[k]);
        if (isnan(expected[k]))
            CHECK(isnan(r->observables[k]));
        else
            CHECK_ABSOLUTE(r->observables[k], expected[k], 1e-9 * fmax(1.0, fabs(expected[k])));
        CHECK(isnan(r->observables[k]) ? isnan(r->observable_errors[k])
                                       : r->observable_errors[k] == 0.0);
    }
}

static void nan_all(double o[AKT_OBSERVABLE_COUNT])
{
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++)
        o[k] = NAN;
}

/* A network from stream `purpose` of seed index 3 (the method's draw), its start NTK on the
 * split, trained as the method trains it. */
static akt_network *train_fresh(const akt_spec *spec, unsigned purpose, const akt_split *train,
                                double gamma, double lambda, double T, double *K_start)
{
    akt_error err = {0};
    akt_network *net = akt_network_alloc(WIDTH, D, spec->network.activation, &err);
    CHECK(akt_network_init(net, akt_finite_stream_seed(spec->seed, 3, purpose), &err) == AKT_OK);
    double Phi[M * M], G[M * M];
    naive_kernels(net, train->x, train->rows, Phi, G, K_start);
    akt_finite_problem pb = {.X = train->x, .y = train->y, .P = train->rows, .gamma = gamma,
                             .lambda = lambda, .train_hidden = true};
    akt_finite_stepping stepping = {.min_step = spec->solver.min_step};
    CHECK(akt_network_train(net, &pb, T, &stepping, NULL, &err) == AKT_OK);
    return net;
}

static void check_protocol(const akt_spec *spec, const akt_data *data)
{
    akt_error err = {0};
    akt_solution solution;
    CHECK(akt_finite_transfer(spec, data, NULL, WIDTH, 3, 0.0, &solution, &err) == AKT_OK);
    CHECK(solution.count == 4);
    double K0[M * M], Ks[M * M], Phi_s[M * M], Phi_s_test[M * M], G[M * M], K[M * M];
    double expected[AKT_OBSERVABLE_COUNT];

    akt_network *source = train_fresh(spec, AKT_FINITE_STREAM_SOURCE, &data->source,
                                      spec->source.gamma, spec->source.weight_decay,
                                      spec->source.time, K0);
    regime_case source_case = {&data->source, &data->source_test, K0, NULL};
    nan_all(expected);
    expected_kernel_observables(source, &source_case, expected);
    compare_observables(&solution.results[AKT_REGIME_SOURCE], expected);
    naive_kernels(source, data->target.x, P2, Phi_s, G, K);

    akt_network *scratch = train_fresh(spec, AKT_FINITE_STREAM_SCRATCH, &data->target,
                                       spec->target.gamma, spec->target.weight_decay,
                                       spec->target.time, Ks);
    regime_case scratch_case = {&data->target, &data->test, Ks, Phi_s};
    nan_all(expected);
    expected_kernel_observables(scratch, &scratch_case, expected);
    compare_observables(&solution.results[AKT_REGIME_SCRATCH], expected);

    /* readout: the NTK is Phi_s (only the readout trains), retention 1, hidden weights kept */
    nan_all(expected);
    naive_kernels(source, data->test.x, M, Phi_s_test, G, K);
    expected[AKT_OBSERVABLE_FEATURE_ALIGNMENT_TRAIN] = expected[AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN]
        = alignment(Phi_s, data->target.y, P2);
    expected[AKT_OBSERVABLE_FEATURE_ALIGNMENT_TEST] = expected[AKT_OBSERVABLE_NTK_ALIGNMENT_TEST] =
        alignment(Phi_s_test, data->test.y, M);
    expected[AKT_OBSERVABLE_RETENTION] = 1.0;
    expected[AKT_OBSERVABLE_HIDDEN_DISTANCE] = 0.0;
    compare_observables(&solution.results[AKT_REGIME_READOUT], expected);

    /* joint: from the source weights with a zero readout (readout_init zero), so K_start = Phi_s */
    akt_network *joint = akt_network_alloc(WIDTH, D, spec->network.activation, &err);
    akt_network_copy(joint, source);
    akt_network_set_anchor(joint);
    memset(joint->z, 0, WIDTH * sizeof *joint->z);
    akt_finite_problem pb = {.X = data->target.x, .y = data->target.y, .P = P2,
                             .gamma = spec->target.gamma, .lambda = spec->target.weight_decay,
                             .delta = spec->target.elastic, .train_hidden = true};
    akt_finite_stepping stepping = {.min_step = spec->solver.min_step};
    CHECK(akt_network_train(joint, &pb, spec->target.time, &stepping, NULL, &err) == AKT_OK);
    regime_case joint_case = {&data->target, &data->test, Phi_s, Phi_s};
    nan_all(expected);
    expected_kernel_observables(joint, &joint_case, expected);
    double f[M], loss = 0.0, hidden = 0.0, readout = 0.0;
    CHECK(akt_network_predict(joint, data->source_test.x, M, pb.gamma, f, &err) == AKT_OK);
    for (size_t k = 0; k < M; k++)
        loss += (f[k] - data->source_test.y[k]) * (f[k] - data->source_test.y[k]) / M;
    for (size_t i = 0; i < WIDTH; i++) {
        readout += (joint->z[i] - source->z[i]) * (joint->z[i] - source->z[i]) / WIDTH;
        for (size_t k = 0; k < D; k++) {
            double d = joint->W[i * D + k] - source->W[i * D + k];
            hidden += d * d / (WIDTH * D);
        }
    }
    expected[AKT_OBSERVABLE_SOURCE_TEST_LOSS] = loss;
    expected[AKT_OBSERVABLE_HIDDEN_DISTANCE] = hidden;
    expected[AKT_OBSERVABLE_READOUT_DISTANCE] = readout;
    compare_observables(&solution.results[AKT_REGIME_JOINT], expected);
    CHECK(hidden > 0.0 && readout > 0.0);

    akt_network_free(source);
    akt_network_free(scratch);
    akt_network_free(joint);
}

/* Joint from the source readout for a vanishing time: nothing moves. */
static void check_no_time(const akt_spec *base, const akt_data *data)
{
    akt_spec spec = *base;
    spec.target.readout_init = AKT_READOUT_SOURCE;
    spec.target.time = 1e-9;
    akt_error err = {0};
    akt_solution solution;
    CHECK(akt_finite_transfer(&spec, data, NULL, WIDTH, 3, 0.0, &solution, &err) == AKT_OK);
    const akt_result *source = &solution.results[AKT_REGIME_SOURCE];
    const akt_result *joint = &solution.results[AKT_REGIME_JOINT];
    const double *o = joint->observables;
    printf("joint at T2 = 1e-9, readout_init source: hidden %.2e readout %.2e feature learning "
           "%.2e retention %.12f source test loss %.12f (source regime %.12f)\n",
           o[AKT_OBSERVABLE_HIDDEN_DISTANCE], o[AKT_OBSERVABLE_READOUT_DISTANCE],
           o[AKT_OBSERVABLE_FEATURE_LEARNING], o[AKT_OBSERVABLE_RETENTION],
           o[AKT_OBSERVABLE_SOURCE_TEST_LOSS], source->test_loss);
    CHECK(o[AKT_OBSERVABLE_HIDDEN_DISTANCE] >= 0.0 && o[AKT_OBSERVABLE_HIDDEN_DISTANCE] < 1e-12);
    CHECK(o[AKT_OBSERVABLE_READOUT_DISTANCE] >= 0.0 && o[AKT_OBSERVABLE_READOUT_DISTANCE] < 1e-12);
    CHECK(o[AKT_OBSERVABLE_FEATURE_LEARNING] >= 0.0 && o[AKT_OBSERVABLE_FEATURE_LEARNING] < 1e-6);
    CHECK_ABSOLUTE(o[AKT_OBSERVABLE_RETENTION], 1.0, 1e-6);
    CHECK_RELATIVE(o[AKT_OBSERVABLE_SOURCE_TEST_LOSS], source->test_loss, 1e-6);
}

int main(void)
{
    akt_data data;
    make_data(&data, D, P1, P2, M, 5);
    akt_spec spec;
    make_spec(&spec);
    spec.source.time = 3.0;
    spec.target.time = 3.0;
    check_feature_kernels(&data);
    check_protocol(&spec, &data);
    check_no_time(&spec, &data);
    free_data(&data);
    return check_finish();
}
