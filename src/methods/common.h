/* common.h: what the method files share and nobody else needs.
 *
 * Stacking a split's rows for predictions, losses from stacked predictions, the problem sizes
 * for memory estimates, the observer hooks with "nothing wanted" for a NULL observer or hook,
 * and the spec keys every built-in source phase reads (for the source cache). */
#ifndef AKT_METHODS_COMMON_H
#define AKT_METHODS_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/method.h"

#define AKT_BYTES_PER_GIB (1024.0 * 1024.0 * 1024.0)

/* The split of a point set. */
const akt_split *method_split(const akt_data *data, akt_points points);

/* Rows of a on top of rows of b (both with dim columns): the query set "train then test".
 * malloc'd; NULL when out of memory. */
double *method_stack_rows(const akt_split *a, const akt_split *b, size_t dim);

/* A result's losses from predictions on the stacked query set [train; test]. */
void method_set_losses(akt_result *result, const double *f, const akt_split *train,
                       const akt_split *test);

/* The sizes a memory estimate needs: from the data, or before loading from the spec (csv sizes
 * are then unknown: 0). */
typedef struct {
    double D, P1, P2, test, source_test;
} method_sizes;

method_sizes method_sizes_of(const akt_spec *spec, const akt_data *data);

/* The spec keys a built-in source phase reads (activation, centring, the source phase, the
 * solver's settings and the seed). */
extern const char *const method_source_keys[];

/* The phase time of a regime's phase (source for source and readout, target otherwise). */
double method_phase_time(const akt_spec *spec, akt_regime regime);

/* AKT_ERR_INPUT when a phase the regime runs is at time converge without weight decay (the
 * t -> infinity state then depends on the whole path: no fixed point to certify); methods that
 * integrate the flow (exact, population) refuse it. */
int method_refuse_converge_without_decay(const akt_spec *spec, akt_regime regime, akt_error *err);

/* ---- observables (README "Observables") ---- */


/* The regime's training and test point sets (source: source train and source test). */
void method_regime_points(akt_regime regime, akt_points *train, akt_points *test);

/* A regime's splits as its observables see them: a split of more than
 * AKT_OBSERVABLES_MAX_POINTS points is not measured (its rows count 0, its observables stay NAN). */
typedef struct {
    akt_points train_points, test_points;
    const akt_split *train, *test;
    bool train_measured, test_measured;
    size_t train_rows, test_rows;      /* the measured rows: the split's, or 0 */
} method_observed_splits;

method_observed_splits method_observed_splits_of(const akt_data *data, akt_regime regime);

/* The NTK Phi + G * C on one point set (n x n, n its rows) into K. */
int method_ntk(const akt_data *data, akt_points points, const double *Phi, const double *G,
               double *K, akt_error *err);

/* The kernel observables of a regime's final state into observables[]: from Phi and G on the
 * regime's training split and on its test split, the NTK the phase started from on the
 * training split and Phi_s on the target training points; any of them NULL when not available
 * (the observables that need it are left as they are). The Gram kernels are made here. */
int method_kernel_observables(const akt_data *data, akt_regime regime, const double *Phi_train,
                              const double *G_train, const double *Phi_test,
                              const double *G_test, const double *ntk_start,
                              const double *source_phi,
                              double observables[AKT_OBSERVABLE_COUNT], akt_error *err);

/* ---- observer hooks; each is "nothing wanted" for a NULL observer or hook ---- */
bool method_wants_kernels(const akt_observer *o, akt_regime regime);
/* The regime's kernel point set and its stacked inputs (M x D, malloc'd; NULL on failure). */
double *method_kernel_points(const akt_observer *o, const akt_data *data, akt_regime regime,
                             bool splits[AKT_POINTS_COUNT], size_t *M, akt_error *err);
int method_add_kernels(const akt_observer *o, akt_regime regime, const double *Phi,
                       const double *G, akt_error *err);
bool method_wants_trajectory(const akt_observer *o, akt_regime regime);
int method_add_losses(const akt_observer *o, akt_regime regime, unsigned long replica, double t,
                      double train_loss, double test_loss, const double *observables,
                      akt_error *err);
int method_step(const akt_observer *o, akt_regime regime, size_t replica, double t,
                double horizon, long steps, akt_error *err);

#endif
