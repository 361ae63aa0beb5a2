/* solve.h: the whole transfer problem, source phase then each target regime, over any method.
 *
 * The regime protocol lives here once (src/solve/solve.c): for each replica of the method, the
 * source phase (or its kept state from a source cache), then the wanted regimes in the order
 * scratch, readout, joint; each result timed, averaged over replicas (test_loss, train_loss:
 * means; mc_error: the standard error of the test losses over replicas, NAN for one replica;
 * iterations summed; residual the worst replica's; stable false if any replica is unstable).
 * The methods (method.h) are found by name in a registry that resolves `auto` once per regime.
 *
 * Typical use:
 *     akt_solution solution;
 *     status = akt_solve(spec, data, &solution, &err);            (one call, no options)
 * or, with options set on a solver object (GSL's driver style):
 *     akt_solver *solver = akt_solver_alloc(spec, data, &err);    (checks the request)
 *     akt_solver_set_cache(solver, cache);                         (optional)
 *     akt_solver_set_outputs(solver, outputs);                     (optional)
 *     status = akt_solver_run(solver, &solution, &err);
 *     akt_solver_free(solver); */
#ifndef AKT_SOLVE_H
#define AKT_SOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/core.h"
#include "akt/data.h"
#include "akt/error.h"
#include "akt/method.h"
#include "akt/spec.h"

/* ---- the method registry ------------------------------------------------------------------- */

/* The method called name, or NULL. */
const akt_method_type *akt_method_find(const char *name);

/* Adds a method (a constant that outlives every solve) under its name; AKT_ERR_INPUT if the
 * name is taken or not a plain lowercase word, AKT_ERR_MEMORY if the table is full. */
int akt_method_register(const akt_method_type *type, akt_error *err);

/* Checks spec->solver.method against the registry: AKT_OK, or AKT_ERR_INPUT naming where it
 * was written (file:line:column) with a suggestion. "auto" is always valid. */
int akt_method_check_name(const akt_spec *spec, akt_error *err);

/* The method that will serve a regime under the spec (auto resolved), or AKT_ERR_INPUT with a
 * message naming the regime when none applies. */
int akt_method_resolve(const akt_spec *spec, akt_regime regime, const akt_method_type **method,
                       akt_error *err);

/* The names of the registered methods, in registry order, separated by ", " (for messages). */
void akt_method_names(char *buffer, size_t size);

/* ---- sharing a source phase between solves ----------------------------------------------
 * Solves that differ only in target keys (target.*, data.target.samples, or data.alignment,
 * which leaves the source split unchanged: README "How the data are drawn") have the same
 * source phase. An akt_source_cache, owned by the caller (e.g. the sweep solver, one per MPI
 * rank), keeps the source states of the last few distinct source phases, and a solver with the
 * cache set reuses one instead of running the source phase again. A kept source is reused only
 * when everything the source phase depends on is identical: the method; the spec keys the
 * method names as its source keys (akt_method_type.source_keys); and the data the source sees,
 * compared byte by byte (source split x and y, source-test split x and y, dimension), not
 * inferred from the keys. Then every row equals a fresh solve's bit for bit, and the source row
 * is the kept result of the run that computed it, unchanged, including its seconds and
 * iterations. Methods without AKT_METHOD_CACHEABLE_SOURCE (lazy: closed forms) always run.
 * Memory: at most `capacity` states (least recently used evicted first), and a state is kept
 * only when the data, the kept states, the solve's own estimate (akt_resources_estimate_gib)
 * and the new state fit in AKT_RESOURCES_MEMORY_SHARE of the machine's memory; otherwise older
 * states are dropped or nothing is kept, so a cache never changes which solves are refused. */
typedef struct akt_source_cache akt_source_cache;

/* A sweep solver's capacity: a grid whose source axes are slower than its target axes (the
 * usual order) needs one solve's states; two solves' absorb one source axis varying fastest
 * over two values. A sampled method's solve keeps three (its own and those of its two error
 * runs, solver.estimate_errors). */
#define AKT_SOURCE_CACHE_CAPACITY 6

/* An empty cache for at most capacity (>= 1) source states; NULL with AKT_ERR_MEMORY or
 * AKT_ERR_INPUT (capacity 0). */
akt_source_cache *akt_source_cache_alloc(size_t capacity, akt_error *err);
void akt_source_cache_free(akt_source_cache *cache);

typedef struct {
    size_t hits;        /* solves that reused a kept source phase */
    size_t misses;      /* solves of a cacheable method that ran it */
    size_t entries;     /* source states held now */
    double gib;         /* their memory, with the copies of the source splits */
} akt_source_cache_stats;

void akt_source_cache_statistics(const akt_source_cache *cache, akt_source_cache_stats *stats);

/* ---- the solver ------------------------------------------------------------------------------ */

typedef struct akt_solver akt_solver;
struct akt_outputs;

/* A solver for a validated spec and its data. Resolves every regime's method and checks the
 * request (methods that apply, memory) before any work: NULL with AKT_ERR_INPUT naming the key
 * or regime otherwise. spec and data must outlive the solver. */
akt_solver *akt_solver_alloc(const akt_spec *spec, const akt_data *data, akt_error *err);

/* A solver whose every regime is served by one given method with its own settings (e.g.
 * akt_method_network with akt_network_settings for akt train and compare), whatever
 * solver.method says; settings must outlive the solver. */
akt_solver *akt_solver_alloc_method(const akt_spec *spec, const akt_data *data,
                                    const akt_method_type *method, const void *settings,
                                    akt_error *err);
void akt_solver_free(akt_solver *solver);

/* Reuse and fill a source cache (NULL: none). */
void akt_solver_set_cache(akt_solver *solver, akt_source_cache *cache);

/* Hand each regime's kernels and loss trajectory to outputs (output.h; from akt_outputs_alloc
 * for this spec and data; NULL: none). A spec that asks for output files (output.kernels,
 * output.trajectory) is solved only with outputs set: a solve without them would leave the
 * request silently unmet. With outputs the cache is filled but not read (a kept source has no
 * trajectory or kernels to hand over). */
void akt_solver_set_outputs(akt_solver *solver, struct akt_outputs *outputs);

/* Progress: called after accepted steps of every time-stepped phase (see akt_observer.step). */
typedef int (*akt_solve_progress)(void *context, akt_regime regime, size_t replica,
                                  size_t replicas, double t, double horizon, long steps,
                                  akt_error *err);
void akt_solver_set_progress(akt_solver *solver, akt_solve_progress progress, void *context);

/* The caller's own hooks (method.h: kernels, loss trajectories, progress; e.g. a language
 * binding that returns kernels as arrays). When set they replace the outputs' and the progress
 * callback's, and replicas run one at a time (the hooks are called from the solving thread
 * only). observer must outlive the runs; NULL clears it. */
void akt_solver_set_observer(akt_solver *solver, const akt_observer *observer);

/* Replicas of a sampled method run in threads, each on its own method state: at most
 * `threads` at once (0, the default: one per core; fewer where their states would not fit in
 * memory; one while outputs are collected). Results do not depend on it: replicas are tallied
 * in order. BLAS runs single-threaded while several replicas run. */
void akt_solver_set_threads(akt_solver *solver, size_t threads);

/* The method serving a regime (NULL if the regime is not wanted). */
const akt_method_type *akt_solver_method(const akt_solver *solver, akt_regime regime);

/* Solves every regime the spec asks for. On a numerical failure the results reached so far are
 * in *solution (the failed one with converged false) and the status is AKT_ERR_NUMERIC. */
int akt_solver_run(akt_solver *solver, akt_solution *solution, akt_error *err);

/* akt_solver_alloc, run and free in one call, without options. */
int akt_solve(const akt_spec *spec, const akt_data *data, akt_solution *solution, akt_error *err);

#endif
