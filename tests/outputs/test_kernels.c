/* test_kernels.c: the adapted kernels of the population (akt_population_kernels) against
 * independent computations.
 *
 * 1. Linear activation, sample-exact: Phi = x'<ww'>x'/D and G = <z^2> of the moment closure
 *    started from the population's own empirical initial moments (rebuilt here from the
 *    documented streams) equal the population's kernels on every split it knows, in the source,
 *    scratch and joint states, up to integration error (the population at step_tolerance 1e-9,
 *    the closure at 1e-10, per unit time over T = 3 + 2; the population's error scales with its
 *    tolerance: measured 6e-8 at 1e-8, 1.7e-8 at 1e-9 (1e-10 is below its round-off floor);
 *    asserted 5e-8).
 * 2. Linear activation, infinite width: the replicas' mean of two functionals of the source
 *    kernel on the target points (y'Phi y/|y|^2 and trace Phi / P) lies within 4 standard errors
 *    of the Gaussian closure.
 * 3. Relu: the largest eigenvalue of K = Phi + G * C on the training points equals the
 *    integrator's own NTK estimate akt_population_ntk_max (its code forms F'F and (zFp)'(zFp)
 *    over all neurons at once; ours goes block by block with dsyrk), in all three states; and
 *    the source state's Phi on the target points equals akt_population_source_kernel (built from
 *    the stored h_s). A target state refuses the source points. */
#include <stdio.h>

#include "../check.h"
#include "../population/helpers.h"
#include "akt/exact.h"
#include "akt/output.h"

/* The (z, w) moment matrix of replica `replica`'s initial population (S neurons). */
static double *empirical_moments(unsigned long seed, size_t S, size_t D, unsigned long replica)
{
    size_t n = 1 + D;
    gsl_rng *hidden = gsl_rng_alloc(gsl_rng_mt19937), *readout = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(hidden, akt_population_stream_seed(seed, AKT_POPULATION_STREAM_HIDDEN, replica));
    gsl_rng_set(readout, akt_population_stream_seed(seed, AKT_POPULATION_STREAM_READOUT, replica));
    double *w = malloc(S / 2 * D * sizeof *w), *M = calloc(n * n, sizeof *M);
    double *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < S / 2 * D; i++)
        w[i] = gsl_ran_gaussian_ziggurat(hidden, 1.0);
    for (size_t k = 0; k < S / 2; k++) {
        double z = gsl_ran_gaussian_ziggurat(readout, 1.0);
        for (int sign = 1; sign >= -1; sign -= 2) {
            v[0] = sign * z;
            memcpy(v + 1, w + k * D, D * sizeof *v);
            for (size_t a = 0; a < n; a++)
                for (size_t b = 0; b < n; b++)
                    M[a * n + b] += v[a] * v[b] / (double)S;
        }
    }
    free(w);
    free(v);
    gsl_rng_free(hidden);
    gsl_rng_free(readout);
    return M;
}

static const akt_split *split_of(const akt_data *data, int s)
{
    const akt_split *splits[AKT_POINTS_COUNT] = {&data->source, &data->target, &data->test,
                                                 &data->source_test};
    return splits[s];
}

/* The inputs of the chosen splits stacked in akt_points order; *M their number. */
static double *stack(const akt_data *data, const bool *points, size_t *M)
{
    size_t D = data->dim, rows = 0;
    for (int s = 0; s < AKT_POINTS_COUNT; s++)
        rows += points[s] ? split_of(data, s)->rows : 0;
    double *X = malloc(rows * D * sizeof *X);
    for (int s = 0, at = 0; s < AKT_POINTS_COUNT; s++)
        if (points[s]) {
            memcpy(X + at * D, split_of(data, s)->x, split_of(data, s)->rows * D * sizeof *X);
            at += (int)split_of(data, s)->rows;
        }
    *M = rows;
    return X;
}

static double largest_abs(const double *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

static double largest_difference(const double *a, const double *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

/* The population's kernels of its current state against the closure's m on the same points. */
static void compare_with_closure(const char *what, akt_population *pop, const akt_moments *m,
                                 const akt_data *data, const bool *points)
{
    akt_error err = {0, ""};
    size_t M;
    double *X = stack(data, points, &M);
    double *Phi = malloc(M * M * sizeof *Phi), *G = malloc(M * M * sizeof *G);
    double *expected = malloc(M * M * sizeof *expected);
    CHECK(akt_population_kernels(pop, points, Phi, G, &err) == AKT_OK);
    akt_moments_kernel(m, X, M, X, M, expected);
    double z_square = akt_moments_matrix(m)[0];
    double phi_error = largest_difference(Phi, expected, M * M) / largest_abs(expected, M * M);
    double g_error = 0.0;
    for (size_t i = 0; i < M * M; i++)
        g_error = fmax(g_error, fabs(G[i] - z_square) / z_square);
    printf("sample-exact %-7s M = %3zu: Phi max rel error %.2e, G = <z^2> = %.6f max rel error "
           "%.2e\n", what, M, phi_error, z_square, g_error);
    CHECK(phi_error < 5e-8);
    CHECK(g_error < 5e-8);
    bool symmetric = true;
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < M; j++)
            symmetric = symmetric && Phi[i * M + j] == Phi[j * M + i] && G[i * M + j] == G[j * M + i];
    CHECK(symmetric);
    free(X);
    free(Phi);
    free(G);
    free(expected);
}

static akt_population_phase phase_of(double gamma, double lambda, double delta, double time,
                                     double tolerance)
{
    akt_population_phase phase = {gamma, lambda, delta, time, tolerance, 1e-6, 1e5, 1e-12};
    return phase;
}

static void flow(akt_moments *m, const akt_split *train, const akt_population_phase *p)
{
    akt_error err = {0, ""};
    long steps;
    double residual;
    CHECK(akt_moments_flow(m, train->x, train->y, train->rows, p->gamma, p->weight_decay,
                           p->elastic, p->time, 1e-10, 1e-6, 1e5, &steps, &residual, &err) == AKT_OK);
}

static void linear_sample_exact(const akt_data *data)
{
    const size_t S = 256;
    const unsigned long seed = 3;
    akt_error err = {0, ""};
    akt_population_run run;
    akt_population *pop = akt_population_alloc(data, AKT_ACTIVATION_LINEAR, S, &err);
    akt_population_sample(pop, seed, 0);
    akt_population_phase source = phase_of(1.0, 0.05, 0.0, 3.0, 1e-9);
    akt_population_phase target = phase_of(1.5, 0.05, 0.5, 2.0, 1e-9);
    CHECK(akt_population_run_source(pop, &source, &run, &err) == AKT_OK);

    double *M0 = empirical_moments(seed, S, data->dim, 0);
    akt_moments *m = akt_moments_alloc(data->dim, &err);
    CHECK(akt_moments_set(m, M0, 1 + data->dim, &err) == AKT_OK);
    flow(m, &data->source, &source);
    bool every[AKT_POINTS_COUNT] = {true, true, true, true};
    compare_with_closure("source", pop, m, data, every);

    /* joint from the source state (hidden weights kept, readout zero), elastic pull 0.5 */
    bool target_points[AKT_POINTS_COUNT] = {false, true, true, false};
    CHECK(akt_population_start_joint(pop, AKT_READOUT_ZERO, &err) == AKT_OK);
    CHECK(akt_population_run_target(pop, &target, &run, &err) == AKT_OK);
    akt_moments_start_target(m, AKT_READOUT_ZERO);
    flow(m, &data->target, &target);
    compare_with_closure("joint", pop, m, data, target_points);

    /* scratch from the same initial population */
    CHECK(akt_population_start_scratch(pop, &err) == AKT_OK);
    CHECK(akt_population_run_target(pop, &target, &run, &err) == AKT_OK);
    CHECK(akt_moments_set(m, M0, 1 + data->dim, &err) == AKT_OK);
    akt_population_phase scratch = target;
    scratch.elastic = 0.0;
    flow(m, &data->target, &scratch);
    compare_with_closure("scratch", pop, m, data, target_points);

    /* a target state knows only the target points */
    double dummy[1];
    bool source_points[AKT_POINTS_COUNT] = {true, false, false, false};
    CHECK(akt_population_kernels(pop, source_points, dummy, NULL, &err) == AKT_ERR_INPUT);
    free(M0);
    akt_moments_free(m);
    akt_population_free(pop);
}

static void linear_infinite_width(const akt_data *data)
{
    enum { R = 8 };
    const size_t S = 512, P2 = data->target.rows;
    akt_error err = {0, ""};
    akt_population_run run;
    akt_population_phase source = phase_of(1.0, 0.05, 0.0, 3.0, 1e-5);
    bool points[AKT_POINTS_COUNT] = {false, true, false, false};
    double *Phi = malloc(P2 * P2 * sizeof *Phi), quadratic[R], trace[R], ynorm = 0.0;
    for (size_t i = 0; i < P2; i++)
        ynorm += data->target.y[i] * data->target.y[i];
    akt_population *pop = akt_population_alloc(data, AKT_ACTIVATION_LINEAR, S, &err);
    for (int r = 0; r < R; r++) {
        akt_population_sample(pop, 11, (unsigned long)r);
        CHECK(akt_population_run_source(pop, &source, &run, &err) == AKT_OK);
        CHECK(akt_population_kernels(pop, points, Phi, NULL, &err) == AKT_OK);
        quadratic[r] = trace[r] = 0.0;
        for (size_t i = 0; i < P2; i++) {
            trace[r] += Phi[i * P2 + i] / (double)P2;
            for (size_t j = 0; j < P2; j++)
                quadratic[r] += data->target.y[i] * Phi[i * P2 + j] * data->target.y[j] / ynorm;
        }
    }
    akt_moments *m = akt_moments_alloc(data->dim, &err);
    flow(m, &data->source, &source);
    akt_moments_kernel(m, data->target.x, P2, data->target.x, P2, Phi);
    double exact_quadratic = 0.0, exact_trace = 0.0;
    for (size_t i = 0; i < P2; i++) {
        exact_trace += Phi[i * P2 + i] / (double)P2;
        for (size_t j = 0; j < P2; j++)
            exact_quadratic += data->target.y[i] * Phi[i * P2 + j] * data->target.y[j] / ynorm;
    }
    double *values[2] = {quadratic, trace}, exact[2] = {exact_quadratic, exact_trace};
    const char *names[2] = {"y'Phi y/|y|^2", "trace Phi/P"};
    for (int k = 0; k < 2; k++) {
        double mean = 0.0, square = 0.0;
        for (int r = 0; r < R; r++)
            mean += values[k][r] / R;
        for (int r = 0; r < R; r++)
            square += (values[k][r] - mean) * (values[k][r] - mean);
        double se = sqrt(square / (R - 1) / R);
        printf("infinite width: %-14s population %.6f +- %.2e, closure %.6f (%.2f se)\n",
               names[k], mean, se, exact[k], fabs(mean - exact[k]) / se);
        CHECK_ABSOLUTE(mean, exact[k], 4.0 * se);
    }
    free(Phi);
    akt_moments_free(m);
    akt_population_free(pop);
}

/* Largest eigenvalue of Phi + G * C on the training points with the given Gram C. */
static double ntk_top(akt_population *pop, akt_points training, const akt_split *split,
                      size_t D)
{
    akt_error err = {0, ""};
    size_t P = split->rows;
    bool points[AKT_POINTS_COUNT] = {false};
    points[training] = true;
    double *Phi = malloc(P * P * sizeof *Phi), *G = malloc(P * P * sizeof *G);
    double *C = malloc(P * P * sizeof *C), *eigenvalues = malloc(P * sizeof *eigenvalues);
    CHECK(akt_population_kernels(pop, points, Phi, G, &err) == AKT_OK);
    akt_gram(split->x, P, split->x, P, D, C);
    for (size_t i = 0; i < P * P; i++)
        Phi[i] += G[i] * C[i];
    CHECK(akt_symmetric_eigen(Phi, P, eigenvalues, &err) == AKT_OK);
    double top = eigenvalues[P - 1];
    free(Phi);
    free(G);
    free(C);
    free(eigenvalues);
    return top;
}

static void relu_identities(const akt_data *data)
{
    akt_error err = {0, ""};
    akt_population_run run;
    akt_population *pop = akt_population_alloc(data, AKT_ACTIVATION_RELU, 1024, &err);
    akt_population_sample(pop, 5, 0);
    akt_population_phase source = phase_of(1.0, 0.05, 0.0, 2.0, 1e-3);
    akt_population_phase target = phase_of(1.0, 0.05, 0.5, 2.0, 1e-3);
    CHECK(akt_population_run_source(pop, &source, &run, &err) == AKT_OK);

    /* Phi_s on the target points: from the state, and from the stored h_s */
    size_t P2 = data->target.rows, Mt = data->test.rows, M = P2 + Mt;
    bool points[AKT_POINTS_COUNT] = {false, true, true, false};
    double *Phi = malloc(M * M * sizeof *Phi), *K = malloc(P2 * P2 * sizeof *K);
    double *K_cross = malloc(M * P2 * sizeof *K_cross);
    CHECK(akt_population_kernels(pop, points, Phi, NULL, &err) == AKT_OK);
    CHECK(akt_population_source_kernel(pop, K, K_cross, &err) == AKT_OK);
    double worst = 0.0;
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < P2; j++)
            worst = fmax(worst, fabs(Phi[i * M + j] - K_cross[i * P2 + j]));
    printf("relu source kernel on the target points vs akt_population_source_kernel: %.2e\n",
           worst / largest_abs(K_cross, M * P2));
    CHECK(worst <= 1e-12 * largest_abs(K_cross, M * P2));

    const char *names[3] = {"source", "scratch", "joint"};
    for (int state = 0; state < 3; state++) {
        if (state == 1) {
            CHECK(akt_population_start_scratch(pop, &err) == AKT_OK);
            CHECK(akt_population_run_target(pop, &target, &run, &err) == AKT_OK);
        } else if (state == 2) {
            CHECK(akt_population_start_joint(pop, AKT_READOUT_SOURCE, &err) == AKT_OK);
            CHECK(akt_population_run_target(pop, &target, &run, &err) == AKT_OK);
        }
        akt_points training = state == 0 ? AKT_POINTS_SOURCE_TRAIN : AKT_POINTS_TARGET_TRAIN;
        const akt_split *split = state == 0 ? &data->source : &data->target;
        double ours = ntk_top(pop, training, split, data->dim);
        double integrator = akt_population_ntk_max(pop);
        printf("relu %-7s lambda_max(Phi + G * C) = %.12f, akt_population_ntk_max = %.12f "
               "(rel %.1e)\n", names[state], ours, integrator, fabs(ours - integrator) / ours);
        CHECK_RELATIVE(integrator, ours, 1e-9);
    }
    free(Phi);
    free(K);
    free(K_cross);
    akt_population_free(pop);
}

int main(void)
{
    akt_data data;
    test_data_linear(&data, 8, 30, 10, 15, 6, 21);
    linear_sample_exact(&data);
    linear_infinite_width(&data);
    relu_identities(&data);
    test_data_free(&data);
    return check_finish();
}
