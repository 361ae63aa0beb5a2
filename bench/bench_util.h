/* bench_util.h: the measuring instruments every bench program shares: a monotonic clock, medians,
 * peak resident memory per phase, the DGEMM rate OpenBLAS reaches on this machine, and the
 * machine description printed at the top of each result file. */
#ifndef AKT_BENCH_UTIL_H
#define AKT_BENCH_UTIL_H

#include <stdbool.h>
#include <stdio.h>

double bench_now(void);

/* Median of n values (sorts them in place); NAN for n = 0. */
double bench_median(double *values, int n);

/* Peak resident set size, in MiB, as getrusage reports it (the process's high-water mark). */
double bench_peak_rss_mib(void);

/* Resets the high-water mark to the current resident size (Linux: writes 5 to
 * /proc/self/clear_refs), so that the next bench_peak_rss_mib is the peak of what runs in
 * between. Returns false where that is not possible; the peak is then the process's so far. */
bool bench_reset_peak_rss(void);

/* Median GFLOP/s of `repeats` products C (rows x cols) = A (rows x inner) B (inner x cols),
 * row-major, no transposes (the shape of the population's h = h_base + c C). NAN if the operands
 * cannot be allocated. */
double bench_dgemm_gflops(long rows, long cols, long inner, int repeats);

/* One "# key: value" line each: CPU model, cores, OpenBLAS version and configuration, threads,
 * load average, date, and the git commit of the source tree if given (may be NULL). */
void bench_print_machine(FILE *out, const char *commit);

/* Parses a comma-separated list of positive integers into values (at most capacity). */
bool bench_parse_list(const char *text, long *values, size_t capacity, size_t *count);

#endif
