/* dgemm_counter.h: how much of a computation is matrix-product work, measured, not assumed.
 *
 * Programs linked with -Wl,--wrap=cblas_dgemm (bench/meson.build) route every cblas_dgemm call,
 * the library's included, through a wrapper that adds up the calls, their floating-point
 * operations (2 M N K each) and the time spent inside them (on bench_now's clock), then calls
 * OpenBLAS. A bench reads the counters before and after a run: flops over the run's time is the
 * achieved rate of the hot loop, time in DGEMM over the run's time the share of the run that is
 * matrix products. */
#ifndef AKT_BENCH_DGEMM_COUNTER_H
#define AKT_BENCH_DGEMM_COUNTER_H

typedef struct {
    long calls;
    double flops;    /* sum of 2 M N K */
    double seconds;  /* time inside cblas_dgemm, on bench_now's clock */
} dgemm_count;

/* The counters so far (cumulative since the program started). */
dgemm_count dgemm_counter_read(void);

/* b - a, counter by counter. */
dgemm_count dgemm_counter_difference(dgemm_count b, dgemm_count a);

#endif
