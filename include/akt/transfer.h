/* transfer.h: the whole transfer problem, source phase then each target regime, over any method.
 *
 * akt_solve takes a validated spec and its data and returns one akt_result per regime: the
 * source phase (always) and the requested target regimes (scratch, readout, joint). It picks the
 * method per regime (DESIGN.md, Decisions: Methods) and refuses, with a message naming the
 * regime and the method that will serve it, what no implemented method can do. */
#ifndef AKT_TRANSFER_H
#define AKT_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/data.h"
#include "akt/error.h"
#include "akt/spec.h"

/* Tri-state for "stable": not tested, false, true. */
typedef enum { AKT_STABLE_UNTESTED = -1, AKT_STABLE_NO = 0, AKT_STABLE_YES = 1 } akt_stability;

typedef struct {
    akt_regime regime;
    double test_loss;        /* mean (f - y)^2 on the target test split (source: source test) */
    double train_loss;       /* mean (f - y)^2 on the regime's training split */
    double mc_error;         /* Monte-Carlo error of test_loss; NAN where none (exact, lazy) */
    double residual;         /* fixed-point residual (converge) or integrator error estimate
                                (finite time); NAN for closed forms */
    akt_stability stable;
    bool converged;
    akt_method method;       /* the method that produced this result */
    long iterations;         /* integrator steps or solver iterations; 0 for closed forms */
    double seconds;          /* wall time of this regime (the source phase is counted once) */
} akt_result;

typedef struct {
    akt_result results[AKT_REGIME_COUNT];
    size_t count;            /* source first, then the requested regimes in the order scratch,
                                readout, joint */
} akt_solution;

/* The method that will serve a regime under the spec (auto resolved), or AKT_ERR_INPUT with a
 * message when none applies. */
int akt_transfer_method(const akt_spec *spec, akt_regime regime, akt_method *method, akt_error *err);

/* Solves every regime the spec asks for. On a numerical failure the results reached so far are
 * in *solution (the failed one with converged false) and the status is AKT_ERR_NUMERIC. A spec
 * that asks for output files (output.kernels, output.trajectory) is refused (AKT_ERR_INPUT):
 * only akt_solve_outputs serves it. */
int akt_solve(const akt_spec *spec, const akt_data *data, akt_solution *solution, akt_error *err);

/* ---- sharing a source phase between solves ----------------------------------------------
 * Solves that differ only in target keys (target.*, data.target.samples, or data.alignment,
 * which leaves the source split unchanged: README "How the data are drawn") have the same
 * source phase. An akt_source_cache, owned by the caller (e.g. the sweep solver, one per MPI
 * rank), keeps the source states of the last few distinct source phases, and akt_solve_cached
 * reuses one instead of running the source phase again. A kept source is reused only when
 * everything the source phase depends on is identical: the method that solves the source;
 * network.activation and network.center; source.gamma, weight_decay, time; solver.neurons,
 * replicas, step_tolerance, tolerance, max_time, min_step; seed; and the data the source sees,
 * compared byte by byte (source split x and y, source-test split x and y, dimension), not
 * inferred from the keys. Then every row equals a fresh akt_solve's bit for bit: the target
 * regimes start from the very state a fresh source run would leave (population: the source
 * state (a, z) per replica; h0 and h_s on the target points are recomputed from the same w0
 * stream, so a new target split is served too), and the source row is the kept result of the
 * run that computed it, unchanged, including its seconds and iterations (what that source
 * cost when it ran, not the near-zero it costs at a reuse).
 * Methods: exact (the moment matrix, or the fixed point for time converge), convex (its atoms)
 * and population (per replica); lazy sources are closed-form kernel flows and always run.
 * Memory: at most `capacity` states (least recently used evicted first), and a state is kept
 * only when the data, the kept states, the solve's own estimate (akt_resources_estimate_gib)
 * and the new state fit in AKT_RESOURCES_MEMORY_SHARE of the machine's memory; otherwise older
 * states are dropped or nothing is kept, so a cache never changes which solves are refused. */
typedef struct akt_source_cache akt_source_cache;

/* A sweep solver's capacity: a grid whose source axes are slower than its target axes (the
 * usual order) needs one state; two absorb one source axis varying fastest over two values. */
#define AKT_SOURCE_CACHE_CAPACITY 2

/* An empty cache for at most capacity (>= 1) source states; NULL with AKT_ERR_MEMORY or
 * AKT_ERR_INPUT (capacity 0). */
akt_source_cache *akt_source_cache_alloc(size_t capacity, akt_error *err);
void akt_source_cache_free(akt_source_cache *cache);

typedef struct {
    size_t hits;        /* solves that reused a kept source phase */
    size_t misses;      /* solves of a cached method (exact, convex, population) that ran it */
    size_t entries;     /* source states held now */
    double gib;         /* their memory, with the copies of the source splits */
} akt_source_cache_stats;

void akt_source_cache_statistics(const akt_source_cache *cache, akt_source_cache_stats *stats);

/* akt_solve, reusing and filling cache (NULL: exactly akt_solve). */
int akt_solve_cached(const akt_spec *spec, const akt_data *data, akt_source_cache *cache,
                     akt_solution *solution, akt_error *err);

/* akt_solve, handing each regime's kernels and loss trajectory to outputs (output.h; from
 * akt_outputs_alloc for this spec and data, or NULL). The files are written afterwards by
 * akt_outputs_write, by a caller content with the solve. */
struct akt_outputs;
int akt_solve_outputs(const akt_spec *spec, const akt_data *data, struct akt_outputs *outputs,
                      akt_solution *solution, akt_error *err);

/* The result for a regime, or NULL if it was not solved. */
const akt_result *akt_solution_find(const akt_solution *solution, akt_regime regime);

/* Mean squared error of predictions f against labels y (n values). */
double akt_mean_squared_error(const double *f, const double *y, size_t n);

#endif
