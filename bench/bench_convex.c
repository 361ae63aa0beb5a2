/* bench_convex.c: method convex on a spec's source and target training sets (issue 13, target
 * "Convex"), timed phase by phase, and an independent check of its certificate.
 *
 * For each phase (source: source split, source gamma and weight decay, the oracle seed of method
 * convex's source stream; scratch: target split, target gamma and weight decay, the scratch
 * stream) it calls akt_convex_solve exactly as src/methods/convex.c does, and reports the time,
 * outer iterations, atoms, relative duality gap and the oracle's best value max_u |<r, phi_u>|
 * against tau = lambda/gamma. Then the check: --directions unit directions u drawn uniformly on
 * the sphere (their own generator, seed 987654321, unrelated to the oracle's), the value
 * |<r, relu(X u/sqrt(D))>| of each on the solution's residual r, and the relative gap the
 * certificate would report if the best of them replaced the oracle's value (the gap is
 * computed as the solver does: theta = r min(1, tau/m), gap = (primal - dual(theta))/primal).
 * The check passes when no direction found beats the oracle's value, or when the gap recomputed
 * with the best of them is no larger than the reported one (to 1e-6 of it): no direction found
 * improves the objective by more than the reported gap.
 * With --solve it also times akt_solve on the whole spec (source, scratch, readout), which is
 * the number the target is about.
 *
 * Usage: bench_convex --spec bench/specs/relu_d200.yaml [--set key=value]... [--tolerance 1e-6]
 *        [--max-iterations N] [--directions 100000] [--phases source,scratch] [--solve]
 *        [--commit HASH]
 * The spec is loaded with source.time=converge, target.time=converge,
 * target.regimes=[scratch,readout], solver.method=convex and solver.tolerance=--tolerance
 * appended to the --set overrides. Seconds are CPU seconds of this process (bench_util.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#define __GSL_CBLAS_H__
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "akt/convex.h"
#include "akt/data.h"
#include "akt/random.h"
#include "akt/solve.h"
#include "akt/spec.h"

#include "bench_util.h"

#define MAX_SETS 32
/* the streams of src/methods/convex.c (CONVEX_STREAM_SOURCE, CONVEX_STREAM_SCRATCH) */
enum { STREAM_SOURCE = 40, STREAM_SCRATCH = 41 };

/* The relative gap of the solver's certificate for residual r, primal value and dual
 * constraint value m (the formula of src/numerics/convex.c, relative_gap). */
static double gap_of(const double *y, const double *r, size_t P, double tau, double primal,
                     double m)
{
    if (primal <= 0.0)
        return 0.0;
    double scale = m > tau ? tau / m : 1.0, dual = 0.0;
    for (size_t mu = 0; mu < P; mu++) {
        double theta = scale * r[mu];
        dual += y[mu] * y[mu] - (y[mu] - theta) * (y[mu] - theta);
    }
    return (primal - 0.5 * dual) / primal;
}

/* The random-direction check on one solution. Returns 0 when it passes. */
static int check_directions(const akt_split *train, size_t D, double tau,
                            const akt_convex_solution *sol, long directions, double *best_out,
                            double *gap_out)
{
    size_t P = train->rows;
    const size_t block = 512;
    double *f = malloc(P * sizeof *f), *r = malloc(P * sizeof *r);
    double *U = malloc(block * D * sizeof *U), *Z = malloc(P * block * sizeof *Z);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!f || !r || !U || !Z || !rng) {
        fprintf(stderr, "bench_convex: out of memory\n");
        exit(1);
    }
    gsl_rng_set(rng, 987654321UL);
    akt_error err = {0};
    if (akt_convex_predict(sol, train->x, P, D, AKT_ACTIVATION_RELU, f, &err) != AKT_OK) {
        fprintf(stderr, "bench_convex: %s\n", err.message);
        exit(1);
    }
    double loss = 0.0, l1 = 0.0;
    for (size_t mu = 0; mu < P; mu++) {
        r[mu] = train->y[mu] - f[mu];
        loss += 0.5 * r[mu] * r[mu];
    }
    for (size_t k = 0; k < sol->K; k++)
        l1 += fabs(sol->c[k]);
    double primal = loss + tau * l1, best = 0.0;
    for (long done = 0; done < directions;) {
        size_t n = (size_t)(directions - done) < block ? (size_t)(directions - done) : block;
        for (size_t i = 0; i < n; i++) {
            double *u = U + i * D;
            for (size_t d = 0; d < D; d++)
                u[d] = gsl_ran_gaussian_ziggurat(rng, 1.0);
            cblas_dscal((int)D, 1.0 / cblas_dnrm2((int)D, u, 1), u, 1);
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)P, (int)n, (int)D,
                    1.0 / sqrt((double)D), train->x, (int)D, U, (int)D, 0.0, Z, (int)n);
        for (size_t i = 0; i < n; i++) {
            double value = 0.0;
            for (size_t mu = 0; mu < P; mu++) {
                double a = Z[mu * n + i];
                value += a > 0.0 ? r[mu] * a : 0.0;
            }
            if (fabs(value) > best)
                best = fabs(value);
        }
        done += (long)n;
    }
    double m = best > sol->oracle_max ? best : sol->oracle_max;
    *best_out = best;
    *gap_out = gap_of(train->y, r, P, tau, primal, m);
    free(f);
    free(r);
    free(U);
    free(Z);
    gsl_rng_free(rng);
    /* passes when no direction beats the oracle's value (the certificate stands as reported), or
     * when the gap recomputed with the best direction is still no larger than the reported gap
     * (to 1e-6 of it: this program's primal is evaluated with other round-off than the
     * solver's) */
    return best <= sol->oracle_max || *gap_out <= sol->gap * (1.0 + 1e-6) ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *spec_path = "bench/specs/relu_d200.yaml", *commit = NULL;
    const char *sets[MAX_SETS + 8];
    size_t nsets = 0;
    double tolerance = 1e-6;
    long max_iterations = 5000, directions = 100000;
    bool source = true, scratch = true, solve = false;
    char tolerance_set[64];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--spec") == 0 && next) {
            spec_path = argv[++i];
        } else if (strcmp(a, "--set") == 0 && next && nsets < MAX_SETS) {
            sets[nsets++] = argv[++i];
        } else if (strcmp(a, "--tolerance") == 0 && next) {
            tolerance = atof(argv[++i]);
        } else if (strcmp(a, "--max-iterations") == 0 && next) {
            max_iterations = atol(argv[++i]);
        } else if (strcmp(a, "--directions") == 0 && next) {
            directions = atol(argv[++i]);
        } else if (strcmp(a, "--phases") == 0 && next) {
            source = strstr(next, "source") != NULL;
            scratch = strstr(next, "scratch") != NULL;
            i++;
        } else if (strcmp(a, "--solve") == 0) {
            solve = true;
        } else if (strcmp(a, "--commit") == 0 && next) {
            commit = argv[++i];
        } else {
            fprintf(stderr, "usage: bench_convex [--spec FILE] [--set key=value]... "
                            "[--tolerance T] [--max-iterations N] [--directions N] "
                            "[--phases source,scratch] [--solve] [--commit HASH]\n");
            return 2;
        }
    }
    snprintf(tolerance_set, sizeof tolerance_set, "solver.tolerance=%.17g", tolerance);
    sets[nsets++] = "source.time=converge";
    sets[nsets++] = "target.time=converge";
    sets[nsets++] = "target.regimes=[scratch,readout]";
    sets[nsets++] = "solver.method=convex";
    sets[nsets++] = tolerance_set;
    akt_spec spec;
    akt_data data;
    akt_error err = {0};
    if (akt_spec_load(&spec, spec_path, sets, nsets, &err) != AKT_OK ||
        akt_data_load(&data, &spec, &err) != AKT_OK) {
        fprintf(stderr, "bench_convex: %s\n", err.message);
        return 1;
    }
    bench_print_machine(stdout, commit);
    printf("# spec: %s, D = %zu, P1 = %zu, P2 = %zu, tolerance %.3g, max_iterations %ld, "
           "directions %ld\n",
           spec_path, data.dim, data.source.rows, data.target.rows, tolerance, max_iterations,
           directions);
    printf("| phase | s | iterations | atoms | gap | converged | oracle max / tau | best of %ld "
           "random / tau | gap with it | check |\n|---|---|---|---|---|---|---|---|---|---|\n",
           directions);
    int failures = 0;
    double total = 0.0;
    for (int phase = 0; phase < 2; phase++) {
        if ((phase == 0 && !source) || (phase == 1 && !scratch))
            continue;
        const akt_split *train = phase == 0 ? &data.source : &data.target;
        double gamma = phase == 0 ? spec.source.gamma : spec.target.gamma;
        double lambda = phase == 0 ? spec.source.weight_decay : spec.target.weight_decay;
        unsigned stream = phase == 0 ? STREAM_SOURCE : STREAM_SCRATCH;
        akt_convex_solution sol;
        double start = bench_now();
        int status = akt_convex_solve(train->x, train->y, train->rows, data.dim,
                                      spec.network.activation, gamma, lambda, tolerance,
                                      akt_data_stream_seed(spec.seed, stream), max_iterations,
                                      &sol, &err);
        double seconds = bench_now() - start;
        total += seconds;
        if (status != AKT_OK)
            fprintf(stderr, "bench_convex: %s: %s\n", phase == 0 ? "source" : "scratch",
                    err.message);
        double tau = lambda / gamma, best = 0.0, gap_check = NAN;
        int bad = directions > 0 ? check_directions(train, data.dim, tau, &sol, directions, &best,
                                                    &gap_check)
                                 : 0;
        failures += bad;
        printf("| %s | %.2f | %ld | %zu | %.3g | %s | %.9f | %.6f | %.3g | %s |\n",
               phase == 0 ? "source" : "scratch", seconds, sol.iterations, sol.K, sol.gap,
               sol.converged ? "yes" : "no", sol.oracle_max / tau, best / tau, gap_check,
               directions > 0 ? (bad ? "FAILED" : "passed") : "-");
        fflush(stdout);
        akt_convex_free(&sol);
    }
    printf("# phases total: %.2f s\n", total);
    if (solve) {
        akt_solution solution;
        double start = bench_now(), wall = bench_wall();
        int status = akt_solve(&spec, &data, &solution, &err);
        printf("# akt_solve (source, scratch, readout): %.2f s CPU, %.2f s wall, status %d%s%s\n",
               bench_now() - start, bench_wall() - wall, status, status ? ": " : "",
               status ? err.message : "");
        failures += status != AKT_OK;
    }
    akt_data_free(&data);
    akt_spec_free(&spec);
    return failures ? 1 : 0;
}
