/* test_moments.c: the linear moment closure (akt_moments_*) against independent references.
 *
 * 1. A finite-width linear network (linear_network.h, width 64, D = 5), integrated by classical
 *    RK4 with dt = 1e-3, against the closure started from the network's OWN empirical moments:
 *    the closure is exact at any width (THEORY.md section 4), so the only differences are the two
 *    integrators' errors. The closure runs at step_tolerance 1e-12; the gap is then the network's
 *    RK4 error, O(dt^4): measured on the joint phase (readout zero) 1.4e-10, 8.8e-12, 5.8e-13 at
 *    dt = 2e-3, 1e-3, 5e-4 (ratios 16 and 15, the dt^4 law), source phase ~1e-13. Tolerance 1e-9
 *    relative on the test predictions: ~100 times the measured RK4 error at dt = 1e-3, while any
 *    wrong term in the closure shows at the 1e-3..1 level.
 *      - source phase, T = 5, (gamma, lambda) = (1, 0.1);
 *      - joint target phase with elastic pull delta = 0.5, T = 5, (gamma2, lambda2) = (0.8, 0.05),
 *        for readout_init zero and source (closure: akt_moments_start_target on its own source
 *        state) and random (the network draws fresh z; the closure takes its empirical moments).
 *    The hidden kernel Phi (akt_moments_kernel) is checked against the network's too.
 * 2. From the fresh state, time converge reaches akt_linear_fixed_point's beta (= <z w>/gamma) to
 *    1e-6, and on the beta = 0 branch the output vanishes.
 * 3. Error paths: NaN data, max_time reached (residual reported), step below min_step, bad size. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

#include "../check.h"
#include "akt/exact.h"
#include "linear_network.h"

enum { WIDTH = 64, D = 5, P1 = 12, P2 = 8, M = 20, NMAX = 1 + 2 * D };

#define NETWORK_DT 1e-3
#define PHASE_TIME 5.0
#define CLOSURE_STEP_TOLERANCE 1e-12
#define AGREEMENT 1e-9

typedef struct {
    double X1[P1 * D], y1[P1], X2[P2 * D], y2[P2], Xt[M * D];
} dataset;

static void make_labels(gsl_rng *rng, const double *X, size_t P, const double *teacher, double *y)
{
    for (size_t mu = 0; mu < P; mu++) {
        double h = 0.0;
        for (size_t k = 0; k < D; k++)
            h += teacher[k] * X[mu * D + k];
        y[mu] = h / sqrt((double)D) + 0.2 * gsl_ran_gaussian(rng, 1.0);
    }
}

static void make_dataset(gsl_rng *rng, dataset *data)
{
    double teacher1[D], teacher2[D];
    random_gaussian(rng, teacher1, D);
    random_gaussian(rng, teacher2, D);
    for (size_t k = 0; k < D; k++) /* an aligned target teacher */
        teacher2[k] = 0.6 * teacher1[k] + 0.8 * teacher2[k];
    random_gaussian(rng, data->X1, P1 * D);
    random_gaussian(rng, data->X2, P2 * D);
    random_gaussian(rng, data->Xt, M * D);
    make_labels(rng, data->X1, P1, teacher1, data->y1);
    make_labels(rng, data->X2, P2, teacher2, data->y2);
}

static void run_network(linear_network *net, const network_phase *phase, double T)
{
    long steps = lround(T / NETWORK_DT);
    for (long s = 0; s < steps; s++)
        linear_network_rk4(net, phase, NETWORK_DT);
}

/* Relative distance of the closure's test predictions to the network's. */
static double prediction_gap(const akt_moments *m, const linear_network *net, const double *Xt,
                             double gamma)
{
    double f_closure[M], f_network[M], diff = 0.0, norm = 0.0;
    akt_moments_predict(m, Xt, M, gamma, f_closure);
    linear_network_predict(net, net->state, Xt, M, gamma, f_network);
    for (size_t i = 0; i < M; i++) {
        diff += (f_closure[i] - f_network[i]) * (f_closure[i] - f_network[i]);
        norm += f_network[i] * f_network[i];
    }
    return sqrt(diff / norm);
}

/* akt_moments_kernel against the network's empirical hidden kernel (1/N) sum_i h_i(x) h_i(x'). */
static void check_kernel(const akt_moments *m, const linear_network *net, const dataset *data)
{
    double phi[M * P1], worst = 0.0;
    akt_moments_kernel(m, data->Xt, M, data->X1, P1, phi);
    for (size_t a = 0; a < M; a++)
        for (size_t b = 0; b < P1; b++) {
            double sum = 0.0;
            for (size_t i = 0; i < net->N; i++) {
                const double *w = net->state + net->N + i * D;
                double h1 = 0.0, h2 = 0.0;
                for (size_t k = 0; k < D; k++) {
                    h1 += w[k] * data->Xt[a * D + k];
                    h2 += w[k] * data->X1[b * D + k];
                }
                sum += h1 * h2 / D;
            }
            sum /= (double)net->N;
            worst = fmax(worst, fabs(phi[a * P1 + b] - sum));
        }
    printf("hidden kernel: worst absolute gap to the network's %.3g\n", worst);
    CHECK(worst < AGREEMENT);
}

static int flow(akt_moments *m, const double *X, const double *y, size_t P, double gamma,
                double lambda, double delta, double T, long *steps)
{
    akt_error err = {0};
    double residual;
    int status = akt_moments_flow(m, X, y, P, gamma, lambda, delta, T, CLOSURE_STEP_TOLERANCE,
                                  1e-10, 1e4, steps, &residual, &err);
    if (status != AKT_OK)
        fprintf(stderr, "akt_moments_flow: %s\n", err.message);
    CHECK(isnan(residual));
    return status;
}

/* Copies the network's current w into w_src and sets up its readout for the target phase. */
static void network_start_target(linear_network *net, akt_readout_init readout_init, gsl_rng *rng)
{
    size_t N = net->N;
    free(net->w_src);
    net->w_src = malloc(N * D * sizeof *net->w_src);
    CHECK(net->w_src != NULL);
    memcpy(net->w_src, net->state + N, N * D * sizeof *net->w_src);
    for (size_t i = 0; i < N; i++) {
        if (readout_init == AKT_READOUT_ZERO)
            net->state[i] = 0.0;
        else if (readout_init == AKT_READOUT_RANDOM)
            net->state[i] = gsl_ran_gaussian(rng, 1.0);
    }
}

static void test_against_network(gsl_rng *rng, const dataset *data)
{
    const double gamma1 = 1.0, lambda1 = 0.1, gamma2 = 0.8, lambda2 = 0.05, delta = 0.5;
    const akt_readout_init inits[] = {AKT_READOUT_ZERO, AKT_READOUT_SOURCE, AKT_READOUT_RANDOM};
    const char *init_names[] = {"zero", "source", "random"};
    akt_error err = {0};
    for (size_t r = 0; r < 3; r++) {
        linear_network net;
        CHECK(linear_network_alloc(&net, WIDTH, D, rng));
        akt_moments *m = akt_moments_alloc(D, &err);
        CHECK(m != NULL);
        double S[NMAX * NMAX];
        size_t n;
        linear_network_moments(&net, S, &n);
        CHECK(akt_moments_set(m, S, n, &err) == AKT_OK);
        CHECK(akt_moments_size(m) == 1 + D);

        network_phase source = {data->X1, data->y1, P1, gamma1, lambda1, 0.0};
        run_network(&net, &source, PHASE_TIME);
        long steps;
        CHECK(flow(m, data->X1, data->y1, P1, gamma1, lambda1, 0.0, PHASE_TIME, &steps) == AKT_OK);
        double gap = prediction_gap(m, &net, data->Xt, gamma1);
        printf("source phase: closure vs network relative gap %.3g (%ld closure steps)\n", gap, steps);
        CHECK(gap < AGREEMENT);
        check_kernel(m, &net, data);

        network_start_target(&net, inits[r], rng);
        if (inits[r] == AKT_READOUT_RANDOM) {
            linear_network_moments(&net, S, &n);
            CHECK(akt_moments_set(m, S, n, &err) == AKT_OK);
        } else {
            akt_moments_start_target(m, inits[r]);
        }
        CHECK(akt_moments_size(m) == 1 + 2 * D);
        network_phase target = {data->X2, data->y2, P2, gamma2, lambda2, delta};
        run_network(&net, &target, PHASE_TIME);
        CHECK(flow(m, data->X2, data->y2, P2, gamma2, lambda2, delta, PHASE_TIME, &steps) == AKT_OK);
        gap = prediction_gap(m, &net, data->Xt, gamma2);
        printf("joint phase (delta %.1f, readout %s): relative gap %.3g (%ld closure steps)\n",
               delta, init_names[r], gap, steps);
        CHECK(gap < AGREEMENT);
        akt_moments_free(m);
        linear_network_free(&net);
    }
}

static void test_converge(const dataset *data)
{
    const double gamma = 1.0, lambda = 0.1;
    akt_error err = {0};
    double beta[D], kappa;
    CHECK(akt_linear_fixed_point(data->X1, data->y1, P1, D, gamma, lambda, beta, &kappa, &err) == AKT_OK);
    akt_moments *m = akt_moments_alloc(D, &err);
    CHECK(m != NULL);
    long steps;
    double residual;
    int status = akt_moments_flow(m, data->X1, data->y1, P1, gamma, lambda, 0.0, AKT_TIME_CONVERGE,
                                  1e-10, 1e-10, 1e4, &steps, &residual, &err);
    if (status != AKT_OK)
        fprintf(stderr, "%s\n", err.message);
    CHECK(status == AKT_OK);
    CHECK(residual < 1e-10);
    const double *S = akt_moments_matrix(m);
    double diff = 0.0, norm = 0.0;
    for (size_t k = 0; k < D; k++) {
        double closure_beta = S[1 + k] / gamma;
        diff += (closure_beta - beta[k]) * (closure_beta - beta[k]);
        norm += beta[k] * beta[k];
    }
    printf("converge: residual %.3g after %ld steps, beta relative gap to the fixed point %.3g\n",
           residual, steps, sqrt(diff / norm));
    CHECK(sqrt(diff / norm) < 1e-6);

    /* The beta = 0 branch: lambda/gamma above |X'y|/sqrt(D). The output decays to zero. */
    double b_norm = 0.0;
    for (size_t k = 0; k < D; k++) {
        double b = 0.0;
        for (size_t mu = 0; mu < P1; mu++)
            b += data->X1[mu * D + k] * data->y1[mu];
        b_norm += b * b / D;
    }
    akt_moments_init_fresh(m);
    status = akt_moments_flow(m, data->X1, data->y1, P1, gamma, 1.5 * sqrt(b_norm), 0.0,
                              AKT_TIME_CONVERGE, 1e-10, 1e-10, 1e4, &steps, &residual, &err);
    CHECK(status == AKT_OK);
    double f[P1], f_norm = 0.0, y_norm = 0.0;
    akt_moments_predict(m, data->X1, P1, gamma, f);
    for (size_t i = 0; i < P1; i++) {
        f_norm += f[i] * f[i];
        y_norm += data->y1[i] * data->y1[i];
    }
    printf("converge, beta = 0 branch: |f|/|y| = %.3g, residual %.3g\n", sqrt(f_norm / y_norm),
           residual);
    CHECK(sqrt(f_norm / y_norm) < 1e-9);
    akt_moments_free(m);
}

static void test_errors(const dataset *data)
{
    akt_error err = {0};
    akt_moments *m = akt_moments_alloc(D, &err);
    CHECK(m != NULL);
    long steps;
    double residual, bad_y[P1];
    memcpy(bad_y, data->y1, sizeof bad_y);
    bad_y[2] = NAN;
    CHECK(akt_moments_flow(m, data->X1, bad_y, P1, 1, 0.1, 0, 1.0, 1e-6, 1e-6, 10, &steps,
                           &residual, &err) == AKT_ERR_NUMERIC);
    /* Converge with too little time: a numerical failure that reports where it got. */
    int status = akt_moments_flow(m, data->X1, data->y1, P1, 1, 0.1, 0, AKT_TIME_CONVERGE, 1e-8,
                                  1e-12, 2.0, &steps, &residual, &err);
    CHECK(status == AKT_ERR_NUMERIC);
    CHECK(strstr(err.message, "max_time") != NULL);
    CHECK(isfinite(residual) && residual > 1e-12);
    printf("max_time error: \"%s\"\n", err.message);
    /* A step floor above any step the stepper can take. */
    akt_moments_init_fresh(m);
    akt_moments_set_min_step(m, 10.0);
    CHECK(akt_moments_flow(m, data->X1, data->y1, P1, 1, 0.1, 0, 50.0, 1e-8, 1e-6, 10, &steps,
                           &residual, &err) == AKT_ERR_NUMERIC);
    CHECK(strstr(err.message, "min_step") != NULL);
    printf("min_step error: \"%s\"\n", err.message);
    double S[4] = {1, 0, 0, 1};
    CHECK(akt_moments_set(m, S, 2, &err) == AKT_ERR_INPUT);
    CHECK(akt_moments_flow(m, data->X1, data->y1, P1, 0.0, 0.1, 0, 1.0, 1e-6, 1e-6, 10, &steps,
                           &residual, &err) == AKT_ERR_INPUT);
    akt_moments_free(m);
}

int main(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    dataset data;
    make_dataset(rng, &data);
    test_against_network(rng, &data);
    test_converge(&data);
    test_errors(&data);
    gsl_rng_free(rng);
    return check_finish();
}
