/* bench_finite.c: the cost of finite-width training (src/numerics/network.c) and of `akt compare` against
 * the cost of the theory it is compared with (issue 6, "Benchmarks").
 *
 * For each width N (default 256, 1024, 4096) on the spec's problem (default
 * bench/specs/finite_relu.yaml):
 *   - seconds per forward Euler step of the source phase (median of --repeats runs of 100 steps
 *     at a fixed dt, which include five lambda_max estimates, as automatic stepping does every
 *     20 steps), with the step's product work (dgemm_counter.h) and its rate next to an
 *     N x P x D DGEMM's;
 *   - what `akt compare` spends on the width: akt_train_width over --seeds seeds (the Euler step
 *     refinement to 0.1 percent on seed 0, then the other seeds at the chosen step);
 *   - seconds per training run: the whole protocol (source, scratch, readout, joint) for one
 *     network at the step compare chose, with the steps of each phase (median of --repeats runs
 *     when one takes less than --repeat-budget seconds);
 *   - peak resident memory of each.
 * Widths >= --model-from (default 4096: its compare would take about an hour here) get the step
 * cost only; their training run and compare cost are modelled ("model") as the largest measured
 * width's times the ratio of the per-step costs, i.e. with that width's step counts (compare
 * chose a step twice as large at N = 1024 as at 256, so the counts fall with N and the model is
 * an upper bound if that continues).
 * Then the theory (akt_solve, median of --repeats runs under the same budget) and the cost of
 * akt compare = theory + every width's training (what akt_compare runs, plus a fit that costs
 * nothing), and their ratio.
 *
 * Usage: bench_finite [--spec FILE] [--widths 256,1024,4096] [--model-from 4096] [--seeds 3]
 *        [--repeats 3] [--repeat-budget 30] [--set key=value]... [--csv FILE] [--commit HASH]
 *        [--clock cpu|wall] [--smoke]
 * Seconds are process CPU time unless --clock wall (bench_util.h). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akt/compare.h"
#include "akt/data.h"
#include "akt/finite.h"
#include "akt/spec.h"
#include "akt/solve.h"

#include "bench_util.h"
#include "dgemm_counter.h"

#define MAX_LIST 16
#define MAX_SETS 16
#define STEP_RUN 100

typedef struct {
    const char *spec_path, *csv_path, *commit;
    const char *sets[MAX_SETS];
    size_t set_count;
    long widths[MAX_LIST];
    size_t width_count;
    long seeds, model_from;
    int repeats;
    double repeat_budget;
    bool smoke;
} finite_options;

/* Seconds per Euler step of the source phase at width N, and the DGEMM work of one. */
static int step_cost(const akt_spec *spec, const akt_data *data, long width, double *per_step,
                     dgemm_count *work, akt_error *err)
{
    akt_network *net = akt_network_alloc((size_t)width, data->dim, spec->network.activation, err);
    if (!net)
        return err->status;
    int status = akt_network_init(net, akt_finite_stream_seed(spec->seed, 0,
                                                              AKT_FINITE_STREAM_SOURCE), err);
    akt_finite_problem problem = {.X = data->source.x, .y = data->source.y,
                                  .P = data->source.rows, .gamma = spec->source.gamma,
                                  .lambda = spec->source.weight_decay, .train_hidden = true};
    /* a small fixed step (the cost per step does not depend on it), lambda_max every 20 steps */
    akt_finite_stepping stepping = {.dt = 1e-4, .monitor_every = 20};
    akt_finite_trace trace;
    dgemm_count before = dgemm_counter_read();
    double start = bench_now();
    if (status == AKT_OK)
        status = akt_network_train(net, &problem, STEP_RUN * stepping.dt, &stepping, &trace, err);
    double seconds = bench_now() - start;
    dgemm_count d = dgemm_counter_difference(dgemm_counter_read(), before);
    if (status == AKT_OK) {
        double steps = (double)trace.steps;
        *per_step = seconds / steps;
        work->calls = (long)lround((double)d.calls / steps);
        work->flops = d.flops / steps;
        work->seconds = d.seconds / steps;
    }
    akt_network_free(net);
    return status;
}

typedef struct {
    long width;
    double per_step, loop_gflops, dgemm_gflops, dgemm_share, step_peak;
    double compare_seconds, compare_peak, stability, euler_bias;
    double run_seconds, run_peak;
    long phase_steps[AKT_REGIME_COUNT];
    size_t regime_count;
    akt_regime regimes[AKT_REGIME_COUNT];
    int run_repeats;
    bool modelled;            /* run and compare modelled from a smaller width */
    long model_width;         /* that width */
} width_result;

/* The step cost of width N: median of --repeats runs of STEP_RUN steps. */
static int measure_step(const finite_options *o, const akt_spec *spec, const akt_data *data,
                        long width, width_result *w, akt_error *err)
{
    memset(w, 0, sizeof *w);
    w->width = width;
    double steps[MAX_LIST];
    dgemm_count work = {0};
    bench_reset_peak_rss();
    for (int r = 0; r < o->repeats; r++) {
        int status = step_cost(spec, data, width, &steps[r], &work, err);
        if (status != AKT_OK)
            return status;
    }
    w->step_peak = bench_peak_rss_mib();
    w->per_step = bench_median(steps, o->repeats);
    w->loop_gflops = work.flops / w->per_step / 1e9;
    w->dgemm_share = work.seconds / w->per_step;
    /* the dominant product of a step: h = X W' (P x N, inner D) */
    w->dgemm_gflops = bench_dgemm_gflops((long)data->source.rows, width, (long)data->dim, 5);
    return AKT_OK;
}

/* A width's training run and compare cost from a measured smaller width's, scaled by the ratio
 * of their step costs (the same step counts). Peaks: the step's (the run holds the same
 * network). */
static void model_width(width_result *w, const width_result *from)
{
    double ratio = w->per_step / from->per_step;
    w->modelled = true;
    w->model_width = from->width;
    w->run_seconds = from->run_seconds * ratio;
    w->run_repeats = 0;
    w->compare_seconds = from->compare_seconds * ratio;
    w->regime_count = from->regime_count;
    for (size_t k = 0; k < from->regime_count; k++) {
        w->regimes[k] = from->regimes[k];
        w->phase_steps[k] = from->phase_steps[k];
    }
    w->stability = from->stability;
    w->euler_bias = NAN;
    w->run_peak = w->compare_peak = w->step_peak;
}

/* What akt compare spends on width N, and one training run at the step it chose. */
static int measure_training(const finite_options *o, const akt_spec *spec, const akt_data *data,
                            long width, width_result *w, akt_error *err)
{
    /* what akt compare spends on this width */
    akt_width_result results[AKT_REGIME_COUNT];
    size_t count = 0;
    bench_reset_peak_rss();
    double start = bench_now();
    int status = akt_train_width(spec, data, width, o->seeds, NULL, results, &count, err);
    w->compare_seconds = bench_now() - start;
    w->compare_peak = bench_peak_rss_mib();
    if (status != AKT_OK)
        return status;
    w->stability = results[0].stability;
    w->euler_bias = 0.0;
    for (size_t k = 0; k < count; k++)
        w->euler_bias = fmax(w->euler_bias, results[k].euler_bias);

    /* one training run (the whole protocol) at the step compare chose */
    akt_finite_options run = {.dt = 0.0, .stability = w->stability, .euler_bias = false};
    double runs[MAX_LIST];
    w->run_repeats = 0;
    bench_reset_peak_rss();
    for (int r = 0; r < o->repeats && (r == 0 || runs[0] < o->repeat_budget); r++) {
        akt_solution solution;
        start = bench_now();
        status = akt_finite_transfer_options(spec, data, NULL, width, 0, &run, &solution, err);
        runs[r] = bench_now() - start;
        if (status != AKT_OK)
            return status;
        w->run_repeats++;
        w->regime_count = solution.count;
        for (size_t k = 0; k < solution.count; k++) {
            w->regimes[k] = solution.results[k].regime;
            w->phase_steps[k] = solution.results[k].iterations;
        }
    }
    w->run_peak = bench_peak_rss_mib();
    w->run_seconds = bench_median(runs, w->run_repeats);
    return AKT_OK;
}

static void print_width(FILE *csv, const width_result *w)
{
    char steps[256] = "";
    size_t used = 0;
    for (size_t k = 0; k < w->regime_count; k++)
        used += (size_t)snprintf(steps + used, sizeof steps - used, "%s%s %ld", k ? ", " : "",
                                 akt_regime_name(w->regimes[k]), w->phase_steps[k]);
    char kind[64], steps_kind[64] = "";
    if (w->modelled) {
        snprintf(kind, sizeof kind, "model from N = %ld", w->model_width);
        snprintf(steps_kind, sizeof steps_kind, " (as N = %ld)", w->model_width);
    } else {
        snprintf(kind, sizeof kind, "%d run%s", w->run_repeats, w->run_repeats == 1 ? "" : "s");
    }
    printf("| %ld | %.3g | %.1f | %.1f | %.0f%% | %.0f | %.4g (%s) | %s%s | %.3g | %.0f | %.4g%s | "
           "%.3g | %.0f |\n",
           w->width, w->per_step, w->loop_gflops, w->dgemm_gflops, 100.0 * w->dgemm_share,
           w->step_peak, w->run_seconds, kind, steps, steps_kind, w->stability, w->run_peak,
           w->compare_seconds, w->modelled ? " (model)" : "", w->euler_bias, w->compare_peak);
    fflush(stdout);
    fprintf(csv, "%ld,%.6g,%.2f,%.2f,%.3f,%.0f,%.6g,%d,\"%s\",%.4g,%.0f,%.6g,%.3g,%.0f,%s\n",
            w->width, w->per_step, w->loop_gflops, w->dgemm_gflops, w->dgemm_share, w->step_peak,
            w->run_seconds, w->run_repeats, steps, w->stability, w->run_peak, w->compare_seconds,
            w->euler_bias, w->compare_peak, w->modelled ? kind : "measured");
    fflush(csv);
}

static int parse_options(int argc, char **argv, finite_options *o)
{
    *o = (finite_options){.spec_path = "bench/specs/finite_relu.yaml", .seeds = 3, .repeats = 3,
                          .model_from = 4096, .repeat_budget = 30.0};
    o->widths[0] = 256, o->widths[1] = 1024, o->widths[2] = 4096, o->width_count = 3;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(arg, "--smoke") == 0) {
            o->smoke = true;
            continue;
        }
        if (!value)
            ok = false;
        else if (strcmp(arg, "--spec") == 0)
            o->spec_path = value;
        else if (strcmp(arg, "--csv") == 0)
            o->csv_path = value;
        else if (strcmp(arg, "--commit") == 0)
            o->commit = value;
        else if (strcmp(arg, "--set") == 0)
            ok = o->set_count < MAX_SETS, o->sets[o->set_count++ % MAX_SETS] = value;
        else if (strcmp(arg, "--widths") == 0)
            ok = bench_parse_list(value, o->widths, MAX_LIST, &o->width_count);
        else if (strcmp(arg, "--seeds") == 0)
            o->seeds = atol(value);
        else if (strcmp(arg, "--model-from") == 0)
            o->model_from = atol(value);
        else if (strcmp(arg, "--repeat-budget") == 0)
            o->repeat_budget = atof(value);
        else if (strcmp(arg, "--repeats") == 0)
            o->repeats = atoi(value);
        else if (strcmp(arg, "--clock") == 0)
            ok = bench_set_clock(value);
        else
            ok = false;
        if (!ok || o->repeats < 1 || o->repeats > MAX_LIST || o->seeds < 1) {
            fprintf(stderr, "bench_finite: bad or unknown argument %s (see the comment at the "
                            "top of bench/bench_finite.c)\n", arg);
            return 2;
        }
        i++;
    }
    if (o->smoke) {
        static const char *smoke_sets[] = {"data.dim=8", "data.source.samples=16",
                                           "data.target.samples=8", "data.test.samples=32",
                                           "source.time=1", "target.time=1",
                                           "solver.neurons=64", "solver.replicas=2"};
        for (size_t k = 0; k < sizeof smoke_sets / sizeof *smoke_sets && o->set_count < MAX_SETS;
             k++)
            o->sets[o->set_count++] = smoke_sets[k];
        o->widths[0] = 16, o->widths[1] = 32, o->width_count = 2;
        o->model_from = 32; /* the model path runs too */
        o->seeds = 2;
        o->repeats = 1;
    }
    return 0;
}

/* The theory on the same spec (akt_solve: what akt compare runs besides the networks), median
 * of --repeats runs under the budget, and the ratio of akt compare's cost to it. */
static int time_theory(const finite_options *o, const akt_spec *spec, const akt_data *data,
                       double compare_measured, double compare_total, FILE *csv)
{
    akt_error err = {0};
    akt_solution theory;
    double seconds[MAX_LIST];
    int runs = 0;
    bench_reset_peak_rss();
    while (runs < o->repeats && (runs == 0 || seconds[0] < o->repeat_budget)) {
        double start = bench_now();
        if (akt_solve(spec, data, &theory, &err) != AKT_OK) {
            fprintf(stderr, "bench_finite: theory: %s\n", err.message);
            return 1;
        }
        seconds[runs++] = bench_now() - start;
    }
    double median = bench_median(seconds, runs), peak = bench_peak_rss_mib();
    printf("\ntheory (akt solve, %s, S = %ld x %ld replicas, step_tolerance %g): %.4g s (median "
           "of %d), peak %.0f MiB\n", theory.results[0].method,
           spec->solver.neurons, spec->solver.replicas, spec->solver.step_tolerance, median, runs,
           peak);
    printf("akt compare (theory + the measured widths, %ld seeds each): %.4g s = %.0f x the "
           "theory\n", o->seeds, median + compare_measured, (median + compare_measured) / median);
    if (compare_total > compare_measured)
        printf("akt compare with the modelled widths too: %.4g s = %.0f x the theory (model)\n",
               median + compare_total, (median + compare_total) / median);
    fprintf(csv, "theory,%.6g,,,,,,%d,,,%.0f,,,,measured\n", median, runs, peak);
    fprintf(csv, "compare_measured_widths,%.6g,,,,,,,,,,,,,measured\n", median + compare_measured);
    fprintf(csv, "compare_all_widths,%.6g,,,,,,,,,,,,,model\n", median + compare_total);
    return 0;
}

int main(int argc, char **argv)
{
    finite_options o;
    int status = parse_options(argc, argv, &o);
    if (status)
        return status;
    akt_spec spec;
    akt_data data;
    akt_error err = {0};
    if (akt_spec_load(&spec, o.spec_path, o.sets, o.set_count, &err) != AKT_OK ||
        akt_data_load(&data, &spec, &err) != AKT_OK) {
        fprintf(stderr, "bench_finite: %s\n", err.message);
        return 2;
    }
    FILE *csv = fopen(o.csv_path ? o.csv_path : "/dev/null", "w");
    if (!csv) {
        fprintf(stderr, "bench_finite: cannot write %s\n", o.csv_path);
        return 2;
    }
    fputs("width,seconds_per_step,loop_gflops,dgemm_gflops,dgemm_share,step_peak_mib,"
          "seconds_per_run,run_repeats,steps_per_phase,stability,run_peak_mib,"
          "compare_seconds_for_width,euler_bias,compare_peak_mib,kind\n", csv);
    bench_print_machine(stdout, o.commit);
    printf("# problem: %s: D = %zu, P1 = %zu, P2 = %zu, test = %zu, T = %g / %g; %ld seeds per "
           "width\n\n", o.spec_path, data.dim, data.source.rows, data.target.rows,
           data.test.rows, spec.source.time, spec.target.time, o.seeds);
    printf("| N | s/step | loop GFLOP/s | DGEMM GFLOP/s | DGEMM share | step peak MiB | s/run "
           "(runs) | steps per phase | stability | run peak MiB | compare s for this width | "
           "euler bias | compare peak MiB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    double compare_total = 0.0, compare_measured = 0.0;
    width_result measured = {0};
    for (size_t i = 0; i < o.width_count && status == 0; i++) {
        width_result w;
        long width = o.widths[i];
        bool model = width >= o.model_from && measured.width > 0;
        status = measure_step(&o, &spec, &data, width, &w, &err);
        if (status == AKT_OK && model)
            model_width(&w, &measured);
        else if (status == AKT_OK)
            status = measure_training(&o, &spec, &data, width, &w, &err);
        if (status != AKT_OK) {
            fprintf(stderr, "bench_finite: width %ld: %s\n", width, err.message);
            status = 1;
            break;
        }
        print_width(csv, &w);
        compare_total += w.compare_seconds;
        if (!model) {
            compare_measured += w.compare_seconds;
            measured = w;
        }
    }
    if (status == 0)
        status = time_theory(&o, &spec, &data, compare_measured, compare_total, csv);
    printf("\ns/step: one forward Euler step of the source phase (P1 points), median of %d runs "
           "of %d steps; s/run: the whole protocol (source, scratch, readout, joint) for one "
           "network at the step akt compare chose (stability = dt (lambda_max + lambda + delta)), "
           "median of the runs counted; model from N: that width's s/run and compare s times the "
           "ratio of the per-step costs (its step counts); compare s: akt_train_width over the "
           "seeds, including the step refinement to 0.1 percent\n", o.repeats, STEP_RUN);
    fclose(csv);
    akt_data_free(&data);
    akt_spec_free(&spec);
    return status;
}
