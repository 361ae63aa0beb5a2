/* dgemm_counter.c: the cblas_dgemm wrapper of dgemm_counter.h (linked with
 * -Wl,--wrap=cblas_dgemm, so __real_cblas_dgemm is OpenBLAS's function). Single-threaded callers
 * only: the counters are plain globals, and libakt calls BLAS from one thread. */
#include "dgemm_counter.h"

#include <cblas.h>

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

dgemm_count dgemm_counter_read(void) { return total; }

dgemm_count dgemm_counter_difference(dgemm_count b, dgemm_count a)
{
    dgemm_count d = {b.calls - a.calls, b.flops - a.flops, b.seconds - a.seconds};
    return d;
}
