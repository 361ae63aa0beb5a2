/* test_linear.c: the population with linear activation against the exact moment closure of
 * linear networks (THEORY.md section 4), independent code that integrates the second moments
 * of (z, w, w_src) in D dimensions without sampling.
 *
 * 1. Sample-exact: started from the population's own empirical initial moments (rebuilt here
 *    from the documented random streams), the closure must reproduce the population in every
 *    regime up to integration error: a per-neuron linear flow driven by a shared Delta keeps
 *    the empirical moments closed. Tolerance 2e-5 relative on test losses: both sides
 *    integrate to a local error of 1e-7 per unit time over T = 5 (measured 2e-8 on predictions).
 * 2. Infinite width: the source phase against the closure from Gaussian moments (S = I) on
 *    D = 10, P1 = 40: within 4 mc_error and 1e-3 relative. (The target regimes of this problem,
 *    P2 = D = 10, carry a finite-S bias of about 2 percent at S = 4096 that decays only like
 *    S^-1/2 and is invisible to the replica spread: 1.0e-3, 4.4e-4, 2.2e-4 absolute at
 *    S = 4096, 65536, 262144; part 1 shows it is sampling, not integration.) */
#include <stdio.h>

#include "../check.h"
#include "akt/exact.h"
#include "akt/solve.h"
#include "helpers.h"

typedef struct {
    double source, scratch, readout, joint;
} losses;

static double test_loss_of(const akt_moments *m, const akt_split *test, double gamma)
{
    double *f = malloc(test->rows * sizeof *f);
    akt_moments_predict(m, test->x, test->rows, gamma, f);
    double loss = akt_mean_squared_error(f, test->y, test->rows);
    free(f);
    return loss;
}

/* The moment matrix of (z, w) of replica `replica`'s initial population (S neurons): pair k is
 * (z_k, w_k), (-z_k, w_k) with w_k the k-th row of the hidden stream, z_k of the readout one. */
static double *empirical_moments(const akt_spec *spec, size_t D, unsigned long replica)
{
    size_t S = (size_t)spec->solver.neurons, n = 1 + D;
    gsl_rng *hidden = gsl_rng_alloc(gsl_rng_mt19937), *readout = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(hidden, akt_population_stream_seed(spec->seed, AKT_POPULATION_STREAM_HIDDEN, replica));
    gsl_rng_set(readout, akt_population_stream_seed(spec->seed, AKT_POPULATION_STREAM_READOUT, replica));
    double *w = malloc(S / 2 * D * sizeof *w), *M = calloc(n * n, sizeof *M), *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < S / 2 * D; i++)
        w[i] = gsl_ran_gaussian_ziggurat(hidden, 1.0);
    for (size_t k = 0; k < S / 2; k++) {
        double z = gsl_ran_gaussian_ziggurat(readout, 1.0);
        for (int sign = 1; sign >= -1; sign -= 2) {
            v[0] = sign * z;
            memcpy(v + 1, w + k * D, D * sizeof *v);
            for (size_t a = 0; a < n; a++)
                for (size_t b = 0; b < n; b++)
                    M[a * n + b] += v[a] * v[b] / (double)S;
        }
    }
    free(w);
    free(v);
    gsl_rng_free(hidden);
    gsl_rng_free(readout);
    return M;
}

/* The losses by the moment closure from initial moments M0 (NULL: Gaussian, S = I). */
static losses exact_losses(const akt_spec *spec, const akt_data *data, const double *M0)
{
    akt_error err;
    long steps;
    double residual, tight = 1e-9;
    size_t D = data->dim, P2 = data->target.rows, M = P2 + data->test.rows;
    losses out;
    akt_moments *m = akt_moments_alloc(D, &err);
    if (M0)
        CHECK(akt_moments_set(m, M0, 1 + D, &err) == AKT_OK);
    else
        akt_moments_init_fresh(m);
    CHECK(akt_moments_flow(m, data->source.x, data->source.y, data->source.rows, spec->source.gamma,
                           spec->source.weight_decay, 0.0, spec->source.time, tight, 1e-6, 1e5,
                           &steps, &residual, &err) == AKT_OK);
    out.source = test_loss_of(m, &data->source_test, spec->source.gamma);

    double *K = malloc(P2 * P2 * sizeof *K), *K_cross = malloc(M * P2 * sizeof *K_cross);
    double *query = malloc(M * D * sizeof *query), *f = malloc(M * sizeof *f);
    memcpy(query, data->target.x, P2 * D * sizeof *query);
    memcpy(query + P2 * D, data->test.x, data->test.rows * D * sizeof *query);
    akt_moments_kernel(m, data->target.x, P2, data->target.x, P2, K);
    akt_moments_kernel(m, query, M, data->target.x, P2, K_cross);
    CHECK(akt_ridge_predict(K, P2, K_cross, M, data->target.y, spec->target.readout_decay, f,
                            &err) == AKT_OK);
    out.readout = akt_mean_squared_error(f + P2, data->test.y, data->test.rows);

    akt_moments_start_target(m, spec->target.readout_init);
    CHECK(akt_moments_flow(m, data->target.x, data->target.y, P2, spec->target.gamma,
                           spec->target.weight_decay, spec->target.elastic, spec->target.time,
                           tight, 1e-6, 1e5, &steps, &residual, &err) == AKT_OK);
    out.joint = test_loss_of(m, &data->test, spec->target.gamma);

    if (M0)
        CHECK(akt_moments_set(m, M0, 1 + D, &err) == AKT_OK);
    else
        akt_moments_init_fresh(m);
    CHECK(akt_moments_flow(m, data->target.x, data->target.y, P2, spec->target.gamma,
                           spec->target.weight_decay, 0.0, spec->target.time, tight, 1e-6, 1e5,
                           &steps, &residual, &err) == AKT_OK);
    out.scratch = test_loss_of(m, &data->test, spec->target.gamma);
    akt_moments_free(m);
    free(K);
    free(K_cross);
    free(query);
    free(f);
    return out;
}

static const akt_result *solve(const akt_spec *spec, const akt_data *data, akt_solution *solution)
{
    bool wanted[AKT_REGIME_COUNT] = {true, true, true, true};
    akt_error err = {0, ""};
    int status = population_transfer(spec, data, wanted, solution, &err);
    if (status != AKT_OK)
        fprintf(stderr, "population: %s\n", err.message);
    CHECK(status == AKT_OK);
    CHECK(solution->count == 4);
    return solution->results;
}

/* Part 1: one replica of S = 1024 against the closure from its own initial moments. */
static void sample_exact(akt_spec *spec, const akt_data *data, akt_readout_init init)
{
    spec->target.readout_init = init;
    spec->solver.neurons = 1024;
    spec->solver.replicas = 1;
    spec->solver.step_tolerance = 1e-7;
    double *M0 = empirical_moments(spec, data->dim, 0);
    losses exact = exact_losses(spec, data, M0);
    akt_solution solution;
    const akt_result *r = solve(spec, data, &solution);
    double expected[4] = {exact.source, exact.scratch, exact.readout, exact.joint};
    for (int i = 0; i < 4 && i < (int)solution.count; i++) {
        printf("sample-exact init %d %-8s population %.10f closure %.10f rel %.2e\n", (int)init,
               akt_regime_name(r[i].regime), r[i].test_loss, expected[i],
               fabs(r[i].test_loss - expected[i]) / expected[i]);
        CHECK(r[i].regime == (akt_regime)i);
        CHECK(r[i].converged);
        CHECK(isnan(r[i].mc_error)); /* one replica: no Monte-Carlo error */
        CHECK_RELATIVE(r[i].test_loss, expected[i], 2e-5);
    }
    CHECK(r[AKT_REGIME_JOINT].stable == AKT_STABLE_YES);
    free(M0);
}

/* Part 2: the source phase against the Gaussian closure. Only the source regime is solved: it
 * is the only one asserted (see the top of the file), and the three target regimes at S = 4096
 * x 4 replicas were most of this test's time (issue 17: the default test run on 2 cores). */
static void infinite_width(akt_spec *spec, const akt_data *data)
{
    spec->target.readout_init = AKT_READOUT_ZERO;
    spec->solver.neurons = 4096;
    spec->solver.replicas = 4;
    /* integration error well below the 1e-3 asked (the source loss is small, 3.6e-3: at 1e-4,
     * an output error of 5e-4 per unit time moves it by 3e-3 relative) */
    spec->solver.step_tolerance = 1e-6;
    losses exact = exact_losses(spec, data, NULL);
    bool wanted[AKT_REGIME_COUNT] = {true, false, false, false};
    akt_solution solution;
    akt_error err = {0, ""};
    int status = population_transfer(spec, data, wanted, &solution, &err);
    if (status != AKT_OK)
        fprintf(stderr, "population: %s\n", err.message);
    CHECK(status == AKT_OK);
    CHECK(solution.count >= 1 && solution.results[0].regime == AKT_REGIME_SOURCE);
    if (status != AKT_OK || solution.count < 1)
        return;
    const akt_result *r = solution.results;
    printf("infinite width: source population %.7f +- %.2e, closure %.7f (rel %.2e)\n",
           r[0].test_loss, r[0].mc_error, exact.source,
           fabs(r[0].test_loss - exact.source) / exact.source);
    CHECK_ABSOLUTE(r[0].test_loss, exact.source, 4.0 * r[0].mc_error);
    CHECK_RELATIVE(r[0].test_loss, exact.source, 1e-3);
}

int main(void)
{
    akt_data data;
    test_data_linear(&data, 10, 40, 10, 500, 500, 7);
    akt_spec spec;
    test_spec(&spec, AKT_ACTIVATION_LINEAR);
    sample_exact(&spec, &data, AKT_READOUT_ZERO);
    sample_exact(&spec, &data, AKT_READOUT_SOURCE);
    infinite_width(&spec, &data);
    test_data_free(&data);
    return check_finish();
}
