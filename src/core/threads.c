/* threads.c: the BLAS thread count, chosen from problem sizes (threads.h). */
#include "core/threads.h"

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

/* -1 until the first call looks at the environment; then 1 (the user decides) or 0. */
static int user_decides = -1;

static int environment_decides(void)
{
    if (user_decides < 0)
        user_decides = akt_blas_threads_from_environment();
    return user_decides;
}

static long cores_online(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores;
}

int akt_blas_threads_for(double flops)
{
    if (environment_decides())
        return 0;
    int threads = akt_blas_threads_rule(flops, cores_online());
    openblas_set_num_threads(threads);
    return threads;
}

void akt_blas_threads_reset(void)
{
    if (!environment_decides())
        openblas_set_num_threads(1);
}

/* One thread from the start, before the first product of any caller: a library constructor,
 * run after OpenBLAS's own (libakt's objects are initialised after the libraries they use). */
__attribute__((constructor)) static void one_thread_at_load(void)
{
    akt_blas_threads_reset();
}
