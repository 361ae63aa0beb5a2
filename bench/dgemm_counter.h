/* dgemm_counter.h: how much of a computation is matrix-product work, measured, not assumed.
 *
 * Programs linked with -Wl,--wrap=cblas_dgemm (bench/meson.build) route every cblas_dgemm call,
 * the library's included, through a wrapper that adds up the calls, their floating-point
 * operations (2 M N K each) and the wall time spent inside them, then calls OpenBLAS. A bench
 * reads the counters before and after a run: flops / wall time is the achieved rate of the hot
 * loop, time in DGEMM / wall time the share of the run that is matrix products. */
#ifndef AKT_BENCH_DGEMM_COUNTER_H
#define AKT_BENCH_DGEMM_COUNTER_H

typedef struct {
    long calls;
    double flops;    /* sum of 2 M N K */
    double seconds;  /* wall time inside cblas_dgemm */
} dgemm_count;

/* The counters so far (cumulative since the program started). */
dgemm_count dgemm_counter_read(void);

/* b - a, counter by counter. */
dgemm_count dgemm_counter_difference(dgemm_count b, dgemm_count a);

#endif
