/* test_integrator.c: the adaptive exponential-midpoint integrator against small-step forward
 * Euler, the reference issue 3 names ("a run to time T matches a small-step Euler integration,
 * what networks do, to 0.1 percent").
 *
 * Both integrators start from the same sampled neurons, so there is no Monte-Carlo difference:
 * only integration error. The reference is Euler at dt and dt/2 extrapolated (Richardson:
 * 2 E(dt/2) - E(dt) removes Euler's O(dt) error); the test also checks that the extrapolation
 * moved the Euler answer by less than 1e-3 relative, so the reference is good to well below the
 * 0.1 percent asked of the adaptive integrator. Checked: test losses of source, scratch and joint
 * (with elastic pull), relu at step_tolerance 3e-6 and erf at 3e-5.
 * Measured (relative gap to the reference, source/scratch/joint; steps; S = 256, seeds 3, 5, 7;
 * Euler takes 10000 steps at dt = 1e-3 and is itself up to 6e-4 off):
 *   relu 3e-6: at most 1.5e-4, 1.3e-4, 1.6e-4 (1150..1850 steps; joint 5800..6700)
 *   relu 1e-5: at most 9.6e-4, 3.8e-4, 1.7e-4 (440..650 steps; joint 1800..2050)
 *   relu 3e-5: up to 2.6e-3 (220..270 steps): not enough for 0.1 percent
 *   erf 3e-5: 2.4e-5, 4.0e-5, 8.8e-5 (about 200 steps)
 * Relu needs the tighter tolerance because the error estimate sees the smooth part of a step
 * only; the kinks are resolved per component (resolve_kinks) but their remainder is not
 * estimated, so the relu error falls roughly like step_tolerance^0.8 and not in proportion.
 * Seed 7 at S = 256 is the regression case of the coupled kink fractions: before they were solved
 * together, one large neuron ended 7 percent off in c and the scratch loss stayed 1.6e-3 from
 * Euler at every tolerance down to 1e-6. */
#include <stdio.h>

#include "../check.h"
#include "helpers.h"

/* relu: see the header; erf: the smooth case, where the estimate controls the whole error */
#define RELU_STEP_TOLERANCE 3e-6
#define SMOOTH_STEP_TOLERANCE 3e-5

typedef enum { RUN_ADAPTIVE, RUN_EULER } run_kind;

static double test_loss(akt_population *pop, akt_points points, const akt_split *split)
{
    double f[512];
    akt_error err;
    CHECK(split->rows <= 512);
    CHECK(akt_population_predict(pop, points, f, &err) == AKT_OK);
    double sum = 0.0;
    for (size_t i = 0; i < split->rows; i++)
        sum += (f[i] - split->y[i]) * (f[i] - split->y[i]);
    return sum / (double)split->rows;
}

/* Source, scratch and joint test losses (loss[0..2]) of one population by one integrator. */
static void run_all(const akt_data *data, akt_activation activation, run_kind kind, double dt,
                    double tolerance, double loss[3], long steps[3])
{
    akt_error err;
    akt_population *pop = akt_population_alloc(data, activation, 256, &err);
    CHECK(pop != NULL);
    akt_population_sample(pop, 7, 0);
    akt_population_phase source = {1.0, 0.05, 0.0, 5.0, tolerance, 1e-6, 1e5, 1e-9};
    akt_population_phase target = {1.0, 0.05, 0.5, 5.0, tolerance, 1e-6, 1e5, 1e-9};
    akt_population_run run;
    int status = kind == RUN_EULER ? akt_population_run_euler(pop, &source, dt, &run, &err)
                                   : akt_population_run_source(pop, &source, &run, &err);
    CHECK(status == AKT_OK);
    steps[0] = run.steps;
    loss[0] = test_loss(pop, AKT_POINTS_SOURCE_TEST, &data->source_test);
    CHECK(akt_population_start_scratch(pop, &err) == AKT_OK);
    status = kind == RUN_EULER ? akt_population_run_euler(pop, &target, dt, &run, &err)
                               : akt_population_run_target(pop, &target, &run, &err);
    CHECK(status == AKT_OK);
    steps[1] = run.steps;
    loss[1] = test_loss(pop, AKT_POINTS_TEST, &data->test);
    CHECK(akt_population_start_joint(pop, AKT_READOUT_ZERO, &err) == AKT_OK);
    status = kind == RUN_EULER ? akt_population_run_euler(pop, &target, dt, &run, &err)
                               : akt_population_run_target(pop, &target, &run, &err);
    CHECK(status == AKT_OK);
    steps[2] = run.steps;
    loss[2] = test_loss(pop, AKT_POINTS_TEST, &data->test);
    akt_population_free(pop);
}

static void against_euler(const akt_data *data, akt_activation activation, const char *name)
{
    static const char *regimes[3] = {"source", "scratch", "joint"};
    double coarse[3], fine[3], adaptive[3];
    long steps[3], euler_steps[3];
    double dt = 1e-3;
    run_all(data, activation, RUN_EULER, dt, 1e-4, coarse, euler_steps);
    run_all(data, activation, RUN_EULER, dt / 2, 1e-4, fine, euler_steps);
    bool relu = activation == AKT_ACTIVATION_RELU;
    run_all(data, activation, RUN_ADAPTIVE, 0.0, relu ? RELU_STEP_TOLERANCE : SMOOTH_STEP_TOLERANCE,
            adaptive, steps);
    for (int r = 0; r < 3; r++) {
        double reference = 2.0 * fine[r] - coarse[r];
        printf("%s %-7s Euler dt %g: %.8f, dt/2: %.8f, extrapolated %.8f; adaptive %.8f "
               "(%ld steps against %ld), relative gap %.2e\n", name, regimes[r], dt, coarse[r],
               fine[r], reference, adaptive[r], steps[r], euler_steps[r],
               fabs(adaptive[r] - reference) / reference);
        CHECK_RELATIVE(fine[r], reference, 1e-3);     /* the reference is converged */
        CHECK_RELATIVE(adaptive[r], reference, 1e-3); /* issue 3: 0.1 percent */
        /* A step costs two S x P x P products against Euler's one. Smooth: far fewer steps.
         * Relu at the tolerance that 0.1 percent needs: still fewer steps than Euler's 10000,
         * which is itself only 6e-4 accurate (the step counts of the bench are what to read). */
        CHECK(relu ? steps[r] < euler_steps[r] : 20 * steps[r] < euler_steps[r]);
    }
}

int main(void)
{
    akt_data data;
    test_data_linear(&data, 16, 64, 24, 300, 300, 11);
    against_euler(&data, AKT_ACTIVATION_RELU, "relu");
    against_euler(&data, AKT_ACTIVATION_ERF, "erf");
    test_data_free(&data);
    return check_finish();
}
