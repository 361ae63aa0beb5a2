/* The 1/N extrapolation of akt compare: weighted least squares against the normal equations
 * solved by hand, an exact line, and the error scaling when the scatter exceeds the error bars. */
#include <math.h>

#include "akt/compare.h"
#include "../check.h"

/* Weighted least squares by the 2 x 2 normal equations (independent of GSL). */
static void normal_equations(const double *x, const double *y, const double *w, int n,
                             double *slope, double *intercept, double *intercept_variance)
{
    double s = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        s += w[i];
        sx += w[i] * x[i];
        sy += w[i] * y[i];
        sxx += w[i] * x[i] * x[i];
        sxy += w[i] * x[i] * y[i];
    }
    double det = s * sxx - sx * sx;
    *slope = (s * sxy - sx * sy) / det;
    *intercept = (sxx * sy - sx * sxy) / det;
    *intercept_variance = sxx / det;
}

int main(void)
{
    double slope, intercept, error;

    /* An exact line y = 0.75 + 3/N: recovered to round-off. */
    double x[3] = {1.0 / 256, 1.0 / 1024, 1.0 / 4096};
    double y[3], w[3] = {1e4, 4e4, 16e4};
    for (int i = 0; i < 3; i++)
        y[i] = 0.75 + 3.0 * x[i];
    CHECK(akt_fit_inverse_width(x, y, w, 3, &slope, &intercept, &error, NULL) == AKT_OK);
    CHECK_RELATIVE(intercept, 0.75, 1e-12);
    CHECK_RELATIVE(slope, 3.0, 1e-9);
    /* chi^2 = 0, so the error is the stated-error propagation alone */
    double s_ref, i_ref, var_ref;
    normal_equations(x, y, w, 3, &s_ref, &i_ref, &var_ref);
    CHECK_RELATIVE(error, sqrt(var_ref), 1e-10);

    /* The reference problem's readout column (shared/reference/relu_poly/README.md): means and
     * standard errors at N = 256, 1024, 4096, whose published fit is 0.8754 +- 0.0053. */
    double means[3] = {0.91208, 0.87816, 0.87875}, errors[3] = {0.01093, 0.01058, 0.00524};
    for (int i = 0; i < 3; i++) {
        y[i] = means[i];
        w[i] = 1.0 / (errors[i] * errors[i]);
    }
    CHECK(akt_fit_inverse_width(x, y, w, 3, &slope, &intercept, &error, NULL) == AKT_OK);
    normal_equations(x, y, w, 3, &s_ref, &i_ref, &var_ref);
    CHECK_RELATIVE(intercept, i_ref, 1e-10);
    CHECK_RELATIVE(slope, s_ref, 1e-9);
    CHECK_ABSOLUTE(intercept, 0.8754, 1e-4);
    /* chi^2/(n-2) < 1 here, so the stated errors stand */
    CHECK_ABSOLUTE(error, 0.0053, 1e-4);

    /* The observables' rule: |theory - network| <= max(3 sqrt(a^2 + b^2), 0.02). Errors 0.03
     * and 0.04 combine to 0.05, so 0.15 is allowed; small errors leave the 0.02 floor; an
     * unknown (NAN) error counts 0; a NAN value is not compared. */
    CHECK(akt_observable_verdict(1.0, 0.03, 1.149, 0.04) == 1);
    CHECK(akt_observable_verdict(1.0, 0.03, 1.151, 0.04) == 0);
    CHECK(akt_observable_verdict(0.5, 1e-4, 0.519, 1e-4) == 1);
    CHECK(akt_observable_verdict(0.5, 1e-4, 0.521, 1e-4) == 0);
    CHECK(akt_observable_verdict(0.5, NAN, 0.481, NAN) == 1);
    CHECK(akt_observable_verdict(0.5, 0.1, 0.53, NAN) == 1);
    CHECK(akt_observable_verdict(NAN, 0.0, 0.5, 0.0) == -1);
    CHECK(akt_observable_verdict(0.5, 0.0, NAN, 0.0) == -1);

    /* Scatter far beyond the error bars inflates the intercept error by sqrt(chi^2/(n-2)). */
    double scattered[4] = {1.0, 1.2, 0.9, 1.1}, xs[4] = {0.1, 0.2, 0.3, 0.4}, ws[4] = {1e6, 1e6, 1e6, 1e6};
    CHECK(akt_fit_inverse_width(xs, scattered, ws, 4, &slope, &intercept, &error, NULL) == AKT_OK);
    normal_equations(xs, scattered, ws, 4, &s_ref, &i_ref, &var_ref);
    double chi = 0;
    for (int i = 0; i < 4; i++)
        chi += ws[i] * pow(scattered[i] - i_ref - s_ref * xs[i], 2);
    CHECK_RELATIVE(error, sqrt(var_ref * chi / 2.0), 1e-9);

    /* One width is not a fit. */
    CHECK(akt_fit_inverse_width(x, y, w, 1, &slope, &intercept, &error, NULL) == AKT_ERR_INPUT);
    return check_finish();
}
