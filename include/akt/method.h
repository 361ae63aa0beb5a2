/* method.h: what a method is, so that the solve layer can run any of them the same way.
 *
 * A method (exact, lazy, population, convex, or one a user registers) is one constant
 * akt_method_type, in the style of GSL's gsl_odeiv2_step_type: a name, the rule that says
 * whether it serves a spec and regime (with the refusal message), its memory estimate,
 * capability flags, and the phase operations on a state it allocates. A missing operation
 * means "not served". The solve layer (solve.h) owns the regime protocol: for each replica,
 * the source phase, then scratch, readout and joint, with timing, the losses of the readout
 * regime, the average over replicas, the source cache and the outputs. Methods never see the
 * output files: what a solve wants besides the losses (adapted kernels, loss trajectories,
 * progress) reaches them through an akt_observer.
 *
 * Registering a method (solve.h: akt_method_register) makes its name valid for solver.method. */
#ifndef AKT_METHOD_H
#define AKT_METHOD_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/core.h"
#include "akt/data.h"
#include "akt/error.h"
#include "akt/spec.h"

/* ---- observers: what a solve wants to see of a method's phases ---------------------------- */

/* Every hook may be NULL (then nothing of that kind is wanted); the observer itself may be NULL.
 * Kernels are Phi = <phi(h) phi(h')> and G = <g g'>, g = phi'(h) z (THEORY.md section 2), of a
 * regime's final state, on the point sets kernel_splits names (stacked in akt_points order, M
 * points), one estimate per call (a replica's, or the deterministic value). Trajectory rows
 * are the train and test losses of a time-stepped phase at times the trajectory clock picks,
 * with the observables measured at that time (AKT_OBSERVABLE_COUNT values, NAN where not
 * measured; the pointer may be NULL: none). */
typedef struct {
    void *context;
    bool (*wants_kernels)(void *context, akt_regime regime);
    void (*kernel_splits)(void *context, akt_regime regime, bool splits[AKT_POINTS_COUNT],
                          size_t *M);
    int (*add_kernels)(void *context, akt_regime regime, const double *Phi, const double *G,
                       akt_error *err);
    bool (*wants_trajectory)(void *context, akt_regime regime);
    int (*add_losses)(void *context, akt_regime regime, unsigned long replica, double t,
                      double train_loss, double test_loss, const double *observables,
                      akt_error *err);
    /* Progress: called after accepted steps of a time-stepped phase (t from 0; horizon the
     * phase's time, or max_time at time converge). A status other than AKT_OK (an interrupt)
     * stops the phase and is returned. */
    int (*step)(void *context, akt_regime regime, size_t replica, double t, double horizon,
                long steps, akt_error *err);
} akt_observer;

/* When a time-stepped phase records its losses: at t = 0, at the first accepted step at or after
 * each time of a geometric grid of AKT_TRAJECTORY_GRID times from min(1e-2, 1e-3 horizon) to the
 * horizon (the phase's time, or solver.max_time at time converge), and at the end of the phase.
 * One long step that passes several grid times gives one row. */
#define AKT_TRAJECTORY_GRID 64

typedef struct {
    double next, ratio;
} akt_trajectory_clock;

void akt_trajectory_clock_start(akt_trajectory_clock *clock, double horizon);

/* True when t has reached the next grid time (and moves the clock past t). */
bool akt_trajectory_clock_due(akt_trajectory_clock *clock, double t);

/* ---- the method type ------------------------------------------------------------------------ */

enum {
    AKT_METHOD_ADAPTIVE_KERNELS = 1u << 0,  /* hands adapted kernels to observers */
    AKT_METHOD_CACHEABLE_SOURCE = 1u << 1,  /* keep_source/restore_source serve a source cache */
    AKT_METHOD_SAMPLED = 1u << 2            /* replicas are independent Monte-Carlo estimates */
};

/* What a method's state is made for: the problem and how the solve watches it. */
typedef struct {
    const akt_spec *spec;
    const akt_data *data;
    const bool *wanted;             /* AKT_REGIME_COUNT flags: the regimes this state will run */
    const akt_observer *observer;   /* may be NULL */
    const void *settings;           /* a method's own settings beyond the spec, or NULL */
} akt_method_problem;

/* A phase operation fills the result's test_loss, train_loss, residual, iterations, converged
 * and stable for one replica, and the observables it can measure (README "Observables"; the
 * kernel ones through akt_observables_from_kernels, so that every method uses one formula);
 * the solve layer has set every field to "nothing yet" (observables NAN) and fills method,
 * regime, seconds and the replica average. */
typedef int (*akt_method_phase)(void *state, size_t replica, akt_result *result, akt_error *err);

typedef struct akt_method_type {
    const char *name;               /* the solver.method word */
    unsigned flags;                 /* AKT_METHOD_* */

    /* AKT_OK when the method serves regime under spec, else AKT_ERR_INPUT with a message naming
     * the key and the regime and saying why. NULL: every regime. */
    int (*applies)(const akt_spec *spec, akt_regime regime, akt_error *err);
    /* True when auto should choose this method for regime (asked in registry order; the last
     * built-in, population, takes what nobody else does). NULL: never chosen by auto. */
    bool (*preferred)(const akt_spec *spec, akt_regime regime);

    /* Estimated peak memory of a solve in GiB; data may be NULL (sizes from the spec, csv
     * sizes then unknown). NULL: negligible. */
    double (*memory_gib)(const akt_spec *spec, const akt_data *data);
    /* NULL when the regime's phase is integrated in time steps (it has a loss trajectory);
     * otherwise why not, as it continues "regime R is served by method M...", e.g. ", which
     * solves the t -> infinity limit directly (no time steps)". NULL op: every phase has steps. */
    const char *(*no_trajectory)(const akt_spec *spec, akt_regime regime);
    /* Number of independent replicas averaged into a result (NULL: 1). */
    size_t (*replicas)(const akt_spec *spec);

    /* The state the phases run on; checks what only the data can tell (AKT_ERR_INPUT). */
    void *(*alloc)(const akt_method_problem *problem, akt_error *err);
    void (*free)(void *state);

    akt_method_phase source;        /* the source phase from initialisation (always run) */
    akt_method_phase scratch;       /* a fresh network on the target */
    /* The source kernel Phi_s on the target points (THEORY.md section 3): K (P2 x P2, target
     * train) and K_cross ((P2 + Mt) x P2, rows target train then test). The solve layer does
     * the ridge regression of the readout regime. */
    int (*readout_kernel)(void *state, size_t replica, double *K, double *K_cross, akt_error *err);
    /* Phi_s on the target test points (Mt x Mt), for the readout regime's test-split alignment
     * (README "Observables"). NULL: not offered (the alignment is then NAN). */
    int (*readout_kernel_test)(void *state, size_t replica, double *K_test, akt_error *err);
    akt_method_phase joint;         /* from the source state, on the target */

    /* Source cache (AKT_METHOD_CACHEABLE_SOURCE): the spec keys the source phase reads besides
     * the source splits (NULL-terminated dotted names), a copy of a replica's finished source
     * state (NULL when it does not fit: nothing is kept), its restoration in place of running
     * the source phase, and its release. A restored source gives every target regime bit for
     * bit what the run that made it gives. */
    const char *const *source_keys;
    void *(*keep_source)(void *state, size_t replica, double *gib);
    int (*restore_source)(void *state, size_t replica, const void *kept, akt_error *err);
    void (*free_kept)(void *kept);
    /* Memory of one replica's kept source state in GiB (for the cache's room). */
    double (*source_state_gib)(const akt_spec *spec, const akt_data *data);
} akt_method_type;

/* The built-in methods (src/methods/). The first four are in the registry (solve.h), so a spec
 * names them; network, the finite-width networks the theory is checked against, needs its
 * settings and is run by akt train and akt compare (solve.h: akt_solver_alloc_method). */
extern const akt_method_type akt_method_exact;
extern const akt_method_type akt_method_lazy;
extern const akt_method_type akt_method_convex;
extern const akt_method_type akt_method_population;
extern const akt_method_type akt_method_network;

/* Settings of method network: one network of `width` neurons initialised from the streams of
 * (spec seed, seed_index), trained by forward Euler (finite.h). */
typedef struct {
    long width;
    long seed_index;
    double dt;           /* > 0: fixed step; 0: automatic (monitored lambda_max) */
    double stability;    /* automatic dt: the target of dt (lambda_max + lambda + delta); 0:
                            the trainer's default */
} akt_network_settings;

#endif
