/* network.c: finite-width two-layer networks trained by forward Euler (THEORY.md section 1).
 *
 * These networks are the ground truth the infinite-width theory is compared with, so they are
 * written exactly as THEORY.md states them: raw D-dimensional weights, mean-field output
 * 1/(gamma N) sum z phi(h), learning rate gamma^2 N, weight decay on every weight, elastic pull on
 * the hidden weights only. Every matrix product goes through CBLAS (OpenBLAS threads); the state
 * and workspace are O(N D + N P), plus three P x P Grams for the lambda_max monitor.
 *
 * Forward Euler is only faithful while dt lambda_max(K) is well below 2, and lambda_max of the
 * empirical NTK grows as features are learned (THEORY.md section 1), so the trainer estimates
 * lambda_max by power iteration every few steps: in automatic mode it halves dt whenever
 * dt (lambda_max + lambda + delta) exceeds the stability target (0.5, a factor 4 inside the
 * stability edge, which also covers the power iteration's underestimate); with a fixed dt it
 * reports the largest value seen. */
#include "akt/finite.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* gsl_randist.h pulls in GSL's own cblas.h, whose enums clash with OpenBLAS's (included above,
 * and the one linked); its include guard keeps GSL's copy out (as in data.c). */
#define __GSL_CBLAS_H__
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "akt/activation.h"
#include "akt/exact.h"
#include "core/threads.h"
#include "core/util.h"

/* Rows of the query set processed at once by predict/kernel: bounds their memory at
 * O(N * PREDICT_BLOCK) whatever the number of test points. */
#define PREDICT_BLOCK 256
/* Power iterations per lambda_max estimate. Warm-started from the all-ones vector, which is close
 * to the top eigenvector of relu and tanh kernels (their mean component dominates); the estimate
 * is a lower bound, and the stability target leaves a factor 4 to the edge for it. */
#define POWER_ITERATIONS 20
#define DEFAULT_STABILITY 0.5
#define DEFAULT_MONITOR_EVERY 20
#define DEFAULT_MIN_STEP 1e-9

/* ---- network -------------------------------------------------------------------------------- */

akt_network *akt_network_alloc(size_t width, size_t dim, akt_activation activation,
                               akt_error *err)
{
    if (width == 0 || dim == 0) {
        akt_error_set(err, AKT_ERR_INPUT, "finite network: width and dimension must be positive "
                      "(got width %zu, D %zu)", width, dim);
        return NULL;
    }
    akt_network *net = calloc(1, sizeof *net);
    if (net) {
        net->W = calloc(width * dim, sizeof *net->W);
        net->W_src = calloc(width * dim, sizeof *net->W_src);
        net->z = calloc(width, sizeof *net->z);
    }
    if (!net || !net->W || !net->W_src || !net->z) {
        akt_network_free(net);
        akt_out_of_memory(err, "the weights");
        return NULL;
    }
    net->width = width;
    net->dim = dim;
    net->activation = activation;
    net->hidden_scale = net->readout_scale = 1.0;
    return net;
}

void akt_network_free(akt_network *net)
{
    if (!net)
        return;
    free(net->W);
    free(net->W_src);
    free(net->z);
    free(net);
}

void akt_network_copy(akt_network *dest, const akt_network *src)
{
    size_t nd = src->width * src->dim;
    memcpy(dest->W, src->W, nd * sizeof *dest->W);
    memcpy(dest->W_src, src->W_src, nd * sizeof *dest->W_src);
    memcpy(dest->z, src->z, src->width * sizeof *dest->z);
    dest->activation = src->activation;
    dest->hidden_scale = src->hidden_scale;
    dest->readout_scale = src->readout_scale;
}

void akt_network_set_anchor(akt_network *net)
{
    memcpy(net->W_src, net->W, net->width * net->dim * sizeof *net->W);
}

static gsl_rng *make_rng(unsigned long stream_seed, akt_error *err)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng) {
        akt_out_of_memory(err, "a random number generator");
        return NULL;
    }
    gsl_rng_set(rng, stream_seed);
    return rng;
}

int akt_network_init(akt_network *net, unsigned long stream_seed, akt_error *err)
{
    gsl_rng *rng = make_rng(stream_seed, err);
    if (!rng)
        return AKT_ERR_MEMORY;
    for (size_t k = 0; k < net->width * net->dim; k++)
        net->W[k] = gsl_ran_gaussian(rng, net->hidden_scale);
    for (size_t i = 0; i < net->width; i++)
        net->z[i] = gsl_ran_gaussian(rng, net->readout_scale);
    gsl_rng_free(rng);
    return AKT_OK;
}

int akt_network_init_readout(akt_network *net, unsigned long stream_seed, akt_error *err)
{
    gsl_rng *rng = make_rng(stream_seed, err);
    if (!rng)
        return AKT_ERR_MEMORY;
    for (size_t i = 0; i < net->width; i++)
        net->z[i] = gsl_ran_gaussian(rng, net->readout_scale);
    gsl_rng_free(rng);
    return AKT_OK;
}

/* ---- forward pass --------------------------------------------------------------------------- */

/* H = X W'/sqrt(D): rows x N pre-activations of the given rows. */
static void preactivations(const akt_network *net, const double *X, size_t rows, double *H)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)net->width,
                (int)net->dim, 1.0 / sqrt((double)net->dim), X, (int)net->dim, net->W,
                (int)net->dim, 0.0, H, (int)net->width);
}

/* A = phi(H) and, when Dphi is not NULL, Dphi = phi'(H) (either may alias H). */
static void activate(akt_activation act, double *H, size_t count, double *A, double *Dphi)
{
    akt_activation_apply(act, H, A, Dphi, count);
}

int akt_network_predict(const akt_network *net, const double *X, size_t M, double gamma,
                        double *f, akt_error *err)
{
    size_t N = net->width, block = M < PREDICT_BLOCK ? M : PREDICT_BLOCK;
    if (M == 0)
        return AKT_OK;
    double *H = malloc(block * N * sizeof *H);
    if (!H)
        return akt_out_of_memory(err, "the prediction block");
    for (size_t start = 0; start < M; start += block) {
        size_t rows = M - start < block ? M - start : block;
        preactivations(net, X + start * net->dim, rows, H);
        activate(net->activation, H, rows * N, H, NULL);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)rows, (int)N, 1.0 / (gamma * (double)N), H,
                    (int)N, net->z, 1, 0.0, f + start, 1);
    }
    free(H);
    return AKT_OK;
}

int akt_network_kernel(const akt_network *net, const double *A, size_t a, const double *B,
                       size_t b, double *out, akt_error *err)
{
    size_t N = net->width;
    double *FB = malloc((b ? b : 1) * N * sizeof *FB);
    double *FA = malloc(PREDICT_BLOCK * N * sizeof *FA);
    if (!FB || !FA) {
        free(FB);
        free(FA);
        return akt_out_of_memory(err, "the kernel features");
    }
    preactivations(net, B, b, FB);
    activate(net->activation, FB, b * N, FB, NULL);
    for (size_t start = 0; start < a; start += PREDICT_BLOCK) {
        size_t rows = a - start < PREDICT_BLOCK ? a - start : PREDICT_BLOCK;
        preactivations(net, A + start * net->dim, rows, FA);
        activate(net->activation, FA, rows * N, FA, NULL);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)b, (int)N,
                    1.0 / (double)N, FA, (int)N, FB, (int)N, 0.0, out + start * b, (int)b);
    }
    free(FB);
    free(FA);
    return AKT_OK;
}

/* Neurons per block of akt_network_feature_kernels: bounds its scratch at O(n * block). */
#define NEURON_BLOCK 256

/* The pre-activations of neurons [first, first + count) on n rows: H (n x count). */
static void block_preactivations(const akt_network *net, const double *X, size_t n, size_t first,
                                 size_t count, double *H)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)count, (int)net->dim,
                1.0 / sqrt((double)net->dim), X, (int)net->dim, net->W + first * net->dim,
                (int)net->dim, 0.0, H, (int)count);
}

int akt_network_feature_kernels(const akt_network *net, const double *X, size_t n, double *Phi,
                                double *G, akt_error *err)
{
    size_t N = net->width, block = N < NEURON_BLOCK ? N : NEURON_BLOCK;
    if (n == 0)
        return AKT_OK;
    double *A = malloc(n * block * sizeof *A), *B = malloc(n * block * sizeof *B);
    if (!A || !B) {
        free(A);
        free(B);
        return akt_out_of_memory(err, "the kernel features");
    }
    /* Each block adds its neurons' share (1/N) F F' to the upper triangles (dsyrk, beta 1). */
    for (size_t first = 0; first < N; first += block) {
        size_t count = N - first < block ? N - first : block;
        double beta = first == 0 ? 0.0 : 1.0;
        block_preactivations(net, X, n, first, count, A);
        activate(net->activation, A, n * count, A, B);
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)count, 1.0 / (double)N,
                    A, (int)count, beta, Phi, (int)n);
        if (!G)
            continue;
        for (size_t mu = 0; mu < n; mu++)
            for (size_t i = 0; i < count; i++)
                B[mu * count + i] *= net->z[first + i];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)count, 1.0 / (double)N,
                    B, (int)count, beta, G, (int)n);
    }
    akt_symmetrize_upper(Phi, n);
    if (G)
        akt_symmetrize_upper(G, n);
    free(A);
    free(B);
    return AKT_OK;
}

void akt_network_distances(const akt_network *net, const akt_network *reference, double *hidden,
                           double *readout)
{
    size_t N = net->width, D = net->dim;
    double w = 0.0, z = 0.0;
    for (size_t k = 0; k < N * D; k++)
        w += (net->W[k] - reference->W[k]) * (net->W[k] - reference->W[k]);
    for (size_t i = 0; i < N; i++)
        z += (net->z[i] - reference->z[i]) * (net->z[i] - reference->z[i]);
    *hidden = w / ((double)N * (double)D);
    *readout = z / (double)N;
}

int akt_network_readout_predict(const akt_network *net, const double *X2, const double *y2,
                                size_t P2, double readout_decay, const double *Xq, size_t M,
                                double *f, akt_error *err)
{
    double *K = malloc((P2 * P2 + M * P2 + 1) * sizeof *K);
    if (!K)
        return akt_out_of_memory(err, "the readout kernels");
    double *K_cross = K + P2 * P2;
    int status = akt_network_kernel(net, X2, P2, X2, P2, K, err);
    if (!status)
        status = akt_network_kernel(net, Xq, M, X2, P2, K_cross, err);
    if (!status)
        status = akt_ridge_predict(K, P2, K_cross, M, y2, readout_decay, f, err);
    free(K);
    return status;
}

/* ---- gradient ------------------------------------------------------------------------------- */

/* Per-problem workspace of the trainer: O(N P + N D + P^2). */
typedef struct {
    double *H, *A;        /* P x N: pre-activations (then phi'), activations */
    double *f, *delta;    /* P */
    double *dW, *dz;      /* N x D, N */
    double *C, *K, *G;    /* P x P: data Gram X X'/D, NTK Gram, derivative Gram */
    double *v, *Kv;       /* P */
} workspace;

static void workspace_free(workspace *ws)
{
    free(ws->H);
    free(ws->A);
    free(ws->f);
    free(ws->delta);
    free(ws->dW);
    free(ws->dz);
    free(ws->C);
    free(ws->K);
    free(ws->G);
    free(ws->v);
    free(ws->Kv);
    memset(ws, 0, sizeof *ws);
}

static int workspace_alloc(workspace *ws, const akt_network *net, size_t P, akt_error *err)
{
    size_t N = net->width, D = net->dim, p = P ? P : 1;
    memset(ws, 0, sizeof *ws);
    ws->H = malloc(p * N * sizeof *ws->H);
    ws->A = malloc(p * N * sizeof *ws->A);
    ws->f = malloc(p * sizeof *ws->f);
    ws->delta = malloc(p * sizeof *ws->delta);
    ws->dW = malloc(N * D * sizeof *ws->dW);
    ws->dz = malloc(N * sizeof *ws->dz);
    ws->C = malloc(p * p * sizeof *ws->C);
    ws->K = malloc(p * p * sizeof *ws->K);
    ws->G = malloc(p * p * sizeof *ws->G);
    ws->v = malloc(p * sizeof *ws->v);
    ws->Kv = malloc(p * sizeof *ws->Kv);
    if (!ws->H || !ws->A || !ws->f || !ws->delta || !ws->dW || !ws->dz || !ws->C || !ws->K ||
        !ws->G || !ws->v || !ws->Kv) {
        workspace_free(ws);
        return akt_out_of_memory(err, "the training workspace");
    }
    return AKT_OK;
}

/* Outputs on the training points: A = phi(H), H := phi'(H), f = A z/(gamma N) - offset,
 * delta = y - f. */
static void forward(const akt_network *net, const akt_finite_problem *pb, workspace *ws)
{
    size_t N = net->width, P = pb->P;
    preactivations(net, pb->X, P, ws->H);
    activate(net->activation, ws->H, P * N, ws->A, ws->H);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)P, (int)N, 1.0 / (pb->gamma * (double)N), ws->A,
                (int)N, net->z, 1, 0.0, ws->f, 1);
    for (size_t mu = 0; mu < P; mu++) {
        if (pb->offset)
            ws->f[mu] -= pb->offset[mu];
        ws->delta[mu] = pb->y[mu] - ws->f[mu];
    }
}

/* The flow's right-hand side after forward(): dz = gamma A' delta - lambda z;
 * dW_i = gamma z_i sum_mu delta_mu phi'(h_i(x_mu)) x_mu/sqrt(D) - lambda w_i - delta (w_i - w_src). */
static void backward(const akt_network *net, const akt_finite_problem *pb, workspace *ws)
{
    size_t N = net->width, D = net->dim, P = pb->P;
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)P, (int)N, pb->gamma, ws->A, (int)N, ws->delta, 1,
                0.0, ws->dz, 1);
    cblas_daxpy((int)N, -pb->lambda, net->z, 1, ws->dz, 1);
    if (!pb->train_hidden) {
        memset(ws->dW, 0, N * D * sizeof *ws->dW);
        return;
    }
    for (size_t mu = 0; mu < P; mu++)
        cblas_dscal((int)N, ws->delta[mu], ws->H + mu * N, 1);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)D, (int)P,
                pb->gamma / sqrt((double)D), ws->H, (int)N, pb->X, (int)D, 0.0, ws->dW, (int)D);
    for (size_t i = 0; i < N; i++) {
        double *row = ws->dW + i * D;
        const double *w = net->W + i * D, *w_src = net->W_src + i * D;
        double zi = net->z[i];
        for (size_t k = 0; k < D; k++)
            row[k] = zi * row[k] - pb->lambda * w[k] - pb->delta * (w[k] - w_src[k]);
    }
}

int akt_network_rhs(const akt_network *net, const akt_finite_problem *problem, double *dW,
                    double *dz, double *f, akt_error *err)
{
    workspace ws;
    int status = workspace_alloc(&ws, net, problem->P, err);
    if (status)
        return status;
    forward(net, problem, &ws);
    backward(net, problem, &ws);
    memcpy(dW, ws.dW, net->width * net->dim * sizeof *dW);
    memcpy(dz, ws.dz, net->width * sizeof *dz);
    if (f)
        memcpy(f, ws.f, problem->P * sizeof *f);
    workspace_free(&ws);
    return AKT_OK;
}

int akt_network_loss(const akt_network *net, const akt_finite_problem *problem, double *loss,
                     akt_error *err)
{
    workspace ws;
    int status = workspace_alloc(&ws, net, problem->P, err);
    if (status)
        return status;
    forward(net, problem, &ws);
    *loss = 0.5 * cblas_ddot((int)problem->P, ws.delta, 1, ws.delta, 1);
    workspace_free(&ws);
    return AKT_OK;
}

/* ---- NTK lambda_max ------------------------------------------------------------------------- */

/* C = X X'/D, computed once per phase (the data do not move). */
static void data_gram(const akt_finite_problem *pb, size_t D, double *C)
{
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)pb->P, (int)D, 1.0 / (double)D,
                pb->X, (int)D, 0.0, C, (int)pb->P);
    akt_symmetrize_upper(C, pb->P);
}

/* K = A A'/N + (B B'/N) o C with B = phi'(H) diag(z), upper triangle into ws->K. */
static void ntk_gram(const akt_network *net, const akt_finite_problem *pb, workspace *ws)
{
    size_t N = net->width, P = pb->P;
    preactivations(net, pb->X, P, ws->H);
    activate(net->activation, ws->H, P * N, ws->A, ws->H);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)P, (int)N, 1.0 / (double)N, ws->A,
                (int)N, 0.0, ws->K, (int)P);
    if (pb->train_hidden) {
        for (size_t mu = 0; mu < P; mu++)
            for (size_t i = 0; i < N; i++)
                ws->H[mu * N + i] *= net->z[i];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)P, (int)N, 1.0 / (double)N,
                    ws->H, (int)N, 0.0, ws->G, (int)P);
        for (size_t mu = 0; mu < P; mu++)
            for (size_t nu = mu; nu < P; nu++)
                ws->K[mu * P + nu] += ws->G[mu * P + nu] * ws->C[mu * P + nu];
    }
    /* only the upper triangle is used (dsymv) */
}

static double power_iteration(const double *K, size_t P, double *v, double *Kv, int iterations)
{
    double lambda = 0.0;
    for (size_t mu = 0; mu < P; mu++)
        v[mu] = 1.0 / sqrt((double)P);
    for (int it = 0; it < iterations; it++) {
        cblas_dsymv(CblasRowMajor, CblasUpper, (int)P, 1.0, K, (int)P, v, 1, 0.0, Kv, 1);
        lambda = cblas_ddot((int)P, v, 1, Kv, 1);
        double norm = cblas_dnrm2((int)P, Kv, 1);
        if (!(norm > 0.0))
            return lambda;
        for (size_t mu = 0; mu < P; mu++)
            v[mu] = Kv[mu] / norm;
    }
    return lambda;
}

static double estimate_lambda_max(const akt_network *net, const akt_finite_problem *pb,
                                  workspace *ws, int iterations)
{
    ntk_gram(net, pb, ws);
    return power_iteration(ws->K, pb->P, ws->v, ws->Kv, iterations);
}

int akt_network_ntk_lambda_max(const akt_network *net, const akt_finite_problem *problem,
                               int iterations, double *lambda_max, akt_error *err)
{
    workspace ws;
    int status = workspace_alloc(&ws, net, problem->P, err);
    if (status)
        return status;
    data_gram(problem, net->dim, ws.C);
    *lambda_max = estimate_lambda_max(net, problem, &ws, iterations);
    workspace_free(&ws);
    return AKT_OK;
}

/* ---- training ------------------------------------------------------------------------------- */

typedef struct {
    double dt, stability, min_step;
    long monitor_every;
    bool automatic;
} step_rule;

static step_rule make_step_rule(const akt_finite_stepping *stepping)
{
    step_rule rule;
    rule.automatic = !(stepping && stepping->dt > 0.0);
    rule.dt = rule.automatic ? 0.0 : stepping->dt;
    rule.stability = stepping && stepping->stability > 0.0 ? stepping->stability
                                                            : DEFAULT_STABILITY;
    rule.monitor_every = stepping && stepping->monitor_every > 0 ? stepping->monitor_every
                                                                 : DEFAULT_MONITOR_EVERY;
    rule.min_step = stepping && stepping->min_step > 0.0 ? stepping->min_step : DEFAULT_MIN_STEP;
    return rule;
}

/* Steps left to reach T from t with steps of at most dt; the relative slack keeps a dt that
 * divides the remaining time (T/dt = 8000.000000000001 in floating point) from adding a step. */
static long steps_to_go(double remaining, double dt)
{
    long n = (long)ceil(remaining / dt * (1.0 - 1e-12));
    return n > 0 ? n : 1;
}

/* One lambda_max check: records it and, in automatic mode, halves dt until the rule holds.
 * Returns AKT_ERR_NUMERIC when dt collapses below min_step or lambda_max is not finite. */
static int monitor(const akt_network *net, const akt_finite_problem *pb, workspace *ws,
                   step_rule *rule, double *h, double t, double T, long *remaining,
                   akt_finite_trace *trace, akt_error *err)
{
    double lambda_max = estimate_lambda_max(net, pb, ws, POWER_ITERATIONS);
    double damping = pb->lambda + (pb->train_hidden ? pb->delta : 0.0);
    if (!isfinite(lambda_max))
        return akt_error_set(err, AKT_ERR_NUMERIC, "non-finite NTK lambda_max at t = %g", t);
    if (trace->steps == 0 && t == 0.0)
        trace->lambda_max_first = lambda_max;
    trace->lambda_max_peak = fmax(trace->lambda_max_peak, lambda_max);
    double rate = lambda_max + damping;
    bool reschedule = false;
    if (rule->automatic && rule->dt == 0.0) {
        rule->dt = rate > 0.0 ? rule->stability / rate : T;
        reschedule = true;
    } else if (rule->automatic && rule->dt * rate > rule->stability) {
        while (rule->dt * rate > rule->stability)
            rule->dt *= 0.5;
        reschedule = true;
    }
    if (rule->automatic && rule->dt < rule->min_step)
        return akt_error_set(err, AKT_ERR_NUMERIC, "Euler step %g fell below min_step %g at "
                             "t = %g (NTK lambda_max %g)", rule->dt, rule->min_step, t, lambda_max);
    if (reschedule) {
        *remaining = steps_to_go(T - t, rule->dt);
        *h = (T - t) / (double)*remaining;
    }
    trace->stability_peak = fmax(trace->stability_peak, *h * rate);
    return AKT_OK;
}

static void euler_update(akt_network *net, const workspace *ws, double h, bool train_hidden)
{
    cblas_daxpy((int)net->width, h, ws->dz, 1, net->z, 1);
    if (train_hidden)
        cblas_daxpy((int)(net->width * net->dim), h, ws->dW, 1, net->W, 1);
}

static int check_phase_input(const akt_finite_problem *pb, double T, akt_error *err)
{
    if (!(T > 0.0) || !isfinite(T))
        return akt_error_set(err, AKT_ERR_INPUT, "finite networks need a numeric phase time > 0 "
                             "(got %g; time converge is not available for finite networks, give "
                             "a time)", T);
    if (!(pb->gamma > 0.0) || !(pb->lambda >= 0.0) || !(pb->delta >= 0.0) || pb->P == 0)
        return akt_error_set(err, AKT_ERR_INPUT, "finite network phase: need gamma > 0, "
                             "lambda >= 0, delta >= 0 and P > 0 (got %g, %g, %g, %zu)",
                             pb->gamma, pb->lambda, pb->delta, pb->P);
    return AKT_OK;
}

int akt_network_train(akt_network *net, const akt_finite_problem *problem, double T,
                      const akt_finite_stepping *stepping, akt_finite_trace *trace,
                      akt_error *err)
{
    akt_finite_trace local = {0};
    akt_finite_trace *tr = trace ? trace : &local;
    memset(tr, 0, sizeof *tr);
    int status = check_phase_input(problem, T, err);
    if (status)
        return status;
    workspace ws;
    if ((status = workspace_alloc(&ws, net, problem->P, err)))
        return status;
    data_gram(problem, net->dim, ws.C);
    /* BLAS threads for the step's N x D x P products (core/threads.h) */
    akt_blas_threads_for(2.0 * (double)net->width * (double)net->dim * (double)problem->P);
    step_rule rule = make_step_rule(stepping);
    double t = 0.0;
    long remaining = rule.automatic ? 1 : steps_to_go(T, rule.dt);
    double h = rule.automatic ? INFINITY : T / (double)remaining;
    for (long step = 0; remaining > 0 && !status; step++) {
        if (step % rule.monitor_every == 0)
            status = monitor(net, problem, &ws, &rule, &h, t, T, &remaining, tr, err);
        if (status)
            break;
        if (step == 0)
            tr->dt_first = h;
        forward(net, problem, &ws);
        if (!akt_all_finite(ws.f, problem->P)) {
            status = akt_error_set(err, AKT_ERR_NUMERIC, "non-finite network output on the "
                                   "training points at t = %g (step %ld, dt %g): the run "
                                   "diverged", t, step, h);
            break;
        }
        backward(net, problem, &ws);
        euler_update(net, &ws, h, problem->train_hidden);
        remaining--;
        t = T - (double)remaining * h;
        tr->steps = step + 1;
        tr->dt_last = h;
    }
    if (!status && (!akt_all_finite(net->z, net->width) ||
                    !akt_all_finite(net->W, net->width * net->dim)))
        status = akt_error_set(err, AKT_ERR_NUMERIC, "non-finite network weights at t = %g", T);
    akt_blas_threads_reset();
    workspace_free(&ws);
    return status;
}

static double mean_squared_error(const double *f, const double *offset, const double *y,
                                 size_t n)
{
    if (n == 0)
        return NAN;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = f[i] - (offset ? offset[i] : 0.0) - y[i];
        sum += r * r;
    }
    return sum / (double)n;
}

/* Test loss of the network on (X, y), outputs minus offset (may be NULL). */
int akt_network_test_loss(const akt_network *net, double gamma, const double *X, const double *y,
                          const double *offset, size_t M, double *loss, akt_error *err)
{
    if (M == 0) {
        *loss = NAN;
        return AKT_OK;
    }
    double *f = malloc(M * sizeof *f);
    if (!f)
        return akt_out_of_memory(err, "the test predictions");
    int status = akt_network_predict(net, X, M, gamma, f, err);
    *loss = status ? NAN : mean_squared_error(f, offset, y, M);
    free(f);
    return status;
}

akt_finite_stepping akt_finite_stepping_halved(const akt_finite_stepping *stepping)
{
    akt_finite_stepping half = stepping ? *stepping : (akt_finite_stepping){0};
    if (half.dt > 0.0)
        half.dt *= 0.5;
    else
        half.stability = 0.5 * (half.stability > 0.0 ? half.stability : DEFAULT_STABILITY);
    return half;
}

int akt_network_euler_bias(akt_network *net, const akt_finite_problem *problem, double T,
                           const akt_finite_stepping *stepping, const double *Xt,
                           const double *yt, size_t Mt, double *test_loss,
                           double *relative_change_out, akt_error *err)
{
    akt_network *fine = akt_network_alloc(net->width, net->dim, net->activation, err);
    if (!fine)
        return err ? err->status : AKT_ERR_MEMORY;
    akt_network_copy(fine, net);
    akt_finite_stepping half = akt_finite_stepping_halved(stepping);
    double fine_loss = NAN;
    int status = akt_network_train(net, problem, T, stepping, NULL, err);
    if (!status)
        status = akt_network_train(fine, problem, T, &half, NULL, err);
    if (!status)
        status = akt_network_test_loss(net, problem->gamma, Xt, yt, NULL, Mt, test_loss, err);
    if (!status)
        status = akt_network_test_loss(fine, problem->gamma, Xt, yt, NULL, Mt, &fine_loss, err);
    if (!status)
        *relative_change_out = akt_relative_change(*test_loss, fine_loss);
    akt_network_free(fine);
    return status;
}
