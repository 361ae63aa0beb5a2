/* test_observables.c: the observables of the deterministic methods (exact, lazy) against
 * independent references.
 *
 * 1. exact at T -> 0 against lazy (a linear problem, layer scales 1.3 and 0.7, readout_init zero
 *    and source): the second moments start to move at O(T^2) (their rate is linear in <z w>,
 *    which starts at 0 for a fresh network and is O(T) after a source phase of time T), and to
 *    first order in T both methods follow kernel flow with the same initial NTK, so with
 *    T = 1e-10 every observable of every regime agrees with the lazy method's (initial kernels,
 *    gamma -> 0) up to O(T^2) = 1e-20 and round-off (measured 2.2e-16, relative to max(1, |v|));
 *    tolerance 1e-12, while a missing layer scale, a G of the wrong readout or a wrong split
 *    shows at the 1e-2..1 level. Both methods give NAN in the same places.
 * 2. The closure's distances from the source against a finite linear network (width 64, D = 5,
 *    RK4 at dt = 1e-3, linear_network.h) started from the closure's own empirical moments: the
 *    closure is exact at any width, so the only differences are the two integrators' errors
 *    (~1e-11, see test_moments.c); tolerance 1e-9 relative. Joint with elastic pull for readout_init
 *    zero, source (akt_moments_start_target, which tracks <v z_src>) and random (the network's
 *    fresh readout: its empirical moments and <v z_src> set by hand).
 * 3. The fixed point's G = <z^2> = gamma |beta| (balanced neurons on the ray of beta) against the
 *    closure run to t = 2000 (source and scratch at time converge vs time 2000): the NTK
 *    alignments and the feature-learning magnitude, which read G, agree to 1e-8 relative (the
 *    closure's distance to the fixed point at t = 2000 plus its integration error at
 *    step_tolerance 1e-8: measured 2.5e-10 for every observable). A wrong G (e.g. |beta| without
 *    gamma, or <z^2> = 0) shows at the 1e-1 level. The convex method's linear case (the same
 *    beta from akt_linear_fixed_point, but Phi and G from its atom by akt_convex_kernel and the
 *    balanced-atom slopes) gives the same observables up to round-off (measured 2.2e-16;
 *    tolerance 1e-12).
 * 4. lazy relu alignments against the arc-cosine kernels written out here (degree 1 for Phi0,
 *    degree 0 for <phi' phi'>, layer scales 1.2 and 0.8): the acos of a cosine that rounds next
 *    to 1 on the diagonal (1 - 1.1e-16) gives an angle of 1.5e-8 instead of 0, which moves a
 *    diagonal entry of the degree-0 kernel by 5e-9 relative and an alignment by less; tolerance
 *    1e-8 (measured 1.7e-10; a wrong scale or normalisation shows at 1e-2). */
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

#include "../check.h"
#include "akt/core.h"
#include "akt/data.h"
#include "akt/exact.h"
#include "akt/solve.h"
#include "akt/spec.h"
#include "linear_network.h"

#define LIMIT_TOLERANCE 1e-12
#define NETWORK_TOLERANCE 1e-9
#define FIXED_POINT_TOLERANCE 1e-8
#define CLOSED_FORM_TOLERANCE 1e-8
#define CONVEX_TOLERANCE 1e-12

static int solve_yaml(const char *yaml, const char *const *overrides, size_t count,
                      akt_data *data, akt_solution *solution)
{
    akt_spec spec;
    akt_error err = {0};
    int status = akt_spec_load_string(&spec, yaml, "observables", ".", overrides, count, &err);
    if (status == AKT_OK)
        status = akt_data_load(data, &spec, &err);
    if (status == AKT_OK)
        status = akt_solve(&spec, data, solution, &err);
    if (status != AKT_OK)
        fprintf(stderr, "solve: %s\n", err.message);
    akt_spec_free(&spec);
    return status;
}

/* Every observable of every regime of a against b: NAN in the same places, otherwise within
 * tolerance relative to max(1, |b|). */
static void check_same_observables(const akt_solution *a, const akt_solution *b, double tolerance,
                                   const char *what)
{
    CHECK(a->count == b->count);
    double worst = 0.0;
    for (size_t r = 0; r < a->count && r < b->count; r++) {
        const akt_result *x = &a->results[r], *y = &b->results[r];
        CHECK(x->regime == y->regime);
        for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++) {
            double u = x->observables[k], v = y->observables[k];
            if (isnan(u) || isnan(v)) {
                if (isnan(u) != isnan(v))
                    fprintf(stderr, "%s: %s %s: %g vs %g\n", what, akt_regime_name(x->regime),
                            akt_observable_name((akt_observable)k), u, v);
                CHECK(isnan(u) == isnan(v));
                continue;
            }
            double gap = fabs(u - v) / fmax(1.0, fabs(v));
            worst = fmax(worst, gap);
            if (!(gap <= tolerance))
                fprintf(stderr, "%s: %s %s: %.15g vs %.15g\n", what, akt_regime_name(x->regime),
                        akt_observable_name((akt_observable)k), u, v);
            CHECK(gap <= tolerance);
        }
    }
    printf("%s: worst relative gap of the observables %.3g\n", what, worst);
}

static const char *linear_problem =
    "seed: 4\n"
    "data: {task: linear, dim: 8, alignment: 0.6, noise: 0.1, source: {samples: 20},\n"
    "       target: {samples: 12}, test: {samples: 30}}\n"
    "network: {activation: linear, hidden_scale: 1.3, readout_scale: 0.7}\n"
    "source: {gamma: 1.0, weight_decay: 0, time: 1.0e-10}\n"
    "target: {regimes: [scratch, readout, joint], gamma: 1.0, weight_decay: 0, elastic: 0.5,\n"
    "         readout_decay: 0.01, readout_init: zero, time: 1.0e-10}\n"
    "solver: {method: exact}\n";

static void test_exact_at_small_time_is_lazy(void)
{
    const char *inits[] = {"target.readout_init=zero", "target.readout_init=source"};
    for (size_t i = 0; i < 2; i++) {
        const char *exact[] = {inits[i]}, *lazy[] = {inits[i], "solver.method=lazy"};
        akt_data data_exact, data_lazy;
        akt_solution exact_solution, lazy_solution;
        CHECK(solve_yaml(linear_problem, exact, 1, &data_exact, &exact_solution) == AKT_OK);
        CHECK(solve_yaml(linear_problem, lazy, 2, &data_lazy, &lazy_solution) == AKT_OK);
        char what[64];
        snprintf(what, sizeof what, "exact at T = 1e-10 vs lazy (%s)", inits[i]);
        check_same_observables(&exact_solution, &lazy_solution, LIMIT_TOLERANCE, what);
        /* What the lazy limit says in closed form: no feature learning, retention 1, the
         * hidden weights at the source's, the readout at s_z^2 from the source's (zero) or at
         * it (source). */
        const akt_result *joint = akt_solution_find(&lazy_solution, AKT_REGIME_JOINT);
        CHECK(joint != NULL);
        if (joint) {
            CHECK(joint->observables[AKT_OBSERVABLE_FEATURE_LEARNING] == 0.0);
            CHECK_RELATIVE(joint->observables[AKT_OBSERVABLE_RETENTION], 1.0, 1e-13);
            CHECK(joint->observables[AKT_OBSERVABLE_HIDDEN_DISTANCE] == 0.0);
            CHECK_RELATIVE(joint->observables[AKT_OBSERVABLE_READOUT_DISTANCE] + 1.0,
                           (i == 0 ? 0.49 : 0.0) + 1.0, 1e-15);
        }
        akt_data_free(&data_exact);
        akt_data_free(&data_lazy);
    }
}

/* ---- 2. distances from the source: closure vs finite network ---- */

enum { WIDTH = 64, D = 5, P1 = 12, P2 = 8, NMAX = 1 + 2 * D };
#define NETWORK_DT 1e-3
#define PHASE_TIME 5.0

static void make_linear_data(gsl_rng *rng, double *X1, double *y1, double *X2, double *y2)
{
    double teacher[D];
    random_gaussian(rng, teacher, D);
    random_gaussian(rng, X1, P1 * D);
    random_gaussian(rng, X2, P2 * D);
    for (size_t mu = 0; mu < P1 + P2; mu++) {
        const double *x = mu < P1 ? X1 + mu * D : X2 + (mu - P1) * D;
        double h = 0.0;
        for (size_t k = 0; k < D; k++)
            h += teacher[k] * x[k] * (mu < P1 ? 1.0 : (k % 2 ? -0.5 : 1.0));
        double *label = mu < P1 ? &y1[mu] : &y2[mu - P1];
        *label = h / sqrt((double)D) + 0.2 * gsl_ran_gaussian(rng, 1.0);
    }
}

static void run_network(linear_network *net, const network_phase *phase)
{
    long steps = lround(PHASE_TIME / NETWORK_DT);
    for (long s = 0; s < steps; s++)
        linear_network_rk4(net, phase, NETWORK_DT);
}

static int closure_flow(akt_moments *m, const double *X, const double *y, size_t P, double gamma,
                        double lambda, double delta)
{
    akt_error err = {0};
    long steps;
    double residual;
    int status = akt_moments_flow(m, X, y, P, gamma, lambda, delta, PHASE_TIME, 1e-12, 1e-10, 1e4,
                                  &steps, &residual, &err);
    if (status != AKT_OK)
        fprintf(stderr, "akt_moments_flow: %s\n", err.message);
    return status;
}

static void test_distances_against_network(gsl_rng *rng)
{
    double X1[P1 * D], y1[P1], X2[P2 * D], y2[P2];
    make_linear_data(rng, X1, y1, X2, y2);
    const double gamma1 = 1.0, lambda1 = 0.1, gamma2 = 0.8, lambda2 = 0.05, delta = 0.5;
    const akt_readout_init inits[] = {AKT_READOUT_ZERO, AKT_READOUT_SOURCE, AKT_READOUT_RANDOM};
    const char *names[] = {"zero", "source", "random"};
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
        CHECK(isnan(akt_moments_hidden_distance(m)) && isnan(akt_moments_readout_distance(m)));

        network_phase source = {X1, y1, P1, gamma1, lambda1, 0.0};
        run_network(&net, &source);
        CHECK(closure_flow(m, X1, y1, P1, gamma1, lambda1, 0.0) == AKT_OK);

        /* The network's target start: w_src := w, z_src := z, then its readout. */
        double z_src[WIDTH];
        memcpy(z_src, net.state, sizeof z_src);
        net.w_src = malloc(WIDTH * D * sizeof *net.w_src);
        CHECK(net.w_src != NULL);
        memcpy(net.w_src, net.state + WIDTH, WIDTH * D * sizeof *net.w_src);
        for (size_t i = 0; i < WIDTH; i++)
            if (inits[r] == AKT_READOUT_ZERO)
                net.state[i] = 0.0;
            else if (inits[r] == AKT_READOUT_RANDOM)
                net.state[i] = gsl_ran_gaussian(rng, 1.0);
        if (inits[r] == AKT_READOUT_RANDOM) {
            /* A fresh readout: the closure takes the network's empirical moments, and <v z_src>. */
            double c[NMAX] = {0}, z_src_square = 0.0;
            linear_network_moments(&net, S, &n);
            CHECK(akt_moments_set(m, S, n, &err) == AKT_OK);
            for (size_t i = 0; i < WIDTH; i++) {
                c[0] += net.state[i] * z_src[i] / WIDTH;
                for (size_t k = 0; k < D; k++) {
                    c[1 + k] += net.state[WIDTH + i * D + k] * z_src[i] / WIDTH;
                    c[1 + D + k] += net.w_src[i * D + k] * z_src[i] / WIDTH;
                }
                z_src_square += z_src[i] * z_src[i] / WIDTH;
            }
            CHECK(akt_moments_set_source_readout(m, c, z_src_square, &err) == AKT_OK);
        } else {
            akt_moments_start_target(m, inits[r]);
        }
        CHECK(akt_moments_hidden_distance(m) == 0.0);

        network_phase target = {X2, y2, P2, gamma2, lambda2, delta};
        run_network(&net, &target);
        CHECK(closure_flow(m, X2, y2, P2, gamma2, lambda2, delta) == AKT_OK);
        double hidden = 0.0, readout = 0.0;
        for (size_t i = 0; i < WIDTH; i++) {
            for (size_t k = 0; k < D; k++) {
                double d = net.state[WIDTH + i * D + k] - net.w_src[i * D + k];
                hidden += d * d / ((double)D * WIDTH);
            }
            readout += (net.state[i] - z_src[i]) * (net.state[i] - z_src[i]) / WIDTH;
        }
        printf("joint (readout %s): hidden distance %.10g (network %.10g), readout distance "
               "%.10g (network %.10g)\n", names[r], akt_moments_hidden_distance(m), hidden,
               akt_moments_readout_distance(m), readout);
        CHECK(hidden > 1e-3 && readout > 1e-3); /* the weights did move */
        CHECK_RELATIVE(akt_moments_hidden_distance(m), hidden, NETWORK_TOLERANCE);
        CHECK_RELATIVE(akt_moments_readout_distance(m), readout, NETWORK_TOLERANCE);
        /* The saved state carries the tracked readout: a phase run again from it ends where the
         * first run did. */
        double saved[NMAX * NMAX + NMAX], distance = akt_moments_readout_distance(m);
        CHECK(akt_moments_state_length(m) == NMAX * NMAX + NMAX);
        akt_moments_save(m, saved);
        CHECK(closure_flow(m, X2, y2, P2, gamma2, lambda2, delta) == AKT_OK);
        CHECK(akt_moments_readout_distance(m) != distance);
        akt_moments_restore(m, saved);
        CHECK(akt_moments_readout_distance(m) == distance);
        akt_moments_free(m);
        linear_network_free(&net);
    }
}

/* ---- 3. the fixed point's G against the closure run long ---- */

static const char *converge_problem =
    "seed: 6\n"
    "data: {task: linear, dim: 8, alignment: 0.6, noise: 0.1, source: {samples: 20},\n"
    "       target: {samples: 12}, test: {samples: 30}}\n"
    "network: {activation: linear}\n"
    "source: {gamma: 1.0, weight_decay: 0.1, time: converge}\n"
    "target: {regimes: [scratch, readout], gamma: 0.8, weight_decay: 0.1, readout_decay: 0.01,\n"
    "         time: converge}\n"
    "solver: {method: exact, step_tolerance: 1.0e-8}\n";

static void test_fixed_point_against_long_flow(void)
{
    const char *long_time[] = {"source.time=2000", "target.time=2000"};
    akt_data data_fixed, data_flow;
    akt_solution fixed, flow;
    CHECK(solve_yaml(converge_problem, NULL, 0, &data_fixed, &fixed) == AKT_OK);
    CHECK(solve_yaml(converge_problem, long_time, 2, &data_flow, &flow) == AKT_OK);
    check_same_observables(&flow, &fixed, FIXED_POINT_TOLERANCE,
                           "closure at t = 2000 vs the fixed point");
    const akt_result *source = akt_solution_find(&fixed, AKT_REGIME_SOURCE);
    CHECK(source && !isnan(source->observables[AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN]) &&
          source->observables[AKT_OBSERVABLE_FEATURE_LEARNING] > 0.1);
    akt_data_free(&data_fixed);
    akt_data_free(&data_flow);

    /* The convex method's linear case is the same fixed point (one atom on the ray of beta),
     * its G from the balanced atoms: the same observables. */
    const char *convex[] = {"solver.method=convex", "solver.tolerance=1e-10"};
    akt_data data_convex;
    akt_solution convex_solution;
    CHECK(solve_yaml(converge_problem, NULL, 0, &data_fixed, &fixed) == AKT_OK);
    CHECK(solve_yaml(converge_problem, convex, 2, &data_convex, &convex_solution) == AKT_OK);
    check_same_observables(&convex_solution, &fixed, CONVEX_TOLERANCE,
                           "convex (linear) vs the exact fixed point");
    akt_data_free(&data_fixed);
    akt_data_free(&data_convex);
}

/* ---- 4. lazy relu alignments against the arc-cosine closed forms ---- */

static const char *relu_problem =
    "seed: 8\n"
    "data: {task: polynomial, dim: 6, alignment: 0.6, noise: 0.1, hermite: {1: 1.0, 2: 0.5},\n"
    "       source: {samples: 15}, target: {samples: 10}, test: {samples: 25}}\n"
    "network: {activation: relu, hidden_scale: 1.2, readout_scale: 0.8}\n"
    "source: {gamma: 1.0, weight_decay: 0, time: 3}\n"
    "target: {regimes: [scratch, readout, joint], gamma: 1.0, weight_decay: 0, elastic: 0,\n"
    "         readout_decay: 0.01, readout_init: zero, time: 3}\n"
    "solver: {method: lazy}\n";

/* y'Ky / (|K|_F |y|^2) of Phi0 (feature) and Phi0 + s_z^2 G0 * C (ntk) on the split, from the
 * arc-cosine kernels of degree 1 and 0 with pre-activation covariance s_h^2 C. */
static void arc_cosine_alignments(const akt_split *split, size_t dim, double s_h, double s_z,
                                  bool with_readout, double *feature, double *ntk)
{
    size_t n = split->rows;
    double yPy = 0.0, yKy = 0.0, PP = 0.0, KK = 0.0, yy = 0.0;
    for (size_t i = 0; i < n; i++) {
        yy += split->y[i] * split->y[i];
        for (size_t j = 0; j < n; j++) {
            const double *a = split->x + i * dim, *b = split->x + j * dim;
            double aa = 0.0, bb = 0.0, ab = 0.0;
            for (size_t k = 0; k < dim; k++) {
                aa += a[k] * a[k];
                bb += b[k] * b[k];
                ab += a[k] * b[k];
            }
            double cosine = fmax(-1.0, fmin(1.0, ab / sqrt(aa * bb)));
            double angle = acos(cosine);
            double phi = s_h * s_h * sqrt(aa * bb) / dim / (2.0 * M_PI) *
                         (sin(angle) + (M_PI - angle) * cosine);
            double g = with_readout ? s_z * s_z * (M_PI - angle) / (2.0 * M_PI) : 0.0;
            double k = phi + g * ab / dim;
            double weight = split->y[i] * split->y[j];
            yPy += weight * phi;
            yKy += weight * k;
            PP += phi * phi;
            KK += k * k;
        }
    }
    *feature = yPy / (sqrt(PP) * yy);
    *ntk = yKy / (sqrt(KK) * yy);
}

static void test_lazy_relu_closed_forms(void)
{
    akt_data data;
    akt_solution solution;
    CHECK(solve_yaml(relu_problem, NULL, 0, &data, &solution) == AKT_OK);
    const double s_h = 1.2, s_z = 0.8;
    double worst = 0.0;
    for (size_t r = 0; r < solution.count; r++) {
        const akt_result *result = &solution.results[r];
        bool source = result->regime == AKT_REGIME_SOURCE;
        /* The joint regime with readout_init zero has no readout at O(1): its NTK is Phi0;
         * the readout regime's NTK is the source kernel Phi0. */
        bool with_readout = result->regime == AKT_REGIME_SOURCE ||
                            result->regime == AKT_REGIME_SCRATCH;
        const akt_split *splits[2] = {source ? &data.source : &data.target,
                                      source ? &data.source_test : &data.test};
        for (int s = 0; s < 2; s++) {
            double feature, ntk;
            arc_cosine_alignments(splits[s], data.dim, s_h, s_z, with_readout, &feature, &ntk);
            const double *o = result->observables;
            double got_feature = o[s ? AKT_OBSERVABLE_FEATURE_ALIGNMENT_TEST
                                     : AKT_OBSERVABLE_FEATURE_ALIGNMENT_TRAIN];
            double got_ntk = o[s ? AKT_OBSERVABLE_NTK_ALIGNMENT_TEST
                                 : AKT_OBSERVABLE_NTK_ALIGNMENT_TRAIN];
            CHECK_RELATIVE(got_feature, feature, CLOSED_FORM_TOLERANCE);
            CHECK_RELATIVE(got_ntk, ntk, CLOSED_FORM_TOLERANCE);
            worst = fmax(worst, fmax(fabs(got_feature - feature) / feature,
                                     fabs(got_ntk - ntk) / ntk));
            if (s == 0)
                printf("lazy relu %s: feature alignment %.6f, ntk alignment %.6f (train)\n",
                       akt_regime_name(result->regime), feature, ntk);
        }
        if (result->regime == AKT_REGIME_SCRATCH || result->regime == AKT_REGIME_JOINT)
            CHECK_RELATIVE(result->observables[AKT_OBSERVABLE_RETENTION], 1.0, 1e-13);
    }
    printf("lazy relu alignments vs arc-cosine closed forms: worst relative gap %.3g\n", worst);
    akt_data_free(&data);
}

int main(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 9);
    test_exact_at_small_time_is_lazy();
    test_distances_against_network(rng);
    test_fixed_point_against_long_flow();
    test_lazy_relu_closed_forms();
    gsl_rng_free(rng);
    return check_finish();
}
