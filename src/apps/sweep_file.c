/* sweep_file.c: the resumable output file of akt sweep: the finished points' rows, read back
 * from an existing file and checked against the grid, and the file replaced after each point.
 *
 * Why the whole file is rewritten after each point instead of appended to: an append that is
 * cut short by a kill leaves a half row, which a rerun would have to detect and repair; writing
 * a new complete file and rename()-ing it over the old one (akt_io_replace: atomic on POSIX
 * within a directory) leaves either the old or the new table, never a mix. Tables are small (one
 * row per point and regime), so the rewrite costs nothing next to a solve. A file whose header,
 * columns or swept values differ from this sweep's (another grid, or a table of another version
 * of the columns) is refused rather than mixed. */
#include "akt/sweep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "apps/sweep_internal.h"
#include "core/util.h"
#include "io/io.h"

/* A table of this grid written before the observable columns existed: its rows lack values
 * that only a new solve gives, so it is refused (rather than completed with empty fields, which
 * would make a resumed table differ from an uninterrupted one) with a message that says so. */
static int older_table(const akt_sweep_file *file, size_t line_number, akt_error *err)
{
    return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu: a table of this sweep written before the "
                         "observable columns (%s, ...) existed; its finished rows cannot be "
                         "resumed: move it away or use another --out", file->path, line_number,
                         akt_observable_name((akt_observable)0));
}

/* True when the JSON row's keys are exactly the columns before the observables. */
static bool keys_before_observables(const akt_sweep_grid *grid, char **names, size_t count)
{
    if (!names || count != sweep_column_count_before_observables(grid))
        return false;
    for (size_t i = 0; i < count; i++)
        if (strcmp(names[i], sweep_column_name(grid, i)))
            return false;
    return true;
}

/* True when the CSV header line is this grid's header cut before the observable columns. */
static bool header_before_observables(const akt_sweep_grid *grid, const char *line,
                                      const char *header)
{
    size_t columns = sweep_column_count_before_observables(grid), commas = 0;
    for (const char *c = header; *c; c++)
        if (*c == ',' && ++commas == columns) {
            size_t length = (size_t)(c - header);
            return strlen(line) == length && !strncmp(line, header, length);
        }
    return false;
}

static size_t csv_columns(const char *line)
{
    size_t columns = 1;
    for (; *line; line++)
        columns += *line == ',';
    return columns;
}

/* The refusal of another header, naming the first column that differs (whole headers would not
 * fit one message). Column names hold no commas: they are spec keys and fixed names. */
static int header_differs(const akt_sweep_file *file, const char *line, const char *header,
                          akt_error *err)
{
    size_t column = 1, same = 0, start = 0;   /* start: where the differing column begins */
    while (line[same] && line[same] == header[same]) {
        if (line[same] == ',') {
            column++;
            start = same + 1;
        }
        same++;
    }
    if ((!line[same] && header[same] == ',') || (line[same] == ',' && !header[same]))
        return akt_error_set(err, AKT_ERR_INPUT, "%s:1: header has %zu columns where this sweep "
                             "has %zu (the first %zu agree); refusing to mix sweeps (use another "
                             "--out)", file->path, csv_columns(line), csv_columns(header), column);
    int theirs = (int)strcspn(line + start, ","), ours = (int)strcspn(header + start, ",");
    return akt_error_set(err, AKT_ERR_INPUT, "%s:1: header column %zu differs from this "
                         "sweep's ('%.*s' where this sweep has '%.*s'); refusing to mix sweeps "
                         "(use another --out)", file->path, column, theirs, line + start, ours,
                         header + start);
}

/* The point a parsed row belongs to, after checking it against the grid. */
static int match_row(const akt_sweep_file *file, char **names, char **fields, size_t count,
                     size_t line_number, size_t *point, akt_error *err)
{
    const akt_sweep_grid *grid = file->grid;
    if (keys_before_observables(grid, names, count))
        return older_table(file, line_number, err);
    if (count != sweep_column_count(grid))
        return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu: %zu columns where the sweep has %zu; "
                             "refusing to mix sweeps (use another --out)", file->path, line_number,
                             count, sweep_column_count(grid));
    for (size_t i = 0; names && i < count; i++)
        if (strcmp(names[i], sweep_column_name(grid, i)))
            return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu: column '%s' where the sweep has '%s'; "
                                 "refusing to mix sweeps (use another --out)", file->path,
                                 line_number, names[i], sweep_column_name(grid, i));
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
        return akt_out_of_memory(err, "the sweep table");
    memcpy(grown + old, line, add);
    grown[old + add] = '\n';
    grown[old + add + 1] = '\0';
    *target = grown;
    return AKT_OK;
}

static int read_line_into(akt_sweep_file *file, const char *line, size_t line_number,
                          akt_error *err)
{
    char **names = NULL, **fields = NULL;
    size_t count = 0, point = 0;
    int status = sweep_split_row(file->format, line, &names, &fields, &count);
    if (status == AKT_ERR_MEMORY)
        return akt_out_of_memory(err, "the sweep table");
    if (status != AKT_OK)
        return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu: not a JSON row of akt sweep; refusing to "
                             "mix (use another --out)", file->path, line_number);
    status = match_row(file, names, fields, count, line_number, &point, err);
    if (status == AKT_OK) {
        file->done += file->rows[point] == NULL;
        status = append_text(&file->rows[point], line, err);
    }
    sweep_free_strings(names, count);
    sweep_free_strings(fields, count);
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
            if (!(header = sweep_header_text(file->grid)))
                status = akt_out_of_memory(err, "the sweep table");
            else if (header_before_observables(file->grid, line, header))
                status = older_table(file, 1, err);
            else if (strcmp(line, header))
                status = header_differs(file, line, header, err);
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
        sweep_free_strings(file->rows, file->grid->point_count);
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
        return akt_out_of_memory(err, "the sweep table");
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

/* The whole table, rows sorted by point, for akt_io_replace. */
static int write_table(FILE *out, void *context, akt_error *err)
{
    (void)err;   /* write errors show in the stream, which akt_io checks */
    const akt_sweep_file *file = context;
    akt_sweep_write_header(out, file->grid, file->format);
    for (size_t point = 0; point < file->grid->point_count; point++)
        if (file->rows[point])
            fputs(file->rows[point], out);
    return AKT_OK;
}

int akt_sweep_file_add(akt_sweep_file *file, size_t point, const akt_solution *solution,
                       akt_error *err)
{
    if (point >= file->grid->point_count)
        return akt_error_set(err, AKT_ERR_INPUT, "sweep: point %zu is outside the grid", point);
    char *text = akt_sweep_rows_text(file->grid, file->format, point, solution);
    if (!text)
        return akt_out_of_memory(err, "the sweep table");
    file->done += file->rows[point] == NULL;
    free(file->rows[point]);
    file->rows[point] = text;
    return akt_io_replace(file->path, file->temporary, write_table, file, err);
}
