/* test_csv.c: CSV in and out, the csv task, and its error messages.
 *
 * Round trips are compared bitwise (17 significant digits identify every double). Every malformed
 * file is checked for its status and its FILE:LINE:COLUMN, counted by hand from the text the test
 * writes. The csv task is checked against data whose alignment is known exactly (noise-free
 * linear teachers with more samples than dimensions, so least squares recovers the teachers) and
 * against the reference problem in ../shared/reference/relu_poly. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "akt/data.h"
#include "akt/spec.h"
#include "../check.h"

static char temporary_directory[] = "/tmp/akt_test_csv_XXXXXX";

static const char *temp_path(const char *name)
{
    static char paths[8][512];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 512, "%s/%s", temporary_directory, name);
    return path;
}

static const char *write_text(const char *name, const char *text)
{
    const char *path = temp_path(name);
    FILE *file = fopen(path, "w");
    if (!file) {
        perror(path);
        exit(1);
    }
    fputs(text, file);
    fclose(file);
    return path;
}

/* Removes the files in directory (one level of subdirectories) and the directory. */
static void remove_tree(const char *directory)
{
    DIR *dir = opendir(directory);
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", directory, entry->d_name);
        struct stat info;
        if (lstat(path, &info) == 0 && S_ISDIR(info.st_mode))
            remove_tree(path);
        else
            unlink(path);
    }
    closedir(dir);
    rmdir(directory);
}

static int count_temporary_files(const char *directory)
{
    DIR *dir = opendir(directory);
    int count = 0;
    struct dirent *entry;
    while (dir && (entry = readdir(dir)))
        count += strstr(entry->d_name, ".tmp.") != NULL;
    if (dir)
        closedir(dir);
    return count;
}

static void fill_linear_spec(akt_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->seed = 3;
    spec->data.task = AKT_TASK_LINEAR;
    spec->data.dim = 8;
    spec->data.alignment = 0.3;
    spec->data.source.samples = 60;
    spec->data.target.samples = 20;
    spec->data.test.samples = 30;
}

static void set_split_files(akt_split_spec *split, const char *x, const char *y)
{
    split->x_path = (char *)x;
    split->y_path = (char *)y;
    split->present = true;
}

static void fill_csv_spec(akt_spec *spec, const char *directory, int with_source_test)
{
    memset(spec, 0, sizeof *spec);
    spec->seed = 1;
    spec->data.task = AKT_TASK_CSV;
    spec->directory = (char *)directory;
    set_split_files(&spec->data.source, "source_X.csv", "source_y.csv");
    set_split_files(&spec->data.target, "target_X.csv", "target_y.csv");
    set_split_files(&spec->data.test, "test_X.csv", "test_y.csv");
    if (with_source_test)
        set_split_files(&spec->data.source_test, "source_test_X.csv", "source_test_y.csv");
}

/* Reads directory/name and compares it bitwise with values (rows x cols). */
static int file_equals(const char *directory, const char *name, const double *values, size_t rows, size_t cols)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    double *read = NULL;
    size_t read_rows, read_cols;
    akt_error err = {0};
    int ok = akt_csv_read(path, &read, &read_rows, &read_cols, &err) == AKT_OK && read_rows == rows &&
             read_cols == cols && !memcmp(read, values, rows * cols * sizeof(double));
    if (!ok)
        fprintf(stderr, "%s: %s\n", path, err.message);
    free(read);
    return ok;
}

static int split_equal(const akt_split *a, const akt_split *b)
{
    return a->rows == b->rows && a->cols == b->cols &&
           !memcmp(a->x, b->x, a->rows * a->cols * sizeof(double)) &&
           !memcmp(a->y, b->y, a->rows * sizeof(double));
}

static void test_round_trip(void)
{
    akt_spec spec;
    fill_linear_spec(&spec);
    akt_data data;
    akt_error err = {0};
    CHECK(akt_data_load(&data, &spec, &err) == AKT_OK);
    /* Values whose shortest decimal needs all 17 digits, extremes, a subnormal and -0. */
    const double awkward[8] = {0.1, -1.0 / 3.0, 1e300, -2.2250738585072014e-308, 4.9406564584124654e-324,
                               -0.0, 123456789012345678.0, 3.141592653589793};
    memcpy(data.source.x, awkward, sizeof awkward);
    data.source.y[0] = nextafter(1.0, 2.0);
    const char *out = temp_path("written"); /* does not exist yet: akt_data_write_csv creates it */
    CHECK(akt_data_write_csv(&data, out, &err) == AKT_OK);
    CHECK(file_equals(out, "source_X.csv", data.source.x, 60, 8));
    CHECK(file_equals(out, "source_y.csv", data.source.y, 60, 1));
    CHECK(file_equals(out, "target_X.csv", data.target.x, 20, 8));
    CHECK(file_equals(out, "target_y.csv", data.target.y, 20, 1));
    CHECK(file_equals(out, "test_X.csv", data.test.x, 30, 8));
    CHECK(file_equals(out, "test_y.csv", data.test.y, 30, 1));
    CHECK(file_equals(out, "source_test_X.csv", data.source_test.x, 30, 8));
    CHECK(file_equals(out, "source_test_y.csv", data.source_test.y, 30, 1));
    CHECK(count_temporary_files(out) == 0);
    /* Writing again into the existing directory replaces the files. */
    CHECK(akt_data_write_csv(&data, out, &err) == AKT_OK);
    akt_data_free(&data);
}

/* The csv task reproduces written data, and with noise-free linear teachers and P > D its
 * measured alignment is the teacher cosine. */
static void test_csv_task(void)
{
    akt_spec spec;
    fill_linear_spec(&spec);
    akt_data original, loaded;
    akt_error err = {0};
    CHECK(akt_data_load(&original, &spec, &err) == AKT_OK);
    const char *out = temp_path("task");
    CHECK(akt_data_write_csv(&original, out, &err) == AKT_OK);
    akt_spec csv;
    fill_csv_spec(&csv, out, 1);
    int status = akt_data_load(&loaded, &csv, &err);
    CHECK(status == AKT_OK);
    if (status) {
        fprintf(stderr, "%s\n", err.message);
        akt_data_free(&original);
        return;
    }
    CHECK(loaded.dim == 8);
    CHECK(split_equal(&original.source, &loaded.source));
    CHECK(split_equal(&original.target, &loaded.target));
    CHECK(split_equal(&original.test, &loaded.test));
    CHECK(split_equal(&original.source_test, &loaded.source_test));
    /* y = X beta / sqrt(D) exactly (to rounding), so X^+ y = beta / sqrt(D): the fits differ from
     * the teachers by rounding times the condition number of X (20 x 8 Gaussian, about 5), far
     * below 1e-10. */
    printf("csv task: measured alignment %.15f, teacher cosine %.15f\n", loaded.alignment, original.alignment);
    CHECK_ABSOLUTE(loaded.alignment, original.alignment, 1e-10);
    akt_data_free(&loaded);
    /* Without source_test the split is empty. */
    fill_csv_spec(&csv, out, 0);
    CHECK(akt_data_load(&loaded, &csv, &err) == AKT_OK);
    CHECK(loaded.source_test.rows == 0);
    akt_data_free(&loaded);
    akt_data_free(&original);
}

/* akt_csv_read of text must fail with AKT_ERR_INPUT and a message containing path:where. */
static void expect_error(const char *name, const char *text, const char *where, const char *words)
{
    const char *path = write_text(name, text);
    double sentinel, *values = &sentinel; /* must come back NULL */
    size_t rows = 99, cols = 99;
    akt_error err = {0};
    char expected[600];
    snprintf(expected, sizeof expected, "%s%s", path, where);
    int status = akt_csv_read(path, &values, &rows, &cols, &err);
    CHECK(status == AKT_ERR_INPUT);
    CHECK(values == NULL);
    int named = strstr(err.message, expected) != NULL && strstr(err.message, words) != NULL;
    CHECK(named);
    if (!named || status != AKT_ERR_INPUT)
        fprintf(stderr, "  %s: got \"%s\", wanted \"%s\" and \"%s\"\n", name, err.message, expected, words);
}

static void test_read_errors(void)
{
    expect_error("short_row.csv", "1,2,3\n4,5,6\n7,8\n", ":3:4:", "ragged");
    expect_error("long_row.csv", "1,2\n3,4,5\n", ":2:5:", "ragged");
    expect_error("word.csv", "1,2\n3, abc\n", ":2:4:", "not a number");
    expect_error("suffix.csv", "1,2.5x\n", ":1:3:", "not a number");
    expect_error("empty_field.csv", "1,,2\n", ":1:3:", "empty field");
    expect_error("trailing_comma.csv", "1,2,\n", ":1:5:", "empty field");
    expect_error("nan.csv", "1,nan\n", ":1:3:", "not finite");
    expect_error("inf.csv", "1,2\n3,4\n-inf,5\n", ":3:1:", "not finite");
    expect_error("overflow.csv", "1e999\n", ":1:1:", "not finite");
    expect_error("blank_inside.csv", "1\n\n2\n", ":2:1:", "empty line");
    expect_error("empty.csv", "", ": ", "empty file");
    expect_error("blank.csv", "\n  \n", ": ", "empty file");
    /* An unreadable file: the message carries strerror. */
    double *values;
    size_t rows, cols;
    akt_error err = {0};
    const char *missing = temp_path("missing.csv");
    CHECK(akt_csv_read(missing, &values, &rows, &cols, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, missing) && strstr(err.message, "No such file or directory"));
    /* Spaces, CRLF line ends and trailing blank lines are accepted. */
    const char *loose = write_text("loose.csv", " 1 , 2.5e-1 \r\n-3,\t4\n\n");
    CHECK(akt_csv_read(loose, &values, &rows, &cols, &err) == AKT_OK);
    CHECK(rows == 2 && cols == 2);
    CHECK(values[0] == 1.0 && values[1] == 0.25 && values[2] == -3.0 && values[3] == 4.0);
    free(values);
}

/* Issue 17: a CSV file is read with its length. A NUL byte is an error at its line:column (it
 * used to end the line for strlen), and a file over AKT_CSV_MAX_BYTES is refused, a stream as
 * soon as it passes the limit. */
static void expect_bytes_error(const char *name, const char *bytes, size_t size, const char *where,
                               const char *words)
{
    const char *path = temp_path(name);
    FILE *file = fopen(path, "wb");
    CHECK(file && fwrite(bytes, 1, size, file) == size && fclose(file) == 0);
    double sentinel, *values = &sentinel;
    size_t rows, cols;
    akt_error err = {0};
    char expected[600];
    snprintf(expected, sizeof expected, "%s%s", path, where);
    CHECK(akt_csv_read(path, &values, &rows, &cols, &err) == AKT_ERR_INPUT && values == NULL);
    int named = strstr(err.message, expected) != NULL && strstr(err.message, words) != NULL;
    CHECK(named);
    if (!named)
        fprintf(stderr, "  %s: got \"%s\", wanted \"%s\" and \"%s\"\n", name, err.message, expected, words);
}

static void test_read_nul_and_size(void)
{
    expect_bytes_error("nul_middle.csv", "1,2\n3,4\0\n5,6\n", 13, ":2:4:", "NUL byte");
    expect_bytes_error("nul_field.csv", "1,2\n3,\0" "4\n", 9, ":2:3:", "NUL byte");
    expect_bytes_error("nul_first.csv", "\0" "1,2\n", 5, ":1:1:", "NUL byte");
    expect_bytes_error("nul_last_line.csv", "1,2\n\0", 5, ":2:1:", "NUL byte");
    /* A device: /dev/zero is refused at its first byte, at once. */
    double *values = NULL;
    size_t rows, cols;
    akt_error err = {0};
    CHECK(akt_csv_read("/dev/zero", &values, &rows, &cols, &err) == AKT_ERR_INPUT && values == NULL);
    CHECK(strstr(err.message, "/dev/zero:1:1: NUL byte") != NULL);
    /* A regular file one byte over the limit (sparse, so nothing is written) is refused by its size,
     * before a byte is parsed; one at the limit is read (here: its NUL bytes are found). */
    const char *big = temp_path("big.csv");
    FILE *file = fopen(big, "wb");
    CHECK(file != NULL && ftruncate(fileno(file), (off_t)AKT_CSV_MAX_BYTES + 1) == 0 && fclose(file) == 0);
    CHECK(akt_csv_read(big, &values, &rows, &cols, &err) == AKT_ERR_INPUT && values == NULL);
    CHECK(strstr(err.message, big) && strstr(err.message, "larger than 2 GiB, the limit for a CSV file"));
    CHECK(truncate(big, (off_t)AKT_CSV_MAX_BYTES) == 0);
    CHECK(akt_csv_read(big, &values, &rows, &cols, &err) == AKT_ERR_INPUT && values == NULL);
    CHECK(strstr(err.message, ":1:1: NUL byte") != NULL);
    unlink(big);
}

static void test_task_errors(void)
{
    const char *dir = temp_path("bad_task");
    mkdir(dir, 0700);
    char path[600];
    const char *files[][2] = {
        {"source_X.csv", "1,2\n3,4\n5,6\n"}, {"source_y.csv", "1\n2\n3\n"},
        {"target_X.csv", "1,2\n3,4\n"},      {"target_y.csv", "1\n2\n"},
        {"test_X.csv", "1,2\n"},             {"test_y.csv", "1\n"},
        {"wide_X.csv", "1,2,3\n"},           {"two_y.csv", "1,2\n"},
        {"short_y.csv", "1\n2\n"},
    };
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[f][0]);
        FILE *file = fopen(path, "w");
        fputs(files[f][1], file);
        fclose(file);
    }
    akt_spec spec;
    akt_data data;
    akt_error err = {0};
    fill_csv_spec(&spec, dir, 0);
    CHECK(akt_data_load(&data, &spec, &err) == AKT_OK);
    akt_data_free(&data);
    /* y with two columns */
    spec.data.test.y_path = "two_y.csv";
    CHECK(akt_data_load(&data, &spec, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "two_y.csv") && strstr(err.message, "one column"));
    printf("two-column y: %s\n", err.message);
    /* rows of x and y differ */
    spec.data.test.y_path = "test_y.csv";
    spec.data.source.y_path = "short_y.csv";
    CHECK(akt_data_load(&data, &spec, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "source_X.csv has 3 rows") && strstr(err.message, "short_y.csv has 2"));
    printf("row mismatch: %s\n", err.message);
    /* widths differ between splits: both files and both widths named */
    spec.data.source.y_path = "source_y.csv";
    spec.data.test.x_path = "wide_X.csv";
    CHECK(akt_data_load(&data, &spec, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "wide_X.csv has 3 columns") && strstr(err.message, "source_X.csv has 2"));
    printf("width mismatch: %s\n", err.message);
    CHECK(data.source.x == NULL && data.target.x == NULL);
    /* A malformed file inside the task keeps its line:column. */
    spec.data.test.x_path = "test_X.csv";
    spec.data.target.x_path = "../short_row.csv";
    CHECK(akt_data_load(&data, &spec, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "short_row.csv:3:4:") != NULL);
}

/* Failures of akt_data_write_csv: AKT_ERR_IO naming the file; earlier files stay, no temporary
 * file is left behind. */
static void test_write_errors(void)
{
    akt_spec spec;
    fill_linear_spec(&spec);
    akt_data data;
    akt_error err = {0};
    CHECK(akt_data_load(&data, &spec, &err) == AKT_OK);
    const char *not_a_directory = write_text("plain_file", "x\n");
    CHECK(akt_data_write_csv(&data, not_a_directory, &err) == AKT_ERR_IO);
    CHECK(strstr(err.message, not_a_directory) != NULL);
    /* test_X.csv is a directory, so renaming onto it fails after the source and target files. */
    const char *out = temp_path("blocked");
    char blocker[600];
    mkdir(out, 0700);
    snprintf(blocker, sizeof blocker, "%s/test_X.csv", out);
    mkdir(blocker, 0700);
    CHECK(akt_data_write_csv(&data, out, &err) == AKT_ERR_IO);
    CHECK(strstr(err.message, "test_X.csv") != NULL);
    printf("blocked write: %s\n", err.message);
    CHECK(file_equals(out, "source_X.csv", data.source.x, 60, 8));
    CHECK(file_equals(out, "target_y.csv", data.target.y, 20, 1));
    CHECK(count_temporary_files(out) == 0);
    akt_data_free(&data);
}

static void test_reference_problem(void)
{
    const char *directory = "/work/shared/reference/relu_poly";
    if (access(directory, R_OK) != 0) {
        printf("reference problem not found at %s: skipped\n", directory);
        return;
    }
    char paths[8][256];
    const char *names[8] = {"source_X.csv", "source_y.csv", "target_X.csv", "target_y.csv",
                            "test_X.csv", "test_y.csv", "source_test_X.csv", "source_test_y.csv"};
    for (int i = 0; i < 8; i++)
        snprintf(paths[i], sizeof paths[i], "%s/%s", directory, names[i]);
    akt_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.data.task = AKT_TASK_CSV;
    set_split_files(&spec.data.source, paths[0], paths[1]);
    set_split_files(&spec.data.target, paths[2], paths[3]);
    set_split_files(&spec.data.test, paths[4], paths[5]);
    set_split_files(&spec.data.source_test, paths[6], paths[7]);
    akt_data data;
    akt_error err = {0};
    int status = akt_data_load(&data, &spec, &err);
    CHECK(status == AKT_OK);
    if (status) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    CHECK(data.dim == 16);
    CHECK(data.source.rows == 128 && data.target.rows == 32 && data.test.rows == 2000 &&
          data.source_test.rows == 2000);
    CHECK(data.alignment >= -1.0 && data.alignment <= 1.0);
    printf("relu_poly: measured alignment %.6f (teacher directions at cosine 0.6)\n", data.alignment);
    akt_data_free(&data);
}

int main(void)
{
    if (!mkdtemp(temporary_directory)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_csv_task();
    test_read_errors();
    test_read_nul_and_size();
    test_task_errors();
    test_write_errors();
    test_reference_problem();
    remove_tree(temporary_directory);
    return check_finish();
}
