/* sweep_internal.h: what the files of akt sweep share and nobody else needs.
 *
 * akt sweep is four files, one concept each (the public API is include/akt/sweep.h):
 *   sweep_grid.c   the grid: axes, linspace/logspace, command-line axes, each point's spec
 *   sweep_rows.c   the row format: columns, rows written as CSV or JSON lines, rows parsed back
 *   sweep_file.c   the resumable output file: read, checked against the grid, replaced atomically
 *   sweep_run.c    running: data and source reuse between points, serial and MPI
 * The row format is shared by the writer and the reader of the file, hence this header. */
#ifndef AKT_APPS_SWEEP_INTERNAL_H
#define AKT_APPS_SWEEP_INTERNAL_H

#include <stddef.h>

#include "akt/sweep.h"

/* Frees count malloc'd strings and the array (NULL is nothing). */
void sweep_free_strings(char **values, size_t count);

/* The columns of a grid's table: point, each swept key, the fixed columns, then each
 * observable and its error. */
size_t sweep_column_count(const akt_sweep_grid *grid);
/* How many of them a table written before the observable columns has (its columns are the
 * first that many, in the same order). */
size_t sweep_column_count_before_observables(const akt_sweep_grid *grid);
const char *sweep_column_name(const akt_sweep_grid *grid, size_t column);

/* The CSV header line without its newline, malloc'd; NULL when out of memory. */
char *sweep_header_text(const akt_sweep_grid *grid);

/* Splits one line of a table into malloc'd field texts (CSV: RFC 4180 quotes undone; JSON
 * lines: a flat object, strings unescaped, other values as their text). For JSON *names gets
 * the keys; for CSV it is NULL. AKT_OK, AKT_ERR_MEMORY, or AKT_ERR_INPUT for a line that is not
 * a row of ours. */
int sweep_split_row(akt_sweep_format format, const char *line, char ***names, char ***fields,
                    size_t *count);

#endif
