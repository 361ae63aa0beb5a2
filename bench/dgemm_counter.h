/* dgemm_counter.h: how much of a computation is matrix-product work, measured, not assumed.
 *
 * Programs linked with -Wl,--wrap=cblas_dgemm,--wrap=cblas_dsyrk,--wrap=LAPACKE_dsyevd
 * (bench/meson.build) route every such call, the library's included, through wrappers that add
 * up the calls, their floating-point operations and the time spent inside them (on bench_now's
 * clock), then call OpenBLAS / LAPACKE:
 *   - cblas_dgemm: 2 M N K flops (C = A B, M x N result, inner dimension K);
 *   - cblas_dsyrk: N N K flops (the upper triangle of an N x N result C = A'A, inner K: half a
 *     DGEMM of the same shape), counted with the DGEMMs as product work;
 *   - LAPACKE_dsyevd: only its calls and time (the symmetric eigendecompositions of the
 *     population's P x P kernel, O(P^3) work that is not a matrix product; its flop count
 *     depends on the matrix and is not modelled).
 * cblas_dsymm is not wrapped: neither the library nor the benches call it (grep src bench).
 * A bench reads the counters before and after a run: product flops over the run's time is the
 * achieved rate of the hot loop, time in products (and in eigendecompositions) over the run's
 * time the share of the run that they take. */
#ifndef AKT_BENCH_DGEMM_COUNTER_H
#define AKT_BENCH_DGEMM_COUNTER_H

typedef struct {
    long calls;           /* cblas_dgemm and cblas_dsyrk calls */
    double flops;         /* sum of 2 M N K (dgemm) and N N K (dsyrk) */
    double seconds;       /* time inside them, on bench_now's clock */
    long syrk_calls;      /* the cblas_dsyrk calls among `calls` */
    long eigen_calls;     /* LAPACKE_dsyevd calls */
    double eigen_seconds; /* time inside LAPACKE_dsyevd */
} dgemm_count;

/* The counters so far (cumulative since the program started). */
dgemm_count dgemm_counter_read(void);

/* b - a, counter by counter. */
dgemm_count dgemm_counter_difference(dgemm_count b, dgemm_count a);

#endif
