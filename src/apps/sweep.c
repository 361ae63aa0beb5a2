/* sweep.c: grids of transfer problems (expansion, validation, solving with data reuse) and the
 * resumable, crash-safe table they fill. See include/akt/sweep.h for the conventions.
 *
 * Why the whole file is rewritten after each point instead of appended to: an append that is
 * cut short by a kill leaves a half row, which a rerun would have to detect and repair; writing
 * a new complete file and rename()-ing it over the old one (atomic on POSIX within a directory)
 * leaves either the old or the new table, never a mix. Tables are small (one row per point and
 * regime), so the rewrite costs nothing next to a solve. */
#include "akt/sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int out_of_memory(akt_error *err)
{
    return akt_error_set(err, AKT_ERR_MEMORY, "sweep: out of memory");
}

/* ---- expansion of linspace / logspace ------------------------------------------------- */

typedef enum { GENERATOR_NONE, GENERATOR_LINEAR, GENERATOR_LOG } generator_kind;

/* Parses "linspace(a, b, n)" / "logspace(a, b, n)"; GENERATOR_NONE for any other text. A text
 * that starts like a generator but does not parse is an error (not silently a string). */
static int parse_generator(const char *key, const char *text, generator_kind *kind, double *a,
                           double *b, long *n, akt_error *err)
{
    *kind = GENERATOR_NONE;
    bool linear = !strncmp(text, "linspace", 8), logarithmic = !strncmp(text, "logspace", 8);
    if (!linear && !logarithmic)
        return AKT_OK;
    int used = -1;
    sscanf(text + 8, " ( %lf , %lf , %ld ) %n", a, b, n, &used);
    if (used < 0 || (size_t)used != strlen(text + 8) || !isfinite(*a) || !isfinite(*b))
        return akt_error_set(err, AKT_ERR_INPUT,
                             "sweep.%s: '%s': expected %s(a, b, n) with numbers a, b and a count n",
                             key, text, linear ? "linspace" : "logspace");
    if (*n < 1 || *n > AKT_SWEEP_MAX_POINTS)
        return akt_error_set(err, AKT_ERR_INPUT, "sweep.%s: '%s': n must be in 1..%d", key, text,
                             AKT_SWEEP_MAX_POINTS);
    if (logarithmic && (fabs(*a) > 300 || fabs(*b) > 300))
        return akt_error_set(err, AKT_ERR_INPUT,
                             "sweep.%s: '%s': logspace takes exponents (10^a .. 10^b, as numpy); "
                             "|a| and |b| must be at most 300", key, text);
    *kind = linear ? GENERATOR_LINEAR : GENERATOR_LOG;
    return AKT_OK;
}

/* Value i of n evenly spaced from a to b: a + (b - a) i / (n - 1), with the end points exact. */
static double linspace_value(double a, double b, long n, long i)
{
    if (n == 1 || i == 0)
        return a;
    if (i == n - 1)
        return b;
    return a + (b - a) * (double)i / (double)(n - 1);
}

static char *format_number(double value)
{
    char text[64];
    snprintf(text, sizeof text, "%.17g", value);
    return strdup(text);
}

static void free_strings(char **values, size_t count)
{
    if (!values)
        return;
    for (size_t i = 0; i < count; i++)
        free(values[i]);
    free(values);
}

int akt_sweep_expand_values(const char *key, char *const *written, size_t written_count,
                            char ***values, size_t *count, akt_error *err)
{
    *values = NULL;
    *count = 0;
    generator_kind kind = GENERATOR_NONE;
    double a = 0, b = 0;
    long n = 0;
    if (written_count == 1) {
        int status = parse_generator(key, written[0], &kind, &a, &b, &n, err);
        if (status != AKT_OK)
            return status;
    }
    size_t total = kind == GENERATOR_NONE ? written_count : (size_t)n;
    if (total == 0)
        return akt_error_set(err, AKT_ERR_INPUT, "sweep.%s: an axis needs at least one value", key);
    char **list = calloc(total, sizeof *list);
    if (!list)
        return out_of_memory(err);
    for (size_t i = 0; i < total; i++) {
        if (kind == GENERATOR_NONE) {
            list[i] = strdup(written[i]);
        } else {
            double x = linspace_value(a, b, n, (long)i);
            list[i] = format_number(kind == GENERATOR_LOG ? pow(10.0, x) : x);
        }
        if (!list[i]) {
            free_strings(list, i);
            return out_of_memory(err);
        }
    }
    *values = list;
    *count = total;
    return AKT_OK;
}

/* ---- command-line axes ---------------------------------------------------------------- */

static bool is_generator_text(const char *value)
{
    while (*value == ' ')
        value++;
    return !strncmp(value, "linspace", 8) || !strncmp(value, "logspace", 8);
}

bool akt_sweep_is_axis_assignment(const char *assignment)
{
    const char *equals = strchr(assignment, '=');
    if (!equals)
        return false;
    const char *value = equals + 1;
    while (*value == ' ')
        value++;
    if (*value == '[' || *value == '{')
        return false;
    return is_generator_text(value) || strchr(value, ',') != NULL;
}

static char *trimmed_copy(const char *begin, const char *end)
{
    while (begin < end && *begin == ' ')
        begin++;
    while (end > begin && end[-1] == ' ')
        end--;
    char *copy = malloc((size_t)(end - begin) + 1);
    if (copy) {
        memcpy(copy, begin, (size_t)(end - begin));
        copy[end - begin] = '\0';
    }
    return copy;
}

int akt_sweep_axis_override(const char *assignment, char **override, akt_error *err)
{
    *override = NULL;
    const char *equals = strchr(assignment, '=');
    if (!equals)
        return akt_error_set(err, AKT_ERR_INPUT, "--set %s: expected key=v1,v2,...", assignment);
    char *key = trimmed_copy(assignment, equals);
    char *value = trimmed_copy(equals + 1, equals + strlen(equals));
    int status = AKT_OK;
    if (!key || !value) {
        status = out_of_memory(err);
    } else if (!*key || strchr(key, ' ')) {
        status = akt_error_set(err, AKT_ERR_INPUT, "--set %s: expected key=v1,v2,... with a dotted key",
                               assignment);
    } else if (!*value) {
        status = akt_error_set(err, AKT_ERR_INPUT, "--set %s: no values", assignment);
    }
    size_t length = (key ? strlen(key) : 0) + 2 * (value ? strlen(value) : 0) + 16;
    char *text = status == AKT_OK ? malloc(length) : NULL;
    if (status == AKT_OK && !text)
        status = out_of_memory(err);
    if (status == AKT_OK && is_generator_text(value)) {
        snprintf(text, length, "sweep.%s=%s", key, value);
    } else if (status == AKT_OK) {
        /* v1,v2,... -> [v1, v2, ...]; an empty item is a typo, not a value. */
        size_t used = (size_t)snprintf(text, length, "sweep.%s=[", key);
        for (const char *item = value; status == AKT_OK;) {
            const char *comma = strchr(item, ',');
            const char *end = comma ? comma : item + strlen(item);
            char *one = trimmed_copy(item, end);
            if (!one)
                status = out_of_memory(err);
            else if (!*one)
                status = akt_error_set(err, AKT_ERR_INPUT, "--set %s: empty value in the list", assignment);
            else
                used += (size_t)snprintf(text + used, length - used, "%s%s", item == value ? "" : ", ", one);
            free(one);
            if (!comma)
                break;
            item = comma + 1;
        }
        if (status == AKT_OK)
            snprintf(text + used, length - used, "]");
    }
    free(key);
    free(value);
    if (status != AKT_OK) {
        free(text);
        return status;
    }
    *override = text;
    return AKT_OK;
}

/* ---- the grid ------------------------------------------------------------------------- */

void akt_sweep_grid_free(akt_sweep_grid *grid)
{
    if (!grid)
        return;
    for (size_t a = 0; a < grid->axis_count; a++) {
        free(grid->axes[a].key);
        free_strings(grid->axes[a].values, grid->axes[a].count);
    }
    free(grid->axes);
    free(grid->base_yaml);
    akt_spec_free(&grid->base);
    memset(grid, 0, sizeof *grid);
}

int akt_sweep_grid_init(akt_sweep_grid *grid, const akt_spec *spec, akt_error *err)
{
    memset(grid, 0, sizeof *grid);
    int status = akt_spec_copy(&grid->base, spec, err);
    if (status != AKT_OK)
        return status;
    grid->point_count = 1;
    if (!(grid->base_yaml = akt_spec_to_yaml(spec))) {
        akt_sweep_grid_free(grid);
        return out_of_memory(err);
    }
    if (spec->sweep_count && !(grid->axes = calloc(spec->sweep_count, sizeof *grid->axes))) {
        akt_sweep_grid_free(grid);
        return out_of_memory(err);
    }
    for (size_t a = 0; a < spec->sweep_count; a++) {
        const akt_sweep_axis *written = &spec->sweep[a];
        akt_sweep_axis *axis = &grid->axes[a];
        grid->axis_count = a + 1;
        if (!(axis->key = strdup(written->key))) {
            akt_sweep_grid_free(grid);
            return out_of_memory(err);
        }
        status = akt_sweep_expand_values(written->key, written->values, written->count,
                                         &axis->values, &axis->count, err);
        if (status == AKT_OK && grid->point_count > AKT_SWEEP_MAX_POINTS / axis->count)
            status = akt_error_set(err, AKT_ERR_INPUT, "sweep: the grid has more than %d points",
                                   AKT_SWEEP_MAX_POINTS);
        if (status != AKT_OK) {
            akt_sweep_grid_free(grid);
            return status;
        }
        grid->point_count *= axis->count;
    }
    return AKT_OK;
}

void akt_sweep_point_indices(const akt_sweep_grid *grid, size_t point, size_t *indices)
{
    for (size_t a = grid->axis_count; a-- > 0;) {
        indices[a] = point % grid->axes[a].count;
        point /= grid->axes[a].count;
    }
}

const char *akt_sweep_point_value(const akt_sweep_grid *grid, size_t point, size_t axis)
{
    for (size_t a = grid->axis_count; a-- > axis + 1;)
        point /= grid->axes[a].count;
    return grid->axes[axis].values[point % grid->axes[axis].count];
}

int akt_sweep_point_spec(const akt_sweep_grid *grid, size_t point, akt_spec *spec, akt_error *err)
{
    memset(spec, 0, sizeof *spec);
    char **overrides = calloc(grid->axis_count + 1, sizeof *overrides);
    int status = overrides ? AKT_OK : out_of_memory(err);
    for (size_t a = 0; status == AKT_OK && a < grid->axis_count; a++) {
        const char *key = grid->axes[a].key, *value = akt_sweep_point_value(grid, point, a);
        size_t length = strlen(key) + strlen(value) + 2;
        if (!(overrides[a] = malloc(length)))
            status = out_of_memory(err);
        else
            snprintf(overrides[a], length, "%s=%s", key, value);
    }
    if (status == AKT_OK) {
        status = akt_spec_load_string(spec, grid->base_yaml, grid->base.file, grid->base.directory,
                                      (const char *const *)overrides, grid->axis_count, err);
        if (status != AKT_OK)
            akt_error_prefix(err, "sweep point %zu", point);
    }
    if (overrides)
        free_strings(overrides, grid->axis_count);
    return status;
}

/* Every requested regime of a point must have a method (e.g. lazy needs weight_decay 0), and no
 * point may ask for output files (only akt solve writes them; akt_solve refuses them). */
static int check_methods(const akt_spec *spec, size_t point, akt_error *err)
{
    if (spec->output.kernels || spec->output.trajectory)
        return akt_error_set(err, AKT_ERR_INPUT, "sweep point %zu: output.%s: only akt solve "
                             "writes output files (every point would overwrite the file); remove "
                             "the key", point, spec->output.kernels ? "kernels" : "trajectory");
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        const akt_method_type *method;
        if (spec->target.regimes[r] &&
            akt_method_resolve(spec, (akt_regime)r, &method, err) != AKT_OK)
            return akt_error_prefix(err, "sweep point %zu", point);
    }
    return AKT_OK;
}

int akt_sweep_validate(const akt_sweep_grid *grid, akt_error *err)
{
    for (size_t point = 0; point < grid->point_count; point++) {
        akt_spec spec;
        int status = akt_sweep_point_spec(grid, point, &spec, err);
        if (status != AKT_OK)
            return status;
        status = check_methods(&spec, point, err);
        akt_spec_free(&spec);
        if (status != AKT_OK)
            return status;
    }
    return AKT_OK;
}

/* ---- solving with data reuse ---------------------------------------------------------- */

void akt_sweep_solver_init(akt_sweep_solver *solver, const akt_sweep_grid *grid)
{
    memset(solver, 0, sizeof *solver);
    solver->grid = grid;
}

void akt_sweep_solver_free(akt_sweep_solver *solver)
{
    if (solver->data_loaded)
        akt_data_free(&solver->data);
    akt_source_cache_free(solver->sources);
    memset(solver, 0, sizeof *solver);
}

static bool is_data_key(const char *key)
{
    return !strcmp(key, "seed") || !strncmp(key, "data.", 5);
}

/* The data depend on seed and data.* alone, and every other key is common to all points. */
static bool same_data(const akt_sweep_grid *grid, size_t a, size_t b)
{
    for (size_t axis = 0; axis < grid->axis_count; axis++)
        if (is_data_key(grid->axes[axis].key) &&
            strcmp(akt_sweep_point_value(grid, a, axis), akt_sweep_point_value(grid, b, axis)))
            return false;
    return true;
}

int akt_sweep_solve_point(akt_sweep_solver *solver, size_t point, akt_solution *solution,
                          akt_error *err)
{
    memset(solution, 0, sizeof *solution);
    if (!solver->sources &&
        !(solver->sources = akt_source_cache_alloc(AKT_SOURCE_CACHE_CAPACITY, err)))
        return err->status;
    akt_spec spec;
    int status = akt_sweep_point_spec(solver->grid, point, &spec, err);
    if (status != AKT_OK)
        return status;
    if (!solver->data_loaded || !same_data(solver->grid, solver->data_point, point)) {
        if (solver->data_loaded)
            akt_data_free(&solver->data);
        solver->data_loaded = false;
        status = akt_data_load(&solver->data, &spec, err);
        if (status != AKT_OK) {
            akt_data_free(&solver->data);
            akt_spec_free(&spec);
            return akt_error_prefix(err, "sweep point %zu", point);
        }
        solver->data_loaded = true;
        solver->data_point = point;
        solver->data_loads++;
    }
    akt_solver *point_solver = akt_solver_alloc(&spec, &solver->data, err);
    if (point_solver) {
        akt_solver_set_cache(point_solver, solver->sources);
        status = akt_solver_run(point_solver, solution, err);
        akt_solver_free(point_solver);
    } else {
        status = err->status;
    }
    akt_spec_free(&spec);
    if (status != AKT_OK)
        akt_error_prefix(err, "sweep point %zu", point);
    return status;
}

/* ---- rows ------------------------------------------------------------------------------ */

akt_sweep_format akt_sweep_format_for(const char *path)
{
    size_t length = path ? strlen(path) : 0;
    return length >= 6 && !strcmp(path + length - 6, ".jsonl") ? AKT_SWEEP_JSON_LINES : AKT_SWEEP_CSV;
}

static const char *const fixed_columns[] = {"regime", "test_loss", "train_loss", "mc_error",
                                            "transfer_benefit", "converged", "method", "residual",
                                            "seconds"};
enum { FIXED_COLUMNS = sizeof fixed_columns / sizeof fixed_columns[0] };

/* A CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
static void write_csv_text(FILE *out, const char *text)
{
    if (!strpbrk(text, ",\"\r\n")) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *c = text; *c; c++) {
        if (*c == '"')
            fputc('"', out);
        fputc(*c, out);
    }
    fputc('"', out);
}

static void write_json_string(FILE *out, const char *text)
{
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(out, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(out, "\\u%04x", *c);
        else
            fputc(*c, out);
    }
    fputc('"', out);
}

/* A JSON number as RFC 8259 writes it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool is_json_number(const char *text)
{
    const char *c = text;
    if (*c == '-')
        c++;
    if (*c == '0')
        c++;
    else if (*c >= '1' && *c <= '9')
        while (*c >= '0' && *c <= '9')
            c++;
    else
        return false;
    if (*c == '.') {
        if (!(*++c >= '0' && *c <= '9'))
            return false;
        while (*c >= '0' && *c <= '9')
            c++;
    }
    if (*c == 'e' || *c == 'E') {
        c++;
        if (*c == '+' || *c == '-')
            c++;
        if (!(*c >= '0' && *c <= '9'))
            return false;
        while (*c >= '0' && *c <= '9')
            c++;
    }
    return *c == '\0';
}

void akt_sweep_write_header(FILE *out, const akt_sweep_grid *grid, akt_sweep_format format)
{
    if (format != AKT_SWEEP_CSV)
        return;
    fputs("point", out);
    for (size_t a = 0; a < grid->axis_count; a++) {
        fputc(',', out);
        write_csv_text(out, grid->axes[a].key);
    }
    for (int c = 0; c < FIXED_COLUMNS; c++)
        fprintf(out, ",%s", fixed_columns[c]);
    fputc('\n', out);
}

typedef struct {
    FILE *out;
    akt_sweep_format format;
    int column;              /* for JSON: index into the column names */
    const akt_sweep_grid *grid;
} row_writer;

static const char *column_name(const row_writer *w, int column)
{
    if (column == 0)
        return "point";
    if ((size_t)column <= w->grid->axis_count)
        return w->grid->axes[column - 1].key;
    return fixed_columns[column - 1 - (int)w->grid->axis_count];
}

/* Starts a field: the separator (CSV) or the key (JSON). */
static void begin_field(row_writer *w)
{
    if (w->format == AKT_SWEEP_CSV) {
        if (w->column)
            fputc(',', w->out);
    } else {
        fputs(w->column ? ", " : "{", w->out);
        write_json_string(w->out, column_name(w, w->column));
        fputs(": ", w->out);
    }
    w->column++;
}

static void field_number(row_writer *w, double value)
{
    begin_field(w);
    if (isfinite(value))
        fprintf(w->out, "%.17g", value);
    else if (w->format == AKT_SWEEP_JSON_LINES)
        fputs("null", w->out);
}

/* A text field; in JSON a number-looking text (a swept value) stays a number. */
static void field_text(row_writer *w, const char *text, bool allow_number)
{
    begin_field(w);
    if (w->format == AKT_SWEEP_CSV)
        write_csv_text(w->out, text);
    else if (allow_number && is_json_number(text))
        fputs(text, w->out);
    else
        write_json_string(w->out, text);
}

static void field_bool(row_writer *w, bool value)
{
    begin_field(w);
    fputs(value ? "true" : "false", w->out);
}

static void write_row(FILE *out, const akt_sweep_grid *grid, akt_sweep_format format, size_t point,
                      akt_regime regime, const akt_result *result, const akt_result *scratch)
{
    row_writer w = {out, format, 0, grid};
    begin_field(&w);
    fprintf(out, "%zu", point);
    for (size_t a = 0; a < grid->axis_count; a++)
        field_text(&w, akt_sweep_point_value(grid, point, a), true);
    field_text(&w, akt_regime_name(regime), false);
    bool compared = result && scratch && (regime == AKT_REGIME_READOUT || regime == AKT_REGIME_JOINT);
    field_number(&w, result ? result->test_loss : NAN);
    field_number(&w, result ? result->train_loss : NAN);
    field_number(&w, result ? result->mc_error : NAN);
    field_number(&w, compared ? scratch->test_loss - result->test_loss : NAN);
    field_bool(&w, result && result->converged);
    if (result) {
        field_text(&w, result->method, false);
    } else {
        begin_field(&w);
        if (format == AKT_SWEEP_JSON_LINES)
            fputs("null", out);
    }
    field_number(&w, result ? result->residual : NAN);
    field_number(&w, result ? result->seconds : NAN);
    fputs(format == AKT_SWEEP_CSV ? "\n" : "}\n", out);
}

void akt_sweep_write_rows(FILE *out, const akt_sweep_grid *grid, akt_sweep_format format,
                          size_t point, const akt_solution *solution)
{
    /* The requested regimes are those of the base spec: target.regimes cannot be swept. */
    const akt_result *scratch = akt_solution_find(solution, AKT_REGIME_SCRATCH);
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        if (r != AKT_REGIME_SOURCE && !grid->base.target.regimes[r])
            continue;
        write_row(out, grid, format, point, (akt_regime)r,
                  akt_solution_find(solution, (akt_regime)r), scratch);
    }
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

/* ---- reading an existing table -------------------------------------------------------- */

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
    free_strings(list, n);
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
        free_strings(v, n);
        return status;
    }
    *keys = k;
    *values = v;
    *count = n;
    return AKT_OK;
}

static int header_count(const akt_sweep_grid *grid)
{
    return 1 + (int)grid->axis_count + FIXED_COLUMNS;
}

/* The point a parsed row belongs to, after checking it against the grid. */
static int match_row(const akt_sweep_file *file, char **names, char **fields, size_t count,
                     size_t line_number, size_t *point, akt_error *err)
{
    const akt_sweep_grid *grid = file->grid;
    row_writer w = {NULL, file->format, 0, grid};
    if (count != (size_t)header_count(grid))
        return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu: %zu columns where the sweep has %d; "
                             "refusing to mix sweeps (use another --out)", file->path, line_number,
                             count, header_count(grid));
    for (size_t i = 0; names && i < count; i++)
        if (strcmp(names[i], column_name(&w, (int)i)))
            return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu: column '%s' where the sweep has '%s'; "
                                 "refusing to mix sweeps (use another --out)", file->path,
                                 line_number, names[i], column_name(&w, (int)i));
    char *end = NULL;
    errno = 0;
    unsigned long long index = strtoull(fields[0], &end, 10);
    if (!*fields[0] || *end || errno || index >= grid->point_count)
        return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu: point '%s' is not a point of this sweep "
                             "(0..%zu); refusing to mix sweeps", file->path, line_number, fields[0],
                             grid->point_count - 1);
    for (size_t a = 0; a < grid->axis_count; a++) {
        const char *expected = akt_sweep_point_value(grid, (size_t)index, a);
        if (strcmp(fields[1 + a], expected))
            return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu: point %llu has %s = %s where this "
                                 "sweep has %s; refusing to mix sweeps", file->path, line_number,
                                 index, grid->axes[a].key, fields[1 + a], expected);
    }
    *point = (size_t)index;
    return AKT_OK;
}

static int append_text(char **target, const char *line, akt_error *err)
{
    size_t old = *target ? strlen(*target) : 0, add = strlen(line);
    char *grown = realloc(*target, old + add + 2);
    if (!grown)
        return out_of_memory(err);
    memcpy(grown + old, line, add);
    grown[old + add] = '\n';
    grown[old + add + 1] = '\0';
    *target = grown;
    return AKT_OK;
}

/* The expected CSV header line, without its newline. */
static char *header_text(const akt_sweep_grid *grid)
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

static int read_line_into(akt_sweep_file *file, const char *line, size_t line_number,
                          akt_error *err)
{
    char **names = NULL, **fields = NULL;
    size_t count = 0, point = 0;
    int status = file->format == AKT_SWEEP_CSV ? split_csv(line, &fields, &count)
                                               : split_json(line, &names, &fields, &count);
    if (status == AKT_ERR_MEMORY)
        return out_of_memory(err);
    if (status != AKT_OK)
        return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu: not a JSON row of akt sweep; refusing to "
                             "mix (use another --out)", file->path, line_number);
    status = match_row(file, names, fields, count, line_number, &point, err);
    if (status == AKT_OK) {
        file->done += file->rows[point] == NULL;
        status = append_text(&file->rows[point], line, err);
    }
    free_strings(names, count);
    free_strings(fields, count);
    return status;
}

static int read_existing(akt_sweep_file *file, FILE *in, akt_error *err)
{
    char *line = NULL, *header = NULL;
    size_t capacity = 0, line_number = 0;
    ssize_t length;
    int status = AKT_OK;
    while (status == AKT_OK && (length = getline(&line, &capacity, in)) >= 0) {
        line_number++;
        while (length && (line[length - 1] == '\n' || line[length - 1] == '\r'))
            line[--length] = '\0';
        if (file->format == AKT_SWEEP_CSV && line_number == 1) {
            if (!(header = header_text(file->grid)))
                status = out_of_memory(err);
            else if (strcmp(line, header))
                status = akt_error_set(err, AKT_ERR_INPUT, "%s:1: header '%s' differs from this "
                                       "sweep's '%s'; refusing to mix sweeps (use another --out)",
                                       file->path, line, header);
            continue;
        }
        if (length)
            status = read_line_into(file, line, line_number, err);
    }
    free(line);
    free(header);
    return status;
}

void akt_sweep_file_close(akt_sweep_file *file)
{
    if (!file)
        return;
    if (file->rows && file->grid)
        free_strings(file->rows, file->grid->point_count);
    free(file->path);
    free(file->temporary);
    memset(file, 0, sizeof *file);
}

int akt_sweep_file_open(akt_sweep_file *file, const char *path, const akt_sweep_grid *grid,
                        akt_error *err)
{
    memset(file, 0, sizeof *file);
    file->grid = grid;
    file->format = akt_sweep_format_for(path);
    file->path = strdup(path);
    size_t length = strlen(path) + sizeof ".partial";
    file->temporary = malloc(length);
    file->rows = calloc(grid->point_count, sizeof *file->rows);
    if (!file->path || !file->temporary || !file->rows) {
        akt_sweep_file_close(file);
        return out_of_memory(err);
    }
    snprintf(file->temporary, length, "%s.partial", path);
    FILE *in = fopen(path, "r");
    if (!in && errno != ENOENT) {
        int saved = errno;
        akt_sweep_file_close(file);
        return akt_error_set(err, AKT_ERR_IO, "%s: %s", path, strerror(saved));
    }
    int status = in ? read_existing(file, in, err) : AKT_OK;
    if (in)
        fclose(in);
    if (status != AKT_OK) {
        akt_sweep_file_close(file);
        return status;
    }
    /* A temporary file can only be left by a run killed mid-write (SIGKILL): its content is
     * superseded by path, which rename() had not yet replaced. */
    unlink(file->temporary);
    return AKT_OK;
}

bool akt_sweep_file_has(const akt_sweep_file *file, size_t point)
{
    return point < file->grid->point_count && file->rows[point] != NULL;
}

/* The directory part of path, for the fsync that makes the rename itself durable. */
static void sync_directory(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    char *slash = strrchr(copy, '/');
    const char *directory = slash ? (slash == copy ? "/" : (*slash = '\0', copy)) : ".";
    int fd = open(directory, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

static int write_table(const akt_sweep_file *file, akt_error *err)
{
    FILE *out = fopen(file->temporary, "w");
    if (!out)
        return akt_error_set(err, AKT_ERR_IO, "%s: %s", file->temporary, strerror(errno));
    akt_sweep_write_header(out, file->grid, file->format);
    for (size_t point = 0; point < file->grid->point_count; point++)
        if (file->rows[point])
            fputs(file->rows[point], out);
    bool ok = fflush(out) == 0 && fsync(fileno(out)) == 0;
    ok = (fclose(out) == 0) && ok;
    if (!ok || rename(file->temporary, file->path) != 0) {
        int saved = errno;
        unlink(file->temporary);
        return akt_error_set(err, AKT_ERR_IO, "%s: %s", file->path, strerror(saved));
    }
    sync_directory(file->path);
    return AKT_OK;
}

int akt_sweep_file_add(akt_sweep_file *file, size_t point, const akt_solution *solution,
                       akt_error *err)
{
    if (point >= file->grid->point_count)
        return akt_error_set(err, AKT_ERR_INPUT, "sweep: point %zu is outside the grid", point);
    char *text = akt_sweep_rows_text(file->grid, file->format, point, solution);
    if (!text)
        return out_of_memory(err);
    file->done += file->rows[point] == NULL;
    free(file->rows[point]);
    file->rows[point] = text;
    int status = write_table(file, err);
    return status;
}

/* ---- running a sweep ------------------------------------------------------------------ */

/* Where finished points go: the resumable file, or a stream. */
typedef struct {
    const akt_sweep_grid *grid;
    const akt_sweep_options *options;
    akt_sweep_file file;
    bool to_file;
    size_t total, done;          /* pending points of this run, finished so far */
} sweep_sink;

static int sink_open(sweep_sink *sink, const akt_sweep_grid *grid, const akt_sweep_options *options,
                     akt_error *err)
{
    memset(sink, 0, sizeof *sink);
    sink->grid = grid;
    sink->options = options;
    sink->to_file = options->out_path != NULL;
    if (sink->to_file) {
        int status = akt_sweep_file_open(&sink->file, options->out_path, grid, err);
        if (status != AKT_OK)
            return status;
    } else {
        akt_sweep_write_header(options->stream, grid, options->format);
        fflush(options->stream);
    }
    sink->total = grid->point_count - (sink->to_file ? sink->file.done : 0);
    return AKT_OK;
}

static bool sink_has(const sweep_sink *sink, size_t point)
{
    return sink->to_file && akt_sweep_file_has(&sink->file, point);
}

static void sink_progress(const sweep_sink *sink)
{
    if (sink->options->progress)
        sink->options->progress(sink->options->progress_context, sink->done, sink->total);
}

static int sink_add(sweep_sink *sink, size_t point, const akt_solution *solution, akt_error *err)
{
    int status = AKT_OK;
    if (sink->to_file) {
        status = akt_sweep_file_add(&sink->file, point, solution, err);
    } else {
        akt_sweep_write_rows(sink->options->stream, sink->grid, sink->options->format, point, solution);
        if (fflush(sink->options->stream) != 0)
            status = akt_error_set(err, AKT_ERR_IO, "sweep: could not write the rows");
    }
    sink->done++;
    sink_progress(sink);
    return status;
}

static void sink_close(sweep_sink *sink)
{
    if (sink->to_file)
        akt_sweep_file_close(&sink->file);
}

/* The outcome of one point: recorded (AKT_OK or AKT_ERR_NUMERIC) or a reason to stop. */
static bool recordable(int status)
{
    return status == AKT_OK || status == AKT_ERR_NUMERIC;
}

static int run_serial(const akt_sweep_grid *grid, sweep_sink *sink, akt_sweep_summary *summary,
                      akt_error *err)
{
    akt_sweep_solver solver;
    akt_sweep_solver_init(&solver, grid);
    int status = AKT_OK;
    sink_progress(sink);
    for (size_t point = 0; point < grid->point_count && status == AKT_OK; point++) {
        if (sink_has(sink, point))
            continue;
        akt_solution solution;
        akt_error point_err = {0};
        int solved = akt_sweep_solve_point(&solver, point, &solution, &point_err);
        if (!recordable(solved)) {
            *err = point_err;
            status = solved;
            break;
        }
        summary->solved++;
        summary->failed += solved != AKT_OK;
        status = sink_add(sink, point, &solution, err);
    }
    summary->data_loads = solver.data_loads;
    akt_source_cache_stats sources;
    akt_source_cache_statistics(solver.sources, &sources);
    summary->source_runs = sources.misses;
    summary->source_reuses = sources.hits;
    akt_sweep_solver_free(&solver);
    return status;
}

#ifdef AKT_HAVE_MPI
#include <mpi.h>

enum { TAG_RESULT = 1, TAG_WORK = 2 };

/* A worker's answer; the first one a worker sends (point -1) only asks for work. Sent as bytes:
 * the ranks of one mpirun run the same binary (a homogeneous cluster). */
typedef struct {
    long point;
    int status;
    size_t data_loads;           /* added by this point */
    size_t source_runs, source_reuses;
    char message[AKT_ERROR_MESSAGE_SIZE];
    akt_solution solution;
} worker_report;

static bool mpi_active(int *rank, int *size)
{
    int initialised = 0, finalised = 0;
    MPI_Initialized(&initialised);
    MPI_Finalized(&finalised);
    if (!initialised || finalised)
        return false;
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return true;
}

static void run_worker(const akt_sweep_grid *grid)
{
    akt_sweep_solver solver;
    akt_sweep_solver_init(&solver, grid);
    worker_report *report = calloc(1, sizeof *report);
    worker_report fallback = {0};
    if (!report)
        report = &fallback;   /* too little memory for a report: still answer, with the error */
    report->point = -1;
    report->status = report == &fallback ? AKT_ERR_MEMORY : AKT_OK;
    /* Counts are sent as what the last point added, so that rank 0 can sum the reports. */
    size_t loads = 0, runs = 0, reuses = 0;
    for (;;) {
        akt_source_cache_stats sources;
        akt_source_cache_statistics(solver.sources, &sources);
        report->data_loads = solver.data_loads - loads;
        report->source_runs = sources.misses - runs;
        report->source_reuses = sources.hits - reuses;
        loads = solver.data_loads;
        runs = sources.misses;
        reuses = sources.hits;
        MPI_Send(report, (int)sizeof *report, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
        long point;
        MPI_Recv(&point, 1, MPI_LONG, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (point < 0)
            break;
        akt_error point_err = {0};
        report->point = point;
        report->status = akt_sweep_solve_point(&solver, (size_t)point, &report->solution, &point_err);
        memcpy(report->message, point_err.message, sizeof report->message);
    }
    if (report != &fallback)
        free(report);
    akt_sweep_solver_free(&solver);
}

/* Rank 0: the queue. Every message from a worker is answered with the next pending point or
 * with -1 (no more work, or the sweep is stopping after an error), until every worker has
 * been told to stop. */
static int run_coordinator(const akt_sweep_grid *grid, sweep_sink *sink, int size,
                           akt_sweep_summary *summary, akt_error *err)
{
    worker_report *report = malloc(sizeof *report);
    int status = report ? AKT_OK : out_of_memory(err);
    size_t next = 0;
    int active = size - 1;
    sink_progress(sink);
    while (active > 0) {
        worker_report empty = {.point = -1, .status = AKT_ERR_MEMORY};
        worker_report *into = report ? report : &empty;
        MPI_Status source;
        MPI_Recv(into, (int)sizeof *into, MPI_BYTE, MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &source);
        if (into->point >= 0) {
            summary->data_loads += into->data_loads;
            summary->source_runs += into->source_runs;
            summary->source_reuses += into->source_reuses;
            if (!recordable(into->status)) {
                if (status == AKT_OK)
                    status = akt_error_set(err, into->status, "%s", into->message);
            } else if (status == AKT_OK) {
                summary->solved++;
                summary->failed += into->status != AKT_OK;
                status = sink_add(sink, (size_t)into->point, &into->solution, err);
            }
        } else if (into->status != AKT_OK && status == AKT_OK) {
            status = akt_error_set(err, into->status, "sweep: a worker ran out of memory");
        }
        while (next < grid->point_count && sink_has(sink, next))
            next++;
        long point = status == AKT_OK && next < grid->point_count ? (long)next++ : -1;
        MPI_Send(&point, 1, MPI_LONG, source.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
        if (point < 0)
            active--;
    }
    free(report);
    return status;
}

static int run_mpi(const akt_sweep_grid *grid, const akt_sweep_options *options, int rank,
                   int size, akt_sweep_summary *summary, akt_error *err)
{
    sweep_sink sink;
    int status = AKT_OK;
    if (rank == 0)
        status = sink_open(&sink, grid, options, err);
    /* The file is rank 0's; a refusal there (another sweep's table) stops every rank. */
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (status != AKT_OK) {
        if (rank != 0)
            akt_error_set(err, status, "sweep: rank 0 refused the output file");
        return status;
    }
    if (rank == 0) {
        summary->skipped = grid->point_count - sink.total;
        status = run_coordinator(grid, &sink, size, summary, err);
        sink_close(&sink);
    } else {
        run_worker(grid);
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (status != AKT_OK && rank != 0)
        akt_error_set(err, status, "sweep: stopped by an error reported on rank 0");
    return status;
}
#endif

int akt_sweep_rank(void)
{
#ifdef AKT_HAVE_MPI
    int rank = 0, size = 1;
    if (mpi_active(&rank, &size))
        return rank;
#endif
    return 0;
}

int akt_sweep_run(const akt_sweep_grid *grid, const akt_sweep_options *options,
                  akt_sweep_summary *summary, akt_error *err)
{
    memset(summary, 0, sizeof *summary);
    summary->points = grid->point_count;
#ifdef AKT_HAVE_MPI
    int rank = 0, size = 1;
    if (mpi_active(&rank, &size) && size > 1)
        return run_mpi(grid, options, rank, size, summary, err);
#endif
    sweep_sink sink;
    int status = sink_open(&sink, grid, options, err);
    if (status != AKT_OK)
        return status;
    summary->skipped = grid->point_count - sink.total;
    status = run_serial(grid, &sink, summary, err);
    sink_close(&sink);
    return status;
}
