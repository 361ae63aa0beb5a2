/* test_scales.c: the initial layer scales network.hidden_scale (s_h) and network.readout_scale
 * (s_z) of THEORY.md section 1, honoured by every method.
 *
 * 1. Linear networks: the population (S = 1024 x 4, its default error estimates) against the
 *    exact moment closure started from the scaled second moments, at s_h = 0.5, s_z = 2 on a
 *    problem where the scales move the answer by far more than the error: within 3 errors, and
 *    in the scratch and joint regimes more than 5 errors away from the unscaled closure.
 * 2. Lazy kernels: relu's arc-cosine NNGP is homogeneous of degree 1 in the covariance and its
 *    derivative kernel of degree 0, so at s_h = 2 the NNGP is 4 times the unscaled one and the
 *    derivative kernel unchanged (to round-off); for erf the scaled kernel equals the unscaled
 *    one of inputs multiplied by s_h.
 * 3. Finite networks: the sample variances of W and z after akt_network_init are s_h^2 and s_z^2
 *    within 5 standard errors (N D and N draws). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../check.h"
#include "akt/data.h"
#include "akt/exact.h"
#include "akt/finite.h"
#include "akt/solve.h"
#include "akt/spec.h"

static const char *const problem =
    "seed: 3\n"
    "data: {task: linear, dim: 10, alignment: 0.6, noise: 0.1, source: {samples: 30},"
    " target: {samples: 15}, test: {samples: 300}}\n"
    "network: {activation: linear}\n"
    "source: {gamma: 0.5, weight_decay: 0.05, time: 3}\n"
    "target: {regimes: [scratch, readout, joint], gamma: 0.5, weight_decay: 0.05, elastic: 0.5,"
    " readout_decay: 0.01, time: 3}\n"
    "solver: {neurons: 1024, replicas: 4}\n";

static void solve(const char *const *overrides, size_t count, akt_solution *solution)
{
    akt_spec spec;
    akt_data data;
    akt_error err;
    CHECK(akt_spec_load_string(&spec, problem, "scales", ".", overrides, count, &err) == AKT_OK);
    CHECK(akt_data_load(&data, &spec, &err) == AKT_OK);
    CHECK(akt_solve(&spec, &data, solution, &err) == AKT_OK);
    akt_data_free(&data);
    akt_spec_free(&spec);
}

static void linear_population_against_closure(void)
{
    akt_solution scaled_exact, scaled_population, plain_exact;
    const char *exact_set[] = {"solver.method=exact", "network.hidden_scale=0.5",
                               "network.readout_scale=2"};
    const char *population_set[] = {"solver.method=population", "network.hidden_scale=0.5",
                                    "network.readout_scale=2"};
    const char *plain_set[] = {"solver.method=exact"};
    solve(exact_set, 3, &scaled_exact);
    solve(population_set, 3, &scaled_population);
    solve(plain_set, 1, &plain_exact);
    for (size_t k = 0; k < scaled_population.count; k++) {
        const akt_result *p = &scaled_population.results[k];
        const akt_result *e = akt_solution_find(&scaled_exact, p->regime);
        const akt_result *u = akt_solution_find(&plain_exact, p->regime);
        printf("%-8s population %.6f +- %.2e, closure %.6f, unscaled closure %.6f\n",
               akt_regime_name(p->regime), p->test_loss, p->error, e->test_loss, u->test_loss);
        CHECK(fabs(p->test_loss - e->test_loss) <= 3.0 * p->error);
        /* the scales matter: the unscaled answer is out of reach (scratch 8, joint 7.6 errors) */
        if (p->regime == AKT_REGIME_SCRATCH || p->regime == AKT_REGIME_JOINT)
            CHECK(fabs(u->test_loss - e->test_loss) > 5.0 * p->error);
    }
}

static void lazy_kernels_scale(void)
{
    enum { A = 5, B = 4, D = 6 };
    double a[A * D], b[B * D], a2[A * D], b2[B * D];
    srand(7);
    for (size_t i = 0; i < A * D; i++)
        a2[i] = 2.0 * (a[i] = rand() / (double)RAND_MAX - 0.5);
    for (size_t i = 0; i < B * D; i++)
        b2[i] = 2.0 * (b[i] = rand() / (double)RAND_MAX - 0.5);
    double n1[A * B], d1[A * B], n2[A * B], d2[A * B], n3[A * B], d3[A * B];
    akt_error err;
    CHECK(akt_lazy_kernel_matrix(AKT_ACTIVATION_RELU, a, A, b, B, D, n1, d1, &err) == AKT_OK);
    CHECK(akt_lazy_kernel_matrix_scaled(AKT_ACTIVATION_RELU, 4.0, a, A, b, B, D, n2, d2, &err) == AKT_OK);
    for (size_t i = 0; i < A * B; i++) {
        CHECK_RELATIVE(n2[i], 4.0 * n1[i], 1e-13);
        CHECK_RELATIVE(d2[i], d1[i], 1e-13);
    }
    CHECK(akt_lazy_kernel_matrix_scaled(AKT_ACTIVATION_ERF, 4.0, a, A, b, B, D, n2, d2, &err) == AKT_OK);
    CHECK(akt_lazy_kernel_matrix(AKT_ACTIVATION_ERF, a2, A, b2, B, D, n3, d3, &err) == AKT_OK);
    for (size_t i = 0; i < A * B; i++) {
        CHECK_RELATIVE(n2[i], n3[i], 1e-12);
        CHECK_RELATIVE(d2[i], d3[i], 1e-12);
    }
}

static void network_init_variances(void)
{
    akt_error err;
    size_t N = 4000, D = 10;
    akt_network *net = akt_network_alloc(N, D, AKT_ACTIVATION_RELU, &err);
    CHECK(net != NULL);
    net->hidden_scale = 0.5;
    net->readout_scale = 2.0;
    CHECK(akt_network_init(net, 11, &err) == AKT_OK);
    double w2 = 0.0, z2 = 0.0;
    for (size_t k = 0; k < N * D; k++)
        w2 += net->W[k] * net->W[k] / (double)(N * D);
    for (size_t i = 0; i < N; i++)
        z2 += net->z[i] * net->z[i] / (double)N;
    /* the variance of a sample second moment of N(0, s^2) is 2 s^4 / n */
    CHECK(fabs(w2 - 0.25) <= 5.0 * sqrt(2.0 / (double)(N * D)) * 0.25);
    CHECK(fabs(z2 - 4.0) <= 5.0 * sqrt(2.0 / (double)N) * 4.0);
    akt_network_free(net);
}

int main(void)
{
    linear_population_against_closure();
    lazy_kernels_scale();
    network_init_variances();
    return check_finish();
}
