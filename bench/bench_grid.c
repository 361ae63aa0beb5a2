/* bench_grid.c: the population solver's cost against problem size, against the dense reference
 * formulation, and against the hardware (issue 6, "Benchmarks").
 *
 * One training phase (the source phase of the spec, default bench/specs/grid_relu.yaml) with P
 * training points, for every cell (P, S) of a grid:
 *   - akt: seconds per integrator step (attempted: accepted or rejected, each costs the same),
 *     the steps to reach T and the seconds to T; the DGEMM work of a step is counted by wrapping
 *     cblas_dgemm (dgemm_counter.h), so "hot loop GFLOP/s" is measured flops over wall time,
 *     printed next to the rate of one S x P x P DGEMM measured in the same process just before;
 *   - dense: the dense formulation of bench/dense_reference.h on the same neurons, per step and
 *     to T at the Euler step that reaches the same accuracy (below);
 *   - peak resident memory of each (getrusage, high-water mark reset between phases).
 *
 * Step counts come from a calibration run to T at the reference size S_ref (--calibrate-neurons)
 * for P <= --full-max-P, and from a power law in P fitted to the calibrated P of the same run
 * otherwise (marked "extrapolated"). The steps hardly depend on S (they follow the stiffness,
 * lambda_max of the adapted NTK, a property of the flow), so time to T = seconds per step at S
 * times steps at S_ref ("model"), unless the run fits in --full-budget seconds: then it is run
 * and measured ("measured"). Cells whose memory estimate exceeds --memory-limit are measured
 * per step at the largest S/2^k that fits and scaled by the factor (the work is linear in S).
 *
 * Equal accuracy (--accuracy, for P <= --accuracy-max-P): at S_ref, the dense Euler flow is run
 * at dt_k = dt_0/2^k (dt_0 the largest power of 2 with dt_0 lambda_max <= 1) and the reference
 * test loss is the Richardson extrapolation of the two finest (Euler is first order); akt runs
 * at step_tolerance tol and tol/10. The dense step used in the grid is the coarsest whose
 * error is <= --accuracy-target (relative test loss), akt's tolerance the loosest. For larger P
 * the dense step is scaled as dt = c/lambda_max with c = dt lambda_max of the largest
 * calibrated P ("scaled"); the stability bound dt = 2/lambda_max (no forward Euler step can be
 * larger) gives a lower bound on the dense time in every cell.
 *
 * Usage: bench_grid [--spec FILE] [--P 100,300] [--S 1024,8192] [--set key=value]...
 *        [--calibrate-neurons 1024] [--full-max-P 1000] [--full-budget 60] [--accuracy]
 *        [--accuracy-max-P 300] [--accuracy-target 1e-3] [--memory-limit 6] [--repeats 3]
 *        [--csv FILE] [--accuracy-csv FILE] [--commit HASH] [--clock cpu|wall] [--smoke]
 * Seconds are process CPU time unless --clock wall (bench_util.h: the machine is shared).
 * --smoke: a tiny grid plus the validation of the dense reference against akt (same neurons,
 * agreement of the test predictions); exits 1 if the validation fails. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akt/data.h"
#include "akt/population.h"
#include "akt/spec.h"
#include "akt/transfer.h"

#include "bench_util.h"
#include "dense_reference.h"
#include "dgemm_counter.h"

#define MAX_LIST 16
#define MAX_SETS 16

typedef struct {
    const char *spec_path, *csv_path, *accuracy_csv_path, *commit;
    const char *sets[MAX_SETS];
    size_t set_count;
    long P[MAX_LIST], S[MAX_LIST];
    size_t P_count, S_count;
    long calibrate_neurons, full_max_P, accuracy_max_P;
    double full_budget, accuracy_target, memory_limit_gib;
    int repeats;
    bool accuracy, smoke;
} grid_options;

/* What one P's calibration established. */
typedef struct {
    bool calibrated;           /* a full akt run at S_ref happened */
    double attempts;           /* accepted + rejected steps to T (measured or extrapolated) */
    long steps, rejected;      /* of the calibration run */
    double lambda_max;         /* NTK lambda_max at T */
    double seconds;            /* the calibration run's time to T */
    double test_loss;
    double tolerance;          /* akt step_tolerance used in the grid */
    bool accuracy_checked;     /* the ladder ran at this P */
    double akt_error;          /* relative test-loss error of akt at `tolerance` */
    double dense_dt;           /* dense step for the accuracy target, 0 if not known */
    const char *dense_dt_kind; /* "accuracy", "scaled" or "none" */
} calibration;

/* One measured (or modelled) akt or dense run. */
typedef struct {
    double seconds;
    long steps, rejected;
    double test_loss, lambda_max;
    double *f;                 /* test predictions (optional, owned by the caller) */
    dgemm_count dgemm;
    double peak_mib;
} run_result;

/* ---- the problem ---------------------------------------------------------------------------- */

static int load_problem(const grid_options *o, long P, akt_spec *spec, akt_data *data)
{
    const char *overrides[MAX_SETS + 1];
    char samples[64];
    snprintf(samples, sizeof samples, "data.source.samples=%ld", P);
    overrides[0] = samples;
    for (size_t i = 0; i < o->set_count; i++)
        overrides[i + 1] = o->sets[i];
    akt_error err = {0};
    if (akt_spec_load(spec, o->spec_path, overrides, o->set_count + 1, &err) != AKT_OK ||
        akt_data_load(data, spec, &err) != AKT_OK) {
        fprintf(stderr, "bench_grid: %s\n", err.message);
        return 1;
    }
    if (spec->source.time == AKT_TIME_CONVERGE) {
        fprintf(stderr, "bench_grid: %s: source.time must be a number\n", o->spec_path);
        return 1;
    }
    return 0;
}

static akt_population_phase source_phase(const akt_spec *spec, double tolerance, double time)
{
    akt_population_phase phase = {spec->source.gamma, spec->source.weight_decay, 0.0, time,
                                  tolerance, spec->solver.tolerance, spec->solver.max_time,
                                  spec->solver.min_step};
    return phase;
}

/* ---- akt: one source phase on a sampled population -------------------------------------------- */

/* Samples replica `replica`, runs the source phase to `time` at `tolerance`, predicts the source
 * test split. seconds: sampling + integration + prediction (what a user waits for). */
static int akt_run(const akt_spec *spec, const akt_data *data, size_t S, double tolerance,
                   double time, unsigned long replica, run_result *out)
{
    akt_error err = {0};
    double *keep = out->f;
    memset(out, 0, sizeof *out);
    out->f = keep;
    bench_reset_peak_rss();
    akt_population *pop = akt_population_alloc(data, spec->network.activation, S, &err);
    if (!pop) {
        fprintf(stderr, "bench_grid: %s\n", err.message);
        return 1;
    }
    size_t Mt = data->source_test.rows;
    double *f = malloc((Mt ? Mt : 1) * sizeof *f);
    akt_population_phase phase = source_phase(spec, tolerance, time);
    akt_population_run run;
    dgemm_count before = dgemm_counter_read();
    double start = bench_now();
    akt_population_sample(pop, spec->seed, replica);
    int status = f ? akt_population_run_source(pop, &phase, &run, &err) : AKT_ERR_MEMORY;
    if (status == AKT_OK)
        status = akt_population_predict(pop, AKT_POINTS_SOURCE_TEST, f, &err);
    out->seconds = bench_now() - start;
    out->dgemm = dgemm_counter_difference(dgemm_counter_read(), before);
    if (status == AKT_OK) {
        out->steps = run.steps;
        out->rejected = run.rejected;
        out->test_loss = akt_mean_squared_error(f, data->source_test.y, Mt);
        out->lambda_max = akt_population_ntk_max(pop);
        if (out->f)
            memcpy(out->f, f, Mt * sizeof *f);
    } else {
        fprintf(stderr, "bench_grid: akt: %s\n", err.message);
    }
    out->peak_mib = bench_peak_rss_mib();
    free(f);
    akt_population_free(pop);
    return status == AKT_OK ? 0 : 1;
}

/* One source run of the sampled population to `horizon`: its wall time, attempted steps and
 * DGEMM work. */
static int timed_source_run(akt_population *pop, const akt_spec *spec, double tolerance,
                            double horizon, double *seconds, long *attempts, dgemm_count *work,
                            akt_error *err)
{
    akt_population_sample(pop, spec->seed, 0);
    akt_population_phase phase = source_phase(spec, tolerance, horizon);
    akt_population_run run;
    dgemm_count before = dgemm_counter_read();
    double start = bench_now();
    int status = akt_population_run_source(pop, &phase, &run, err);
    *seconds = bench_now() - start;
    *work = dgemm_counter_difference(dgemm_counter_read(), before);
    *attempts = run.steps + run.rejected;
    return status;
}

/* Seconds per attempted step of akt at S, and the DGEMM work of one: a run of a single step and
 * a run of several from the same sampled state; their difference removes the phase's fixed work
 * (first right-hand side, lambda_max estimate, the source state's predictions). */
static int akt_step_cost(const akt_spec *spec, const akt_data *data, size_t S, double tolerance,
                         double *per_step, dgemm_count *per_step_dgemm, double *peak_mib)
{
    akt_error err = {0};
    bench_reset_peak_rss();
    akt_population *pop = akt_population_alloc(data, spec->network.activation, S, &err);
    if (!pop) {
        fprintf(stderr, "bench_grid: %s\n", err.message);
        return 1;
    }
    double one_seconds, seconds = 0.0;
    long one_attempts, attempts = 0;
    dgemm_count one_work, work = {0, 0, 0};
    /* untimed first: its first touches of the freshly allocated buffers (page faults) are not
     * the cost of a step */
    int status = timed_source_run(pop, spec, tolerance, 1e-6, &one_seconds, &one_attempts,
                                  &one_work, &err);
    if (status == AKT_OK)
        status = timed_source_run(pop, spec, tolerance, 1e-6, &one_seconds, &one_attempts,
                                  &one_work, &err);
    /* a dozen first steps' worth of time: a handful of steps as the controller grows the step;
     * longer if that gave too few to difference */
    double horizon = 6.0 / fmax(akt_population_ntk_max(pop), 1e-3);
    for (int tries = 0; status == AKT_OK && tries < 6; tries++, horizon *= 4.0) {
        status = timed_source_run(pop, spec, tolerance, horizon, &seconds, &attempts, &work,
                                  &err);
        if (attempts >= one_attempts + 3)
            break;
    }
    if (status == AKT_OK && attempts > one_attempts) {
        double n = (double)(attempts - one_attempts);
        dgemm_count d = dgemm_counter_difference(work, one_work);
        *per_step = (seconds - one_seconds) / n;
        if (!(*per_step > 0.0)) /* timer noise at tiny sizes: the longer run's average instead */
            *per_step = seconds / (double)attempts;
        per_step_dgemm->calls = (long)lround((double)d.calls / n);
        per_step_dgemm->flops = d.flops / n;
        per_step_dgemm->seconds = d.seconds / n;
    } else {
        fprintf(stderr, "bench_grid: akt step cost: %s\n",
                status == AKT_OK ? "no steps to difference" : err.message);
        status = AKT_ERR_NUMERIC;
    }
    *peak_mib = bench_peak_rss_mib();
    akt_population_free(pop);
    return status == AKT_OK ? 0 : 1;
}

/* ---- dense ---------------------------------------------------------------------------------- */

static double dense_memory_gib(const akt_data *data, size_t S)
{
    double P = (double)data->source.rows, M = P + (double)data->source_test.rows;
    double doubles = 2.0 * (double)S * M + 2.0 * (double)S * P + P * M + M * (double)data->dim;
    return doubles * sizeof(double) / 1073741824.0;
}

static int dense_setup(const akt_spec *spec, const akt_data *data, size_t S, unsigned long replica,
                       dense_flow *flow)
{
    akt_error err = {0};
    if (dense_flow_alloc(flow, data->source.x, data->source.y, data->source.rows,
                         data->source_test.x, data->source_test.rows, data->dim,
                         spec->network.activation, S, &err) != AKT_OK ||
        dense_flow_sample(flow, spec->seed, replica, &err) != AKT_OK) {
        fprintf(stderr, "bench_grid: dense: %s\n", err.message);
        dense_flow_free(flow);
        return 1;
    }
    return 0;
}

/* The dense flow to `time` in steps of dt (the last step shortened to land on time). */
static int dense_run(const akt_spec *spec, const akt_data *data, size_t S, double dt, double time,
                     unsigned long replica, run_result *out)
{
    double *keep = out->f;
    memset(out, 0, sizeof *out);
    out->f = keep;
    bench_reset_peak_rss();
    dense_flow flow;
    double start = bench_now();
    if (dense_setup(spec, data, S, replica, &flow))
        return 1;
    akt_error err = {0};
    double gamma = spec->source.gamma, lambda = spec->source.weight_decay;
    long whole = (long)floor(time / dt * (1.0 + 1e-12));
    double rest = time - (double)whole * dt;
    dgemm_count before = dgemm_counter_read();
    int status = dense_flow_run(&flow, gamma, lambda, dt, whole, &err);
    if (status == AKT_OK && rest > 1e-12 * time)
        status = dense_flow_run(&flow, gamma, lambda, rest, 1, &err);
    size_t P = flow.P, Mt = flow.M - P;
    double *f = malloc((Mt ? Mt : 1) * sizeof *f);
    if (status == AKT_OK && f) {
        dense_flow_predict(&flow, gamma, P, Mt, f);
        out->test_loss = akt_mean_squared_error(f, data->source_test.y, Mt);
        if (out->f)
            memcpy(out->f, f, Mt * sizeof *f);
    } else {
        fprintf(stderr, "bench_grid: dense: %s\n", f ? err.message : "out of memory");
        status = AKT_ERR_NUMERIC;
    }
    out->seconds = bench_now() - start;
    out->dgemm = dgemm_counter_difference(dgemm_counter_read(), before);
    out->steps = flow.steps;
    out->peak_mib = bench_peak_rss_mib();
    free(f);
    dense_flow_free(&flow);
    return status == AKT_OK ? 0 : 1;
}

/* Seconds per dense Euler step at S (fixed shapes: the cost does not depend on the state). */
static int dense_step_cost(const akt_spec *spec, const akt_data *data, size_t S, int steps,
                           double *per_step, double *peak_mib)
{
    bench_reset_peak_rss();
    dense_flow flow;
    if (dense_setup(spec, data, S, 0, &flow))
        return 1;
    akt_error err = {0};
    double gamma = spec->source.gamma, lambda = spec->source.weight_decay;
    int status = dense_flow_run(&flow, gamma, lambda, 1e-4, 1, &err); /* untimed warm-up */
    double start = bench_now();
    if (status == AKT_OK)
        status = dense_flow_run(&flow, gamma, lambda, 1e-4, steps, &err);
    *per_step = (bench_now() - start) / steps;
    *peak_mib = bench_peak_rss_mib();
    dense_flow_free(&flow);
    if (status != AKT_OK)
        fprintf(stderr, "bench_grid: dense step cost: %s\n", err.message);
    return status == AKT_OK ? 0 : 1;
}

/* ---- equal accuracy ------------------------------------------------------------------------- */

#define LADDER 4
#define TOLERANCES 2

/* The dense dt ladder and akt's tolerance ladder at S_ref (see the file comment). Fills the
 * calibration (akt at the chosen tolerance is the calibration run) and writes one CSV row per
 * run. */
static int accuracy_ladder(const grid_options *o, const akt_spec *spec, const akt_data *data,
                           long P, double base_tolerance, calibration *cal, FILE *csv)
{
    size_t S = (size_t)o->calibrate_neurons;
    double T = spec->source.time;
    run_result akt[TOLERANCES] = {{0}}, dense[LADDER] = {{0}};
    double tolerances[TOLERANCES] = {base_tolerance, base_tolerance / 10};
    for (int k = 0; k < TOLERANCES; k++)
        if (akt_run(spec, data, S, tolerances[k], T, 0, &akt[k]))
            return 1;
    double lambda_max = akt[TOLERANCES - 1].lambda_max, dt0 = exp2(floor(log2(1.0 / lambda_max)));
    for (int k = 0; k < LADDER; k++)
        if (dense_run(spec, data, S, dt0 / exp2(k), T, 0, &dense[k]))
            return 1;
    /* Euler is first order: L(dt) = L* + c dt, so L* = 2 L(dt/2) - L(dt). */
    double reference = 2.0 * dense[LADDER - 1].test_loss - dense[LADDER - 2].test_loss;
    double target = o->accuracy_target;
    cal->dense_dt = 0.0;
    cal->dense_dt_kind = "none";
    for (int k = 0; k < LADDER && cal->dense_dt == 0.0; k++)
        if (fabs(dense[k].test_loss - reference) <= target * fabs(reference)) {
            cal->dense_dt = dt0 / exp2(k);
            cal->dense_dt_kind = "accuracy";
        }
    int chosen = TOLERANCES - 1;
    for (int k = TOLERANCES - 1; k >= 0; k--)
        if (fabs(akt[k].test_loss - reference) <= target * fabs(reference))
            chosen = k;
    cal->calibrated = cal->accuracy_checked = true;
    cal->tolerance = tolerances[chosen];
    cal->akt_error = fabs(akt[chosen].test_loss - reference) / fabs(reference);
    cal->steps = akt[chosen].steps;
    cal->rejected = akt[chosen].rejected;
    cal->attempts = (double)(akt[chosen].steps + akt[chosen].rejected);
    cal->lambda_max = akt[chosen].lambda_max;
    cal->seconds = akt[chosen].seconds;
    cal->test_loss = akt[chosen].test_loss;
    for (int k = 0; k < TOLERANCES; k++)
        fprintf(csv, "%ld,%zu,%g,akt,step_tolerance,%g,%ld,%.4f,%.10f,%.10f,%.3e\n", P, S, T,
                tolerances[k], akt[k].steps + akt[k].rejected, akt[k].seconds, akt[k].test_loss,
                reference, fabs(akt[k].test_loss - reference) / fabs(reference));
    for (int k = 0; k < LADDER; k++)
        fprintf(csv, "%ld,%zu,%g,dense,dt,%g,%ld,%.4f,%.10f,%.10f,%.3e\n", P, S, T, dt0 / exp2(k),
                dense[k].steps, dense[k].seconds, dense[k].test_loss, reference,
                fabs(dense[k].test_loss - reference) / fabs(reference));
    fflush(csv);
    printf("accuracy P = %ld, S = %zu, T = %g: reference test loss %.8f (Richardson, dense dt "
           "%g and %g); akt tolerance %g: error %.2e; dense dt for %.0e: %g (%s)\n",
           P, S, T, reference, dt0 / exp2(LADDER - 2), dt0 / exp2(LADDER - 1), cal->tolerance,
           cal->akt_error, target, cal->dense_dt, cal->dense_dt_kind);
    return 0;
}

/* ---- extrapolation in P --------------------------------------------------------------------- */

/* Least-squares power law log y = a + b log P through the calibrated P; false if < 2. */
static bool power_law(const long *P, const calibration *cal, size_t n, bool use_lambda,
                      double *a, double *b)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cal[i].calibrated)
            continue;
        double x = log((double)P[i]), y = log(use_lambda ? cal[i].lambda_max : cal[i].attempts);
        sx += x, sy += y, sxx += x * x, sxy += x * y;
        count++;
    }
    if (count < 2 || sxx * count - sx * sx <= 0)
        return false;
    *b = (count * sxy - sx * sy) / (count * sxx - sx * sx);
    *a = (sy - *b * sx) / count;
    return true;
}

/* ---- one cell ------------------------------------------------------------------------------- */

typedef struct {
    long P, S, S_measured;
    double dgemm_rate, akt_per_step, akt_loop_rate, akt_dgemm_share, akt_products;
    double akt_attempts, akt_seconds, akt_peak;
    const char *akt_seconds_kind, *akt_peak_kind, *steps_kind;
    double dense_per_step, dense_rate, dense_dt, dense_steps, dense_seconds, dense_peak;
    double dense_bound_seconds;
    const char *dense_seconds_kind, *dense_peak_kind, *dense_dt_kind;
} cell_result;

static long fitting_neurons(long S, double (*memory)(const akt_data *, size_t),
                            const akt_data *data, double limit)
{
    long fit = S;
    while (fit > 2 && memory(data, (size_t)fit) > limit)
        fit /= 2;
    return fit - fit % 2;
}

static int measure_cell(const grid_options *o, const akt_spec *spec, const akt_data *data,
                        const calibration *cal, long S, cell_result *c)
{
    long P = (long)data->source.rows, Mt = (long)data->source_test.rows;
    double T = spec->source.time;
    memset(c, 0, sizeof *c);
    c->P = P;
    c->S = S;
    c->S_measured = fitting_neurons(S, akt_population_memory_gib, data, o->memory_limit_gib);
    double scale = (double)S / (double)c->S_measured;
    int repeats = o->repeats;

    /* hardware: one S x P x P product, median of repeats */
    c->dgemm_rate = bench_dgemm_gflops(c->S_measured, P, P, repeats < 3 ? 3 : repeats);

    /* akt per step, median over repeats (one repeat when a measurement is long) */
    double per_step[MAX_LIST];
    dgemm_count work = {0, 0, 0};
    int done = 0;
    for (int r = 0; r < repeats; r++) {
        double start = bench_now(), peak;
        if (akt_step_cost(spec, data, (size_t)c->S_measured, cal->tolerance, &per_step[r], &work,
                          &peak))
            return 1;
        c->akt_peak = peak;
        done++;
        if (bench_now() - start > 60.0)
            break;
    }
    double measured_step = bench_median(per_step, done);
    c->akt_per_step = measured_step * scale;
    c->akt_products = work.flops / (2.0 * (double)c->S_measured * (double)P * (double)P);
    c->akt_loop_rate = work.flops / measured_step / 1e9;
    c->akt_dgemm_share = work.seconds / measured_step;
    c->akt_peak_kind = "measured";
    if (scale > 1.0) {
        c->akt_peak = akt_population_memory_gib(data, (size_t)S) * 1024.0;
        c->akt_peak_kind = "estimate";
    }

    /* akt to T */
    c->akt_attempts = cal->attempts;
    c->steps_kind = cal->calibrated ? "measured at S_ref" : "extrapolated";
    c->akt_seconds = c->akt_per_step * cal->attempts;
    c->akt_seconds_kind = "model";
    if (cal->calibrated && S == o->calibrate_neurons) {
        c->akt_seconds = cal->seconds;
        c->akt_seconds_kind = "measured";
    } else if (scale == 1.0 && c->akt_seconds <= o->full_budget && cal->attempts > 0) {
        run_result full = {0};
        if (akt_run(spec, data, (size_t)S, cal->tolerance, T, 0, &full))
            return 1;
        c->akt_seconds = full.seconds;
        c->akt_attempts = (double)(full.steps + full.rejected);
        c->akt_seconds_kind = "measured";
        c->steps_kind = "measured";
    }

    /* dense per step */
    long S_dense = fitting_neurons(S, dense_memory_gib, data, o->memory_limit_gib);
    double dense_scale = (double)S / (double)S_dense;
    double dense_steps[MAX_LIST];
    done = 0;
    for (int r = 0; r < repeats; r++) {
        double start = bench_now(), peak;
        if (dense_step_cost(spec, data, (size_t)S_dense, 2, &dense_steps[r], &peak))
            return 1;
        c->dense_peak = peak;
        done++;
        if (bench_now() - start > 60.0)
            break;
    }
    c->dense_per_step = bench_median(dense_steps, done) * dense_scale;
    c->dense_rate = 2.0 * (double)S * (double)P * (double)(P + Mt) / c->dense_per_step / 1e9;
    c->dense_peak_kind = "measured";
    if (dense_scale > 1.0) {
        c->dense_peak = dense_memory_gib(data, (size_t)S) * 1024.0;
        c->dense_peak_kind = "estimate";
    }
    /* dense to T: at the accuracy step if known; the stability bound always */
    c->dense_bound_seconds = c->dense_per_step * ceil(T * cal->lambda_max / 2.0);
    c->dense_dt = cal->dense_dt;
    c->dense_dt_kind = cal->dense_dt_kind;
    c->dense_seconds = NAN;
    c->dense_seconds_kind = "none";
    if (cal->dense_dt > 0) {
        c->dense_steps = ceil(T / cal->dense_dt * (1.0 - 1e-12));
        c->dense_seconds = c->dense_per_step * c->dense_steps;
        c->dense_seconds_kind = "model";
        if (dense_scale == 1.0 && c->dense_seconds <= o->full_budget) {
            run_result full = {0};
            if (dense_run(spec, data, (size_t)S, cal->dense_dt, T, 0, &full))
                return 1;
            c->dense_seconds = full.seconds;
            c->dense_seconds_kind = "measured";
        }
    }
    return 0;
}

static void print_cell_csv(FILE *csv, const cell_result *c, const calibration *cal, double T)
{
    fprintf(csv,
            "%ld,%ld,%g,%ld,%.1f,%.6g,%.1f,%.3f,%.2f,%.0f,%s,%.4g,%s,%.0f,%s,%g,%.3g,%s,%.6g,%.1f,"
            "%g,%s,%.0f,%.4g,%s,%.4g,%.0f,%s,%.3g,%.3g\n",
            c->P, c->S, T, c->S_measured, c->dgemm_rate, c->akt_per_step, c->akt_loop_rate,
            c->akt_loop_rate / c->dgemm_rate, c->akt_products, c->akt_attempts, c->steps_kind,
            c->akt_seconds, c->akt_seconds_kind, c->akt_peak, c->akt_peak_kind, cal->tolerance,
            cal->accuracy_checked ? cal->akt_error : NAN, cal->accuracy_checked ? "yes" : "no",
            c->dense_per_step, c->dense_rate, c->dense_dt, c->dense_dt_kind, c->dense_steps,
            c->dense_seconds, c->dense_seconds_kind, c->dense_bound_seconds, c->dense_peak,
            c->dense_peak_kind, c->dense_seconds / c->akt_seconds,
            c->dense_bound_seconds / c->akt_seconds);
    fflush(csv);
}

static void print_cell_markdown(const cell_result *c)
{
    printf("| %ld | %ld%s | %.3g | %.0f | %.0f | %.0f%% | %.1f | %.0f%s | %.4g (%s) | %.0f%s | "
           "%.3g | %.0f | %.4g (%s) | %.4g | %.0f%s | %.3g | %.3g |\n",
           c->P, c->S, c->S_measured != c->S ? "*" : "", c->akt_per_step, c->akt_loop_rate,
           c->dgemm_rate, 100.0 * c->akt_loop_rate / c->dgemm_rate, c->akt_products,
           c->akt_attempts, strcmp(c->steps_kind, "extrapolated") == 0 ? "~" : "",
           c->akt_seconds, c->akt_seconds_kind, c->akt_peak,
           strcmp(c->akt_peak_kind, "estimate") == 0 ? "~" : "", c->dense_per_step, c->dense_rate,
           c->dense_seconds, c->dense_seconds_kind, c->dense_bound_seconds, c->dense_peak,
           strcmp(c->dense_peak_kind, "estimate") == 0 ? "~" : "",
           c->dense_seconds / c->akt_seconds, c->dense_bound_seconds / c->akt_seconds);
    fflush(stdout);
}

static const char grid_csv_header[] =
    "P,S,T,S_measured,dgemm_gflops,akt_seconds_per_step,akt_loop_gflops,akt_loop_fraction_of_dgemm,"
    "akt_products_per_step,akt_steps_to_T,akt_steps_kind,akt_seconds_to_T,akt_seconds_kind,"
    "akt_peak_mib,akt_peak_kind,akt_step_tolerance,akt_accuracy_error,akt_accuracy_checked,"
    "dense_seconds_per_step,dense_gflops,dense_dt,dense_dt_kind,dense_steps_to_T,"
    "dense_seconds_to_T,dense_seconds_kind,dense_bound_seconds_to_T,dense_peak_mib,"
    "dense_peak_kind,ratio_dense_over_akt,ratio_bound_over_akt\n";

static const char accuracy_csv_header[] =
    "P,S,T,method,setting,value,steps,seconds,test_loss,reference,relative_error\n";

/* ---- validation (smoke): dense and akt on the same neurons ------------------------------------ */

static double relative_rms(const double *a, const double *b, size_t n)
{
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff += (a[i] - b[i]) * (a[i] - b[i]);
        norm += b[i] * b[i];
    }
    return norm > 0.0 ? sqrt(diff / norm) : INFINITY;
}

/* The dense Euler flow converges to akt's solution on the same neurons: at a tight akt
 * tolerance the RMS gap of the test predictions halves with dt (first order; the relu kinks
 * make Richardson extrapolation useless at small S) and is below 1e-3 at the finer step, while
 * the dense flow on another replica's neurons is far away (which shows the check can fail).
 * Both start from exactly zero predictions (antithetic pairs). */
static int validate(const akt_spec *spec, const akt_data *data, size_t S)
{
    size_t Mt = data->source_test.rows;
    double T = spec->source.time;
    double *fa = malloc(Mt * sizeof *fa), *fc = malloc(Mt * sizeof *fc);
    double *ff = malloc(Mt * sizeof *ff), *fo = malloc(Mt * sizeof *fo);
    run_result akt = {.f = fa}, coarse = {.f = fc}, fine = {.f = ff}, other = {.f = fo};
    int failed = !fa || !fc || !ff || !fo;
    failed = failed || akt_run(spec, data, S, 1e-6, T, 0, &akt);
    double dt = exp2(floor(log2(0.025 / fmax(akt.lambda_max, 1e-3))));
    failed = failed || dense_run(spec, data, S, dt, T, 0, &coarse) ||
             dense_run(spec, data, S, dt / 2, T, 0, &fine) ||
             dense_run(spec, data, S, dt / 2, T, 1, &other);
    if (!failed) {
        double gap_coarse = relative_rms(fc, fa, Mt), gap_fine = relative_rms(ff, fa, Mt);
        double replica = relative_rms(fo, fa, Mt);
        double loss_gap = fabs(akt.test_loss - fine.test_loss) / akt.test_loss;
        printf("validation (P = %zu, S = %zu, T = %g): akt at step_tolerance 1e-6 vs dense Euler "
               "on the same neurons: test predictions differ by %.2e (dt %g) and %.2e (dt %g) "
               "relative RMS (ratio %.2f, first order: 2), test loss by %.2e relative; dense on "
               "another replica's neurons differs by %.2e\n",
               data->source.rows, S, T, gap_coarse, dt, gap_fine, dt / 2, gap_coarse / gap_fine,
               loss_gap, replica);
        double order = gap_coarse / gap_fine;
        failed = !(gap_fine < 1e-3 && order > 1.5 && order < 2.7 && loss_gap < 1e-3 &&
                   replica > 100.0 * gap_fine);
        if (failed)
            fprintf(stderr, "bench_grid: validation FAILED: the dense reference does not "
                            "converge to akt's solution on the same neurons\n");
    }
    free(fa);
    free(fc);
    free(ff);
    free(fo);
    return failed;
}

/* ---- main ----------------------------------------------------------------------------------- */

static int parse_options(int argc, char **argv, grid_options *o)
{
    *o = (grid_options){.spec_path = "bench/specs/grid_relu.yaml", .calibrate_neurons = 1024,
                        .full_max_P = 1000, .accuracy_max_P = 300, .full_budget = 60.0,
                        .accuracy_target = 1e-3, .memory_limit_gib = 6.0, .repeats = 3};
    o->P[0] = 100, o->P[1] = 300, o->P_count = 2;
    o->S[0] = 1024, o->S[1] = 8192, o->S_count = 2;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true, takes_value = true;
        if (strcmp(arg, "--smoke") == 0)
            o->smoke = true, takes_value = false;
        else if (strcmp(arg, "--accuracy") == 0)
            o->accuracy = true, takes_value = false;
        else if (!value)
            ok = false;
        else if (strcmp(arg, "--spec") == 0)
            o->spec_path = value;
        else if (strcmp(arg, "--csv") == 0)
            o->csv_path = value;
        else if (strcmp(arg, "--accuracy-csv") == 0)
            o->accuracy_csv_path = value;
        else if (strcmp(arg, "--commit") == 0)
            o->commit = value;
        else if (strcmp(arg, "--set") == 0)
            ok = o->set_count < MAX_SETS, o->sets[o->set_count++ % MAX_SETS] = value;
        else if (strcmp(arg, "--P") == 0)
            ok = bench_parse_list(value, o->P, MAX_LIST, &o->P_count);
        else if (strcmp(arg, "--S") == 0)
            ok = bench_parse_list(value, o->S, MAX_LIST, &o->S_count);
        else if (strcmp(arg, "--calibrate-neurons") == 0)
            o->calibrate_neurons = atol(value);
        else if (strcmp(arg, "--full-max-P") == 0)
            o->full_max_P = atol(value);
        else if (strcmp(arg, "--accuracy-max-P") == 0)
            o->accuracy_max_P = atol(value);
        else if (strcmp(arg, "--full-budget") == 0)
            o->full_budget = atof(value);
        else if (strcmp(arg, "--accuracy-target") == 0)
            o->accuracy_target = atof(value);
        else if (strcmp(arg, "--memory-limit") == 0)
            o->memory_limit_gib = atof(value);
        else if (strcmp(arg, "--repeats") == 0)
            o->repeats = atoi(value);
        else if (strcmp(arg, "--clock") == 0)
            ok = bench_set_clock(value);
        else
            ok = false;
        if (!ok) {
            fprintf(stderr, "bench_grid: bad or unknown argument %s (see the comment at the top "
                            "of bench/bench_grid.c)\n", arg);
            return 2;
        }
        i += takes_value;
    }
    if (o->repeats < 1 || o->repeats > MAX_LIST || o->calibrate_neurons < 2 ||
        o->calibrate_neurons % 2) {
        fprintf(stderr, "bench_grid: --repeats must be 1..%d, --calibrate-neurons even\n",
                MAX_LIST);
        return 2;
    }
    return 0;
}

static FILE *open_csv(const char *path, const char *header)
{
    if (!path)
        return fopen("/dev/null", "w");
    FILE *file = fopen(path, "a+");
    if (!file) {
        fprintf(stderr, "bench_grid: cannot open %s\n", path);
        return NULL;
    }
    fseek(file, 0, SEEK_END);
    if (ftell(file) == 0)
        fputs(header, file);
    return file;
}

static void smoke_options(grid_options *o)
{
    o->P[0] = 24, o->P_count = 1;
    o->S[0] = 64, o->S[1] = 128, o->S_count = 2;
    o->calibrate_neurons = 64;
    o->accuracy = true;
    o->accuracy_max_P = 24;
    o->repeats = 1;
    o->full_budget = 5.0;
    o->sets[o->set_count++] = "data.test.samples=64";
    o->sets[o->set_count++] = "source.time=2";
}

int main(int argc, char **argv)
{
    grid_options o;
    int status = parse_options(argc, argv, &o);
    if (status)
        return status;
    if (o.smoke)
        smoke_options(&o);
    FILE *csv = open_csv(o.csv_path, grid_csv_header);
    FILE *accuracy_csv = open_csv(o.accuracy_csv_path, accuracy_csv_header);
    if (!csv || !accuracy_csv)
        return 2;
    bench_print_machine(stdout, o.commit);
    calibration cal[MAX_LIST];
    memset(cal, 0, sizeof cal);
    printf("\n| P | S | akt s/step | akt loop GFLOP/s | DGEMM GFLOP/s | loop/DGEMM | products/step "
           "| akt steps to T | akt s to T | akt peak MiB | dense s/step | dense GFLOP/s | dense s "
           "to T | dense s to T, stability bound | dense peak MiB | ratio | ratio, bound |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < o.P_count && status == 0; i++) {
        long P = o.P[i];
        akt_spec spec;
        akt_data data;
        if (load_problem(&o, P, &spec, &data))
            return 2;
        double T = spec.source.time, base_tolerance = spec.solver.step_tolerance;
        calibration *c = &cal[i];
        c->tolerance = base_tolerance;
        c->dense_dt_kind = "none";
        if (o.smoke && validate(&spec, &data, (size_t)o.calibrate_neurons))
            status = 1;
        if (status == 0 && o.accuracy && P <= o.accuracy_max_P) {
            status = accuracy_ladder(&o, &spec, &data, P, base_tolerance, c, accuracy_csv);
        } else if (status == 0 && P <= o.full_max_P) {
            run_result full = {0};
            status = akt_run(&spec, &data, (size_t)o.calibrate_neurons, base_tolerance, T, 0,
                             &full);
            c->calibrated = status == 0;
            c->attempts = (double)(full.steps + full.rejected);
            c->steps = full.steps, c->rejected = full.rejected;
            c->lambda_max = full.lambda_max;
            c->seconds = full.seconds;
            c->test_loss = full.test_loss;
        } else if (status == 0) {
            double a, b, la, lb;
            if (power_law(o.P, cal, i, false, &a, &b) && power_law(o.P, cal, i, true, &la, &lb)) {
                c->attempts = exp(a + b * log((double)P));
                c->lambda_max = exp(la + lb * log((double)P));
                printf("P = %ld: steps to T extrapolated as %.3g P^%.2f = %.0f, lambda_max as "
                       "%.3g P^%.2f = %.0f\n", P, exp(a), b, c->attempts, exp(la), lb,
                       c->lambda_max);
            } else {
                printf("P = %ld: not calibrated (P > --full-max-P and fewer than two calibrated "
                       "P in this run): steps to T unknown\n", P);
                c->attempts = NAN;
                c->lambda_max = NAN;
            }
        }
        /* dense step for larger P: dt lambda_max of the largest accuracy-checked P */
        if (status == 0 && !c->accuracy_checked)
            for (size_t k = i; k-- > 0;)
                if (cal[k].accuracy_checked && cal[k].dense_dt > 0) {
                    c->dense_dt = cal[k].dense_dt * cal[k].lambda_max / c->lambda_max;
                    c->dense_dt_kind = "scaled";
                    break;
                }
        for (size_t j = 0; j < o.S_count && status == 0; j++) {
            cell_result cell;
            status = measure_cell(&o, &spec, &data, c, o.S[j], &cell);
            if (status == 0) {
                print_cell_csv(csv, &cell, c, T);
                print_cell_markdown(&cell);
            }
        }
        akt_data_free(&data);
        akt_spec_free(&spec);
    }
    printf("\nakt s/step: per attempted step (accepted or rejected); products/step: DGEMM work of "
           "a step in S x P x P products (measured by wrapping cblas_dgemm); loop GFLOP/s: that "
           "work over the step's time; S*: measured at a smaller S that fits "
           "--memory-limit and scaled linearly; ~: extrapolated or estimated; ratio: dense time "
           "to T at equal accuracy over akt's; ratio, bound: with the dense step at the forward "
           "Euler stability limit 2/lambda_max (a lower bound on any dense run)\n");
    fclose(csv);
    fclose(accuracy_csv);
    return status;
}
