/* compare.h: finite-width networks by the theory's protocol, over seeds and widths, and the
 * comparison with the infinite-width theory (akt train, akt compare).
 *
 * Each width's Euler step is chosen so that halving it moves every regime's test loss by less
 * than a tolerance (issue "Finite-width networks": 0.1 percent), measured on seed 0 and then
 * used for every seed. The seed means are fitted against 1/N by weighted least squares
 * (weights 1/SE^2, DESIGN.md Decisions: akt compare's fit) to extrapolate to N -> infinity. */
#ifndef AKT_COMPARE_H
#define AKT_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/data.h"
#include "akt/error.h"
#include "akt/spec.h"
#include "akt/solve.h"

#define AKT_COMPARE_MAX_WIDTHS 16

/* ---- one network by the protocol (method network through the solve layer) ---------------- */

typedef struct {
    double dt;                 /* as akt_finite_stepping.dt (finite.h) */
    double stability;          /* as akt_finite_stepping.stability (automatic dt only) */
    bool euler_bias;           /* run everything again at dt/2 and set each residual */
} akt_finite_options;

/* Source phase, then the wanted target regimes (wanted[AKT_REGIME_SOURCE] is ignored: the
 * source is always reported; wanted NULL means spec->target.regimes), for one network of the
 * given width initialised from stream seeds (spec->seed, seed_index, purpose), by method network
 * (method.h). Uses network.activation, network.center (subtracts the initial network's output
 * in the source and scratch phases), source.{gamma, weight_decay, time}, target.{gamma,
 * weight_decay, elastic, readout_decay, readout_init, time} and solver.min_step. A phase time of
 * converge is refused (AKT_ERR_INPUT). residual NAN (or the Euler bias: the relative change of
 * the test loss when dt is halved), stable untested, method "network". */
int akt_finite_transfer(const akt_spec *spec, const akt_data *data,
                        const bool wanted[AKT_REGIME_COUNT], long width, long seed_index,
                        double dt, akt_solution *solution, akt_error *err);

/* The same with options (options NULL: dt automatic, no Euler bias estimate). */
int akt_finite_transfer_options(const akt_spec *spec, const akt_data *data,
                                const bool wanted[AKT_REGIME_COUNT], long width, long seed_index,
                                const akt_finite_options *options, akt_solution *solution,
                                akt_error *err);

/* One regime at one width, over seeds 0 .. seeds-1. */
typedef struct {
    akt_regime regime;
    long width, seeds;
    double test_loss_mean, test_loss_sd, test_loss_se;   /* sd over seeds, se = sd/sqrt(seeds) */
    double train_loss_mean;
    double euler_bias;     /* relative change of seed 0's test loss when the step is halved */
    double stability;      /* the bound on dt * (lambda_max(NTK) + lambda + delta) used */
    bool step_converged;   /* euler_bias met the tolerance */
    double seconds;        /* wall time of this width (all regimes, all seeds) */
    /* The observables (README "Observables", akt_observable order) measured from each seed's
     * weights: their mean over seeds and its standard error (sd/sqrt(seeds); NAN for one seed);
     * NAN where the regime has none or a seed did not measure it. */
    double observables[AKT_OBSERVABLE_COUNT];
    double observable_se[AKT_OBSERVABLE_COUNT];
} akt_width_result;

/* Called after each unit of work (one seed of one width, or the theory) with the count done. */
typedef void (*akt_progress_fn)(void *context, size_t done, size_t total);

typedef struct {
    double euler_tolerance;      /* step refinement target; 0 means the default 1e-3 */
    int max_refinements;         /* halvings of the step allowed; 0 means the default 6 */
    akt_progress_fn progress;    /* may be NULL */
    void *progress_context;
} akt_compare_options;

/* Trains `seeds` networks of one width through the transfer protocol and summarises each
 * regime (source first, then the requested regimes). results must hold AKT_REGIME_COUNT. */
int akt_train_width(const akt_spec *spec, const akt_data *data, long width, long seeds,
                    const akt_compare_options *options, akt_width_result *results, size_t *count,
                    akt_error *err);

typedef struct {
    akt_regime regime;
    akt_result theory;           /* the infinite-width prediction (akt_solve) */
    akt_width_result widths[AKT_COMPARE_MAX_WIDTHS];
    size_t width_count;
    double slope, intercept, intercept_error;   /* fit of seed means against 1/N; NaN if the fit
                                                    is not possible (< 2 widths, or seeds < 2) */
    bool compatible;             /* |intercept - theory| <= 3 (intercept_error + error) */
    /* Each observable, theory against the networks at the largest width
     * (akt_observable_verdict): 1 compatible, 0 not, -1 not compared (NAN on either side). */
    int observable_verdicts[AKT_OBSERVABLE_COUNT];
} akt_regime_comparison;

typedef struct {
    akt_regime_comparison regimes[AKT_REGIME_COUNT];
    size_t count;
} akt_comparison;

/* The theory (akt_solve) next to networks of each width. */
int akt_compare(const akt_spec *spec, const akt_data *data, const long *widths,
                size_t width_count, long seeds, const akt_compare_options *options,
                akt_comparison *comparison, akt_error *err);

/* The acceptance rule for an observable (issue "observables"): the theory value (error
 * theory_error, its observable_errors) and the networks' seed mean (standard error
 * network_error) agree when |theory - network| <= max(3 sqrt(theory_error^2 + network_error^2),
 * 0.02). An error that is not known (NAN: one replica, one seed) counts as 0, so the absolute
 * 0.02 is left. Returns 1 compatible, 0 not, -1 when either value is NAN (nothing to compare). */
#define AKT_OBSERVABLE_COMBINED_ERRORS 3.0
#define AKT_OBSERVABLE_ABSOLUTE_TOLERANCE 0.02
int akt_observable_verdict(double theory, double theory_error, double network,
                           double network_error);

/* Weighted least squares of y against x with weights w (GSL gsl_fit_wlinear); the intercept's
 * standard error is scaled by sqrt(chi^2 / (n - 2)) when that exceeds 1 (the scatter is then
 * larger than the stated errors), so it is never optimistic. */
int akt_fit_inverse_width(const double *x, const double *y, const double *w, size_t n,
                          double *slope, double *intercept, double *intercept_error,
                          akt_error *err);

#endif
