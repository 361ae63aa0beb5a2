/* test_linear.c: method convex with linear activation is the adaptive-ridge fixed point
 * (THEORY.md section 4, "Linear activation, one phase"): predictions equal X beta/sqrt(D) of
 * akt_linear_fixed_point, on both sides of the beta = 0 threshold |X'y|/sqrt(D) = lambda/gamma,
 * and the source kernel is the rank-one gamma |beta| (u.x)(u.x')/D. */
#include <stdio.h>
#include <string.h>

#include "akt/convex.h"
#include "akt/exact.h"
#include "../check.h"
#include "helpers.h"

enum { D = 8, P = 24, M = 10 };

static double X[P * D], y[P], Xt[M * D];

static void make_problem(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    double teacher[D];
    gaussian_fill(rng, teacher, D);
    gaussian_fill(rng, X, P * D);
    gaussian_fill(rng, Xt, M * D);
    for (size_t mu = 0; mu < P; mu++) {
        double s = 0.0;
        for (size_t d = 0; d < D; d++)
            s += teacher[d] * X[mu * D + d];
        y[mu] = s / sqrt((double)D) + 0.1 * gsl_ran_gaussian_ziggurat(rng, 1.0);
    }
    gsl_rng_free(rng);
}

/* |X'y|/sqrt(D): beta = 0 exactly when lambda/gamma is at or above it. */
static double threshold(void)
{
    double b[D];
    cblas_dgemv(CblasRowMajor, CblasTrans, P, D, 1.0 / sqrt((double)D), X, D, y, 1, 0.0, b, 1);
    return cblas_dnrm2(D, b, 1);
}

static void check_against_fixed_point(double gamma, double lambda)
{
    double beta[D], kappa;
    akt_error err = {0};
    CHECK(akt_linear_fixed_point(X, y, P, D, gamma, lambda, beta, &kappa, &err) == AKT_OK);
    akt_convex_solution sol;
    int status = akt_convex_solve(X, y, P, D, AKT_ACTIVATION_LINEAR, gamma, lambda, 1e-6, 1, 100,
                                  &sol, &err);
    CHECK(status == AKT_OK);
    CHECK(sol.converged);
    double beta_norm = cblas_dnrm2(D, beta, 1);
    CHECK(sol.K == (beta_norm > 0.0 ? 1u : 0u));
    printf("gamma %g lambda %g: |beta| = %.6g, K = %zu, gap = %.3g, objective = %.10g\n", gamma,
           lambda, beta_norm, sol.K, sol.gap, sol.objective);
    CHECK(sol.gap < 1e-6);

    /* predictions on train and test points against X beta / sqrt(D) */
    double f[P + M], expected[P + M];
    CHECK(akt_convex_predict(&sol, X, P, D, AKT_ACTIVATION_LINEAR, f, &err) == AKT_OK);
    CHECK(akt_convex_predict(&sol, Xt, M, D, AKT_ACTIVATION_LINEAR, f + P, &err) == AKT_OK);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, P, D, 1.0 / sqrt((double)D), X, D, beta, 1, 0.0,
                expected, 1);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, M, D, 1.0 / sqrt((double)D), Xt, D, beta, 1, 0.0,
                expected + P, 1);
    if (beta_norm > 0.0) {
        double distance = relative_distance(f, expected, P + M);
        printf("  relative distance of predictions to X beta/sqrt(D): %.3g\n", distance);
        CHECK(distance <= 1e-6);
    } else {
        for (size_t i = 0; i < P + M; i++)
            CHECK(f[i] == 0.0);
    }

    /* objective: 1/2 |y - X beta/sqrt(D)|^2 + (lambda/gamma) |beta| */
    double loss = 0.0;
    for (size_t mu = 0; mu < P; mu++)
        loss += 0.5 * (y[mu] - expected[mu]) * (y[mu] - expected[mu]);
    CHECK_RELATIVE(sol.objective, loss + lambda / gamma * beta_norm, 1e-12);

    /* kernel: gamma |beta| (u.a)(u.b)/D = gamma (beta.a)(beta.b) / (|beta| D) */
    double K[M * P];
    CHECK(akt_convex_kernel(&sol, AKT_ACTIVATION_LINEAR, gamma, Xt, M, X, P, D, K, &err) == AKT_OK);
    double worst = 0.0;
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < P; j++) {
            double direct = beta_norm > 0.0
                                ? gamma * expected[P + i] * expected[j] / beta_norm
                                : 0.0;
            double scale = fabs(direct) > 1e-3 ? fabs(direct) : 1e-3;
            double e = fabs(K[i * P + j] - direct) / scale;
            if (e > worst)
                worst = e;
        }
    printf("  kernel worst relative error %.3g\n", worst);
    CHECK(worst <= 1e-12);
    akt_convex_free(&sol);
}

int main(void)
{
    make_problem();
    double t = threshold();
    printf("threshold |X'y|/sqrt(D) = %.6g\n", t);
    check_against_fixed_point(1.0, 0.5);
    check_against_fixed_point(2.0, 0.9 * 2.0 * t);  /* just below the threshold: beta != 0 */
    check_against_fixed_point(1.0, 1.1 * t);        /* above it: beta = 0, no atom */

    /* inputs the method refuses */
    akt_convex_solution sol;
    akt_error err = {0};
    CHECK(akt_convex_solve(X, y, P, D, AKT_ACTIVATION_TANH, 1.0, 0.1, 1e-6, 1, 10, &sol, &err) ==
          AKT_ERR_INPUT);
    CHECK(akt_convex_solve(X, y, P, D, AKT_ACTIVATION_RELU, 1.0, 0.0, 1e-6, 1, 10, &sol, &err) ==
          AKT_ERR_INPUT);
    akt_convex_free(&sol);
    return check_finish();
}
