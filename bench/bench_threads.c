/* bench_threads.c: one population step at S neurons and P training points, on the BLAS threads
 * the library chooses (core/threads.h) or on those the environment sets (issue 17, part 4).
 *
 * Runs the source phase of a relu population with S neurons on P source points (D = 100) with
 * the adaptive integrator (the steps akt solve takes: 3 S x P x P products and a P x P
 * eigendecomposition each) for flow time --time, after a warm-up run to time 0.01, and prints
 * the wall-clock seconds per step (accepted and rejected steps cost the same) and a checksum of
 * the source-test predictions
 * (FNV-1a over their bytes), so that bench/threads.sh can show the time with one thread and with
 * the library's choice side by side, and whether the two gave the same bits. Wall clock: with
 * more than one thread the CPU time adds up the threads.
 *
 * usage: bench_threads [--neurons S] [--points P] [--time T] */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akt/data.h"
#include "akt/population.h"
#include "akt/spec.h"
#include "bench_util.h"

static int fail(const akt_error *err)
{
    fprintf(stderr, "bench_threads: %s\n", err->message);
    return 1;
}

int main(int argc, char **argv)
{
    long neurons = 8192, points = 1000;
    double time = 0.05;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--neurons"))
            neurons = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--points"))
            points = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--time"))
            time = atof(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_threads [--neurons S] [--points P] [--time T]\n");
            return 2;
        }
    }
    if (neurons < 2 || points < 1 || !(time > 0.0)) {
        fprintf(stderr, "bench_threads: need S >= 2, P >= 1, T > 0\n");
        return 2;
    }
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "seed: 1\n"
             "data: {task: polynomial, dim: 100, alignment: 0.6, noise: 0.1, hermite: {1: 1.0, 2: 0.5},\n"
             "       source: {samples: %ld}, target: {samples: 8}, test: {samples: 200}}\n"
             "network: {activation: relu}\n"
             "solver: {method: population, neurons: %ld, replicas: 1}\n", points, neurons);
    akt_spec spec;
    akt_data data;
    akt_error err = {0};
    if (akt_spec_load_string(&spec, yaml, "bench_threads", ".", NULL, 0, &err) != AKT_OK)
        return fail(&err);
    if (akt_data_load(&data, &spec, &err) != AKT_OK)
        return fail(&err);
    akt_population *pop = akt_population_alloc(&data, AKT_ACTIVATION_RELU, (size_t)neurons, &err);
    if (!pop)
        return fail(&err);
    akt_population_sample(pop, 1, 0);
    akt_population_phase phase = { .gamma = 1.0, .weight_decay = 0.05, .time = 0.01, .step_tolerance = 1e-2,
                                   .tolerance = 1e-6, .max_time = 1e6, .min_step = 1e-12 };
    akt_population_run run;
    size_t test_rows = data.source_test.rows;
    double *f = malloc(test_rows * sizeof *f);
    if (!f) {
        fprintf(stderr, "bench_threads: out of memory\n");
        return 1;
    }
    if (akt_population_run_source(pop, &phase, &run, &err) != AKT_OK) /* warm-up */
        return fail(&err);
    akt_population_sample(pop, 1, 0);
    phase.time = time;
    double start = bench_wall();
    if (akt_population_run_source(pop, &phase, &run, &err) != AKT_OK)
        return fail(&err);
    double seconds = bench_wall() - start;
    long steps = run.steps + run.rejected;
    if (akt_population_predict(pop, AKT_POINTS_SOURCE_TEST, f, &err) != AKT_OK)
        return fail(&err);
    uint64_t hash = UINT64_C(1469598103934665603);
    const unsigned char *bytes = (const unsigned char *)f;
    for (size_t i = 0; i < test_rows * sizeof *f; i++)
        hash = (hash ^ bytes[i]) * UINT64_C(1099511628211);
    printf("S %ld P %ld: %.4f s per step (%ld steps, %.3f s wall), predictions %016" PRIx64 "\n", neurons,
           points, seconds / (double)steps, steps, seconds, hash);
    free(f);
    akt_population_free(pop);
    akt_data_free(&data);
    akt_spec_free(&spec);
    return 0;
}
