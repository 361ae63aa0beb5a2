/* test_basics.c: properties of the population solver that need no reference solution.
 *   - antithetic pairs: the initial output is exactly 0 on every point set;
 *   - determinism: the same spec twice gives bitwise equal results; replica r's numbers do not
 *     depend on how many replicas run;
 *   - the adapted NTK at initialisation matches the closed-form relu kernels (arc-cosine,
 *     exact.h) within its sampling error;
 *   - divergence (gamma = 1e6, long time) is AKT_ERR_NUMERIC, never NaN numbers;
 *   - a population too large for memory is refused up front with its estimate. */
#include <stdio.h>

#include "../check.h"
#include "akt/exact.h"
#include "akt/solve.h"
#include "helpers.h"

static void antithetic_zero(const akt_data *data)
{
    akt_error err;
    akt_population *pop = akt_population_alloc(data, AKT_ACTIVATION_RELU, 512, &err);
    CHECK(pop != NULL);
    akt_population_sample(pop, 5, 2);
    double f[400];
    for (int s = 0; s < AKT_POINTS_COUNT; s++) {
        CHECK(akt_population_predict(pop, (akt_points)s, f, &err) == AKT_OK);
        size_t zeros = 0, rows = s == 0 ? data->source.rows : s == 1 ? data->target.rows
                               : s == 2 ? data->test.rows : data->source_test.rows;
        for (size_t i = 0; i < rows; i++)
            zeros += f[i] == 0.0;
        CHECK(zeros == rows);
    }
    /* The scratch start is the same initialisation: still exactly 0 on the test points. */
    CHECK(akt_population_start_scratch(pop, &err) == AKT_OK);
    CHECK(akt_population_predict(pop, AKT_POINTS_TEST, f, &err) == AKT_OK);
    double max_abs = 0.0;
    for (size_t i = 0; i < data->test.rows; i++)
        max_abs = fmax(max_abs, fabs(f[i]));
    CHECK(max_abs == 0.0);
    akt_population_free(pop);
}

static void determinism(const akt_data *data)
{
    akt_spec spec;
    test_spec(&spec, AKT_ACTIVATION_RELU);
    spec.solver.neurons = 256;
    spec.solver.replicas = 3;
    spec.source.time = 2.0;
    spec.target.time = 2.0;
    bool wanted[AKT_REGIME_COUNT] = {true, true, true, true};
    akt_solution a, b, c;
    akt_error err;
    int status_a = population_transfer(&spec, data, wanted, &a, &err);
    if (status_a != AKT_OK)
        fprintf(stderr, "determinism: %s\n", err.message);
    CHECK(status_a == AKT_OK);
    CHECK(population_transfer(&spec, data, wanted, &b, &err) == AKT_OK);
    CHECK(a.count == 4 && b.count == 4);
    for (size_t i = 0; i < a.count; i++) {
        CHECK(memcmp(&a.results[i].test_loss, &b.results[i].test_loss, sizeof(double)) == 0);
        CHECK(memcmp(&a.results[i].train_loss, &b.results[i].train_loss, sizeof(double)) == 0);
        CHECK(memcmp(&a.results[i].mc_error, &b.results[i].mc_error, sizeof(double)) == 0);
        CHECK(a.results[i].iterations == b.results[i].iterations);
        CHECK(isfinite(a.results[i].test_loss) && isfinite(a.results[i].mc_error));
    }
    /* Replica 0 alone equals replica 0 of a run with more replicas: with one replica the mean
     * is replica 0's loss; with three it is the mean, so compare through the low-level API. */
    spec.solver.replicas = 1;
    CHECK(population_transfer(&spec, data, wanted, &c, &err) == AKT_OK);
    akt_population *pop = akt_population_alloc(data, AKT_ACTIVATION_RELU, 256, &err);
    akt_population_phase phase = {1.0, 0.05, 0.0, 2.0, 1e-4, 1e-6, 1e5, 1e-9};
    akt_population_run run;
    double f[400];
    akt_population_sample(pop, spec.seed, 0);
    CHECK(akt_population_run_source(pop, &phase, &run, &err) == AKT_OK);
    CHECK(akt_population_predict(pop, AKT_POINTS_SOURCE_TEST, f, &err) == AKT_OK);
    double loss0 = akt_mean_squared_error(f, data->source_test.y, data->source_test.rows);
    CHECK(loss0 == c.results[0].test_loss);
    /* A different seed gives different numbers (the streams do depend on the seed). */
    akt_population_sample(pop, spec.seed + 1, 0);
    CHECK(akt_population_run_source(pop, &phase, &run, &err) == AKT_OK);
    CHECK(akt_population_predict(pop, AKT_POINTS_SOURCE_TEST, f, &err) == AKT_OK);
    CHECK(akt_mean_squared_error(f, data->source_test.y, data->source_test.rows) != loss0);
    akt_population_free(pop);
    CHECK(akt_population_stream_seed(1, 1, 0) != akt_population_stream_seed(1, 1, 1));
    CHECK(akt_population_stream_seed(1, 1, 0) != akt_population_stream_seed(1, 2, 0));
    CHECK(akt_population_stream_seed(1, 1, 0) != akt_population_stream_seed(2, 1, 0));
}

/* lambda_max of the population's NTK at initialisation against the closed form: the sample
 * estimate of a kernel entry scatters like 1/sqrt(S/2) (pairs share w0); at S = 8192 about
 * 1.6e-2 relative per entry, less for the top eigenvalue; 3 percent is about 3 sigma. */
static void ntk_at_initialisation(const akt_data *data)
{
    akt_error err;
    size_t P = data->target.rows;
    akt_population *pop = akt_population_alloc(data, AKT_ACTIVATION_RELU, 8192, &err);
    akt_population_sample(pop, 3, 0);
    CHECK(akt_population_start_scratch(pop, &err) == AKT_OK);
    double sampled = akt_population_ntk_max(pop);
    double *nngp = malloc(P * P * sizeof *nngp), *derivative = malloc(P * P * sizeof *derivative);
    double *gram = malloc(P * P * sizeof *gram), *eigen = malloc(P * sizeof *eigen);
    CHECK(akt_lazy_kernel_matrix(AKT_ACTIVATION_RELU, data->target.x, P, data->target.x, P,
                                 data->dim, nngp, derivative, &err) == AKT_OK);
    akt_gram(data->target.x, P, data->target.x, P, data->dim, gram);
    for (size_t i = 0; i < P * P; i++)
        nngp[i] += derivative[i] * gram[i];
    CHECK(akt_symmetric_eigen(nngp, P, eigen, &err) == AKT_OK);
    printf("NTK lambda_max at init: population %.4f, closed form %.4f, P/(2 pi) = %.2f\n",
           sampled, eigen[P - 1], (double)P / (2 * 3.14159265358979));
    CHECK_RELATIVE(sampled, eigen[P - 1], 0.03);
    free(nngp);
    free(derivative);
    free(gram);
    free(eigen);
    akt_population_free(pop);
}

static void divergence(const akt_data *data)
{
    akt_spec spec;
    test_spec(&spec, AKT_ACTIVATION_RELU);
    spec.solver.neurons = 64;
    spec.solver.replicas = 1;
    spec.source.gamma = 1e6;
    spec.source.weight_decay = 0.0;
    spec.source.time = 100.0;
    bool wanted[AKT_REGIME_COUNT] = {true, false, false, false};
    akt_solution solution;
    akt_error err = {0, ""};
    int status = population_transfer(&spec, data, wanted, &solution, &err);
    printf("divergence: status %d: %s\n", status, err.message);
    CHECK(status == AKT_ERR_NUMERIC);
    CHECK(strstr(err.message, "source") != NULL);
    CHECK(strstr(err.message, "t = ") != NULL);
    CHECK(solution.count == 1 && !solution.results[0].converged);
}

static void memory_refusal(const akt_data *data)
{
    akt_spec spec;
    test_spec(&spec, AKT_ACTIVATION_RELU);
    spec.solver.neurons = 100000000; /* 1e8 neurons x ~1900 doubles each: ~1.4 TiB */
    bool wanted[AKT_REGIME_COUNT] = {true, true, true, true};
    akt_solution solution;
    akt_error err = {0, ""};
    double gib = akt_population_memory_gib(data, (size_t)spec.solver.neurons);
    CHECK(gib > 1000.0);
    CHECK(population_transfer(&spec, data, wanted, &solution, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "GiB") != NULL);
    printf("refusal: %s\n", err.message);
}

int main(void)
{
    akt_data data;
    test_data_linear(&data, 16, 64, 48, 400, 300, 11);
    antithetic_zero(&data);
    determinism(&data);
    ntk_at_initialisation(&data);
    divergence(&data);
    memory_refusal(&data);
    test_data_free(&data);
    return check_finish();
}
