/* test_fashion.c: Fashion-MNIST from the gzipped IDX files, and broken IDX files.
 *
 * The dataset's known properties (counts, 28x28, 6000/1000 images per class) and checksums of the
 * raw pixel bytes, computed independently with Python's gzip and zlib modules while writing this
 * test, pin down the reader. The splits are checked for normalisation, labels, class membership
 * (each row is matched back to a raw image of the right class), non-overlap and reproducibility.
 * Exit 77 (meson: skipped) if the dataset directory is missing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "akt/data.h"
#include "akt/spec.h"
#include "../check.h"

#define DATASET "/usr/share/datasets/fashion-mnist"
#define PIXELS 784

/* python3: gzip.open(f).read()[16:] (images) / [8:] (labels): sum of bytes, zlib.crc32. */
#define TRAIN_PIXEL_SUM 3431114169ULL
#define TRAIN_PIXEL_CRC 0xae65dccdUL
#define T10K_PIXEL_SUM 573469082ULL
#define T10K_PIXEL_CRC 0x12728439UL
#define TRAIN_LABEL_CRC 0x2ed6e46aUL
#define T10K_LABEL_CRC 0x242bc73fUL

static char temporary_directory[] = "/tmp/akt_test_fashion_XXXXXX";

static unsigned long crc_of(const unsigned char *bytes, size_t size)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (size > 0) {
        uInt chunk = size > (1u << 30) ? 1u << 30 : (uInt)size;
        crc = crc32(crc, bytes, chunk);
        bytes += chunk;
        size -= chunk;
    }
    return crc;
}

static void check_file(const char *name, size_t count, size_t item_size, unsigned long long sum,
                       unsigned long crc, size_t per_class)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", DATASET, name);
    unsigned char *values = NULL;
    size_t read_count = 0, read_size = 0;
    akt_error err = {0};
    int status = akt_idx_read(path, &values, &read_count, &read_size, &err);
    CHECK(status == AKT_OK);
    if (status) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    CHECK(read_count == count);
    CHECK(read_size == item_size);
    unsigned long long total = 0;
    size_t histogram[256] = {0};
    for (size_t i = 0; i < read_count * read_size; i++) {
        total += values[i];
        histogram[values[i]]++;
    }
    if (item_size == 1) {
        for (int c = 0; c < 10; c++)
            CHECK(histogram[c] == per_class);
    } else {
        CHECK(total == sum);
    }
    CHECK(crc_of(values, read_count * read_size) == crc);
    printf("%s: %zu x %zu, byte sum %llu, crc32 %08lx\n", name, read_count, read_size, total,
           crc_of(values, read_count * read_size));
    free(values);
}

static void fill_spec(akt_spec *spec, int s0, int s1, int t0, int t1)
{
    memset(spec, 0, sizeof *spec);
    spec->seed = 11;
    spec->data.task = AKT_TASK_FASHION_MNIST;
    spec->data.path = DATASET;
    spec->data.source.classes[0] = s0;
    spec->data.source.classes[1] = s1;
    spec->data.target.classes[0] = t0;
    spec->data.target.classes[1] = t1;
    spec->data.source.samples = 300;
    spec->data.target.samples = 40;
    spec->data.test.samples = 200;
}

typedef struct {
    unsigned char *pixels, *labels;
    size_t count;
} raw_set;

static void raw_read(raw_set *set, const char *images, const char *labels)
{
    char path[512];
    size_t size;
    akt_error err = {0};
    snprintf(path, sizeof path, "%s/%s", DATASET, images);
    CHECK(akt_idx_read(path, &set->pixels, &set->count, &size, &err) == AKT_OK);
    snprintf(path, sizeof path, "%s/%s", DATASET, labels);
    CHECK(akt_idx_read(path, &set->labels, &set->count, &size, &err) == AKT_OK);
}

/* The class of the raw image whose pixels, scaled to |x|^2 = D, equal row (to 1e-12, the
 * rounding of a 784-term normalisation); -1 if none. Scaling is recomputed here by proportion:
 * x_j / x_k = p_j / p_k for the brightest pixel k. */
static int class_of_row(const raw_set *set, const double *row)
{
    size_t brightest = 0;
    for (size_t j = 1; j < PIXELS; j++)
        if (row[j] > row[brightest])
            brightest = j;
    for (size_t i = 0; i < set->count; i++) {
        const unsigned char *p = set->pixels + i * PIXELS;
        if (p[brightest] == 0)
            continue;
        double ratio = row[brightest] / p[brightest];
        size_t j = 0;
        while (j < PIXELS && fabs(row[j] - ratio * p[j]) <= 1e-12 * row[brightest])
            j++;
        if (j == PIXELS)
            return set->labels[i];
    }
    return -1;
}

/* Rows have |x|^2 = D, labels +-1 with the classes asked for. */
static void check_split(const akt_split *split, const raw_set *set, const int *classes, size_t rows,
                        size_t matched_rows)
{
    CHECK(split->rows == rows && split->cols == PIXELS);
    double worst_norm = 0.0;
    int bad_labels = 0, bad_classes = 0, negatives = 0;
    for (size_t i = 0; i < split->rows; i++) {
        double norm2 = 0.0;
        for (size_t j = 0; j < PIXELS; j++)
            norm2 += split->x[i * PIXELS + j] * split->x[i * PIXELS + j];
        worst_norm = fmax(worst_norm, fabs(norm2 / PIXELS - 1.0));
        double y = split->y[i];
        bad_labels += y != 1.0 && y != -1.0;
        negatives += y == -1.0;
        if (i < matched_rows)
            bad_classes += class_of_row(set, split->x + i * PIXELS) != classes[y > 0 ? 1 : 0];
    }
    /* A 784-term sum of squares: relative rounding ~ 784 eps = 2e-13. */
    CHECK(worst_norm < 1e-12);
    CHECK(bad_labels == 0);
    CHECK(bad_classes == 0);
    /* Both classes present: for 40+ rows from a balanced pair, all of one class has probability
     * below 2^-39. */
    CHECK(negatives > 0 && (size_t)negatives < split->rows);
}

static int rows_shared(const akt_split *a, const akt_split *b)
{
    int shared = 0;
    for (size_t i = 0; i < a->rows; i++)
        for (size_t k = 0; k < b->rows; k++)
            shared += !memcmp(a->x + i * PIXELS, b->x + k * PIXELS, PIXELS * sizeof(double));
    return shared;
}

static int split_equal(const akt_split *a, const akt_split *b)
{
    return a->rows == b->rows && !memcmp(a->x, b->x, a->rows * a->cols * sizeof(double)) &&
           !memcmp(a->y, b->y, a->rows * sizeof(double));
}

static void test_splits(void)
{
    raw_set train, t10k;
    raw_read(&train, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
    raw_read(&t10k, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");
    akt_spec spec;
    akt_data data, again;
    akt_error err = {0};
    /* source: T-shirt (0) vs shirt (6); target: pullover (2) vs coat (4) */
    fill_spec(&spec, 0, 6, 2, 4);
    int status = akt_data_load(&data, &spec, &err);
    CHECK(status == AKT_OK);
    if (status) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    CHECK(data.dim == PIXELS);
    check_split(&data.source, &train, spec.data.source.classes, 300, 30);
    check_split(&data.target, &train, spec.data.target.classes, 40, 40);
    check_split(&data.test, &t10k, spec.data.target.classes, 200, 30);
    check_split(&data.source_test, &t10k, spec.data.source.classes, 200, 30);
    CHECK(data.alignment >= -1.0 && data.alignment <= 1.0);
    printf("classes (0,6) -> (2,4): measured alignment %.6f\n", data.alignment);
    CHECK(akt_data_load(&again, &spec, &err) == AKT_OK);
    CHECK(split_equal(&data.source, &again.source) && split_equal(&data.target, &again.target) &&
          split_equal(&data.test, &again.test) && split_equal(&data.source_test, &again.source_test));
    CHECK(data.alignment == again.alignment);
    akt_data_free(&again);
    /* Another seed draws other rows; more target samples leave the source alone. */
    spec.seed = 12;
    CHECK(akt_data_load(&again, &spec, &err) == AKT_OK);
    CHECK(memcmp(data.source.x, again.source.x, PIXELS * sizeof(double)) != 0);
    akt_data_free(&again);
    spec.seed = 11;
    spec.data.target.samples = 80;
    CHECK(akt_data_load(&again, &spec, &err) == AKT_OK);
    CHECK(split_equal(&data.source, &again.source));
    CHECK(!memcmp(data.target.x, again.target.x, 40 * PIXELS * sizeof(double)));
    akt_data_free(&again);
    akt_data_free(&data);

    /* Same pair for source and target: no shared image; flipping the target's label order
     * takes the same rows with negated labels, so the measured alignment changes sign. */
    fill_spec(&spec, 0, 6, 0, 6);
    CHECK(akt_data_load(&data, &spec, &err) == AKT_OK);
    CHECK(rows_shared(&data.source, &data.target) == 0);
    check_split(&data.target, &train, spec.data.target.classes, 40, 40);
    fill_spec(&spec, 0, 6, 6, 0);
    CHECK(akt_data_load(&again, &spec, &err) == AKT_OK);
    CHECK(!memcmp(data.target.x, again.target.x, 40 * PIXELS * sizeof(double)));
    CHECK(rows_shared(&again.source, &again.target) == 0);
    printf("classes (0,6) -> (0,6): alignment %.6f; -> (6,0): %.6f\n", data.alignment, again.alignment);
    /* The fits are the same linear solve with y negated: equal up to rounding of the SVD. */
    CHECK_ABSOLUTE(again.alignment, -data.alignment, 1e-12);
    CHECK(data.alignment > 0.0);
    akt_data_free(&again);
    akt_data_free(&data);

    /* Too many samples: the split and the available count are named. */
    fill_spec(&spec, 0, 6, 2, 4);
    spec.data.source.samples = 12001;
    CHECK(akt_data_load(&data, &spec, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "data.source.samples") && strstr(err.message, "only 12000"));
    printf("too many: %s\n", err.message);
    fill_spec(&spec, 0, 6, 6, 0);
    spec.data.source.samples = 11000;
    spec.data.target.samples = 1001;
    CHECK(akt_data_load(&data, &spec, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "data.target.samples") && strstr(err.message, "only 1000"));
    printf("too many: %s\n", err.message);
    fill_spec(&spec, 0, 6, 2, 4);
    spec.data.test.samples = 2001;
    CHECK(akt_data_load(&data, &spec, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "data.test.samples") && strstr(err.message, "only 2000"));
    free(train.pixels), free(train.labels), free(t10k.pixels), free(t10k.labels);
}

static const char *temp_path(const char *name)
{
    static char paths[4][512];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, 512, "%s/%s", temporary_directory, name);
    return path;
}

/* A copy of the dataset file cut to half its bytes. */
static void write_truncated(const char *name, const char *destination)
{
    char source[512];
    snprintf(source, sizeof source, "%s/%s", DATASET, name);
    FILE *in = fopen(source, "rb"), *out = fopen(destination, "wb");
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    rewind(in);
    char *bytes = malloc((size_t)size);
    CHECK(fread(bytes, 1, (size_t)size, in) == (size_t)size);
    fwrite(bytes, 1, (size_t)size / 2, out);
    free(bytes);
    fclose(in);
    fclose(out);
}

static void write_gz(const char *path, const unsigned char *bytes, size_t size)
{
    gzFile file = gzopen(path, "wb");
    gzwrite(file, bytes, (unsigned)size);
    gzclose(file);
}

static void expect_idx_error(const char *path, const char *words)
{
    unsigned char *values = (unsigned char *)"sentinel";
    size_t count, size;
    akt_error err = {0};
    CHECK(akt_idx_read(path, &values, &count, &size, &err) == AKT_ERR_INPUT);
    CHECK(values == NULL);
    int named = strstr(err.message, path) && strstr(err.message, words);
    CHECK(named);
    printf("%s\n", err.message);
}

static void test_broken_files(void)
{
    /* issue 17: an endless stream is refused at once (its first 4 bytes are no IDX magic) */
    expect_idx_error("/dev/zero", "wrong magic number");
    const char *truncated_labels = temp_path("train-labels-idx1-ubyte.gz");
    write_truncated("train-labels-idx1-ubyte.gz", truncated_labels);
    expect_idx_error(truncated_labels, "truncated");
    const char *truncated_images = temp_path("t10k-images-idx3-ubyte.gz");
    write_truncated("t10k-images-idx3-ubyte.gz", truncated_images);
    expect_idx_error(truncated_images, "truncated");
    /* Labels with magic 0x00000804: four dimensions, not an IDX file we read. */
    const unsigned char bad_magic[] = {0, 0, 8, 4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7};
    const char *magic_path = temp_path("magic.gz");
    write_gz(magic_path, bad_magic, sizeof bad_magic);
    expect_idx_error(magic_path, "magic");
    /* Type byte 0x0d (float) is not unsigned bytes. */
    const unsigned char float_type[] = {0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0};
    write_gz(magic_path, float_type, sizeof float_type);
    expect_idx_error(magic_path, "magic");
    /* A header declaring 3 labels followed by 2, and one followed by 4. */
    const unsigned char short_data[] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2};
    const char *short_path = temp_path("short.gz");
    write_gz(short_path, short_data, sizeof short_data);
    expect_idx_error(short_path, "truncated");
    const unsigned char long_data[] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3, 4};
    write_gz(short_path, long_data, sizeof long_data);
    expect_idx_error(short_path, "continues past");
    expect_idx_error(temp_path("absent.gz"), "No such file");

    /* Through akt_data_load: a dataset directory whose train labels are truncated. */
    const char *names[] = {"train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                           "t10k-labels-idx1-ubyte.gz"};
    for (int i = 0; i < 3; i++) {
        char source[512];
        snprintf(source, sizeof source, "%s/%s", DATASET, names[i]);
        if (i != 1)
            CHECK(symlink(source, temp_path(names[i])) == 0);
    }
    write_truncated("t10k-images-idx3-ubyte.gz", temp_path("t10k-images-idx3-ubyte.gz"));
    akt_spec spec;
    fill_spec(&spec, 0, 6, 2, 4);
    spec.data.path = temporary_directory;
    akt_data data;
    akt_error err = {0};
    CHECK(akt_data_load(&data, &spec, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "train-labels-idx1-ubyte.gz") && strstr(err.message, "truncated"));
    printf("dataset with truncated labels: %s\n", err.message);
    CHECK(data.source.x == NULL);
    /* With good labels the truncated t10k images are the next error. */
    unlink(temp_path("train-labels-idx1-ubyte.gz"));
    CHECK(symlink(DATASET "/train-labels-idx1-ubyte.gz", temp_path("train-labels-idx1-ubyte.gz")) == 0);
    CHECK(akt_data_load(&data, &spec, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "t10k-images-idx3-ubyte.gz") && strstr(err.message, "truncated"));
    const char *all[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "magic.gz",
                         "short.gz"};
    for (int i = 0; i < 6; i++)
        unlink(temp_path(all[i]));
    rmdir(temporary_directory);
}

int main(void)
{
    if (access(DATASET, R_OK) != 0) {
        printf("Fashion-MNIST not found at %s: skipped\n", DATASET);
        return 77;
    }
    if (!mkdtemp(temporary_directory)) {
        perror("mkdtemp");
        return 1;
    }
    check_file("train-images-idx3-ubyte.gz", 60000, PIXELS, TRAIN_PIXEL_SUM, TRAIN_PIXEL_CRC, 0);
    check_file("t10k-images-idx3-ubyte.gz", 10000, PIXELS, T10K_PIXEL_SUM, T10K_PIXEL_CRC, 0);
    check_file("train-labels-idx1-ubyte.gz", 60000, 1, 0, TRAIN_LABEL_CRC, 6000);
    check_file("t10k-labels-idx1-ubyte.gz", 10000, 1, 0, T10K_LABEL_CRC, 1000);
    test_splits();
    test_broken_files();
    return check_finish();
}
