/* dgemm_counter.c: the cblas_dgemm, cblas_dsyrk and LAPACKE_dsyevd wrappers of dgemm_counter.h
 * (linked with -Wl,--wrap=..., so __real_X is the library's function X). Single-threaded callers
 * only: the counters are plain globals, and libakt calls BLAS from one thread. */
#include "dgemm_counter.h"

#include <cblas.h>
#include <lapacke.h>

#include "bench_util.h"

void __real_cblas_dgemm(OPENBLAS_CONST enum CBLAS_ORDER order,
                        OPENBLAS_CONST enum CBLAS_TRANSPOSE trans_a,
                        OPENBLAS_CONST enum CBLAS_TRANSPOSE trans_b, OPENBLAS_CONST blasint m,
                        OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k,
                        OPENBLAS_CONST double alpha, OPENBLAS_CONST double *a,
                        OPENBLAS_CONST blasint lda, OPENBLAS_CONST double *b,
                        OPENBLAS_CONST blasint ldb, OPENBLAS_CONST double beta, double *c,
                        OPENBLAS_CONST blasint ldc);
void __wrap_cblas_dgemm(OPENBLAS_CONST enum CBLAS_ORDER order,
                        OPENBLAS_CONST enum CBLAS_TRANSPOSE trans_a,
                        OPENBLAS_CONST enum CBLAS_TRANSPOSE trans_b, OPENBLAS_CONST blasint m,
                        OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k,
                        OPENBLAS_CONST double alpha, OPENBLAS_CONST double *a,
                        OPENBLAS_CONST blasint lda, OPENBLAS_CONST double *b,
                        OPENBLAS_CONST blasint ldb, OPENBLAS_CONST double beta, double *c,
                        OPENBLAS_CONST blasint ldc);
void __real_cblas_dsyrk(OPENBLAS_CONST enum CBLAS_ORDER order,
                        OPENBLAS_CONST enum CBLAS_UPLO uplo, OPENBLAS_CONST enum CBLAS_TRANSPOSE trans,
                        OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k,
                        OPENBLAS_CONST double alpha, OPENBLAS_CONST double *a,
                        OPENBLAS_CONST blasint lda, OPENBLAS_CONST double beta, double *c,
                        OPENBLAS_CONST blasint ldc);
void __wrap_cblas_dsyrk(OPENBLAS_CONST enum CBLAS_ORDER order,
                        OPENBLAS_CONST enum CBLAS_UPLO uplo, OPENBLAS_CONST enum CBLAS_TRANSPOSE trans,
                        OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k,
                        OPENBLAS_CONST double alpha, OPENBLAS_CONST double *a,
                        OPENBLAS_CONST blasint lda, OPENBLAS_CONST double beta, double *c,
                        OPENBLAS_CONST blasint ldc);
lapack_int __real_LAPACKE_dsyevd(int layout, char jobz, char uplo, lapack_int n, double *a,
                                 lapack_int lda, double *w);
lapack_int __wrap_LAPACKE_dsyevd(int layout, char jobz, char uplo, lapack_int n, double *a,
                                 lapack_int lda, double *w);

static dgemm_count total;

void __wrap_cblas_dgemm(OPENBLAS_CONST enum CBLAS_ORDER order,
                        OPENBLAS_CONST enum CBLAS_TRANSPOSE trans_a,
                        OPENBLAS_CONST enum CBLAS_TRANSPOSE trans_b, OPENBLAS_CONST blasint m,
                        OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k,
                        OPENBLAS_CONST double alpha, OPENBLAS_CONST double *a,
                        OPENBLAS_CONST blasint lda, OPENBLAS_CONST double *b,
                        OPENBLAS_CONST blasint ldb, OPENBLAS_CONST double beta, double *c,
                        OPENBLAS_CONST blasint ldc)
{
    double start = bench_now();
    __real_cblas_dgemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    total.seconds += bench_now() - start;
    total.flops += 2.0 * (double)m * (double)n * (double)k;
    total.calls++;
}

void __wrap_cblas_dsyrk(OPENBLAS_CONST enum CBLAS_ORDER order,
                        OPENBLAS_CONST enum CBLAS_UPLO uplo, OPENBLAS_CONST enum CBLAS_TRANSPOSE trans,
                        OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k,
                        OPENBLAS_CONST double alpha, OPENBLAS_CONST double *a,
                        OPENBLAS_CONST blasint lda, OPENBLAS_CONST double beta, double *c,
                        OPENBLAS_CONST blasint ldc)
{
    double start = bench_now();
    __real_cblas_dsyrk(order, uplo, trans, n, k, alpha, a, lda, beta, c, ldc);
    total.seconds += bench_now() - start;
    /* one triangle of the N x N result: N (N + 1) / 2 dot products of length K, 2 flops each */
    total.flops += (double)n * (double)n * (double)k;
    total.calls++;
    total.syrk_calls++;
}

lapack_int __wrap_LAPACKE_dsyevd(int layout, char jobz, char uplo, lapack_int n, double *a,
                                 lapack_int lda, double *w)
{
    double start = bench_now();
    lapack_int info = __real_LAPACKE_dsyevd(layout, jobz, uplo, n, a, lda, w);
    total.eigen_seconds += bench_now() - start;
    total.eigen_calls++;
    return info;
}

dgemm_count dgemm_counter_read(void) { return total; }

dgemm_count dgemm_counter_difference(dgemm_count b, dgemm_count a)
{
    dgemm_count d = {b.calls - a.calls,           b.flops - a.flops,
                     b.seconds - a.seconds,       b.syrk_calls - a.syrk_calls,
                     b.eigen_calls - a.eigen_calls, b.eigen_seconds - a.eigen_seconds};
    return d;
}
