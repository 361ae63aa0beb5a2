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
