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
#include "akt/core.h"
#include "akt/random.h"

/* The spec a dataset is built from (spec.h); data.h needs only its name, so that numerics,
 * which use akt_data, never see the spec. */
struct akt_spec;

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
int akt_data_load(akt_data *data, const struct akt_spec *spec, akt_error *err);

void akt_data_free(akt_data *data);

/* Writes source_X.csv, source_y.csv, target_X.csv, target_y.csv, test_X.csv, test_y.csv and
 * (when present) source_test_X.csv, source_test_y.csv into directory (created if missing),
 * 17 significant digits, no header. Each file is written to a temporary name and renamed, so a
 * failure leaves no partial file. */
int akt_data_write_csv(const akt_data *data, const char *directory, akt_error *err);

/* The largest CSV file akt reads: 2 GiB (the whole Fashion-MNIST training set, 60000 x 784,
 * written by akt data at 17 significant digits is about 1 GB). A longer file, or a stream that
 * goes on past it, is refused naming the limit. */
#define AKT_CSV_MAX_BYTES ((size_t)2 << 30)

/* Reads a numeric CSV file (no header, comma separated, rectangular). *values is malloc'd
 * rows x cols row-major. Errors name file:line:column; a NUL byte is an error at its position
 * (CSV is text), and a file over AKT_CSV_MAX_BYTES is refused before it is parsed (a regular
 * file) or as soon as the limit is passed (a pipe or device). */
int akt_csv_read(const char *path, double **values, size_t *rows, size_t *cols, akt_error *err);

/* Reads a gzipped IDX file (ubyte images idx3 or labels idx1). *values is malloc'd, count items
 * of item_size bytes each (item_size = rows*cols for images, 1 for labels). */
int akt_idx_read(const char *path, unsigned char **values, size_t *count, size_t *item_size,
                 akt_error *err);

/* The Gram kernel C(x, x') = x.x'/D between two sets of rows: out is a_rows x b_rows. */
int akt_gram(const double *a, size_t a_rows, const double *b, size_t b_rows, size_t dim, double *out);

/* ---- Building blocks of akt_data_load (one per task), exposed for tests and other modules. */

/* Purposes of the data's random streams; each purpose is its own gsl_rng_mt19937 stream seeded
 * by akt_data_stream_seed(spec->seed, purpose), so e.g. target.samples never moves the source
 * data. The values are part of the documented draw order (data.c, README.md): never renumber. */
typedef enum {
    AKT_STREAM_TEACHERS = 0,
    AKT_STREAM_SOURCE_INPUTS = 1,
    AKT_STREAM_SOURCE_NOISE = 2,
    AKT_STREAM_TARGET_INPUTS = 3,
    AKT_STREAM_TARGET_NOISE = 4,
    AKT_STREAM_TEST_INPUTS = 5,
    AKT_STREAM_SOURCE_TEST_INPUTS = 6,
    AKT_STREAM_SOURCE_SUBSAMPLE = 7,      /* fashion_mnist: shuffles of the matching images */
    AKT_STREAM_TARGET_SUBSAMPLE = 8,
    AKT_STREAM_TEST_SUBSAMPLE = 9,
    AKT_STREAM_SOURCE_TEST_SUBSAMPLE = 10
} akt_data_stream;

/* The 32-bit seed of a stream: splitmix64(seed * 64 + purpose), high and low halves xor-ed
 * (GSL's mt19937 keeps 32 bits of its seed). */
/* akt_data_stream_seed(seed, purpose) is in random.h. */

/* The source and target teacher vectors of a synthetic spec (each spec->data.dim doubles):
 * |beta|^2 = D and cos(beta_source, beta_target) = data.alignment. */
int akt_data_teachers(const struct akt_spec *spec, double *beta_source, double *beta_target,
                      akt_error *err);

/* Allocates a rows x cols split (zeroed); rows may be 0. */
int akt_split_alloc(akt_split *split, size_t rows, size_t cols, akt_error *err);

/* The cosine between the minimum-norm least-squares linear fits beta = X^+ y of two splits of
 * the same width (the measured alignment of real and CSV data). */
int akt_data_fit_alignment(const akt_split *source, const akt_split *target, double *cosine,
                           akt_error *err);

/* akt_data_load for task fashion_mnist (idx.c) and task csv (csv.c). */
int akt_data_load_fashion_mnist(akt_data *data, const struct akt_spec *spec, akt_error *err);
int akt_data_load_csv(akt_data *data, const struct akt_spec *spec, akt_error *err);

#endif
