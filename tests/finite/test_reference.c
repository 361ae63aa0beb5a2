/* test_reference.c: width-256 networks on the public reference problem (relu_poly).
 *
 * ../shared/reference/relu_poly holds fixed data files and a table of seed-mean test losses of
 * independent raw-weight networks trained with the same protocol (README there). Four seeds at
 * N = 256, forward Euler with the reference's dt = 0.0025, must agree with the N = 256 row within
 * 3 combined standard errors (ours over 4 seeds, the row's over 16) plus 2 percent of the value
 * (README: the allowance for the Euler bias of those runs). Seeds differ from the reference's, so
 * only the statistics can agree. Usage: test_finite_reference DIR [dt] (dt <= 0: automatic). */
#include <time.h>

#include "../check.h"
#include "finite_fixture.h"
#include "akt/compare.h"

enum { WIDTH = 256, SEEDS = 4 };

static const char *regime_names[] = {"source", "scratch", "readout", "joint"};
static const double reference_mean[] = {0.18484, 0.79647, 0.91208, 0.77144};
static const double reference_se[] = {0.00086, 0.00500, 0.01093, 0.00731};

static int read_split(const char *dir, const char *name, akt_split *split)
{
    char path_x[4096], path_y[4096];
    size_t rows, cols, y_rows, y_cols;
    akt_error err;
    snprintf(path_x, sizeof path_x, "%s/%s_X.csv", dir, name);
    snprintf(path_y, sizeof path_y, "%s/%s_y.csv", dir, name);
    if (akt_csv_read(path_x, &split->x, &rows, &cols, &err) ||
        akt_csv_read(path_y, &split->y, &y_rows, &y_cols, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    CHECK(y_rows == rows && y_cols == 1);
    split->rows = rows;
    split->cols = cols;
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/reference/relu_poly";
    double dt = argc > 2 ? atof(argv[2]) : 0.0025;
    akt_data data;
    memset(&data, 0, sizeof data);
    if (read_split(dir, "source", &data.source) || read_split(dir, "target", &data.target) ||
        read_split(dir, "test", &data.test) || read_split(dir, "source_test", &data.source_test))
        return 1;
    data.dim = data.source.cols;
    CHECK(data.dim == 16 && data.source.rows == 128 && data.target.rows == 32);
    akt_spec spec;
    make_spec(&spec); /* the reference protocol (spec.yaml there) */

    double sum[AKT_REGIME_COUNT] = {0}, sum2[AKT_REGIME_COUNT] = {0};
    double start = now();
    for (long seed = 0; seed < SEEDS; seed++) {
        akt_solution solution;
        akt_error err;
        int status = akt_finite_transfer(&spec, &data, NULL, WIDTH, seed, dt, &solution, &err);
        if (status) {
            fprintf(stderr, "%s\n", err.message);
            CHECK(status == AKT_OK);
            break;
        }
        CHECK(solution.count == AKT_REGIME_COUNT);
        for (size_t k = 0; k < solution.count; k++) {
            const akt_result *r = &solution.results[k];
            sum[r->regime] += r->test_loss;
            sum2[r->regime] += r->test_loss * r->test_loss;
            printf("  seed %ld %-8s test %.5f train %.5f steps %ld (%.2f s)\n", seed,
                   regime_names[r->regime], r->test_loss, r->train_loss, r->iterations,
                   r->seconds);
        }
    }
    printf("  width %d, %d seeds, dt %g: %.1f s in all\n", WIDTH, SEEDS, dt, now() - start);
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        double mean = sum[r] / SEEDS;
        double var = (sum2[r] - SEEDS * mean * mean) / (SEEDS - 1);
        double se = sqrt(fmax(var, 0.0) / SEEDS);
        double allowed = 3.0 * sqrt(se * se + reference_se[r] * reference_se[r]) +
                         0.02 * reference_mean[r];
        printf("  %-8s %.5f +- %.5f   reference %.5f +- %.5f   |diff| %.5f allowed %.5f\n",
               regime_names[r], mean, se, reference_mean[r], reference_se[r],
               fabs(mean - reference_mean[r]), allowed);
        CHECK_ABSOLUTE(mean, reference_mean[r], allowed);
    }
    free_data(&data);
    return check_finish();
}
