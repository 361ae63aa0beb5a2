/* test_resources.c: the up-front memory refusal (resources.h).
 *
 * A spec whose moment closure alone needs terabytes is refused at once with the estimate in
 * GiB; ordinary specs pass. The estimates are checked against the dominant term computed here
 * independently ((1 + 2D)^2 doubles times the stepper's copies for exact; S neurons times the
 * points for population; N x D weights for finite networks), and the data term against the
 * identity estimate(no data) - estimate(data) = M (D + 1) doubles. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "akt/data.h"
#include "akt/resources.h"
#include "akt/spec.h"

#include "../check.h"

static const char small_linear[] =
    "seed: 3\n"
    "data: {task: linear, dim: 8, source: {samples: 20}, target: {samples: 6}, test: {samples: 30}}\n"
    "network: {activation: linear}\n"
    "source: {gamma: 1.0, weight_decay: 0.05, time: 5}\n"
    "target: {time: 5, regimes: [scratch, readout, joint]}\n"
    "solver: {method: exact}\n";

static const double gib = 1024.0 * 1024.0 * 1024.0;

static int load(akt_spec *spec, const char *set)
{
    akt_error err = {0};
    const char *overrides[1] = {set};
    int status = akt_spec_load_string(spec, small_linear, "small.yaml", ".", overrides, set ? 1 : 0, &err);
    if (status)
        fprintf(stderr, "spec: %s\n", err.message);
    return status;
}

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* data.dim 100000 with method exact: the (1 + 2D)^2 moment state is 298 GiB before the
 * stepper's copies, beyond any machine this runs on; refused quickly, estimate in the message. */
static void test_huge_exact_refused(void)
{
    akt_spec spec;
    CHECK(load(&spec, "data.dim=100000") == AKT_OK);
    akt_error err = {0};
    double start = seconds_now();
    int status = akt_resources_check(&spec, NULL, &akt_method_exact, 0, &err);
    double elapsed = seconds_now() - start;
    CHECK(status == AKT_ERR_INPUT);
    CHECK(elapsed < 0.1);
    CHECK(strstr(err.message, "GiB") != NULL);
    CHECK(strstr(err.message, "small.yaml") != NULL);
    double n = 1.0 + 2.0 * 100000.0;
    /* state + 13 rk8pd vectors + start + derivative, and the fixed point's D x D Gram with its
     * factorisation and copy */
    double dominant = (16.0 * n * n + 3.0 * 1e5 * 1e5) * 8.0 / gib;
    double estimate = akt_resources_estimate_gib(&spec, NULL, &akt_method_exact, 0);
    /* the other terms (kernels of 20 and 86 points, the 86 x 100001 data) are below 1e-4 of it */
    CHECK_RELATIVE(estimate, dominant, 1e-4);
    char expected[64];
    snprintf(expected, sizeof expected, "%.3g GiB", estimate);
    CHECK(strstr(err.message, expected) != NULL);
    fprintf(stderr, "huge exact: %.4g GiB estimated in %.2g s: %s\n", estimate, elapsed, err.message);
    /* AUTO resolves to exact for a linear network */
    CHECK(akt_resources_estimate_gib(&spec, NULL, NULL, 0) == estimate);
    akt_spec_free(&spec);
}

static void test_normal_specs_pass(void)
{
    akt_spec spec;
    CHECK(load(&spec, NULL) == AKT_OK);
    akt_error err = {0};
    CHECK(akt_resources_check(&spec, NULL, &akt_method_exact, 0, &err) == AKT_OK);
    CHECK(akt_resources_check(&spec, NULL, &akt_method_lazy, 0, &err) == AKT_OK);
    CHECK(akt_resources_check(&spec, NULL, &akt_method_population, 0, &err) == AKT_OK);
    CHECK(akt_resources_check(&spec, NULL, NULL, 4096, &err) == AKT_OK);
    akt_spec_free(&spec);

    akt_spec quick;
    CHECK(akt_spec_load_string(&quick, akt_spec_quickstart_yaml, "<built-in quickstart>", ".", NULL, 0,
                               &err) == AKT_OK);
    CHECK(akt_resources_check(&quick, NULL, NULL, 0, &err) == AKT_OK);
    CHECK(akt_resources_estimate_gib(&quick, NULL, NULL, 0) < 1.0);
    akt_spec_free(&quick);
}

/* The data term: without data the estimate adds the M x (D + 1) doubles not yet built. */
static void test_data_term(void)
{
    akt_spec spec;
    CHECK(load(&spec, NULL) == AKT_OK);
    akt_data data;
    akt_error err = {0};
    CHECK(akt_data_load(&data, &spec, &err) == AKT_OK);
    double M = (double)(data.source.rows + data.target.rows + data.test.rows + data.source_test.rows);
    CHECK(M == 20 + 6 + 30 + 30);
    double without = akt_resources_estimate_gib(&spec, NULL, &akt_method_exact, 0);
    double with = akt_resources_estimate_gib(&spec, &data, &akt_method_exact, 0);
    CHECK_RELATIVE((without - with) * gib / 8.0, M * (8 + 1), 1e-9);
    CHECK(akt_resources_check(&spec, &data, &akt_method_exact, 0, &err) == AKT_OK);
    akt_data_free(&data);
    akt_spec_free(&spec);
}

/* Population with S = 2^31 neurons: S (P + M) alone is 2^31 x 112 doubles = 1792 GiB. */
static void test_huge_population_and_width(void)
{
    akt_spec spec;
    CHECK(load(&spec, "solver.neurons=2147483648") == AKT_OK);
    akt_error err = {0};
    double S = 2147483648.0, P = 20, M = 20 + 6 + 30 + 30;
    double estimate = akt_resources_estimate_gib(&spec, NULL, &akt_method_population, 0);
    CHECK(estimate >= S * (P + M) * 8.0 / gib);
    CHECK(akt_resources_check(&spec, NULL, &akt_method_population, 0, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "solver.neurons") != NULL);
    akt_spec_free(&spec);

    /* a finite network of width 2^34 on D = 8: N x D weights alone are 1024 GiB */
    CHECK(load(&spec, NULL) == AKT_OK);
    double N = 17179869184.0;
    estimate = akt_resources_estimate_gib(&spec, NULL, NULL, (long)N);
    CHECK(estimate >= N * 8 * 8.0 / gib);
    CHECK(akt_resources_check(&spec, NULL, NULL, (long)N, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "width") != NULL);
    akt_spec_free(&spec);
}

int main(void)
{
    CHECK(akt_resources_physical_gib() > 0.1);
    test_huge_exact_refused();
    test_normal_specs_pass();
    test_data_term();
    test_huge_population_and_width();
    return check_finish();
}
