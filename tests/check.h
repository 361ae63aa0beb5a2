/* check.h: the few assertions every C test uses. A test program calls CHECK* as often as it
 * likes and ends with `return check_finish();`, which prints a summary and returns 1 if any
 * check failed (meson then reports the test as failed). */
#ifndef AKT_TEST_CHECK_H
#define AKT_TEST_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_count, check_failed;

#define CHECK(condition)                                                                      \
    do {                                                                                      \
        check_count++;                                                                        \
        if (!(condition)) {                                                                   \
            check_failed++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #condition);    \
        }                                                                                     \
    } while (0)

/* |actual - expected| <= tolerance * max(|expected|, tiny): relative error. */
#define CHECK_RELATIVE(actual, expected, tolerance)                                           \
    do {                                                                                      \
        double check_a_ = (actual), check_e_ = (expected);                                    \
        double check_scale_ = fabs(check_e_) > 1e-300 ? fabs(check_e_) : 1e-300;              \
        double check_rel_ = fabs(check_a_ - check_e_) / check_scale_;                         \
        check_count++;                                                                        \
        if (!(check_rel_ <= (tolerance))) {                                                   \
            check_failed++;                                                                   \
            fprintf(stderr, "%s:%d: %s = %.17g, expected %.17g (relative error %.3g > %.3g)\n", \
                    __FILE__, __LINE__, #actual, check_a_, check_e_, check_rel_,              \
                    (double)(tolerance));                                                     \
        }                                                                                     \
    } while (0)

/* |actual - expected| <= tolerance: absolute error. */
#define CHECK_ABSOLUTE(actual, expected, tolerance)                                           \
    do {                                                                                      \
        double check_a_ = (actual), check_e_ = (expected);                                    \
        double check_err_ = fabs(check_a_ - check_e_);                                        \
        check_count++;                                                                        \
        if (!(check_err_ <= (tolerance))) {                                                   \
            check_failed++;                                                                   \
            fprintf(stderr, "%s:%d: %s = %.17g, expected %.17g (error %.3g > %.3g)\n",       \
                    __FILE__, __LINE__, #actual, check_a_, check_e_, check_err_,              \
                    (double)(tolerance));                                                     \
        }                                                                                     \
    } while (0)

/* |a - b| / |b| over n values (Euclidean norms): the relative distance of a vector of results
 * from a reference vector. */
static inline double check_relative_distance(const double *a, const double *b, size_t n)
{
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff += (a[i] - b[i]) * (a[i] - b[i]);
        norm += b[i] * b[i];
    }
    return sqrt(diff / norm);
}

static inline int check_finish(void)
{
    printf("%d checks, %d failed\n", check_count, check_failed);
    return check_failed ? 1 : 0;
}

#endif
