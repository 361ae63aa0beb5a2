/* convex.h: the t -> infinity limit of one training phase of a relu or linear network with
 * weight decay (method convex).
 *
 * THEORY.md section 4 ("Relu and linear at lambda > 0, t -> infinity: a convex limit"): the
 * stationary state of a phase (source or scratch) with strength gamma and weight decay
 * lambda > 0 is the measure over unit directions u that minimises
 *     1/2 sum_mu (y_mu - f(x_mu))^2 + tau sum_k |c_k|,   f(x) = sum_k c_k phi(u_k.x/sqrt(D)),
 * tau = lambda/gamma: a lasso over a continuum of features. The solver returns a finite set of
 * atoms (u_k, c_k) and a relative duality gap certified "relative to the best direction found"
 * by a multi-start neuron oracle (the oracle is a non-convex search, so the certificate is only
 * as good as the search). Its source kernel is in closed form:
 *     Phi_s(x, x') = gamma sum_k |c_k| phi(u_k.x/sqrt(D)) phi(u_k.x'/sqrt(D)).
 * Linear activation: the single atom u = beta/|beta|, c = |beta| of akt_linear_fixed_point.
 * Cost (relu): each oracle round ascends ~2 (P + K + 160) starts (batched products) and refines
 * every one with exact cone projections (P per refinement step, warm-started), and the
 * restricted lasso is first order (FISTA); measured 3-6 s of CPU for P = 24..30, D = 8..10 at
 * tolerance 1e-7..1e-6. At D = 200, P = 1000 one oracle round is about 10^5 s of CPU (model from
 * measured projections; bench/RESULTS.md, "Convex at D = 200, P = 1000"). */
#ifndef AKT_CONVEX_H
#define AKT_CONVEX_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/error.h"
#include "akt/core.h"

typedef struct {
    size_t K;            /* number of atoms */
    size_t D;            /* input dimension */
    double *U;           /* K x D row-major, unit rows u_k (NULL when K = 0) */
    double *c;           /* K signed coefficients c_k (NULL when K = 0) */
    double objective;    /* primal 1/2 |y - f|^2 + tau sum |c_k| on the training points */
    double oracle_max;   /* best oracle value max_u |<y - f, phi(X u/sqrt(D))>| found */
    double gap;          /* relative duality gap (P - D(theta))/P, theta = r min(1, tau/oracle_max) */
    long iterations;     /* conditional-gradient (outer) iterations */
    bool converged;      /* gap < tolerance */
} akt_convex_solution;

/* Solves the phase on X (P x D row-major), y (P) for activation relu or linear (else
 * AKT_ERR_INPUT), gamma > 0, lambda > 0. Stops when the relative duality gap is below tolerance
 * (converged) or after max_iterations outer iterations: then AKT_ERR_NUMERIC with the gap
 * reached in the message, and the solution reached is still filled in (converged false).
 * seed drives the oracle's random starts (gsl_rng_mt19937). *solution is always left in a state
 * akt_convex_free accepts (it is overwritten, not freed, on entry). */
int akt_convex_solve(const double *X, const double *y, size_t P, size_t D,
                     akt_activation activation, double gamma, double lambda, double tolerance,
                     unsigned long seed, long max_iterations, akt_convex_solution *solution,
                     akt_error *err);

void akt_convex_free(akt_convex_solution *solution);

/* f(x_i) = sum_k c_k phi(u_k.x_i/sqrt(D)) on the M rows of X (M x D). Fails only on
 * allocation (AKT_ERR_MEMORY) or a D that is not the solution's (AKT_ERR_INPUT). */
int akt_convex_predict(const akt_convex_solution *solution, const double *X, size_t M, size_t D,
                       akt_activation activation, double *f, akt_error *err);

/* Source kernel Phi_s between rows of A (a x D) and B (b x D): out is a x b row-major,
 * out_ij = gamma sum_k |c_k| phi(u_k.a_i/sqrt(D)) phi(u_k.b_j/sqrt(D)). Same failures as
 * akt_convex_predict. */
int akt_convex_kernel(const akt_convex_solution *solution, akt_activation activation,
                      double gamma, const double *A, size_t a, const double *B, size_t b,
                      size_t D, double *out, akt_error *err);

#endif
