/* test_lazy.c: the lazy limit.
 *
 * - The closed-form kernels <phi(h) phi(h')> and <phi'(h) phi'(h')> (relu, erf, linear) agree
 *   with Monte-Carlo means over 10^6 bivariate Gaussian samples within 5 standard errors.
 * - akt_lazy_kernel_matrix equals the scalar closed form on the Gram entries, for every pair.
 * - tanh is refused with AKT_ERR_INPUT.
 * - Kernel flow: T = converge equals the minimum-norm ridge (akt_ridge_predict, ridge 0) on a
 *   rank-deficient kernel, with and without starting outputs; a finite T equals a direct
 *   numerical integration of df/dt = K(x, X)(y - f(X)) (GSL rk8pd, tolerance 1e-13) to 1e-8. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_odeiv2.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "akt/exact.h"

#define SAMPLES 1000000

static double relu(double h) { return h > 0.0 ? h : 0.0; }
static double relu_slope(double h) { return h > 0.0 ? 1.0 : 0.0; }
static double erf_slope(double h) { return 2.0 / sqrt(M_PI) * exp(-h * h); }
static double identity(double h) { return h; }
static double one(double h) { (void)h; return 1.0; }

typedef struct {
    akt_activation activation;
    const char *name;
    double (*phi)(double);
    double (*slope)(double);
} activation_case;

typedef struct {
    double mean, standard_error;
} estimate;

static estimate mean_of(const double *values, size_t n)
{
    double sum = 0.0, sum_squares = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += values[i];
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        sum_squares += (values[i] - mean) * (values[i] - mean);
    return (estimate){mean, sqrt(sum_squares / ((double)n - 1.0) / (double)n)};
}

/* Compares one closed form with its Monte-Carlo estimate; a zero standard error (the linear
 * derivative kernel is the constant 1) asks for exact equality. */
static void compare(const char *what, double exact, estimate mc)
{
    double z = fabs(exact - mc.mean) / mc.standard_error;
    printf("  %-22s exact %.6f  mc %.6f +- %.1e  (%.2f se)\n", what, exact, mc.mean,
           mc.standard_error, mc.standard_error > 0 ? z : 0.0);
    if (mc.standard_error > 0.0)
        CHECK(z < 5.0);
    else
        CHECK(exact == mc.mean);
}

static void test_closed_forms_against_monte_carlo(gsl_rng *rng)
{
    const activation_case cases[] = {
        {AKT_ACTIVATION_RELU, "relu", relu, relu_slope},
        {AKT_ACTIVATION_ERF, "erf", erf, erf_slope},
        {AKT_ACTIVATION_LINEAR, "linear", identity, one},
    };
    const double grams[][3] = {{1.0, 1.0, 0.3}, {2.0, 0.5, -0.8}, {0.7, 1.3, 0.9}};
    double *products = malloc(2 * SAMPLES * sizeof *products);
    double *slopes = products + SAMPLES;
    CHECK(products != NULL);
    if (!products)
        return;
    for (size_t g = 0; g < sizeof grams / sizeof grams[0]; g++) {
        double c11 = grams[g][0], c22 = grams[g][1], c12 = grams[g][2];
        double *h1 = malloc(2 * SAMPLES * sizeof *h1), *h2 = h1 + SAMPLES;
        CHECK(h1 != NULL);
        if (!h1)
            break;
        for (size_t s = 0; s < SAMPLES; s++) {
            double a = gsl_ran_gaussian(rng, 1.0), b = gsl_ran_gaussian(rng, 1.0);
            h1[s] = sqrt(c11) * a;
            h2[s] = c12 / sqrt(c11) * a + sqrt(c22 - c12 * c12 / c11) * b;
        }
        printf("c11 %.1f c22 %.1f c12 %.1f\n", c11, c22, c12);
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            const activation_case *ac = &cases[k];
            for (size_t s = 0; s < SAMPLES; s++) {
                products[s] = ac->phi(h1[s]) * ac->phi(h2[s]);
                slopes[s] = ac->slope(h1[s]) * ac->slope(h2[s]);
            }
            double nngp, derivative;
            akt_error err = {0};
            CHECK(akt_lazy_kernel(ac->activation, c11, c22, c12, &nngp, &derivative, &err) == AKT_OK);
            char label[64];
            snprintf(label, sizeof label, "%s nngp", ac->name);
            compare(label, nngp, mean_of(products, SAMPLES));
            snprintf(label, sizeof label, "%s derivative", ac->name);
            compare(label, derivative, mean_of(slopes, SAMPLES));
        }
        free(h1);
    }
    free(products);
}

static void test_kernel_matrix(gsl_rng *rng)
{
    enum { A_ROWS = 4, B_ROWS = 3, D = 6 };
    double A[A_ROWS * D], B[B_ROWS * D], nngp[A_ROWS * B_ROWS], derivative[A_ROWS * B_ROWS];
    for (size_t i = 0; i < A_ROWS * D; i++)
        A[i] = gsl_ran_gaussian(rng, 1.0);
    for (size_t i = 0; i < B_ROWS * D; i++)
        B[i] = gsl_ran_gaussian(rng, 1.0);
    akt_error err = {0};
    const akt_activation activations[] = {AKT_ACTIVATION_RELU, AKT_ACTIVATION_ERF,
                                          AKT_ACTIVATION_LINEAR};
    for (size_t k = 0; k < 3; k++) {
        CHECK(akt_lazy_kernel_matrix(activations[k], A, A_ROWS, B, B_ROWS, D, nngp, derivative,
                                     &err) == AKT_OK);
        for (size_t i = 0; i < A_ROWS; i++)
            for (size_t j = 0; j < B_ROWS; j++) {
                double c11 = 0, c22 = 0, c12 = 0, n, d;
                for (size_t l = 0; l < D; l++) {
                    c11 += A[i * D + l] * A[i * D + l] / D;
                    c22 += B[j * D + l] * B[j * D + l] / D;
                    c12 += A[i * D + l] * B[j * D + l] / D;
                }
                akt_lazy_kernel(activations[k], c11, c22, c12, &n, &d, &err);
                CHECK_RELATIVE(nngp[i * B_ROWS + j], n, 1e-12);
                CHECK_RELATIVE(derivative[i * B_ROWS + j], d, 1e-12);
            }
    }
    CHECK(akt_lazy_kernel_matrix(AKT_ACTIVATION_TANH, A, A_ROWS, B, B_ROWS, D, nngp, derivative,
                                 &err) == AKT_ERR_INPUT);
    CHECK(akt_lazy_kernel(AKT_ACTIVATION_TANH, 1, 1, 0, nngp, derivative, &err) == AKT_ERR_INPUT);
    CHECK(strstr(err.message, "tanh") != NULL);
}

/* ---- kernel flow ---- */

enum { P = 9, M = 5, RANK = 6, POINTS = P + M };

typedef struct {
    const double *K, *K_cross, *y;
} flow_params;

/* State (f(X), f(query)): df/dt = K(., X)(y - f(X)). */
static int kernel_flow_rhs(double t, const double *f, double *df, void *params)
{
    (void)t;
    const flow_params *fp = params;
    double residual[P];
    for (size_t j = 0; j < P; j++)
        residual[j] = fp->y[j] - f[j];
    for (size_t i = 0; i < P; i++) {
        df[i] = 0.0;
        for (size_t j = 0; j < P; j++)
            df[i] += fp->K[i * P + j] * residual[j];
    }
    for (size_t i = 0; i < M; i++) {
        df[P + i] = 0.0;
        for (size_t j = 0; j < P; j++)
            df[P + i] += fp->K_cross[i * P + j] * residual[j];
    }
    return GSL_SUCCESS;
}

static void test_kernel_flow(gsl_rng *rng)
{
    /* A rank-RANK kernel on P points: features F (POINTS x RANK), K = F F' / RANK. */
    double F[POINTS * RANK], K[P * P], K_cross[M * P], y[P], f0[POINTS], f[M], g[M];
    for (size_t i = 0; i < POINTS * RANK; i++)
        F[i] = gsl_ran_gaussian(rng, 1.0);
    for (size_t i = 0; i < POINTS; i++)
        for (size_t j = 0; j < P; j++) {
            double sum = 0.0;
            for (size_t k = 0; k < RANK; k++)
                sum += F[i * RANK + k] * F[j * RANK + k];
            if (i < P)
                K[i * P + j] = sum / RANK;
            else
                K_cross[(i - P) * P + j] = sum / RANK;
        }
    for (size_t i = 0; i < P; i++)
        y[i] = gsl_ran_gaussian(rng, 1.0);
    for (size_t i = 0; i < POINTS; i++)
        f0[i] = 0.3 * gsl_ran_gaussian(rng, 1.0);
    akt_error err = {0};

    CHECK(akt_kernel_flow_predict(K, P, K_cross, M, y, NULL, NULL, AKT_TIME_CONVERGE, f, &err) == AKT_OK);
    CHECK(akt_ridge_predict(K, P, K_cross, M, y, 0.0, g, &err) == AKT_OK);
    for (size_t i = 0; i < M; i++)
        CHECK_RELATIVE(f[i], g[i], 1e-10);
    /* With starting outputs: f0(x) + K_cross K^+ (y - f0(X)). */
    double shifted[P];
    for (size_t i = 0; i < P; i++)
        shifted[i] = y[i] - f0[i];
    CHECK(akt_kernel_flow_predict(K, P, K_cross, M, y, f0, f0 + P, AKT_TIME_CONVERGE, f, &err) == AKT_OK);
    CHECK(akt_ridge_predict(K, P, K_cross, M, shifted, 0.0, g, &err) == AKT_OK);
    for (size_t i = 0; i < M; i++)
        CHECK_RELATIVE(f[i], f0[P + i] + g[i], 1e-10);

    /* Finite T against the ODE. */
    const double T = 1.7;
    double state[POINTS], t = 0.0;
    memcpy(state, f0, sizeof state);
    flow_params fp = {K, K_cross, y};
    gsl_odeiv2_system system = {kernel_flow_rhs, NULL, POINTS, &fp};
    gsl_odeiv2_driver *driver = gsl_odeiv2_driver_alloc_y_new(&system, gsl_odeiv2_step_rk8pd,
                                                              1e-4, 1e-13, 1e-13);
    CHECK(gsl_odeiv2_driver_apply(driver, &t, T, state) == GSL_SUCCESS);
    gsl_odeiv2_driver_free(driver);
    CHECK(akt_kernel_flow_predict(K, P, K_cross, M, y, f0, f0 + P, T, f, &err) == AKT_OK);
    double worst = 0.0;
    for (size_t i = 0; i < M; i++) {
        worst = fmax(worst, fabs(f[i] - state[P + i]) / fabs(state[P + i]));
        CHECK_RELATIVE(f[i], state[P + i], 1e-8);
    }
    /* The train outputs too (query = train). */
    double f_train[P];
    CHECK(akt_kernel_flow_predict(K, P, K, P, y, f0, f0, T, f_train, &err) == AKT_OK);
    for (size_t i = 0; i < P; i++) {
        worst = fmax(worst, fabs(f_train[i] - state[i]) / fabs(state[i]));
        CHECK_RELATIVE(f_train[i], state[i], 1e-8);
    }
    printf("kernel flow T = %.1f: worst relative gap to the ODE %.3g\n", T, worst);
    CHECK(akt_kernel_flow_predict(K, P, K_cross, M, y, NULL, NULL, -3.0, f, &err) == AKT_ERR_INPUT);
}

int main(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    test_closed_forms_against_monte_carlo(rng);
    test_kernel_matrix(rng);
    test_kernel_flow(rng);
    gsl_rng_free(rng);
    return check_finish();
}
