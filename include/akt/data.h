/* data.h: the points a solve sees: four splits of inputs and labels.
 *
 * Synthetic teachers (linear, Hermite polynomial) with exact cosine alignment, Fashion-MNIST
 * from the gzipped IDX files, or CSV files. Every solver and network uses exactly these rows;
 * akt_data_write_csv writes them out (DESIGN.md output contract). Inputs are stored row-major,
 * one sample a row. */
#ifndef AKT_DATA_H
#define AKT_DATA_H

#include <stddef.h>

#include "akt/error.h"
#include "akt/spec.h"

typedef struct {
    size_t rows;       /* P (samples) */
    size_t cols;       /* D */
    double *x;         /* rows x cols, row-major */
    double *y;         /* rows */
} akt_split;

typedef struct {
    size_t dim;                  /* D */
    akt_split source;            /* source training split (labels carry noise) */
    akt_split target;            /* target training split (labels carry noise) */
    akt_split test;              /* target test split (noise-free labels) */
    akt_split source_test;       /* source test split (noise-free labels); rows 0 if absent (csv) */
    double alignment;            /* synthetic: the realised teacher cosine; real/csv: the cosine of
                                    the two min-norm least-squares linear fits on training splits */
} akt_data;

/* Builds the data of a validated spec (depends on spec->seed alone; the draw order is
 * documented in README.md). On failure *data is left empty (safe to free). */
int akt_data_load(akt_data *data, const akt_spec *spec, akt_error *err);

void akt_data_free(akt_data *data);

/* Writes source_X.csv, source_y.csv, target_X.csv, target_y.csv, test_X.csv, test_y.csv and
 * (when present) source_test_X.csv, source_test_y.csv into directory (created if missing),
 * 17 significant digits, no header. Each file is written to a temporary name and renamed, so a
 * failure leaves no partial file. */
int akt_data_write_csv(const akt_data *data, const char *directory, akt_error *err);

/* Reads a numeric CSV file (no header, comma separated, rectangular). *values is malloc'd
 * rows x cols row-major. Errors name file:line:column. */
int akt_csv_read(const char *path, double **values, size_t *rows, size_t *cols, akt_error *err);

/* Reads a gzipped IDX file (ubyte images idx3 or labels idx1). *values is malloc'd, count items
 * of item_size bytes each (item_size = rows*cols for images, 1 for labels). */
int akt_idx_read(const char *path, unsigned char **values, size_t *count, size_t *item_size,
                 akt_error *err);

/* The Gram kernel C(x, x') = x.x'/D between two sets of rows: out is a_rows x b_rows. */
int akt_gram(const double *a, size_t a_rows, const double *b, size_t b_rows, size_t dim, double *out);

#endif
