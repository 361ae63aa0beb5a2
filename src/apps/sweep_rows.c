/* sweep_rows.c: the row format of akt sweep's tables, both ways: rows written as CSV (with a
 * header) or as JSON lines, and a line of such a table split back into its fields.
 *
 * One row per point and regime; the columns are listed once, in fixed_columns, and the writer
 * and the reader of a resumed file (sweep_file.c) both take them from here, so a table written
 * by one version of the columns is recognised as such by the same version and refused by
 * another (a table written before the observable columns with a message of its own). Numbers
 * are printed with %.17g, exactly as akt solve --json prints them, so a row equals the solve of
 * its point to the last digit. */
#include "akt/sweep.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akt/report.h"
#include "apps/sweep_internal.h"
#include "io/io.h"

akt_sweep_format akt_sweep_format_for(const char *path)
{
    size_t length = path ? strlen(path) : 0;
    return length >= 6 && !strcmp(path + length - 6, ".jsonl") ? AKT_SWEEP_JSON_LINES : AKT_SWEEP_CSV;
}

/* After point and the swept keys. The names and meanings are those of akt solve --json's
 * results (DESIGN.md "Output contract"); seconds ends the columns that existed before the
 * observables (scripts that compare runs drop it by name). */
static const char *const fixed_columns[] = {"regime", "test_loss", "train_loss", "mc_error",
                                            "transfer_benefit", "converged", "stable", "method",
                                            "residual", "iterations", "integration_error",
                                            "bias", "error", "seconds"};
enum { FIXED_COLUMNS = sizeof fixed_columns / sizeof fixed_columns[0] };

/* Then, appended so that every older column keeps its position, each observable and its error
 * in akt_observable order: "retention", "retention_error", ... (akt solve --json's
 * "observables" and "observable_errors"). */
enum { OBSERVABLE_COLUMNS = 2 * AKT_OBSERVABLE_COUNT, ERROR_NAME_SIZE = 48 };

static char error_names[AKT_OBSERVABLE_COUNT][ERROR_NAME_SIZE];
static pthread_once_t error_names_once = PTHREAD_ONCE_INIT;

/* "<observable>_error", built once from akt_observable_name (one list of names). */
static void make_error_names(void)
{
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++)
        snprintf(error_names[k], ERROR_NAME_SIZE, "%s_error",
                 akt_observable_name((akt_observable)k));
}

static const char *observable_column_name(size_t index)
{
    akt_observable observable = (akt_observable)(index / 2);
    if (index % 2 == 0)
        return akt_observable_name(observable);
    pthread_once(&error_names_once, make_error_names);
    return error_names[observable];
}

size_t sweep_column_count(const akt_sweep_grid *grid)
{
    return sweep_column_count_before_observables(grid) + OBSERVABLE_COLUMNS;
}

size_t sweep_column_count_before_observables(const akt_sweep_grid *grid)
{
    return 1 + grid->axis_count + FIXED_COLUMNS;
}

const char *sweep_column_name(const akt_sweep_grid *grid, size_t column)
{
    if (column == 0)
        return "point";
    if (column <= grid->axis_count)
        return grid->axes[column - 1].key;
    size_t fixed = column - 1 - grid->axis_count;
    return fixed < FIXED_COLUMNS ? fixed_columns[fixed]
                                 : observable_column_name(fixed - FIXED_COLUMNS);
}

/* ---- writing ------------------------------------------------------------------------- */

void akt_sweep_write_header(FILE *out, const akt_sweep_grid *grid, akt_sweep_format format)
{
    if (format != AKT_SWEEP_CSV)
        return;
    for (size_t c = 0; c < sweep_column_count(grid); c++) {
        if (c)
            fputc(',', out);
        akt_io_csv_field(out, sweep_column_name(grid, c));
    }
    fputc('\n', out);
}

char *sweep_header_text(const akt_sweep_grid *grid)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return NULL;
    akt_sweep_write_header(out, grid, AKT_SWEEP_CSV);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    text[strcspn(text, "\n")] = '\0';
    return text;
}

typedef struct {
    FILE *out;
    akt_sweep_format format;
    size_t column;           /* the next field's column (its key in JSON) */
    const akt_sweep_grid *grid;
} row_writer;

/* Starts a field: the separator (CSV) or the key (JSON). */
static void begin_field(row_writer *w)
{
    if (w->format == AKT_SWEEP_CSV) {
        if (w->column)
            fputc(',', w->out);
    } else {
        fputs(w->column ? ", " : "{", w->out);
        akt_io_json_string(w->out, sweep_column_name(w->grid, w->column));
        fputs(": ", w->out);
    }
    w->column++;
}

/* A missing value: an empty CSV field, JSON null. */
static void field_missing(row_writer *w)
{
    begin_field(w);
    if (w->format == AKT_SWEEP_JSON_LINES)
        fputs("null", w->out);
}

static void field_number(row_writer *w, double value)
{
    if (!isfinite(value)) {
        field_missing(w);
        return;
    }
    begin_field(w);
    fprintf(w->out, "%.17g", value);
}

/* A text field; in JSON a number-looking text (a swept value) stays a number. */
static void field_text(row_writer *w, const char *text, bool allow_number)
{
    begin_field(w);
    if (w->format == AKT_SWEEP_CSV)
        akt_io_csv_field(w->out, text);
    else if (allow_number && akt_io_is_json_number(text))
        fputs(text, w->out);
    else
        akt_io_json_string(w->out, text);
}

static void field_bool(row_writer *w, bool value)
{
    begin_field(w);
    fputs(value ? "true" : "false", w->out);
}

/* stable: true, false, or missing where it was not tested (akt solve's null). */
static void field_stability(row_writer *w, akt_stability stable)
{
    if (stable == AKT_STABLE_UNTESTED)
        field_missing(w);
    else
        field_bool(w, stable == AKT_STABLE_YES);
}

/* The columns after regime; every one missing (converged false) for a regime not reached. */
static void result_fields(row_writer *w, const akt_result *result, double benefit)
{
    field_number(w, result ? result->test_loss : NAN);
    field_number(w, result ? result->train_loss : NAN);
    field_number(w, result ? result->mc_error : NAN);
    field_number(w, benefit);
    field_bool(w, result && result->converged);
    field_stability(w, result ? result->stable : AKT_STABLE_UNTESTED);
    if (result)
        field_text(w, result->method, false);
    else
        field_missing(w);
    field_number(w, result ? result->residual : NAN);
    if (result) {
        begin_field(w);
        fprintf(w->out, "%ld", result->iterations);
    } else {
        field_missing(w);
    }
    field_number(w, result ? result->integration_error : NAN);
    field_number(w, result ? result->bias : NAN);
    field_number(w, result ? result->error : NAN);
    field_number(w, result ? result->seconds : NAN);
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++) {
        field_number(w, result ? result->observables[k] : NAN);
        field_number(w, result ? result->observable_errors[k] : NAN);
    }
}

static void write_row(FILE *out, const akt_sweep_grid *grid, akt_sweep_format format, size_t point,
                      akt_regime regime, const akt_solution *solution)
{
    row_writer w = {out, format, 0, grid};
    begin_field(&w);
    fprintf(out, "%zu", point);
    for (size_t a = 0; a < grid->axis_count; a++)
        field_text(&w, akt_sweep_point_value(grid, point, a), true);
    field_text(&w, akt_regime_name(regime), false);
    const akt_result *result = akt_solution_find(solution, regime);
    result_fields(&w, result, akt_report_transfer_benefit(solution, result));
    fputs(format == AKT_SWEEP_CSV ? "\n" : "}\n", out);
}

void akt_sweep_write_rows(FILE *out, const akt_sweep_grid *grid, akt_sweep_format format,
                          size_t point, const akt_solution *solution)
{
    /* The requested regimes are those of the base spec: target.regimes cannot be swept. */
    for (int r = 0; r < AKT_REGIME_COUNT; r++)
        if (r == AKT_REGIME_SOURCE || grid->base.target.regimes[r])
            write_row(out, grid, format, point, (akt_regime)r, solution);
}

char *akt_sweep_rows_text(const akt_sweep_grid *grid, akt_sweep_format format, size_t point,
                          const akt_solution *solution)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return NULL;
    akt_sweep_write_rows(out, grid, format, point, solution);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- reading ------------------------------------------------------------------------- */

/* Splits one CSV line into fields (RFC 4180 quotes); fields are malloc'd. */
static int split_csv(const char *line, char ***fields, size_t *count)
{
    size_t capacity = 8, n = 0;
    char **list = malloc(capacity * sizeof *list);
    char *field = malloc(strlen(line) + 1);
    if (!list || !field) {
        free(list);
        free(field);
        return AKT_ERR_MEMORY;
    }
    const char *c = line;
    for (;;) {
        size_t length = 0;
        if (*c == '"') {
            for (c++; *c && !(*c == '"' && c[1] != '"'); c++) {
                if (*c == '"')
                    c++;
                field[length++] = *c;
            }
            if (*c == '"')
                c++;
        }
        while (*c && *c != ',')
            field[length++] = *c++;
        field[length] = '\0';
        if (n == capacity) {
            char **grown = realloc(list, 2 * capacity * sizeof *list);
            if (!grown)
                break;
            list = grown;
            capacity *= 2;
        }
        if (!(list[n] = strdup(field)))
            break;
        n++;
        if (*c != ',') {
            free(field);
            *fields = list;
            *count = n;
            return AKT_OK;
        }
        c++;
    }
    free(field);
    sweep_free_strings(list, n);
    return AKT_ERR_MEMORY;
}

/* One JSON line of our own form: a flat object of string/number/true/false/null values.
 * keys[i] and values[i] are malloc'd; a string value is unescaped, any other is its text. */
static bool parse_json_string(const char **cursor, char *out)
{
    const char *c = *cursor;
    if (*c++ != '"')
        return false;
    size_t n = 0;
    while (*c && *c != '"') {
        if (*c == '\\') {
            c++;
            if (*c == 'u') {
                unsigned code;
                if (sscanf(c + 1, "%4x", &code) != 1)
                    return false;
                out[n++] = (char)code;
                c += 5;
                continue;
            }
            if (!*c)
                return false;
        }
        out[n++] = *c++;
    }
    if (*c != '"')
        return false;
    out[n] = '\0';
    *cursor = c + 1;
    return true;
}

static int split_json(const char *line, char ***keys, char ***values, size_t *count)
{
    size_t length = strlen(line), n = 0;
    char **k = calloc(length + 1, sizeof *k), **v = calloc(length + 1, sizeof *v);
    char *buffer = malloc(length + 1);
    int status = k && v && buffer ? AKT_ERR_INPUT : AKT_ERR_MEMORY;
    const char *c = line;
    while (*c == ' ')
        c++;
    if (status == AKT_ERR_INPUT && *c++ == '{') {
        for (;;) {
            while (*c == ' ')
                c++;
            if (!parse_json_string(&c, buffer) || !(k[n] = strdup(buffer)))
                break;
            while (*c == ' ')
                c++;
            if (*c++ != ':')
                break;
            while (*c == ' ')
                c++;
            if (*c == '"') {
                if (!parse_json_string(&c, buffer))
                    break;
            } else {
                size_t used = strcspn(c, ",} ");
                memcpy(buffer, c, used);
                buffer[used] = '\0';
                c += used;
            }
            if (!(v[n++] = strdup(buffer)))
                break;
            while (*c == ' ')
                c++;
            if (*c == '}') {
                status = AKT_OK;
                break;
            }
            if (*c++ != ',')
                break;
        }
    }
    free(buffer);
    if (status != AKT_OK) {
        for (size_t i = 0; k && i <= n; i++)
            free(k[i]);
        free(k);
        sweep_free_strings(v, n);
        return status;
    }
    *keys = k;
    *values = v;
    *count = n;
    return AKT_OK;
}

int sweep_split_row(akt_sweep_format format, const char *line, char ***names, char ***fields,
                    size_t *count)
{
    *names = NULL;
    if (format == AKT_SWEEP_CSV)
        return split_csv(line, fields, count);
    return split_json(line, names, fields, count);
}
