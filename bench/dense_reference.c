/* dense_reference.c: the dense formulation of the population flow (see dense_reference.h), the
 * baseline the benchmarks compare akt's reduced population solver with. Written the way
 * published reference code is: h on every point, a fixed forward Euler step, one S x P x M
 * product per step, no error control. */
#include "dense_reference.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <gsl/gsl_rng.h>
/* gsl_randist.h pulls in GSL's own cblas.h, whose enums clash with OpenBLAS's (included above,
 * and the one linked); its include guard keeps GSL's copy out (as in src/numerics/population.c). */
#define __GSL_CBLAS_H__
#include <gsl/gsl_randist.h>

#include "akt/data.h"
#include "akt/population.h"

#define TWO_OVER_SQRT_PI 1.12837916709551257390 /* erf'(0) */

void dense_flow_free(dense_flow *flow)
{
    double *buffers[] = {flow->X, flow->C, flow->H, flow->z, flow->F, flow->G, flow->f,
                         flow->Delta, flow->Q};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        free(buffers[i]);
    memset(flow, 0, sizeof *flow);
}

int dense_flow_alloc(dense_flow *flow, const double *X_train, const double *y, size_t P,
                     const double *X_other, size_t Mo, size_t D, akt_activation activation,
                     size_t S, akt_error *err)
{
    memset(flow, 0, sizeof *flow);
    if (S < 2 || S % 2 != 0 || P == 0 || D == 0 || S > INT32_MAX || P + Mo > INT32_MAX)
        return akt_error_set(err, AKT_ERR_INPUT, "dense reference: need an even S >= 2 and "
                             "P >= 1, D >= 1 (got S = %zu, P = %zu, D = %zu)", S, P, D);
    size_t M = P + Mo;
    flow->S = S;
    flow->D = D;
    flow->P = P;
    flow->M = M;
    flow->activation = activation;
    flow->y = y;
    flow->X = malloc(M * D * sizeof *flow->X);
    flow->C = malloc(P * M * sizeof *flow->C);
    flow->H = malloc(S * M * sizeof *flow->H);
    flow->z = malloc(S * sizeof *flow->z);
    flow->F = malloc(S * P * sizeof *flow->F);
    flow->G = malloc(S * P * sizeof *flow->G);
    flow->f = malloc(P * sizeof *flow->f);
    flow->Delta = malloc(P * sizeof *flow->Delta);
    flow->Q = malloc(S * M * sizeof *flow->Q);
    if (!flow->X || !flow->C || !flow->H || !flow->z || !flow->F || !flow->G || !flow->f ||
        !flow->Delta || !flow->Q) {
        dense_flow_free(flow);
        return akt_error_set(err, AKT_ERR_MEMORY, "dense reference: out of memory for S = %zu "
                             "neurons on %zu points (%.2f GiB)", S, M,
                             (2.0 * S * M + 2.0 * S * P) * sizeof(double) / 1073741824.0);
    }
    memcpy(flow->X, X_train, P * D * sizeof *flow->X);
    if (Mo)
        memcpy(flow->X + P * D, X_other, Mo * D * sizeof *flow->X);
    akt_gram(flow->X, P, flow->X, M, D, flow->C);
    return AKT_OK;
}

int dense_flow_sample(dense_flow *flow, unsigned long seed, unsigned long replica,
                      akt_error *err)
{
    size_t S = flow->S, pairs = S / 2, D = flow->D, M = flow->M;
    gsl_rng *hidden = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng *readout = gsl_rng_alloc(gsl_rng_mt19937);
    double *w0 = malloc(pairs * D * sizeof *w0);
    if (!hidden || !readout || !w0) {
        gsl_rng_free(hidden);
        gsl_rng_free(readout);
        free(w0);
        return akt_error_set(err, AKT_ERR_MEMORY, "dense reference: out of memory sampling");
    }
    gsl_rng_set(hidden, akt_population_stream_seed(seed, AKT_POPULATION_STREAM_HIDDEN, replica));
    gsl_rng_set(readout,
                akt_population_stream_seed(seed, AKT_POPULATION_STREAM_READOUT, replica));
    for (size_t i = 0; i < pairs * D; i++)
        w0[i] = gsl_ran_gaussian_ziggurat(hidden, 1.0);
    for (size_t k = 0; k < pairs; k++) {
        double z = gsl_ran_gaussian_ziggurat(readout, 1.0);
        flow->z[2 * k] = z;
        flow->z[2 * k + 1] = -z;
    }
    /* h0 = w0.x/sqrt(D): pair rows into Q, then each copied to both neurons of its pair. */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)pairs, (int)M, (int)D,
                1.0 / sqrt((double)D), w0, (int)D, flow->X, (int)D, 0.0, flow->Q, (int)M);
    for (size_t k = 0; k < pairs; k++) {
        memcpy(flow->H + 2 * k * M, flow->Q + k * M, M * sizeof *flow->H);
        memcpy(flow->H + (2 * k + 1) * M, flow->Q + k * M, M * sizeof *flow->H);
    }
    free(w0);
    gsl_rng_free(hidden);
    gsl_rng_free(readout);
    flow->t = 0.0;
    flow->steps = 0;
    return AKT_OK;
}

/* phi(h) into F and phi'(h) into Fp for n values. */
static void activate(akt_activation activation, const double *h, double *F, double *Fp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (activation) {
        case AKT_ACTIVATION_RELU:
            F[i] = h[i] > 0.0 ? h[i] : 0.0;
            Fp[i] = h[i] > 0.0 ? 1.0 : 0.0;
            break;
        case AKT_ACTIVATION_TANH:
            F[i] = tanh(h[i]);
            Fp[i] = 1.0 - F[i] * F[i];
            break;
        case AKT_ACTIVATION_ERF:
            F[i] = erf(h[i]);
            Fp[i] = TWO_OVER_SQRT_PI * exp(-h[i] * h[i]);
            break;
        case AKT_ACTIVATION_LINEAR:
            F[i] = h[i];
            Fp[i] = 1.0;
            break;
        }
    }
}

/* f_mu = scale sum_i z_i F_i,mu over the columns of an S x stride block, pair by pair (the two
 * neurons of an antithetic pair first), as akt's readout_average does. */
static void pair_average(const double *F, size_t stride, const double *z, size_t S, size_t count,
                         double scale, double *f)
{
    memset(f, 0, count * sizeof *f);
    for (size_t k = 0; k + 1 < S; k += 2) {
        const double *even = F + k * stride, *odd = F + (k + 1) * stride;
        for (size_t mu = 0; mu < count; mu++)
            f[mu] += z[k] * even[mu] + z[k + 1] * odd[mu];
    }
    for (size_t mu = 0; mu < count; mu++)
        f[mu] *= scale;
}

/* One forward Euler step from the current (H, z). */
static int euler_step(dense_flow *flow, double gamma, double lambda, double dt, akt_error *err)
{
    size_t S = flow->S, P = flow->P, M = flow->M;
    double *F = flow->F, *G = flow->G, *Delta = flow->Delta;
    for (size_t i = 0; i < S; i++)
        activate(flow->activation, flow->H + i * M, F + i * P, G + i * P, P);
    pair_average(F, P, flow->z, S, P, 1.0 / (gamma * (double)S), flow->f);
    for (size_t mu = 0; mu < P; mu++) {
        Delta[mu] = flow->y[mu] - flow->f[mu];
        if (!isfinite(Delta[mu]))
            return akt_error_set(err, AKT_ERR_NUMERIC, "dense reference at t = %.6g: training "
                                 "predictions are NaN/Inf (dt = %g too large?)", flow->t, dt);
    }
    /* G = gamma z Delta phi'(h_train) (z before its update: an explicit step), then z. */
    for (size_t i = 0; i < S; i++) {
        const double *Fi = F + i * P;
        double *Gi = G + i * P, coef = gamma * flow->z[i], dot = 0.0;
        for (size_t mu = 0; mu < P; mu++) {
            dot += Fi[mu] * Delta[mu];
            Gi[mu] *= coef * Delta[mu];
        }
        flow->z[i] += dt * (gamma * dot - lambda * flow->z[i]);
    }
    /* H <- (1 - dt lambda) H + dt G C(X_train, X_all): the S x P x M product. */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)S, (int)M, (int)P, dt, G, (int)P,
                flow->C, (int)M, 1.0 - dt * lambda, flow->H, (int)M);
    flow->t += dt;
    flow->steps++;
    return AKT_OK;
}

int dense_flow_run(dense_flow *flow, double gamma, double lambda, double dt, long steps,
                   akt_error *err)
{
    if (!(gamma > 0.0) || !(lambda >= 0.0) || !(dt > 0.0) || steps < 0)
        return akt_error_set(err, AKT_ERR_INPUT, "dense reference: need gamma > 0, lambda >= 0, "
                             "dt > 0, steps >= 0");
    for (long k = 0; k < steps; k++) {
        int status = euler_step(flow, gamma, lambda, dt, err);
        if (status != AKT_OK)
            return status;
    }
    return AKT_OK;
}

void dense_flow_predict(dense_flow *flow, double gamma, size_t first, size_t count, double *f)
{
    size_t S = flow->S, M = flow->M;
    double *Fq = flow->Q; /* S x count <= S x M */
    for (size_t i = 0; i < S; i++) {
        const double *h = flow->H + i * M + first;
        double *row = Fq + i * count;
        for (size_t mu = 0; mu < count; mu++) {
            double derivative;
            activate(flow->activation, h + mu, row + mu, &derivative, 1);
        }
    }
    pair_average(Fq, count, flow->z, S, count, 1.0 / (gamma * (double)S), f);
}

double dense_flow_step_flops(const dense_flow *flow)
{
    return 2.0 * (double)flow->S * (double)flow->P * (double)flow->M;
}
