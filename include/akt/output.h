/* output.h: the optional outputs of a solve (spec keys output.kernels, output.trajectory).
 *
 * - Adapted kernels (THEORY.md section 2): Phi(x, x') = <phi(h(x)) phi(h(x'))> and
 *   G(x, x') = <g(x) g(x')>, g = phi'(h) z, of each regime's final state, on the splits of
 *   output.kernel_splits, with their kernel-task alignment A(K, y) = y'Ky / (|K|_F |y|^2) on the
 *   regime's training split (for Phi, G and the NTK K = Phi + G * C).
 * - Loss trajectories: train and test loss against flow time of every time-stepped phase, at
 *   most AKT_TRAJECTORY_GRID + 2 rows per phase and replica.
 *
 * The solvers hand their numbers to an akt_outputs collector while their states exist
 * (akt_solver_set_outputs in solve.h, through the methods' observer hooks); akt_outputs_write then writes both files, each to a
 * temporary name renamed into place, so a failed run leaves no file and a file is never partial.
 * Formats (README "Output files"), CSV with 17 significant digits and a header line:
 *     kernels:    regime,kernel,row_split,row,column_split,column,value,mc_error
 *     trajectory: regime,replica,time,train_loss,test_loss
 * Relative file names are relative to the spec file's directory, like the data paths. */
#ifndef AKT_OUTPUT_H
#define AKT_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/core.h"
#include "akt/data.h"
#include "akt/error.h"
#include "akt/method.h"
#include "akt/spec.h"

/* A(K, y) = y'Ky / (|K|_F |y|^2) for an n x n row-major kernel K: 1 when K is a positive
 * multiple of yy', 1/sqrt(n) for K = I, in [0, 1] for a positive semi-definite K. NAN when K or y
 * is zero. */
double akt_kernel_alignment(const double *K, const double *y, size_t n);

/* When a time-stepped phase records its losses: the trajectory clock of method.h. */

typedef struct akt_outputs akt_outputs;

/* The collector for a validated spec that asks for outputs (NULL with AKT_ERR_INPUT otherwise).
 * Refuses up front, with a message naming the key, what cannot be written: a regime whose
 * method has no adapted kernels (no AKT_METHOD_ADAPTIVE_KERNELS) or no time steps (its
 * no_trajectory answer; the readout regime, a closed form under every method, simply has no
 * trajectory rows), and a file whose directory is missing or not writable. */
akt_outputs *akt_outputs_alloc(const akt_spec *spec, const akt_data *data, akt_error *err);
void akt_outputs_free(akt_outputs *outputs);

/* Resolved file names (NULL when not asked for). */
const char *akt_outputs_kernels_path(const akt_outputs *outputs);
const char *akt_outputs_trajectory_path(const akt_outputs *outputs);

/* ---- What the solvers hand over (outputs may be NULL: nothing is wanted). ---- */

/* True when the solver of this regime should hand its kernels over. The readout regime's kernel
 * is the source kernel on the target points: it is taken from the source regime's, never asked
 * for. */
bool akt_outputs_wants_kernels(const akt_outputs *outputs, akt_regime regime);

/* The point set of a regime's kernels: splits[s] for each akt_points s, in the order source
 * train, target train, test, source test; M the total number of points. */
void akt_outputs_kernel_splits(const akt_outputs *outputs, akt_regime regime,
                               bool splits[AKT_POINTS_COUNT], size_t *M);

/* The inputs of that point set stacked (M x D, malloc'd), for closed-form kernels. */
double *akt_outputs_kernel_points(const akt_outputs *outputs, akt_regime regime, akt_error *err);

/* Adds one estimate (one replica, or the deterministic value) of Phi and G (M x M each; their
 * symmetric parts are kept) of a regime; estimates are averaged, their spread is the mc_error. */
int akt_outputs_add_kernels(akt_outputs *outputs, akt_regime regime, const double *Phi,
                            const double *G, akt_error *err);

/* True when the regime's time-stepped phase should record its losses. */
bool akt_outputs_wants_trajectory(const akt_outputs *outputs, akt_regime regime);

/* One trajectory row (replica 0 for methods without sampling); observables: AKT_OBSERVABLE_COUNT
 * values at that time, NAN where not measured, or NULL (none). */
int akt_outputs_add_losses(akt_outputs *outputs, akt_regime regime, unsigned long replica,
                           double time, double train_loss, double test_loss,
                           const double *observables, akt_error *err);

/* Forgets everything handed over for the regimes with regimes[r] true (a population solve that
 * restarts with more neurons). */
void akt_outputs_clear(akt_outputs *outputs, const bool regimes[AKT_REGIME_COUNT]);

/* Writes the files asked for, both to temporary names first and then renamed into place:
 * AKT_ERR_IO naming the file on failure, and no temporary file is left (only a failing second
 * rename, after the first succeeded, leaves one of the two files written). */
int akt_outputs_write(const akt_outputs *outputs, akt_error *err);

#endif
