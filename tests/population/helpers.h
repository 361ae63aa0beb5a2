/* helpers.h: problems for the population tests, built by hand (no YAML parser, no data module
 * beyond its structs), and a tiny CSV reader for the reference problem. */
#ifndef AKT_TEST_POPULATION_HELPERS_H
#define AKT_TEST_POPULATION_HELPERS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "akt/data.h"
#include "akt/population.h"
#include "akt/solve.h"
#include "akt/spec.h"

/* The method name of the hand-built specs (a spec's strings are owned by it; these specs are
 * never freed, so one static buffer serves them all). */
static char test_population_method[] = "population";

/* A spec with every field the population reads set (THEORY.md protocol defaults). */
static inline void test_spec(akt_spec *spec, akt_activation activation)
{
    memset(spec, 0, sizeof *spec);
    spec->seed = 1;
    spec->network.activation = activation;
    spec->network.hidden_scale = spec->network.readout_scale = 1.0;
    spec->source.gamma = 1.0;
    spec->source.weight_decay = 0.05;
    spec->source.time = 5.0;
    spec->target.regimes[AKT_REGIME_SOURCE] = true;
    spec->target.gamma = 1.0;
    spec->target.weight_decay = 0.05;
    spec->target.elastic = 0.5;
    spec->target.readout_decay = 0.1;
    spec->target.readout_init = AKT_READOUT_ZERO;
    spec->target.time = 5.0;
    spec->solver.method = test_population_method;
    spec->solver.neurons = 1024;
    spec->solver.replicas = 4;
    spec->solver.step_tolerance = 1e-4;
    spec->solver.tolerance = 1e-6;
    spec->solver.max_time = 1e5;
    spec->solver.min_step = 1e-9;
}

/* The unstable invariant state of THEORY.md section 4 (the trap), without its seed: a linear
 * joint phase whose neurons leave the plateau only through the remainder's growth. Shared by
 * test_stability (seed 3) and test_stability_rates (a family of seeds). */
#define TEST_TRAP_YAML                                                                          \
    "data:\n"                                                                                   \
    "  task: linear\n"                                                                          \
    "  dim: 20\n"                                                                               \
    "  alignment: 0\n"                                                                          \
    "  noise: 0\n"                                                                              \
    "  source: {samples: 100}\n"                                                                \
    "  target: {samples: 40}\n"                                                                 \
    "  test: {samples: 500}\n"                                                                  \
    "network: {activation: linear}\n"                                                           \
    "source: {gamma: 1.0, weight_decay: 0.05, time: 400}\n"                                     \
    "target:\n"                                                                                 \
    "  regimes: [joint]\n"                                                                      \
    "  gamma: 1.0\n"                                                                            \
    "  weight_decay: 0.01\n"                                                                    \
    "  elastic: 1.0\n"                                                                          \
    "  readout_init: zero\n"                                                                    \
    "  time: 50\n"                                                                              \
    "solver: {method: population, neurons: 128, replicas: 1}\n"

/* The source and target phases of a loaded spec, as the population method makes them. */
static inline void test_spec_phases(const akt_spec *spec, akt_population_phase *source,
                                    akt_population_phase *target)
{
    akt_population_phase s = {spec->source.gamma, spec->source.weight_decay, 0.0,
                              spec->source.time, spec->solver.step_tolerance,
                              spec->solver.tolerance, spec->solver.max_time,
                              spec->solver.min_step};
    akt_population_phase t = {spec->target.gamma, spec->target.weight_decay,
                              spec->target.elastic, spec->target.time,
                              spec->solver.step_tolerance, spec->solver.tolerance,
                              spec->solver.max_time, spec->solver.min_step};
    *source = s;
    *target = t;
}

/* The population method over the wanted regimes (wanted[AKT_REGIME_SOURCE] ignored: the source
 * is always solved), through the solve layer like any spec naming method population. */
static inline int population_transfer(const akt_spec *spec, const akt_data *data,
                                      const bool wanted[AKT_REGIME_COUNT], akt_solution *solution,
                                      akt_error *err)
{
    akt_spec chosen = *spec;
    chosen.solver.method = test_population_method;
    for (int r = AKT_REGIME_SCRATCH; r < AKT_REGIME_COUNT; r++)
        chosen.target.regimes[r] = wanted[r];
    return akt_solve(&chosen, data, solution, err);
}

static inline void fill_split(akt_split *split, size_t rows, size_t D, const double *beta_a,
                              const double *beta_b, double mix, double noise, gsl_rng *rng)
{
    split->rows = rows;
    split->cols = D;
    split->x = malloc(rows * D * sizeof *split->x);
    split->y = malloc(rows * sizeof *split->y);
    for (size_t i = 0; i < rows; i++) {
        double s = 0.0;
        for (size_t j = 0; j < D; j++) {
            double x = gsl_ran_gaussian(rng, 1.0);
            split->x[i * D + j] = x;
            s += (mix * beta_a[j] + sqrt(1.0 - mix * mix) * beta_b[j]) * x;
        }
        s /= sqrt((double)D);
        split->y[i] = s + (noise > 0 ? gsl_ran_gaussian(rng, noise) : 0.0);
    }
}

/* Linear teachers: source beta1, target 0.6 beta1 + 0.8 beta_perp (beta's of norm^2 ~ D),
 * label noise 0.1 on the training splits. */
static inline void test_data_linear(akt_data *data, size_t D, size_t P1, size_t P2, size_t Mt,
                                    size_t Ms, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double *b1 = malloc(D * sizeof *b1), *b2 = malloc(D * sizeof *b2);
    for (size_t j = 0; j < D; j++) {
        b1[j] = gsl_ran_gaussian(rng, 1.0);
        b2[j] = gsl_ran_gaussian(rng, 1.0);
    }
    memset(data, 0, sizeof *data);
    data->dim = D;
    fill_split(&data->source, P1, D, b1, b2, 1.0, 0.1, rng);
    fill_split(&data->target, P2, D, b1, b2, 0.6, 0.1, rng);
    fill_split(&data->test, Mt, D, b1, b2, 0.6, 0.0, rng);
    fill_split(&data->source_test, Ms, D, b1, b2, 1.0, 0.0, rng);
    free(b1);
    free(b2);
    gsl_rng_free(rng);
}

static inline void test_data_free(akt_data *data)
{
    akt_split *splits[] = {&data->source, &data->target, &data->test, &data->source_test};
    for (int i = 0; i < 4; i++) {
        free(splits[i]->x);
        free(splits[i]->y);
    }
}

/* Reads a comma-separated numeric file; returns the values (malloc'd) and its shape. */
static inline double *test_read_csv(const char *path, size_t *rows, size_t *cols)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return NULL;
    size_t capacity = 1024, count = 0, r = 0, c = 0, line_cols = 0;
    double *values = malloc(capacity * sizeof *values);
    char line[1 << 16];
    while (fgets(line, sizeof line, file)) {
        if (line[0] == '\n' || line[0] == '\0')
            continue;
        line_cols = 0;
        for (char *p = line, *end; ; p = end + 1) {
            double v = strtod(p, &end);
            if (end == p)
                break;
            if (count == capacity)
                values = realloc(values, (capacity *= 2) * sizeof *values);
            values[count++] = v;
            line_cols++;
            if (*end != ',')
                break;
        }
        c = line_cols;
        r++;
    }
    fclose(file);
    *rows = r;
    *cols = c;
    return values;
}

static inline int test_read_split(akt_split *split, const char *dir, const char *name)
{
    char path[4096];
    size_t rows, cols, yrows, ycols;
    snprintf(path, sizeof path, "%s/%s_X.csv", dir, name);
    split->x = test_read_csv(path, &rows, &cols);
    snprintf(path, sizeof path, "%s/%s_y.csv", dir, name);
    split->y = test_read_csv(path, &yrows, &ycols);
    if (!split->x || !split->y || yrows != rows || ycols != 1)
        return -1;
    split->rows = rows;
    split->cols = cols;
    return 0;
}

/* The relu_poly reference data (directory from AKT_REFERENCE_DIR). */
static inline int test_data_reference(akt_data *data)
{
    const char *dir = getenv("AKT_REFERENCE_DIR");
    if (!dir)
        dir = "/work/shared/reference/relu_poly";
    memset(data, 0, sizeof *data);
    if (test_read_split(&data->source, dir, "source") || test_read_split(&data->target, dir, "target") ||
        test_read_split(&data->test, dir, "test") ||
        test_read_split(&data->source_test, dir, "source_test"))
        return -1;
    data->dim = data->source.cols;
    return 0;
}

#endif
