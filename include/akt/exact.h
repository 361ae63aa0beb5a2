/* exact.h: deterministic solvers (method exact and lazy), no sampling.
 *
 * - akt_ridge_*: kernel ridge regression, including the minimum-norm least-squares case;
 * - akt_linear_fixed_point: the adaptive-ridge fixed point of a linear network at
 *   t -> infinity (THEORY.md section 4);
 * - akt_moments_*: the exact second-moment closure of linear networks at any time, every
 *   regime (THEORY.md section 4);
 * - akt_lazy_*: the gamma -> 0 kernel limit with closed-form NNGP/NTK kernels (relu: arc-cosine
 *   degree 1 and 0; erf: arcsine; linear). */
#ifndef AKT_EXACT_H
#define AKT_EXACT_H

#include <stddef.h>

#include "akt/error.h"
#include "akt/core.h"

/* ---- Kernel ridge regression ----
 * Given the train Gram K (P x P, symmetric PSD), the cross kernel K_cross (M x P, rows = query
 * points) and labels y, writes predictions f = K_cross (K + ridge I)^{-1} y (M values).
 * ridge = 0 means the minimum-norm least-squares solution K_cross K^+ y, computed through an
 * eigendecomposition with eigenvalues below P * eps * max eigenvalue treated as zero (the
 * standard pseudo-inverse cut-off), so a rank-deficient K is never inverted. */
int akt_ridge_predict(const double *K, size_t P, const double *K_cross, size_t M, const double *y,
                      double ridge, double *f, akt_error *err);

/* Symmetric eigendecomposition (LAPACKE_dsyevd) of the n x n row-major matrix A, in place: on
 * success column j of A is the unit eigenvector of eigenvalues[j] (ascending). */
int akt_symmetric_eigen(double *A, size_t n, double *eigenvalues, akt_error *err);

/* The pseudo-inverse cut-off n * DBL_EPSILON * max |eigenvalue|: eigenvalues of magnitude at or
 * below it are treated as zero (they are round-off of a rank-deficient matrix). */
double akt_pseudo_inverse_cutoff(const double *eigenvalues, size_t n);

/* ---- Linear network, one phase, lambda > 0, t -> infinity ----
 * X: P x D row-major, y: P. beta = (X'X/D + kappa I)^{-1} X'y/sqrt(D) with kappa > 0 solving
 * |beta| = lambda/(gamma kappa) (GSL root finder); beta = 0 when |X'y|/sqrt(D) <= lambda/gamma.
 * Writes beta (D values) and kappa (0 on the beta = 0 branch). */
int akt_linear_fixed_point(const double *X, const double *y, size_t P, size_t D, double gamma,
                           double lambda, double *beta, double *kappa, akt_error *err);

/* ---- Linear network moment closure (any time, any regime) ----
 * The state is the symmetric second-moment matrix S of v = (z, w, w_src) (size 1 + 2D), or of
 * (z, w) when there is no source (size 1 + D). Predictions f(x) = <z w>.x / (gamma sqrt(D)),
 * hidden kernel Phi(x, x') = x'<w w'>x / D. The flow is integrated with an adaptive GSL
 * stepper to a local error step_tolerance per unit time. */
typedef struct akt_moments akt_moments;

/* A fresh Gaussian network: S = I. with_source reserves the w_src block (set by
 * akt_moments_start_target). */
akt_moments *akt_moments_alloc(size_t D, akt_error *err);
void akt_moments_free(akt_moments *m);

/* Resets to a fresh network (z, w ~ N(0, 1) i.i.d.; no source block). */
void akt_moments_init_fresh(akt_moments *m);

/* The same with the layer scales of THEORY.md section 1: z ~ N(0, s_z^2), w ~ N(0, s_h^2 I);
 * a later random readout (akt_moments_start_target) is drawn from N(0, s_z^2) too. */
void akt_moments_init_scaled(akt_moments *m, double hidden_scale, double readout_scale);

/* Turns a trained state into the start of a joint target phase: w_src := w (frozen copy),
 * readout z := 0, z (kept), or fresh N(0, s_z^2) independent of everything. The source readout
 * z_src := z is tracked as well (<v z_src> follows the flow; akt_moments_readout_distance). */
void akt_moments_start_target(akt_moments *m, akt_readout_init readout_init);

/* Replaces the state by the n x n symmetric matrix S (row-major), n = 1 + D (no source block) or
 * 1 + 2D (with source block): e.g. a finite network's empirical moments. AKT_ERR_INPUT otherwise.
 * The source readout is no longer tracked. */
int akt_moments_set(akt_moments *m, const double *S, size_t n, akt_error *err);

/* Tracks the source readout z_src from the current state (which needs a source block, else
 * AKT_ERR_INPUT): c = <v z_src> (n = 1 + 2D values in v's order z, w, w_src) and <z_src^2>, e.g.
 * a finite network's empirical moments after akt_moments_set. */
int akt_moments_set_source_readout(akt_moments *m, const double *c, double z_src_square,
                                   akt_error *err);

/* The integrated state (the moments and the tracked source readout): its length in doubles, a
 * copy of it into state, and back from state, to run a phase again from the same start (the
 * state's size and tracking must not have changed since the save: a flow does not change them). */
size_t akt_moments_state_length(const akt_moments *m);
void akt_moments_save(const akt_moments *m, double *state);
void akt_moments_restore(akt_moments *m, const double *state);

/* The joint phase's distances from the source (README "Observables"): tr <(w - w_src)(w - w_src)'>
 * / D, NAN without a source block; <(z - z_src)^2>, NAN when the source readout is not tracked. */
double akt_moments_hidden_distance(const akt_moments *m);
double akt_moments_readout_distance(const akt_moments *m);

/* The current state: its size n (1 + D or 1 + 2D) and the n x n row-major matrix. */
size_t akt_moments_size(const akt_moments *m);
const double *akt_moments_matrix(const akt_moments *m);

/* Smallest step the adaptive stepper may take before akt_moments_flow fails with AKT_ERR_NUMERIC
 * (default 1e-9, solver.min_step's default). */
void akt_moments_set_min_step(akt_moments *m, double min_step);

/* Called after every accepted step of akt_moments_flow with the flow time t of the phase
 * (from 0) and the state m (which akt_moments_predict and akt_moments_kernel read); a status
 * other than AKT_OK stops the flow and is returned. For recording a trajectory. */
typedef int (*akt_moments_observer)(void *context, double t, const akt_moments *m, akt_error *err);

/* Sets (or with NULL clears) the observer of the following flows. */
void akt_moments_set_observer(akt_moments *m, akt_moments_observer observer, void *context);

/* Runs gradient flow for time T (T = AKT_TIME_CONVERGE: until the relative Phi-identity
 * residual is below tolerance or max_time is reached) on data X (P x D), y, with (gamma, lambda,
 * delta). delta applies only when a source block is present. Reports the steps taken and, for
 * converge, the residual reached (*residual; NAN otherwise). */
int akt_moments_flow(akt_moments *m, const double *X, const double *y, size_t P, double gamma,
                     double lambda, double delta, double T, double step_tolerance,
                     double tolerance, double max_time, long *steps, double *residual,
                     akt_error *err);

/* Predictions on M points (rows of X, M x D) with the given gamma (the current phase's). */
void akt_moments_predict(const akt_moments *m, const double *X, size_t M, double gamma, double *f);

/* Hidden kernel Phi between rows of A (a x D) and B (b x D): out is a x b. */
void akt_moments_kernel(const akt_moments *m, const double *A, size_t a, const double *B, size_t b,
                        double *out);

/* ---- Lazy limit (gamma -> 0) ----
 * Closed-form kernels at initialisation, from the Gram entries c11 = C(x,x), c22 = C(x',x'),
 * c12 = C(x,x'): nngp = <phi(h) phi(h')>, derivative = <phi'(h) phi'(h')> (so that the NTK is
 * nngp + derivative * c12 when <z^2> = 1). relu: arc-cosine kernels of degree 1 and 0; erf:
 * arcsine kernel and its derivative kernel; linear: c12 and 1. tanh has no closed form:
 * AKT_ERR_INPUT. */
int akt_lazy_kernel(akt_activation activation, double c11, double c22, double c12, double *nngp,
                    double *derivative, akt_error *err);

/* Fills the NNGP (Phi0) and derivative kernel matrices between rows of A and B. */
int akt_lazy_kernel_matrix(akt_activation activation, const double *A, size_t a, const double *B,
                           size_t b, size_t D, double *nngp, double *derivative, akt_error *err);

/* The same with hidden weights of variance hidden_variance = s_h^2 (pre-activation covariance
 * s_h^2 C); the derivative kernel is still per unit readout variance. */
int akt_lazy_kernel_matrix_scaled(akt_activation activation, double hidden_variance,
                                  const double *A, size_t a, const double *B, size_t b, size_t D,
                                  double *nngp, double *derivative, akt_error *err);

/* Kernel gradient flow df/dt = K(x, X)(y - f(X)) from f = f0 for time T (AKT_TIME_CONVERGE:
 * t -> infinity, min-norm interpolation). K: P x P, K_cross: M x P, f0_train (P) and f0_query
 * (M) the starting outputs (NULL = zero). Writes the query predictions f (M). */
int akt_kernel_flow_predict(const double *K, size_t P, const double *K_cross, size_t M,
                            const double *y, const double *f0_train, const double *f0_query,
                            double T, double *f, akt_error *err);

#endif
