/* test_relu.c: method convex with relu activation on a small random problem (D = 8, P = 24,
 * gamma = 1, lambda = 0.05; labels from three relu teachers plus noise).
 * Asserts: the relative duality gap is below 1e-6; the objective is no larger than a lower
 * bound (dual value) of an independent FISTA lasso over a fixed dictionary of 20000 random
 * directions, plus 1e-6 relative (a finite dictionary can only do worse), and no dictionary
 * direction beats the oracle's best value on the convex residual; the training fit (unique for
 * a lasso, THEORY.md section 4) is the same to 1e-5 when re-solved from another seed; every
 * atom satisfies the KKT conditions |<r, phi_u>| = tau (1e-6 relative) and
 * sign(c) = sign(<r, phi_u>); objective, predictions and source kernel match direct
 * evaluations with plain loops. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "akt/convex.h"
#include "akt/exact.h"
#include "../check.h"
#include "helpers.h"

enum { D = 8, P = 24, M = 12, DICTIONARY = 20000 };

static const double GAMMA = 1.0, LAMBDA = 0.05;
static double X[P * D], y[P], Xt[M * D];

static void make_problem(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    double teachers[3 * D];
    gaussian_fill(rng, teachers, 3 * D);
    gaussian_fill(rng, X, P * D);
    gaussian_fill(rng, Xt, M * D);
    const double weights[3] = {1.0, -1.0, 0.5};
    for (size_t mu = 0; mu < P; mu++) {
        y[mu] = 0.1 * gsl_ran_gaussian_ziggurat(rng, 1.0);
        for (size_t t = 0; t < 3; t++) {
            double s = 0.0;
            for (size_t d = 0; d < D; d++)
                s += teachers[t * D + d] * X[mu * D + d];
            y[mu] += weights[t] * relu_of(s / sqrt((double)D));
        }
    }
    gsl_rng_free(rng);
}

static double seconds_since(struct timespec start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start.tv_sec) + 1e-9 * (double)(now.tv_nsec - start.tv_nsec);
}

/* Independent reference: lasso over a fixed dictionary, FISTA with restart, to a dictionary
 * duality gap of 1e-7 or 5000 iterations. Returns its dual value, a lower bound on its
 * optimum at any iterate, and (in *dictionary_max) the largest
 * |<r_convex, phi_j>| of the convex solution's residual over the dictionary. */
static double dictionary_lasso(const double *r_convex, double *dictionary_max)
{
    const double tau = LAMBDA / GAMMA;
    double *U = malloc(sizeof(double) * DICTIONARY * D);
    double *F = malloc(sizeof(double) * P * DICTIONARY);
    double *c = calloc(DICTIONARY, sizeof(double));
    double *c_prev = calloc(DICTIONARY, sizeof(double));
    double *extra = calloc(DICTIONARY, sizeof(double));
    double *g = malloc(sizeof(double) * DICTIONARY);
    double gram[P * P], eigenvalues[P], r[P];
    if (!U || !F || !c || !c_prev || !extra || !g) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 12345);
    gaussian_fill(rng, U, DICTIONARY * D);
    gsl_rng_free(rng);
    for (size_t j = 0; j < DICTIONARY; j++) {
        double n = cblas_dnrm2(D, U + j * D, 1);
        cblas_dscal(D, 1.0 / n, U + j * D, 1);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, P, DICTIONARY, D, 1.0 / sqrt((double)D),
                X, D, U, D, 0.0, F, DICTIONARY);
    for (size_t i = 0; i < (size_t)P * DICTIONARY; i++)
        F[i] = relu_of(F[i]);
    /* dictionary value of the convex solution's residual */
    cblas_dgemv(CblasRowMajor, CblasTrans, P, DICTIONARY, 1.0, F, DICTIONARY, r_convex, 1, 0.0, g, 1);
    *dictionary_max = 0.0;
    for (size_t j = 0; j < DICTIONARY; j++)
        if (fabs(g[j]) > *dictionary_max)
            *dictionary_max = fabs(g[j]);

    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, P, P, DICTIONARY, 1.0, F, DICTIONARY, F,
                DICTIONARY, 0.0, gram, P);
    akt_error err = {0};
    akt_symmetric_eigen(gram, P, eigenvalues, &err);
    double L = 1.01 * eigenvalues[P - 1];
    double t = 1.0, objective = 0.5 * cblas_ddot(P, y, 1, y, 1), gap = 1.0, dual = 0.0;
    long it;
    for (it = 0; it < 5000 && gap > 1e-7; it++) {
        memcpy(r, y, sizeof r);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, P, DICTIONARY, -1.0, F, DICTIONARY, extra, 1, 1.0, r, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, P, DICTIONARY, 1.0, F, DICTIONARY, r, 1, 0.0, g, 1);
        memcpy(c_prev, c, sizeof(double) * DICTIONARY);
        double l1 = 0.0;
        for (size_t j = 0; j < DICTIONARY; j++) {
            double v = extra[j] + g[j] / L;
            c[j] = v > tau / L ? v - tau / L : (v < -tau / L ? v + tau / L : 0.0);
            l1 += fabs(c[j]);
        }
        memcpy(r, y, sizeof r);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, P, DICTIONARY, -1.0, F, DICTIONARY, c, 1, 1.0, r, 1);
        double next = 0.5 * cblas_ddot(P, r, 1, r, 1) + tau * l1;
        if (next > objective && t > 1.0) {
            t = 1.0;
            memcpy(extra, c_prev, sizeof(double) * DICTIONARY);
            memcpy(c, c_prev, sizeof(double) * DICTIONARY);
            continue;
        }
        double t_next = 0.5 * (1.0 + sqrt(1.0 + 4.0 * t * t));
        for (size_t j = 0; j < DICTIONARY; j++)
            extra[j] = c[j] + (t - 1.0) / t_next * (c[j] - c_prev[j]);
        t = t_next;
        objective = next;
        if (it % 50 == 0) {
            cblas_dgemv(CblasRowMajor, CblasTrans, P, DICTIONARY, 1.0, F, DICTIONARY, r, 1, 0.0, g, 1);
            double m = 0.0;
            for (size_t j = 0; j < DICTIONARY; j++)
                if (fabs(g[j]) > m)
                    m = fabs(g[j]);
            double s = m > tau ? tau / m : 1.0;
            dual = 0.0;
            for (size_t mu = 0; mu < P; mu++)
                dual += 0.5 * (y[mu] * y[mu] - (y[mu] - s * r[mu]) * (y[mu] - s * r[mu]));
            gap = (objective - dual) / objective;
        }
    }
    size_t support = 0;
    for (size_t j = 0; j < DICTIONARY; j++)
        support += c[j] != 0.0;
    printf("dictionary FISTA: %ld iterations, gap %.3g, objective %.12g, dual %.12g, %zu atoms\n",
           it, gap, objective, dual, support);
    free(U); free(F); free(c); free(c_prev); free(extra); free(g);
    return dual;
}

int main(void)
{
    make_problem();
    const double tau = LAMBDA / GAMMA;
    akt_error err = {0};
    akt_convex_solution sol, other;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int status = akt_convex_solve(X, y, P, D, AKT_ACTIVATION_RELU, GAMMA, LAMBDA, 1e-7, 1, 200,
                                  &sol, &err);
    double seconds = seconds_since(start);
    if (status != AKT_OK)
        fprintf(stderr, "%s\n", err.message);
    CHECK(status == AKT_OK);
    CHECK(sol.converged);
    printf("convex (seed 1): %zu atoms, %ld iterations, gap %.3g, objective %.12g, "
           "oracle max %.10g (tau %g), %.2f s\n",
           sol.K, sol.iterations, sol.gap, sol.objective, sol.oracle_max, tau, seconds);
    CHECK(sol.gap < 1e-6);
    CHECK(sol.K <= 2 * (size_t)P);

    /* objective and residual from a direct evaluation of the atoms */
    double f[P], r[P], l1 = 0.0, loss = 0.0;
    for (size_t mu = 0; mu < P; mu++) {
        f[mu] = direct_output(sol.U, sol.c, sol.K, X + mu * D, D, 1);
        r[mu] = y[mu] - f[mu];
        loss += 0.5 * r[mu] * r[mu];
    }
    for (size_t k = 0; k < sol.K; k++)
        l1 += fabs(sol.c[k]);
    CHECK_RELATIVE(sol.objective, loss + tau * l1, 1e-12);
    double fp[P];
    CHECK(akt_convex_predict(&sol, X, P, D, AKT_ACTIVATION_RELU, fp, &err) == AKT_OK);
    CHECK(relative_distance(fp, f, P) <= 1e-13);

    /* KKT on every atom */
    double worst_kkt = 0.0, atom_max = 0.0;
    for (size_t k = 0; k < sol.K; k++) {
        double g = 0.0;
        for (size_t mu = 0; mu < P; mu++) {
            double a = 0.0;
            for (size_t d = 0; d < D; d++)
                a += sol.U[k * D + d] * X[mu * D + d];
            g += r[mu] * relu_of(a / sqrt((double)D));
        }
        CHECK_RELATIVE(fabs(g), tau, 1e-6);
        CHECK((g > 0) == (sol.c[k] > 0));
        double e = fabs(fabs(g) - tau) / tau;
        if (e > worst_kkt)
            worst_kkt = e;
        if (fabs(g) > atom_max)
            atom_max = fabs(g);
    }
    printf("KKT: worst | |<r, phi_u_k>| - tau | / tau = %.3g\n", worst_kkt);
    CHECK(sol.oracle_max >= atom_max * (1.0 - 1e-12));

    /* against the fixed dictionary */
    double dictionary_max;
    double dictionary_lower = dictionary_lasso(r, &dictionary_max);
    printf("objective: convex %.12g, dictionary optimum >= %.12g (convex lower by %.3g relative)\n",
           sol.objective, dictionary_lower, (dictionary_lower - sol.objective) / dictionary_lower);
    printf("best dictionary direction on the convex residual: %.10g (oracle best %.10g)\n",
           dictionary_max, sol.oracle_max);
    CHECK(sol.objective <= dictionary_lower + 1e-6 * sol.objective);
    CHECK(dictionary_max <= sol.oracle_max * (1.0 + 1e-9));

    /* the training fit is unique: another seed gives the same predictions */
    status = akt_convex_solve(X, y, P, D, AKT_ACTIVATION_RELU, GAMMA, LAMBDA, 1e-7, 2, 200, &other,
                              &err);
    CHECK(status == AKT_OK);
    double f_other[P];
    CHECK(akt_convex_predict(&other, X, P, D, AKT_ACTIVATION_RELU, f_other, &err) == AKT_OK);
    double seed_distance = relative_distance(f_other, f, P);
    printf("seed 2: %zu atoms, gap %.3g, objective %.12g; train predictions differ by %.3g "
           "relative\n", other.K, other.gap, other.objective, seed_distance);
    CHECK(seed_distance <= 1e-5);

    /* source kernel against a direct evaluation */
    double Kmat[M * P];
    CHECK(akt_convex_kernel(&sol, AKT_ACTIVATION_RELU, GAMMA, Xt, M, X, P, D, Kmat, &err) == AKT_OK);
    double worst_kernel = 0.0;
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < P; j++) {
            double direct = 0.0;
            for (size_t k = 0; k < sol.K; k++) {
                double a = 0.0, b = 0.0;
                for (size_t d = 0; d < D; d++) {
                    a += sol.U[k * D + d] * Xt[i * D + d];
                    b += sol.U[k * D + d] * X[j * D + d];
                }
                direct += GAMMA * fabs(sol.c[k]) * relu_of(a / sqrt((double)D)) *
                          relu_of(b / sqrt((double)D));
            }
            double e = fabs(Kmat[i * P + j] - direct) / (fabs(direct) > 1e-3 ? fabs(direct) : 1e-3);
            if (e > worst_kernel)
                worst_kernel = e;
        }
    printf("kernel: worst relative error against direct evaluation %.3g\n", worst_kernel);
    CHECK(worst_kernel <= 1e-12);

    akt_convex_free(&sol);
    akt_convex_free(&other);
    return check_finish();
}
