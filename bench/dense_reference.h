/* dense_reference.h: the dense formulation of the population flow, the benchmark's baseline.
 *
 * Published reference code for the infinite-width (DMFT) limit keeps every sampled neuron's
 * pre-activation h on every point it will ever be asked about (training and test points, an
 * S x M matrix) and moves all of it with a fixed small forward Euler step. Differentiating the
 * exact reduced form of THEORY.md section 2, h(x,t) = e^{-lambda t} h0(x) + C(x, X) a(t) with
 * da/dt = gamma z Delta phi'(h_train) - lambda a, gives the dense flow
 *     dh/dt = -lambda h + gamma z [ (Delta * phi'(h_train)) C(X, x) ]      (S x P x M product)
 *     dz/dt = gamma phi(h_train).Delta - lambda z,    f = (1/gamma) <z phi(h)>,  Delta = y - f.
 * One Euler step h <- (1 - dt lambda) h + dt G C(X, all) with G = gamma z Delta phi'(h_train) is
 * exactly the reduced Euler step with (1 - dt lambda)^k in place of e^{-lambda t} (THEORY.md
 * section 3), so on the same neurons the two formulations agree to round-off at equal steps; the
 * dense one just pays for M columns instead of P.
 *
 * The neurons are akt's own: w0 and z0 are drawn from the streams documented in
 * include/akt/population.h (akt_population_stream_seed(seed, purpose, replica), w0 as S/2 rows of
 * D gsl_ran_gaussian_ziggurat draws from stream AKT_POPULATION_STREAM_HIDDEN, z0 as S/2 draws from
 * AKT_POPULATION_STREAM_READOUT, pair k = neurons 2k and 2k+1 with (w0_k, z0_k) and
 * (w0_k, -z0_k)), so a dense run and akt_population_run_source start from identical neurons and
 * differ only by the time integrator: no Monte-Carlo difference between them.
 *
 * Lives in bench/ only: the library never uses it. */
#ifndef AKT_BENCH_DENSE_REFERENCE_H
#define AKT_BENCH_DENSE_REFERENCE_H

#include <stddef.h>

#include "akt/error.h"
#include "akt/spec.h"

typedef struct {
    size_t S, D, P, M;          /* neurons, input dimension, training points, all points */
    akt_activation activation;
    double *X;                  /* M x D: the training points, then the other points */
    const double *y;            /* P training labels (borrowed) */
    double *C;                  /* P x M Gram C(X_train, X_all) */
    double *H;                  /* S x M pre-activations, row i = neuron i */
    double *z;                  /* S readout weights */
    double *F, *G;              /* S x P work: phi(h_train), then gamma z Delta phi'(h_train) */
    double *f, *Delta;          /* P work: training predictions and errors */
    double *Q;                  /* S x M work for predictions on other points */
    double t;                   /* flow time reached */
    long steps;                 /* Euler steps taken since sampling */
} dense_flow;

/* Sets up a dense flow on the training points X_train (P x D, labels y) and other points X_other
 * (Mo x D, may be NULL with Mo = 0), S (even) neurons. The flow borrows y. */
int dense_flow_alloc(dense_flow *flow, const double *X_train, const double *y, size_t P,
                     const double *X_other, size_t Mo, size_t D, akt_activation activation,
                     size_t S, akt_error *err);
void dense_flow_free(dense_flow *flow);

/* Draws akt's neurons for (seed, replica) (see the file comment) and sets h = h0 on every point,
 * z = z0, t = 0. AKT_ERR_MEMORY if a generator or the w0 block cannot be allocated. */
int dense_flow_sample(dense_flow *flow, unsigned long seed, unsigned long replica,
                      akt_error *err);

/* steps forward Euler steps of size dt with strength gamma and weight decay lambda.
 * AKT_ERR_NUMERIC (naming the time) if the training predictions become NaN/Inf. */
int dense_flow_run(dense_flow *flow, double gamma, double lambda, double dt, long steps,
                   akt_error *err);

/* Predictions f(x) = (1/gamma) <z phi(h(x))> on the columns first .. first + count - 1 of H
 * (training points are columns 0 .. P-1, the other points follow), summed pair by pair as akt
 * does, so the antithetic initial state gives exactly 0. */
void dense_flow_predict(dense_flow *flow, double gamma, size_t first, size_t count, double *f);

/* Floating-point operations of one Euler step's S x P x M product (2 S P M). */
double dense_flow_step_flops(const dense_flow *flow);

#endif
