/* compare.c: networks of several widths and seeds against the infinite-width theory.
 *
 * One network runs through the transfer protocol as method network (akt_finite_transfer); this file
 * decides the Euler step each width needs to be faithful to the continuous flow, repeats over
 * seeds, summarises, and fits the seed means against 1/N (THEORY.md section 6: the leading
 * finite-width correction of the mean is ~ 1/N). */
#include "akt/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_fit.h>

#include "akt/finite.h"
#include "akt/resources.h"
#include "core/parallel.h"
#include "core/util.h"

#define DEFAULT_EULER_TOLERANCE 1e-3
#define DEFAULT_MAX_REFINEMENTS 6
/* finite.c's automatic step keeps dt (lambda_max + lambda + delta) below this at first. */
#define FIRST_STABILITY 0.5

/* ---- one network by the protocol -------------------------------------------------------- */

/* One run of method network over the wanted regimes (NULL: the spec's). */
static int network_run(const akt_spec *spec, const akt_data *data, const bool wanted[],
                       const akt_network_settings *settings, akt_solution *solution,
                       akt_error *err)
{
    akt_spec chosen;
    int status = akt_spec_copy(&chosen, spec, err);
    if (status != AKT_OK)
        return status;
    for (int r = AKT_REGIME_SCRATCH; wanted && r < AKT_REGIME_COUNT; r++)
        chosen.target.regimes[r] = wanted[r];
    akt_solver *solver = akt_solver_alloc_method(&chosen, data, &akt_method_network, settings,
                                                 err);
    status = solver ? akt_solver_run(solver, solution, err) : err->status;
    akt_solver_free(solver);
    akt_spec_free(&chosen);
    return status;
}

int akt_finite_transfer_options(const akt_spec *spec, const akt_data *data,
                                const bool wanted[AKT_REGIME_COUNT], long width, long seed_index,
                                const akt_finite_options *options, akt_solution *solution,
                                akt_error *err)
{
    memset(solution, 0, sizeof *solution);
    akt_network_settings settings = {.width = width, .seed_index = seed_index,
                                     .dt = options ? options->dt : 0.0,
                                     .stability = options ? options->stability : 0.0};
    int status = network_run(spec, data, wanted, &settings, solution, err);
    if (status || !options || !options->euler_bias)
        return status;
    akt_finite_stepping stepping = {.dt = settings.dt, .stability = settings.stability};
    akt_finite_stepping half = akt_finite_stepping_halved(&stepping);
    settings.dt = half.dt;
    settings.stability = half.stability;
    akt_solution fine;
    if ((status = network_run(spec, data, wanted, &settings, &fine, err))) {
        akt_error_prefix(err, "Euler bias estimate (dt halved): ");
        return status;
    }
    for (size_t k = 0; k < solution->count; k++)
        solution->results[k].residual = akt_relative_change(solution->results[k].test_loss,
                                                        fine.results[k].test_loss);
    return AKT_OK;
}

int akt_finite_transfer(const akt_spec *spec, const akt_data *data,
                        const bool wanted[AKT_REGIME_COUNT], long width, long seed_index,
                        double dt, akt_solution *solution, akt_error *err)
{
    akt_finite_options options = {.dt = dt, .euler_bias = false};
    return akt_finite_transfer_options(spec, data, wanted, width, seed_index, &options, solution,
                                       err);
}

/* ---- seeds and widths ---------------------------------------------------------------------- */

static void report_progress(const akt_compare_options *options, size_t done, size_t total)
{
    if (options && options->progress)
        options->progress(options->progress_context, done, total);
}

static double option_or(double value, double fallback)
{
    return value > 0 ? value : fallback;
}

/* The largest relative test-loss change under step halving over the regimes of a run. */
static double largest_bias(const akt_solution *solution)
{
    double worst = 0.0;
    for (size_t k = 0; k < solution->count; k++)
        worst = fmax(worst, solution->results[k].residual);
    return worst;
}

/* One network run of a width: a seed at a step (stability target, automatic dt), into its own
 * slot, so that runs can go in threads and be combined in order. */
typedef struct {
    long seed;
    double stability;
    akt_solution solution;
    int status;
    akt_error err;
} network_job;

typedef struct {
    const akt_spec *spec;
    const akt_data *data;
    long width;
    network_job *jobs;
} job_batch;

static void run_network_job(void *context, size_t i)
{
    job_batch *batch = context;
    network_job *job = &batch->jobs[i];
    akt_finite_options run = {.dt = 0.0, .stability = job->stability, .euler_bias = false};
    job->err = (akt_error){0};
    job->status = akt_finite_transfer_options(batch->spec, batch->data, NULL, batch->width,
                                              job->seed, &run, &job->solution, &job->err);
}

/* Runs the jobs on the machine's cores, the longest first (the queue hands them out in order). */
static void run_jobs(const akt_spec *spec, const akt_data *data, long width, network_job *jobs,
                     size_t count)
{
    job_batch batch = {spec, data, width, jobs};
    akt_parallel_for(count, 0, run_network_job, &batch);
}

/* Seed 0's Euler bias from its run at the step (coarse) and at half of it (fine): each regime's
 * residual is the relative change of its test loss. */
static double euler_bias(akt_solution *coarse, const akt_solution *fine)
{
    for (size_t k = 0; k < coarse->count; k++)
        coarse->results[k].residual = akt_relative_change(coarse->results[k].test_loss,
                                                          fine->results[k].test_loss);
    return largest_bias(coarse);
}

/* Seed 0 at successively smaller steps until halving the step moves every test loss by less
 * than the tolerance; the accepted try's coarse run is seed 0's result. The first try runs the
 * other seeds at the same step beside it (most widths accept the first step), so that all the
 * width's runs share the cores; *others_done says whether they were. */
static int choose_step(const akt_spec *spec, const akt_data *data, long width, long seeds,
                       const akt_compare_options *options, network_job *jobs, double *stability,
                       double *bias, bool *met, bool *others_done, akt_error *err)
{
    double tolerance = option_or(options ? options->euler_tolerance : 0,
                                 DEFAULT_EULER_TOLERANCE);
    int refinements = options && options->max_refinements > 0 ? options->max_refinements
                                                              : DEFAULT_MAX_REFINEMENTS;
    /* jobs[0]: seed 0 at half the step (twice the steps: first in the queue), jobs[1]: seed 0,
     * jobs[1 + s]: seed s. */
    double step = FIRST_STABILITY;
    for (int attempt = 0;; attempt++) {
        size_t count = attempt == 0 ? (size_t)seeds + 1 : 2;
        jobs[0] = (network_job){.seed = 0, .stability = 0.5 * step};
        for (size_t j = 1; j < count; j++)
            jobs[j] = (network_job){.seed = (long)j - 1, .stability = step};
        run_jobs(spec, data, width, jobs, count);
        for (size_t j = 0; j < 2; j++)
            if (jobs[j].status != AKT_OK) {
                *err = jobs[j].err;
                if (j == 0)
                    akt_error_prefix(err, "Euler bias estimate (dt halved): ");
                return jobs[j].status;
            }
        *bias = euler_bias(&jobs[1].solution, &jobs[0].solution);
        *stability = step;
        *met = *bias <= tolerance;
        *others_done = attempt == 0;
        if (*met || attempt == refinements)
            return AKT_OK;
        step *= 0.5;
    }
}

typedef struct {
    double test_sum, test_square, train_sum;
    /* one seed's observable of a regime is NAN where the regime has none: the sums are then
     * NAN too, and so is the mean (not measured) */
    double observable_sum[AKT_OBSERVABLE_COUNT], observable_square[AKT_OBSERVABLE_COUNT];
} regime_sums;

static void add_seed(regime_sums *sums, const akt_solution *solution)
{
    for (size_t k = 0; k < solution->count; k++) {
        const akt_result *r = &solution->results[k];
        sums[k].test_sum += r->test_loss;
        sums[k].test_square += r->test_loss * r->test_loss;
        sums[k].train_sum += r->train_loss;
        for (int o = 0; o < AKT_OBSERVABLE_COUNT; o++) {
            sums[k].observable_sum[o] += r->observables[o];
            sums[k].observable_square[o] += r->observables[o] * r->observables[o];
        }
    }
}

/* The mean of `seeds` values from their sum and sum of squares, and the sample variance (NAN
 * for one seed; clipped at 0 against round-off). */
static double seed_mean(double sum, double square, long seeds, double *variance)
{
    double n = (double)seeds, mean = sum / n;
    *variance = seeds > 1 ? fmax(0.0, (square - n * mean * mean) / (n - 1.0)) : NAN;
    return mean;
}

static void summarise(akt_width_result *out, const akt_result *first, const regime_sums *sums,
                      long width, long seeds)
{
    double n = (double)seeds, variance;
    double mean = seed_mean(sums->test_sum, sums->test_square, seeds, &variance);
    out->regime = first->regime;
    out->width = width;
    out->seeds = seeds;
    out->test_loss_mean = mean;
    out->test_loss_sd = sqrt(variance);
    out->test_loss_se = sqrt(variance / n);
    out->train_loss_mean = sums->train_sum / n;
    for (int o = 0; o < AKT_OBSERVABLE_COUNT; o++) {
        out->observables[o] =
            seed_mean(sums->observable_sum[o], sums->observable_square[o], seeds, &variance);
        out->observable_se[o] = isnan(out->observables[o]) ? NAN : sqrt(variance / n);
    }
}

static int train_width(const akt_spec *spec, const akt_data *data, long width, long seeds,
                       const akt_compare_options *options, size_t done_before, size_t total,
                       akt_width_result *results, size_t *count, akt_error *err)
{
    double started = akt_now_seconds();
    network_job *jobs = calloc((size_t)seeds + 1, sizeof *jobs);
    if (!jobs)
        return akt_out_of_memory(err, "the network runs");
    double stability = FIRST_STABILITY, bias = NAN;
    bool met = false, others_done = false;
    int status = choose_step(spec, data, width, seeds, options, jobs, &stability, &bias, &met,
                             &others_done, err);
    if (status != AKT_OK) {
        free(jobs);
        return akt_error_prefix(err, "width %ld, seed 0: ", width);
    }
    report_progress(options, done_before + 1, total);
    /* The other seeds at the chosen step, unless they ran beside seed 0's first try. */
    if (!others_done && seeds > 1) {
        for (long seed = 1; seed < seeds; seed++)
            jobs[1 + seed] = (network_job){.seed = seed, .stability = stability};
        run_jobs(spec, data, width, jobs + 2, (size_t)seeds - 1);
    }
    regime_sums sums[AKT_REGIME_COUNT];
    memset(sums, 0, sizeof sums);
    for (long seed = 0; seed < seeds; seed++) {
        network_job *job = &jobs[1 + seed];
        if (job->status != AKT_OK) {
            *err = job->err;
            free(jobs);
            return akt_error_prefix(err, "width %ld, seed %ld: ", width, seed);
        }
        add_seed(sums, &job->solution);
        if (seed > 0)
            report_progress(options, done_before + (size_t)seed + 1, total);
    }
    const akt_solution *first = &jobs[1].solution;
    size_t regimes = first->count;
    double seconds = akt_now_seconds() - started;
    for (size_t k = 0; k < regimes; k++) {
        summarise(&results[k], &first->results[k], &sums[k], width, seeds);
        results[k].euler_bias = first->results[k].residual;
        results[k].stability = stability;
        results[k].step_converged = met;
        results[k].seconds = seconds;
    }
    *count = regimes;
    free(jobs);
    return AKT_OK;
}

static int check_counts(long width, long seeds, akt_error *err)
{
    if (width < 1)
        return akt_error_set(err, AKT_ERR_INPUT, "--width: must be a positive integer (got %ld)",
                             width);
    if (seeds < 1)
        return akt_error_set(err, AKT_ERR_INPUT, "--seeds: must be a positive integer (got %ld)",
                             seeds);
    return AKT_OK;
}

int akt_train_width(const akt_spec *spec, const akt_data *data, long width, long seeds,
                    const akt_compare_options *options, akt_width_result *results, size_t *count,
                    akt_error *err)
{
    *count = 0;
    int status = check_counts(width, seeds, err);
    if (status == AKT_OK)
        status = akt_resources_check(spec, data, NULL, width, err);
    if (status != AKT_OK)
        return status;
    return train_width(spec, data, width, seeds, options, 0, (size_t)seeds, results, count, err);
}

int akt_fit_inverse_width(const double *x, const double *y, const double *w, size_t n,
                          double *slope, double *intercept, double *intercept_error,
                          akt_error *err)
{
    *slope = *intercept = *intercept_error = NAN;
    if (n < 2)
        return akt_error_set(err, AKT_ERR_INPUT, "a 1/N fit needs at least two widths");
    double c0, c1, cov00, cov01, cov11, chi_square;
    gsl_error_handler_t *previous = gsl_set_error_handler_off();
    int status = gsl_fit_wlinear(x, 1, w, 1, y, 1, n, &c0, &c1, &cov00, &cov01, &cov11,
                                 &chi_square);
    gsl_set_error_handler(previous);
    if (status != GSL_SUCCESS || !isfinite(c0) || !isfinite(cov00))
        return akt_error_set(err, AKT_ERR_NUMERIC, "the 1/N fit failed: %s",
                             gsl_strerror(status));
    double scatter = n > 2 ? chi_square / (double)(n - 2) : 1.0;
    *intercept = c0;
    *slope = c1;
    *intercept_error = sqrt(cov00 * fmax(1.0, scatter));
    return AKT_OK;
}

/* Fills the fit of one regime's seed means over widths, and its verdict against the theory. */
static void fit_regime(akt_regime_comparison *regime)
{
    double x[AKT_COMPARE_MAX_WIDTHS], y[AKT_COMPARE_MAX_WIDTHS], w[AKT_COMPARE_MAX_WIDTHS];
    size_t n = 0;
    for (size_t i = 0; i < regime->width_count; i++) {
        const akt_width_result *width = &regime->widths[i];
        if (!(width->test_loss_se > 0))
            continue; /* one seed, or identical seeds: no error bar to weigh by */
        x[n] = 1.0 / (double)width->width;
        y[n] = width->test_loss_mean;
        w[n] = 1.0 / (width->test_loss_se * width->test_loss_se);
        n++;
    }
    regime->slope = regime->intercept = regime->intercept_error = NAN;
    regime->compatible = false;
    if (n < 2 || akt_fit_inverse_width(x, y, w, n, &regime->slope, &regime->intercept,
                                       &regime->intercept_error, NULL) != AKT_OK)
        return;
    /* the theory's total error (DESIGN.md); its replica spread where the rest is not known */
    const akt_result *theory = &regime->theory;
    double error = isfinite(theory->error)      ? theory->error
                   : isfinite(theory->mc_error) ? theory->mc_error
                                                : 0.0;
    regime->compatible = fabs(regime->intercept - theory->test_loss) <=
                         3.0 * (regime->intercept_error + error);
}

int akt_observable_verdict(double theory, double theory_error, double network,
                           double network_error)
{
    if (isnan(theory) || isnan(network))
        return -1;
    double a = isfinite(theory_error) ? theory_error : 0.0;
    double b = isfinite(network_error) ? network_error : 0.0;
    double allowed = fmax(AKT_OBSERVABLE_COMBINED_ERRORS * sqrt(a * a + b * b),
                          AKT_OBSERVABLE_ABSOLUTE_TOLERANCE);
    return fabs(theory - network) <= allowed ? 1 : 0;
}

/* Each observable's verdict at the largest width (the one closest to the theory's limit). */
static void judge_observables(akt_regime_comparison *regime)
{
    const akt_width_result *largest = NULL;
    for (size_t i = 0; i < regime->width_count; i++)
        if (!largest || regime->widths[i].width > largest->width)
            largest = &regime->widths[i];
    for (int o = 0; o < AKT_OBSERVABLE_COUNT; o++)
        regime->observable_verdicts[o] =
            largest ? akt_observable_verdict(regime->theory.observables[o],
                                             regime->theory.observable_errors[o],
                                             largest->observables[o], largest->observable_se[o])
                    : -1;
}

int akt_compare(const akt_spec *spec, const akt_data *data, const long *widths,
                size_t width_count, long seeds, const akt_compare_options *options,
                akt_comparison *comparison, akt_error *err)
{
    memset(comparison, 0, sizeof *comparison);
    if (width_count < 1 || width_count > AKT_COMPARE_MAX_WIDTHS)
        return akt_error_set(err, AKT_ERR_INPUT, "--widths: give 1 to %d widths",
                             AKT_COMPARE_MAX_WIDTHS);
    for (size_t i = 0; i < width_count; i++) {
        int status = check_counts(widths[i], seeds, err);
        if (status != AKT_OK)
            return status;
    }
    long largest = 0;
    for (size_t i = 0; i < width_count; i++)
        largest = widths[i] > largest ? widths[i] : largest;
    int check = akt_resources_check(spec, data, NULL, largest, err);
    if (check != AKT_OK)
        return check;
    size_t total = 1 + width_count * (size_t)seeds;
    akt_solution theory;
    int status = akt_solve(spec, data, &theory, err);
    if (status != AKT_OK)
        return akt_error_prefix(err, "theory: ");
    report_progress(options, 1, total);
    comparison->count = theory.count;
    for (size_t k = 0; k < theory.count; k++) {
        comparison->regimes[k].regime = theory.results[k].regime;
        comparison->regimes[k].theory = theory.results[k];
    }
    for (size_t i = 0; i < width_count; i++) {
        akt_width_result results[AKT_REGIME_COUNT];
        size_t count = 0;
        status = train_width(spec, data, widths[i], seeds, options, 1 + i * (size_t)seeds, total,
                             results, &count, err);
        if (status != AKT_OK)
            return status;
        for (size_t r = 0; r < count; r++)
            for (size_t k = 0; k < comparison->count; k++) {
                akt_regime_comparison *regime = &comparison->regimes[k];
                if (regime->regime == results[r].regime)
                    regime->widths[regime->width_count++] = results[r];
            }
    }
    for (size_t k = 0; k < comparison->count; k++) {
        fit_regime(&comparison->regimes[k]);
        judge_observables(&comparison->regimes[k]);
    }
    return AKT_OK;
}
