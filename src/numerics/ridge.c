/* ridge.c: kernel ridge regression, f = K_cross (K + ridge I)^{-1} y.
 *
 * Every transfer regime that ends at a stationary point reduces to this (THEORY.md section 2:
 * the trained infinite network is kernel ridge regression with its adapted kernel), and the
 * readout regime with readout_decay 0 needs the minimum-norm least-squares limit, where the
 * (source-adapted) kernel is often low rank. So there are two routes:
 *   - ridge > 0: Cholesky, the fast and backward-stable solve of a positive definite system;
 *   - ridge = 0, or Cholesky refused the matrix: the symmetric eigendecomposition with the
 *     standard pseudo-inverse cut-off, so a singular matrix is never divided by. */
#include "akt/exact.h"
#include "core/util.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int akt_symmetric_eigen(double *A, size_t n, double *eigenvalues, akt_error *err)
{
    if (n == 0)
        return AKT_OK;
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n, A, (lapack_int)n,
                                     eigenvalues);
    if (info < 0)
        return akt_error_set(err, AKT_ERR_MEMORY, "eigendecomposition of a %zu x %zu matrix: "
                             "LAPACKE_dsyevd failed (info %d, out of memory?)", n, n, (int)info);
    if (info > 0)
        return akt_error_set(err, AKT_ERR_NUMERIC, "eigendecomposition of a %zu x %zu matrix did "
                             "not converge (LAPACKE_dsyevd info %d)", n, n, (int)info);
    return AKT_OK;
}

double akt_pseudo_inverse_cutoff(const double *eigenvalues, size_t n)
{
    double largest = 0.0;
    for (size_t i = 0; i < n; i++)
        largest = fmax(largest, fabs(eigenvalues[i]));
    return (double)n * DBL_EPSILON * largest;
}

/* alpha = V diag(1/e, cut to 0) V' y: the (pseudo-)inverse applied through the eigenbasis. */
static int solve_by_eigen(double *A, size_t P, const double *y, double *alpha, akt_error *err)
{
    double *eigenvalues = malloc(2 * P * sizeof *eigenvalues);
    if (!eigenvalues)
        return akt_error_set(err, AKT_ERR_MEMORY, "kernel ridge: out of memory (P = %zu)", P);
    double *coefficients = eigenvalues + P;
    int status = akt_symmetric_eigen(A, P, eigenvalues, err);
    if (status == AKT_OK) {
        double cutoff = akt_pseudo_inverse_cutoff(eigenvalues, P);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)P, (int)P, 1.0, A, (int)P, y, 1, 0.0,
                    coefficients, 1);
        for (size_t j = 0; j < P; j++)
            coefficients[j] = fabs(eigenvalues[j]) > cutoff ? coefficients[j] / eigenvalues[j] : 0.0;
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)P, (int)P, 1.0, A, (int)P, coefficients, 1,
                    0.0, alpha, 1);
    }
    free(eigenvalues);
    return status;
}

/* alpha = (K + ridge I)^{-1} y by Cholesky; returns 1 (and leaves alpha unset) when the matrix is
 * not numerically positive definite, so the caller falls back to the eigen route. */
static int solve_by_cholesky(double *A, size_t P, const double *y, double *alpha)
{
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)P, A, (lapack_int)P) != 0)
        return 1;
    memcpy(alpha, y, P * sizeof *alpha);
    if (LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', (lapack_int)P, 1, A, (lapack_int)P, alpha, 1) != 0)
        return 1;
    return akt_all_finite(alpha, P) ? 0 : 1;
}

static void copy_with_ridge(const double *K, size_t P, double ridge, double *A)
{
    memcpy(A, K, P * P * sizeof *A);
    for (size_t i = 0; i < P; i++)
        A[i * P + i] += ridge;
}

int akt_ridge_predict(const double *K, size_t P, const double *K_cross, size_t M, const double *y,
                      double ridge, double *f, akt_error *err)
{
    if (!(ridge >= 0.0) || !isfinite(ridge))
        return akt_error_set(err, ridge != ridge ? AKT_ERR_NUMERIC : AKT_ERR_INPUT,
                             "kernel ridge: ridge must be finite and >= 0 (got %g)", ridge);
    if (!akt_all_finite(K, P * P) || !akt_all_finite(K_cross, M * P) || !akt_all_finite(y, P))
        return akt_error_set(err, AKT_ERR_NUMERIC, "kernel ridge: NaN or Inf in the kernel or labels");
    if (P == 0) {
        for (size_t i = 0; i < M; i++)
            f[i] = 0.0;
        return AKT_OK;
    }
    double *A = malloc((P * P + P) * sizeof *A);
    if (!A)
        return akt_error_set(err, AKT_ERR_MEMORY, "kernel ridge: out of memory (P = %zu)", P);
    double *alpha = A + P * P;
    int status = AKT_OK;
    copy_with_ridge(K, P, ridge, A);
    if (ridge == 0.0 || solve_by_cholesky(A, P, y, alpha) != 0) {
        copy_with_ridge(K, P, ridge, A); /* dpotrf overwrote part of it */
        status = solve_by_eigen(A, P, y, alpha, err);
    }
    if (status == AKT_OK && M > 0)
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)M, (int)P, 1.0, K_cross, (int)P, alpha, 1,
                    0.0, f, 1);
    free(A);
    if (status == AKT_OK && !akt_all_finite(f, M))
        status = akt_error_set(err, AKT_ERR_NUMERIC, "kernel ridge: non-finite prediction");
    return status;
}
