/* observables.c: kernel-target alignment, centred kernel alignment and the relative change of
 * a kernel (README "Observables"), shared by every method so that the theory and the finite
 * networks are measured by the same formulas.
 *
 * The sums are O(n^2) over symmetric kernels; y'Ky goes through BLAS (dsymv). Centring uses
 * the row means: (HAH)_ij = A_ij - a_i - a_j + a, a_i the row mean and a the grand mean. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "akt/observables.h"
#include "core/util.h"

void akt_observables_clear(double observables[AKT_OBSERVABLE_COUNT])
{
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++)
        observables[k] = NAN;
}

static double frobenius_norm(const double *K, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n * n; i++)
        sum += K[i] * K[i];
    return sqrt(sum);
}

double akt_kernel_target_alignment(const double *K, const double *y, size_t n)
{
    if (n == 0)
        return NAN;
    double *Ky = malloc(n * sizeof *Ky);
    if (!Ky)
        return NAN;
    cblas_dsymv(CblasRowMajor, CblasUpper, (int)n, 1.0, K, (int)n, y, 1, 0.0, Ky, 1);
    double yKy = cblas_ddot((int)n, y, 1, Ky, 1), yy = cblas_ddot((int)n, y, 1, y, 1);
    free(Ky);
    double norm = frobenius_norm(K, n);
    return norm > 0.0 && yy > 0.0 ? yKy / (norm * yy) : NAN;
}

/* Row means of K (n values) and the grand mean. */
static double row_means(const double *K, size_t n, double *means)
{
    double grand = 0.0;
    for (size_t i = 0; i < n; i++) {
        double sum = 0.0;
        for (size_t j = 0; j < n; j++)
            sum += K[i * n + j];
        means[i] = sum / (double)n;
        grand += means[i];
    }
    return grand / (double)n;
}

double akt_centered_kernel_alignment(const double *A, const double *B, size_t n)
{
    if (n == 0)
        return NAN;
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return NAN;
    }
    double a_mean = row_means(A, n, a), b_mean = row_means(B, n, b);
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double ca = A[i * n + j] - a[i] - a[j] + a_mean;
            double cb = B[i * n + j] - b[i] - b[j] + b_mean;
            ab += ca * cb;
            aa += ca * ca;
            bb += cb * cb;
        }
    free(a);
    free(b);
    return aa > 0.0 && bb > 0.0 ? ab / sqrt(aa * bb) : NAN;
}

double akt_kernel_relative_change(const double *K_end, const double *K_start, size_t n)
{
    double change = 0.0, start = 0.0;
    for (size_t i = 0; i < n * n; i++) {
        change += (K_end[i] - K_start[i]) * (K_end[i] - K_start[i]);
        start += K_start[i] * K_start[i];
    }
    return start > 0.0 ? sqrt(change / start) : NAN;
}

void akt_ntk_kernel(const double *Phi, const double *G, const double *C, size_t n, double *K)
{
    for (size_t i = 0; i < n * n; i++)
        K[i] = Phi[i] + G[i] * C[i];
}

/* The alignments of Phi and of the NTK on one split, into the two slots given. */
static int split_alignments(const double *Phi, const double *G, const double *C, const double *y,
                            size_t n, double *scratch, double *feature, double *ntk)
{
    if (!Phi || !y || n == 0)
        return AKT_OK;
    *feature = akt_kernel_target_alignment(Phi, y, n);
    if (G && C) {
        akt_ntk_kernel(Phi, G, C, n, scratch);
        *ntk = akt_kernel_target_alignment(scratch, y, n);
    }
    return AKT_OK;
}

int akt_observables_from_kernels(const akt_regime_kernels *k,
                                 double observables[AKT_OBSERVABLE_COUNT], akt_error *err)
{
    size_t n = k->n_train > k->n_test ? k->n_train : k->n_test;
    double *ntk = malloc((n ? n * n : 1) * sizeof *ntk);
    if (!ntk)
        return akt_out_of_memory(err, "the observables' kernel");
    split_alignments(k->Phi_train, k->G_train, k->C_train, k->y_train, k->n_train, ntk,
                     &observables[AKT_OBSERVABLE_FEATURE_ALIGNMENT_TRAIN],
                     &observables[AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN]);
    split_alignments(k->Phi_test, k->G_test, k->C_test, k->y_test, k->n_test, ntk,
                     &observables[AKT_OBSERVABLE_FEATURE_ALIGNMENT_TEST],
                     &observables[AKT_OBSERVABLE_NTK_ALIGNMENT_TEST]);
    if (k->Phi_train && k->source_phi)
        observables[AKT_OBSERVABLE_RETENTION] =
            akt_centered_kernel_alignment(k->source_phi, k->Phi_train, k->n_train);
    if (k->Phi_train && k->G_train && k->C_train && k->ntk_start) {
        akt_ntk_kernel(k->Phi_train, k->G_train, k->C_train, k->n_train, ntk);
        observables[AKT_OBSERVABLE_FEATURE_LEARNING] =
            akt_kernel_relative_change(ntk, k->ntk_start, k->n_train);
    }
    free(ntk);
    return AKT_OK;
}
