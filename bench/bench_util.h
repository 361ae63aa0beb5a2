/* bench_util.h: the measuring instruments every bench program shares: a clock, medians, peak
 * resident memory per phase, the DGEMM rate OpenBLAS reaches on this machine, and the machine
 * description printed at the top of each result file.
 *
 * The clock is the process's CPU time by default: the benchmark machine is shared and loaded, so
 * wall time measures the other jobs as much as ours, while the CPU time of a single-threaded run
 * (OPENBLAS_NUM_THREADS=1) is the wall time the same run takes on an idle core. With more
 * OpenBLAS threads CPU time adds up the threads (and their spinning), so use the wall clock
 * there, on an idle machine. */
#ifndef AKT_BENCH_UTIL_H
#define AKT_BENCH_UTIL_H

#include <stdbool.h>
#include <stdio.h>

typedef enum { BENCH_CLOCK_CPU, BENCH_CLOCK_WALL } bench_clock;

/* Chooses the clock of bench_now (default BENCH_CLOCK_CPU); "cpu" or "wall". */
bool bench_set_clock(const char *name);
const char *bench_clock_name(void);

/* Seconds on the chosen clock (differences only are meaningful). */
double bench_now(void);

/* Monotonic wall-clock seconds, whatever the chosen clock. */
double bench_wall(void);

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
 * the clock, load average, date, and the git commit of the source tree if given (may be NULL). */
void bench_print_machine(FILE *out, const char *commit);

/* Parses a comma-separated list of positive integers into values (at most capacity). */
bool bench_parse_list(const char *text, long *values, size_t capacity, size_t *count);

#endif
