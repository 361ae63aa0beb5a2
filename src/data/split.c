/* split.c: a split's storage, the least-squares alignment of two splits, and Gram matrices.
 *
 * The bottom of the data layer: the task loaders (data.c, csv.c, idx.c) build splits with
 * these, and csv and Fashion-MNIST report the measured alignment of their two tasks. */
#include "akt/data.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int akt_split_alloc(akt_split *split, size_t rows, size_t cols, akt_error *err)
{
    memset(split, 0, sizeof *split);
    if (cols != 0 && rows > SIZE_MAX / sizeof(double) / cols)
        return akt_error_set(err, AKT_ERR_MEMORY, "a %zu x %zu split does not fit in memory", rows, cols);
    /* calloc of at least one element, so that a 0-row split still has valid pointers. */
    split->x = calloc(rows * cols > 0 ? rows * cols : 1, sizeof(double));
    split->y = calloc(rows ? rows : 1, sizeof(double));
    if (!split->x || !split->y) {
        free(split->x);
        free(split->y);
        memset(split, 0, sizeof *split);
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory allocating a %zu x %zu split", rows, cols);
    }
    split->rows = rows;
    split->cols = cols;
    return AKT_OK;
}

static void split_free(akt_split *split)
{
    free(split->x);
    free(split->y);
    memset(split, 0, sizeof *split);
}

void akt_data_free(akt_data *data)
{
    if (!data)
        return;
    split_free(&data->source);
    split_free(&data->target);
    split_free(&data->test);
    split_free(&data->source_test);
    data->dim = 0;
    data->alignment = 0.0;
}

/* beta = X^+ y (minimum norm least squares) into beta (split->cols doubles). */
static int linear_fit(const akt_split *split, double *beta, const char *name, akt_error *err)
{
    size_t rows = split->rows, cols = split->cols, rhs_rows = rows > cols ? rows : cols;
    double *a = malloc(rows * cols * sizeof *a), *b = calloc(rhs_rows, sizeof *b);
    double *singular = malloc((rows < cols ? rows : cols) * sizeof *singular + sizeof(double));
    if (!a || !b || !singular) {
        free(a), free(b), free(singular);
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory fitting the %s split", name);
    }
    memcpy(a, split->x, rows * cols * sizeof *a);
    memcpy(b, split->y, rows * sizeof *b);
    /* Singular values below 1e-12 of the largest are taken as zero: data given to ~16 digits
     * cannot resolve directions weaker than that, and blank Fashion-MNIST pixels give exact
     * zeros that must not be inverted. */
    lapack_int rank = 0;
    lapack_int info = LAPACKE_dgelsd(LAPACK_ROW_MAJOR, (lapack_int)rows, (lapack_int)cols, 1, a,
                                     (lapack_int)cols, b, 1, singular, 1e-12, &rank);
    if (info == 0)
        memcpy(beta, b, cols * sizeof *beta);
    free(a), free(b), free(singular);
    if (info < 0)
        return akt_error_set(err, AKT_ERR_INPUT, "least-squares fit of the %s split: bad argument %d", name, (int)-info);
    if (info > 0)
        return akt_error_set(err, AKT_ERR_NUMERIC, "least-squares fit of the %s split: SVD did not converge", name);
    return AKT_OK;
}

int akt_data_fit_alignment(const akt_split *source, const akt_split *target, double *cosine, akt_error *err)
{
    if (source->cols != target->cols || source->cols == 0)
        return akt_error_set(err, AKT_ERR_INPUT, "alignment: the source has %zu columns, the target %zu",
                             source->cols, target->cols);
    size_t dim = source->cols;
    double *betas = malloc(2 * dim * sizeof *betas);
    if (!betas)
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory fitting the alignment");
    int status = linear_fit(source, betas, "source", err);
    if (!status)
        status = linear_fit(target, betas + dim, "target", err);
    if (!status) {
        double norms = cblas_dnrm2((int)dim, betas, 1) * cblas_dnrm2((int)dim, betas + dim, 1);
        if (norms > 0.0 && isfinite(norms))
            *cosine = cblas_ddot((int)dim, betas, 1, betas + dim, 1) / norms;
        else
            status = akt_error_set(err, AKT_ERR_INPUT, "alignment: the %s labels have no linear fit "
                                   "(least-squares coefficients are all zero)",
                                   cblas_dnrm2((int)dim, betas, 1) > 0.0 ? "target" : "source");
    }
    free(betas);
    return status;
}

int akt_gram(const double *a, size_t a_rows, const double *b, size_t b_rows, size_t dim, double *out)
{
    if (dim == 0 || dim > INT32_MAX || a_rows > INT32_MAX || b_rows > INT32_MAX)
        return AKT_ERR_INPUT;
    if (a_rows == 0 || b_rows == 0)
        return AKT_OK;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)a_rows, (int)b_rows, (int)dim,
                1.0 / (double)dim, a, (int)dim, b, (int)dim, 0.0, out, (int)b_rows);
    return AKT_OK;
}
