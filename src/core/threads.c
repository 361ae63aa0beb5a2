/* threads.c: the BLAS thread count, chosen from problem sizes (threads.h). */
#include "core/threads.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <cblas.h> /* OpenBLAS's: openblas_set_num_threads */

int akt_blas_threads_from_environment(void)
{
    static const char *const names[] = { "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *value = getenv(names[i]);
        if (value && *value)
            return 1;
    }
    return 0;
}

int akt_blas_threads_rule(double flops, long cores)
{
    if (cores < 1)
        cores = 1;
    if (!(flops >= 2.0 * AKT_BLAS_FLOPS_PER_THREAD))
        return 1;
    double wanted = flops / AKT_BLAS_FLOPS_PER_THREAD;
    return wanted >= (double)cores ? (int)cores : (int)wanted;
}

/* Whether the user's environment decides the count: read once, when the library is loaded
 * (one_thread_at_load), before any thread of ours exists. */
static int user_decides;

static int environment_decides(void)
{
    return user_decides;
}

/* Parallel sections open (core/parallel.c): while one is, the BLAS stays on one thread. */
static atomic_int parallel_depth;
static int count_before_parallel;

void akt_blas_threads_parallel_begin(void)
{
    if (atomic_fetch_add(&parallel_depth, 1) == 0) {
        count_before_parallel = openblas_get_num_threads();
        openblas_set_num_threads(1);
    }
}

void akt_blas_threads_parallel_end(void)
{
    if (atomic_fetch_sub(&parallel_depth, 1) == 1)
        openblas_set_num_threads(count_before_parallel);
}

static long cores_online(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores;
}

int akt_blas_threads_for(double flops)
{
    if (environment_decides() || atomic_load(&parallel_depth) > 0)
        return 0;
    int threads = akt_blas_threads_rule(flops, cores_online());
    openblas_set_num_threads(threads);
    return threads;
}

void akt_blas_threads_reset(void)
{
    if (!environment_decides() && atomic_load(&parallel_depth) == 0)
        openblas_set_num_threads(1);
}

/* One thread from the start, before the first product of any caller: a library constructor,
 * run after OpenBLAS's own (libakt's objects are initialised after the libraries they use). */
__attribute__((constructor)) static void one_thread_at_load(void)
{
    user_decides = akt_blas_threads_from_environment();
    akt_blas_threads_reset();
}
