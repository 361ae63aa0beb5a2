/* lazy.c: the gamma -> 0 limit, where features stay at initialisation.
 *
 * THEORY.md section 2 ("Lazy limit"): the network follows kernel gradient flow with the NTK at
 * initialisation, K0 = Phi0 + G0 * C. For relu, erf and linear activations the Gaussian
 * expectations Phi0 = <phi(h) phi(h')> and <phi'(h) phi'(h')> have closed forms in the Gram
 * entries (arc-cosine kernels of degree 1 and 0; the arcsine kernel and its derivative), so the
 * limit is deterministic. Kernel flow itself is solved exactly in the eigenbasis of K. */
#include "akt/exact.h"
#include "core/util.h"

#include <cblas.h>
#include <gsl/gsl_math.h> /* M_PI */
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Angle between the two inputs, clamped: round-off can put the cosine just outside [-1, 1].
 * A zero-norm input has no direction; it is given the angle pi/2 (uncorrelated), which makes
 * the degree-1 kernel 0 (correctly, phi(0) = 0) and the degree-0 kernel 1/4 (Heaviside(0) = 1/2). */
static double input_angle(double c11, double c22, double c12)
{
    double norms = sqrt(c11 * c22);
    if (!(norms > 0.0))
        return M_PI / 2.0;
    return acos(fmax(-1.0, fmin(1.0, c12 / norms)));
}

static void relu_kernels(double c11, double c22, double c12, double *nngp, double *derivative)
{
    double t = input_angle(c11, c22, c12);
    *nngp = sqrt(c11 * c22) / (2.0 * M_PI) * (sin(t) + (M_PI - t) * cos(t));
    *derivative = (M_PI - t) / (2.0 * M_PI);
}

/* Williams (1997): <erf(h) erf(h')> = (2/pi) asin(2 c12 / sqrt((1 + 2 c11)(1 + 2 c22))); with
 * erf'(h) = (2/sqrt(pi)) e^{-h^2}, <erf' erf'> = (4/pi) det(I + 2C)^{-1/2}. */
static void erf_kernels(double c11, double c22, double c12, double *nngp, double *derivative)
{
    double a = 1.0 + 2.0 * c11, b = 1.0 + 2.0 * c22;
    double ratio = fmax(-1.0, fmin(1.0, 2.0 * c12 / sqrt(a * b)));
    *nngp = (2.0 / M_PI) * asin(ratio);
    *derivative = (4.0 / M_PI) / sqrt(fmax(a * b - 4.0 * c12 * c12, 1.0));
}

int akt_lazy_kernel(akt_activation activation, double c11, double c22, double c12, double *nngp,
                    double *derivative, akt_error *err)
{
    if (!isfinite(c11) || !isfinite(c22) || !isfinite(c12))
        return akt_error_set(err, AKT_ERR_NUMERIC, "lazy kernel: NaN or Inf in the Gram entries");
    if (c11 < 0.0 || c22 < 0.0)
        return akt_error_set(err, AKT_ERR_INPUT, "lazy kernel: negative variance (c11 %g, c22 %g)",
                             c11, c22);
    switch (activation) {
    case AKT_ACTIVATION_RELU:
        relu_kernels(c11, c22, c12, nngp, derivative);
        return AKT_OK;
    case AKT_ACTIVATION_ERF:
        erf_kernels(c11, c22, c12, nngp, derivative);
        return AKT_OK;
    case AKT_ACTIVATION_LINEAR:
        *nngp = c12;
        *derivative = 1.0;
        return AKT_OK;
    case AKT_ACTIVATION_TANH:
        return akt_error_set(err, AKT_ERR_INPUT, "no closed form for tanh; use method population");
    }
    return akt_error_set(err, AKT_ERR_INPUT, "lazy kernel: unknown activation %d", (int)activation);
}

/* Row norms |r|^2 / D: the diagonal Gram entries C(x, x). */
static void row_variances(const double *A, size_t a, size_t D, double *out)
{
    for (size_t i = 0; i < a; i++)
        out[i] = cblas_ddot((int)D, A + i * D, 1, A + i * D, 1) / (double)D;
}

int akt_lazy_kernel_matrix(akt_activation activation, const double *A, size_t a, const double *B,
                           size_t b, size_t D, double *nngp, double *derivative, akt_error *err)
{
    return akt_lazy_kernel_matrix_scaled(activation, 1.0, A, a, B, b, D, nngp, derivative, err);
}

/* The pre-activations at initialisation have covariance s_h^2 C (THEORY.md section 1), so the
 * closed forms take the Gram entries times hidden_variance = s_h^2. */
int akt_lazy_kernel_matrix_scaled(akt_activation activation, double hidden_variance,
                                  const double *A, size_t a, const double *B, size_t b, size_t D,
                                  double *nngp, double *derivative, akt_error *err)
{
    double probe_nngp, probe_derivative;
    int status = akt_lazy_kernel(activation, 1.0, 1.0, 0.0, &probe_nngp, &probe_derivative, err);
    if (status != AKT_OK)
        return status;
    if (!akt_all_finite(A, a * D) || !akt_all_finite(B, b * D))
        return akt_error_set(err, AKT_ERR_NUMERIC, "lazy kernel matrix: NaN or Inf in the inputs");
    double *gram = nngp ? nngp : derivative;
    if (!gram || a == 0 || b == 0)
        return AKT_OK;
    double *variances = malloc((a + b) * sizeof *variances);
    if (!variances)
        return akt_error_set(err, AKT_ERR_MEMORY, "lazy kernel matrix: out of memory");
    row_variances(A, a, D, variances);
    row_variances(B, b, D, variances + a);
    if (D > 0)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)a, (int)b, (int)D,
                    1.0 / (double)D, A, (int)D, B, (int)D, 0.0, gram, (int)b);
    else
        memset(gram, 0, a * b * sizeof *gram);
    for (size_t i = 0; i < a && status == AKT_OK; i++)
        for (size_t j = 0; j < b && status == AKT_OK; j++) {
            double k_nngp, k_derivative;
            status = akt_lazy_kernel(activation, hidden_variance * variances[i],
                                     hidden_variance * variances[a + j],
                                     hidden_variance * gram[i * b + j], &k_nngp, &k_derivative,
                                     err);
            if (nngp)
                nngp[i * b + j] = k_nngp;
            if (derivative)
                derivative[i * b + j] = k_derivative;
        }
    free(variances);
    return status;
}

/* Weight of eigen-direction k in the time integral int_0^T e^{-k t} dt = (1 - e^{-kT})/k; its
 * limit T for k -> 0 (directions at the pseudo-inverse cut-off); and for T = converge the
 * minimum-norm limit 1/k, 0 on the cut-off directions. */
static double flow_weight(double eigenvalue, double cutoff, double T)
{
    if (T == AKT_TIME_CONVERGE)
        return fabs(eigenvalue) > cutoff ? 1.0 / eigenvalue : 0.0;
    if (fabs(eigenvalue) <= cutoff)
        return T;
    return -expm1(-eigenvalue * T) / eigenvalue;
}

/* f_T(x) = f0(x) + K_cross V diag(w(k)) V' (y - f0(X)), w as above: the exact solution of
 * df/dt = K(x, X)(y - f(X)), since y - f(X) = e^{-K t} (y - f0(X)). */
static int flow_in_eigenbasis(const double *K, size_t P, const double *K_cross, size_t M,
                              const double *y, const double *f0_train, double T, double *f,
                              akt_error *err)
{
    double *V = malloc((P * P + 3 * P) * sizeof *V);
    if (!V)
        return akt_error_set(err, AKT_ERR_MEMORY, "kernel flow: out of memory (P = %zu)", P);
    double *eigenvalues = V + P * P, *residual = eigenvalues + P, *coefficients = residual + P;
    memcpy(V, K, P * P * sizeof *V);
    int status = akt_symmetric_eigen(V, P, eigenvalues, err);
    if (status == AKT_OK) {
        double cutoff = akt_pseudo_inverse_cutoff(eigenvalues, P);
        for (size_t i = 0; i < P; i++)
            residual[i] = y[i] - (f0_train ? f0_train[i] : 0.0);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)P, (int)P, 1.0, V, (int)P, residual, 1, 0.0,
                    coefficients, 1);
        for (size_t j = 0; j < P; j++)
            coefficients[j] *= flow_weight(eigenvalues[j], cutoff, T);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)P, (int)P, 1.0, V, (int)P, coefficients, 1,
                    0.0, residual, 1);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)M, (int)P, 1.0, K_cross, (int)P, residual, 1,
                    1.0, f, 1);
    }
    free(V);
    return status;
}

int akt_kernel_flow_predict(const double *K, size_t P, const double *K_cross, size_t M,
                            const double *y, const double *f0_train, const double *f0_query,
                            double T, double *f, akt_error *err)
{
    if (T != AKT_TIME_CONVERGE && !(T >= 0.0 && isfinite(T)))
        return akt_error_set(err, AKT_ERR_INPUT, "kernel flow: time must be >= 0 or converge "
                             "(got %g)", T);
    if (!akt_all_finite(K, P * P) || !akt_all_finite(K_cross, M * P) || !akt_all_finite(y, P) ||
        (f0_train && !akt_all_finite(f0_train, P)) || (f0_query && !akt_all_finite(f0_query, M)))
        return akt_error_set(err, AKT_ERR_NUMERIC, "kernel flow: NaN or Inf in the kernel, labels "
                             "or starting outputs");
    for (size_t i = 0; i < M; i++)
        f[i] = f0_query ? f0_query[i] : 0.0;
    if (P == 0 || M == 0)
        return AKT_OK;
    int status = flow_in_eigenbasis(K, P, K_cross, M, y, f0_train, T, f, err);
    if (status == AKT_OK && !akt_all_finite(f, M))
        status = akt_error_set(err, AKT_ERR_NUMERIC, "kernel flow: non-finite prediction (time %g)",
                               T);
    return status;
}
