/* finite.h: the actual two-layer network of THEORY.md section 1 at a finite width N.
 *
 * f(x) = 1/(gamma N) sum_i z_i phi(h_i(x)), h_i(x) = w_i.x/sqrt(D), raw D-dimensional hidden
 * weights W (N x D, row-major) and readout z (N), trained by forward Euler on
 *     d theta/dt = - gamma^2 N dL/dtheta - lambda theta - delta (theta - theta_src)|hidden,
 * L = 1/2 sum_mu (y_mu - f(x_mu))^2. This is what the theory (N -> infinity) is checked against:
 * the same data (akt_data), the same protocol (source phase, then scratch / readout / joint), and
 * seeds that change only the network initialisation.
 *
 * The transfer protocol over these networks is method "network" (src/methods/network.c), which
 * akt train and akt compare run through the solve layer like any other method. */
#ifndef AKT_FINITE_H
#define AKT_FINITE_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/core.h"
#include "akt/error.h"
#include "akt/random.h"

/* ---- The network ---------------------------------------------------------------------------- */

typedef struct {
    size_t width;              /* N */
    size_t dim;                /* D */
    akt_activation activation;
    double *W;                 /* N x D hidden weights, row-major (neuron i is row i) */
    double *z;                 /* N readout weights */
    double *W_src;             /* N x D anchor of the elastic pull (copy of the source weights) */
    double hidden_scale;       /* s_h: W ~ N(0, s_h^2) at initialisation (THEORY.md 1); 1 */
    double readout_scale;      /* s_z: z ~ N(0, s_z^2); 1 */
} akt_network;

akt_network *akt_network_alloc(size_t width, size_t dim, akt_activation activation,
                               akt_error *err);
void akt_network_free(akt_network *net);

/* dest := src (same width, dim); the anchor is copied too. */
void akt_network_copy(akt_network *dest, const akt_network *src);

/* Purposes of the initialisation streams (never renumber: part of the documented draw order). */
typedef enum {
    AKT_FINITE_STREAM_SOURCE = 0,       /* the source network's (W, z) */
    AKT_FINITE_STREAM_SCRATCH = 1,      /* the scratch regime's fresh (W, z) */
    AKT_FINITE_STREAM_READOUT = 2       /* joint regime, readout_init random: the fresh z */
} akt_finite_stream;

/* Stream seeds: akt_finite_stream_seed(seed, seed_index, purpose) of random.h. */

/* W ~ N(0, s_h^2), z ~ N(0, s_z^2) i.i.d. from gsl_rng_mt19937(stream_seed) with
 * gsl_ran_gaussian; draw order: W row by row (neuron 0's D weights first), then z. */
int akt_network_init(akt_network *net, unsigned long stream_seed, akt_error *err);

/* Fresh z ~ N(0, s_z^2) from gsl_rng_mt19937(stream_seed) (readout_init random). */
int akt_network_init_readout(akt_network *net, unsigned long stream_seed, akt_error *err);

/* W_src := W (the anchor of the elastic pull in the joint regime). */
void akt_network_set_anchor(akt_network *net);

/* ---- One training problem ------------------------------------------------------------------- */

typedef struct {
    const double *X;           /* P x D */
    const double *y;           /* P */
    size_t P;
    double gamma;              /* > 0 */
    double lambda;             /* weight decay, >= 0, on W and z */
    double delta;              /* elastic pull of W toward W_src, >= 0 (0: no anchor needed) */
    bool train_hidden;         /* false: W frozen, only z learns (the readout regime's flow) */
    const double *offset;      /* P values subtracted from the outputs (centring), or NULL */
} akt_finite_problem;

/* Predictions f(x) = 1/(gamma N) sum_i z_i phi(h_i(x)) on M rows of X (blocks of rows, so the
 * memory is O(N * block), not O(N M)). */
int akt_network_predict(const akt_network *net, const double *X, size_t M, double gamma,
                        double *f, akt_error *err);

/* L = 1/2 sum_mu (y_mu - f(x_mu))^2 on the problem's points, f the offset-subtracted output. */
int akt_network_loss(const akt_network *net, const akt_finite_problem *problem, double *loss,
                     akt_error *err);

/* The full right-hand side of the flow at the current weights: dW (N x D; zero when
 * !train_hidden) and dz (N). Optional f (P outputs, offset subtracted), may be NULL. */
int akt_network_rhs(const akt_network *net, const akt_finite_problem *problem, double *dW,
                    double *dz, double *f, akt_error *err);

/* Largest eigenvalue of the empirical NTK Gram on the training points,
 * K = Phi + G o C (Phi = A A'/N, G = B B'/N, A = phi(H), B = phi'(H) diag(z), C = X X'/D; only
 * Phi when !train_hidden), by `iterations` power iterations from the all-ones vector. The Euler
 * step's linearised output feedback is 1 - dt (K + lambda + delta), hence the stability rule. */
int akt_network_ntk_lambda_max(const akt_network *net, const akt_finite_problem *problem,
                               int iterations, double *lambda_max, akt_error *err);

/* The empirical hidden kernel Phi(a, b) = (1/N) sum_i phi(h_i(a)) phi(h_i(b)) between rows of A
 * (a rows) and B (b rows): out is a x b. */
int akt_network_kernel(const akt_network *net, const double *A, size_t a, const double *B,
                       size_t b, double *out, akt_error *err);

/* The empirical kernels of THEORY.md section 2 on n rows of X (out: n x n each, symmetric):
 * Phi(a, b) = (1/N) sum_i phi(h_i(a)) phi(h_i(b)) and G(a, b) = (1/N) sum_i z_i^2 phi'(h_i(a))
 * phi'(h_i(b)), the finite-N averages of <phi(h) phi(h')> and <g g'> with g = phi'(h) z (the
 * NTK of the flow is Phi + G o C). G may be NULL (Phi only). Neurons go in blocks, so the
 * memory is O(n * block) besides the outputs; the weights are only read. */
int akt_network_feature_kernels(const akt_network *net, const double *X, size_t n, double *Phi,
                                double *G, akt_error *err);

/* Distance travelled from a reference network of the same width and dim (README "Observables"):
 * hidden = (1/N) sum_i |w_i - w_ref,i|^2 / D, readout = (1/N) sum_i (z_i - z_ref,i)^2. */
void akt_network_distances(const akt_network *net, const akt_network *reference, double *hidden,
                           double *readout);

/* The readout regime at convergence: hidden weights frozen as they are, a readout trained from
 * zero with decay readout_decay to t -> infinity. From dz/dt = gamma phi(X2)' Delta - lambda_r z
 * and f = A z/(gamma N): df/dt = Phi_s (y - f) - lambda_r f on the training points, so
 * f(x) = Phi_s(x, X2) (Phi_s(X2, X2) + lambda_r I)^{-1} y2 with the empirical Phi_s above, for
 * any gamma (lambda_r = 0: minimum-norm least squares, the limit of the flow from z = 0).
 * Writes predictions on the M query rows Xq. */
int akt_network_readout_predict(const akt_network *net, const double *X2, const double *y2,
                                size_t P2, double readout_decay, const double *Xq, size_t M,
                                double *f, akt_error *err);

/* ---- Time stepping -------------------------------------------------------------------------- */

typedef struct {
    double dt;                 /* > 0: fixed Euler step; <= 0: automatic */
    double stability;          /* automatic: keep dt (lambda_max(K) + lambda + delta) <= this
                                  (0 means the default 0.5; forward Euler is unstable at 2) */
    long monitor_every;        /* steps between lambda_max estimates (0: default 20) */
    double min_step;           /* automatic: AKT_ERR_NUMERIC if dt would fall below (0: 1e-9) */
} akt_finite_stepping;

typedef struct {
    long steps;
    double dt_first, dt_last;  /* the Euler steps used first and last */
    double lambda_max_first;   /* NTK lambda_max estimate at the start of the phase */
    double lambda_max_peak;    /* largest estimate seen during the phase */
    double stability_peak;     /* largest dt * (lambda_max + lambda + delta) seen */
} akt_finite_trace;

/* Runs the phase for time T > 0 by forward Euler. The last step is shortened so the phase ends at
 * T exactly; a fixed dt that divides T is used as is. lambda_max is estimated every
 * monitor_every steps in both modes (reported in *trace, which may be NULL); in automatic mode
 * dt starts at stability / (lambda_max + lambda + delta) and is halved whenever an estimate
 * exceeds the rule. NaN/Inf in the outputs: AKT_ERR_NUMERIC naming the time and quantity. */
int akt_network_train(akt_network *net, const akt_finite_problem *problem, double T,
                      const akt_finite_stepping *stepping, akt_finite_trace *trace,
                      akt_error *err);

/* The Euler bias estimate of one phase: trains a copy of net at the given stepping and another
 * with dt halved (automatic mode: stability halved), and returns
 * |loss(dt) - loss(dt/2)| / loss(dt/2) of the test loss (mean (f - y)^2 on Xt, yt, Mt rows).
 * net ends trained at the given stepping; *test_loss is its test loss. */
int akt_network_euler_bias(akt_network *net, const akt_finite_problem *problem, double T,
                           const akt_finite_stepping *stepping, const double *Xt,
                           const double *yt, size_t Mt, double *test_loss,
                           double *relative_change, akt_error *err);

/* Test loss mean ((f - offset) - y)^2 of the network on (X, y) (M rows; offset may be NULL);
 * NAN for M = 0. */
int akt_network_test_loss(const akt_network *net, double gamma, const double *X, const double *y,
                          const double *offset, size_t M, double *loss, akt_error *err);

/* The stepping with dt halved (automatic mode: the stability target halved). */
akt_finite_stepping akt_finite_stepping_halved(const akt_finite_stepping *stepping);

#endif
