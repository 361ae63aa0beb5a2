/* sweep.h: a Cartesian grid of transfer problems, solved point by point into a resumable table.
 *
 * A grid is the spec's sweep axes (DESIGN.md "Spec": sweep) after expansion: each axis is a
 * dotted key and a list of value texts; "linspace(a, b, n)" gives n evenly spaced values from a
 * to b, "logspace(a, b, n)" gives 10^x for x = linspace(a, b, n) (numpy's convention: a and b
 * are exponents, so logspace(-2, 0, 3) is 0.01, 0.1, 1). Points are numbered 0..n-1 in row-major
 * order, the last axis fastest. A point's spec is the base spec reloaded with all its axis values
 * as overrides at once, so a point solves exactly what `akt solve --set key=value ...` would.
 * (Applying them one by one with akt_spec_set would validate half-applied points: sweeping
 * solver.method=lazy together with weight_decay=0 would fail at the intermediate state.)
 *
 * The table has one row per point and regime (columns point, each swept key, regime, test_loss,
 * train_loss, mc_error, transfer_benefit, converged, stable, method, residual, iterations,
 * seconds) as CSV with a header, or as JSON lines. The result columns mean what the same names
 * mean in akt solve --json (DESIGN.md "Output contract"): stable is true, false, or empty/null
 * where it was not tested; iterations is the integrator steps or solver iterations (0 for
 * closed forms); transfer_benefit is akt_report_transfer_benefit. An akt_sweep_file keeps the
 * finished points of an output file and rewrites the whole file through a temporary file, fsync
 * and rename() after each point, so the file on disk is always complete; rerunning a sweep on
 * its file skips the points it holds, and a file with other columns or another grid is refused.
 *
 * The implementation is one file per part of this header: the grid (sweep_grid.c), the row
 * format (sweep_rows.c), the output file (sweep_file.c), and solving and running
 * (sweep_run.c). */
#ifndef AKT_SWEEP_H
#define AKT_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "akt/data.h"
#include "akt/error.h"
#include "akt/spec.h"
#include "akt/solve.h"

/* Largest number of values one linspace/logspace may give and of points a grid may have. */
#define AKT_SWEEP_MAX_POINTS 10000000

typedef struct {
    akt_spec base;           /* the spec the points start from (its own sweep block kept) */
    char *base_yaml;         /* base as YAML (akt_spec_to_yaml), reloaded with each point's values */
    akt_sweep_axis *axes;    /* expanded axes: every value a scalar text for akt_spec_set */
    size_t axis_count;
    size_t point_count;      /* product of the axis lengths (1 for no axes) */
} akt_sweep_grid;

/* Expands one axis value list as written: a single "linspace(a, b, n)" / "logspace(a, b, n)"
 * becomes n values printed with %.17g (the last one is b, resp. 10^b, exactly as computed);
 * anything else is copied. values is malloc'd (free each and the array). */
int akt_sweep_expand_values(const char *key, char *const *written, size_t written_count,
                            char ***values, size_t *count, akt_error *err);

/* Turns a command-line axis "key=v1,v2,..." or "key=linspace(a, b, n)" into the override
 * "sweep.key=[v1, v2, ...]" (resp. "sweep.key=linspace(a, b, n)") for akt_spec_load, which checks
 * the key and each value. *override is malloc'd. Bad syntax (no key, an empty value) is
 * AKT_ERR_INPUT naming the argument. */
int akt_sweep_axis_override(const char *assignment, char **override, akt_error *err);

/* True if a --set value of akt sweep describes an axis (a comma-separated list or a
 * linspace/logspace) rather than one value; values in [ ] or { } are single YAML values. */
bool akt_sweep_is_axis_assignment(const char *assignment);

/* Expands spec's sweep axes into a grid (deep copy of spec). */
int akt_sweep_grid_init(akt_sweep_grid *grid, const akt_spec *spec, akt_error *err);
void akt_sweep_grid_free(akt_sweep_grid *grid);

/* The value index on each axis (axis_count entries) of a point: row-major, last axis fastest. */
void akt_sweep_point_indices(const akt_sweep_grid *grid, size_t point, size_t *indices);

/* The value text of axis a at a point. */
const char *akt_sweep_point_value(const akt_sweep_grid *grid, size_t point, size_t axis);

/* The spec of one point (the base YAML loaded with every axis value of the point as an override,
 * in axis order). Errors are AKT_ERR_INPUT naming the point and its values. */
int akt_sweep_point_spec(const akt_sweep_grid *grid, size_t point, akt_spec *spec, akt_error *err);

/* Builds every point's spec and checks that a method serves each requested regime, before any
 * work: the first bad point is AKT_ERR_INPUT naming it and the key. */
int akt_sweep_validate(const akt_sweep_grid *grid, akt_error *err);

/* Solves points while keeping the last loaded data: points whose seed and data.* axis values
 * equal the previous point's reuse its data (the data depend on those keys alone), so e.g.
 * Fashion-MNIST is read once for a sweep over gammas. Source phases are shared too: a source
 * cache of AKT_SOURCE_CACHE_CAPACITY states (solve.h, akt_solver_set_cache) lets every point
 * whose source settings and source data equal a recent point's reuse its source phase, with
 * rows equal to a fresh solve's. */
typedef struct {
    const akt_sweep_grid *grid;
    akt_data data;
    bool data_loaded;
    size_t data_point;       /* the point the loaded data were built for */
    size_t data_loads;       /* how many times data were loaded (for tests) */
    akt_source_cache *sources;   /* allocated at the first point */
} akt_sweep_solver;

void akt_sweep_solver_init(akt_sweep_solver *solver, const akt_sweep_grid *grid);
void akt_sweep_solver_free(akt_sweep_solver *solver);

/* Solves one point. AKT_OK, or AKT_ERR_NUMERIC with the results reached in *solution (the
 * sweep records them with converged false and goes on), or another status (bad input, memory):
 * the sweep stops. solution is always initialised (count 0 when nothing was reached). */
int akt_sweep_solve_point(akt_sweep_solver *solver, size_t point, akt_solution *solution,
                          akt_error *err);

typedef enum { AKT_SWEEP_CSV, AKT_SWEEP_JSON_LINES } akt_sweep_format;

/* CSV for any name but one ending in ".jsonl". */
akt_sweep_format akt_sweep_format_for(const char *path);

/* The CSV header line (with newline) of a grid; nothing for JSON lines. */
void akt_sweep_write_header(FILE *out, const akt_sweep_grid *grid, akt_sweep_format format);

/* The rows of one point: one per requested regime (source first), in the order of the columns
 * above. A regime the solve did not reach (after a numerical failure) gets a row with empty
 * numbers and converged false. Numbers are %.17g; NaN is empty (CSV) or null (JSON). */
void akt_sweep_write_rows(FILE *out, const akt_sweep_grid *grid, akt_sweep_format format,
                          size_t point, const akt_solution *solution);

/* The rows of a point as one malloc'd string (what akt_sweep_write_rows prints), or NULL. */
char *akt_sweep_rows_text(const akt_sweep_grid *grid, akt_sweep_format format, size_t point,
                          const akt_solution *solution);

/* An output file being filled. */
typedef struct {
    char *path;
    char *temporary;         /* path + ".partial": where each new version is written first */
    akt_sweep_format format;
    const akt_sweep_grid *grid;
    char **rows;             /* per point: its rows' text, NULL while not done */
    size_t done;             /* points with rows */
} akt_sweep_file;

/* Opens path for the grid: reads the rows of an existing file (points already done), refusing
 * with AKT_ERR_INPUT a file whose header, columns or swept values do not match the grid (such as
 * a table written before the stable and iterations columns existed); removes a
 * temporary file left by a killed run. A missing file is an empty table (nothing is created
 * until the first point is added). */
int akt_sweep_file_open(akt_sweep_file *file, const char *path, const akt_sweep_grid *grid,
                        akt_error *err);
bool akt_sweep_file_has(const akt_sweep_file *file, size_t point);

/* Records a finished point and replaces the file on disk by the complete new table (rows sorted
 * by point): write to the temporary name, fsync, rename over path, fsync the directory. A
 * process killed meanwhile leaves path intact and at most file->temporary, which the next
 * akt_sweep_file_open removes (a signal handler may also unlink it: unlink is
 * async-signal-safe, and a rename that then finds no file fails harmlessly). */
int akt_sweep_file_add(akt_sweep_file *file, size_t point, const akt_solution *solution,
                       akt_error *err);
void akt_sweep_file_close(akt_sweep_file *file);

/* ---- running a whole sweep ---------------------------------------------------------- */

typedef struct {
    const char *out_path;        /* resumable table; NULL: rows go to stream as they finish */
    FILE *stream;                /* used when out_path is NULL (header first for CSV) */
    akt_sweep_format format;     /* of stream; for out_path its suffix decides */
    void (*progress)(void *context, size_t done, size_t total);   /* may be NULL */
    void *progress_context;
} akt_sweep_options;

typedef struct {
    size_t points;               /* grid size */
    size_t skipped;              /* already in the file */
    size_t solved;               /* solved by this run */
    size_t failed;               /* of those, with a numerical failure (rows converged false) */
    size_t data_loads;           /* data builds (serial run; sum over ranks with MPI) */
    size_t source_runs;          /* source phases run by a cached method (sum over ranks) */
    size_t source_reuses;        /* points that reused a kept source phase (sum over ranks) */
} akt_sweep_summary;

/* Solves every point not yet in the table and records it as it finishes. A numerical failure
 * of a point is recorded (converged false) and the sweep goes on; any other failure stops it
 * (finished points stay in the file). Call akt_sweep_validate first.
 *
 * Built with MPI (AKT_HAVE_MPI) and called by every rank of an initialised MPI world of size
 * K > 1: rank 0 hands out point indices one at a time (a dynamic queue: whichever rank is free
 * takes the next point), the other ranks solve them and send back their results, and rank 0
 * alone writes the table (rows sorted by point, as in a serial run). Every rank returns the
 * same status; only rank 0's err carries the full message. With K = 1, or without MPI, it
 * runs serially. */
int akt_sweep_run(const akt_sweep_grid *grid, const akt_sweep_options *options,
                  akt_sweep_summary *summary, akt_error *err);

/* This process's MPI rank (0 without MPI or outside mpirun). */
int akt_sweep_rank(void);

#endif
