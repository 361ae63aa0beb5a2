/* report.c: tables for people and JSON for programs (DESIGN.md output contract).
 *
 * Nothing here computes; it only formats what akt_solve returned. Numbers in JSON use 17
 * significant digits so that a reader recovers the exact doubles; NaN becomes null. */
#include "akt/report.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "io/io.h"

void akt_report_json_number(FILE *out, double value)
{
    akt_io_json_number(out, value);
}

static const char *stability_json(akt_stability stable)
{
    switch (stable) {
    case AKT_STABLE_YES: return "true";
    case AKT_STABLE_NO: return "false";
    default: return "null";
    }
}

double akt_report_transfer_benefit(const akt_solution *solution, const akt_result *result)
{
    const akt_result *scratch = akt_solution_find(solution, AKT_REGIME_SCRATCH);
    if (!result || !scratch || result->regime == AKT_REGIME_SOURCE ||
        result->regime == AKT_REGIME_SCRATCH)
        return NAN;
    return scratch->test_loss - result->test_loss;
}

double akt_report_corrected_loss(const akt_result *result)
{
    return isfinite(result->bias) && result->bias != 0.0 ? result->test_loss - result->bias : NAN;
}

/* ", "key": {"ntk_alignment_train": x, ...}": one value per observable in akt_observable order,
 * null where NAN (not measured for this regime or method). */
static void json_observables(FILE *out, const char *key, const double *values)
{
    fprintf(out, ", \"%s\": {", key);
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++) {
        fprintf(out, "%s\"%s\": ", k ? ", " : "", akt_observable_name((akt_observable)k));
        akt_io_json_number(out, values[k]);
    }
    fputc('}', out);
}

/* The fields of one result, without the closing brace (callers may add fields); the
 * observables come last, after every field of the older contract, whose positions outside
 * parsers rely on. */
static void json_result_fields(FILE *out, const akt_result *result, double benefit)
{
    fprintf(out, "{\"regime\": \"%s\", \"test_loss\": ", akt_regime_name(result->regime));
    akt_io_json_number(out, result->test_loss);
    fputs(", \"train_loss\": ", out);
    akt_io_json_number(out, result->train_loss);
    fputs(", \"mc_error\": ", out);
    akt_io_json_number(out, result->mc_error);
    fprintf(out, ", \"converged\": %s, \"method\": \"%s\", \"iterations\": %ld, \"seconds\": ",
            result->converged ? "true" : "false", result->method,
            result->iterations);
    akt_io_json_number(out, result->seconds);
    fputs(", \"residual\": ", out);
    akt_io_json_number(out, result->residual);
    fprintf(out, ", \"stable\": %s, \"transfer_benefit\": ", stability_json(result->stable));
    akt_io_json_number(out, benefit);
    fputs(", \"integration_error\": ", out);
    akt_io_json_number(out, result->integration_error);
    fputs(", \"bias\": ", out);
    akt_io_json_number(out, result->bias);
    fputs(", \"error\": ", out);
    akt_io_json_number(out, result->error);
    fputs(", \"test_loss_corrected\": ", out);
    akt_io_json_number(out, akt_report_corrected_loss(result));
    json_observables(out, "observables", result->observables);
    json_observables(out, "observable_errors", result->observable_errors);
}

static void json_result(FILE *out, const akt_solution *solution, const akt_result *result)
{
    json_result_fields(out, result, akt_report_transfer_benefit(solution, result));
    fputc('}', out);
}

int akt_report_json(FILE *out, const akt_spec *spec, const akt_data *data,
                    const akt_solution *solution, akt_error *err)
{
    char *spec_json = akt_spec_to_json(spec);
    if (!spec_json)
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory formatting the spec as JSON");
    fputs("{\"results\": [", out);
    for (size_t i = 0; i < solution->count; i++) {
        if (i)
            fputs(", ", out);
        json_result(out, solution, &solution->results[i]);
    }
    fputs("], \"alignment\": ", out);
    akt_io_json_number(out, data ? data->alignment : NAN);
    fprintf(out, ", \"spec\": %s}\n", spec_json);
    free(spec_json);
    return AKT_OK;
}

static void table_number(FILE *out, double value, const char *format, int width)
{
    if (isfinite(value))
        fprintf(out, format, width, value);
    else
        fprintf(out, "%*s", width, "-");
}

static void table_summary(FILE *out, const akt_spec *spec, const akt_data *data)
{
    fprintf(out, "%s: %s task, %s network, D = %zu, P1 = %zu, P2 = %zu, test = %zu, "
                 "alignment %.4g\n",
            spec->file ? spec->file : "spec", akt_task_name(spec->data.task),
            akt_activation_name(spec->network.activation), data->dim, data->source.rows,
            data->target.rows, data->test.rows, data->alignment);
}

void akt_report_table(FILE *out, const akt_spec *spec, const akt_data *data,
                      const akt_solution *solution)
{
    table_summary(out, spec, data);
    fprintf(out, "%-8s %12s %12s %10s %12s %-10s %-9s %8s\n", "regime", "test_loss",
            "train_loss", "+-", "benefit", "method", "converged", "seconds");
    for (size_t i = 0; i < solution->count; i++) {
        const akt_result *result = &solution->results[i];
        fprintf(out, "%-8s ", akt_regime_name(result->regime));
        table_number(out, result->test_loss, "%*.6f", 12);
        fputc(' ', out);
        table_number(out, result->train_loss, "%*.6f", 12);
        fputc(' ', out);
        table_number(out, result->error, "%*.2e", 10);
        fputc(' ', out);
        table_number(out, akt_report_transfer_benefit(solution, result), "%+*.6f", 12);
        fprintf(out, " %-10s %-9s %8.3f\n", result->method,
                result->converged ? "yes" : "NO", result->seconds);
    }
    fputs("test_loss: mean (f - y)^2 on the target test split (source: on the source test "
          "split); +-: error = sqrt(mc^2 + integration_error^2) + |bias| (mc: mc_error "
          "scaled by Student's t); "
          "benefit = scratch test_loss - regime test_loss (> 0: transfer helps)\n", out);
}

/* One cell of the observables block: "value +- error", the error left out where it is NAN (one
 * replica of a sampled method), "-" where the value is NAN (not measured). */
static void observable_cell(FILE *out, double value, double error, bool last)
{
    char cell[64];
    if (!isfinite(value))
        snprintf(cell, sizeof cell, "-");
    else if (isfinite(error))
        snprintf(cell, sizeof cell, "%.6g +- %.2g", value, error);
    else
        snprintf(cell, sizeof cell, "%.6g", value);
    fprintf(out, " %-*s", last ? 0 : 23, cell);
}

/* Observables are rows and regimes columns: nine long names fit a column, nine cells do not
 * fit a row. */
void akt_report_observables_table(FILE *out, const akt_solution *solution)
{
    fprintf(out, "\n%-23s", "observable");
    for (size_t i = 0; i < solution->count; i++)
        fprintf(out, " %-*s", i + 1 < solution->count ? 23 : 0,
                akt_regime_name(solution->results[i].regime));
    fputc('\n', out);
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++) {
        fprintf(out, "%-23s", akt_observable_name((akt_observable)k));
        for (size_t i = 0; i < solution->count; i++)
            observable_cell(out, solution->results[i].observables[k],
                            solution->results[i].observable_errors[k], i + 1 == solution->count);
        fputc('\n', out);
    }
    fputs("observables (README \"Observables\"): value +- error (replica spread with the error "
          "runs' parts; 0 for deterministic methods); -: not measured for that regime or "
          "method\n", out);
}

/* ---- akt train ------------------------------------------------------------------------------ */

static void json_width_fields(FILE *out, const akt_width_result *width)
{
    fprintf(out, "\"width\": %ld, \"test_loss_mean\": ", width->width);
    akt_io_json_number(out, width->test_loss_mean);
    fputs(", \"test_loss_sd\": ", out);
    akt_io_json_number(out, width->test_loss_sd);
    fputs(", \"test_loss_se\": ", out);
    akt_io_json_number(out, width->test_loss_se);
    fprintf(out, ", \"seeds\": %ld, \"train_loss_mean\": ", width->seeds);
    akt_io_json_number(out, width->train_loss_mean);
    fputs(", \"euler_bias\": ", out);
    akt_io_json_number(out, width->euler_bias);
    fputs(", \"step_stability\": ", out);
    akt_io_json_number(out, width->stability);
    fprintf(out, ", \"step_converged\": %s, \"seconds\": ", width->step_converged ? "true" : "false");
    akt_io_json_number(out, width->seconds);
}

/* A width's observables: the seed means and their standard errors (appended after the width's
 * other fields, so that the older keys keep their place). */
static void json_width_observables(FILE *out, const akt_width_result *width)
{
    json_observables(out, "observables", width->observables);
    json_observables(out, "observable_errors", width->observable_se);
}

/* "m+-e" in a cell of the given width ("-" where the value is NAN, m alone without an error). */
static void table_value_error(FILE *out, double value, double error, int width)
{
    char cell[64];
    if (!isfinite(value))
        snprintf(cell, sizeof cell, "-");
    else if (isfinite(error))
        snprintf(cell, sizeof cell, "%.4f+-%.1e", value, error);
    else
        snprintf(cell, sizeof cell, "%.4f", value);
    fprintf(out, " %*s", width, cell);
}

static bool width_observable_measured(const akt_width_result *results, size_t count, int o)
{
    for (size_t k = 0; k < count; k++)
        if (!isnan(results[k].observables[o]))
            return true;
    return false;
}

/* The observables block of akt train: one row per observable a regime has, one column per
 * regime. */
static void train_observables_table(FILE *out, const akt_width_result *results, size_t count)
{
    fprintf(out, "%-24s", "observable");
    for (size_t k = 0; k < count; k++)
        fprintf(out, " %17s", akt_regime_name(results[k].regime));
    fputc('\n', out);
    for (int o = 0; o < AKT_OBSERVABLE_COUNT; o++) {
        if (!width_observable_measured(results, count, o))
            continue;
        fprintf(out, "%-24s", akt_observable_name((akt_observable)o));
        for (size_t k = 0; k < count; k++)
            table_value_error(out, results[k].observables[o], results[k].observable_se[o], 17);
        fputc('\n', out);
    }
    fputs("observables (README \"Observables\"): mean over seeds +- standard error\n", out);
}

static int json_spec_tail(FILE *out, const akt_spec *spec, akt_error *err)
{
    char *spec_json = akt_spec_to_json(spec);
    if (!spec_json)
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory formatting the spec as JSON");
    fprintf(out, "], \"spec\": %s}\n", spec_json);
    free(spec_json);
    return AKT_OK;
}

int akt_report_train_json(FILE *out, const akt_spec *spec, const akt_width_result *results,
                          size_t count, akt_error *err)
{
    fputs("{\"results\": [", out);
    for (size_t k = 0; k < count; k++) {
        fprintf(out, "%s{\"regime\": \"%s\", ", k ? ", " : "", akt_regime_name(results[k].regime));
        json_width_fields(out, &results[k]);
        json_width_observables(out, &results[k]);
        fputc('}', out);
    }
    return json_spec_tail(out, spec, err);
}

void akt_report_train_table(FILE *out, const akt_spec *spec, const akt_data *data,
                            const akt_width_result *results, size_t count)
{
    table_summary(out, spec, data);
    if (count)
        fprintf(out, "finite-width networks: N = %ld, %ld seed%s\n", results[0].width,
                results[0].seeds, results[0].seeds == 1 ? "" : "s");
    fprintf(out, "%-8s %12s %10s %10s %12s %11s %9s\n", "regime", "test_loss", "sd", "se",
            "train_loss", "euler_bias", "seconds");
    for (size_t k = 0; k < count; k++) {
        const akt_width_result *r = &results[k];
        fprintf(out, "%-8s ", akt_regime_name(r->regime));
        table_number(out, r->test_loss_mean, "%*.6f", 12);
        fputc(' ', out);
        table_number(out, r->test_loss_sd, "%*.2e", 10);
        fputc(' ', out);
        table_number(out, r->test_loss_se, "%*.2e", 10);
        fputc(' ', out);
        table_number(out, r->train_loss_mean, "%*.6f", 12);
        fputc(' ', out);
        table_number(out, r->euler_bias, "%*.2e", 11);
        fprintf(out, " %9.2f\n", r->seconds);
    }
    if (count && !results[0].step_converged)
        fputs("warning: the Euler step could not be refined until halving it moved the test "
              "losses by less than the tolerance; see euler_bias\n", out);
    fputs("test_loss: mean over seeds; euler_bias: relative change of seed 0's test loss when "
          "the Euler step is halved\n", out);
    train_observables_table(out, results, count);
}

/* ---- akt compare ---------------------------------------------------------------------------- */

static const akt_width_result *largest_width(const akt_regime_comparison *regime)
{
    const akt_width_result *largest = NULL;
    for (size_t i = 0; i < regime->width_count; i++)
        if (!largest || regime->widths[i].width > largest->width)
            largest = &regime->widths[i];
    return largest;
}

static const char *verdict_json(int verdict)
{
    return verdict < 0 ? "null" : verdict ? "true" : "false";
}

/* "observable_comparison": {name: {theory, theory_error, width (the largest), network,
 * network_error, difference (theory - network), compatible}} for every observable. */
static void json_observable_comparison(FILE *out, const akt_regime_comparison *regime)
{
    const akt_width_result *largest = largest_width(regime);
    fputs(", \"observable_comparison\": {", out);
    for (int o = 0; o < AKT_OBSERVABLE_COUNT; o++) {
        double theory = regime->theory.observables[o];
        double network = largest ? largest->observables[o] : NAN;
        fprintf(out, "%s\"%s\": {\"theory\": ", o ? ", " : "",
                akt_observable_name((akt_observable)o));
        akt_io_json_number(out, theory);
        fputs(", \"theory_error\": ", out);
        akt_io_json_number(out, regime->theory.observable_errors[o]);
        fprintf(out, ", \"width\": %ld, \"network\": ", largest ? largest->width : 0L);
        akt_io_json_number(out, network);
        fputs(", \"network_error\": ", out);
        akt_io_json_number(out, largest ? largest->observable_se[o] : NAN);
        fputs(", \"difference\": ", out);
        akt_io_json_number(out, theory - network);
        fprintf(out, ", \"compatible\": %s}", verdict_json(regime->observable_verdicts[o]));
    }
    fputc('}', out);
}

/* The observables block of akt compare: per regime and observable measured on either side, the
 * theory +- its error, each width's mean +- standard error, and the verdict at the largest
 * width. */
static void compare_observables_table(FILE *out, const akt_comparison *comparison)
{
    const akt_regime_comparison *first = comparison->count ? &comparison->regimes[0] : NULL;
    fprintf(out, "%-8s %-24s %17s", "regime", "observable", "theory");
    for (size_t i = 0; first && i < first->width_count; i++) {
        char label[32];
        snprintf(label, sizeof label, "N = %ld", first->widths[i].width);
        fprintf(out, " %17s", label);
    }
    fprintf(out, "  %s\n", "verdict");
    for (size_t k = 0; k < comparison->count; k++) {
        const akt_regime_comparison *regime = &comparison->regimes[k];
        for (int o = 0; o < AKT_OBSERVABLE_COUNT; o++) {
            if (isnan(regime->theory.observables[o]) &&
                !width_observable_measured(regime->widths, regime->width_count, o))
                continue;
            fprintf(out, "%-8s %-24s", akt_regime_name(regime->regime),
                    akt_observable_name((akt_observable)o));
            table_value_error(out, regime->theory.observables[o],
                              regime->theory.observable_errors[o], 17);
            for (size_t i = 0; i < regime->width_count; i++)
                table_value_error(out, regime->widths[i].observables[o],
                                  regime->widths[i].observable_se[o], 17);
            int verdict = regime->observable_verdicts[o];
            fprintf(out, "  %s\n", verdict < 0 ? "-" : verdict ? "compatible" : "NOT compatible");
        }
    }
    fputs("observables (README \"Observables\"): theory +- its error, networks' mean over seeds "
          "+- standard error; compatible at the largest width: |theory - networks| <= "
          "max(3 sqrt(error^2 + se^2), 0.02)\n", out);
}

int akt_report_compare_json(FILE *out, const akt_spec *spec, const akt_comparison *comparison,
                            akt_error *err)
{
    fputs("{\"results\": [", out);
    for (size_t k = 0; k < comparison->count; k++) {
        const akt_regime_comparison *regime = &comparison->regimes[k];
        if (k)
            fputs(", ", out);
        json_result_fields(out, &regime->theory, NAN);
        fputs(", \"widths\": [", out);
        for (size_t i = 0; i < regime->width_count; i++) {
            fputs(i ? ", {" : "{", out);
            json_width_fields(out, &regime->widths[i]);
            fputs(", \"gap\": ", out);
            akt_io_json_number(out, regime->widths[i].test_loss_mean - regime->theory.test_loss);
            json_width_observables(out, &regime->widths[i]);
            fputc('}', out);
        }
        fputs("], \"fit\": {\"slope\": ", out);
        akt_io_json_number(out, regime->slope);
        fputs(", \"intercept\": ", out);
        akt_io_json_number(out, regime->intercept);
        fputs(", \"intercept_error\": ", out);
        akt_io_json_number(out, regime->intercept_error);
        fprintf(out, ", \"compatible\": %s}",
                isfinite(regime->intercept) ? (regime->compatible ? "true" : "false") : "null");
        json_observable_comparison(out, regime);
        fputc('}', out);
    }
    return json_spec_tail(out, spec, err);
}

void akt_report_compare_table(FILE *out, const akt_spec *spec, const akt_data *data,
                              const akt_comparison *comparison)
{
    table_summary(out, spec, data);
    fprintf(out, "%-8s %-9s %12s %10s %11s %11s %6s\n", "regime", "width", "test_loss", "+-",
            "gap", "euler_bias", "seeds");
    for (size_t k = 0; k < comparison->count; k++) {
        const akt_regime_comparison *regime = &comparison->regimes[k];
        const akt_result *theory = &regime->theory;
        fprintf(out, "%-8s %-9s ", akt_regime_name(regime->regime), "theory");
        table_number(out, theory->test_loss, "%*.6f", 12);
        fputc(' ', out);
        table_number(out, theory->error, "%*.2e", 10);
        fprintf(out, "             (%s)\n", theory->method);
        for (size_t i = 0; i < regime->width_count; i++) {
            const akt_width_result *width = &regime->widths[i];
            fprintf(out, "%-8s %-9ld ", "", width->width);
            table_number(out, width->test_loss_mean, "%*.6f", 12);
            fputc(' ', out);
            table_number(out, width->test_loss_se, "%*.2e", 10);
            fputc(' ', out);
            table_number(out, width->test_loss_mean - theory->test_loss, "%+*.2e", 11);
            fputc(' ', out);
            table_number(out, width->euler_bias, "%*.2e", 11);
            fprintf(out, " %6ld\n", width->seeds);
        }
        fprintf(out, "%-8s %-9s ", "", "1/N -> 0");
        table_number(out, regime->intercept, "%*.6f", 12);
        fputc(' ', out);
        table_number(out, regime->intercept_error, "%*.2e", 10);
        fputc(' ', out);
        table_number(out, regime->intercept - theory->test_loss, "%+*.2e", 11);
        if (isfinite(regime->intercept))
            fprintf(out, "  %s\n", regime->compatible ? "compatible with the theory"
                                                       : "NOT compatible with the theory");
        else
            fputs("  (a fit needs two widths and two seeds)\n", out);
    }
    fputs("+-: error of the theory (sqrt(mc_error^2 + integration_error^2) + |bias|), standard "
          "error over seeds of a width, fit error of the extrapolation; gap = networks - theory; "
          "compatible: |gap| <= 3 (fit error + error)\n",
          out);
    compare_observables_table(out, comparison);
}

/* ---- progress ------------------------------------------------------------------------------- */

static void format_duration(char *buffer, size_t size, double seconds)
{
    if (!isfinite(seconds) || seconds < 0)
        snprintf(buffer, size, "--:--");
    else if (seconds < 3600)
        snprintf(buffer, size, "%02d:%02d", (int)seconds / 60, (int)seconds % 60);
    else
        snprintf(buffer, size, "%dh%02d", (int)seconds / 3600, ((int)seconds % 3600) / 60);
}

void akt_report_progress(FILE *out, const char *label, size_t done, size_t total,
                         double started)
{
    if (!isatty(fileno(out)) || total == 0)
        return;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double elapsed = (double)t.tv_sec + 1e-9 * (double)t.tv_nsec - started;
    double fraction = (double)done / (double)total;
    double remaining = done ? elapsed * (1.0 - fraction) / fraction : NAN;
    enum { BAR = 30 };
    char bar[BAR + 1];
    int filled = (int)(fraction * BAR + 0.5);
    for (int i = 0; i < BAR; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[BAR] = '\0';
    char spent[16], eta[16];
    format_duration(spent, sizeof spent, elapsed);
    format_duration(eta, sizeof eta, remaining);
    fprintf(out, "\r%s [%s] %zu/%zu  elapsed %s  eta %s ", label, bar, done, total, spent, eta);
    if (done >= total)
        fputc('\n', out);
    fflush(out);
}

void akt_report_phase_progress(FILE *out, akt_regime regime, size_t replica, size_t replicas,
                               double t, double horizon, long steps, double step,
                               double remaining)
{
    char eta[16];
    format_duration(eta, sizeof eta, remaining);
    fprintf(out, "\r\033[K%-7s replica %zu/%zu  t %.4g / %.4g  steps %ld  dt %.2e  eta %s",
            akt_regime_name(regime), replica + 1, replicas, t, horizon, steps, step, eta);
    fflush(out);
}

void akt_report_progress_clear(FILE *out)
{
    fputs("\r\033[K", out);
    fflush(out);
}
