/* test_observable_formulas.c: the observables' formulas (numerics/observables.c) against facts
 * that do not use them.
 *
 * - kernel-target alignment A(K, y) = y'Ky / (|K|_F |y|^2): A(yy', y) = 1 (|yy'|_F = |y|^2);
 *   A(I, y) = 1/sqrt(n) (|I|_F = sqrt(n), y'Iy = |y|^2); invariant to K -> cK, c > 0; -1 for
 *   K = -yy'; NAN for a zero kernel or zero labels;
 * - centred kernel alignment: CKA(A, A) = 1; invariant to isotropic scaling of either kernel and
 *   to adding a constant matrix (the centring removes it); equal to a direct evaluation with
 *   the explicit centring matrix H = I - 11'/n written here with plain loops;
 * - relative change |cK - K|_F / |K|_F = |c - 1|;
 * - the NTK Phi + G * C elementwise, and akt_observables_from_kernels filling exactly the slots
 *   whose kernels are given (the others keep their value).
 * Tolerances: the identities are exact in real arithmetic; the sums have n^2 = 144 terms of
 * size O(1), so round-off is ~1e-15 relative; 1e-13 leaves a margin of 100 while any wrong
 * normalisation shows at the 1e-2..1 level. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

#include "../check.h"
#include "akt/observables.h"

enum { N = 12 };
#define ROUND_OFF 1e-13

/* A random symmetric positive semi-definite kernel B B' (N x N) with B N x 5. */
static void random_kernel(gsl_rng *rng, double *K)
{
    double B[N * 5];
    for (size_t i = 0; i < N * 5; i++)
        B[i] = gsl_ran_gaussian(rng, 1.0);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) {
            double sum = 0.0;
            for (size_t k = 0; k < 5; k++)
                sum += B[i * 5 + k] * B[j * 5 + k];
            K[i * N + j] = sum;
        }
}

static void test_alignment(gsl_rng *rng)
{
    double y[N], K[N * N], I[N * N], scaled[N * N], zero[N * N] = {0}, zero_y[N] = {0};
    for (size_t i = 0; i < N; i++)
        y[i] = gsl_ran_gaussian(rng, 1.0);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) {
            K[i * N + j] = y[i] * y[j];
            I[i * N + j] = i == j ? 1.0 : 0.0;
        }
    CHECK_RELATIVE(akt_kernel_target_alignment(K, y, N), 1.0, ROUND_OFF);
    CHECK_RELATIVE(akt_kernel_target_alignment(I, y, N), 1.0 / sqrt((double)N), ROUND_OFF);
    for (size_t i = 0; i < N * N; i++)
        scaled[i] = -K[i];
    CHECK_RELATIVE(akt_kernel_target_alignment(scaled, y, N), -1.0, ROUND_OFF);
    random_kernel(rng, K);
    for (size_t i = 0; i < N * N; i++)
        scaled[i] = 7.5 * K[i];
    double a = akt_kernel_target_alignment(K, y, N);
    printf("alignment of a random kernel %.6f, of 7.5 times it %.6f\n", a,
           akt_kernel_target_alignment(scaled, y, N));
    CHECK(a > 0.0 && a < 1.0);
    CHECK_RELATIVE(akt_kernel_target_alignment(scaled, y, N), a, ROUND_OFF);
    CHECK(isnan(akt_kernel_target_alignment(zero, y, N)));
    CHECK(isnan(akt_kernel_target_alignment(K, zero_y, N)));
    CHECK(isnan(akt_kernel_target_alignment(K, y, 0)));
}

/* CKA written out with H = I - 11'/n and plain matrix products. */
static double direct_cka(const double *A, const double *B)
{
    double H[N * N], HA[N * N], HAH[N * N], HB[N * N], HBH[N * N];
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            H[i * N + j] = (i == j ? 1.0 : 0.0) - 1.0 / N;
    const double *in[2] = {A, B};
    double *mid[2] = {HA, HB}, *out[2] = {HAH, HBH};
    for (int m = 0; m < 2; m++) {
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++) {
                double sum = 0.0;
                for (size_t k = 0; k < N; k++)
                    sum += H[i * N + k] * in[m][k * N + j];
                mid[m][i * N + j] = sum;
            }
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++) {
                double sum = 0.0;
                for (size_t k = 0; k < N; k++)
                    sum += mid[m][i * N + k] * H[k * N + j];
                out[m][i * N + j] = sum;
            }
    }
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (size_t i = 0; i < N * N; i++) {
        ab += HAH[i] * HBH[i];
        aa += HAH[i] * HAH[i];
        bb += HBH[i] * HBH[i];
    }
    return ab / sqrt(aa * bb);
}

static void test_cka(gsl_rng *rng)
{
    double A[N * N], B[N * N], moved[N * N];
    random_kernel(rng, A);
    random_kernel(rng, B);
    CHECK_RELATIVE(akt_centered_kernel_alignment(A, A, N), 1.0, ROUND_OFF);
    double cka = akt_centered_kernel_alignment(A, B, N), direct = direct_cka(A, B);
    printf("CKA of two random kernels %.6f (direct with H: %.6f)\n", cka, direct);
    CHECK(cka > 0.0 && cka < 1.0);
    CHECK_RELATIVE(cka, direct, ROUND_OFF);
    /* Isotropic scaling and a constant added to every entry (centring removes it). */
    for (size_t i = 0; i < N * N; i++)
        moved[i] = 0.3 * A[i] + 4.0;
    CHECK_RELATIVE(akt_centered_kernel_alignment(moved, B, N), cka, ROUND_OFF);
    CHECK_RELATIVE(akt_centered_kernel_alignment(B, moved, N), cka, ROUND_OFF);
    /* A constant kernel centres to zero: no alignment. */
    for (size_t i = 0; i < N * N; i++)
        moved[i] = 2.0;
    CHECK(isnan(akt_centered_kernel_alignment(moved, B, N)));
}

static void test_relative_change(gsl_rng *rng)
{
    double K[N * N], scaled[N * N], zero[N * N] = {0};
    random_kernel(rng, K);
    const double factors[] = {0.0, 0.5, 1.0, 1.7, -2.0};
    for (size_t f = 0; f < sizeof factors / sizeof *factors; f++) {
        for (size_t i = 0; i < N * N; i++)
            scaled[i] = factors[f] * K[i];
        double change = akt_kernel_relative_change(scaled, K, N);
        if (factors[f] == 1.0)
            CHECK(change == 0.0);
        else
            CHECK_RELATIVE(change, fabs(factors[f] - 1.0), ROUND_OFF);
    }
    CHECK(isnan(akt_kernel_relative_change(K, zero, N)));
}

/* akt_observables_from_kernels: the NTK is Phi + G * C, and only the slots whose kernels are
 * given change. */
static void test_from_kernels(gsl_rng *rng)
{
    double Phi[N * N], G[N * N], C[N * N], K[N * N], y[N], start[N * N];
    random_kernel(rng, Phi);
    random_kernel(rng, G);
    random_kernel(rng, C);
    for (size_t i = 0; i < N; i++)
        y[i] = gsl_ran_gaussian(rng, 1.0);
    for (size_t i = 0; i < N * N; i++) {
        K[i] = Phi[i] + G[i] * C[i];
        start[i] = 0.5 * K[i];
    }
    double ntk[N * N];
    akt_ntk_kernel(Phi, G, C, N, ntk);
    CHECK(memcmp(ntk, K, sizeof K) == 0);

    double observables[AKT_OBSERVABLE_COUNT];
    akt_observables_clear(observables);
    observables[AKT_OBSERVABLE_SOURCE_TEST_LOSS] = 3.0;   /* not a kernel observable */
    akt_regime_kernels kernels = {.Phi_train = Phi, .G_train = G, .C_train = C, .y_train = y,
                                  .n_train = N, .ntk_start = start, .source_phi = Phi};
    akt_error err = {0};
    CHECK(akt_observables_from_kernels(&kernels, observables, &err) == AKT_OK);
    CHECK_RELATIVE(observables[AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN],
                   akt_kernel_target_alignment(K, y, N), ROUND_OFF);
    CHECK_RELATIVE(observables[AKT_OBSERVABLE_FEATURE_ALIGNMENT_TRAIN],
                   akt_kernel_target_alignment(Phi, y, N), ROUND_OFF);
    CHECK_RELATIVE(observables[AKT_OBSERVABLE_RETENTION], 1.0, ROUND_OFF);
    CHECK_RELATIVE(observables[AKT_OBSERVABLE_FEATURE_LEARNING], 1.0, ROUND_OFF); /* K vs K/2 */
    CHECK(isnan(observables[AKT_OBSERVABLE_NTK_ALIGNMENT_TEST]));      /* no test kernels */
    CHECK(isnan(observables[AKT_OBSERVABLE_FEATURE_ALIGNMENT_TEST]));
    CHECK(observables[AKT_OBSERVABLE_SOURCE_TEST_LOSS] == 3.0);
    CHECK(isnan(observables[AKT_OBSERVABLE_HIDDEN_DISTANCE]));

    /* Without G the NTK observables stay as they were. */
    akt_observables_clear(observables);
    kernels.G_train = NULL;
    CHECK(akt_observables_from_kernels(&kernels, observables, &err) == AKT_OK);
    CHECK(isnan(observables[AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN]));
    CHECK(isnan(observables[AKT_OBSERVABLE_FEATURE_LEARNING]));
    CHECK(!isnan(observables[AKT_OBSERVABLE_FEATURE_ALIGNMENT_TRAIN]));
}

int main(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    test_alignment(rng);
    test_cka(rng);
    test_relative_change(rng);
    test_from_kernels(rng);
    gsl_rng_free(rng);
    return check_finish();
}
