/* test_coordinates.c: the two coordinates of THEORY.md section 2 ("Two coordinates for one
 * computation") are one computation. The same sampled neurons run every regime once in reduced
 * coordinates (c in R^P, h = r h_base + c C) and once in weight coordinates (v = c X / sqrt(D) in
 * R^D, h = r h_base + v X' / sqrt(D)); the products differ, so only round-off separates them.
 * Problem with D < P in both phases (D = 16, P1 = 64, P2 = 48, S = 128); test losses of source,
 * scratch, readout and joint.
 * - Euler reference (relu, erf) and the adaptive integrator on erf: within AGREEMENT = 1e-9
 *   relative (measured 1e-15 for Euler, 1e-11 adaptive erf, where the step controller's
 *   decisions pass round-off on; 1e-9 is five orders below any integration error tolerated).
 * - The adaptive integrator on relu is NOT round-off-stable, in either coordinates: a component
 *   sliding along its kink is put back onto h = 0 up to round-off (resolve_kinks), so the sign
 *   tests of the next step are decided by round-off, and the run lands elsewhere within its own
 *   integration error. Measured on this problem in reduced coordinates alone, changing only
 *   OpenBLAS's kernels (OPENBLAS_CORETYPE, i.e. summation order): source test loss 0.024179,
 *   0.024202, 0.024220 at step_tolerance 1e-4 (spread 1.7e-3); reduced against weights:
 *   5.2e-3, 1.1e-3, 1.9e-4, 7.3e-6 largest relative difference at step_tolerance 1e-3, 1e-4,
 *   1e-5, 1e-6, i.e. it falls with the tolerance like the integration error. So relu is checked
 *   at step_tolerance 1e-6 to RELU_AGREEMENT = 1e-4 (the integration error there; test_integrator
 *   measures up to 1.6e-4 against Euler at 3e-6).
 * Also: a saved source restores bit for bit within its coordinates, and a source saved in one
 * coordinates refuses to restore into the other. */
#include <stdio.h>

#include "../check.h"
#include "helpers.h"

#define AGREEMENT 1e-9
#define RELU_AGREEMENT 1e-4
#define NEURONS 128

typedef struct {
    double loss[4]; /* source, scratch, readout, joint */
} regime_losses;

static double split_loss(akt_population *pop, akt_points points, const akt_split *split)
{
    double *f = malloc(split->rows * sizeof *f);
    akt_error err;
    CHECK(f != NULL);
    CHECK(akt_population_predict(pop, points, f, &err) == AKT_OK);
    double loss = akt_mean_squared_error(f, split->y, split->rows);
    free(f);
    return loss;
}

static double readout_loss(akt_population *pop, const akt_data *data)
{
    size_t P2 = data->target.rows, Mt = data->test.rows;
    double *f = malloc((P2 + Mt) * sizeof *f);
    akt_error err;
    CHECK(f != NULL);
    CHECK(akt_population_readout(pop, 0.1, f, &err) == AKT_OK);
    double loss = akt_mean_squared_error(f + P2, data->test.y, Mt);
    free(f);
    return loss;
}

/* Every regime of one population in the given coordinates (euler: by the Euler reference). */
static regime_losses run_regimes(const akt_data *data, akt_activation activation,
                                 akt_population_coordinates coordinates, bool euler)
{
    akt_error err;
    regime_losses out;
    akt_population *pop = akt_population_alloc_coordinates(data, activation, NEURONS,
                                                           coordinates, &err);
    CHECK(pop != NULL);
    akt_population_sample(pop, 3, 0);
    double tol = activation == AKT_ACTIVATION_RELU ? 1e-6 : 1e-4;
    akt_population_phase source = {1.0, 0.05, 0.0, 3.0, tol, 1e-6, 1e5, 1e-9};
    akt_population_phase target = {1.0, 0.05, 0.5, 3.0, tol, 1e-6, 1e5, 1e-9};
    akt_population_run run;
    double dt = 5e-3;
    CHECK((euler ? akt_population_run_euler(pop, &source, dt, &run, &err)
                 : akt_population_run_source(pop, &source, &run, &err)) == AKT_OK);
    out.loss[0] = split_loss(pop, AKT_POINTS_SOURCE_TEST, &data->source_test);
    out.loss[2] = readout_loss(pop, data);
    CHECK(akt_population_start_scratch(pop, &err) == AKT_OK);
    CHECK((euler ? akt_population_run_euler(pop, &target, dt, &run, &err)
                 : akt_population_run_target(pop, &target, &run, &err)) == AKT_OK);
    out.loss[1] = split_loss(pop, AKT_POINTS_TEST, &data->test);
    CHECK(akt_population_start_joint(pop, AKT_READOUT_ZERO, &err) == AKT_OK);
    CHECK((euler ? akt_population_run_euler(pop, &target, dt, &run, &err)
                 : akt_population_run_target(pop, &target, &run, &err)) == AKT_OK);
    out.loss[3] = split_loss(pop, AKT_POINTS_TEST, &data->test);
    akt_population_free(pop);
    return out;
}

static void agree(const akt_data *data, akt_activation activation, const char *name, bool euler)
{
    static const char *regimes[4] = {"source", "scratch", "readout", "joint"};
    regime_losses reduced = run_regimes(data, activation, AKT_POPULATION_COORDINATES_REDUCED,
                                        euler);
    regime_losses weights = run_regimes(data, activation, AKT_POPULATION_COORDINATES_WEIGHTS,
                                        euler);
    double largest = 0.0;
    for (int r = 0; r < 4; r++) {
        double change = fabs(weights.loss[r] - reduced.loss[r]) / fabs(reduced.loss[r]);
        largest = fmax(largest, change);
        printf("%s %s %-7s reduced %.15f weights %.15f relative %.2e\n", name,
               euler ? "euler   " : "adaptive", regimes[r], reduced.loss[r], weights.loss[r],
               change);
        CHECK_RELATIVE(weights.loss[r], reduced.loss[r],
                       activation == AKT_ACTIVATION_RELU && !euler ? RELU_AGREEMENT : AGREEMENT);
    }
    printf("%s %s: largest relative difference %.2e\n", name, euler ? "euler" : "adaptive",
           largest);
}

/* A saved source restores bit for bit in its own coordinates, and not into the other. */
static void save_restore(const akt_data *data)
{
    akt_error err;
    size_t Mt = data->test.rows;
    akt_population *pop = akt_population_alloc_coordinates(
        data, AKT_ACTIVATION_RELU, NEURONS, AKT_POPULATION_COORDINATES_WEIGHTS, &err);
    akt_population *other = akt_population_alloc_coordinates(
        data, AKT_ACTIVATION_RELU, NEURONS, AKT_POPULATION_COORDINATES_REDUCED, &err);
    CHECK(pop != NULL && other != NULL);
    akt_population_sample(pop, 3, 0);
    akt_population_sample(other, 3, 0);
    akt_population_phase source = {1.0, 0.05, 0.0, 2.0, 1e-3, 1e-6, 1e5, 1e-9};
    akt_population_run run;
    CHECK(akt_population_run_source(pop, &source, &run, &err) == AKT_OK);
    double *before = malloc((data->target.rows + Mt) * sizeof *before);
    double *after = malloc((data->target.rows + Mt) * sizeof *after);
    CHECK(akt_population_readout(pop, 0.1, before, &err) == AKT_OK);
    akt_population_source *saved = akt_population_source_save(pop, &err);
    CHECK(saved != NULL);
    CHECK(akt_population_start_scratch(pop, &err) == AKT_OK);
    CHECK(akt_population_run_target(pop, &source, &run, &err) == AKT_OK);
    akt_population_sample(pop, 3, 0);
    CHECK(akt_population_source_restore(pop, saved, &err) == AKT_OK);
    CHECK(akt_population_readout(pop, 0.1, after, &err) == AKT_OK);
    CHECK(memcmp(before, after, (data->target.rows + Mt) * sizeof *before) == 0);
    CHECK(akt_population_source_restore(other, saved, &err) == AKT_ERR_INPUT);
    akt_population_source_free(saved);
    free(before);
    free(after);
    akt_population_free(pop);
    akt_population_free(other);
}

int main(void)
{
    akt_data data;
    test_data_linear(&data, 16, 64, 48, 200, 200, 5);
    agree(&data, AKT_ACTIVATION_RELU, "relu", false);
    agree(&data, AKT_ACTIVATION_RELU, "relu", true);
    agree(&data, AKT_ACTIVATION_ERF, "erf ", false);
    agree(&data, AKT_ACTIVATION_ERF, "erf ", true);
    save_restore(&data);
    test_data_free(&data);
    return check_finish();
}
