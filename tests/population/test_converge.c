/* test_converge.c: time converge (the t -> infinity limit) of the population solver, by the
 * accelerated segment iteration of population.c (converge_accelerated).
 *
 * 1. Linear activation, one phase, lambda > 0: the fixed point has a closed form
 *    (THEORY.md section 4, akt_linear_fixed_point), and a network of ANY width converges to
 *    the same beta, so a population of 64 neurons must reproduce X beta / sqrt(D) on the test
 *    points with no Monte-Carlo error: checked to 1e-6 relative at tolerance 1e-10.
 * 2. Erf, source then scratch and joint (with elastic pull) to convergence: the state reported
 *    must be a stationary state of the flow, not a point the extrapolation invented: the
 *    identity residual at it is below the tolerance (1e-9), and 50 more units of plain flow
 *    from it move the test predictions by less than 1e-6 relative. (A plain run to t = 400 is
 *    still 1.4e-3 to 2e-3 away: erf at lambda = 0.05 takes flow time ~3000 to settle here.)
 *    Measured, flow time to the tolerance with the accelerated iteration against plain
 *    segments (acceleration disabled by hand): linear lambda 0.05: 47 against 153; lambda 0.5:
 *    13 against 18; erf scratch 2814 against 3968, joint 1739 against 2350. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../check.h"
#include "helpers.h"
#include "akt/exact.h"

static void predictions(akt_population *pop, akt_points points, size_t rows, double *f)
{
    akt_error err;
    CHECK(rows <= 512);
    CHECK(akt_population_predict(pop, points, f, &err) == AKT_OK);
}

static void linear_closed_form(void)
{
    akt_data data;
    size_t D = 12, P1 = 40;
    test_data_linear(&data, D, P1, 8, 200, 200, 5);
    double lambdas[2] = {0.05, 0.5};
    for (int k = 0; k < 2; k++) {
        akt_error err;
        double beta[12], kappa, expected[200], f[200];
        CHECK(akt_linear_fixed_point(data.source.x, data.source.y, P1, D, 1.0, lambdas[k], beta,
                                     &kappa, &err) == AKT_OK);
        for (size_t i = 0; i < 200; i++) {
            double s = 0.0;
            for (size_t j = 0; j < D; j++)
                s += data.source_test.x[i * D + j] * beta[j];
            expected[i] = s / sqrt((double)D);
        }
        akt_population *pop = akt_population_alloc(&data, AKT_ACTIVATION_LINEAR, 64, &err);
        CHECK(pop != NULL);
        akt_population_sample(pop, 3, 0);
        akt_population_phase phase = {1.0, lambdas[k], 0.0, AKT_TIME_CONVERGE, 1e-4, 1e-10,
                                      1e5, 1e-9};
        akt_population_run run;
        CHECK(akt_population_run_source(pop, &phase, &run, &err) == AKT_OK);
        predictions(pop, AKT_POINTS_SOURCE_TEST, 200, f);
        double gap = check_relative_distance(f, expected, 200);
        printf("linear lambda %.2f: converged %d, residual %.2e after flow time %.0f (%ld steps); "
               "test predictions vs the closed form: relative %.2e\n", lambdas[k], run.converged,
               run.residual, run.time, run.steps, gap);
        CHECK(run.converged && run.residual <= 1e-10);
        CHECK(gap <= 1e-6);
        akt_population_free(pop);
    }
    test_data_free(&data);
}

/* Runs source (time 20), the target regime (0 scratch, 1 joint) to convergence, then 50 more
 * units of plain flow; test predictions at both ends. */
static void erf_target(const akt_data *data, int regime, double *f_converged, double *f_later,
                       akt_population_run *run)
{
    akt_error err;
    akt_population *pop = akt_population_alloc(data, AKT_ACTIVATION_ERF, 256, &err);
    CHECK(pop != NULL);
    akt_population_sample(pop, 9, 0);
    akt_population_phase source = {1.0, 0.05, 0.0, 20.0, 1e-5, 1e-9, 1e5, 1e-9};
    akt_population_phase target = {1.0, 0.05, 0.5, AKT_TIME_CONVERGE, 1e-5, 1e-9, 1e5, 1e-9};
    akt_population_run source_run, later;
    CHECK(akt_population_run_source(pop, &source, &source_run, &err) == AKT_OK);
    if (regime == 0)
        CHECK(akt_population_start_scratch(pop, &err) == AKT_OK);
    else
        CHECK(akt_population_start_joint(pop, AKT_READOUT_ZERO, &err) == AKT_OK);
    CHECK(akt_population_run_target(pop, &target, run, &err) == AKT_OK);
    predictions(pop, AKT_POINTS_TEST, data->test.rows, f_converged);
    target.time = 50.0;
    CHECK(akt_population_run_target(pop, &target, &later, &err) == AKT_OK);
    predictions(pop, AKT_POINTS_TEST, data->test.rows, f_later);
    akt_population_free(pop);
}

static void erf_stationary(void)
{
    akt_data data;
    test_data_linear(&data, 16, 48, 24, 200, 10, 7);
    const char *names[2] = {"scratch", "joint"};
    for (int r = 0; r < 2; r++) {
        double converged[200], later[200];
        akt_population_run run;
        erf_target(&data, r, converged, later, &run);
        double moved = check_relative_distance(later, converged, data.test.rows);
        printf("erf %-7s converge: residual %.2e after flow time %.0f (%ld steps); 50 more "
               "units of flow move the test predictions by %.2e relative\n", names[r],
               run.residual, run.time, run.steps, moved);
        CHECK(run.converged && run.residual <= 1e-9);
        CHECK(moved <= 1e-6);
    }
    test_data_free(&data);
}

int main(void)
{
    linear_closed_form();
    erf_stationary();
    return check_finish();
}
