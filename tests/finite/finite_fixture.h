/* finite_fixture.h: small hand-made problems for the finite-network tests (no YAML, no data
 * module): Gaussian inputs, a relu-plus-linear teacher with label noise, and a spec filled field
 * by field (memset 0, then every field akt_finite_transfer reads). */
#ifndef AKT_TEST_FINITE_FIXTURE_H
#define AKT_TEST_FINITE_FIXTURE_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#define __GSL_CBLAS_H__ /* keep GSL's cblas.h out: OpenBLAS's is the one included and linked */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "akt/data.h"
#include "akt/finite.h"
#include "akt/spec.h"

static inline void fill_gaussian(gsl_rng *rng, double *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        v[k] = gsl_ran_gaussian(rng, 1.0);
}

/* y = relu(u.x/sqrt(D)) + 0.5 u.x/sqrt(D) + noise, u a fixed random direction. */
static inline void fill_split(gsl_rng *rng, akt_split *split, size_t rows, size_t D,
                              const double *teacher, double noise)
{
    split->rows = rows;
    split->cols = D;
    split->x = malloc(rows * D * sizeof *split->x);
    split->y = malloc(rows * sizeof *split->y);
    if (!split->x || !split->y)
        abort();
    fill_gaussian(rng, split->x, rows * D);
    for (size_t mu = 0; mu < rows; mu++) {
        double s = cblas_ddot((int)D, split->x + mu * D, 1, teacher, 1) / sqrt((double)D);
        split->y[mu] = (s > 0 ? s : 0) + 0.5 * s + noise * gsl_ran_gaussian(rng, 1.0);
    }
}

static inline void make_data(akt_data *data, size_t D, size_t P1, size_t P2, size_t M,
                             unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng)
        abort();
    gsl_rng_set(rng, seed);
    double *u1 = malloc(2 * D * sizeof *u1), *u2 = u1 + D;
    if (!u1)
        abort();
    fill_gaussian(rng, u1, 2 * D);
    for (size_t k = 0; k < D; k++)
        u2[k] = 0.6 * u1[k] + 0.8 * u2[k];
    memset(data, 0, sizeof *data);
    data->dim = D;
    fill_split(rng, &data->source, P1, D, u1, 0.1);
    fill_split(rng, &data->target, P2, D, u2, 0.1);
    fill_split(rng, &data->test, M, D, u2, 0.0);
    fill_split(rng, &data->source_test, M, D, u1, 0.0);
    free(u1);
    gsl_rng_free(rng);
}

static inline void free_data(akt_data *data)
{
    akt_split *splits[] = {&data->source, &data->target, &data->test, &data->source_test};
    for (size_t k = 0; k < 4; k++) {
        free(splits[k]->x);
        free(splits[k]->y);
    }
    memset(data, 0, sizeof *data);
}

/* The reference protocol's numbers (relu, gamma 1, decay 0.05, T 20, elastic 0.5, readout
 * decay 0.1, readout_init zero), all regimes. */
static inline void make_spec(akt_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->seed = 1;
    spec->network.activation = AKT_ACTIVATION_RELU;
    spec->network.center = false;
    spec->network.hidden_scale = spec->network.readout_scale = 1.0;
    spec->source.gamma = 1.0;
    spec->source.weight_decay = 0.05;
    spec->source.time = 20.0;
    for (int r = 0; r < AKT_REGIME_COUNT; r++)
        spec->target.regimes[r] = true;
    spec->target.gamma = 1.0;
    spec->target.weight_decay = 0.05;
    spec->target.elastic = 0.5;
    spec->target.readout_decay = 0.1;
    spec->target.readout_init = AKT_READOUT_ZERO;
    spec->target.time = 20.0;
    spec->solver.min_step = 1e-9;
}

static inline double max_abs(const double *v, size_t n)
{
    double m = 0.0;
    for (size_t k = 0; k < n; k++)
        m = fmax(m, fabs(v[k]));
    return m;
}

#endif
