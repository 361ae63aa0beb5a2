/* data.c: the four splits a solve sees, and the synthetic teachers that label them.
 *
 * Everything random about the data is here, so that "data depends on seed alone" (DESIGN.md,
 * Decisions: Randomness) is checkable in one place. Fashion-MNIST lives in idx.c, CSV in csv.c;
 * both use the stream seeds (random.h) and the splits and alignment of split.c.
 *
 * Generator and draw order (copied into README.md):
 *   - Every purpose has its own GSL gsl_rng_mt19937 stream, seeded with
 *         z = splitmix64(seed * 64 + purpose),   stream seed = (z ^ (z >> 32)) & 0xffffffff
 *     where splitmix64(z) = z += 0x9e3779b97f4a7c15; z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
 *     z = (z ^ (z >> 27)) * 0x94d049bb133111eb; return z ^ (z >> 31)   (all mod 2^64).
 *     GSL's mt19937 keeps 32 bits of its seed (a stream seed of 0 becomes GSL's 4357).
 *     Purposes: 0 teachers, 1 source inputs, 2 source noise, 3 target inputs, 4 target noise,
 *     5 test inputs, 6 source_test inputs; Fashion-MNIST: 7 source, 8 target, 9 test,
 *     10 source_test subsampling shuffles.
 *   - Gaussians are gsl_ran_gaussian_ziggurat(rng, 1.0).
 *   - Teachers (stream 0): D Gaussians -> u1 = g/|g|; then D Gaussians -> v, Gram-Schmidt
 *     against u1 twice, u_perp = v/|v|. beta_source = sqrt(D) u1,
 *     beta_target = sqrt(D) (alpha u1 + sqrt(1 - alpha^2) u_perp).
 *   - Inputs x ~ N(0, I_D) of a split: row by row, within a row column by column.
 *   - Labels: s = beta.x / sqrt(D); linear task y = s; polynomial task y = sum_k c_k He_k(s)
 *     (probabilists' Hermite). source and target (training) labels add noise * g, one Gaussian
 *     per row in row order from their noise stream; test (target teacher) and source_test
 *     (source teacher, test.samples rows) labels are noise-free.
 *   - Fashion-MNIST: the indices of the images of a split's class pair, in file order, are
 *     shuffled by gsl_ran_shuffle with the split's subsampling stream; the split takes the first
 *     `samples` of them (the target skips images the source took). */
#include "akt/data.h"
#include "akt/spec.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* gsl_randist.h pulls in GSL's own cblas.h, whose enums clash with OpenBLAS's (already
 * included above and the one we link); its include guard keeps GSL's copy out. */
#define __GSL_CBLAS_H__
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sf_hermite.h>

static gsl_rng *stream_new(unsigned long seed, unsigned purpose, akt_error *err)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng) {
        akt_error_set(err, AKT_ERR_MEMORY, "out of memory allocating a random-number stream");
        return NULL;
    }
    gsl_rng_set(rng, akt_data_stream_seed(seed, purpose));
    return rng;
}

/* ---- Synthetic teachers */

static void draw_gaussians(gsl_rng *rng, double *values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        values[i] = gsl_ran_gaussian_ziggurat(rng, 1.0);
}

static void normalise(double *v, size_t dim)
{
    cblas_dscal((int)dim, 1.0 / cblas_dnrm2((int)dim, v, 1), v, 1);
}

int akt_data_teachers(const akt_spec *spec, double *beta_source, double *beta_target, akt_error *err)
{
    if (spec->data.dim < 1 || spec->data.dim > INT32_MAX)
        return akt_error_set(err, AKT_ERR_INPUT, "data.dim = %ld: must be a positive integer", spec->data.dim);
    double alpha = spec->data.alignment;
    if (!(alpha >= -1.0 && alpha <= 1.0))
        return akt_error_set(err, AKT_ERR_INPUT, "data.alignment = %g: must lie in [-1, 1]", alpha);
    size_t dim = (size_t)spec->data.dim;
    double *u1 = beta_source, *u_perp = beta_target; /* built in place */
    gsl_rng *rng = stream_new(spec->seed, AKT_STREAM_TEACHERS, err);
    if (!rng)
        return err ? err->status : AKT_ERR_MEMORY;
    draw_gaussians(rng, u1, dim);
    draw_gaussians(rng, u_perp, dim);
    gsl_rng_free(rng);
    normalise(u1, dim);
    /* One Gram-Schmidt pass leaves a component of order eps * |v| along u1; the second pass
     * removes it to rounding, which is what makes the realised cosine exact to ~1e-16. With
     * D = 1 there is no orthogonal direction and only alpha = +-1 is representable. */
    for (int pass = 0; pass < 2 && dim > 1; pass++)
        cblas_daxpy((int)dim, -cblas_ddot((int)dim, u1, 1, u_perp, 1), u1, 1, u_perp, 1);
    if (dim > 1)
        normalise(u_perp, dim);
    else
        u_perp[0] = 0.0;
    double root_dim = sqrt((double)dim), orthogonal = sqrt(1.0 - alpha * alpha);
    for (size_t j = 0; j < dim; j++) {
        double along = u1[j];
        beta_target[j] = root_dim * (alpha * along + orthogonal * u_perp[j]);
        beta_source[j] = root_dim * along;
    }
    return AKT_OK;
}

/* y = teacher(beta.x / sqrt(D)) for every row; noise added by the caller. */
static void teacher_labels(const akt_spec *spec, const double *beta, akt_split *split)
{
    int rows = (int)split->rows, dim = (int)split->cols;
    if (rows == 0)
        return;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, rows, dim, 1.0 / sqrt((double)dim), split->x, dim,
                beta, 1, 0.0, split->y, 1);
    if (spec->data.task != AKT_TASK_POLYNOMIAL)
        return;
    for (int i = 0; i < rows; i++)
        split->y[i] = gsl_sf_hermite_prob_series(AKT_HERMITE_MAX, split->y[i], spec->data.hermite);
}

static int draw_teacher_split(akt_split *split, long samples, const akt_spec *spec, const double *beta,
                              unsigned input_stream, int noise_stream, const char *name, akt_error *err)
{
    if (samples < 0)
        return akt_error_set(err, AKT_ERR_INPUT, "data.%s.samples = %ld: must not be negative", name, samples);
    size_t dim = (size_t)spec->data.dim;
    int status = akt_split_alloc(split, (size_t)samples, dim, err);
    if (status)
        return status;
    gsl_rng *rng = stream_new(spec->seed, input_stream, err);
    if (!rng)
        return AKT_ERR_MEMORY;
    draw_gaussians(rng, split->x, split->rows * dim);
    gsl_rng_free(rng);
    teacher_labels(spec, beta, split);
    if (noise_stream < 0)
        return AKT_OK;
    if (!(spec->data.noise >= 0.0))
        return akt_error_set(err, AKT_ERR_INPUT, "data.noise = %g: must not be negative", spec->data.noise);
    rng = stream_new(spec->seed, (unsigned)noise_stream, err);
    if (!rng)
        return AKT_ERR_MEMORY;
    for (size_t i = 0; i < split->rows; i++)
        split->y[i] += spec->data.noise * gsl_ran_gaussian_ziggurat(rng, 1.0);
    gsl_rng_free(rng);
    return AKT_OK;
}

static int load_synthetic(akt_data *data, const akt_spec *spec, akt_error *err)
{
    if (spec->data.dim < 1 || spec->data.dim > INT32_MAX)
        return akt_error_set(err, AKT_ERR_INPUT, "data.dim = %ld: must be a positive integer", spec->data.dim);
    size_t dim = (size_t)spec->data.dim;
    double *betas = malloc(2 * dim * sizeof *betas);
    if (!betas)
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory allocating the teachers (D = %zu)", dim);
    double *beta_source = betas, *beta_target = betas + dim;
    int status = akt_data_teachers(spec, beta_source, beta_target, err);
    if (!status)
        status = draw_teacher_split(&data->source, spec->data.source.samples, spec, beta_source,
                                    AKT_STREAM_SOURCE_INPUTS, AKT_STREAM_SOURCE_NOISE, "source", err);
    if (!status)
        status = draw_teacher_split(&data->target, spec->data.target.samples, spec, beta_target,
                                    AKT_STREAM_TARGET_INPUTS, AKT_STREAM_TARGET_NOISE, "target", err);
    if (!status)
        status = draw_teacher_split(&data->test, spec->data.test.samples, spec, beta_target,
                                    AKT_STREAM_TEST_INPUTS, -1, "test", err);
    if (!status)
        status = draw_teacher_split(&data->source_test, spec->data.test.samples, spec, beta_source,
                                    AKT_STREAM_SOURCE_TEST_INPUTS, -1, "test", err);
    if (!status) {
        data->dim = dim;
        data->alignment = cblas_ddot((int)dim, beta_source, 1, beta_target, 1) /
                          (cblas_dnrm2((int)dim, beta_source, 1) * cblas_dnrm2((int)dim, beta_target, 1));
    }
    free(betas);
    return status;
}

/* ---- Measured alignment of real and CSV data */

/* ---- Entry points */

int akt_data_load(akt_data *data, const akt_spec *spec, akt_error *err)
{
    memset(data, 0, sizeof *data);
    int status;
    switch (spec->data.task) {
    case AKT_TASK_LINEAR:
    case AKT_TASK_POLYNOMIAL: status = load_synthetic(data, spec, err); break;
    case AKT_TASK_FASHION_MNIST: status = akt_data_load_fashion_mnist(data, spec, err); break;
    case AKT_TASK_CSV: status = akt_data_load_csv(data, spec, err); break;
    default: status = akt_error_set(err, AKT_ERR_INPUT, "data.task: unknown task %d", (int)spec->data.task);
    }
    if (status)
        akt_data_free(data);
    return status;
}
