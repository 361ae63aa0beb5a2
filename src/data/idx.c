/* idx.c: Fashion-MNIST, from its four gzipped IDX files to the four splits of a transfer problem.
 *
 * The IDX format (as in MNIST): a big-endian header of two zero bytes, a type byte (0x08 for
 * unsigned bytes), the number of dimensions n, then n 32-bit sizes, then the data. The files are
 * read with zlib and checked in full (magic, sizes, truncation, trailing data), because a
 * silently short read would turn into plausible-looking but wrong training data.
 * Subsampling follows the draw order documented in data.c. */
#include "akt/data.h"
#include "akt/spec.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <zlib.h>

#define IDX_TYPE_UBYTE 0x08
#define IDX_MAX_DIMS 3
/* A bound on the data size (4 GiB) so that a corrupt header is refused before a huge malloc. */
#define IDX_MAX_BYTES (UINT64_C(1) << 32)
#define FASHION_CLASSES 10

/* Reads exactly size bytes, or explains (in err) why not. The bytes are part offset..offset+size
 * of an item (the header, or the data) of `whole` bytes, so that messages count the whole item. */
static int gz_read_exact_at(gzFile file, const char *path, unsigned char *buffer, size_t size,
                            size_t offset, size_t whole, const char *what, akt_error *err)
{
    size_t done = 0;
    while (done < size) {
        size_t chunk = size - done > (size_t)INT_MAX ? (size_t)INT_MAX : size - done;
        int got = gzread(file, buffer + done, (unsigned)chunk);
        if (got <= 0) {
            int zlib_status = Z_OK;
            const char *zlib_message = gzerror(file, &zlib_status);
            size_t path_length = strlen(path); /* zlib prefixes its message with the path */
            if (!strncmp(zlib_message, path, path_length) && !strncmp(zlib_message + path_length, ": ", 2))
                zlib_message += path_length + 2;
            if (got < 0 || (zlib_status != Z_OK && zlib_status != Z_STREAM_END))
                return akt_error_set(err, AKT_ERR_INPUT, "%s: truncated or corrupt gzip data: %zu of the %zu "
                                     "bytes of the %s (zlib: %s)", path, offset + done, whole, what, zlib_message);
            return akt_error_set(err, AKT_ERR_INPUT, "%s: truncated: the %s needs %zu bytes, the file has %zu",
                                 path, what, whole, offset + done);
        }
        done += (size_t)got;
    }
    return AKT_OK;
}

static int gz_read_exact(gzFile file, const char *path, unsigned char *buffer, size_t size,
                         const char *what, akt_error *err)
{
    return gz_read_exact_at(file, path, buffer, size, 0, size, what, err);
}

/* Parses the header; expected_dims 0 accepts 1 to IDX_MAX_DIMS dimensions. */
static int read_header(gzFile file, const char *path, int expected_dims, size_t *count,
                       size_t *item_size, akt_error *err)
{
    unsigned char magic[4];
    int status = gz_read_exact(file, path, magic, sizeof magic, "IDX header", err);
    if (status)
        return status;
    int dims = magic[3];
    if (magic[0] != 0 || magic[1] != 0 || magic[2] != IDX_TYPE_UBYTE || dims < 1 || dims > IDX_MAX_DIMS ||
        (expected_dims && dims != expected_dims))
        return akt_error_set(err, AKT_ERR_INPUT, "%s: wrong magic number 0x%02x%02x%02x%02x: not an IDX "
                             "file of unsigned bytes with %s dimensions (0x0000080%s)", path, magic[0],
                             magic[1], magic[2], magic[3], expected_dims == 3 ? "3" : expected_dims == 1 ? "1" : "1 to 3",
                             expected_dims == 3 ? "3" : expected_dims == 1 ? "1" : "1-3");
    uint64_t sizes[IDX_MAX_DIMS], total = 1;
    for (int d = 0; d < dims; d++) {
        unsigned char raw[4];
        status = gz_read_exact(file, path, raw, sizeof raw, "IDX header", err);
        if (status)
            return status;
        sizes[d] = (uint64_t)raw[0] << 24 | (uint64_t)raw[1] << 16 | (uint64_t)raw[2] << 8 | raw[3];
        if (sizes[d] == 0)
            return akt_error_set(err, AKT_ERR_INPUT, "%s: dimension %d of the IDX header is 0", path, d + 1);
        total *= sizes[d];
        if (total > IDX_MAX_BYTES)
            return akt_error_set(err, AKT_ERR_INPUT, "%s: the IDX header declares more than %llu bytes of data",
                                 path, (unsigned long long)IDX_MAX_BYTES);
    }
    *count = (size_t)sizes[0];
    *item_size = (size_t)(total / sizes[0]);
    return AKT_OK;
}

/* The first allocation for the data; it doubles as data actually arrive. */
#define IDX_FIRST_CHUNK ((size_t)1 << 20)

/* Reads the `total` bytes the header declares into a malloc'd *buffer. The buffer grows with
 * the data actually read, so a corrupt or hostile header that declares gigabytes in a small
 * file fails as truncated after allocating about what the file holds, not `total` up front. */
static int read_declared_data(gzFile file, const char *path, size_t total, unsigned char **buffer,
                              akt_error *err)
{
    size_t capacity = 0, done = 0;
    *buffer = NULL;
    while (done < total) {
        size_t want = capacity ? 2 * capacity : IDX_FIRST_CHUNK;
        if (want > total)
            want = total;
        unsigned char *grown = realloc(*buffer, want);
        if (!grown) {
            free(*buffer);
            *buffer = NULL;
            return akt_error_set(err, AKT_ERR_MEMORY, "%s: out of memory for %zu bytes", path, want);
        }
        *buffer = grown;
        capacity = want;
        int status = gz_read_exact_at(file, path, *buffer + done, capacity - done, done, total,
                                      "data the header declares", err);
        if (status)
            return status;
        done = capacity;
    }
    return AKT_OK;
}

/* Reads one IDX file whole; expected_dims as for read_header. */
static int idx_read(const char *path, int expected_dims, unsigned char **values, size_t *count,
                    size_t *item_size, akt_error *err)
{
    *values = NULL;
    *count = *item_size = 0;
    errno = 0;
    gzFile file = gzopen(path, "rb");
    if (!file)
        return akt_error_set(err, AKT_ERR_INPUT, "%s: cannot open: %s", path,
                             errno ? strerror(errno) : "out of memory");
    size_t items = 0, size = 0;
    int status = read_header(file, path, expected_dims, &items, &size, err);
    unsigned char *buffer = NULL;
    if (!status)
        status = read_declared_data(file, path, items * size, &buffer, err);
    if (!status) {
        unsigned char extra;
        if (gzread(file, &extra, 1) != 0)
            status = akt_error_set(err, AKT_ERR_INPUT, "%s: data continues past the %zu items of %zu byte(s) "
                                   "the IDX header declares", path, items, size);
    }
    if (gzclose(file) != Z_OK && !status)
        status = akt_error_set(err, AKT_ERR_INPUT, "%s: corrupt gzip data (error closing the stream)", path);
    if (status) {
        free(buffer);
        return status;
    }
    *values = buffer;
    *count = items;
    *item_size = size;
    return AKT_OK;
}

int akt_idx_read(const char *path, unsigned char **values, size_t *count, size_t *item_size, akt_error *err)
{
    return idx_read(path, 0, values, count, item_size, err);
}

/* ---- Fashion-MNIST splits */

typedef struct {
    char *path;              /* images file, for messages */
    unsigned char *pixels;   /* count x dim */
    unsigned char *labels;   /* count */
    size_t count, dim;
} fashion_set;

static void fashion_set_free(fashion_set *set)
{
    free(set->path);
    free(set->pixels);
    free(set->labels);
    memset(set, 0, sizeof *set);
}

static char *join_path(const char *directory, const char *name)
{
    size_t length = strlen(directory) + strlen(name) + 2;
    char *path = malloc(length);
    if (path)
        snprintf(path, length, "%s/%s", directory, name);
    return path;
}

/* Reads one images/labels pair and checks they describe the same images. */
static int fashion_set_read(fashion_set *set, const char *directory, const char *images_name,
                            const char *labels_name, akt_error *err)
{
    memset(set, 0, sizeof *set);
    set->path = join_path(directory, images_name);
    char *labels_path = join_path(directory, labels_name);
    if (!set->path || !labels_path) {
        free(labels_path);
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory");
    }
    size_t label_count = 0, label_size = 0;
    int status = idx_read(set->path, 3, &set->pixels, &set->count, &set->dim, err);
    if (!status)
        status = idx_read(labels_path, 1, &set->labels, &label_count, &label_size, err);
    if (!status && label_count != set->count)
        status = akt_error_set(err, AKT_ERR_INPUT, "%s has %zu labels but %s has %zu images", labels_path,
                               label_count, set->path, set->count);
    for (size_t i = 0; !status && i < label_count; i++)
        if (set->labels[i] >= FASHION_CLASSES)
            status = akt_error_set(err, AKT_ERR_INPUT, "%s: label %u of item %zu is not a class 0-9",
                                   labels_path, set->labels[i], i);
    free(labels_path);
    return status;
}

typedef struct {
    const char *name;        /* "source", ... for messages */
    const int *classes;      /* classes[0] -> -1, classes[1] -> +1 */
    long samples;
    unsigned stream;
} split_request;

/* Fills split with `samples` shuffled images of the class pair; used (count flags, or NULL)
 * marks images that must not be taken and, when mark_used, records the ones taken. */
static int fashion_split(akt_split *split, const fashion_set *set, const split_request *request,
                         unsigned long seed, unsigned char *used, int mark_used, akt_error *err)
{
    int a = request->classes[0], b = request->classes[1];
    if (a < 0 || a >= FASHION_CLASSES || b < 0 || b >= FASHION_CLASSES || a == b)
        return akt_error_set(err, AKT_ERR_INPUT, "data.%s.classes = [%d, %d]: two different classes 0-9",
                             request->name, a, b);
    if (request->samples < 0)
        return akt_error_set(err, AKT_ERR_INPUT, "data.%s.samples = %ld: must not be negative",
                             request->name, request->samples);
    size_t *matching = malloc(set->count * sizeof *matching), matches = 0;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!matching || !rng) {
        free(matching);
        gsl_rng_free(rng);
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory subsampling the %s split", request->name);
    }
    for (size_t i = 0; i < set->count; i++)
        if (set->labels[i] == a || set->labels[i] == b)
            matching[matches++] = i;
    gsl_rng_set(rng, akt_data_stream_seed(seed, request->stream));
    gsl_ran_shuffle(rng, matching, matches, sizeof *matching);
    gsl_rng_free(rng);
    size_t available = 0; /* compact the shuffled order to the images still free */
    for (size_t k = 0; k < matches; k++)
        if (!used || !used[matching[k]])
            matching[available++] = matching[k];
    int status = AKT_OK;
    if ((size_t)request->samples > available)
        status = akt_error_set(err, AKT_ERR_INPUT, "data.%s.samples = %ld, but %s has only %zu images of "
                               "classes %d and %d%s", request->name, request->samples, set->path, available,
                               a, b, available < matches ? " not already in the source split" : "");
    if (!status)
        status = akt_split_alloc(split, (size_t)request->samples, set->dim, err);
    for (size_t r = 0; !status && r < split->rows; r++) {
        size_t image = matching[r];
        const unsigned char *pixels = set->pixels + image * set->dim;
        double *x = split->x + r * set->dim, norm2 = 0.0;
        for (size_t j = 0; j < set->dim; j++) {
            x[j] = pixels[j] / 255.0;
            norm2 += x[j] * x[j];
        }
        if (norm2 == 0.0) {
            status = akt_error_set(err, AKT_ERR_INPUT, "%s: image %zu is blank and cannot be normalised",
                                   set->path, image);
            break;
        }
        double scale = sqrt((double)set->dim / norm2);
        for (size_t j = 0; j < set->dim; j++)
            x[j] *= scale;
        split->y[r] = set->labels[image] == a ? -1.0 : 1.0;
        if (used && mark_used)
            used[image] = 1;
    }
    free(matching);
    return status;
}

int akt_data_load_fashion_mnist(akt_data *data, const akt_spec *spec, akt_error *err)
{
    if (!spec->data.path)
        return akt_error_set(err, AKT_ERR_INPUT, "data.path: the Fashion-MNIST directory is not set");
    fashion_set train, t10k;
    memset(&t10k, 0, sizeof t10k);
    int status = fashion_set_read(&train, spec->data.path, "train-images-idx3-ubyte.gz",
                                  "train-labels-idx1-ubyte.gz", err);
    if (!status)
        status = fashion_set_read(&t10k, spec->data.path, "t10k-images-idx3-ubyte.gz",
                                  "t10k-labels-idx1-ubyte.gz", err);
    if (!status && t10k.dim != train.dim)
        status = akt_error_set(err, AKT_ERR_INPUT, "%s has images of %zu pixels but %s of %zu", t10k.path,
                               t10k.dim, train.path, train.dim);
    unsigned char *used = status ? NULL : calloc(train.count, 1);
    if (!status && !used)
        status = akt_error_set(err, AKT_ERR_MEMORY, "out of memory");
    const split_request source = {"source", spec->data.source.classes, spec->data.source.samples,
                                  AKT_STREAM_SOURCE_SUBSAMPLE};
    const split_request target = {"target", spec->data.target.classes, spec->data.target.samples,
                                  AKT_STREAM_TARGET_SUBSAMPLE};
    const split_request test = {"test", spec->data.target.classes, spec->data.test.samples,
                                AKT_STREAM_TEST_SUBSAMPLE};
    const split_request source_test = {"source_test", spec->data.source.classes, spec->data.test.samples,
                                       AKT_STREAM_SOURCE_TEST_SUBSAMPLE};
    if (!status)
        status = fashion_split(&data->source, &train, &source, spec->seed, used, 1, err);
    if (!status)
        status = fashion_split(&data->target, &train, &target, spec->seed, used, 0, err);
    if (!status)
        status = fashion_split(&data->test, &t10k, &test, spec->seed, NULL, 0, err);
    if (!status)
        status = fashion_split(&data->source_test, &t10k, &source_test, spec->seed, NULL, 0, err);
    if (!status) {
        data->dim = train.dim;
        status = akt_data_fit_alignment(&data->source, &data->target, &data->alignment, err);
    }
    free(used);
    fashion_set_free(&train);
    fashion_set_free(&t10k);
    return status;
}
