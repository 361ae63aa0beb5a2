/* core.h: the vocabulary every layer of libakt shares, at the bottom of the house.
 *
 * The activations, regimes and readout starts a problem is written in, the point sets a solver
 * knows, and what a solve returns (one akt_result per regime). Everything above (spec, data,
 * numerics, methods, solve, applications) includes this; it includes only error.h. */
#ifndef AKT_CORE_H
#define AKT_CORE_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/error.h"

typedef enum { AKT_ACTIVATION_LINEAR, AKT_ACTIVATION_RELU, AKT_ACTIVATION_TANH, AKT_ACTIVATION_ERF } akt_activation;
typedef enum { AKT_REGIME_SOURCE, AKT_REGIME_SCRATCH, AKT_REGIME_READOUT, AKT_REGIME_JOINT, AKT_REGIME_COUNT } akt_regime;
typedef enum { AKT_READOUT_ZERO, AKT_READOUT_SOURCE, AKT_READOUT_RANDOM } akt_readout_init;

/* A phase time of "converge" (t -> infinity) is stored as this value. */
#define AKT_TIME_CONVERGE (-1.0)

/* The point sets of a problem (the splits of akt_data), in this order everywhere: population
 * states, output.kernel_splits, kernel files. */
typedef enum {
    AKT_POINTS_SOURCE_TRAIN,
    AKT_POINTS_TARGET_TRAIN,
    AKT_POINTS_TEST,
    AKT_POINTS_SOURCE_TEST,
    AKT_POINTS_COUNT
} akt_points;

/* Tri-state for "stable": not tested, false, true. */
typedef enum { AKT_STABLE_UNTESTED = -1, AKT_STABLE_NO = 0, AKT_STABLE_YES = 1 } akt_stability;

/* What researchers measure besides the losses (README "Observables"), one value per regime:
 * kernel-target alignment y'Ky / (|K|_F |y|^2) of the regime's final NTK and feature kernel Phi
 * on its training and test splits; retention, the centred kernel alignment between the source
 * feature kernel and the regime's final one on the target training points; the source test
 * loss after joint training (forgetting); the distance travelled from the pretrained weights,
 * mean over neurons of |w - w_src|^2 / D and (z - z_src)^2 (joint); the feature-learning
 * magnitude |K_end - K_start|_F / |K_start|_F of the NTK on the regime's training points. NAN
 * where a regime or method has none. */
typedef enum {
    AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN,
    AKT_OBSERVABLE_NTK_ALIGNMENT_TEST,
    AKT_OBSERVABLE_FEATURE_ALIGNMENT_TRAIN,
    AKT_OBSERVABLE_FEATURE_ALIGNMENT_TEST,
    AKT_OBSERVABLE_RETENTION,
    AKT_OBSERVABLE_SOURCE_TEST_LOSS,
    AKT_OBSERVABLE_HIDDEN_DISTANCE,
    AKT_OBSERVABLE_READOUT_DISTANCE,
    AKT_OBSERVABLE_FEATURE_LEARNING,
    AKT_OBSERVABLE_COUNT
} akt_observable;

/* One regime's answer (DESIGN.md, output contract). */
typedef struct {
    akt_regime regime;
    double test_loss;        /* mean (f - y)^2 on the target test split (source: source test) */
    double train_loss;       /* mean (f - y)^2 on the regime's training split */
    double mc_error;         /* Monte-Carlo error of test_loss; NAN where none (exact, lazy) */
    /* The parts every replica shares (DESIGN.md, Decisions, "Errors of a theory value"), in
     * loss units: the integrator's error of test_loss, the signed finite-S bias (test_loss minus
     * its infinite-S value) and the total sqrt(mc_error^2 + integration_error^2) + |bias|.
     * NAN where not estimated; 0 for closed forms. */
    double integration_error;
    double bias;
    double error;
    double residual;         /* fixed-point residual (converge) or integrator error estimate
                                (finite time); NAN for closed forms */
    akt_stability stable;
    bool converged;
    const char *method;      /* name of the method that produced this result (static text) */
    long iterations;         /* integrator steps or solver iterations; 0 for closed forms */
    double seconds;          /* wall time of this regime (the source phase is counted once) */
    /* The observables (akt_observable order): a method fills one replica's values; the solve
     * layer averages them over replicas, with the standard error of that mean scaled like
     * mc_error in the total error (t_{R-1}(0.975) / 1.96); errors are 0 for deterministic
     * methods and NAN for one replica of a sampled one. */
    double observables[AKT_OBSERVABLE_COUNT];
    double observable_errors[AKT_OBSERVABLE_COUNT];
} akt_result;

typedef struct {
    akt_result results[AKT_REGIME_COUNT];
    size_t count;            /* source first, then the requested regimes in the order scratch,
                                readout, joint */
} akt_solution;

/* The result for a regime, or NULL if it was not solved. */
const akt_result *akt_solution_find(const akt_solution *solution, akt_regime regime);

/* Mean squared error of predictions f against labels y (n values); NAN for n = 0. */
double akt_mean_squared_error(const double *f, const double *y, size_t n);

const char *akt_regime_name(akt_regime regime);
/* The observable's key in JSON, tables, sweep and trajectory columns ("ntk_alignment_train"). */
const char *akt_observable_name(akt_observable observable);
const char *akt_activation_name(akt_activation activation);
const char *akt_readout_init_name(akt_readout_init init);
/* Name of point set s as a spec writes it: source, target, test, source_test. */
const char *akt_split_name(int split);

/* NULL-terminated word lists, index = enum value (the spec parser reads these words). */
extern const char *const akt_activation_words[];
extern const char *const akt_regime_words[];
extern const char *const akt_readout_init_words[];
extern const char *const akt_split_words[];

#endif
