/* sweep_grid.c: the grid of a sweep: its axes expanded (value lists, linspace, logspace, the
 * command line's "key=v1,v2"), the numbering of points, and each point's spec.
 *
 * Why a point's spec is the base YAML reloaded with all its values as overrides at once, and
 * not the base spec with the values set one by one: see include/akt/sweep.h. Every point is
 * built and checked here (akt_sweep_validate) before any work, so that a bad value deep in a
 * long sweep stops it at once instead of hours later. */
#include "akt/sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/sweep_internal.h"
#include "core/util.h"

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

void sweep_free_strings(char **values, size_t count)
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
        return akt_out_of_memory(err, "the sweep grid");
    for (size_t i = 0; i < total; i++) {
        if (kind == GENERATOR_NONE) {
            list[i] = strdup(written[i]);
        } else {
            double x = linspace_value(a, b, n, (long)i);
            list[i] = format_number(kind == GENERATOR_LOG ? pow(10.0, x) : x);
        }
        if (!list[i]) {
            sweep_free_strings(list, i);
            return akt_out_of_memory(err, "the sweep grid");
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
        status = akt_out_of_memory(err, "the sweep grid");
    } else if (!*key || strchr(key, ' ')) {
        status = akt_error_set(err, AKT_ERR_INPUT, "--set %s: expected key=v1,v2,... with a dotted key",
                               assignment);
    } else if (!*value) {
        status = akt_error_set(err, AKT_ERR_INPUT, "--set %s: no values", assignment);
    }
    size_t length = (key ? strlen(key) : 0) + 2 * (value ? strlen(value) : 0) + 16;
    char *text = status == AKT_OK ? malloc(length) : NULL;
    if (status == AKT_OK && !text)
        status = akt_out_of_memory(err, "the sweep grid");
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
                status = akt_out_of_memory(err, "the sweep grid");
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
        sweep_free_strings(grid->axes[a].values, grid->axes[a].count);
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
        return akt_out_of_memory(err, "the sweep grid");
    }
    if (spec->sweep_count && !(grid->axes = calloc(spec->sweep_count, sizeof *grid->axes))) {
        akt_sweep_grid_free(grid);
        return akt_out_of_memory(err, "the sweep grid");
    }
    for (size_t a = 0; a < spec->sweep_count; a++) {
        const akt_sweep_axis *written = &spec->sweep[a];
        akt_sweep_axis *axis = &grid->axes[a];
        grid->axis_count = a + 1;
        if (!(axis->key = strdup(written->key))) {
            akt_sweep_grid_free(grid);
            return akt_out_of_memory(err, "the sweep grid");
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
    int status = overrides ? AKT_OK : akt_out_of_memory(err, "the sweep grid");
    for (size_t a = 0; status == AKT_OK && a < grid->axis_count; a++) {
        const char *key = grid->axes[a].key, *value = akt_sweep_point_value(grid, point, a);
        size_t length = strlen(key) + strlen(value) + 2;
        if (!(overrides[a] = malloc(length)))
            status = akt_out_of_memory(err, "the sweep grid");
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
        sweep_free_strings(overrides, grid->axis_count);
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
