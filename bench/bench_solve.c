/* bench_solve.c: what a user waits for, next to what the hardware can do, measured in one run.
 *
 * Usage: bench_solve [--smoke] [--repeats R]
 * Prints one Markdown table row per case: the median wall time of R repeats of akt_solve (or of
 * the finite-width protocol), the peak resident memory (getrusage), and for the population
 * method the work rate of its dominant S x P x P products next to the DGEMM rate OpenBLAS reaches
 * on the same machine in the same run (the hardware limit for this work). --smoke runs tiny
 * sizes so CI can check that the program works; timings are not asserted anywhere. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>

#include "akt/compare.h"
#include "akt/data.h"
#include "akt/spec.h"
#include "akt/transfer.h"

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double peak_rss_mib(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_maxrss / 1024.0; /* Linux reports KiB */
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *values, int n)
{
    qsort(values, (size_t)n, sizeof *values, compare_doubles);
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

/* GFLOP/s of C = A B' with A: rows x inner, B: cols x inner (the shape of h = h0 + C a). */
static double dgemm_gflops(int rows, int cols, int inner, int repeats)
{
    double *a = malloc((size_t)rows * inner * sizeof *a);
    double *b = malloc((size_t)cols * inner * sizeof *b);
    double *c = malloc((size_t)rows * cols * sizeof *c);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return NAN;
    }
    for (size_t i = 0; i < (size_t)rows * inner; i++)
        a[i] = sin((double)i);
    for (size_t i = 0; i < (size_t)cols * inner; i++)
        b[i] = cos((double)i);
    double times[16];
    for (int r = 0; r < repeats; r++) {
        double start = now_seconds();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, inner, 1.0, a, inner, b,
                    inner, 0.0, c, cols);
        times[r] = now_seconds() - start;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * rows * cols * inner / median(times, repeats) / 1e9;
}

typedef struct {
    const char *name;
    const char *yaml;
    const char *overrides[4];
} bench_case;

static int run_case(const bench_case *bench, int repeats)
{
    size_t count = 0;
    while (count < 4 && bench->overrides[count])
        count++;
    akt_spec spec;
    akt_data data;
    akt_error err = {0};
    if (akt_spec_load_string(&spec, bench->yaml, bench->name, ".", bench->overrides, count,
                             &err) != AKT_OK ||
        akt_data_load(&data, &spec, &err) != AKT_OK) {
        fprintf(stderr, "%s: %s\n", bench->name, err.message);
        return 1;
    }
    double times[16];
    akt_solution solution = {0};
    for (int r = 0; r < repeats; r++) {
        double start = now_seconds();
        if (akt_solve(&spec, &data, &solution, &err) != AKT_OK) {
            fprintf(stderr, "%s: %s\n", bench->name, err.message);
            return 1;
        }
        times[r] = now_seconds() - start;
    }
    long iterations = 0;
    for (size_t k = 0; k < solution.count; k++)
        iterations += solution.results[k].iterations;
    printf("| %s | %s | %.3f | %ld | %.0f |\n", bench->name,
           akt_method_name(solution.results[0].method), median(times, repeats), iterations,
           peak_rss_mib());
    fflush(stdout);
    akt_data_free(&data);
    akt_spec_free(&spec);
    return 0;
}

static const char quickstart_like[] =
    "data: {task: linear, dim: 50, alignment: 0.5, noise: 0.1, source: {samples: 200},\n"
    "       target: {samples: 25}, test: {samples: 2000}}\n"
    "network: {activation: linear}\n"
    "source: {gamma: 1.0, weight_decay: 0.05, time: 20}\n"
    "target: {elastic: 0.5, readout_decay: 0.01, time: 20}\n"
    "solver: {method: exact}\n";

static const char relu_problem[] =
    "data: {task: polynomial, dim: 16, alignment: 0.6, noise: 0.1, hermite: {1: 1.0, 2: 0.5},\n"
    "       source: {samples: 128}, target: {samples: 32}, test: {samples: 2000}}\n"
    "network: {activation: relu}\n"
    "source: {gamma: 1.0, weight_decay: 0.05, time: 20}\n"
    "target: {elastic: 0.5, readout_decay: 0.1, time: 20}\n"
    "solver: {method: population, neurons: 8192, replicas: 4, step_tolerance: 1.0e-2}\n";

static const char relu_converge[] =
    "data: {task: polynomial, dim: 16, alignment: 0.6, noise: 0.1, hermite: {1: 1.0, 2: 0.5},\n"
    "       source: {samples: 128}, target: {samples: 32}, test: {samples: 2000}}\n"
    "network: {activation: relu}\n"
    "source: {gamma: 1.0, weight_decay: 0.05, time: converge}\n"
    "target: {regimes: [scratch, readout], readout_decay: 0.1, time: converge}\n"
    "solver: {method: convex}\n";

int main(int argc, char **argv)
{
    int smoke = 0, repeats = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0)
            smoke = 1;
        else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc)
            repeats = atoi(argv[++i]);
    }
    if (repeats < 1 || repeats > 16)
        repeats = 3;
    if (smoke)
        repeats = 1;

    int S = smoke ? 512 : 8192, P = smoke ? 64 : 1000;
    printf("DGEMM (S x P x P, S = %d, P = %d): %.1f GFLOP/s (median of %d)\n\n", S, P,
           dgemm_gflops(S, P, P, smoke ? 1 : 5), smoke ? 1 : 5);
    printf("| case | method | seconds (median) | steps | peak RSS MiB |\n|---|---|---|---|---|\n");
    /* smoke: the same code paths on a few points */
    const char *smoke_population[4] = {"solver.neurons=256", "solver.replicas=2",
                                       "data.source.samples=24", "data.target.samples=8"};
    const char *smoke_convex[4] = {"data.source.samples=16", "data.target.samples=8",
                                   "data.test.samples=100", NULL};
    bench_case cases[] = {
        {"quickstart (linear, D 50, exact)", quickstart_like, {NULL}},
        {"relu D16 P1 128 P2 32, T 20, S 8192 x 4", relu_problem, {NULL}},
        {"relu D16 P1 128 P2 32, converge", relu_converge, {NULL}},
    };
    if (smoke) {
        memcpy(cases[1].overrides, smoke_population, sizeof smoke_population);
        memcpy(cases[2].overrides, smoke_convex, sizeof smoke_convex);
    }
    int failures = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        failures += run_case(&cases[k], repeats);
    return failures ? 1 : 0;
}
