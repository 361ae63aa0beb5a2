/* test_synthetic.c: the synthetic teachers (THEORY.md section 5) and their reproducibility.
 *
 * Labels are recomputed here from the returned inputs and teachers with an explicit Hermite
 * formula (not GSL's recurrence), the noise level and the degree-k transfer cosines are checked
 * against their sampling errors, and the stream layout (DESIGN.md, Decisions: Randomness) is
 * checked by changing one knob and comparing bytes. The Gram kernel is checked against a loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akt/data.h"
#include "akt/spec.h"
#include "../check.h"

static void fill_spec(akt_spec *spec, akt_task task, long dim, double alpha, double noise)
{
    memset(spec, 0, sizeof *spec);
    spec->seed = 7;
    spec->data.task = task;
    spec->data.dim = dim;
    spec->data.alignment = alpha;
    spec->data.noise = noise;
    spec->data.hermite[1] = 1.0;
    spec->data.source.samples = 60;
    spec->data.target.samples = 20;
    spec->data.test.samples = 50;
}

/* He_n(s) = n! sum_m (-1)^m s^(n-2m) / (m! (n-2m)! 2^m): the explicit sum, independent of the
 * three-term recurrence GSL uses. */
static double hermite_explicit(int n, double s)
{
    double total = 0.0;
    for (int m = 0; 2 * m <= n; m++) {
        double term = tgamma(n + 1.0) / (tgamma(m + 1.0) * tgamma(n - 2.0 * m + 1.0) * ldexp(1.0, m));
        total += (m % 2 ? -term : term) * pow(s, n - 2 * m);
    }
    return total;
}

static double dot(const double *a, const double *b, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

static double teacher(const akt_spec *spec, const double *beta, const double *x)
{
    double s = dot(beta, x, (size_t)spec->data.dim) / sqrt((double)spec->data.dim);
    if (spec->data.task == AKT_TASK_LINEAR)
        return s;
    double y = 0.0;
    for (int k = 0; k <= AKT_HERMITE_MAX; k++)
        y += spec->data.hermite[k] * hermite_explicit(k, s);
    return y;
}

static int split_equal(const akt_split *a, const akt_split *b)
{
    return a->rows == b->rows && a->cols == b->cols &&
           !memcmp(a->x, b->x, a->rows * a->cols * sizeof(double)) &&
           !memcmp(a->y, b->y, a->rows * sizeof(double));
}

static int data_equal(const akt_data *a, const akt_data *b)
{
    return split_equal(&a->source, &b->source) && split_equal(&a->target, &b->target) &&
           split_equal(&a->test, &b->test) && split_equal(&a->source_test, &b->source_test);
}

/* Largest |y - teacher(x)| over a split. */
static double label_error(const akt_spec *spec, const double *beta, const akt_split *split)
{
    double worst = 0.0;
    for (size_t i = 0; i < split->rows; i++) {
        double y = teacher(spec, beta, split->x + i * split->cols);
        double error = fabs(split->y[i] - y) / fmax(1.0, fabs(y));
        worst = fmax(worst, error);
    }
    return worst;
}

static void test_alignment_and_labels(akt_task task)
{
    const double alphas[] = {-1.0, -0.3, 0.0, 0.5, 1.0};
    for (size_t a = 0; a < sizeof alphas / sizeof *alphas; a++) {
        akt_spec spec;
        fill_spec(&spec, task, 37, alphas[a], 0.0);
        if (task == AKT_TASK_POLYNOMIAL) {
            spec.data.hermite[0] = 0.2;
            spec.data.hermite[1] = 1.0;
            spec.data.hermite[2] = 0.5;
            spec.data.hermite[3] = -0.25;
            spec.data.hermite[5] = 0.1;
            spec.data.hermite[8] = 0.01;
        }
        akt_data data;
        akt_error err = {0};
        int status = akt_data_load(&data, &spec, &err);
        CHECK(status == AKT_OK);
        if (status) {
            fprintf(stderr, "%s\n", err.message);
            continue;
        }
        double beta1[37], beta2[37];
        CHECK(akt_data_teachers(&spec, beta1, beta2, &err) == AKT_OK);
        /* Rounding in a 37-term dot product and two square roots: a few 1e-16; 1e-12 is the
         * brief's bound and leaves three orders of margin. */
        double norm1 = dot(beta1, beta1, 37), norm2 = dot(beta2, beta2, 37);
        CHECK_RELATIVE(norm1, 37.0, 1e-12);
        CHECK_RELATIVE(norm2, 37.0, 1e-12);
        CHECK_ABSOLUTE(dot(beta1, beta2, 37) / sqrt(norm1 * norm2), alphas[a], 1e-12);
        CHECK_ABSOLUTE(data.alignment, alphas[a], 1e-12);
        CHECK(data.dim == 37);
        CHECK(data.source.rows == 60 && data.target.rows == 20 && data.test.rows == 50 &&
              data.source_test.rows == 50);
        /* Noise-free: labels equal the teacher up to rounding of the polynomial (terms up to
         * |c_8 He_8(s)| ~ 1e3 at |s| ~ 4, relative rounding ~1e-15 of the sum). */
        CHECK(label_error(&spec, beta1, &data.source) < 1e-12);
        CHECK(label_error(&spec, beta2, &data.target) < 1e-12);
        CHECK(label_error(&spec, beta2, &data.test) < 1e-12);
        CHECK(label_error(&spec, beta1, &data.source_test) < 1e-12);
        akt_data_free(&data);
    }
}

/* Training labels carry N(0, noise^2); test labels do not. */
static void test_noise(void)
{
    akt_spec spec;
    fill_spec(&spec, AKT_TASK_POLYNOMIAL, 10, 0.5, 0.3);
    spec.data.hermite[2] = 0.5;
    spec.data.source.samples = 20000;
    spec.data.target.samples = 20000;
    spec.data.test.samples = 200;
    akt_data data;
    akt_error err = {0};
    CHECK(akt_data_load(&data, &spec, &err) == AKT_OK);
    double beta1[10], beta2[10];
    CHECK(akt_data_teachers(&spec, beta1, beta2, &err) == AKT_OK);
    const akt_split *splits[] = {&data.source, &data.target};
    const double *betas[] = {beta1, beta2};
    for (int s = 0; s < 2; s++) {
        size_t n = splits[s]->rows;
        double sum = 0.0, sum2 = 0.0;
        for (size_t i = 0; i < n; i++) {
            double r = splits[s]->y[i] - teacher(&spec, betas[s], splits[s]->x + i * 10);
            sum += r;
            sum2 += r * r;
        }
        double mean = sum / n, sd = sqrt((sum2 - n * mean * mean) / (n - 1));
        /* The sample sd of n Gaussians has standard error sigma / sqrt(2 (n - 1)). */
        double se = 0.3 / sqrt(2.0 * (n - 1));
        printf("noise %s: sd %.6f (requested 0.3, se %.2g)\n", s ? "target" : "source", sd, se);
        CHECK_ABSOLUTE(sd, 0.3, 4 * se);
    }
    CHECK(label_error(&spec, beta2, &data.test) < 1e-12);
    CHECK(label_error(&spec, beta1, &data.source_test) < 1e-12);
    akt_data_free(&data);
}

static void test_reproducibility(void)
{
    akt_spec spec;
    fill_spec(&spec, AKT_TASK_LINEAR, 12, 0.5, 0.1);
    akt_data first, second, other;
    akt_error err = {0};
    CHECK(akt_data_load(&first, &spec, &err) == AKT_OK);
    CHECK(akt_data_load(&second, &spec, &err) == AKT_OK);
    CHECK(data_equal(&first, &second));
    spec.seed = 8;
    CHECK(akt_data_load(&other, &spec, &err) == AKT_OK);
    CHECK(memcmp(first.source.x, other.source.x, 12 * sizeof(double)) != 0);
    CHECK(memcmp(first.target.x, other.target.x, 12 * sizeof(double)) != 0);
    CHECK(memcmp(first.test.x, other.test.x, 12 * sizeof(double)) != 0);
    CHECK_ABSOLUTE(other.alignment, 0.5, 1e-12);
    akt_data_free(&other);
    /* More target samples: source, test and source_test unchanged bitwise, and the old target
     * rows are a prefix of the new ones (row-by-row draw order). */
    spec.seed = 7;
    spec.data.target.samples = 45;
    CHECK(akt_data_load(&other, &spec, &err) == AKT_OK);
    CHECK(split_equal(&first.source, &other.source));
    CHECK(split_equal(&first.test, &other.test));
    CHECK(split_equal(&first.source_test, &other.source_test));
    CHECK(!memcmp(first.target.x, other.target.x, 20 * 12 * sizeof(double)));
    CHECK(!memcmp(first.target.y, other.target.y, 20 * sizeof(double)));
    CHECK(first.alignment == other.alignment);
    akt_data_free(&other);
    /* Noise only moves the training labels. */
    spec.data.target.samples = 20;
    spec.data.noise = 0.2;
    CHECK(akt_data_load(&other, &spec, &err) == AKT_OK);
    CHECK(!memcmp(first.source.x, other.source.x, 60 * 12 * sizeof(double)));
    CHECK(memcmp(first.source.y, other.source.y, 60 * sizeof(double)) != 0);
    CHECK(split_equal(&first.test, &other.test));
    akt_data_free(&other);
    akt_data_free(&first);
    akt_data_free(&second);
}

/* E[He_k(s1) He_k(s2)] = k! alpha^k for unit Gaussians of correlation alpha (THEORY.md 5). */
static void test_degree_transfer(void)
{
    akt_spec spec;
    fill_spec(&spec, AKT_TASK_POLYNOMIAL, 20, 0.5, 0.0);
    spec.data.source.samples = 1;
    spec.data.target.samples = 1;
    spec.data.test.samples = 200000;
    akt_data data;
    akt_error err = {0};
    CHECK(akt_data_load(&data, &spec, &err) == AKT_OK);
    double beta1[20], beta2[20];
    CHECK(akt_data_teachers(&spec, beta1, beta2, &err) == AKT_OK);
    size_t n = data.test.rows;
    for (int k = 1; k <= 3; k++) {
        double sum = 0.0, sum2 = 0.0, factorial = tgamma(k + 1.0);
        for (size_t i = 0; i < n; i++) {
            const double *x = data.test.x + i * 20;
            double s1 = dot(beta1, x, 20) / sqrt(20.0), s2 = dot(beta2, x, 20) / sqrt(20.0);
            double product = hermite_explicit(k, s1) * hermite_explicit(k, s2) / factorial;
            sum += product;
            sum2 += product * product;
        }
        double mean = sum / n, se = sqrt((sum2 / n - mean * mean) / (n - 1));
        printf("degree %d: E[He_k(s1) He_k(s2)] / k! = %.5f +- %.5f (alpha^k = %.5f)\n", k, mean, se,
               pow(0.5, k));
        CHECK_ABSOLUTE(mean, pow(0.5, k), 5 * se);
    }
    akt_data_free(&data);
}

static void test_gram(void)
{
    double a[3 * 4], b[2 * 4], out[3 * 2];
    for (int i = 0; i < 12; i++)
        a[i] = sin(1.0 + i);
    for (int i = 0; i < 8; i++)
        b[i] = cos(2.0 * i);
    CHECK(akt_gram(a, 3, b, 2, 4, out) == AKT_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            CHECK_RELATIVE(out[i * 2 + j], dot(a + 4 * i, b + 4 * j, 4) / 4.0, 1e-14);
    CHECK(akt_gram(a, 3, b, 2, 0, out) == AKT_ERR_INPUT);
}

static void test_bad_specs(void)
{
    akt_spec spec;
    akt_data data;
    akt_error err = {0};
    fill_spec(&spec, AKT_TASK_LINEAR, 5, 1.5, 0.0);
    CHECK(akt_data_load(&data, &spec, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "data.alignment") != NULL);
    fill_spec(&spec, AKT_TASK_LINEAR, 0, 0.5, 0.0);
    CHECK(akt_data_load(&data, &spec, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "data.dim") != NULL);
    CHECK(data.source.x == NULL);
    akt_data_free(&data);
}

int main(void)
{
    test_alignment_and_labels(AKT_TASK_LINEAR);
    test_alignment_and_labels(AKT_TASK_POLYNOMIAL);
    test_noise();
    test_reproducibility();
    test_degree_transfer();
    test_gram();
    test_bad_specs();
    return check_finish();
}
