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

/* Seed 0 at successively smaller steps until halving the step moves every test loss by less
 * than the tolerance. Each try runs the protocol at the step and at half of it; the accepted
 * try's coarse run is seed 0's result. */
static int choose_step(const akt_spec *spec, const akt_data *data, long width,
                       const akt_compare_options *options, akt_solution *seed_zero,
                       double *stability, double *bias, bool *met, akt_error *err)
{
    double tolerance = option_or(options ? options->euler_tolerance : 0,
                                 DEFAULT_EULER_TOLERANCE);
    int refinements = options && options->max_refinements > 0 ? options->max_refinements
                                                              : DEFAULT_MAX_REFINEMENTS;
    akt_finite_options run = {.dt = 0.0, .stability = FIRST_STABILITY, .euler_bias = true};
    for (int attempt = 0;; attempt++) {
        int status = akt_finite_transfer_options(spec, data, NULL, width, 0, &run, seed_zero, err);
        if (status != AKT_OK)
            return status;
        *bias = largest_bias(seed_zero);
        *stability = run.stability;
        *met = *bias <= tolerance;
        if (*met || attempt == refinements)
            return AKT_OK;
        run.stability *= 0.5;
    }
}

typedef struct {
    double test_sum, test_square, train_sum;
} regime_sums;

static void add_seed(regime_sums *sums, const akt_solution *solution)
{
    for (size_t k = 0; k < solution->count; k++) {
        double loss = solution->results[k].test_loss;
        sums[k].test_sum += loss;
        sums[k].test_square += loss * loss;
        sums[k].train_sum += solution->results[k].train_loss;
    }
}

static void summarise(akt_width_result *out, const akt_result *first, const regime_sums *sums,
                      long width, long seeds)
{
    double n = (double)seeds;
    double mean = sums->test_sum / n;
    double variance = seeds > 1 ? fmax(0.0, (sums->test_square - n * mean * mean) / (n - 1.0))
                                : NAN;
    out->regime = first->regime;
    out->width = width;
    out->seeds = seeds;
    out->test_loss_mean = mean;
    out->test_loss_sd = sqrt(variance);
    out->test_loss_se = sqrt(variance / n);
    out->train_loss_mean = sums->train_sum / n;
}

static int train_width(const akt_spec *spec, const akt_data *data, long width, long seeds,
                       const akt_compare_options *options, size_t done_before, size_t total,
                       akt_width_result *results, size_t *count, akt_error *err)
{
    double started = akt_now_seconds();
    akt_solution solution;
    double stability = FIRST_STABILITY, bias = NAN;
    bool met = false;
    int status = choose_step(spec, data, width, options, &solution, &stability, &bias, &met, err);
    if (status != AKT_OK)
        return akt_error_prefix(err, "width %ld, seed 0: ", width);
    regime_sums sums[AKT_REGIME_COUNT];
    memset(sums, 0, sizeof sums);
    add_seed(sums, &solution);
    akt_result first[AKT_REGIME_COUNT];
    size_t regimes = solution.count;
    memcpy(first, solution.results, regimes * sizeof *first);
    report_progress(options, done_before + 1, total);

    akt_finite_options run = {.dt = 0.0, .stability = stability, .euler_bias = false};
    for (long seed = 1; seed < seeds; seed++) {
        status = akt_finite_transfer_options(spec, data, NULL, width, seed, &run, &solution, err);
        if (status != AKT_OK)
            return akt_error_prefix(err, "width %ld, seed %ld: ", width, seed);
        add_seed(sums, &solution);
        report_progress(options, done_before + (size_t)seed + 1, total);
    }
    double seconds = akt_now_seconds() - started;
    for (size_t k = 0; k < regimes; k++) {
        summarise(&results[k], &first[k], &sums[k], width, seeds);
        results[k].euler_bias = first[k].residual;
        results[k].stability = stability;
        results[k].step_converged = met;
        results[k].seconds = seconds;
    }
    *count = regimes;
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
    double mc = isfinite(regime->theory.mc_error) ? regime->theory.mc_error : 0.0;
    regime->compatible = fabs(regime->intercept - regime->theory.test_loss) <=
                         3.0 * (regime->intercept_error + mc);
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
    for (size_t k = 0; k < comparison->count; k++)
        fit_regime(&comparison->regimes[k]);
    return AKT_OK;
}
