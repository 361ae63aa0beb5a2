/* parallel.h: independent jobs on the machine's cores.
 *
 * Replicas of a population and seeds of finite-width networks are independent computations;
 * running them at once is how a solve uses both cores of a small machine. While jobs run in
 * threads, OpenBLAS is held to one thread (its own threads would compete with the jobs for the
 * same cores), and restored afterwards. Results must not depend on the thread count: callers
 * give each job its own output slot and combine the slots in order. */
#ifndef AKT_CORE_PARALLEL_H
#define AKT_CORE_PARALLEL_H

#include <stddef.h>

/* Cores online (at least 1). */
size_t akt_cores(void);

/* Runs job(context, i) for i = 0 .. count - 1 on at most `threads` threads (0: one per core),
 * the calling thread among them; returns when every job is done. A thread that cannot be
 * started leaves its jobs to the others. */
void akt_parallel_for(size_t count, size_t threads, void (*job)(void *context, size_t i),
                      void *context);

#endif
