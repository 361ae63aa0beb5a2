/* report.c: tables for people and JSON for programs (DESIGN.md output contract).
 *
 * Nothing here computes; it only formats what akt_solve returned. Numbers in JSON use 17
 * significant digits so that a reader recovers the exact doubles; NaN becomes null. */
#include "akt/report.h"

#include <math.h>
#include <stdlib.h>

void akt_report_json_number(FILE *out, double value)
{
    if (isfinite(value))
        fprintf(out, "%.17g", value);
    else
        fputs("null", out);
}

static const char *stability_json(akt_stability stable)
{
    switch (stable) {
    case AKT_STABLE_YES: return "true";
    case AKT_STABLE_NO: return "false";
    default: return "null";
    }
}

/* scratch loss minus the regime's loss; NaN when there is no scratch baseline. */
static double transfer_benefit(const akt_solution *solution, const akt_result *result)
{
    const akt_result *scratch = akt_solution_find(solution, AKT_REGIME_SCRATCH);
    if (!scratch || result->regime == AKT_REGIME_SOURCE || result->regime == AKT_REGIME_SCRATCH)
        return NAN;
    return scratch->test_loss - result->test_loss;
}

static void json_result(FILE *out, const akt_solution *solution, const akt_result *result)
{
    fprintf(out, "{\"regime\": \"%s\", \"test_loss\": ", akt_regime_name(result->regime));
    akt_report_json_number(out, result->test_loss);
    fputs(", \"train_loss\": ", out);
    akt_report_json_number(out, result->train_loss);
    fputs(", \"mc_error\": ", out);
    akt_report_json_number(out, result->mc_error);
    fprintf(out, ", \"converged\": %s, \"method\": \"%s\", \"iterations\": %ld, \"seconds\": ",
            result->converged ? "true" : "false", akt_method_name(result->method),
            result->iterations);
    akt_report_json_number(out, result->seconds);
    fputs(", \"residual\": ", out);
    akt_report_json_number(out, result->residual);
    fprintf(out, ", \"stable\": %s, \"transfer_benefit\": ", stability_json(result->stable));
    akt_report_json_number(out, transfer_benefit(solution, result));
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
    akt_report_json_number(out, data ? data->alignment : NAN);
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
            "train_loss", "mc_error", "benefit", "method", "converged", "seconds");
    for (size_t i = 0; i < solution->count; i++) {
        const akt_result *result = &solution->results[i];
        fprintf(out, "%-8s ", akt_regime_name(result->regime));
        table_number(out, result->test_loss, "%*.6f", 12);
        fputc(' ', out);
        table_number(out, result->train_loss, "%*.6f", 12);
        fputc(' ', out);
        table_number(out, result->mc_error, "%*.2e", 10);
        fputc(' ', out);
        table_number(out, transfer_benefit(solution, result), "%+*.6f", 12);
        fprintf(out, " %-10s %-9s %8.3f\n", akt_method_name(result->method),
                result->converged ? "yes" : "NO", result->seconds);
    }
    fputs("test_loss: mean (f - y)^2 on the target test split (source: on the source test "
          "split); benefit = scratch test_loss - regime test_loss (> 0: transfer helps)\n", out);
}
