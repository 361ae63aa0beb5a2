/* population.h: the single-site (DMFT) population solver (method population).
 *
 * An infinitely wide two-layer network is an average over one neuron's law (THEORY.md
 * section 2). This module samples S neurons from that law and follows them in the exact
 * reduced representation: a neuron is (h0 on every point, a in R^P1, b in R^P2, z), so a step
 * costs O(S P^2); or, where D is small against P, in weight coordinates (the data-span part of
 * its hidden weights in R^D instead of a or b, a step costing O(S P D)); see
 * akt_population_coordinates. Source phase, then the target
 * regimes scratch, readout and joint of THEORY.md section 3.
 *
 * Randomness: each replica draws from gsl_rng_mt19937 streams seeded by
 * akt_population_stream_seed(seed, purpose, replica), so replica r's numbers do not depend on
 * how many replicas run, nor on S beyond the first S/2 rows (neurons come in antithetic pairs
 * (w0, z0), (w0, -z0); pair k uses the k-th row of every stream).
 *
 * Typical use (what method population, src/methods/population.c, does once per replica):
 *     pop = akt_population_alloc(data, activation, S, err);
 *     akt_population_sample(pop, seed, replica);
 *     akt_population_run_source(pop, &phase1, &run, err);
 *     akt_population_predict(pop, AKT_POINTS_SOURCE_TEST, f, err);
 *     akt_population_readout(pop, ridge, f, err);           (needs the source state)
 *     akt_population_start_joint(pop, init, err); akt_population_run_target(pop, &phase2, ...);
 *     akt_population_free(pop);
 */
#ifndef AKT_POPULATION_H
#define AKT_POPULATION_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/core.h"
#include "akt/data.h"
#include "akt/error.h"
#include "akt/random.h"

/* One replica's finished source run, detached from its population: the source state (a, z) at
 * T1 on the source training points (S (P1 + 1) doubles) and the phase's T1, gamma1, lambda1.
 * Nothing else needs keeping: h0 on any point comes again from the same w0 stream (a
 * population sampled for the same seed and replica draws the same w0 and z0), and the source
 * features on target points follow from the reduced form (THEORY.md section 3)
 *     h_s(x) = e^{-lambda1 T1} h0(x) + sum_mu C(x, x1_mu) a_mu,
 * so a saved source serves data whose target and test splits differ from the ones it was run
 * with, as long as the source split is the same. */
typedef struct akt_population_source akt_population_source;

/* Estimated bytes of a population of `neurons` neurons on data (in GiB). */
double akt_population_memory_gib(const akt_data *data, size_t neurons);

/* Streams: akt_population_stream_seed(seed, purpose, replica) of random.h. */
/* Stream purposes; part of the documented draw order: never renumber. */
enum {
    AKT_POPULATION_STREAM_HIDDEN = 1,   /* w0: S/2 rows of D Gaussians, row by row */
    AKT_POPULATION_STREAM_READOUT = 2,  /* z0: S/2 Gaussians */
    AKT_POPULATION_STREAM_FRESH = 3,    /* readout_init random: S/2 Gaussians */
    AKT_POPULATION_STREAM_KICK = 4      /* stability test: S (n + 1) Gaussians, n = P2 or D (the
                                         * target phase's coordinates) */
};

typedef struct akt_population akt_population;

/* One training phase: time > 0 or AKT_TIME_CONVERGE; elastic applies to the joint phase only.
 * step_tolerance: accepted local error per unit time (output units, see akt_population_run);
 * tolerance, max_time: time converge; min_step: a step below it is a numerical failure. */
typedef struct {
    double gamma, weight_decay, elastic, time;
    double step_tolerance, tolerance, max_time, min_step;
} akt_population_phase;

/* What a phase run reached.
 * residual: time converge: the relative Phi-identity residual |f - Phi (Phi + lambda I)^{-1} y|
 * / |f| on the training points at the end; finite time: the sum over accepted steps of the
 * local error estimate (the embedded pair's error of the training predictions, RMS over the
 * training points), an estimate of the accumulated integration error of the outputs. */
typedef struct {
    double time;            /* flow time run in this phase */
    long steps, rejected;   /* accepted and rejected steps */
    double residual;
    bool converged;         /* finite time: reached T; converge: residual below tolerance */
} akt_population_run;

/* Coordinates of a neuron's trainable hidden state (THEORY.md section 2, "Two coordinates"):
 * reduced (c in R^P: h = r h_base + C(x, X) c, every product S x P x P) or weights (its data-span
 * part v = c X / sqrt(D) in R^D: h = r h_base + v.x / sqrt(D), products S x P x D). The same
 * computation: results agree to round-off. AUTO chooses per phase by the product flops of a
 * step: weights when 2 D < P (an evaluation then costs 2 S P D multiply-adds, the products to and
 * from the weights, against S P^2), else reduced. */
typedef enum {
    AKT_POPULATION_COORDINATES_AUTO,
    AKT_POPULATION_COORDINATES_REDUCED,
    AKT_POPULATION_COORDINATES_WEIGHTS
} akt_population_coordinates;

/* Allocates everything a population of `neurons` (even, >= 2) neurons needs on data (sized up
 * front: O(S (P + M)) doubles, M the total number of points). data must outlive it.
 * Coordinates AUTO. */
akt_population *akt_population_alloc(const akt_data *data, akt_activation activation,
                                     size_t neurons, akt_error *err);

/* akt_population_alloc with the coordinates forced for both phases (tests, benchmarks). */
akt_population *akt_population_alloc_coordinates(const akt_data *data, akt_activation activation,
                                                 size_t neurons,
                                                 akt_population_coordinates coordinates,
                                                 akt_error *err);
void akt_population_free(akt_population *pop);

/* The layer scales of the initial law (THEORY.md section 1; default 1): every later
 * akt_population_sample draws h0 = s_h w0.x/sqrt(D) and z0 = s_z N(0, 1), and a random joint
 * readout from N(0, s_z^2). */
void akt_population_set_scales(akt_population *pop, double hidden_scale, double readout_scale);

/* Draws a fresh population for (seed, replica): w0 ~ N(0, I_D), z0 ~ N(0, 1) in antithetic
 * pairs (times the scales), h0 = w0.x/sqrt(D) on every point (one product per split). Resets
 * to "initialised". */
void akt_population_sample(akt_population *pop, unsigned long seed, unsigned long replica);

/* Source phase from the sampled initialisation on the source split. Leaves the source state,
 * from which h_s on the target points is kept for the readout and joint regimes. */
int akt_population_run_source(akt_population *pop, const akt_population_phase *phase,
                              akt_population_run *run, akt_error *err);

/* A copy of the finished source run of pop (call right after akt_population_run_source, before
 * a target phase starts; else AKT_ERR_INPUT). NULL with AKT_ERR_MEMORY when it does not fit. */
akt_population_source *akt_population_source_save(const akt_population *pop, akt_error *err);

/* Puts a saved source run back into pop, which must be sampled (akt_population_sample) for the
 * same seed and replica, have the same activation, neurons and dimension, and whose data must
 * hold the same source split as the run's (the caller's check: only the sizes are visible
 * here; AKT_ERR_INPUT when they differ). h_s on pop's target and test points is recomputed from
 * the state exactly as akt_population_run_source computes it, so everything after is bit for
 * bit what a fresh source run on pop would give. */
int akt_population_source_restore(akt_population *pop, const akt_population_source *source,
                                  akt_error *err);
void akt_population_source_free(akt_population_source *source);

/* Memory of one saved source of `neurons` neurons on source_rows source points, in GiB: an upper
 * bound (a source phase in weight coordinates keeps D < source_rows numbers per neuron). */
double akt_population_source_gib(size_t neurons, size_t source_rows);

/* Target phase starts: scratch (fresh initialisation: the sampled h0 and z0) or joint (hidden
 * weights at the source state, readout zero, the source z, or fresh antithetic N(0,1)).
 * start_joint needs a completed source run. */
int akt_population_start_scratch(akt_population *pop, akt_error *err);
int akt_population_start_joint(akt_population *pop, akt_readout_init readout_init,
                               akt_error *err);

/* Runs the started target phase (scratch or joint) on the target split for phase->time; may be
 * called again to continue. */
int akt_population_run_target(akt_population *pop, const akt_population_phase *phase,
                              akt_population_run *run, akt_error *err);

/* Gives a started target phase its parameters before it runs, so that its outputs at t = 0 are
 * read with its gamma (readout_init source starts from (gamma1/gamma2) f_source). Running the
 * phase sets them anyway; this is for an observer's row at t = 0. */
void akt_population_set_target_phase(akt_population *pop, const akt_population_phase *phase);

/* Flow time of the current phase (0 at its start). */
double akt_population_time(const akt_population *pop);

/* The reference integrator: forward Euler with the fixed step dt (the last step shortened to
 * end at phase->time), exactly what a finite-width network's gradient descent does, in the
 * reduced representation. On a sampled or source population it runs the source phase (like
 * akt_population_run_source); on a started target phase it runs that phase. For tests and
 * benchmarks: the adaptive integrator must match its dt -> 0 limit (issue 3: to 0.1 percent). */
int akt_population_run_euler(akt_population *pop, const akt_population_phase *phase, double dt,
                             akt_population_run *run, akt_error *err);

/* Predictions f(x) = (1/gamma) <z phi(h(x))> of the current state on a point set (rows of that
 * split). The source state answers on every set; a scratch state on the target train and test
 * sets; a joint state on every set (on the source sets through h = rho h_s + C(x, X2) b, with
 * h_s made there from the kept source state: the forgetting of README "Observables"). The
 * neuron sum runs pair by pair, so an antithetic initial state gives exactly 0. */
int akt_population_predict(akt_population *pop, akt_points points, double *f, akt_error *err);

/* The source kernel Phi_s(x, x') = <phi(h_s(x)) phi(h_s(x'))> on the target points: K
 * (P2 x P2, target train) and K_cross ((P2 + Mt) x P2, rows target train then test). */
int akt_population_source_kernel(akt_population *pop, double *K, double *K_cross, akt_error *err);

/* Readout regime: f = Phi_s(x, X2) (Phi_s(X2, X2) + ridge I)^{-1} y2 on [target train; test]
 * (P2 + Mt values), ridge 0 = minimum-norm least squares. */
int akt_population_readout(akt_population *pop, double ridge, double *f, akt_error *err);

/* Stability test of the current joint state (THEORY.md section 4; docs/stability.md). The plain
 * state is integrated for extra_time (two halves, every attempted step logged); two copies kicked
 * along one Gaussian direction of b and z (relative size 1e-2, and 1e-8 for the noise floor)
 * repeat exactly the same attempted steps, so that with no kick they would end bit for bit
 * equal. The measure is the distance of the kicked copy's state from the plain one's (b and z,
 * each relative to the plain state's RMS at that time): s0 at the kick, s_half, s1 at the end.
 * Unstable when (1) s1 exceeds 10 times the floor copy's distance at the end (the floor copy's
 * linear response is 1e-6 of the kick's; more is integrator noise: relu kink decisions flipped
 * by any perturbation), and (2) the distance grows exponentially: s1 / s_half >= 1.25 and
 * s1 / s_half >= 0.97 s_half / s0 (a neutral direction keeps its size, a secular drift slows
 * down, to 15/16 of its first-half growth or less, an exponential mode does not). Otherwise stable. growth = d1 / d0, the test predictions'
 * difference at the end over the one at the kick (for information).
 * The state afterwards is the kicked copy's continuation (the caller has read its results
 * before). Extra memory: two states (2 S (P2 + 1) doubles) while it runs. */
int akt_population_stability(akt_population *pop, const akt_population_phase *phase,
                             double extra_time, double *growth, akt_stability *stable,
                             akt_error *err);

/* What one stability test measured: the RMS difference of the test predictions of the kicked
 * and the plain copy right after the kick (d0), after half the extra time (d_half) and after all
 * of it (d1), the plain copy's integration error estimate over the extra time (noise, the sum of
 * its accepted steps' local error estimates, output units) and growth = d1 / d0; and the same
 * distances between the two copies' states (s0, s_half, s1): the RMS difference of b (or its
 * weights) and of z, each relative to the plain state's block RMS at that time, the blocks
 * weighted equally (a kick of relative size k is at s0 ~ k). */
typedef struct {
    double d0, d_half, d1, noise, growth;
    double s0, s_half, s1;
    double floor1; /* s1 of a second copy kicked 1e-6 times as hard along the same direction */
} akt_population_stability_report;

/* akt_population_stability with the kick's relative size given (akt_population_stability uses
 * 1e-2; the floor copy is kicked 1e-6 times that; 0 measures nothing and is UNTESTED) and
 * everything it measured reported; the verdict is the same rule. Applies to a joint
 * state and to a scratch state (the flow of a source phase, from a fresh start, on the target
 * split: what the false-alarm measurement of docs/stability.md tests). */
int akt_population_stability_measure(akt_population *pop, const akt_population_phase *phase,
                                     double extra_time, double relative_kick,
                                     akt_population_stability_report *report,
                                     akt_stability *stable, akt_error *err);

/* Called by the integrator after every accepted step of a phase run (source, target, and the
 * stability test's runs), with the phase's flow time t (= the state's; from 0 at the start of the
 * phase) and the population, whose state akt_population_predict and akt_population_kernels may
 * read (they must not change it). A status other than AKT_OK stops the run and is returned. */
typedef int (*akt_population_observer)(void *context, double t, akt_population *pop,
                                       akt_error *err);

/* Sets (or with NULL clears) the observer of the following runs. */
void akt_population_set_observer(akt_population *pop, akt_population_observer observer,
                                 void *context);

/* Measurement options for benchmarks (bench/bench_leads.c; default off, results unchanged).
 *
 * akt_population_force_steps: the following finite-time phase runs (akt_population_run_source,
 * akt_population_run_target; not Euler, not the stability test) take exactly these step lengths, in order, every step accepted whatever its error
 * estimate (as the stability test replays a run's steps); they should add up to the phase's time
 * (the run stops at the phase's end or when the list is used up, whichever comes first: run->time
 * says where). For Richardson extrapolation in the step: record an adaptive run's accepted steps
 * with an observer, then replay each step cut into k equal parts. steps NULL or count 0 clears.
 * AKT_ERR_INPUT for a step that is not a positive number, AKT_ERR_MEMORY. */
int akt_population_force_steps(akt_population *pop, const double *steps, size_t count,
                               akt_error *err);

/* The law akt_population_sample draws w0 from. GAUSSIAN (the default): i.i.d. N(0, I_D) rows.
 * ORTHOGONAL: the same draws, then each block of D consecutive pair rows orthogonalised and every
 * row rescaled to its own drawn norm: still N(0, I_D) row by row, rows of a block orthogonal
 * (a variance-reduction candidate, issue 13). Applies to the next akt_population_sample. */
typedef enum {
    AKT_POPULATION_SAMPLING_GAUSSIAN,
    AKT_POPULATION_SAMPLING_ORTHOGONAL
} akt_population_sampling;
void akt_population_set_sampling(akt_population *pop, akt_population_sampling sampling);

/* The adapted kernels of the current state (sampled initial state, source, a started or run
 * scratch or joint phase) on the union of the point sets with points[s] true, stacked in the
 * order of akt_points (M points in all): Phi = <phi(h) phi(h')> and G = <g g'>, g = phi'(h) z
 * (THEORY.md section 2), M x M each, averaged over the S neurons (G may be NULL). They do not
 * depend on gamma (z is kept in actual values). A target state knows the target train and test
 * points only (AKT_ERR_INPUT otherwise). Costs O(S M (P + M)); work space O(256 M). Reads the
 * state only (an observer may call it). */
int akt_population_kernels(akt_population *pop, const bool points[AKT_POINTS_COUNT], double *Phi,
                           double *G, akt_error *err);

/* The source feature kernel Phi_s = <phi(h_s) phi(h_s')> on one target point set
 * (AKT_POINTS_TARGET_TRAIN or AKT_POINTS_TEST), n x n, by the product of
 * akt_population_source_kernel (on the training points the same numbers as its K). Needs the
 * source state; uses the query buffer (not while a phase runs). */
int akt_population_source_phi(akt_population *pop, akt_points points, double *K,
                              akt_error *err);

/* Distance travelled from the source by the current joint state (README "Observables"):
 * hidden = mean over neurons of |w - w_s|^2 / D, readout = mean of (z - z_s)^2, w_s and z_s the
 * source's final weights. From the reduced form (THEORY.md section 3), w = rho w_s + u with u
 * the target phase's data-span part, so |w - w_s|^2 / D = (rho - 1)^2 |w_s|^2 / D
 * + 2 (rho - 1) w_s.u / D + |u|^2 / D; |w_s|^2 / D is kept per neuron at the end of the source
 * (from the sampled |w0|^2 / D, a.h0(X1) / D and a'C11 a / D), and in reduced coordinates
 * w_s.u = b.h_s(X2), |u|^2 = b'C22 b: O(S P2^2), nothing of size D. Reads the state only. */
int akt_population_joint_distances(akt_population *pop, double *hidden, double *readout,
                                   akt_error *err);

/* The raw hidden weights w (S x D, neuron i in row i) of the current state, rebuilt from w0 and
 * the reduced state (THEORY.md section 2, "Two coordinates"): the raw-weight network that the
 * population is. O(S P D); for tests. */
int akt_population_hidden_weights(const akt_population *pop, double *W, akt_error *err);

/* Largest eigenvalue of the adapted NTK K = Phi + G * C on the current phase's training
 * points, from the last right-hand-side evaluation (for tests and step caps). */
double akt_population_ntk_max(akt_population *pop);

#endif
