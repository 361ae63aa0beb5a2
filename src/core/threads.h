/* threads.h: how many threads the BLAS runs on, chosen by the library from problem sizes.
 *
 * Internal to the library (not installed). OpenBLAS starts one thread per core and, left alone,
 * runs every mid-sized product on all of them; on a small problem the threads spend more time
 * starting, spinning and waiting for each other (much more when another job holds a core) than
 * computing: the quickstart took 4 to 13 s of wall time on a loaded 2-core machine instead of
 * 0.2 s (issue 17). So the library runs the BLAS on one thread, and a phase whose products are
 * large (akt_blas_threads_for) on more, never more than the cores.
 *
 * The choice is a function of the sizes and the number of cores only, never of the load or the
 * time: OpenBLAS's multi-threaded dgemm partitions the product differently and can change the
 * last bits of the result (measured: 1000 x 100 x 100 differs between 1 and 2 threads), so a
 * rule that looked at the load would make results irreproducible. A user's
 * OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS or OMP_NUM_THREADS decides instead: then the library
 * never changes the count. */
#ifndef AKT_CORE_THREADS_H
#define AKT_CORE_THREADS_H

/* Below this many floating-point operations per product (2 m n k for a dgemm) one thread is
 * faster than two on this kind of machine, even idle; above it, one more thread per this many
 * operations, up to the number of cores. Measured with bench/bench_threads (bench/RESULTS.md). */
#define AKT_BLAS_FLOPS_PER_THREAD 1.0e8

/* The thread count the rule gives products of `flops` operations on `cores` cores. */
int akt_blas_threads_rule(double flops, long cores);

/* Sets the BLAS thread count for what follows to akt_blas_threads_rule(flops, the cores online)
 * and returns it; returns 0 and changes nothing when the user's environment set a count. Call
 * akt_blas_threads_reset() when the large products are done. */
int akt_blas_threads_for(double flops);

/* Back to one BLAS thread (nothing when the environment set a count). The library sets one
 * thread when it is loaded, before any product. */
void akt_blas_threads_reset(void);

/* Independent jobs run in threads (core/parallel.h): between begin and end the BLAS runs on
 * one thread whatever akt_blas_threads_for is asked (the jobs already fill the cores, and a
 * count changed by one job's thread would change the others' products), and the count from
 * before is restored at the end. Nests. */
void akt_blas_threads_parallel_begin(void);
void akt_blas_threads_parallel_end(void);

/* True when OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS or OMP_NUM_THREADS is set (non-empty). */
int akt_blas_threads_from_environment(void);

#endif
