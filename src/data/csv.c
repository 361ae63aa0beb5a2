/* csv.c: numeric CSV in and out, and the csv task built from it.
 *
 * CSV is how data crosses the boundary of akt: users bring their own splits (task csv) and
 * `akt data` writes the exact rows a solve uses. The reader is strict (rectangular, finite
 * numbers, errors as FILE:LINE:COLUMN) because a silently skipped field would shift every
 * later value; the writer prints 17 significant digits, which round-trips every double, and
 * replaces files atomically (io/io.h) so that a failure never leaves a partial file. */
#include "akt/data.h"
#include "akt/spec.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io.h"

/* ---- Reading */

typedef struct {
    const char *path;
    double *values;
    size_t count, capacity;
    size_t cols;             /* 0 until the first row fixes it */
} csv_table;

static int table_push(csv_table *table, double value, akt_error *err)
{
    if (table->count == table->capacity) {
        size_t capacity = table->capacity ? 2 * table->capacity : 256;
        double *grown = realloc(table->values, capacity * sizeof *grown);
        if (!grown)
            return akt_error_set(err, AKT_ERR_MEMORY, "%s: out of memory after %zu values", table->path, table->count);
        table->values = grown;
        table->capacity = capacity;
    }
    table->values[table->count++] = value;
    return AKT_OK;
}

static size_t skip_blanks(const char *text, size_t pos)
{
    while (text[pos] == ' ' || text[pos] == '\t')
        pos++;
    return pos;
}

/* The field starting at pos, up to the next comma, for messages (at most 40 characters). */
static void field_text(const char *text, size_t pos, char *out, size_t size)
{
    size_t n = 0;
    while (text[pos + n] && text[pos + n] != ',' && n + 1 < size && n < 40)
        n++;
    while (n > 0 && (text[pos + n - 1] == ' ' || text[pos + n - 1] == '\t'))
        n--;
    memcpy(out, text + pos, n);
    out[n] = '\0';
}

static int bad_field(const csv_table *table, const char *text, size_t line, size_t pos, akt_error *err)
{
    char field[64];
    field_text(text, pos, field, sizeof field);
    return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu:%zu: %s", table->path, line, pos + 1,
                         field[0] ? "field is not a number" : "empty field");
}

/* Parses one data line (no newline) and appends its fields. Columns are 1-based bytes. */
static int parse_line(csv_table *table, const char *text, size_t line, akt_error *err)
{
    size_t pos = 0, fields = 0;
    for (;;) {
        pos = skip_blanks(text, pos);
        if (table->cols && fields == table->cols)
            return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu:%zu: ragged row: more than the %zu fields of line 1",
                                 table->path, line, pos + 1, table->cols);
        char *end;
        double value = strtod(text + pos, &end);
        size_t after = skip_blanks(text, (size_t)(end - text));
        if (end == text + pos || (text[after] != ',' && text[after] != '\0'))
            return bad_field(table, text, line, pos, err);
        if (!isfinite(value)) {
            char field[64];
            field_text(text, pos, field, sizeof field);
            return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu:%zu: value '%s' is not finite (NaN and Inf are "
                                 "not allowed)", table->path, line, pos + 1, field);
        }
        int status = table_push(table, value, err);
        if (status)
            return status;
        fields++;
        if (text[after] == '\0') {
            pos = after;
            break;
        }
        pos = after + 1;
    }
    if (!table->cols)
        table->cols = fields;
    else if (fields != table->cols)
        return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu:%zu: ragged row: %zu fields, line 1 has %zu",
                             table->path, line, pos + 1, fields, table->cols);
    return AKT_OK;
}

static int is_blank(const char *text)
{
    return text[skip_blanks(text, 0)] == '\0';
}

/* Reads one line (without its \n) into *text, counting every byte in *total. Returns 1 for a
 * line, 0 at the end of the file, -1 out of memory, -2 past AKT_CSV_MAX_BYTES. A NUL byte ends
 * the read with *nul set to its 1-based column (getline would hand it on inside the line and
 * strlen would stop there; CSV is text, so it is an error at its position). */
static int read_line(FILE *file, char **text, size_t *capacity, size_t *length, size_t *total, size_t *nul)
{
    size_t n = 0;
    int c = EOF, result = 1;
    *nul = 0;
    flockfile(file);
    while ((c = getc_unlocked(file)) != EOF && c != '\n') {
        if (++*total > AKT_CSV_MAX_BYTES) {
            result = -2;
            break;
        }
        if (c == '\0') {
            *nul = n + 1;
            break;
        }
        if (n + 1 >= *capacity) {
            size_t grown_capacity = *capacity ? 2 * *capacity : 256;
            char *grown = realloc(*text, grown_capacity);
            if (!grown) {
                result = -1;
                break;
            }
            *text = grown;
            *capacity = grown_capacity;
        }
        (*text)[n++] = (char)c;
    }
    funlockfile(file);
    if (result == 1 && c == '\n' && ++*total > AKT_CSV_MAX_BYTES)
        result = -2;
    if (result == 1 && c == EOF && n == 0 && !*nul)
        return 0;
    if (result == 1 && !*text) { /* an empty line before any allocation */
        *text = malloc(256);
        if (!*text)
            return -1;
        *capacity = 256;
    }
    if (result == 1)
        (*text)[n] = '\0';
    *length = n;
    return result;
}

static int too_large(const char *path, akt_error *err)
{
    return akt_error_set(err, AKT_ERR_INPUT, "%s: larger than %zu GiB, the limit for a CSV file", path,
                         AKT_CSV_MAX_BYTES >> 30);
}

static int read_lines(FILE *file, csv_table *table, size_t *rows, akt_error *err)
{
    char *text = NULL;
    size_t capacity = 0, total = 0, line = 0, first_blank = 0, length = 0, nul = 0;
    int status = AKT_OK, got;
    errno = 0;
    while (!status && (got = read_line(file, &text, &capacity, &length, &total, &nul)) != 0) {
        line++;
        if (got == -1) {
            status = akt_error_set(err, AKT_ERR_MEMORY, "%s:%zu: out of memory reading the line", table->path,
                                   line);
            break;
        }
        if (got == -2) {
            status = too_large(table->path, err);
            break;
        }
        if (nul) {
            status = akt_error_set(err, AKT_ERR_INPUT, "%s:%zu:%zu: NUL byte in a text file", table->path,
                                   line, nul);
            break;
        }
        while (length > 0 && text[length - 1] == '\r')
            text[--length] = '\0';
        if (is_blank(text)) {
            if (!first_blank)
                first_blank = line; /* blank lines are allowed only at the end */
        } else if (first_blank) {
            status = akt_error_set(err, AKT_ERR_INPUT, "%s:%zu:1: empty line inside the data", table->path,
                                   first_blank);
        } else {
            status = parse_line(table, text, line, err);
            ++*rows;
        }
    }
    if (!status && ferror(file))
        status = akt_error_set(err, AKT_ERR_INPUT, "%s: read error: %s", table->path, strerror(errno));
    if (!status && *rows == 0)
        status = akt_error_set(err, AKT_ERR_INPUT, "%s: empty file (no rows)", table->path);
    free(text);
    return status;
}

int akt_csv_read(const char *path, double **values, size_t *rows, size_t *cols, akt_error *err)
{
    *values = NULL;
    *rows = *cols = 0;
    FILE *file = fopen(path, "r");
    if (!file)
        return akt_error_set(err, AKT_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat info;
    if (fstat(fileno(file), &info) == 0 && S_ISREG(info.st_mode) && (uintmax_t)info.st_size > AKT_CSV_MAX_BYTES) {
        fclose(file);
        return too_large(path, err);
    }
    csv_table table = {path, NULL, 0, 0, 0};
    size_t count = 0;
    int status = read_lines(file, &table, &count, err);
    fclose(file);
    if (status) {
        free(table.values);
        return status;
    }
    *values = table.values;
    *rows = count;
    *cols = table.cols;
    return AKT_OK;
}

/* ---- Writing */

static int make_directory(const char *directory, akt_error *err)
{
    if (mkdir(directory, 0777) == 0)
        return AKT_OK;
    int saved = errno;
    struct stat info;
    if (saved == EEXIST && stat(directory, &info) == 0 && S_ISDIR(info.st_mode))
        return AKT_OK;
    return akt_error_set(err, AKT_ERR_IO, "%s: cannot create the directory: %s", directory,
                         saved == EEXIST ? "a file of that name exists" : strerror(saved));
}

/* One matrix as CSV rows, for akt_io_replace. */
typedef struct {
    const double *values;
    size_t rows, cols;
} csv_matrix;

static int print_rows(FILE *file, void *context, akt_error *err)
{
    (void)err;
    const csv_matrix *m = context;
    /* A failed fprintf stops the rows early; the stream's error flag, which akt_io checks after
     * the writer, turns it into the error. */
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++)
            if (fprintf(file, "%.17g%c", m->values[i * m->cols + j], j + 1 < m->cols ? ',' : '\n') < 0)
                return AKT_OK;
    return AKT_OK;
}

static int write_matrix(const char *directory, const char *name, const double *values, size_t rows,
                        size_t cols, akt_error *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", directory, name) >= sizeof path)
        return akt_error_set(err, AKT_ERR_IO, "%s/%s: path too long", directory, name);
    csv_matrix matrix = {values, rows, cols};
    return akt_io_replace(path, NULL, print_rows, &matrix, err);
}

static int write_split(const char *directory, const char *name, const akt_split *split, akt_error *err)
{
    char file[64];
    snprintf(file, sizeof file, "%s_X.csv", name);
    int status = write_matrix(directory, file, split->x, split->rows, split->cols, err);
    if (status)
        return status;
    snprintf(file, sizeof file, "%s_y.csv", name);
    return write_matrix(directory, file, split->y, split->rows, 1, err);
}

int akt_data_write_csv(const akt_data *data, const char *directory, akt_error *err)
{
    int status = make_directory(directory, err);
    if (!status)
        status = write_split(directory, "source", &data->source, err);
    if (!status)
        status = write_split(directory, "target", &data->target, err);
    if (!status)
        status = write_split(directory, "test", &data->test, err);
    if (!status && data->source_test.rows > 0)
        status = write_split(directory, "source_test", &data->source_test, err);
    return status;
}

/* ---- The csv task */

/* A path as written in the spec: absolute, or relative to the spec file's directory. */
static char *resolve_path(const akt_spec *spec, const char *path)
{
    const char *directory = spec->directory;
    int join = path[0] != '/' && directory && directory[0];
    size_t length = strlen(path) + (join ? strlen(directory) + 1 : 0) + 1;
    char *resolved = malloc(length);
    if (resolved)
        snprintf(resolved, length, "%s%s%s", join ? directory : "", join ? "/" : "", path);
    return resolved;
}

/* Reads one split's x and y; *x_path receives the resolved x file name (for width messages). */
static int csv_split(akt_split *split, const akt_split_spec *files, const char *name, const akt_spec *spec,
                     char **x_path, akt_error *err)
{
    *x_path = NULL;
    if (!files->x_path || !files->y_path)
        return akt_error_set(err, AKT_ERR_INPUT, "data.%s.%s: missing file name", name, files->x_path ? "y" : "x");
    char *y_path = resolve_path(spec, files->y_path);
    *x_path = resolve_path(spec, files->x_path);
    if (!*x_path || !y_path) {
        free(y_path);
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory");
    }
    size_t rows, cols, y_rows, y_cols;
    double *y = NULL;
    int status = akt_csv_read(*x_path, &split->x, &rows, &cols, err);
    if (!status)
        status = akt_csv_read(y_path, &y, &y_rows, &y_cols, err);
    if (!status && y_cols != 1)
        status = akt_error_set(err, AKT_ERR_INPUT, "%s: data.%s.y must have one column, it has %zu", y_path,
                               name, y_cols);
    if (!status && y_rows != rows)
        status = akt_error_set(err, AKT_ERR_INPUT, "data.%s: %s has %zu rows but %s has %zu", name, *x_path,
                               rows, y_path, y_rows);
    free(y_path);
    if (status) {
        free(split->x);
        free(y);
        memset(split, 0, sizeof *split);
        return status;
    }
    split->y = y;
    split->rows = rows;
    split->cols = cols;
    return AKT_OK;
}

int akt_data_load_csv(akt_data *data, const akt_spec *spec, akt_error *err)
{
    struct {
        akt_split *split;
        const akt_split_spec *files;
        const char *name;
    } splits[] = {
        {&data->source, &spec->data.source, "source"},
        {&data->target, &spec->data.target, "target"},
        {&data->test, &spec->data.test, "test"},
        {&data->source_test, &spec->data.source_test, "source_test"},
    };
    size_t count = spec->data.source_test.present ? 4 : 3;
    char *first_x = NULL;
    int status = AKT_OK;
    for (size_t s = 0; !status && s < count; s++) {
        char *x_path = NULL;
        status = csv_split(splits[s].split, splits[s].files, splits[s].name, spec, &x_path, err);
        if (!status && s > 0 && splits[s].split->cols != data->source.cols)
            status = akt_error_set(err, AKT_ERR_INPUT, "%s has %zu columns but %s has %zu: all x files need "
                                   "the same width D", x_path, splits[s].split->cols, first_x, data->source.cols);
        if (s == 0)
            first_x = x_path;
        else
            free(x_path);
    }
    free(first_x);
    if (!status) {
        data->dim = data->source.cols;
        status = akt_data_fit_alignment(&data->source, &data->target, &data->alignment, err);
    }
    return status;
}
