/* linear_fixed_point.c: where a linear two-layer network trained with weight decay ends up.
 *
 * THEORY.md section 4 ("Linear activation, one phase"): at t -> infinity the network's linear
 * predictor beta minimises 1/2 |y - X beta/sqrt(D)|^2 + (lambda/gamma) |beta|, a group-lasso
 * with one group, whose solution is an adaptive ridge
 *     beta(kappa) = (A + kappa I)^{-1} b,   A = X'X/D,  b = X'y/sqrt(D),
 * with kappa > 0 fixed by |beta(kappa)| = lambda/(gamma kappa), and beta = 0 when |b| <= lambda/gamma.
 * With A = V diag(s) V' and c = V'b computed once, the scalar equation is solved in the
 * well-scaled form
 *     g(kappa) = kappa |beta(kappa)| - lambda/gamma = sqrt(sum_i c_i^2 kappa^2/(s_i+kappa)^2) - lambda/gamma,
 * each term increasing in kappa, from g(0) = -lambda/gamma (b lies in the range of A) to
 * g(inf) = |b| - lambda/gamma > 0: a unique root, bracketed and found by Brent's method, O(D) per
 * evaluation. */
#include "akt/exact.h"
#include "core/util.h"

#include <cblas.h>
#include <float.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_roots.h>
#include <math.h>
#include <stdlib.h>

/* Root tolerance: the bracket is shrunk to a relative width of 1e-14 in kappa. beta depends on
 * kappa through 1/(s_i + kappa), so d log beta_i / d log kappa = -kappa/(s_i + kappa) lies in
 * [-1, 0] and the relative error this leaves in beta is below 1e-14 too: at the round-off level
 * of forming A and b. */
#define KAPPA_RELATIVE_TOLERANCE 1e-14
#define ROOT_MAX_ITERATIONS 500

typedef struct {
    const double *eigenvalues; /* s_i, clamped at 0 (A is PSD; negatives are round-off) */
    const double *projections; /* c_i = (V'b)_i */
    size_t D;
    double threshold;          /* lambda/gamma */
} fixed_point_equation;

static double kappa_times_norm_minus_threshold(double kappa, void *params)
{
    const fixed_point_equation *eq = params;
    double sum = 0.0;
    for (size_t i = 0; i < eq->D; i++) {
        double denominator = eq->eigenvalues[i] + kappa;
        if (denominator > 0.0) {
            double shrink = kappa / denominator;
            sum += eq->projections[i] * eq->projections[i] * shrink * shrink;
        }
    }
    return sqrt(sum) - eq->threshold;
}

static int solve_kappa(fixed_point_equation *eq, double norm_b, double *kappa, akt_error *err)
{
    double largest = 0.0;
    for (size_t i = 0; i < eq->D; i++)
        largest = fmax(largest, eq->eigenvalues[i]);
    /* kappa/(s_i + kappa) >= kappa/(s_max + kappa) gives g(kappa) > 0 beyond this point. */
    double upper = 2.0 * eq->threshold * largest / (norm_b - eq->threshold) + DBL_MIN;
    gsl_function function = {kappa_times_norm_minus_threshold, eq};
    gsl_root_fsolver *solver = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (!solver)
        return akt_error_set(err, AKT_ERR_MEMORY, "linear fixed point: out of memory");
    gsl_error_handler_t *previous = gsl_set_error_handler_off();
    int status = gsl_root_fsolver_set(solver, &function, 0.0, upper);
    int iteration = 0;
    while (status == GSL_SUCCESS && iteration++ < ROOT_MAX_ITERATIONS) {
        status = gsl_root_fsolver_iterate(solver);
        if (status != GSL_SUCCESS)
            break;
        status = gsl_root_test_interval(gsl_root_fsolver_x_lower(solver),
                                        gsl_root_fsolver_x_upper(solver), 0.0,
                                        KAPPA_RELATIVE_TOLERANCE);
        if (status == GSL_SUCCESS)
            break;
        status = GSL_SUCCESS;
    }
    *kappa = gsl_root_fsolver_root(solver);
    gsl_set_error_handler(previous);
    gsl_root_fsolver_free(solver);
    if (status != GSL_SUCCESS || iteration > ROOT_MAX_ITERATIONS || !(*kappa > 0.0))
        return akt_error_set(err, AKT_ERR_NUMERIC, "linear fixed point: root finder for kappa "
                             "failed after %d iterations (%s, kappa = %g)", iteration,
                             gsl_strerror(status), *kappa);
    return AKT_OK;
}

/* Fills A = X'X/D (D x D) and b = X'y/sqrt(D). */
static void normal_equations(const double *X, const double *y, size_t P, size_t D, double *A,
                             double *b)
{
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)D, (int)D, (int)P, 1.0 / (double)D,
                X, (int)D, X, (int)D, 0.0, A, (int)D);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)P, (int)D, 1.0 / sqrt((double)D), X, (int)D, y, 1,
                0.0, b, 1);
}

static int solve_beta(const double *X, const double *y, size_t P, size_t D, double threshold,
                      double *beta, double *kappa, akt_error *err)
{
    double *A = malloc((D * D + 2 * D) * sizeof *A);
    if (!A)
        return akt_error_set(err, AKT_ERR_MEMORY, "linear fixed point: out of memory (D = %zu)", D);
    double *eigenvalues = A + D * D, *c = eigenvalues + D;
    normal_equations(X, y, P, D, A, beta); /* beta holds b for now */
    double norm_b = cblas_dnrm2((int)D, beta, 1);
    int status = AKT_OK;
    if (norm_b <= threshold) {
        for (size_t i = 0; i < D; i++)
            beta[i] = 0.0;
        *kappa = 0.0;
    } else if ((status = akt_symmetric_eigen(A, D, eigenvalues, err)) == AKT_OK) {
        for (size_t i = 0; i < D; i++)
            eigenvalues[i] = fmax(eigenvalues[i], 0.0);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)D, (int)D, 1.0, A, (int)D, beta, 1, 0.0, c, 1);
        fixed_point_equation eq = {eigenvalues, c, D, threshold};
        status = solve_kappa(&eq, norm_b, kappa, err);
        if (status == AKT_OK) {
            for (size_t i = 0; i < D; i++)
                c[i] /= eigenvalues[i] + *kappa;
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)D, (int)D, 1.0, A, (int)D, c, 1, 0.0,
                        beta, 1);
        }
    }
    free(A);
    return status;
}

int akt_linear_fixed_point(const double *X, const double *y, size_t P, size_t D, double gamma,
                           double lambda, double *beta, double *kappa, akt_error *err)
{
    if (!(gamma > 0.0) || !(lambda > 0.0) || !isfinite(gamma) || !isfinite(lambda))
        return akt_error_set(err, AKT_ERR_INPUT, "linear fixed point: needs gamma > 0 and "
                             "weight decay lambda > 0 (got gamma %g, lambda %g)", gamma, lambda);
    if (D == 0)
        return akt_error_set(err, AKT_ERR_INPUT, "linear fixed point: input dimension D is 0");
    if (!akt_all_finite(X, P * D) || !akt_all_finite(y, P))
        return akt_error_set(err, AKT_ERR_NUMERIC, "linear fixed point: NaN or Inf in the data");
    return solve_beta(X, y, P, D, lambda / gamma, beta, kappa, err);
}
