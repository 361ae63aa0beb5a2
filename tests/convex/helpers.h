/* helpers.h: small shared pieces of the convex tests (random problems, direct evaluations). */
#ifndef AKT_TEST_CONVEX_HELPERS_H
#define AKT_TEST_CONVEX_HELPERS_H

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#define __GSL_CBLAS_H__
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

static inline void gaussian_fill(gsl_rng *rng, double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = gsl_ran_gaussian_ziggurat(rng, 1.0);
}

static inline double relu_of(double a) { return a > 0.0 ? a : 0.0; }

/* |a - b| / |b| over vectors of length n. */
static inline double relative_distance(const double *a, const double *b, size_t n)
{
    double diff = 0.0, ref = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff += (a[i] - b[i]) * (a[i] - b[i]);
        ref += b[i] * b[i];
    }
    return sqrt(diff / (ref > 0.0 ? ref : 1e-300));
}

/* Direct network output sum_k c_k phi(u_k.x/sqrt(D)) with plain loops (no BLAS). */
static inline double direct_output(const double *U, const double *c, size_t K, const double *x, size_t D,
                            int is_relu)
{
    double f = 0.0;
    for (size_t k = 0; k < K; k++) {
        double a = 0.0;
        for (size_t d = 0; d < D; d++)
            a += U[k * D + d] * x[d];
        a /= sqrt((double)D);
        f += c[k] * (is_relu ? relu_of(a) : a);
    }
    return f;
}

#endif
