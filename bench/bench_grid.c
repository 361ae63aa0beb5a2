/* bench_grid.c: the population solver's cost against problem size, against the dense reference
 * formulation, and against the hardware (issue 6, "Benchmarks").
 *
 * One training phase (the source phase of the spec, default bench/specs/grid_relu.yaml) with P
 * training points, for every cell (P, S) of a grid:
 *   - akt: seconds per integrator step, the median of --timed-steps single accepted steps of one
 *     run (timed between consecutive accepted steps by the population's observer hook; the
 *     phase's fixed work before the first accepted step is not a step), the steps to reach T
 *     and the seconds to T. The product work of a step (cblas_dgemm and cblas_dsyrk) and the
 *     time of its P x P eigendecomposition (LAPACKE_dsyevd) are counted by wrapping those
 *     functions (dgemm_counter.h), so "hot loop GFLOP/s" is measured product flops over the
 *     step's time, printed next to the rate of one S x P x P DGEMM measured in the same process;
 *   - dense: the dense formulation of bench/dense_reference.h on the same neurons, per step
 *     (median of --timed-steps single steps) and to T at the Euler step that reaches the same
 *     accuracy (below);
 *   - peak resident memory of each (getrusage, high-water mark reset between phases).
 * A cell whose memory estimate (akt_population_memory_gib, or the dense flow's) exceeds
 * --memory-limit GiB is skipped and says so (the machine is shared).
 *
 * Steps to T come from the equal-accuracy ladder (below) at that P, or from a calibration run to
 * T at S_ref = --calibrate-neurons for P <= --full-max-P, or else from a power law in P fitted
 * to the ladder's step counts at the same tolerance (marked "extrapolated"). The steps hardly
 * depend on S (they follow the flow, not the sample; compare the "measured" cells), so the time
 * to T is seconds per step at S times those steps ("model"), unless the run fits in
 * --full-budget seconds: then it is run and measured ("measured"), as the median of --repeats
 * runs when one run takes less than --repeat-budget seconds.
 *
 * Equal accuracy (--accuracy, for P <= --accuracy-max-P), at the ladder's S (--ladder-neurons,
 * one per P of --P, default S_ref): the dense Euler flow is run at dt_k = dt_0/2^k, k = 0..3
 * (dt_0 the largest power of 2 with dt_0 lambda_max <= 1), and the reference test loss is the
 * Richardson extrapolation of the two finest (Euler is first order); akt runs at each
 * --tolerances value. The dense step used in the grid is the coarsest whose error is
 * <= --accuracy-target (relative test loss) or, when even the finest misses it, the finest
 * halved until its error, first order in dt, would ("first-order model"); akt's tolerance is the
 * loosest that reaches the target (the tightest if none does; its error is printed). A P without a ladder uses the tolerance of the
 * largest checked P, and the dense step dt = c/lambda_max with c = dt lambda_max of that P
 * ("scaled"); the stability bound dt = 2/lambda_max (no forward Euler step can be larger)
 * gives a lower bound on the dense time in every cell.
 *
 * Usage: bench_grid [--spec FILE] [--P 100,300] [--S 1024,8192] [--set key=value]...
 *        [--calibrate-neurons 1024] [--full-max-P 1000] [--full-budget 60] [--accuracy]
 *        [--accuracy-max-P 300] [--accuracy-target 1e-3] [--tolerances 1e-2,1e-3]
 *        [--ladder-neurons 1024,1024] [--memory-limit 10] [--repeats 3] [--repeat-budget 30]
 *        [--timed-steps 5] [--csv FILE] [--accuracy-csv FILE] [--commit HASH]
 *        [--clock cpu|wall] [--smoke] [--akt-ladder --references 0.866,0.255]
 * (--tolerances default: the spec's step_tolerance and a tenth of it.)
 * Seconds are process CPU time unless --clock wall (bench_util.h: the machine is shared).
 * --smoke: a tiny grid plus the validation of the dense reference against akt (same neurons,
 * agreement of the test predictions); exits 1 if the validation fails.
 * --akt-ladder: only akt's half of the equal-accuracy ladder (each --tolerances value at the
 * ladder's S, steps and test loss), against reference test losses given by --references (one per
 * P, e.g. the Richardson references of an earlier full ladder in grid_accuracy.csv: the dense runs
 * are deterministic, same data and neurons, so their reference does not change with akt's
 * integrator). For remeasuring akt after an integrator change without the dense ladders (45 CPU
 * minutes at P = 1000). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akt/data.h"
#include "akt/population.h"
#include "akt/spec.h"
#include "akt/solve.h"

#include "bench_util.h"
#include "dense_reference.h"
#include "dgemm_counter.h"

#define MAX_LIST 16
#define MAX_SETS 16
#define MAX_TIMED 32

typedef struct {
    const char *spec_path, *csv_path, *accuracy_csv_path, *commit;
    const char *sets[MAX_SETS];
    size_t set_count;
    long P[MAX_LIST], S[MAX_LIST], ladder_neurons[MAX_LIST];
    size_t P_count, S_count, ladder_neuron_count;
    double tolerances[MAX_LIST];
    size_t tolerance_count;
    long calibrate_neurons, full_max_P, accuracy_max_P;
    double full_budget, repeat_budget, accuracy_target, memory_limit_gib;
    int repeats, timed_steps;
    bool accuracy, smoke, akt_ladder;
    double references[MAX_LIST];
    size_t reference_count;
} grid_options;

/* What one P's calibration established. */
typedef struct {
    bool calibrated;           /* a full akt run to T happened at this P */
    long neurons;              /* the S of that run */
    double attempts;           /* accepted + rejected steps to T (measured or extrapolated) */
    double lambda_max;         /* NTK lambda_max at T */
    double seconds;            /* that run's time to T */
    int runs;                  /* runs behind `seconds` (median) */
    double tolerance;          /* akt step_tolerance used in the grid */
    bool accuracy_checked;     /* the ladder ran at this P */
    double akt_error;          /* relative test-loss error of akt at `tolerance` */
    double ladder_attempts[MAX_LIST]; /* steps to T at each --tolerances value (ladder only) */
    double dense_dt;           /* dense step for the accuracy target, 0 if not known */
    const char *dense_dt_kind; /* "accuracy", "scaled" or "none" */
} calibration;

/* One measured akt or dense run. */
typedef struct {
    double seconds;            /* median over `runs` runs */
    int runs;
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
    out->runs = 1;
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

/* akt_run, repeated (up to `repeats` runs while one takes less than `budget` seconds): seconds
 * is the median; the rest is the first run's (the runs are identical but for their time). */
static int akt_run_repeated(const akt_spec *spec, const akt_data *data, size_t S,
                            double tolerance, double time, int repeats, double budget,
                            run_result *out)
{
    double seconds[MAX_LIST];
    if (akt_run(spec, data, S, tolerance, time, 0, out))
        return 1;
    seconds[0] = out->seconds;
    int runs = 1;
    run_result again = {0};
    while (runs < repeats && runs < MAX_LIST && out->seconds < budget) {
        if (akt_run(spec, data, S, tolerance, time, 0, &again))
            return 1;
        seconds[runs++] = again.seconds;
    }
    out->seconds = bench_median(seconds, runs);
    out->runs = runs;
    return 0;
}

/* The observer of akt_step_cost: times the intervals between consecutive accepted steps (each
 * one step, or a rejected attempt and a step), with their product work, and stops the run once
 * it has `wanted` of them. */
typedef struct {
    int wanted, seen;
    double last;
    dgemm_count last_work;
    double seconds[MAX_TIMED], flops[MAX_TIMED], eigen[MAX_TIMED];
} step_timer;

#define ENOUGH_STEPS "bench_grid: enough steps timed"

static int time_step(void *context, double t, akt_population *pop, akt_error *err)
{
    (void)t, (void)pop;
    step_timer *timer = context;
    double now = bench_now();
    dgemm_count work = dgemm_counter_read();
    if (timer->seen > 0) {
        int k = timer->seen - 1;
        dgemm_count d = dgemm_counter_difference(work, timer->last_work);
        timer->seconds[k] = now - timer->last;
        timer->flops[k] = d.flops;
        timer->eigen[k] = d.eigen_seconds;
    }
    timer->seen++;
    timer->last = bench_now(); /* the observer's own time is not a step's */
    timer->last_work = dgemm_counter_read();
    if (timer->seen > timer->wanted)
        return akt_error_set(err, AKT_ERR_NUMERIC, ENOUGH_STEPS);
    return AKT_OK;
}

/* What a step of akt costs at S: medians over the timed steps. */
typedef struct {
    double seconds, flops, eigen_seconds, peak_mib;
    int timed;
} step_cost;

/* Seconds per akt step at S: the median of `wanted` single accepted steps of one source run
 * (the run starts like any other: its first step's fixed work is not timed). */
static int akt_step_cost(const akt_spec *spec, const akt_data *data, size_t S, double tolerance,
                         int wanted, step_cost *cost)
{
    akt_error err = {0};
    bench_reset_peak_rss();
    akt_population *pop = akt_population_alloc(data, spec->network.activation, S, &err);
    if (!pop) {
        fprintf(stderr, "bench_grid: %s\n", err.message);
        return 1;
    }
    step_timer timer = {.wanted = wanted < MAX_TIMED ? wanted : MAX_TIMED};
    akt_population_set_observer(pop, time_step, &timer);
    akt_population_sample(pop, spec->seed, 0);
    akt_population_phase phase = source_phase(spec, tolerance, spec->source.time);
    akt_population_run run;
    int status = akt_population_run_source(pop, &phase, &run, &err);
    int timed = timer.seen - 1;
    if (status != AKT_OK && strcmp(err.message, ENOUGH_STEPS) == 0)
        status = AKT_OK;
    if (status == AKT_OK && timed >= 1) {
        cost->timed = timed;
        cost->seconds = bench_median(timer.seconds, timed);
        cost->flops = bench_median(timer.flops, timed);
        cost->eigen_seconds = bench_median(timer.eigen, timed);
    } else {
        fprintf(stderr, "bench_grid: akt step cost: %s\n",
                status == AKT_OK ? "fewer than two steps to T" : err.message);
        status = AKT_ERR_NUMERIC;
    }
    cost->peak_mib = bench_peak_rss_mib();
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
    out->runs = 1;
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

/* dense_run, repeated like akt_run_repeated. */
static int dense_run_repeated(const akt_spec *spec, const akt_data *data, size_t S, double dt,
                              double time, int repeats, double budget, run_result *out)
{
    double seconds[MAX_LIST];
    if (dense_run(spec, data, S, dt, time, 0, out))
        return 1;
    seconds[0] = out->seconds;
    int runs = 1;
    run_result again = {0};
    while (runs < repeats && runs < MAX_LIST && out->seconds < budget) {
        if (dense_run(spec, data, S, dt, time, 0, &again))
            return 1;
        seconds[runs++] = again.seconds;
    }
    out->seconds = bench_median(seconds, runs);
    out->runs = runs;
    return 0;
}

/* Seconds per dense Euler step at S: the median of `wanted` single steps after an untimed one
 * (fixed shapes: the cost does not depend on the state). */
static int dense_step_cost(const akt_spec *spec, const akt_data *data, size_t S, int wanted,
                           step_cost *cost)
{
    bench_reset_peak_rss();
    dense_flow flow;
    if (dense_setup(spec, data, S, 0, &flow))
        return 1;
    akt_error err = {0};
    double gamma = spec->source.gamma, lambda = spec->source.weight_decay;
    double seconds[MAX_TIMED];
    wanted = wanted < MAX_TIMED ? wanted : MAX_TIMED;
    int status = dense_flow_run(&flow, gamma, lambda, 1e-4, 1, &err); /* untimed warm-up */
    for (int k = 0; k < wanted && status == AKT_OK; k++) {
        double start = bench_now();
        status = dense_flow_run(&flow, gamma, lambda, 1e-4, 1, &err);
        seconds[k] = bench_now() - start;
    }
    cost->timed = wanted;
    cost->seconds = bench_median(seconds, wanted);
    cost->flops = dense_flow_step_flops(&flow);
    cost->eigen_seconds = 0.0;
    cost->peak_mib = bench_peak_rss_mib();
    dense_flow_free(&flow);
    if (status != AKT_OK)
        fprintf(stderr, "bench_grid: dense step cost: %s\n", err.message);
    return status == AKT_OK ? 0 : 1;
}

/* ---- equal accuracy ------------------------------------------------------------------------- */

#define LADDER 4

/* The dense dt ladder and akt's tolerance ladder at the ladder's S (see the file comment).
 * Fills the calibration (akt at the chosen tolerance is the calibration run) and writes one CSV
 * row per run. */
static int accuracy_ladder(const grid_options *o, const akt_spec *spec, const akt_data *data,
                           long P, size_t S, calibration *cal, FILE *csv)
{
    double T = spec->source.time;
    size_t n = o->tolerance_count;
    run_result akt[MAX_LIST] = {{0}}, dense[LADDER] = {{0}};
    for (size_t k = 0; k < n; k++)
        if (akt_run_repeated(spec, data, S, o->tolerances[k], T, o->repeats, o->repeat_budget,
                             &akt[k]))
            return 1;
    double lambda_max = akt[n - 1].lambda_max, dt0 = exp2(floor(log2(1.0 / lambda_max)));
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
    if (cal->dense_dt == 0.0) { /* not reached: halve the finest step until first order says so */
        double finest = fabs(dense[LADDER - 1].test_loss - reference) / fabs(reference);
        cal->dense_dt = dt0 / exp2(LADDER - 1 + ceil(log2(finest / target)));
        cal->dense_dt_kind = "first-order model";
    }
    size_t chosen = n - 1;
    for (size_t k = n; k-- > 0;)
        if (fabs(akt[k].test_loss - reference) <= target * fabs(reference))
            chosen = k;
    for (size_t k = 0; k < n; k++)
        cal->ladder_attempts[k] = (double)(akt[k].steps + akt[k].rejected);
    cal->calibrated = cal->accuracy_checked = true;
    cal->neurons = (long)S;
    cal->tolerance = o->tolerances[chosen];
    cal->akt_error = fabs(akt[chosen].test_loss - reference) / fabs(reference);
    cal->attempts = cal->ladder_attempts[chosen];
    cal->lambda_max = akt[chosen].lambda_max;
    cal->seconds = akt[chosen].seconds;
    cal->runs = akt[chosen].runs;
    for (size_t k = 0; k < n; k++)
        fprintf(csv, "%ld,%zu,%g,akt,step_tolerance,%g,%ld,%.4f,%.10f,%.10f,%.3e\n", P, S, T,
                o->tolerances[k], akt[k].steps + akt[k].rejected, akt[k].seconds,
                akt[k].test_loss, reference, fabs(akt[k].test_loss - reference) / fabs(reference));
    for (int k = 0; k < LADDER; k++)
        fprintf(csv, "%ld,%zu,%g,dense,dt,%g,%ld,%.4f,%.10f,%.10f,%.3e\n", P, S, T, dt0 / exp2(k),
                dense[k].steps, dense[k].seconds, dense[k].test_loss, reference,
                fabs(dense[k].test_loss - reference) / fabs(reference));
    fflush(csv);
    printf("accuracy P = %ld, S = %zu, T = %g: reference test loss %.8f (Richardson, dense dt "
           "%g and %g);", P, S, T, reference, dt0 / exp2(LADDER - 2), dt0 / exp2(LADDER - 1));
    for (size_t k = 0; k < n; k++)
        printf(" akt tolerance %g: %.0f steps, error %.2e;", o->tolerances[k],
               cal->ladder_attempts[k], fabs(akt[k].test_loss - reference) / fabs(reference));
    printf(" chosen %g; dense dt for %.0e: %g (%s)\n", cal->tolerance, target, cal->dense_dt,
           cal->dense_dt_kind);
    return 0;
}

/* ---- extrapolation in P --------------------------------------------------------------------- */

/* Least-squares power law log y = a + b log x through the points with finite positive y; false
 * if fewer than two. */
static bool power_law(const double *x, const double *y, size_t n, double *a, double *b)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(y[i] > 0.0) || !isfinite(y[i]))
            continue;
        double lx = log(x[i]), ly = log(y[i]);
        sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
        count++;
    }
    if (count < 2 || sxx * count - sx * sx <= 0)
        return false;
    *b = (count * sxy - sx * sy) / (count * sxx - sx * sx);
    *a = (sy - *b * sx) / count;
    return true;
}

/* Index of `tolerance` in the ladder's list, or -1. */
static int tolerance_index(const grid_options *o, double tolerance)
{
    for (size_t k = 0; k < o->tolerance_count; k++)
        if (o->tolerances[k] == tolerance)
            return (int)k;
    return -1;
}

/* Steps to T and lambda_max at P = o->P[i] from the earlier P: steps at the same tolerance
 * (the ladder's runs), lambda_max over the calibrated P. */
static void extrapolate(const grid_options *o, calibration *cal, size_t i)
{
    double x[MAX_LIST], steps[MAX_LIST], lambdas[MAX_LIST], a, b, la, lb;
    int k = tolerance_index(o, cal[i].tolerance);
    for (size_t j = 0; j < i; j++) {
        x[j] = (double)o->P[j];
        steps[j] = cal[j].accuracy_checked && k >= 0 ? cal[j].ladder_attempts[k] : NAN;
        lambdas[j] = cal[j].calibrated ? cal[j].lambda_max : NAN;
    }
    long P = o->P[i];
    if (power_law(x, steps, i, &a, &b) && power_law(x, lambdas, i, &la, &lb)) {
        cal[i].attempts = exp(a + b * log((double)P));
        cal[i].lambda_max = exp(la + lb * log((double)P));
        printf("P = %ld: steps to T at tolerance %g extrapolated as %.3g P^%.2f = %.0f, "
               "lambda_max as %.3g P^%.2f = %.0f\n", P, cal[i].tolerance, exp(a), b,
               cal[i].attempts, exp(la), lb, cal[i].lambda_max);
    } else {
        printf("P = %ld: not calibrated (P > --full-max-P and fewer than two ladders at tolerance "
               "%g in this run): steps to T unknown\n", P, cal[i].tolerance);
        cal[i].attempts = NAN;
        cal[i].lambda_max = NAN;
    }
}

/* The tolerance and dense step of a P without a ladder: those of the largest checked P before
 * it (the dense step scaled by lambda_max, which bounds forward Euler's step). */
static void inherit_accuracy(calibration *cal, size_t i, double base)
{
    cal[i].tolerance = base;
    for (size_t k = i; k-- > 0;)
        if (cal[k].accuracy_checked) {
            cal[i].tolerance = cal[k].tolerance;
            cal[i].akt_error = cal[k].akt_error;
            return;
        }
}

static void scale_dense_step(calibration *cal, size_t i)
{
    for (size_t k = i; k-- > 0;)
        if (cal[k].accuracy_checked && cal[k].dense_dt > 0) {
            cal[i].dense_dt = cal[k].dense_dt * cal[k].lambda_max / cal[i].lambda_max;
            cal[i].dense_dt_kind = "scaled";
            return;
        }
}

/* ---- one cell ------------------------------------------------------------------------------- */

typedef struct {
    long P, S;
    bool skipped;
    double memory_gib, dense_memory_gib;
    double dgemm_rate, akt_per_step, akt_loop_rate, akt_products, akt_eigen_share;
    double akt_attempts, akt_seconds, akt_peak;
    int akt_timed, akt_runs;
    long steps_neurons;
    const char *akt_seconds_kind, *steps_kind;
    double dense_per_step, dense_rate, dense_dt, dense_steps, dense_seconds, dense_peak;
    double dense_bound_seconds;
    int dense_timed, dense_runs;
    const char *dense_seconds_kind, *dense_dt_kind;
} cell_result;

static int measure_akt(const grid_options *o, const akt_spec *spec, const akt_data *data,
                       const calibration *cal, cell_result *c)
{
    long P = c->P, S = c->S;
    step_cost cost;
    if (akt_step_cost(spec, data, (size_t)S, cal->tolerance, o->timed_steps, &cost))
        return 1;
    c->akt_per_step = cost.seconds;
    c->akt_timed = cost.timed;
    c->akt_peak = cost.peak_mib;
    c->akt_products = cost.flops / (2.0 * (double)S * (double)P * (double)P);
    c->akt_loop_rate = cost.flops / cost.seconds / 1e9;
    c->akt_eigen_share = cost.eigen_seconds / cost.seconds;
    /* to T: steps of the calibration (or the extrapolation) times the step, or a measured run */
    c->akt_attempts = cal->attempts;
    c->steps_neurons = cal->calibrated ? cal->neurons : 0;
    c->steps_kind = cal->calibrated ? "calibration" : "extrapolated";
    c->akt_seconds = c->akt_per_step * cal->attempts;
    c->akt_seconds_kind = "model";
    c->akt_runs = 0;
    if (cal->calibrated && S == cal->neurons) {
        c->akt_seconds = cal->seconds;
        c->akt_runs = cal->runs;
        c->akt_seconds_kind = "measured";
    } else if (c->akt_seconds <= o->full_budget && cal->attempts > 0) {
        run_result full = {0};
        if (akt_run_repeated(spec, data, (size_t)S, cal->tolerance, spec->source.time,
                             o->repeats, o->repeat_budget, &full))
            return 1;
        c->akt_seconds = full.seconds;
        c->akt_runs = full.runs;
        c->akt_attempts = (double)(full.steps + full.rejected);
        c->steps_neurons = S;
        c->akt_seconds_kind = "measured";
        c->steps_kind = "measured";
    }
    return 0;
}

static int measure_dense(const grid_options *o, const akt_spec *spec, const akt_data *data,
                         const calibration *cal, cell_result *c)
{
    long P = c->P, S = c->S, Mt = (long)data->source_test.rows;
    double T = spec->source.time;
    step_cost cost;
    if (dense_step_cost(spec, data, (size_t)S, o->timed_steps, &cost))
        return 1;
    c->dense_per_step = cost.seconds;
    c->dense_timed = cost.timed;
    c->dense_peak = cost.peak_mib;
    c->dense_rate = 2.0 * (double)S * (double)P * (double)(P + Mt) / c->dense_per_step / 1e9;
    /* dense to T: at the accuracy step if known; the stability bound always */
    c->dense_bound_seconds = c->dense_per_step * ceil(T * cal->lambda_max / 2.0);
    c->dense_dt = cal->dense_dt;
    c->dense_dt_kind = cal->dense_dt_kind;
    c->dense_seconds = NAN;
    c->dense_seconds_kind = "none";
    c->dense_runs = 0;
    if (!(cal->dense_dt > 0))
        return 0;
    c->dense_steps = ceil(T / cal->dense_dt * (1.0 - 1e-12));
    c->dense_seconds = c->dense_per_step * c->dense_steps;
    c->dense_seconds_kind = "model";
    if (c->dense_seconds <= o->full_budget) {
        run_result full = {0};
        if (dense_run_repeated(spec, data, (size_t)S, cal->dense_dt, T, o->repeats,
                               o->repeat_budget, &full))
            return 1;
        c->dense_seconds = full.seconds;
        c->dense_runs = full.runs;
        c->dense_seconds_kind = "measured";
    }
    return 0;
}

static int measure_cell(const grid_options *o, const akt_spec *spec, const akt_data *data,
                        const calibration *cal, long S, cell_result *c)
{
    memset(c, 0, sizeof *c);
    c->P = (long)data->source.rows;
    c->S = S;
    c->memory_gib = akt_population_memory_gib(data, (size_t)S);
    c->dense_memory_gib = dense_memory_gib(data, (size_t)S);
    if (fmax(c->memory_gib, c->dense_memory_gib) > o->memory_limit_gib) {
        c->skipped = true;
        return 0;
    }
    /* hardware: one S x P x P product, median of >= 3 */
    c->dgemm_rate = bench_dgemm_gflops(S, c->P, c->P, o->repeats < 3 ? 3 : o->repeats);
    if (measure_akt(o, spec, data, cal, c))
        return 1;
    return measure_dense(o, spec, data, cal, c);
}

/* ---- output --------------------------------------------------------------------------------- */

/* "measured, 3 runs" / "model": how a time to T was obtained. */
static const char *time_kind(char *out, size_t size, const char *kind, int runs)
{
    if (strcmp(kind, "measured") == 0)
        snprintf(out, size, "measured, %d run%s", runs, runs == 1 ? "" : "s");
    else
        snprintf(out, size, "%s", kind);
    return out;
}

/* Where a cell's steps to T come from: "S = 1024" (a run at that S) or "extrapolated". */
static const char *steps_source(char *out, size_t size, const cell_result *c)
{
    if (c->steps_neurons > 0)
        snprintf(out, size, "S = %ld", c->steps_neurons);
    else
        snprintf(out, size, "%s", c->steps_kind);
    return out;
}

static void print_cell_csv(FILE *csv, const cell_result *c, const calibration *cal, double T)
{
    char steps[64];
    if (c->skipped) { /* the two memory estimates (columns 18 and 35), the rest empty */
        fprintf(csv, "%ld,%ld,%g,skipped", c->P, c->S, T);
        for (int column = 5; column <= 35; column++)
            if (column == 18 || column == 35)
                fprintf(csv, ",%.3g", column == 18 ? c->memory_gib : c->dense_memory_gib);
            else
                fputc(',', csv);
        fputc('\n', csv);
        fflush(csv);
        return;
    }
    fprintf(csv,
            "%ld,%ld,%g,measured,%.1f,%.6g,%d,%.1f,%.3f,%.2f,%.3f,%.0f,%s,%.4g,%s,%d,%.0f,%.3g,%g,"
            "%.3g,%s,%.6g,%d,%.1f,%g,%s,%.0f,%.4g,%s,%d,%.4g,%.0f,%.3g,%.3g,%.3g\n",
            c->P, c->S, T, c->dgemm_rate, c->akt_per_step, c->akt_timed, c->akt_loop_rate,
            c->akt_loop_rate / c->dgemm_rate, c->akt_products, c->akt_eigen_share,
            c->akt_attempts, steps_source(steps, sizeof steps, c), c->akt_seconds,
            c->akt_seconds_kind, c->akt_runs, c->akt_peak, c->memory_gib, cal->tolerance,
            cal->akt_error, cal->accuracy_checked ? "yes" : "inherited", c->dense_per_step,
            c->dense_timed, c->dense_rate, c->dense_dt, c->dense_dt_kind, c->dense_steps,
            c->dense_seconds, c->dense_seconds_kind, c->dense_runs, c->dense_bound_seconds,
            c->dense_peak, c->dense_seconds / c->akt_seconds,
            c->dense_bound_seconds / c->akt_seconds, c->dense_memory_gib);
    fflush(csv);
}

static void print_cell_markdown(const cell_result *c)
{
    char steps[64], akt_kind[64], dense_kind[64];
    if (c->skipped) {
        printf("| %ld | %ld | skipped: needs %.1f GiB (akt) and %.1f GiB (dense), over "
               "--memory-limit |", c->P, c->S, c->memory_gib, c->dense_memory_gib);
        for (int column = 4; column <= 18; column++)
            printf("  |");
        printf("\n");
        fflush(stdout);
        return;
    }
    printf("| %ld | %ld | %.3g (%d) | %.0f | %.0f | %.0f%% | %.2f | %.0f%% | %.0f (%s) | "
           "%.4g (%s) | %.0f | %.3g (%d) | %.0f | %.4g (%s) | %.4g | %.0f | %.3g | %.3g |\n",
           c->P, c->S, c->akt_per_step, c->akt_timed, c->akt_loop_rate, c->dgemm_rate,
           100.0 * c->akt_loop_rate / c->dgemm_rate, c->akt_products,
           100.0 * c->akt_eigen_share, c->akt_attempts, steps_source(steps, sizeof steps, c),
           c->akt_seconds, time_kind(akt_kind, sizeof akt_kind, c->akt_seconds_kind, c->akt_runs),
           c->akt_peak, c->dense_per_step, c->dense_timed, c->dense_rate, c->dense_seconds,
           time_kind(dense_kind, sizeof dense_kind, c->dense_seconds_kind, c->dense_runs),
           c->dense_bound_seconds, c->dense_peak, c->dense_seconds / c->akt_seconds,
           c->dense_bound_seconds / c->akt_seconds);
    fflush(stdout);
}

static const char grid_csv_header[] =
    "P,S,T,cell,dgemm_gflops,akt_seconds_per_step,akt_timed_steps,akt_loop_gflops,"
    "akt_loop_fraction_of_dgemm,akt_products_per_step,akt_eigen_share,akt_steps_to_T,"
    "akt_steps_from,akt_seconds_to_T,akt_seconds_kind,akt_runs,akt_peak_mib,akt_memory_gib,"
    "akt_step_tolerance,akt_accuracy_error,akt_accuracy_checked,dense_seconds_per_step,"
    "dense_timed_steps,dense_gflops,dense_dt,dense_dt_kind,dense_steps_to_T,dense_seconds_to_T,"
    "dense_seconds_kind,dense_runs,dense_bound_seconds_to_T,dense_peak_mib,ratio_dense_over_akt,"
    "ratio_bound_over_akt,dense_memory_gib\n";

static const char accuracy_csv_header[] =
    "P,S,T,method,setting,value,steps,seconds,test_loss,reference,relative_error\n";

static const char markdown_header[] =
    "\n| P | S | akt s/step (steps timed) | akt loop GFLOP/s | DGEMM GFLOP/s | loop/DGEMM | "
    "products/step | eigen share | akt steps to T (from) | akt s to T | akt peak MiB | dense "
    "s/step (steps timed) | dense GFLOP/s | dense s to T | dense s to T, stability bound | "
    "dense peak MiB | ratio | ratio, bound |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";

static const char markdown_legend[] =
    "\nakt s/step: median of single accepted steps (a step and a rejected attempt cost the "
    "same); products/step: product work of a step (cblas_dgemm + cblas_dsyrk, measured by "
    "wrapping them) in S x P x P DGEMM equivalents (2 S P^2 flops); loop GFLOP/s: that work over "
    "the step's time; eigen share: the step's time in the P x P eigendecomposition "
    "(LAPACKE_dsyevd); steps to T (from): the run at that S the steps were counted on, or "
    "extrapolated in P; model: seconds per step times steps to T; measured, n runs: median of n "
    "runs to T; ratio: dense time to T at equal accuracy over akt's; ratio, bound: with the "
    "dense step at the forward Euler stability limit 2/lambda_max (a lower bound on any dense "
    "run)\n";

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

/* Parses a comma-separated list of positive numbers. */
static bool parse_doubles(const char *text, double *values, size_t capacity, size_t *count)
{
    *count = 0;
    const char *p = text;
    while (*p) {
        char *end;
        double value = strtod(p, &end);
        if (end == p || !(value > 0.0) || *count == capacity)
            return false;
        values[(*count)++] = value;
        if (*end == ',')
            end++;
        else if (*end != '\0')
            return false;
        p = end;
    }
    return *count > 0;
}

/* One option with a value; false if unknown or malformed. */
static bool parse_value(grid_options *o, const char *arg, const char *value)
{
    if (strcmp(arg, "--spec") == 0)
        o->spec_path = value;
    else if (strcmp(arg, "--csv") == 0)
        o->csv_path = value;
    else if (strcmp(arg, "--accuracy-csv") == 0)
        o->accuracy_csv_path = value;
    else if (strcmp(arg, "--commit") == 0)
        o->commit = value;
    else if (strcmp(arg, "--set") == 0 && o->set_count < MAX_SETS)
        o->sets[o->set_count++] = value;
    else if (strcmp(arg, "--P") == 0)
        return bench_parse_list(value, o->P, MAX_LIST, &o->P_count);
    else if (strcmp(arg, "--S") == 0)
        return bench_parse_list(value, o->S, MAX_LIST, &o->S_count);
    else if (strcmp(arg, "--ladder-neurons") == 0)
        return bench_parse_list(value, o->ladder_neurons, MAX_LIST, &o->ladder_neuron_count);
    else if (strcmp(arg, "--tolerances") == 0)
        return parse_doubles(value, o->tolerances, MAX_LIST, &o->tolerance_count);
    else if (strcmp(arg, "--calibrate-neurons") == 0)
        o->calibrate_neurons = atol(value);
    else if (strcmp(arg, "--full-max-P") == 0)
        o->full_max_P = atol(value);
    else if (strcmp(arg, "--accuracy-max-P") == 0)
        o->accuracy_max_P = atol(value);
    else if (strcmp(arg, "--full-budget") == 0)
        o->full_budget = atof(value);
    else if (strcmp(arg, "--repeat-budget") == 0)
        o->repeat_budget = atof(value);
    else if (strcmp(arg, "--accuracy-target") == 0)
        o->accuracy_target = atof(value);
    else if (strcmp(arg, "--memory-limit") == 0)
        o->memory_limit_gib = atof(value);
    else if (strcmp(arg, "--repeats") == 0)
        o->repeats = atoi(value);
    else if (strcmp(arg, "--timed-steps") == 0)
        o->timed_steps = atoi(value);
    else if (strcmp(arg, "--clock") == 0)
        return bench_set_clock(value);
    else if (strcmp(arg, "--references") == 0)
        return parse_doubles(value, o->references, MAX_LIST, &o->reference_count);
    else
        return false;
    return true;
}

static int parse_options(int argc, char **argv, grid_options *o)
{
    *o = (grid_options){.spec_path = "bench/specs/grid_relu.yaml", .calibrate_neurons = 1024,
                        .full_max_P = 1000, .accuracy_max_P = 300, .full_budget = 60.0,
                        .repeat_budget = 30.0, .accuracy_target = 1e-3,
                        .memory_limit_gib = 10.0, .repeats = 3, .timed_steps = 5};
    o->P[0] = 100, o->P[1] = 300, o->P_count = 2;
    o->S[0] = 1024, o->S[1] = 8192, o->S_count = 2;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(arg, "--smoke") == 0)
            o->smoke = true;
        else if (strcmp(arg, "--accuracy") == 0)
            o->accuracy = true;
        else if (strcmp(arg, "--akt-ladder") == 0)
            o->akt_ladder = true;
        else
            ok = value && parse_value(o, arg, value), i++;
        if (!ok) {
            fprintf(stderr, "bench_grid: bad or unknown argument %s (see the comment at the top "
                            "of bench/bench_grid.c)\n", arg);
            return 2;
        }
    }
    if (o->repeats < 1 || o->repeats > MAX_LIST || o->calibrate_neurons < 2 ||
        o->calibrate_neurons % 2 || o->timed_steps < 1 || o->timed_steps > MAX_TIMED) {
        fprintf(stderr, "bench_grid: --repeats must be 1..%d, --timed-steps 1..%d, "
                        "--calibrate-neurons even\n", MAX_LIST, MAX_TIMED);
        return 2;
    }
    for (size_t k = 0; k < o->ladder_neuron_count; k++)
        if (o->ladder_neurons[k] % 2) {
            fprintf(stderr, "bench_grid: --ladder-neurons must be even\n");
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
    o->ladder_neuron_count = 0;
    o->accuracy = true;
    o->accuracy_max_P = 24;
    o->repeats = 1;
    o->timed_steps = 3;
    o->full_budget = 5.0;
    o->sets[o->set_count++] = "data.test.samples=64";
    o->sets[o->set_count++] = "source.time=2";
}

/* Steps to T (and the tolerance, the dense step) of P = o->P[i]: its ladder, a calibration run
 * at S_ref, or the extrapolation from the earlier P. */
static int calibrate(const grid_options *o, const akt_spec *spec, const akt_data *data,
                     calibration *cal, size_t i, FILE *accuracy_csv)
{
    long P = o->P[i];
    calibration *c = &cal[i];
    double base = spec->solver.step_tolerance;
    c->dense_dt_kind = "none";
    c->akt_error = NAN;
    if (o->accuracy && P <= o->accuracy_max_P) {
        long S = i < o->ladder_neuron_count ? o->ladder_neurons[i] : o->calibrate_neurons;
        return accuracy_ladder(o, spec, data, P, (size_t)S, c, accuracy_csv);
    }
    inherit_accuracy(cal, i, base);
    if (P <= o->full_max_P) {
        run_result full = {0};
        if (akt_run_repeated(spec, data, (size_t)o->calibrate_neurons, c->tolerance,
                             spec->source.time, o->repeats, o->repeat_budget, &full))
            return 1;
        c->calibrated = true;
        c->neurons = o->calibrate_neurons;
        c->attempts = (double)(full.steps + full.rejected);
        c->lambda_max = full.lambda_max;
        c->seconds = full.seconds;
        c->runs = full.runs;
    } else {
        extrapolate(o, cal, i);
    }
    scale_dense_step(cal, i);
    return 0;
}

/* --akt-ladder: akt at each tolerance for each P against the given references. */
static int akt_ladder_only(const grid_options *o, FILE *accuracy_csv)
{
    printf("\n| P | S | step_tolerance | steps (accepted + rejected) | s to T | test loss | "
           "reference | relative error |\n|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < o->P_count; i++) {
        akt_spec spec;
        akt_data data;
        if (load_problem(o, o->P[i], &spec, &data))
            return 2;
        long S = i < o->ladder_neuron_count ? o->ladder_neurons[i] : o->calibrate_neurons;
        double reference = i < o->reference_count ? o->references[i] : NAN;
        double T = spec.source.time;
        for (size_t k = 0; k < o->tolerance_count; k++) {
            run_result r = {0};
            if (akt_run(&spec, &data, (size_t)S, o->tolerances[k], T, 0, &r))
                return 1;
            double error = fabs(r.test_loss - reference) / fabs(reference);
            printf("| %ld | %ld | %g | %ld | %.4g | %.10f | %.10f | %.3e |\n", o->P[i], S,
                   o->tolerances[k], r.steps + r.rejected, r.seconds, r.test_loss, reference,
                   error);
            fflush(stdout);
            fprintf(accuracy_csv, "%ld,%ld,%g,akt,step_tolerance,%g,%ld,%.4f,%.10f,%.10f,%.3e\n",
                    o->P[i], S, T, o->tolerances[k], r.steps + r.rejected, r.seconds,
                    r.test_loss, reference, error);
            fflush(accuracy_csv);
        }
        akt_data_free(&data);
        akt_spec_free(&spec);
    }
    return 0;
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
    if (o.akt_ladder) {
        status = o.tolerance_count ? akt_ladder_only(&o, accuracy_csv)
                                   : (fprintf(stderr, "bench_grid: --akt-ladder needs "
                                                      "--tolerances\n"), 2);
        fclose(csv);
        fclose(accuracy_csv);
        return status;
    }
    calibration cal[MAX_LIST];
    memset(cal, 0, sizeof cal);
    printf("%s", markdown_header);
    for (size_t i = 0; i < o.P_count && status == 0; i++) {
        akt_spec spec;
        akt_data data;
        if (load_problem(&o, o.P[i], &spec, &data))
            return 2;
        if (o.tolerance_count == 0) { /* the spec's tolerance and a tenth of it */
            o.tolerances[0] = spec.solver.step_tolerance;
            o.tolerances[1] = spec.solver.step_tolerance / 10;
            o.tolerance_count = 2;
        }
        if (o.smoke && validate(&spec, &data, (size_t)o.calibrate_neurons))
            status = 1;
        if (status == 0)
            status = calibrate(&o, &spec, &data, cal, i, accuracy_csv);
        for (size_t j = 0; j < o.S_count && status == 0; j++) {
            cell_result cell;
            status = measure_cell(&o, &spec, &data, &cal[i], o.S[j], &cell);
            if (status == 0) {
                print_cell_csv(csv, &cell, &cal[i], spec.source.time);
                print_cell_markdown(&cell);
            }
        }
        akt_data_free(&data);
        akt_spec_free(&spec);
    }
    printf("%s", markdown_legend);
    fclose(csv);
    fclose(accuracy_csv);
    return status;
}
