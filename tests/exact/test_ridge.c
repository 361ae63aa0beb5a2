/* test_ridge.c: akt_ridge_predict against independent computations.
 *
 * - ridge > 0 (Cholesky route) and an indefinite K + ridge I (the eigen fallback, which must
 *   then invert exactly) against a GSL LU solve of (K + ridge I) alpha = y;
 * - ridge = 0 on the rank-one kernel K = a a' (cross kernel phi a'): the minimum-norm
 *   least-squares fit in the one feature a has the closed form f(x) = phi(x) (a.y)/(a.a), and a
 *   plain inverse would blow up;
 * - NaN input is a numerical error. */
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>

#include "../check.h"
#include "akt/exact.h"

#define P 10
#define M 7
#define FEATURES 14

/* K = F F' / FEATURES (PSD, full rank since FEATURES > P), K_cross = G F' / FEATURES. */
static void random_kernels(gsl_rng *rng, double *K, double *K_cross)
{
    double F[P * FEATURES], G[M * FEATURES];
    for (size_t i = 0; i < P * FEATURES; i++)
        F[i] = gsl_ran_gaussian(rng, 1.0);
    for (size_t i = 0; i < M * FEATURES; i++)
        G[i] = gsl_ran_gaussian(rng, 1.0);
    for (size_t i = 0; i < P; i++)
        for (size_t j = 0; j < P; j++) {
            double sum = 0.0;
            for (size_t k = 0; k < FEATURES; k++)
                sum += F[i * FEATURES + k] * F[j * FEATURES + k];
            K[i * P + j] = sum / FEATURES;
        }
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < P; j++) {
            double sum = 0.0;
            for (size_t k = 0; k < FEATURES; k++)
                sum += G[i * FEATURES + k] * F[j * FEATURES + k];
            K_cross[i * P + j] = sum / FEATURES;
        }
}

/* f = K_cross (K + ridge I)^{-1} y by LU decomposition (GSL), independent of LAPACK. */
static void lu_reference(const double *K, const double *K_cross, const double *y, double ridge,
                         double *f)
{
    gsl_matrix *A = gsl_matrix_alloc(P, P);
    gsl_permutation *perm = gsl_permutation_alloc(P);
    gsl_vector *alpha = gsl_vector_alloc(P);
    for (size_t i = 0; i < P; i++)
        for (size_t j = 0; j < P; j++)
            gsl_matrix_set(A, i, j, K[i * P + j] + (i == j ? ridge : 0.0));
    gsl_vector_const_view b = gsl_vector_const_view_array(y, P);
    int sign;
    gsl_linalg_LU_decomp(A, perm, &sign);
    gsl_linalg_LU_solve(A, perm, &b.vector, alpha);
    for (size_t i = 0; i < M; i++) {
        f[i] = 0.0;
        for (size_t j = 0; j < P; j++)
            f[i] += K_cross[i * P + j] * gsl_vector_get(alpha, j);
    }
    gsl_vector_free(alpha);
    gsl_permutation_free(perm);
    gsl_matrix_free(A);
}

static void test_against_lu(gsl_rng *rng)
{
    double K[P * P], K_cross[M * P], y[P], f[M], reference[M];
    akt_error err = {0};
    random_kernels(rng, K, K_cross);
    for (size_t i = 0; i < P; i++)
        y[i] = gsl_ran_gaussian(rng, 1.0);
    const double ridges[] = {1e-3, 0.1, 2.0};
    for (size_t r = 0; r < sizeof ridges / sizeof ridges[0]; r++) {
        CHECK(akt_ridge_predict(K, P, K_cross, M, y, ridges[r], f, &err) == AKT_OK);
        lu_reference(K, K_cross, y, ridges[r], reference);
        double distance = check_relative_distance(f, reference, M);
        printf("ridge %g: relative distance to LU %.3g\n", ridges[r], distance);
        CHECK(distance < 1e-10);
    }
    /* K - 0.6 I + 0.1 I is indefinite (K has eigenvalues below 0.5): Cholesky refuses it, and the
     * eigen route, whose eigenvalues are all far from the cut-off, must invert it exactly. */
    for (size_t i = 0; i < P; i++)
        K[i * P + i] -= 0.6;
    CHECK(akt_ridge_predict(K, P, K_cross, M, y, 0.1, f, &err) == AKT_OK);
    lu_reference(K, K_cross, y, 0.1, reference);
    double distance = check_relative_distance(f, reference, M);
    printf("indefinite fallback: relative distance to LU %.3g\n", distance);
    CHECK(distance < 1e-10);
}

static void test_rank_one_min_norm(gsl_rng *rng)
{
    double a[P], phi[M], y[P], K[P * P], K_cross[M * P], f[M];
    akt_error err = {0};
    for (size_t i = 0; i < P; i++) {
        a[i] = gsl_ran_gaussian(rng, 1.0);
        y[i] = gsl_ran_gaussian(rng, 1.0);
    }
    for (size_t i = 0; i < M; i++)
        phi[i] = gsl_ran_gaussian(rng, 1.0);
    double a_y = 0.0, a_a = 0.0;
    for (size_t i = 0; i < P; i++) {
        a_y += a[i] * y[i];
        a_a += a[i] * a[i];
        for (size_t j = 0; j < P; j++)
            K[i * P + j] = a[i] * a[j];
    }
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < P; j++)
            K_cross[i * P + j] = phi[i] * a[j];
    CHECK(akt_ridge_predict(K, P, K_cross, M, y, 0.0, f, &err) == AKT_OK);
    double worst = 0.0;
    for (size_t i = 0; i < M; i++) {
        double expected = phi[i] * a_y / a_a;
        worst = fmax(worst, fabs(f[i] - expected) / fabs(expected));
        CHECK(isfinite(f[i]));
        CHECK_RELATIVE(f[i], expected, 1e-10);
    }
    printf("rank-one min-norm: worst relative error %.3g\n", worst);
}

static void test_errors(void)
{
    double K[4] = {1, 0, 0, 1}, y[2] = {1, NAN}, f[2];
    akt_error err = {0};
    CHECK(akt_ridge_predict(K, 2, K, 2, y, 0.1, f, &err) == AKT_ERR_NUMERIC);
    y[1] = 0.0;
    CHECK(akt_ridge_predict(K, 2, K, 2, y, -1.0, f, &err) == AKT_ERR_INPUT);
}

int main(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    test_against_lu(rng);
    test_rank_one_min_norm(rng);
    test_errors();
    gsl_rng_free(rng);
    return check_finish();
}
