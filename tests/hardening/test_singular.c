/* test_singular.c: singular linear systems, at the library level.
 *
 * No akt command reaches a singular solve as a failure: every kernel system goes through
 * akt_ridge_predict, which at ridge 0 uses the pseudo-inverse with the cut-off
 * n * eps * max|eigenvalue| (exact.h), and the linear fixed point has its beta = 0 branch. So
 * the fault is tested here: a singular kernel gives the minimum-norm answer, checked against
 * its closed form, and a non-finite one is a numerical error (status 1) that says what. */
#include <math.h>
#include <string.h>

#include "akt/exact.h"

#include "../check.h"

/* Two copies of one point with labels 1 and 3: K = [[1, 1], [1, 1]] has rank 1. The
 * least-squares fit of a single value to both labels is their mean, 2, and the minimum-norm
 * interpolant takes it at the point; a point orthogonal to it (cross kernel 0) gets 0. */
static void test_duplicate_points(void)
{
    const double K[4] = {1, 1, 1, 1}, y[2] = {1, 3};
    const double K_cross[4] = {1, 1, 0, 0};
    double f[2] = {NAN, NAN};
    akt_error err = {0};
    CHECK(akt_ridge_predict(K, 2, K_cross, 2, y, 0.0, f, &err) == AKT_OK);
    CHECK_ABSOLUTE(f[0], 2.0, 1e-14);
    CHECK_ABSOLUTE(f[1], 0.0, 1e-14);
}

/* The zero kernel: nothing can be learned, the prediction is 0 (not NaN from 0/0). */
static void test_zero_kernel(void)
{
    const double K[9] = {0}, K_cross[3] = {0}, y[3] = {1, -2, 5};
    double f[1] = {NAN};
    akt_error err = {0};
    CHECK(akt_ridge_predict(K, 3, K_cross, 1, y, 0.0, f, &err) == AKT_OK);
    CHECK(f[0] == 0.0);
}

/* NaN in the kernel: AKT_ERR_NUMERIC naming the quantity. */
static void test_non_finite_kernel(void)
{
    const double K[4] = {1, NAN, NAN, 1}, K_cross[2] = {1, 0}, y[2] = {1, 3};
    double f[1];
    akt_error err = {0};
    CHECK(akt_ridge_predict(K, 2, K_cross, 1, y, 0.0, f, &err) == AKT_ERR_NUMERIC);
    CHECK(strstr(err.message, "NaN or Inf") != NULL);
}

/* The linear fixed point on all-zero inputs: X'X = 0 is singular and X'y = 0, so
 * |X'y|/sqrt(D) = 0 <= lambda/gamma puts it on the beta = 0 branch, with kappa 0. */
static void test_zero_inputs_fixed_point(void)
{
    const double X[6] = {0}, y[3] = {1, 2, 3};
    double beta[2] = {NAN, NAN}, kappa = NAN;
    akt_error err = {0};
    CHECK(akt_linear_fixed_point(X, y, 3, 2, 1.0, 0.05, beta, &kappa, &err) == AKT_OK);
    CHECK(beta[0] == 0.0 && beta[1] == 0.0);
    CHECK(kappa == 0.0);
}

int main(void)
{
    test_duplicate_points();
    test_zero_kernel();
    test_non_finite_kernel();
    test_zero_inputs_fixed_point();
    return check_finish();
}
