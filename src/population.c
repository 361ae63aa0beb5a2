/* population.c: the single-site (DMFT) population solver, THEORY.md sections 2 and 3.
 *
 * S sampled neurons in the exact reduced representation. In every phase a neuron's
 * pre-activation on the phase's training points is
 *     h(t) = r(t) h_base + sum_mu C(x, x_mu) c_mu(t),
 * with c = a (source, scratch) or b (joint), h_base = h0 (source, scratch) or h_s (joint) and
 *     r(t) = (delta + lambda e^{-(lambda + delta) t}) / (lambda + delta)     (1 if both are 0),
 * which is e^{-lambda t} without elastic pull. The flow is
 *     dc/dt = gamma z Delta phi'(h) - (lambda + delta) c,   dz/dt = gamma phi(h).Delta - lambda z,
 *     f = (1/gamma) <z phi(h)>,  Delta = y - f,
 * so one step costs one S x P x P product (h = c C) and O(S P) elementwise work.
 *
 * Time integration. The linear decays are taken exactly with a per-step integrating factor
 * (Lawson): within a step starting at t0 the integrated variables are c e^{(lambda+delta) tau},
 * z e^{lambda tau}, so large weight decay never limits the step. The rest (the stiff output
 * feedback, rates up to lambda_max of the adapted NTK) goes to GSL's embedded Runge-Kutta-
 * Fehlberg 4(5) pair under our own step control: a step is accepted when its error estimate,
 * measured where it matters (the error of the predictions on the training points, which drive
 * the whole flow; see step_error), is at most step_tolerance per unit time.
 * The explicit pair's stability limit then shows up as rejected steps, never as a silently
 * wrong answer (THEORY.md section 1). */
#include "akt/population.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <gsl/gsl_rng.h>
/* gsl_randist.h pulls in GSL's own cblas.h, whose enums clash with OpenBLAS's (included above,
 * and the one we link); its include guard keeps GSL's copy out. */
#define __GSL_CBLAS_H__
#include <gsl/gsl_randist.h>

#include "akt/exact.h"
#include "akt/output.h"

#define TWO_OVER_SQRT_PI 1.12837916709551257390 /* erf'(0) */

typedef enum { STATE_NONE, STATE_INITIAL, STATE_SOURCE, STATE_SCRATCH, STATE_JOINT } state_kind;

struct akt_population {
    const akt_data *data;
    akt_activation activation;
    size_t S, D, Pmax, Qmax;
    size_t rows[AKT_POINTS_COUNT];
    const akt_split *splits[AKT_POINTS_COUNT];
    unsigned long seed, replica;

    double *h0[AKT_POINTS_COUNT]; /* S x rows, the sampled initial pre-activations */
    double *z0;                   /* S */
    double *C1[AKT_POINTS_COUNT]; /* Gram C(X1, X_split): P1 x rows */
    double *C2[AKT_POINTS_COUNT]; /* Gram C(X2, X_split): P2 x rows (target train and test) */
    double *hs[AKT_POINTS_COUNT]; /* h_s on target train and test (after the source run) */
    double *z_source;             /* z at the end of the source run */
    bool source_done;

    /* Current phase: the state vector is [c (S x P) ; z (S)] in actual (not tilded) values. */
    state_kind kind;
    double t, gamma, lambda, delta;
    double *y_source, *y_target, *y_spare;

    /* Integrator work space, sized for the larger training split. */
    double *yerr, *ysave, *dydt_in, *dydt_out;
    double *H, *F, *Fp;           /* S x Pmax */
    double *H_start;              /* S x Pmax: h at the start of the current step */
    unsigned char *crossed;       /* S x Pmax: relu, h crossed 0 at some stage of this step */
    bool track_crossings;
    double *f, *residual_f, *K, *power;     /* Pmax, Pmax, Pmax^2, 2 Pmax */
    double *Q;                    /* S x Qmax: pre-activations on a queried set */
    gsl_odeiv2_step *step_source, *step_target;
    bool nonfinite;               /* the last right-hand side met NaN/Inf */
    akt_population_observer observer;   /* called after each accepted step (NULL: none) */
    void *observer_context;
};

/* The flow of one phase, handed to GSL as the system's parameters. */
typedef struct {
    akt_population *pop;
    size_t P;
    const double *h_base, *C, *y;
    double gamma, lambda, delta, t0;
} flow_context;

/* ---- random streams ------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t z)
{
    z += UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

unsigned long akt_population_stream_seed(unsigned long seed, unsigned purpose,
                                         unsigned long replica)
{
    uint64_t z = splitmix64(splitmix64(splitmix64((uint64_t)seed) ^ purpose) ^ replica);
    return (unsigned long)((z ^ (z >> 32)) & UINT64_C(0xffffffff));
}

static gsl_rng *stream(const akt_population *pop, unsigned purpose)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (rng)
        gsl_rng_set(rng, akt_population_stream_seed(pop->seed, purpose, pop->replica));
    return rng;
}

/* ---- activations --------------------------------------------------------------------------- */

static void activate(akt_activation activation, const double *h, double *F, double *Fp, size_t n)
{
    switch (activation) {
    case AKT_ACTIVATION_RELU:
        for (size_t i = 0; i < n; i++) {
            F[i] = h[i] > 0.0 ? h[i] : 0.0;
            Fp[i] = h[i] > 0.0 ? 1.0 : 0.0;
        }
        break;
    case AKT_ACTIVATION_TANH:
        for (size_t i = 0; i < n; i++) {
            F[i] = tanh(h[i]);
            Fp[i] = 1.0 - F[i] * F[i];
        }
        break;
    case AKT_ACTIVATION_ERF:
        for (size_t i = 0; i < n; i++) {
            F[i] = erf(h[i]);
            Fp[i] = TWO_OVER_SQRT_PI * exp(-h[i] * h[i]);
        }
        break;
    case AKT_ACTIVATION_LINEAR:
        for (size_t i = 0; i < n; i++) {
            F[i] = h[i];
            Fp[i] = 1.0;
        }
        break;
    }
}

static void activate_in_place(akt_activation activation, double *h, size_t n)
{
    switch (activation) {
    case AKT_ACTIVATION_RELU:
        for (size_t i = 0; i < n; i++)
            h[i] = h[i] > 0.0 ? h[i] : 0.0;
        break;
    case AKT_ACTIVATION_TANH:
        for (size_t i = 0; i < n; i++)
            h[i] = tanh(h[i]);
        break;
    case AKT_ACTIVATION_ERF:
        for (size_t i = 0; i < n; i++)
            h[i] = erf(h[i]);
        break;
    case AKT_ACTIVATION_LINEAR:
        break;
    }
}

/* f_mu = scale * sum_i z_i F_i,mu, summed pair by pair: the two neurons of an antithetic pair
 * are added first, so an antithetic state (equal rows, opposite z) gives exactly 0. */
static void readout_average(const double *F, const double *z, size_t S, size_t P, double scale,
                            double *f)
{
    memset(f, 0, P * sizeof *f);
    for (size_t k = 0; k + 1 < S; k += 2) {
        const double *even = F + k * P, *odd = F + (k + 1) * P;
        double z_even = z[k], z_odd = z[k + 1];
        for (size_t mu = 0; mu < P; mu++)
            f[mu] += z_even * even[mu] + z_odd * odd[mu];
    }
    for (size_t mu = 0; mu < P; mu++)
        f[mu] *= scale;
}

/* ---- allocation ---------------------------------------------------------------------------- */

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static void population_sizes(const akt_data *data, size_t rows[AKT_POINTS_COUNT], size_t *Pmax,
                             size_t *Qmax)
{
    rows[AKT_POINTS_SOURCE_TRAIN] = data->source.rows;
    rows[AKT_POINTS_TARGET_TRAIN] = data->target.rows;
    rows[AKT_POINTS_TEST] = data->test.rows;
    rows[AKT_POINTS_SOURCE_TEST] = data->source_test.rows;
    *Pmax = max_size(data->source.rows, data->target.rows);
    *Qmax = max_size(max_size(data->test.rows, data->source_test.rows), *Pmax);
}

double akt_population_memory_gib(const akt_data *data, size_t neurons)
{
    size_t rows[AKT_POINTS_COUNT], Pmax, Qmax;
    population_sizes(data, rows, &Pmax, &Qmax);
    double S = (double)neurons, P1 = (double)rows[0], P2 = (double)rows[1];
    double M = (double)(rows[0] + rows[1] + rows[2] + rows[3]);
    double Mt = (double)rows[AKT_POINTS_TEST], Pm = (double)Pmax;
    /* h0 on every point, h_s on the target points, the query buffer, the three state vectors,
     * four integrator vectors plus GSL's eight per stepper, H/F/Fp, and the Gram blocks. */
    double per_neuron = M + (P2 + Mt) + (double)Qmax + (P1 + 1) + 2 * (P2 + 1) + 4 * (Pm + 1)
                        + 8 * (P1 + 1) + 8 * (P2 + 1) + 5 * Pm + 3;
    double doubles = S * per_neuron + (P1 + P2) * M + 4 * Pm * Pm;
    return doubles * sizeof(double) / (1024.0 * 1024.0 * 1024.0);
}

static double *alloc_doubles(size_t n, bool *failed)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        *failed = true;
    return p;
}

void akt_population_free(akt_population *pop)
{
    if (!pop)
        return;
    for (int s = 0; s < AKT_POINTS_COUNT; s++) {
        free(pop->h0[s]);
        free(pop->C1[s]);
        free(pop->C2[s]);
        free(pop->hs[s]);
    }
    double *buffers[] = {pop->z0, pop->z_source, pop->y_source, pop->y_target, pop->y_spare,
                         pop->yerr, pop->ysave, pop->dydt_in, pop->dydt_out, pop->H, pop->F,
                         pop->Fp, pop->H_start, pop->f, pop->residual_f, pop->K, pop->power, pop->Q};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        free(buffers[i]);
    if (pop->step_source)
        gsl_odeiv2_step_free(pop->step_source);
    if (pop->step_target)
        gsl_odeiv2_step_free(pop->step_target);
    free(pop->crossed);
    free(pop);
}

static void gram_blocks(akt_population *pop)
{
    const akt_data *data = pop->data;
    for (int s = 0; s < AKT_POINTS_COUNT; s++) {
        akt_gram(data->source.x, data->source.rows, pop->splits[s]->x, pop->rows[s], data->dim,
                 pop->C1[s]);
        if (pop->C2[s])
            akt_gram(data->target.x, data->target.rows, pop->splits[s]->x, pop->rows[s],
                     data->dim, pop->C2[s]);
    }
}

akt_population *akt_population_alloc(const akt_data *data, akt_activation activation,
                                     size_t neurons, akt_error *err)
{
    if (neurons < 2 || neurons % 2 != 0 || neurons > (size_t)INT32_MAX)
        return akt_error_set(err, AKT_ERR_INPUT,
                             "solver.neurons: the population needs an even number >= 2 of "
                             "neurons (antithetic pairs), got %zu", neurons), NULL;
    if (data->source.rows == 0 || data->target.rows == 0 || data->dim == 0)
        return akt_error_set(err, AKT_ERR_INPUT, "population: empty source or target split"),
               NULL;
    akt_population *pop = calloc(1, sizeof *pop);
    if (!pop)
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory allocating the population"),
               NULL;
    pop->data = data;
    pop->activation = activation;
    pop->S = neurons;
    pop->D = data->dim;
    population_sizes(data, pop->rows, &pop->Pmax, &pop->Qmax);
    pop->splits[AKT_POINTS_SOURCE_TRAIN] = &data->source;
    pop->splits[AKT_POINTS_TARGET_TRAIN] = &data->target;
    pop->splits[AKT_POINTS_TEST] = &data->test;
    pop->splits[AKT_POINTS_SOURCE_TEST] = &data->source_test;

    size_t S = neurons, P1 = pop->rows[0], P2 = pop->rows[1], Pm = pop->Pmax;
    bool failed = false;
    for (int s = 0; s < AKT_POINTS_COUNT; s++) {
        pop->h0[s] = alloc_doubles(S * pop->rows[s], &failed);
        pop->C1[s] = alloc_doubles(P1 * pop->rows[s], &failed);
    }
    for (int s = AKT_POINTS_TARGET_TRAIN; s <= AKT_POINTS_TEST; s++) {
        pop->C2[s] = alloc_doubles(P2 * pop->rows[s], &failed);
        pop->hs[s] = alloc_doubles(S * pop->rows[s], &failed);
    }
    pop->z0 = alloc_doubles(S, &failed);
    pop->z_source = alloc_doubles(S, &failed);
    pop->y_source = alloc_doubles(S * (P1 + 1), &failed);
    pop->y_target = alloc_doubles(S * (P2 + 1), &failed);
    pop->y_spare = alloc_doubles(S * (P2 + 1), &failed);
    pop->yerr = alloc_doubles(S * (Pm + 1), &failed);
    pop->ysave = alloc_doubles(S * (Pm + 1), &failed);
    pop->dydt_in = alloc_doubles(S * (Pm + 1), &failed);
    pop->dydt_out = alloc_doubles(S * (Pm + 1), &failed);
    pop->H = alloc_doubles(S * Pm, &failed);
    pop->F = alloc_doubles(S * Pm, &failed);
    pop->Fp = alloc_doubles(S * Pm, &failed);
    pop->H_start = alloc_doubles(S * Pm, &failed);
    pop->crossed = calloc(S * Pm > 0 ? S * Pm : 1, 1);
    failed = failed || !pop->crossed;
    pop->f = alloc_doubles(Pm, &failed);
    pop->residual_f = alloc_doubles(Pm, &failed);
    pop->K = alloc_doubles(Pm * Pm, &failed);
    pop->power = alloc_doubles(2 * Pm, &failed);
    pop->Q = alloc_doubles(S * pop->Qmax, &failed);
    if (!failed) {
        pop->step_source = gsl_odeiv2_step_alloc(gsl_odeiv2_step_rkf45, S * (P1 + 1));
        pop->step_target = gsl_odeiv2_step_alloc(gsl_odeiv2_step_rkf45, S * (P2 + 1));
        failed = !pop->step_source || !pop->step_target;
    }
    if (failed) {
        akt_population_free(pop);
        return akt_error_set(err, AKT_ERR_MEMORY,
                             "out of memory allocating a population of %zu neurons (%.2f GiB)",
                             neurons, akt_population_memory_gib(data, neurons)), NULL;
    }
    gram_blocks(pop);
    return pop;
}

/* ---- sampling ------------------------------------------------------------------------------ */

void akt_population_sample(akt_population *pop, unsigned long seed, unsigned long replica)
{
    pop->seed = seed;
    pop->replica = replica;
    size_t S = pop->S, pairs = S / 2, D = pop->D;
    gsl_rng *hidden = stream(pop, AKT_POPULATION_STREAM_HIDDEN);
    gsl_rng *readout = stream(pop, AKT_POPULATION_STREAM_READOUT);
    /* Row k of W0 is the hidden weight vector of pair k. */
    double *w0 = malloc(pairs * D * sizeof *w0);
    if (!hidden || !readout || !w0) {
        /* Allocation of a generator or of pairs x D doubles failed: leave the population
         * unsampled; the phases refuse to run on it. */
        gsl_rng_free(hidden);
        gsl_rng_free(readout);
        free(w0);
        pop->kind = STATE_NONE;
        return;
    }
    for (size_t i = 0; i < pairs * D; i++)
        w0[i] = gsl_ran_gaussian_ziggurat(hidden, 1.0);
    for (size_t k = 0; k < pairs; k++) {
        double z = gsl_ran_gaussian_ziggurat(readout, 1.0);
        pop->z0[2 * k] = z;
        pop->z0[2 * k + 1] = -z;
    }
    double scale = 1.0 / sqrt((double)D);
    for (int s = 0; s < AKT_POINTS_COUNT; s++) {
        size_t M = pop->rows[s];
        if (M == 0)
            continue;
        double *h = pop->h0[s];
        /* pair rows land in the first half, then spread to rows 2k and 2k+1 from the back */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)pairs, (int)M, (int)D, scale,
                    w0, (int)D, pop->splits[s]->x, (int)D, 0.0, h, (int)M);
        for (size_t k = pairs; k-- > 0;) {
            memmove(h + 2 * k * M, h + k * M, M * sizeof *h);
            memcpy(h + (2 * k + 1) * M, h + 2 * k * M, M * sizeof *h);
        }
    }
    free(w0);
    gsl_rng_free(hidden);
    gsl_rng_free(readout);
    pop->source_done = false;
    pop->kind = STATE_INITIAL;
    pop->t = 0.0;
}

/* ---- the flow ------------------------------------------------------------------------------ */

/* r(t): the weight of h_base in h (see the file comment). */
static double base_factor(double lambda, double delta, double t)
{
    double rate = lambda + delta;
    if (rate == 0.0)
        return 1.0;
    return (delta + lambda * exp(-rate * t)) / rate;
}

/* GSL right-hand side in the tilded variables of the step that starts at c->t0. Leaves H, F,
 * Fp, f (train predictions) and residual_f (= Delta) of the evaluated state in the population. */
static int flow_rhs(double tau, const double y[], double dydt[], void *params)
{
    flow_context *c = params;
    akt_population *pop = c->pop;
    size_t S = pop->S, P = c->P;
    double ea = exp(-(c->lambda + c->delta) * tau), ez = exp(-c->lambda * tau);
    double r = base_factor(c->lambda, c->delta, c->t0 + tau);
    double *H = pop->H, *F = pop->F, *Fp = pop->Fp, *f = pop->f, *Delta = pop->residual_f;
    const double *zt = y + S * P;

    memcpy(H, c->h_base, S * P * sizeof *H);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)S, (int)P, (int)P, ea, y, (int)P,
                c->C, (int)P, r, H, (int)P);
    activate(pop->activation, H, F, Fp, S * P);
    if (pop->track_crossings)
        for (size_t i = 0; i < S * P; i++)
            pop->crossed[i] |= (H[i] > 0.0) != (pop->H_start[i] > 0.0);
    readout_average(F, zt, S, P, ez / (c->gamma * (double)S), f);
    bool finite = true;
    for (size_t mu = 0; mu < P; mu++) {
        Delta[mu] = c->y[mu] - f[mu];
        finite = finite && isfinite(Delta[mu]);
    }
    pop->nonfinite = !finite;
    if (!finite)
        return GSL_EBADFUNC;
    double *da = dydt, *dz = dydt + S * P;
    for (size_t i = 0; i < S; i++) {
        const double *Fi = F + i * P, *Fpi = Fp + i * P;
        double *dai = da + i * P;
        double coef = c->gamma * ez * zt[i] / ea, dot = 0.0;
        for (size_t mu = 0; mu < P; mu++) {
            dai[mu] = coef * Delta[mu] * Fpi[mu];
            dot += Fi[mu] * Delta[mu];
        }
        dz[i] = c->gamma * dot / ez;
    }
    return GSL_SUCCESS;
}

/* The error estimate of a step in output units: the embedded pair's error of the training
 * predictions f = <z phi(h)>/gamma, linearised about the end state (whose F, Fp the last
 * right-hand side left behind): err_f = <err_z phi(h) + z phi'(h) err_h>/gamma, err_h = err_c C.
 * Returns the RMS over the training points.
 * Relu kinks: where a neuron's h_mu crosses 0 within the step, dc_mu/dt jumps by gamma z Delta_mu
 * and the pair's estimate of that component is O(dt) whatever its order, so err/dt would stay
 * O(1/S) as dt -> 0 and the step would collapse. Such components (h at some stage of the step
 * on the other side of 0 than at its start; neurons gather on kinks, THEORY.md section 2, so
 * crossings within a step are common) are left out of the estimate: their true error is a quadrature error of a jump
 * whose mean over the uniformly placed crossing time vanishes for any pair of order >= 2
 * (sum b_i c_i = 1/2), so over the many crossings of a population it averages out, leaving an
 * O(dt sqrt(1/S)) random remainder. The smooth part is what the controller bounds. */
static double step_error(akt_population *pop, const flow_context *c, const double *y, double dt)
{
    size_t S = pop->S, P = c->P;
    double ea = exp(-(c->lambda + c->delta) * dt), ez = exp(-c->lambda * dt);
    double *err_h = pop->Q, *err_f = pop->power;
    const double *err_z = pop->yerr + S * P, *z = y + S * P;
    if (pop->track_crossings)
        for (size_t i = 0; i < S * P; i++)
            if (pop->crossed[i])
                pop->yerr[i] = 0.0;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)S, (int)P, (int)P, ea, pop->yerr,
                (int)P, c->C, (int)P, 0.0, err_h, (int)P);
    memset(err_f, 0, P * sizeof *err_f);
    for (size_t i = 0; i < S; i++) {
        const double *Fi = pop->F + i * P, *Fpi = pop->Fp + i * P, *ehi = err_h + i * P;
        double ez_i = err_z[i], z_i = z[i];
        for (size_t mu = 0; mu < P; mu++)
            err_f[mu] += ez_i * Fi[mu] + z_i * Fpi[mu] * ehi[mu];
    }
    double sum = 0.0, scale = ez / (c->gamma * (double)S);
    for (size_t mu = 0; mu < P; mu++)
        sum += err_f[mu] * err_f[mu];
    return scale * sqrt(sum / (double)P);
}

/* Multiplies the c block by e^{-(lambda+delta) dt} and the z block by e^{-lambda dt}: from the
 * tilded variables of a finished step back to actual values (and the same for a derivative). */
static void rebase(double *v, size_t S, size_t P, double lambda, double delta, double dt)
{
    double ea = exp(-(lambda + delta) * dt), ez = exp(-lambda * dt);
    if (ea != 1.0)
        cblas_dscal((int)(S * P), ea, v, 1);
    if (ez != 1.0)
        cblas_dscal((int)S, ez, v + S * P, 1);
}

/* Relative Phi-identity residual |f - Phi (Phi + lambda I)^{-1} y| / |f| of the state whose
 * F and f are in the population (THEORY.md section 2). */
static int identity_residual(akt_population *pop, const flow_context *c, double *residual,
                             akt_error *err)
{
    size_t S = pop->S, P = c->P;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)P, (int)S, 1.0 / (double)S,
                pop->F, (int)P, pop->F, (int)P, 0.0, pop->K, (int)P);
    double *fixed = pop->power;
    int status = akt_ridge_predict(pop->K, P, pop->K, P, c->y, c->lambda, fixed, err);
    if (status != AKT_OK)
        return status;
    double diff = 0.0, norm = 0.0;
    for (size_t mu = 0; mu < P; mu++) {
        diff += (pop->f[mu] - fixed[mu]) * (pop->f[mu] - fixed[mu]);
        norm += pop->f[mu] * pop->f[mu];
    }
    *residual = norm > 0.0 ? sqrt(diff / norm) : INFINITY;
    return AKT_OK;
}

/* A replayed step sequence (stability test): record the accepted steps of one run, then force
 * them on another so that both share their integration error. */
typedef struct {
    double *steps;
    size_t count, capacity, next;
    bool replay;
} step_log;

static int log_step(step_log *log, double dt)
{
    if (log->count == log->capacity) {
        size_t capacity = log->capacity ? 2 * log->capacity : 256;
        double *steps = realloc(log->steps, capacity * sizeof *steps);
        if (!steps)
            return AKT_ERR_MEMORY;
        log->steps = steps;
        log->capacity = capacity;
    }
    log->steps[log->count++] = dt;
    return AKT_OK;
}

static const char *state_name(state_kind kind)
{
    switch (kind) {
    case STATE_SOURCE: return "source";
    case STATE_SCRATCH: return "scratch";
    case STATE_JOINT: return "joint";
    default: return "initial";
    }
}

static double clamp(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* Integrates the phase's flow on state y (actual values at pop->t) for phase->time, or until
 * the identity residual is below phase->tolerance (time converge, up to max_time). */
static int integrate(akt_population *pop, flow_context *c, gsl_odeiv2_step *stepper, double *y,
                     const akt_population_phase *phase, step_log *log, akt_population_run *run,
                     akt_error *err)
{
    size_t S = pop->S, P = c->P, n = S * (P + 1);
    bool converge = phase->time == AKT_TIME_CONVERGE;
    double t_start = pop->t, t_end = t_start + (converge ? phase->max_time : phase->time);
    double tol = phase->step_tolerance, next_check = t_start + 1.0;
    gsl_odeiv2_system system = {flow_rhs, NULL, n, c};
    memset(run, 0, sizeof *run);
    run->residual = converge ? NAN : 0.0;

    /* First step: a fraction of the fastest relaxation time 1/lambda_max(K). */
    double dt = fmin(0.5 / fmax(akt_population_ntk_max(pop), 1e-3), t_end - pop->t);
    c->t0 = pop->t;
    pop->track_crossings = false;
    if (flow_rhs(0.0, y, pop->dydt_in, c) != GSL_SUCCESS)
        return akt_error_set(err, AKT_ERR_NUMERIC, "%s phase at t = %g: predictions on the "
                             "training points are NaN/Inf", state_name(pop->kind), pop->t);
    memcpy(pop->H_start, pop->H, S * P * sizeof *pop->H);
    pop->track_crossings = pop->activation == AKT_ACTIVATION_RELU;
    while (pop->t < t_end) {
        bool last = false;
        if (log && log->replay) {
            if (log->next >= log->count)
                break;
            dt = log->steps[log->next];
            last = dt >= (t_end - pop->t) * (1.0 - 1e-12);
        } else if (dt >= t_end - pop->t) {
            dt = t_end - pop->t;
            last = true;
        }
        memcpy(pop->ysave, y, n * sizeof *y);
        if (pop->track_crossings)
            memset(pop->crossed, 0, S * P);
        c->t0 = pop->t;
        int status = gsl_odeiv2_step_apply(stepper, 0.0, dt, y, pop->yerr, pop->dydt_in,
                                           pop->dydt_out, &system);
        double e = status == GSL_SUCCESS ? step_error(pop, c, y, dt) : NAN;
        if (!(e <= tol * dt) && !(log && log->replay)) {
            memcpy(y, pop->ysave, n * sizeof *y);
            run->rejected++;
            dt *= isfinite(e) ? clamp(0.9 * pow(tol * dt / e, 0.25), 0.1, 0.9) : 0.1;
            if (dt < phase->min_step)
                return akt_error_set(err, AKT_ERR_NUMERIC,
                                     "%s phase at t = %.6g: the step size collapsed to %.3g below "
                                     "solver.min_step = %.3g (%s)", state_name(pop->kind), pop->t,
                                     dt, phase->min_step,
                                     pop->nonfinite ? "predictions on the training points became "
                                                      "NaN/Inf"
                                                    : "error estimate of the training "
                                                      "predictions too large");
            continue;
        }
        if (status != GSL_SUCCESS)
            return akt_error_set(err, AKT_ERR_NUMERIC, "%s phase at t = %.6g: predictions on the "
                                 "training points became NaN/Inf", state_name(pop->kind), pop->t);
        rebase(y, S, P, c->lambda, c->delta, dt);
        rebase(pop->dydt_out, S, P, c->lambda, c->delta, dt);
        double *swap = pop->dydt_in;
        pop->dydt_in = pop->dydt_out;
        pop->dydt_out = swap;
        pop->t = last ? t_end : pop->t + dt;
        memcpy(pop->H_start, pop->H, S * P * sizeof *pop->H);
        /* observer hook (akt_population_set_observer): the accepted state at pop->t */
        int observed = pop->observer ? pop->observer(pop->observer_context, pop->t, pop, err)
                                     : AKT_OK;
        if (observed != AKT_OK)
            return observed;
        run->steps++;
        if (log && log->replay)
            log->next++;
        else if (log && log_step(log, dt) != AKT_OK)
            return akt_error_set(err, AKT_ERR_MEMORY, "out of memory recording steps");
        if (!converge)
            run->residual += e;
        double grow = e > 0.0 ? clamp(0.9 * pow(tol * dt / e, 0.25), 0.2, 5.0) : 5.0;
        dt *= grow;
        if (converge && pop->t >= next_check) {
            int rs = identity_residual(pop, c, &run->residual, err);
            if (rs != AKT_OK)
                return rs;
            if (run->residual <= phase->tolerance) {
                run->converged = true;
                break;
            }
            next_check = pop->t + fmax(1.0, 0.1 * (pop->t - t_start));
        }
    }
    run->time = pop->t - t_start;
    if (converge && !run->converged)
        return akt_error_set(err, AKT_ERR_NUMERIC,
                             "%s phase: not converged by solver.max_time = %g: relative "
                             "Phi-identity residual %.3g > solver.tolerance %.3g",
                             state_name(pop->kind), phase->max_time, run->residual,
                             phase->tolerance);
    run->converged = true;
    return AKT_OK;
}

/* The flow context of the current phase. */
static void phase_context(akt_population *pop, flow_context *c)
{
    const akt_data *data = pop->data;
    c->pop = pop;
    c->gamma = pop->gamma;
    c->lambda = pop->lambda;
    c->delta = pop->delta;
    c->t0 = pop->t;
    if (pop->kind == STATE_SOURCE) {
        c->P = data->source.rows;
        c->h_base = pop->h0[AKT_POINTS_SOURCE_TRAIN];
        c->C = pop->C1[AKT_POINTS_SOURCE_TRAIN];
        c->y = data->source.y;
    } else {
        c->P = data->target.rows;
        c->h_base = pop->kind == STATE_JOINT ? pop->hs[AKT_POINTS_TARGET_TRAIN]
                                             : pop->h0[AKT_POINTS_TARGET_TRAIN];
        c->C = pop->C2[AKT_POINTS_TARGET_TRAIN];
        c->y = data->target.y;
    }
}

static int check_phase(const akt_population_phase *phase, akt_error *err)
{
    if (!(phase->gamma > 0.0) || !(phase->weight_decay >= 0.0) || !(phase->elastic >= 0.0) ||
        !(phase->time > 0.0 || phase->time == AKT_TIME_CONVERGE) ||
        !(phase->step_tolerance > 0.0) || !(phase->min_step > 0.0))
        return akt_error_set(err, AKT_ERR_INPUT,
                             "population phase: need gamma > 0, weight_decay >= 0, elastic >= 0, "
                             "time > 0 or converge, step_tolerance > 0, min_step > 0");
    if (phase->time == AKT_TIME_CONVERGE && !(phase->max_time > 0.0 && phase->tolerance > 0.0))
        return akt_error_set(err, AKT_ERR_INPUT,
                             "population phase: time converge needs max_time > 0 and "
                             "tolerance > 0");
    return AKT_OK;
}

/* The pre-activations of the current state on a point set, into pop->Q (S x rows). */
static int query_preactivations(akt_population *pop, akt_points points, akt_error *err)
{
    size_t S = pop->S, M = pop->rows[points];
    const double *base, *C, *state;
    size_t P;
    if (pop->kind == STATE_SOURCE) {
        base = pop->h0[points];
        C = pop->C1[points];
        state = pop->y_source;
        P = pop->rows[AKT_POINTS_SOURCE_TRAIN];
    } else if ((pop->kind == STATE_SCRATCH || pop->kind == STATE_JOINT) &&
               (points == AKT_POINTS_TARGET_TRAIN || points == AKT_POINTS_TEST)) {
        base = pop->kind == STATE_JOINT ? pop->hs[points] : pop->h0[points];
        C = pop->C2[points];
        state = pop->y_target;
        P = pop->rows[AKT_POINTS_TARGET_TRAIN];
    } else if (pop->kind == STATE_INITIAL) {
        memcpy(pop->Q, pop->h0[points], S * M * sizeof *pop->Q);
        return AKT_OK;
    } else {
        return akt_error_set(err, AKT_ERR_INPUT, "population: the %s state has no predictions "
                             "on that point set", state_name(pop->kind));
    }
    if (M == 0)
        return AKT_OK;
    double r = base_factor(pop->lambda, pop->delta, pop->t);
    memcpy(pop->Q, base, S * M * sizeof *pop->Q);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)S, (int)M, (int)P, 1.0, state,
                (int)P, C, (int)M, r, pop->Q, (int)M);
    return AKT_OK;
}

int akt_population_predict(akt_population *pop, akt_points points, double *f, akt_error *err)
{
    if (pop->kind == STATE_NONE)
        return akt_error_set(err, AKT_ERR_INPUT, "population: not sampled");
    int status = query_preactivations(pop, points, err);
    if (status != AKT_OK)
        return status;
    size_t S = pop->S, M = pop->rows[points];
    if (M == 0)
        return AKT_OK;
    activate_in_place(pop->activation, pop->Q, S * M);
    const double *z;
    double gamma = pop->gamma;
    if (pop->kind == STATE_SOURCE)
        z = pop->y_source + S * pop->rows[AKT_POINTS_SOURCE_TRAIN];
    else if (pop->kind == STATE_INITIAL)
        z = pop->z0, gamma = 1.0; /* initial output with gamma 1 (it is 0 for any gamma) */
    else
        z = pop->y_target + S * pop->rows[AKT_POINTS_TARGET_TRAIN];
    readout_average(pop->Q, z, S, M, 1.0 / (gamma * (double)S), f);
    return AKT_OK;
}

/* ---- phases -------------------------------------------------------------------------------- */

static void set_phase(akt_population *pop, state_kind kind, const akt_population_phase *phase)
{
    pop->kind = kind;
    pop->gamma = phase->gamma;
    pop->lambda = phase->weight_decay;
    pop->delta = kind == STATE_JOINT ? phase->elastic : 0.0;
}

int akt_population_run_source(akt_population *pop, const akt_population_phase *phase,
                              akt_population_run *run, akt_error *err)
{
    int status = check_phase(phase, err);
    if (status != AKT_OK)
        return status;
    if (pop->kind == STATE_NONE)
        return akt_error_set(err, AKT_ERR_MEMORY, "population: sampling failed (out of memory)");
    size_t S = pop->S, P1 = pop->rows[AKT_POINTS_SOURCE_TRAIN];
    memset(pop->y_source, 0, S * P1 * sizeof *pop->y_source);
    memcpy(pop->y_source + S * P1, pop->z0, S * sizeof *pop->z0);
    pop->t = 0.0;
    set_phase(pop, STATE_SOURCE, phase);
    flow_context c;
    phase_context(pop, &c);
    status = integrate(pop, &c, pop->step_source, pop->y_source, phase, NULL, run, err);
    if (status != AKT_OK)
        return status;
    /* Keep what the target regimes need: h_s on the target points and the source readout. */
    for (int s = AKT_POINTS_TARGET_TRAIN; s <= AKT_POINTS_TEST; s++) {
        status = query_preactivations(pop, (akt_points)s, err);
        if (status != AKT_OK)
            return status;
        memcpy(pop->hs[s], pop->Q, S * pop->rows[s] * sizeof *pop->Q);
    }
    memcpy(pop->z_source, pop->y_source + S * P1, S * sizeof *pop->z_source);
    pop->source_done = true;
    return AKT_OK;
}

int akt_population_start_scratch(akt_population *pop, akt_error *err)
{
    if (pop->kind == STATE_NONE)
        return akt_error_set(err, AKT_ERR_INPUT, "population: not sampled");
    size_t S = pop->S, P2 = pop->rows[AKT_POINTS_TARGET_TRAIN];
    memset(pop->y_target, 0, S * P2 * sizeof *pop->y_target);
    memcpy(pop->y_target + S * P2, pop->z0, S * sizeof *pop->z0);
    pop->kind = STATE_SCRATCH;
    pop->t = 0.0;
    return AKT_OK;
}

int akt_population_start_joint(akt_population *pop, akt_readout_init readout_init,
                               akt_error *err)
{
    if (!pop->source_done)
        return akt_error_set(err, AKT_ERR_INPUT, "population: the joint regime needs the source "
                             "state (run the source phase first)");
    size_t S = pop->S, P2 = pop->rows[AKT_POINTS_TARGET_TRAIN];
    double *z = pop->y_target + S * P2;
    memset(pop->y_target, 0, S * P2 * sizeof *pop->y_target);
    if (readout_init == AKT_READOUT_ZERO) {
        memset(z, 0, S * sizeof *z);
    } else if (readout_init == AKT_READOUT_SOURCE) {
        memcpy(z, pop->z_source, S * sizeof *z);
    } else {
        gsl_rng *fresh = stream(pop, AKT_POPULATION_STREAM_FRESH);
        if (!fresh)
            return akt_error_set(err, AKT_ERR_MEMORY, "out of memory allocating a generator");
        for (size_t k = 0; k < S / 2; k++) {
            z[2 * k] = gsl_ran_gaussian_ziggurat(fresh, 1.0);
            z[2 * k + 1] = -z[2 * k];
        }
        gsl_rng_free(fresh);
    }
    pop->kind = STATE_JOINT;
    pop->t = 0.0;
    return AKT_OK;
}

int akt_population_run_target(akt_population *pop, const akt_population_phase *phase,
                              akt_population_run *run, akt_error *err)
{
    int status = check_phase(phase, err);
    if (status != AKT_OK)
        return status;
    if (pop->kind != STATE_SCRATCH && pop->kind != STATE_JOINT)
        return akt_error_set(err, AKT_ERR_INPUT, "population: start a target phase first");
    set_phase(pop, pop->kind, phase);
    flow_context c;
    phase_context(pop, &c);
    return integrate(pop, &c, pop->step_target, pop->y_target, phase, NULL, run, err);
}

/* ---- source kernel and readout regime ------------------------------------------------------ */

int akt_population_source_kernel(akt_population *pop, double *K, double *K_cross, akt_error *err)
{
    if (!pop->source_done)
        return akt_error_set(err, AKT_ERR_INPUT, "population: the source kernel needs the source "
                             "state (run the source phase first)");
    size_t S = pop->S, P2 = pop->rows[AKT_POINTS_TARGET_TRAIN], Mt = pop->rows[AKT_POINTS_TEST];
    double *Ftrain = pop->H, *Ftest = pop->Q;
    memcpy(Ftrain, pop->hs[AKT_POINTS_TARGET_TRAIN], S * P2 * sizeof *Ftrain);
    activate_in_place(pop->activation, Ftrain, S * P2);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P2, (int)P2, (int)S,
                1.0 / (double)S, Ftrain, (int)P2, Ftrain, (int)P2, 0.0, K, (int)P2);
    memcpy(K_cross, K, P2 * P2 * sizeof *K);
    if (Mt == 0)
        return AKT_OK;
    memcpy(Ftest, pop->hs[AKT_POINTS_TEST], S * Mt * sizeof *Ftest);
    activate_in_place(pop->activation, Ftest, S * Mt);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Mt, (int)P2, (int)S,
                1.0 / (double)S, Ftest, (int)Mt, Ftrain, (int)P2, 0.0, K_cross + P2 * P2,
                (int)P2);
    return AKT_OK;
}

int akt_population_readout(akt_population *pop, double ridge, double *f, akt_error *err)
{
    size_t P2 = pop->rows[AKT_POINTS_TARGET_TRAIN], M = P2 + pop->rows[AKT_POINTS_TEST];
    double *K = malloc(P2 * P2 * sizeof *K), *K_cross = malloc(M * P2 * sizeof *K_cross);
    int status;
    if (!K || !K_cross)
        status = akt_error_set(err, AKT_ERR_MEMORY, "out of memory allocating the source kernel");
    else
        status = akt_population_source_kernel(pop, K, K_cross, err);
    if (status == AKT_OK)
        status = akt_ridge_predict(K, P2, K_cross, M, pop->data->target.y, ridge, f, err);
    free(K);
    free(K_cross);
    return status;
}

/* ---- adapted NTK ----------------------------------------------------------------------------- */

double akt_population_ntk_max(akt_population *pop)
{
    if (pop->kind != STATE_SOURCE && pop->kind != STATE_SCRATCH && pop->kind != STATE_JOINT)
        return 0.0;
    flow_context c;
    phase_context(pop, &c);
    size_t S = pop->S, P = c.P;
    const double *y = pop->kind == STATE_SOURCE ? pop->y_source : pop->y_target;
    const double *z = y + S * P;
    /* Phi = F'F/S, G = (z Fp)'(z Fp)/S, K = Phi + G * C, from the last evaluated H. */
    memcpy(pop->H, c.h_base, S * P * sizeof *pop->H);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)S, (int)P, (int)P, 1.0, y, (int)P,
                c.C, (int)P, base_factor(c.lambda, c.delta, pop->t), pop->H, (int)P);
    activate(pop->activation, pop->H, pop->F, pop->Fp, S * P);
    double *K = pop->K;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)P, (int)S, 1.0 / (double)S,
                pop->F, (int)P, pop->F, (int)P, 0.0, K, (int)P);
    for (size_t i = 0; i < S; i++)
        cblas_dscal((int)P, z[i], pop->Fp + i * P, 1);
    /* G goes into H (free now, S x P >= P x P entries when S >= P, which always holds in
     * practice; otherwise the tangent part is skipped and the result is a lower bound). */
    if (S >= P) {
        double *Gmat = pop->H; /* S x P >= P x P entries, H is free now */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)P, (int)S,
                    1.0 / (double)S, pop->Fp, (int)P, pop->Fp, (int)P, 0.0, Gmat, (int)P);
        for (size_t i = 0; i < P * P; i++)
            K[i] += Gmat[i] * c.C[i];
    }
    /* Power iteration on the symmetric PSD K: 50 products of a P x P matrix are negligible. */
    double *v = pop->power, *w = pop->power + P, lambda_max = 0.0;
    for (size_t i = 0; i < P; i++)
        v[i] = 1.0 / sqrt((double)P);
    for (int it = 0; it < 50; it++) {
        cblas_dsymv(CblasRowMajor, CblasUpper, (int)P, 1.0, K, (int)P, v, 1, 0.0, w, 1);
        double norm = cblas_dnrm2((int)P, w, 1);
        if (!(norm > 0.0))
            return 0.0;
        lambda_max = norm;
        for (size_t i = 0; i < P; i++)
            v[i] = w[i] / norm;
    }
    return lambda_max;
}

/* ---- observer and adapted kernels ------------------------------------------------------------- */

void akt_population_set_observer(akt_population *pop, akt_population_observer observer,
                                 void *context)
{
    pop->observer = observer;
    pop->observer_context = context;
}

/* Neurons per block of akt_population_kernels: the work space is three blocks x M doubles. */
#define KERNEL_BLOCK_NEURONS 256

/* Pre-activations of neurons first .. first + count - 1 of the current state on a point set,
 * into out (row i at out + i * ld): the block form of query_preactivations. */
static int preactivation_block(const akt_population *pop, akt_points points, size_t first,
                               size_t count, double *out, size_t ld, akt_error *err)
{
    size_t M = pop->rows[points], P;
    const double *base, *C, *state;
    if (pop->kind == STATE_SOURCE) {
        base = pop->h0[points];
        C = pop->C1[points];
        state = pop->y_source;
        P = pop->rows[AKT_POINTS_SOURCE_TRAIN];
    } else if ((pop->kind == STATE_SCRATCH || pop->kind == STATE_JOINT) &&
               (points == AKT_POINTS_TARGET_TRAIN || points == AKT_POINTS_TEST)) {
        base = pop->kind == STATE_JOINT ? pop->hs[points] : pop->h0[points];
        C = pop->C2[points];
        state = pop->y_target;
        P = pop->rows[AKT_POINTS_TARGET_TRAIN];
    } else {
        return akt_error_set(err, AKT_ERR_INPUT, "population: the %s state has no kernels on "
                             "that point set", state_name(pop->kind));
    }
    if (M == 0)
        return AKT_OK;
    for (size_t i = 0; i < count; i++)
        memcpy(out + i * ld, base + (first + i) * M, M * sizeof *out);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)count, (int)M, (int)P, 1.0,
                state + first * P, (int)P, C, (int)M, base_factor(pop->lambda, pop->delta, pop->t),
                out, (int)ld);
    return AKT_OK;
}

/* Copies the upper triangle of the n x n matrix A onto its lower one. */
static void symmetrize_upper(double *A, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            A[i * n + j] = A[j * n + i];
}

int akt_population_kernels(akt_population *pop, const bool points[AKT_POINTS_COUNT], double *Phi,
                           double *G, akt_error *err)
{
    if (pop->kind != STATE_SOURCE && pop->kind != STATE_SCRATCH && pop->kind != STATE_JOINT)
        return akt_error_set(err, AKT_ERR_INPUT, "population: kernels need a trained state");
    if (pop->kind != STATE_SOURCE &&
        (points[AKT_POINTS_SOURCE_TRAIN] || points[AKT_POINTS_SOURCE_TEST]))
        return akt_error_set(err, AKT_ERR_INPUT, "population: the %s state has no kernels on the "
                             "source points", state_name(pop->kind));
    size_t S = pop->S, M = 0, offset[AKT_POINTS_COUNT];
    for (int s = 0; s < AKT_POINTS_COUNT; s++) {
        offset[s] = M;
        M += points[s] ? pop->rows[s] : 0;
    }
    if (M == 0)
        return AKT_OK;
    const double *z = pop->kind == STATE_SOURCE
                          ? pop->y_source + S * pop->rows[AKT_POINTS_SOURCE_TRAIN]
                          : pop->y_target + S * pop->rows[AKT_POINTS_TARGET_TRAIN];
    size_t block = S < KERNEL_BLOCK_NEURONS ? S : KERNEL_BLOCK_NEURONS;
    double *H = malloc(block * M * sizeof *H), *F = malloc(block * M * sizeof *F);
    double *Fp = malloc(block * M * sizeof *Fp);
    int status = H && F && Fp ? AKT_OK
                              : akt_error_set(err, AKT_ERR_MEMORY, "out of memory in the kernels");
    memset(Phi, 0, M * M * sizeof *Phi);
    if (G)
        memset(G, 0, M * M * sizeof *G);
    /* Phi = F'F / S and G = (z Fp)'(z Fp) / S, accumulated a block of neurons at a time so that
     * the work space stays O(M) per neuron of a block, not O(S M). */
    for (size_t first = 0; status == AKT_OK && first < S; first += block) {
        size_t count = S - first < block ? S - first : block;
        for (int s = 0; s < AKT_POINTS_COUNT && status == AKT_OK; s++)
            if (points[s])
                status = preactivation_block(pop, (akt_points)s, first, count, H + offset[s], M,
                                             err);
        if (status != AKT_OK)
            break;
        activate(pop->activation, H, F, Fp, count * M);
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)M, (int)count, 1.0 / (double)S, F,
                    (int)M, 1.0, Phi, (int)M);
        if (!G)
            continue;
        for (size_t i = 0; i < count; i++)
            cblas_dscal((int)M, z[first + i], Fp + i * M, 1);
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)M, (int)count, 1.0 / (double)S, Fp,
                    (int)M, 1.0, G, (int)M);
    }
    if (status == AKT_OK) {
        symmetrize_upper(Phi, M);
        if (G)
            symmetrize_upper(G, M);
    }
    free(H);
    free(F);
    free(Fp);
    return status;
}

/* ---- stability of the joint state ------------------------------------------------------------ */

static double rms(const double *v, size_t n)
{
    return n ? cblas_dnrm2((int)n, v, 1) / sqrt((double)n) : 0.0;
}

static double rms_difference(const double *a, const double *b, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (a[i] - b[i]) * (a[i] - b[i]);
    return n ? sqrt(sum / (double)n) : 0.0;
}

/* Adds relative * rms(block) * N(0,1) to every entry of the b block and of the z block. */
static int kick(akt_population *pop, double *y, double relative, akt_error *err)
{
    size_t S = pop->S, P2 = pop->rows[AKT_POINTS_TARGET_TRAIN];
    gsl_rng *rng = stream(pop, AKT_POPULATION_STREAM_KICK);
    if (!rng)
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory allocating a generator");
    double scale_b = relative * rms(y, S * P2), scale_z = relative * rms(y + S * P2, S);
    for (size_t i = 0; i < S * P2; i++)
        y[i] += scale_b * gsl_ran_gaussian_ziggurat(rng, 1.0);
    for (size_t i = 0; i < S; i++)
        y[S * P2 + i] += scale_z * gsl_ran_gaussian_ziggurat(rng, 1.0);
    gsl_rng_free(rng);
    return AKT_OK;
}

static void swap_states(akt_population *pop)
{
    double *plain = pop->y_target;
    pop->y_target = pop->y_spare;
    pop->y_spare = plain;
}

int akt_population_stability(akt_population *pop, const akt_population_phase *phase,
                             double extra_time, double *growth, akt_stability *stable,
                             akt_error *err)
{
    *stable = AKT_STABLE_UNTESTED;
    *growth = NAN;
    if (pop->kind != STATE_JOINT)
        return akt_error_set(err, AKT_ERR_INPUT, "population: the stability test needs a joint "
                             "state");
    size_t S = pop->S, P2 = pop->rows[AKT_POINTS_TARGET_TRAIN], Mt = pop->rows[AKT_POINTS_TEST];
    size_t n = S * (P2 + 1);
    double *f_plain = malloc((Mt ? Mt : 1) * sizeof *f_plain);
    double *f_kicked = malloc((Mt ? Mt : 1) * sizeof *f_kicked);
    double *f_half = malloc((Mt ? Mt : 1) * sizeof *f_half);
    step_log log = {NULL, 0, 0, 0, false};
    akt_population_phase extra = *phase;
    extra.time = extra_time;
    int status = AKT_OK;
    if (!f_plain || !f_kicked || !f_half) {
        status = akt_error_set(err, AKT_ERR_MEMORY, "out of memory in the stability test");
        goto done;
    }
    double t_state = pop->t, d0 = 0.0, d_half = 0.0, d1 = 0.0;
    /* y_spare: the kicked copy. Measure d0 with it swapped in. */
    memcpy(pop->y_spare, pop->y_target, n * sizeof *pop->y_spare);
    if ((status = kick(pop, pop->y_spare, 1e-6, err)) != AKT_OK)
        goto done;
    if ((status = akt_population_predict(pop, AKT_POINTS_TEST, f_plain, err)) != AKT_OK)
        goto done;
    swap_states(pop);
    status = akt_population_predict(pop, AKT_POINTS_TEST, f_kicked, err);
    swap_states(pop);
    if (status != AKT_OK)
        goto done;
    d0 = rms_difference(f_plain, f_kicked, Mt);

    /* Plain copy: two halves, recording the steps and the test predictions at the middle. */
    flow_context c;
    akt_population_run run;
    extra.time = 0.5 * extra_time;
    phase_context(pop, &c);
    if ((status = integrate(pop, &c, pop->step_target, pop->y_target, &extra, &log, &run, err)) ||
        (status = akt_population_predict(pop, AKT_POINTS_TEST, f_half, err)) ||
        (status = integrate(pop, &c, pop->step_target, pop->y_target, &extra, &log, &run, err)) ||
        (status = akt_population_predict(pop, AKT_POINTS_TEST, f_plain, err)))
        goto done;
    /* The kicked copy follows the same steps. */
    swap_states(pop);
    pop->t = t_state;
    log.replay = true;
    if ((status = integrate(pop, &c, pop->step_target, pop->y_target, &extra, &log, &run, err)) ||
        (status = akt_population_predict(pop, AKT_POINTS_TEST, f_kicked, err)))
        goto done;
    d_half = rms_difference(f_half, f_kicked, Mt);
    if ((status = integrate(pop, &c, pop->step_target, pop->y_target, &extra, &log, &run, err)) ||
        (status = akt_population_predict(pop, AKT_POINTS_TEST, f_kicked, err)))
        goto done;
    d1 = rms_difference(f_plain, f_kicked, Mt);
    *growth = d0 > 0.0 ? d1 / d0 : NAN;
    /* Unstable: amplified more than tenfold AND still growing (doubling) over the second half,
     * i.e. drifting away; a relu state amplifies a kick once (neurons near kinks switch at
     * slightly different times, measured growth ~1e3 within t = 1) and then holds it. */
    *stable = d0 > 0.0 && !(d1 > 10.0 * d0 && d1 > 2.0 * d_half) ? AKT_STABLE_YES
                                                                 : AKT_STABLE_NO;
done:
    free(f_plain);
    free(f_kicked);
    free(f_half);
    free(log.steps);
    return status;
}

/* ---- the whole transfer problem ---------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static akt_population_phase make_phase(const akt_spec *spec, double gamma, double weight_decay,
                                       double elastic, double time)
{
    akt_population_phase phase = {gamma, weight_decay, elastic, time,
                                  spec->solver.step_tolerance, spec->solver.tolerance,
                                  spec->solver.max_time, spec->solver.min_step};
    return phase;
}

/* Per-regime accumulators over replicas. */
typedef struct {
    double *test, *train;
    size_t done;
    long steps;
    double residual, seconds;
    akt_stability stable;
    bool converged;
    bool failed;
} regime_tally;

static void tally_add(regime_tally *t, double test, double train, const akt_population_run *run)
{
    t->test[t->done] = test;
    t->train[t->done] = train;
    t->done++;
    if (run) {
        t->steps += run->steps;
        if (!(run->residual <= t->residual))
            t->residual = isnan(t->residual) ? run->residual : fmax(t->residual, run->residual);
        t->converged = t->converged && run->converged;
    }
}

static double mean(const double *v, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return n ? sum / (double)n : NAN;
}

static double standard_error(const double *v, size_t n)
{
    if (n < 2)
        return NAN;
    double m = mean(v, n), sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (v[i] - m) * (v[i] - m);
    return sqrt(sum / (double)(n - 1)) / sqrt((double)n);
}

/* Losses of the current state: train on the training set, test on the test set. */
static int state_losses(akt_population *pop, akt_points train, akt_points test, double *f,
                        double *train_loss, double *test_loss, akt_error *err)
{
    const akt_split *train_split = pop->splits[train], *test_split = pop->splits[test];
    int status = akt_population_predict(pop, train, f, err);
    if (status != AKT_OK)
        return status;
    *train_loss = akt_mean_squared_error(f, train_split->y, train_split->rows);
    if ((status = akt_population_predict(pop, test, f, err)) != AKT_OK)
        return status;
    *test_loss = akt_mean_squared_error(f, test_split->y, test_split->rows);
    return AKT_OK;
}

/* ---- optional outputs: loss trajectories and kernels (output.h) ------------------------------ */

/* What one replica hands to the outputs: every phase's losses at the clock's times (through the
 * integrator's observer hook) and its final kernels. */
typedef struct {
    akt_outputs *outputs;            /* NULL: nothing is recorded */
    bool record[AKT_REGIME_COUNT];   /* the regimes this solve hands over */
    unsigned long replica;
    double *f;                       /* prediction work space */
    akt_regime regime;               /* the phase being recorded */
    akt_points train, test;
    akt_trajectory_clock clock;
    double recorded;                 /* time of the phase's last row */
} recorder;

static int record_row(recorder *r, akt_population *pop, double t, akt_error *err)
{
    double train, test;
    int status = state_losses(pop, r->train, r->test, r->f, &train, &test, err);
    if (status == AKT_OK)
        status = akt_outputs_add_losses(r->outputs, r->regime, r->replica, t, train, test, err);
    r->recorded = t;
    return status;
}

static int observe_step(void *context, double t, akt_population *pop, akt_error *err)
{
    recorder *r = context;
    return akt_trajectory_clock_due(&r->clock, t) ? record_row(r, pop, t, err) : AKT_OK;
}

/* Before a phase run (its start state in place): the row at t = 0, and the observer on. A target
 * start takes the phase's parameters first, so that its output is read with its gamma (readout
 * init source starts from (gamma1/gamma2) f_source). */
static int record_begin(recorder *r, akt_population *pop, akt_regime regime,
                        const akt_population_phase *phase, akt_error *err)
{
    if (!r->record[regime] || !akt_outputs_wants_trajectory(r->outputs, regime))
        return AKT_OK;
    bool source = regime == AKT_REGIME_SOURCE;
    r->regime = regime;
    r->train = source ? AKT_POINTS_SOURCE_TRAIN : AKT_POINTS_TARGET_TRAIN;
    r->test = source ? AKT_POINTS_SOURCE_TEST : AKT_POINTS_TEST;
    if (!source)
        set_phase(pop, pop->kind, phase);
    akt_trajectory_clock_start(&r->clock, phase->time == AKT_TIME_CONVERGE ? phase->max_time
                                                                            : phase->time);
    int status = record_row(r, pop, 0.0, err);
    if (status == AKT_OK)
        akt_population_set_observer(pop, observe_step, r);
    return status;
}

static int record_kernels(recorder *r, akt_population *pop, akt_regime regime, akt_error *err)
{
    bool points[AKT_POINTS_COUNT];
    size_t M;
    akt_outputs_kernel_splits(r->outputs, regime, points, &M);
    double *Phi = malloc((M ? M * M : 1) * sizeof *Phi), *G = malloc((M ? M * M : 1) * sizeof *G);
    int status = Phi && G ? akt_population_kernels(pop, points, Phi, G, err)
                          : akt_error_set(err, AKT_ERR_MEMORY, "out of memory in the kernels");
    if (status == AKT_OK)
        status = akt_outputs_add_kernels(r->outputs, regime, Phi, G, err);
    free(Phi);
    free(G);
    return status;
}

/* After a phase run, given the losses of its final state: the observer off, the final row (unless
 * the observer took it at this very time) and the kernels. */
static int record_end(recorder *r, akt_population *pop, akt_regime regime, double train,
                      double test, akt_error *err)
{
    akt_population_set_observer(pop, NULL, NULL);
    if (!r->record[regime])
        return AKT_OK;
    int status = AKT_OK;
    if (akt_outputs_wants_trajectory(r->outputs, regime) && r->recorded < pop->t)
        status = akt_outputs_add_losses(r->outputs, regime, r->replica, pop->t, train, test, err);
    if (status == AKT_OK && akt_outputs_wants_kernels(r->outputs, regime))
        status = record_kernels(r, pop, regime, err);
    return status;
}

/* One replica: source, then each wanted regime. */
static int solve_replica(const akt_spec *spec, akt_population *pop, const bool wanted[],
                         unsigned long replica, regime_tally tally[], double *f, int *failed_regime,
                         recorder *recording, akt_error *err)
{
    akt_population_run run;
    double train, test, start = now_seconds();
    akt_population_sample(pop, spec->seed, replica);
    akt_population_phase source = make_phase(spec, spec->source.gamma, spec->source.weight_decay,
                                             0.0, spec->source.time);
    akt_population_phase target = make_phase(spec, spec->target.gamma, spec->target.weight_decay,
                                             spec->target.elastic, spec->target.time);
    int status;
    *failed_regime = AKT_REGIME_SOURCE;
    recording->replica = replica;
    if ((status = record_begin(recording, pop, AKT_REGIME_SOURCE, &source, err)) != AKT_OK ||
        (status = akt_population_run_source(pop, &source, &run, err)) != AKT_OK)
        return status;
    if ((status = state_losses(pop, AKT_POINTS_SOURCE_TRAIN, AKT_POINTS_SOURCE_TEST, f, &train,
                               &test, err)) != AKT_OK ||
        (status = record_end(recording, pop, AKT_REGIME_SOURCE, train, test, err)) != AKT_OK)
        return status;
    tally_add(&tally[AKT_REGIME_SOURCE], test, train, &run);
    tally[AKT_REGIME_SOURCE].seconds += now_seconds() - start;

    if (wanted[AKT_REGIME_SCRATCH]) {
        start = now_seconds();
        *failed_regime = AKT_REGIME_SCRATCH;
        if ((status = akt_population_start_scratch(pop, err)) != AKT_OK ||
            (status = record_begin(recording, pop, AKT_REGIME_SCRATCH, &target, err)) != AKT_OK ||
            (status = akt_population_run_target(pop, &target, &run, err)) != AKT_OK ||
            (status = state_losses(pop, AKT_POINTS_TARGET_TRAIN, AKT_POINTS_TEST, f, &train,
                                   &test, err)) != AKT_OK ||
            (status = record_end(recording, pop, AKT_REGIME_SCRATCH, train, test, err)) != AKT_OK)
            return status;
        tally_add(&tally[AKT_REGIME_SCRATCH], test, train, &run);
        tally[AKT_REGIME_SCRATCH].seconds += now_seconds() - start;
    }
    if (wanted[AKT_REGIME_READOUT]) {
        start = now_seconds();
        *failed_regime = AKT_REGIME_READOUT;
        if ((status = akt_population_readout(pop, spec->target.readout_decay, f, err)) != AKT_OK)
            return status;
        const akt_data *data = pop->data;
        train = akt_mean_squared_error(f, data->target.y, data->target.rows);
        test = akt_mean_squared_error(f + data->target.rows, data->test.y, data->test.rows);
        tally_add(&tally[AKT_REGIME_READOUT], test, train, NULL);
        tally[AKT_REGIME_READOUT].seconds += now_seconds() - start;
    }
    if (wanted[AKT_REGIME_JOINT]) {
        start = now_seconds();
        *failed_regime = AKT_REGIME_JOINT;
        if ((status = akt_population_start_joint(pop, spec->target.readout_init, err)) != AKT_OK ||
            (status = record_begin(recording, pop, AKT_REGIME_JOINT, &target, err)) != AKT_OK ||
            (status = akt_population_run_target(pop, &target, &run, err)) != AKT_OK ||
            (status = state_losses(pop, AKT_POINTS_TARGET_TRAIN, AKT_POINTS_TEST, f, &train,
                                   &test, err)) != AKT_OK ||
            (status = record_end(recording, pop, AKT_REGIME_JOINT, train, test, err)) != AKT_OK)
            return status;
        tally_add(&tally[AKT_REGIME_JOINT], test, train, &run);
        /* The perturbation test runs for min(T2, 10) more (10 for time converge): long enough
         * for an O(1)-rate instability to amplify a kick by e^10, short beside the phase. */
        double extra = spec->target.time == AKT_TIME_CONVERGE ? 10.0 : fmin(spec->target.time, 10.0);
        double growth;
        akt_stability stable;
        if ((status = akt_population_stability(pop, &target, extra, &growth, &stable, err)) !=
            AKT_OK)
            return status;
        regime_tally *joint = &tally[AKT_REGIME_JOINT];
        if (joint->stable != AKT_STABLE_NO)
            joint->stable = stable;
        tally[AKT_REGIME_JOINT].seconds += now_seconds() - start;
    }
    return AKT_OK;
}

static void fill_result(akt_result *result, akt_regime regime, const regime_tally *t)
{
    memset(result, 0, sizeof *result);
    result->regime = regime;
    result->method = AKT_METHOD_POPULATION;
    result->test_loss = mean(t->test, t->done);
    result->train_loss = mean(t->train, t->done);
    result->mc_error = standard_error(t->test, t->done);
    result->residual = t->residual;
    result->stable = t->stable;
    result->converged = !t->failed && t->done > 0 && t->converged && t->stable != AKT_STABLE_NO;
    result->iterations = t->steps;
    result->seconds = t->seconds;
}

static int check_request(const akt_spec *spec, const akt_data *data, const bool wanted[],
                         akt_error *err)
{
    if (spec->solver.replicas < 1)
        return akt_error_set(err, AKT_ERR_INPUT, "solver.replicas: need at least 1");
    if (spec->solver.neurons < 2 || spec->solver.neurons % 2 != 0)
        return akt_error_set(err, AKT_ERR_INPUT, "solver.neurons: the population needs an even "
                             "number >= 2 (antithetic pairs), got %ld", spec->solver.neurons);
    if (wanted[AKT_REGIME_JOINT] && spec->source.time == AKT_TIME_CONVERGE)
        return akt_error_set(err, AKT_ERR_INPUT, "target.regimes: the joint regime needs a "
                             "numeric source.time (the e^{-lambda1 T1} h0 remainder carries the "
                             "neuron diversity that decides where the joint flow goes)");
    double gib = akt_population_memory_gib(data, (size_t)spec->solver.neurons);
    if (gib > AKT_POPULATION_MEMORY_LIMIT_GIB)
        return akt_error_set(err, AKT_ERR_INPUT, "solver.neurons: a population of %ld neurons on "
                             "these %zu + %zu + %zu + %zu points needs an estimated %.1f GiB "
                             "(limit %.0f GiB); use fewer neurons", spec->solver.neurons,
                             data->source.rows, data->target.rows, data->test.rows,
                             data->source_test.rows, gib, AKT_POPULATION_MEMORY_LIMIT_GIB);
    return AKT_OK;
}

int akt_population_transfer(const akt_spec *spec, const akt_data *data,
                            const bool wanted[AKT_REGIME_COUNT], akt_solution *solution,
                            akt_error *err)
{
    return akt_population_transfer_outputs(spec, data, wanted, NULL, solution, err);
}

int akt_population_transfer_outputs(const akt_spec *spec, const akt_data *data,
                                    const bool wanted_in[AKT_REGIME_COUNT],
                                    akt_outputs *outputs, akt_solution *solution, akt_error *err)
{
    memset(solution, 0, sizeof *solution);
    bool wanted[AKT_REGIME_COUNT];
    memcpy(wanted, wanted_in, sizeof wanted);
    wanted[AKT_REGIME_SOURCE] = true;
    /* The source is always solved, but handed over only when the caller wants it. */
    recorder recording = {.outputs = outputs};
    for (int r = 0; outputs && r < AKT_REGIME_COUNT; r++)
        recording.record[r] = wanted_in[r];
    akt_outputs_clear(outputs, recording.record);
    int status = check_request(spec, data, wanted, err);
    if (status != AKT_OK)
        return status;
    size_t R = (size_t)spec->solver.replicas;
    regime_tally tally[AKT_REGIME_COUNT];
    memset(tally, 0, sizeof tally);
    size_t f_size = max_size(data->source.rows + data->source_test.rows,
                             data->target.rows + data->test.rows);
    double *f = malloc(f_size * sizeof *f);
    double *store = malloc(2 * AKT_REGIME_COUNT * R * sizeof *store);
    akt_population *pop = NULL;
    if (!f || !store) {
        status = akt_error_set(err, AKT_ERR_MEMORY, "out of memory allocating results");
        goto done;
    }
    recording.f = f;
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        tally[r].test = store + 2 * r * R;
        tally[r].train = store + (2 * r + 1) * R;
        tally[r].residual = NAN;
        tally[r].converged = true;
        tally[r].stable = r == AKT_REGIME_JOINT ? AKT_STABLE_YES : AKT_STABLE_UNTESTED;
    }
    pop = akt_population_alloc(data, spec->network.activation, (size_t)spec->solver.neurons, err);
    if (!pop) {
        status = err->status;
        goto done;
    }
    for (size_t replica = 0; replica < R && status == AKT_OK; replica++) {
        int failed_regime = AKT_REGIME_SOURCE;
        status = solve_replica(spec, pop, wanted, replica, tally, f, &failed_regime, &recording,
                               err);
        if (status != AKT_OK) {
            tally[failed_regime].failed = true;
            akt_error_prefix(err, "regime %s, replica %zu: ",
                             akt_regime_name((akt_regime)failed_regime), replica);
        }
    }
    for (int r = 0; r < AKT_REGIME_COUNT; r++)
        if (wanted[r])
            fill_result(&solution->results[solution->count++], (akt_regime)r, &tally[r]);
done:
    akt_population_free(pop);
    free(f);
    free(store);
    return status;
}
