/* The lazy limit of the population solver (THEORY.md section 2, DESIGN.md Decisions:
 * tolerances of sampled quantities). A relu population with weight decay 0 at small gamma
 * follows kernel gradient flow with the NTK of its own sampled neurons, with a gap that shrinks
 * in proportion to gamma; and that empirical-kernel answer matches the closed-form arc-cosine
 * NTK regression within the Monte-Carlo error of the replicas. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#define __GSL_CBLAS_H__
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "akt/exact.h"
#include "akt/population.h"
#include "../check.h"
#include "helpers.h"

enum { D = 10, P = 30, M = 400, S = 2048, REPLICAS = 4 };
static const double T = 50.0;

/* The NTK of replica r's initial neurons between rows of A and the source train rows X:
 * Phi = <relu(h) relu(h')>, G = <z^2 step(h) step(h')>, K = Phi + G * C. Pairs (w, z), (w, -z)
 * give equal terms, so the average over pairs is the average over neurons. */
static void empirical_ntk(const akt_spec *spec, unsigned long replica, const double *A, size_t a,
                          const double *X, double *K)
{
    gsl_rng *hidden = gsl_rng_alloc(gsl_rng_mt19937), *readout = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(hidden, akt_population_stream_seed(spec->seed, AKT_POPULATION_STREAM_HIDDEN, replica));
    gsl_rng_set(readout, akt_population_stream_seed(spec->seed, AKT_POPULATION_STREAM_READOUT, replica));
    size_t pairs = S / 2;
    double *w = malloc(pairs * D * sizeof *w), *z = malloc(pairs * sizeof *z);
    for (size_t i = 0; i < pairs * D; i++)
        w[i] = gsl_ran_gaussian_ziggurat(hidden, 1.0);
    for (size_t k = 0; k < pairs; k++)
        z[k] = gsl_ran_gaussian_ziggurat(readout, 1.0);
    memset(K, 0, a * P * sizeof *K);
    for (size_t i = 0; i < a; i++)
        for (size_t j = 0; j < P; j++) {
            double gram = 0, phi = 0, g = 0;
            for (size_t d = 0; d < D; d++)
                gram += A[i * D + d] * X[j * D + d] / D;
            for (size_t k = 0; k < pairs; k++) {
                double hi = 0, hj = 0;
                for (size_t d = 0; d < D; d++) {
                    hi += w[k * D + d] * A[i * D + d];
                    hj += w[k * D + d] * X[j * D + d];
                }
                hi /= sqrt((double)D);
                hj /= sqrt((double)D);
                if (hi > 0 && hj > 0) {
                    phi += hi * hj;
                    g += z[k] * z[k];
                }
            }
            K[i * P + j] = (phi + g * gram) / (double)pairs;
        }
    free(w);
    free(z);
    gsl_rng_free(hidden);
    gsl_rng_free(readout);
}

/* Test predictions of replica r's population after the source phase at this gamma. */
static void population_predictions(const akt_data *data, const akt_spec *spec, double gamma,
                                   unsigned long replica, double *f)
{
    akt_error err = {0};
    akt_population *pop = akt_population_alloc(data, AKT_ACTIVATION_RELU, S, &err);
    CHECK(pop != NULL);
    akt_population_sample(pop, spec->seed, replica);
    /* tight steps: the integration error must stay far below the O(gamma) effect measured */
    akt_population_phase phase = {gamma, 0.0, 0.0, T, 1e-7, 1e-6, 1e5, 1e-12};
    akt_population_run run;
    CHECK(akt_population_run_source(pop, &phase, &run, &err) == AKT_OK);
    CHECK(akt_population_predict(pop, AKT_POINTS_SOURCE_TEST, f, &err) == AKT_OK);
    akt_population_free(pop);
}

/* The arc-cosine NTK Phi0 + G0 * C between rows of A (a x D) and the train rows X. */
static void closed_form_ntk(const double *A, size_t a, const double *X, double *K)
{
    akt_error err = {0};
    double *derivative = malloc(a * P * sizeof *derivative);
    CHECK(akt_lazy_kernel_matrix(AKT_ACTIVATION_RELU, A, a, X, P, D, K, derivative, &err) == AKT_OK);
    for (size_t i = 0; i < a * P; i++) {
        size_t row = i / P, col = i % P;
        double gram = 0;
        for (size_t d = 0; d < D; d++)
            gram += A[row * D + d] * X[col * D + d] / D;
        K[i] += derivative[i] * gram;
    }
    free(derivative);
}

/* Kernel flow for time T with kernels K (P x P) and K_cross (M x P) from zero. */
static void kernel_flow(const double *K, const double *K_cross, const double *y, double *f)
{
    akt_error err = {0};
    CHECK(akt_kernel_flow_predict(K, P, K_cross, M, y, NULL, NULL, T, f, &err) == AKT_OK);
}

int main(void)
{
    akt_spec spec;
    test_spec(&spec, AKT_ACTIVATION_RELU);
    akt_data data;
    test_data_linear(&data, D, P, 4, 10, M, 11);
    const double *X = data.source.x, *Xt = data.source_test.x;

    double *K = malloc(P * P * sizeof *K), *K_cross = malloc(M * P * sizeof *K_cross);
    double *f_kernel = malloc(M * sizeof *f_kernel), *f_pop = malloc(M * sizeof *f_pop);

    /* (a) replica 0: gap to its own empirical-NTK flow shrinks in proportion to gamma */
    empirical_ntk(&spec, 0, X, P, X, K);
    empirical_ntk(&spec, 0, Xt, M, X, K_cross);
    kernel_flow(K, K_cross, data.source.y, f_kernel);
    double gammas[3] = {1e-1, 1e-2, 1e-3}, gaps[3];
    for (int i = 0; i < 3; i++) {
        population_predictions(&data, &spec, gammas[i], 0, f_pop);
        gaps[i] = check_relative_distance(f_pop, f_kernel, M);
        printf("gamma %.0e: relative gap to the empirical-NTK flow %.3e\n", gammas[i], gaps[i]);
    }
    CHECK(gaps[1] < 0.3 * gaps[0]);
    CHECK(gaps[2] < 0.3 * gaps[1]);
    CHECK(gaps[2] < 1e-3);

    /* (b) the empirical-NTK answer (= the population at gamma -> 0) against the closed form,
     * within 4 standard errors over independent replicas */
    double losses[REPLICAS], mean = 0, square = 0;
    for (int r = 0; r < REPLICAS; r++) {
        empirical_ntk(&spec, (unsigned long)r, X, P, X, K);
        empirical_ntk(&spec, (unsigned long)r, Xt, M, X, K_cross);
        kernel_flow(K, K_cross, data.source.y, f_kernel);
        losses[r] = akt_mean_squared_error(f_kernel, data.source_test.y, M);
        mean += losses[r] / REPLICAS;
        square += losses[r] * losses[r] / REPLICAS;
    }
    double mc_error = sqrt((square - mean * mean) * REPLICAS / (REPLICAS - 1) / REPLICAS);
    closed_form_ntk(Xt, M, X, K_cross);
    closed_form_ntk(X, P, X, K);
    kernel_flow(K, K_cross, data.source.y, f_kernel);
    double closed = akt_mean_squared_error(f_kernel, data.source_test.y, M);
    printf("test loss: empirical NTK %.6f +- %.2e (%d replicas of %d neurons), closed form %.6f\n",
           mean, mc_error, REPLICAS, S, closed);
    CHECK(fabs(mean - closed) <= 4 * mc_error);

    free(K);
    free(K_cross);
    free(f_kernel);
    free(f_pop);
    test_data_free(&data);
    return check_finish();
}
