/* parallel.c: independent jobs on the machine's cores (parallel.h). */
#include "core/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/threads.h"

/* Threads at most, whatever the machine says. */
#define PARALLEL_MAX_THREADS 64

size_t akt_cores(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (size_t)cores : 1;
}

typedef struct {
    void (*job)(void *context, size_t i);
    void *context;
    size_t count;
    atomic_size_t next;      /* the next job to take: threads take jobs as they come free */
} job_queue;

static void *take_jobs(void *argument)
{
    job_queue *queue = argument;
    for (size_t i; (i = atomic_fetch_add(&queue->next, 1)) < queue->count;)
        queue->job(queue->context, i);
    return NULL;
}

void akt_parallel_for(size_t count, size_t threads, void (*job)(void *context, size_t i),
                      void *context)
{
    job_queue queue = {job, context, count, 0};
    if (threads == 0)
        threads = akt_cores();
    if (threads > count)
        threads = count;
    if (threads > PARALLEL_MAX_THREADS)
        threads = PARALLEL_MAX_THREADS;
    if (threads <= 1) {
        take_jobs(&queue);
        return;
    }
    akt_blas_threads_parallel_begin();
    pthread_t started[PARALLEL_MAX_THREADS];
    size_t running = 0;
    for (size_t t = 1; t < threads; t++)
        if (pthread_create(&started[running], NULL, take_jobs, &queue) == 0)
            running++;
    take_jobs(&queue);
    for (size_t t = 0; t < running; t++)
        pthread_join(started[t], NULL);
    akt_blas_threads_parallel_end();
}
