/* sweep_run.c: running a sweep: solving points with the data and source phases they share,
 * and handing finished points to the table (a resumable file or a stream), serially or, built
 * with MPI, through a dynamic work queue on rank 0.
 *
 * Why reuse lives here and not in akt_solve: only a sweep knows which points share what. Data
 * depend on seed and data.* alone, so consecutive points that agree on those axes keep the
 * loaded data (Fashion-MNIST is read once for a sweep over gammas); source phases are shared
 * through a source cache (solve.h). Why MPI hands out one point at a time: points differ in
 * cost by orders of magnitude (a converge next to a short time), so a static split would leave
 * ranks idle; rank 0 alone writes, so the file is the serial run's. */
#include "akt/sweep.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* ---- solving with data reuse --------------------------------------------------------- */

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
    /* A result names its method by a pointer into the sender's memory: the name travels as text
     * and the coordinator points at its own copy (the registry's). */
    char methods[AKT_REGIME_COUNT][32];
} worker_report;

static void pack_methods(worker_report *report)
{
    for (size_t k = 0; k < report->solution.count; k++) {
        const char *name = report->solution.results[k].method;
        snprintf(report->methods[k], sizeof report->methods[k], "%s", name ? name : "");
        report->solution.results[k].method = NULL;
    }
}

static void unpack_methods(worker_report *report)
{
    for (size_t k = 0; k < report->solution.count && k < AKT_REGIME_COUNT; k++) {
        const akt_method_type *type = akt_method_find(report->methods[k]);
        report->solution.results[k].method = type ? type->name : "unknown";
    }
}

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
        pack_methods(report);
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
    int status = report ? AKT_OK : akt_out_of_memory(err, "a worker report");
    size_t next = 0;
    int active = size - 1;
    sink_progress(sink);
    while (active > 0) {
        worker_report empty = {.point = -1, .status = AKT_ERR_MEMORY};
        worker_report *into = report ? report : &empty;
        MPI_Status source;
        MPI_Recv(into, (int)sizeof *into, MPI_BYTE, MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &source);
        if (into->point >= 0) {
            unpack_methods(into);
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
