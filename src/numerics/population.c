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
 * so one evaluation costs one S x P x P product (h = c C) and O(S P) elementwise work.
 * Weight coordinates (THEORY.md section 2, "Two coordinates"): with C = X X'/D the same state is
 * v = c X / sqrt(D) in R^D, the part of the hidden weights the data moved, h = r h_base +
 * v X' / sqrt(D); every update of c (c += u) becomes v += u X / sqrt(D). An evaluation then costs
 * two S x P x D products (the update into v, then h) instead of one S x P x P, so a phase runs in
 * weights when 2 D < P (use_weights; D = 200, P = 1000: 2.5 times fewer product flops). Only the
 * state's storage and the products change: h_base, the features, K and the kink logic are the
 * same, so both coordinates give the same numbers up to round-off (tests/population/
 * test_coordinates.c; relu at a loose step tolerance amplifies round-off to its integration
 * error, in either coordinates, see there).
 *
 * Time integration: an exponential midpoint rule built for where the stiffness lives.
 * Along the flow the outputs obey exactly  dDelta/dt = -K Delta + q,  K the adapted NTK on the
 * training points (rates up to lambda_max(K), which grows with P and as features are learned,
 * THEORY.md section 1) and q the forcing by the decays. Each step (length h):
 *   1. predictor: half an exponential Euler step to the midpoint;
 *   2. at the midpoint: features, K (two S x P x P rank-P updates) and q;
 *   3. the residual's integral over the step under the frozen midpoint model,
 *      Psi = h phi1(-hK) Delta_start + h^2 phi2(-hK) q_mid, exact for the stiff modes (by
 *      Lanczos on K, a few P x P matrix-vector products to round-off accuracy, krylov_phi; no
 *      P^3 eigendecomposition per step); each neuron then moves by its midpoint features times
 *      Psi, the decays by integrating factor.
 * Second order in h, no stability limit from K or the decays. The local error estimate is free:
 * the end state's actual residual against the model's predicted one, both O(h^3) accurate,
 * measured in output units on the training points (which drive the whole flow). A step costs
 * two S x P x P products (h at the midpoint and the end; weights: four S x P x D) plus two
 * rank-P updates for K.
 * Relu kinks: a component h_mu that crosses 0 within a step, or slides along it, gets the
 * switched-on fraction of the step its linear motion implies (resolve_kinks; the fractions of
 * one neuron's components are solved together, they are coupled through C). The error estimate
 * sees the smooth part only, so relu accuracy follows the step tolerance less than in
 * proportion (tests/population/test_integrator.c: 0.1 percent of small-step Euler needs
 * step_tolerance 1e-5 or below).
 * Time converge (t -> infinity): the flow in segments of one time unit, the segment map
 * accelerated by safeguarded Anderson mixing once it contracts steadily (converge_accelerated). */
#include "akt/population.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <gsl/gsl_rng.h>
#include <lapacke.h>
/* gsl_randist.h pulls in GSL's own cblas.h, whose enums clash with OpenBLAS's (included above,
 * and the one we link); its include guard keeps GSL's copy out. */
#define __GSL_CBLAS_H__
#include <gsl/gsl_randist.h>

#include "akt/activation.h"
#include "akt/exact.h"
#include "core/util.h"
#include "numerics/anderson.h"
#include "core/threads.h"


/* One evaluation of the flow at a state (see evaluate). */
typedef struct {
    double *H, *F, *W;            /* S x P: h, phi(h) and the tangent features z phi'(h) */
    double *f, *Delta, *q;        /* P: predictions, residual y - f, decay forcing of Delta */
} flow_eval;

typedef enum { STATE_NONE, STATE_INITIAL, STATE_SOURCE, STATE_SCRATCH, STATE_JOINT } state_kind;

struct akt_population {
    const akt_data *data;
    akt_activation activation;
    size_t S, D, Pmax, Qmax;
    size_t rows[AKT_POINTS_COUNT];
    bool weights[2];              /* coordinates of the source (0) and target (1) phases */
    size_t width[2];              /* their per-neuron state width: P or D */
    const akt_split *splits[AKT_POINTS_COUNT];
    unsigned long seed, replica;

    double *h0[AKT_POINTS_COUNT]; /* S x rows, the sampled initial pre-activations */
    double *z0;                   /* S */
    /* The sampled initial hidden weights s_h w0 of pair k in row k ((S/2 + 1) x D, the last row
     * work space of the orthogonal sampling): kept for the distance travelled in weight
     * coordinates and the raw weights (akt_population_hidden_weights). */
    double *w0;
    double *C1[AKT_POINTS_COUNT]; /* Gram C(X1, X_split): P1 x rows */
    double *C2[AKT_POINTS_COUNT]; /* Gram C(X2, X_split): P2 x rows */
    double *hs[AKT_POINTS_COUNT]; /* h_s on target train and test (after the source run) */
    double *z_source;             /* z at the end of the source run */
    double *ws_norm;              /* S: |w_s|^2 / D of each neuron's source hidden weights */
    double source_base;           /* the factor e^{-lambda1 T1} of h0 in h_s, as computed */
    bool source_done;

    /* Current phase: the state vector is [c (S x n) ; z (S)] in actual (not tilded) values, with
     * c the reduced coordinates (n = P) or the weights' data-span part v = c X / sqrt(D) (n = D). */
    state_kind kind;
    double t, gamma, lambda, delta;
    double *y_source, *y_target, *y_spare;

    /* Integrator work space, sized for the larger training split. */
    flow_eval evals[3];           /* the step's start, midpoint and end */
    double *y_new;                /* S x (Pmax + 1): the state a step proposes */
    double *H;                    /* S x Pmax scratch */
    double *K, *G, *eigenvalues;  /* Pmax^2, Pmax^2, Pmax: adapted NTK (upper triangle), work */
    double *Psi, *model_end, *work; /* Pmax, Pmax, 4 Pmax */
    double *krylov_V, *krylov_small; /* Lanczos basis (krylov_max + 1) x Pmax, its small work */
    size_t krylov_max;
    bool eigen_valid;             /* pop->G, eigenvalues hold the eigendecomposition of pop->K */
    double *z_mid, *kink_fractions; /* S (z at the step's midpoint), Pmax */
    double *Q;                    /* S x Qmax: pre-activations on a queried set */
    akt_population_observer observer;   /* called after each accepted step (NULL: none) */
    void *observer_context;
    double hidden_scale, readout_scale; /* s_h, s_z of the initial law (THEORY.md section 1) */
    /* Measurement options (akt_population_force_steps, akt_population_set_sampling; benchmarks
     * only, default off): a step sequence the next finite-time phases replay, and the law of w0's
     * directions. */
    double *forced_steps;
    size_t forced_count;
    akt_population_sampling sampling;
};

/* The flow of one phase: its training points, base pre-activations and parameters. */
typedef struct {
    akt_population *pop;
    size_t P, n;                  /* training points; state width (P reduced, D weights) */
    bool weights;
    const double *h_base, *C, *y;
    const double *X;              /* training inputs, P x D (weight coordinates) */
    double gamma, lambda, delta;
} flow_context;

/* ---- random streams ------------------------------------------------------------------------ */

static gsl_rng *stream(const akt_population *pop, unsigned purpose)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (rng)
        gsl_rng_set(rng, akt_population_stream_seed(pop->seed, purpose, pop->replica));
    return rng;
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

/* Weight coordinates for a phase on P training points in D dimensions? By the product flops of
 * an evaluation (akt_population_coordinates): 2 S P D against S P^2. */
static bool use_weights(akt_population_coordinates coordinates, size_t D, size_t P)
{
    if (coordinates == AKT_POPULATION_COORDINATES_AUTO)
        return 2 * D < P;
    return coordinates == AKT_POPULATION_COORDINATES_WEIGHTS;
}

/* Lanczos dimensions kept (krylov_phi): enough for the phi-functions of h K at every step size
 * the controller takes (converged in 10 to 40 in the runs measured); beyond it the step falls back
 * to a full eigendecomposition. */
#define KRYLOV_MAX_DIM 96

static size_t krylov_dim(size_t Pmax) { return Pmax < KRYLOV_MAX_DIM ? Pmax : KRYLOV_MAX_DIM; }

static size_t krylov_small_doubles(size_t m) { return m * m + 8 * m + 8; }

double akt_population_memory_gib(const akt_data *data, size_t neurons)
{
    size_t rows[AKT_POINTS_COUNT], Pmax, Qmax;
    population_sizes(data, rows, &Pmax, &Qmax);
    double S = (double)neurons;
    double M = (double)(rows[0] + rows[1] + rows[2] + rows[3]);
    double Mt = (double)rows[AKT_POINTS_TEST], Pm = (double)Pmax, P2 = (double)rows[1];
    size_t D = data->dim, m = krylov_dim(Pmax);
    double n1 = (double)(use_weights(AKT_POPULATION_COORDINATES_AUTO, D, rows[0]) ? D : rows[0]);
    double n2 = (double)(use_weights(AKT_POPULATION_COORDINATES_AUTO, D, rows[1]) ? D : rows[1]);
    /* h0 on every point, h_s on the target points, the query buffer, the three state vectors
     * and the proposed one, the scratch H, three evaluations (H, F, W), the kept w0 (D per
     * pair), and the P x P blocks with the Lanczos basis. */
    double per_neuron = M + (P2 + Mt) + (double)Qmax + (n1 + 1) + 2 * (n2 + 1) +
                        (fmax(n1, n2) + 1) + Pm + 9 * Pm + 3 + (double)D / 2.0;
    double doubles = S * per_neuron + (double)(rows[0] + rows[1]) * M + 2 * Pm * Pm + 20 * Pm +
                     (double)(m + 1) * Pm + (double)krylov_small_doubles(m);
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
    double *buffers[] = {pop->z0, pop->w0, pop->ws_norm, pop->z_source, pop->y_source, pop->y_target, pop->y_spare,
                         pop->y_new, pop->H, pop->K, pop->G, pop->eigenvalues, pop->Psi,
                         pop->model_end, pop->work, pop->z_mid, pop->kink_fractions, pop->Q,
                         pop->krylov_V, pop->krylov_small, pop->forced_steps};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        free(buffers[i]);
    for (int k = 0; k < 3; k++) {
        free(pop->evals[k].H);
        free(pop->evals[k].F);
        free(pop->evals[k].W);
        free(pop->evals[k].f);
    }
    free(pop);
}

static void gram_blocks(akt_population *pop)
{
    const akt_data *data = pop->data;
    for (int s = 0; s < AKT_POINTS_COUNT; s++) {
        akt_gram(data->source.x, data->source.rows, pop->splits[s]->x, pop->rows[s], data->dim,
                 pop->C1[s]);
        akt_gram(data->target.x, data->target.rows, pop->splits[s]->x, pop->rows[s], data->dim,
                 pop->C2[s]);
    }
}

akt_population *akt_population_alloc(const akt_data *data, akt_activation activation,
                                     size_t neurons, akt_error *err)
{
    return akt_population_alloc_coordinates(data, activation, neurons,
                                            AKT_POPULATION_COORDINATES_AUTO, err);
}

akt_population *akt_population_alloc_coordinates(const akt_data *data, akt_activation activation,
                                                 size_t neurons,
                                                 akt_population_coordinates coordinates,
                                                 akt_error *err)
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
    pop->hidden_scale = pop->readout_scale = 1.0;
    population_sizes(data, pop->rows, &pop->Pmax, &pop->Qmax);
    pop->splits[AKT_POINTS_SOURCE_TRAIN] = &data->source;
    pop->splits[AKT_POINTS_TARGET_TRAIN] = &data->target;
    pop->splits[AKT_POINTS_TEST] = &data->test;
    pop->splits[AKT_POINTS_SOURCE_TEST] = &data->source_test;

    size_t S = neurons, P1 = pop->rows[0], P2 = pop->rows[1], Pm = pop->Pmax;
    for (int phase = 0; phase < 2; phase++) {
        pop->weights[phase] = use_weights(coordinates, pop->D, pop->rows[phase]);
        pop->width[phase] = pop->weights[phase] ? pop->D : pop->rows[phase];
    }
    size_t n1 = pop->width[0], n2 = pop->width[1];
    bool failed = false;
    for (int s = 0; s < AKT_POINTS_COUNT; s++) {
        pop->h0[s] = alloc_doubles(S * pop->rows[s], &failed);
        pop->C1[s] = alloc_doubles(P1 * pop->rows[s], &failed);
        /* every split: a joint state's predictions on the source points need C(X2, X1t) */
        pop->C2[s] = alloc_doubles(P2 * pop->rows[s], &failed);
    }
    for (int s = AKT_POINTS_TARGET_TRAIN; s <= AKT_POINTS_TEST; s++)
        pop->hs[s] = alloc_doubles(S * pop->rows[s], &failed);
    pop->z0 = alloc_doubles(S, &failed);
    pop->w0 = alloc_doubles((S / 2 + 1) * pop->D, &failed);
    pop->z_source = alloc_doubles(S, &failed);
    pop->ws_norm = alloc_doubles(S, &failed);
    pop->y_source = alloc_doubles(S * (n1 + 1), &failed);
    pop->y_target = alloc_doubles(S * (n2 + 1), &failed);
    pop->y_spare = alloc_doubles(S * (n2 + 1), &failed);
    pop->y_new = alloc_doubles(S * (max_size(n1, n2) + 1), &failed);
    pop->H = alloc_doubles(S * Pm, &failed);
    for (int k = 0; k < 3; k++) {
        flow_eval *e = &pop->evals[k];
        e->H = alloc_doubles(S * Pm, &failed);
        e->F = alloc_doubles(S * Pm, &failed);
        e->W = alloc_doubles(S * Pm, &failed);
        e->f = alloc_doubles(3 * Pm, &failed);
        if (e->f) {
            e->Delta = e->f + Pm;
            e->q = e->f + 2 * Pm;
        }
    }
    pop->K = alloc_doubles(Pm * Pm, &failed);
    pop->G = alloc_doubles(Pm * Pm, &failed);
    pop->eigenvalues = alloc_doubles(Pm, &failed);
    pop->Psi = alloc_doubles(Pm, &failed);
    pop->model_end = alloc_doubles(Pm, &failed);
    pop->work = alloc_doubles(4 * Pm, &failed);
    pop->krylov_max = krylov_dim(Pm);
    pop->krylov_V = alloc_doubles((pop->krylov_max + 1) * Pm, &failed);
    pop->krylov_small = alloc_doubles(krylov_small_doubles(pop->krylov_max), &failed);
    pop->z_mid = alloc_doubles(S, &failed);
    pop->kink_fractions = alloc_doubles(Pm, &failed);
    pop->Q = alloc_doubles(S * pop->Qmax, &failed);
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

/* AKT_POPULATION_SAMPLING_ORTHOGONAL: the rows of w0 (rows x D, i.i.d. N(0, 1) entries) in
 * consecutive blocks of D rows (the last block may be shorter) get orthogonal directions: each
 * block is orthonormalised by Gram-Schmidt (twice, for round-off) and every row rescaled to its
 * own drawn norm. A Gaussian row's norm (chi_D) is independent of its direction, and Gram-Schmidt
 * of i.i.d. Gaussian rows gives Haar-distributed directions, so every row is still exactly
 * N(0, I_D) marginally; only the rows of a block are coupled (orthogonal, not independent). */
static void orthogonal_blocks(double *w0, size_t rows, size_t D, double *norms)
{
    for (size_t first = 0; first < rows; first += D) {
        size_t count = rows - first < D ? rows - first : D;
        double *block = w0 + first * D;
        for (size_t k = 0; k < count; k++) {
            double *v = block + k * D;
            norms[k] = cblas_dnrm2((int)D, v, 1);
            for (int pass = 0; pass < 2; pass++)
                for (size_t j = 0; j < k; j++) {
                    const double *q = block + j * D; /* already unit length */
                    cblas_daxpy((int)D, -cblas_ddot((int)D, v, 1, q, 1), q, 1, v, 1);
                }
            double left = cblas_dnrm2((int)D, v, 1);
            if (left > 0.0)
                cblas_dscal((int)D, 1.0 / left, v, 1);
        }
        for (size_t k = 0; k < count; k++)
            cblas_dscal((int)D, norms[k], block + k * D, 1);
    }
}

void akt_population_set_scales(akt_population *pop, double hidden_scale, double readout_scale)
{
    pop->hidden_scale = hidden_scale;
    pop->readout_scale = readout_scale;
}

void akt_population_sample(akt_population *pop, unsigned long seed, unsigned long replica)
{
    pop->seed = seed;
    pop->replica = replica;
    size_t S = pop->S, pairs = S / 2, D = pop->D;
    gsl_rng *hidden = stream(pop, AKT_POPULATION_STREAM_HIDDEN);
    gsl_rng *readout = stream(pop, AKT_POPULATION_STREAM_READOUT);
    /* Row k of W0 is the hidden weight vector of pair k (and D more doubles: the row norms of
     * AKT_POPULATION_SAMPLING_ORTHOGONAL). */
    double *w0 = pop->w0;
    if (!hidden || !readout) {
        /* Allocation of a generator failed: leave the population unsampled; the phases refuse
         * to run on it. */
        gsl_rng_free(hidden);
        gsl_rng_free(readout);
        pop->kind = STATE_NONE;
        return;
    }
    for (size_t i = 0; i < pairs * D; i++)
        w0[i] = gsl_ran_gaussian_ziggurat(hidden, 1.0);
    if (pop->sampling == AKT_POPULATION_SAMPLING_ORTHOGONAL)
        orthogonal_blocks(w0, pairs, D, w0 + pairs * D);
    for (size_t k = 0; k < pairs; k++) {
        double z = pop->readout_scale * gsl_ran_gaussian_ziggurat(readout, 1.0);
        pop->z0[2 * k] = z;
        pop->z0[2 * k + 1] = -z;
    }
    /* h0 = s_h w0.x / sqrt(D): the hidden scale enters here, so w0 stays the documented draw */
    double scale = pop->hidden_scale / sqrt((double)D);
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
    /* kept at the actual scale, after h0 was made from the documented draws */
    for (size_t i = 0; i < pairs * D; i++)
        w0[i] *= pop->hidden_scale;
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

/* dr/dt. */
static double base_factor_rate(double lambda, double delta, double t)
{
    double rate = lambda + delta;
    return rate == 0.0 ? 0.0 : -lambda * exp(-rate * t);
}

/* From the pre-activations e->H of state y at time t: features F = phi(h), tangent features
 * W = z phi'(h), predictions f, residual Delta = y - f and the decay forcing
 * q = -(df/dt from the decays alone) = (1/(gamma S)) sum_i z_i (lambda phi(h_i) - phi'(h_i) dh_i),
 * dh = r' h_base - (lambda + delta)(h - r h_base). Returns false when f or q is not finite.
 * Sums over neurons run pair by pair (see readout_average): an antithetic state gives 0 exactly. */
static bool finish_evaluation(akt_population *pop, const flow_context *c, const double *y,
                              double t, flow_eval *e)
{
    size_t S = pop->S, P = c->P;
    double r = base_factor(c->lambda, c->delta, t);
    double r_rate = base_factor_rate(c->lambda, c->delta, t), decay = c->lambda + c->delta;
    double *H = e->H, *F = e->F, *W = e->W, *h_rate = pop->H;
    const double *z = y + S * c->n;
    for (size_t i = 0; i < S * P; i++)
        h_rate[i] = r_rate * c->h_base[i] - decay * (H[i] - r * c->h_base[i]);
    akt_activation_apply(pop->activation, H, F, W, S * P);
    double scale = 1.0 / (c->gamma * (double)S);
    readout_average(F, z, S, P, scale, e->f);
    /* q: lambda * f minus the pair sums of z phi'(h) dh. */
    for (size_t i = 0; i < S * P; i++)
        h_rate[i] *= W[i];
    readout_average(h_rate, z, S, P, scale, e->q);
    bool finite = true;
    for (size_t mu = 0; mu < P; mu++) {
        e->q[mu] = c->lambda * e->f[mu] - e->q[mu];
        e->Delta[mu] = c->y[mu] - e->f[mu];
        finite = finite && isfinite(e->Delta[mu]) && isfinite(e->q[mu]);
    }
    for (size_t i = 0; i < S; i++)
        cblas_dscal((int)P, z[i], W + i * P, 1);
    return finite;
}

/* H = r H + (state -> pre-activations on the training points): c C (reduced, S x P x P) or
 * v X' / sqrt(D) (weights, S x D x P). */
static void state_to_preactivations(const akt_population *pop, const flow_context *c,
                                    const double *y, double r, double *H)
{
    size_t S = pop->S, P = c->P, D = pop->D;
    if (c->weights)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)S, (int)P, (int)D,
                    1.0 / sqrt((double)D), y, (int)D, c->X, (int)D, r, H, (int)P);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)S, (int)P, (int)P, 1.0, y,
                    (int)P, c->C, (int)P, r, H, (int)P);
}

/* Evaluates the flow at state y (actual values) at phase time t into e: pre-activations H,
 * then the rest (finish_evaluation). Returns false when f is not finite. */
static bool evaluate(akt_population *pop, const flow_context *c, const double *y, double t,
                     flow_eval *e)
{
    size_t S = pop->S, P = c->P;
    memcpy(e->H, c->h_base, S * P * sizeof *e->H);
    state_to_preactivations(pop, c, y, base_factor(c->lambda, c->delta, t), e->H);
    return finish_evaluation(pop, c, y, t, e);
}

/* The adapted NTK K = (F'F + (W'W) * C) / S of an evaluation (THEORY.md section 2: Phi + G * C),
 * into the upper triangle of pop->K (all the Lanczos products read). */
static void adapted_ntk(akt_population *pop, const flow_context *c, const flow_eval *e)
{
    size_t S = pop->S, P = c->P;
    pop->eigen_valid = false;
    double *K = pop->K, *G = pop->G;
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)P, (int)S, 1.0 / (double)S, e->F,
                (int)P, 0.0, K, (int)P);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)P, (int)S, 1.0 / (double)S, e->W,
                (int)P, 0.0, G, (int)P);
    for (size_t mu = 0; mu < P; mu++)
        for (size_t nu = mu; nu < P; nu++)
            K[mu * P + nu] += G[mu * P + nu] * c->C[mu * P + nu];
}

/* Eigenvalues (ascending, into pop->eigenvalues) and eigenvectors (columns of pop->G) of the
 * K in pop->K, which is kept: the full P^3 decomposition, for the exact lambda_max of
 * akt_population_ntk_max and for a step whose Lanczos process did not converge. */
static int ntk_eigen(akt_population *pop, size_t P, akt_error *err)
{
    if (pop->eigen_valid)
        return AKT_OK;
    memcpy(pop->G, pop->K, P * P * sizeof *pop->G);
    int status = akt_symmetric_eigen(pop->G, P, pop->eigenvalues, err);
    pop->eigen_valid = status == AKT_OK;
    return status;
}

/* phi_1(x) = (e^x - 1)/x and phi_2(x) = (e^x - 1 - x)/x^2, accurate near 0 (series below
 * |x| = 1e-3, where the cancellation in the closed form would cost more than 1e-12). */
static double phi1(double x) { return fabs(x) < 1e-300 ? 1.0 : expm1(x) / x; }

static double phi2(double x)
{
    if (fabs(x) < 1e-3)
        return 0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x / 120.0));
    return (expm1(x) - x) / (x * x);
}

/* The phi-functions of -hK applied to a vector, by the Lanczos process on the explicit K.
 * K is symmetric PSD, so its Krylov space from b gives f(K) b ~ |b| V_m f(T_m) e1 (V_m the
 * orthonormal basis, T_m = V_m' K V_m tridiagonal) for f = e^{-h.}, h phi1(-h.), h^2 phi2(-h.),
 * each needing one P x P product per dimension instead of the P^3 eigendecomposition of K
 * (48 to 79 percent of a step at S = 1024, P >= 1000, bench/RESULTS.md). These are entire
 * functions, bounded on the spectrum; the error falls superlinearly once m exceeds about
 * sqrt(h lambda_max).
 * Stopping rule: the a-posteriori estimate |b| beta_{m+1} |e_m' f(T_m) e1| (the leading term of
 * the error expansion for exp and the phi-functions; Saad 1992, Hochbruck, Lubich and Selhofer
 * 1998) below KRYLOV_TOLERANCE times |b| sup|f| over the spectrum (1, h and h^2/2), in two
 * consecutive dimensions (the estimate can dip early while the error still humps). 1e-12 puts
 * the Krylov error at round-off level of the exact evaluation it replaces: the outputs move by
 * 1e-12 of their scale, six or more orders below any step tolerance used (1e-2 .. 1e-6 per unit
 * time), so the step's local error estimate still measures the time discretisation alone.
 * Full reorthogonalisation (classical Gram-Schmidt twice) keeps V_m orthonormal: m is small. */
#define KRYLOV_TOLERANCE 1e-12

/* Lanczos from this many training points up; below, the P^3 decomposition (once per step, the
 * predictor of the next step reusing it) is a small share of a step and costs no more than the
 * four Lanczos runs of a step with their convergence checks (O(m^3) each, m up to P). */
#define KRYLOV_MIN_POINTS 200

static bool use_krylov(size_t P) { return P >= KRYLOV_MIN_POINTS; }

typedef enum { PHI_EXP, PHI_1, PHI_2 } phi_kind;

/* e^x, h phi1(x), h^2 phi2(x) at x = -h theta (K is PSD: round-off negatives are 0). */
static double phi_value(phi_kind kind, double h, double theta)
{
    double x = -h * fmax(theta, 0.0);
    return kind == PHI_EXP ? exp(x) : kind == PHI_1 ? h * phi1(x) : h * h * phi2(x);
}

/* sup of |phi_value| over theta >= 0. */
static double phi_bound(phi_kind kind, double h)
{
    return kind == PHI_EXP ? 1.0 : kind == PHI_1 ? h : 0.5 * h * h;
}

/* One Lanczos step on K: w = K v_j orthogonalised against v_0 .. v_j twice (classical
 * Gram-Schmidt run twice keeps the basis orthogonal to round-off), alpha_j its component along
 * v_j; returns |w|, the next beta (w is left unnormalised in V's row j + 1). */
static double lanczos_step(const akt_population *pop, double *V, size_t P, size_t j,
                           double *alpha, double *proj)
{
    double *v = V + j * P, *w = V + (j + 1) * P;
    cblas_dsymv(CblasRowMajor, CblasUpper, (int)P, 1.0, pop->K, (int)P, v, 1, 0.0, w, 1);
    alpha[j] = 0.0;
    for (int pass = 0; pass < 2; pass++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)(j + 1), (int)P, 1.0, V, (int)P, w, 1, 0.0,
                    proj, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)(j + 1), (int)P, -1.0, V, (int)P, proj, 1,
                    1.0, w, 1);
        alpha[j] += proj[j];
    }
    return cblas_dnrm2((int)P, w, 1);
}

/* out[k] = f_k(K) b for the count (1 or 2) functions kinds[k], K the upper triangle of pop->K.
 * False when the Lanczos process did not converge within pop->krylov_max dimensions (or the
 * tridiagonal eigensolver failed); out is then undefined. */
static bool krylov_phi(akt_population *pop, size_t P, double h, const double *b,
                       const phi_kind *kinds, size_t count, double *const *out)
{
    size_t m_max = pop->krylov_max;
    double *V = pop->krylov_V, *alpha = pop->krylov_small, *beta = alpha + m_max;
    double *d = beta + m_max + 1, *e = d + m_max, *proj = e + m_max, *y = proj + m_max + 1;
    double *Z = y + 2 * m_max;
    double norm = cblas_dnrm2((int)P, b, 1);
    if (norm == 0.0) {
        for (size_t k = 0; k < count; k++)
            memset(out[k], 0, P * sizeof *out[k]);
        return true;
    }
    for (size_t mu = 0; mu < P; mu++)
        V[mu] = b[mu] / norm;
    double scale = 0.0; /* largest entry of T so far: the scale of an exact breakdown */
    int passed = 0;
    for (size_t j = 0; j < m_max; j++) {
        double next = lanczos_step(pop, V, P, j, alpha, proj);
        scale = fmax(scale, fmax(fabs(alpha[j]), next));
        size_t m = j + 1;
        memcpy(d, alpha, m * sizeof *d);
        for (size_t k = 0; k + 1 < m; k++)
            e[k] = beta[k + 1];
        if (LAPACKE_dstev(LAPACK_ROW_MAJOR, 'V', (lapack_int)m, d, e, Z, (lapack_int)m) != 0)
            return false;
        /* an invariant subspace: the result is exact (up to round-off) */
        bool breakdown = next <= 1e-14 * scale;
        bool converged = true;
        for (size_t k = 0; k < count; k++) {
            double *yk = y + k * m_max;
            for (size_t l = 0; l < m; l++) {
                double sum = 0.0;
                for (size_t r = 0; r < m; r++)
                    sum += Z[l * m + r] * phi_value(kinds[k], h, d[r]) * Z[r];
                yk[l] = sum;
            }
            converged = converged &&
                        next * fabs(yk[m - 1]) <= KRYLOV_TOLERANCE * phi_bound(kinds[k], h);
        }
        passed = converged ? passed + 1 : 0;
        if (breakdown || passed >= 2) {
            for (size_t k = 0; k < count; k++)
                cblas_dgemv(CblasRowMajor, CblasTrans, (int)m, (int)P, norm, V, (int)P,
                            y + k * m_max, 1, 0.0, out[k], 1);
            return true;
        }
        beta[j + 1] = next;
        cblas_dscal((int)P, 1.0 / next, V + (j + 1) * P, 1);
    }
    return false;
}

/* The linear model of the residual over a step of length h with K and the forcing q frozen,
 * Delta' = -K Delta + q from Delta(0) = Delta0 (K in pop->K):
 *     integral = int_0^h Delta = h phi1(-hK) Delta0 + h^2 phi2(-hK) q,
 *     end      = Delta(h)      = e^{-hK} Delta0 + h phi1(-hK) q      (end may be NULL).
 * Exact for the stiff modes of K (the fast relaxation of the outputs), so h is never limited
 * by lambda_max(K) (THEORY.md section 1). By Lanczos (krylov_phi); when that does not converge,
 * through the full eigendecomposition of K. */
static int residual_model(akt_population *pop, size_t P, double h, const double *Delta0,
                          const double *q, double *integral, double *end, akt_error *err)
{
    double *u = pop->work, *v = pop->work + P, *s = pop->work + 2 * P;
    size_t count = end ? 2 : 1;
    const phi_kind of_delta[2] = {PHI_1, PHI_EXP}, of_q[2] = {PHI_2, PHI_1};
    double *out_delta[2] = {integral, end}, *out_q[2] = {u, v};
    if (use_krylov(P) && krylov_phi(pop, P, h, Delta0, of_delta, count, out_delta) &&
        krylov_phi(pop, P, h, q, of_q, count, out_q)) {
        cblas_daxpy((int)P, 1.0, u, 1, integral, 1);
        if (end)
            cblas_daxpy((int)P, 1.0, v, 1, end, 1);
        return AKT_OK;
    }
    int status = ntk_eigen(pop, P, err);
    if (status != AKT_OK)
        return status;
    const double *V = pop->G, *w = pop->eigenvalues;
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)P, (int)P, 1.0, V, (int)P, Delta0, 1, 0.0, u, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)P, (int)P, 1.0, V, (int)P, q, 1, 0.0, v, 1);
    for (size_t j = 0; j < P; j++)
        s[j] = phi_value(PHI_1, h, w[j]) * u[j] + phi_value(PHI_2, h, w[j]) * v[j];
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)P, (int)P, 1.0, V, (int)P, s, 1, 0.0, integral,
                1);
    if (!end)
        return AKT_OK;
    for (size_t j = 0; j < P; j++)
        s[j] = phi_value(PHI_EXP, h, w[j]) * u[j] + phi_value(PHI_1, h, w[j]) * v[j];
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)P, (int)P, 1.0, V, (int)P, s, 1, 0.0, end, 1);
    return AKT_OK;
}

/* The largest eigenvalue of the K in pop->K by Lanczos from the all-ones vector (the relu and
 * erf NTKs' top eigenvector is close to it), to a Ritz residual of 1e-10 lambda (a Ritz value
 * with residual rho is within rho of an eigenvalue); only the first step of a run needs it. */
static double ntk_lambda_max(akt_population *pop, size_t P)
{
    size_t m_max = pop->krylov_max;
    double *V = pop->krylov_V, *alpha = pop->krylov_small, *beta = alpha + m_max;
    double *d = beta + m_max + 1, *e = d + m_max, *proj = e + m_max, *Z = proj + 3 * m_max + 1;
    double largest = 0.0;
    for (size_t mu = 0; mu < P; mu++)
        V[mu] = 1.0 / sqrt((double)P);
    for (size_t j = 0; j < m_max; j++) {
        double next = lanczos_step(pop, V, P, j, alpha, proj);
        size_t m = j + 1;
        memcpy(d, alpha, m * sizeof *d);
        for (size_t k = 0; k + 1 < m; k++)
            e[k] = beta[k + 1];
        if (LAPACKE_dstev(LAPACK_ROW_MAJOR, 'V', (lapack_int)m, d, e, Z, (lapack_int)m) != 0)
            break;
        largest = d[m - 1];
        if (next * fabs(Z[(m - 1) * m + m - 1]) <= 1e-10 * fabs(largest) || next == 0.0)
            break;
        beta[j + 1] = next;
        cblas_dscal((int)P, 1.0 / next, V + (j + 1) * P, 1);
    }
    return largest;
}

/* y_out = decayed y + the feedback of the residual integral Psi through the features of e:
 *     c_out = e^{-(lambda+delta) h} c + phi1(-(lambda+delta) h) gamma W * Psi,
 *     z_out = e^{-lambda h} z + phi1(-lambda h) gamma F.Psi,
 * the integrating factor of the decays, exact, with the feedback's weight averaged over the
 * step (phi1(-a h) = int_0^h e^{-a (h - s)} ds / h). Second order like the midpoint weight
 * e^{-a h/2}, and, unlike it, it keeps a stationary state stationary for any h (constant W and
 * Delta with gamma W Delta = a c give c_out = c), so long runs toward the t -> infinity state
 * are not biased by their large steps.
 * In weight coordinates the feedback reaches v through the inputs: v_out = e^{-(lambda+delta) h} v
 * + phi1(.) gamma (W * Psi) X / sqrt(D), one S x P x D product. */
static void advance(akt_population *pop, const flow_context *c, const double *y, double h,
                    const flow_eval *e, const double *Psi, double *y_out)
{
    size_t S = pop->S, P = c->P, n = c->n, D = pop->D;
    double rate = c->lambda + c->delta;
    double ea = exp(-rate * h), ea_mid = c->gamma * phi1(-rate * h);
    double ez = exp(-c->lambda * h), ez_mid = c->gamma * phi1(-c->lambda * h);
    double *U = pop->H; /* weights: the feedback on the training points, S x P */
    for (size_t i = 0; i < S; i++) {
        const double *ci = y + i * n, *Wi = e->W + i * P, *Fi = e->F + i * P;
        double *out = y_out + i * n, dot = 0.0;
        if (c->weights) {
            double *Ui = U + i * P;
            for (size_t mu = 0; mu < P; mu++) {
                Ui[mu] = Wi[mu] * Psi[mu];
                dot += Fi[mu] * Psi[mu];
            }
            for (size_t k = 0; k < D; k++)
                out[k] = ea * ci[k];
        } else {
            for (size_t mu = 0; mu < P; mu++) {
                out[mu] = ea * ci[mu] + ea_mid * Wi[mu] * Psi[mu];
                dot += Fi[mu] * Psi[mu];
            }
        }
        y_out[S * n + i] = ez * y[S * n + i] + ez_mid * dot;
    }
    if (c->weights)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)S, (int)D, (int)P,
                    ea_mid / sqrt((double)D), U, (int)P, c->X, (int)D, 1.0, y_out, (int)D);
}

/* Relative Phi-identity residual |f - Phi (Phi + lambda I)^{-1} y| / |f| of an evaluated state
 * (THEORY.md section 2). Uses pop->G as its P x P work space. */
static int identity_residual(akt_population *pop, const flow_context *c, const flow_eval *e,
                             double *residual, akt_error *err)
{
    size_t S = pop->S, P = c->P;
    double *Phi = pop->G;
    pop->eigen_valid = false; /* Phi takes pop->G */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)P, (int)S, 1.0 / (double)S,
                e->F, (int)P, e->F, (int)P, 0.0, Phi, (int)P);
    double *fixed = pop->work;
    int status = akt_ridge_predict(Phi, P, Phi, P, c->y, c->lambda, fixed, err);
    if (status != AKT_OK)
        return status;
    double diff = 0.0, norm = 0.0;
    for (size_t mu = 0; mu < P; mu++) {
        diff += (e->f[mu] - fixed[mu]) * (e->f[mu] - fixed[mu]);
        norm += e->f[mu] * e->f[mu];
    }
    *residual = norm > 0.0 ? sqrt(diff / norm) : INFINITY;
    return AKT_OK;
}

/* A replayed step sequence (stability test): record every attempted step of one run (accepted:
 * dt; rejected: -dt), then repeat them on another, rejected attempts included, so that both runs
 * perform the same computation and share their integration error: with no kick the two copies
 * end bit for bit equal. (Replaying the accepted steps alone was not enough: a rejected attempt
 * leaves its midpoint K, which the next attempt's predictor uses, so the replayed copy differed
 * from the plain one by an integration-error-sized amount whatever the kick; docs/stability.md.) */
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

static double rms_difference(const double *a, const double *b, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (a[i] - b[i]) * (a[i] - b[i]);
    return n ? sqrt(sum / (double)n) : 0.0;
}

static void swap_evals(flow_eval **a, flow_eval **b)
{
    flow_eval *t = *a;
    *a = *b;
    *b = t;
}

/* The fraction of a step that a relu component spends switched on (phi' = 1), from its start
 * value h_start and the step's two increments: A from everything but its own switch, B from
 * its own switch when on (its c moving it, C_mu_mu gamma z Psi_mu), h linear in time within
 * the step. A crossing counts the time on each side; a component driven into the kink from both
 * sides (A > 0 > A + B) slides along h = 0 with the fraction A / -B that holds it there: the
 * Filippov solution, which small-step Euler approximates by chattering within O(dt) of 0. */
static double switching_fraction(double h_start, double A, double B)
{
    if (h_start > 0.0) {
        double on = A + B;
        if (on >= 0.0 || h_start + on > 0.0)
            return 1.0;
        double theta = h_start / -on; /* reaches 0 at this fraction of the step */
        return A <= 0.0 ? theta : theta + (1.0 - theta) * A / -B;
    }
    if (A <= 0.0 || h_start + A < 0.0)
        return 0.0;
    double theta = -h_start / A;
    double on = A + B;
    return on >= 0.0 ? 1.0 - theta : (1.0 - theta) * A / -B;
}

/* Relu kinks in the step itself. The midpoint rule switches a component on or off for the
 * whole step by its sign at the midpoint; a component that crosses 0 within the step, or sits
 * on the kink (neurons gather there, THEORY.md section 2), then moves by O(h) too much or too
 * little, and a sliding one chatters across 0 with amplitude O(h): relu's convexity turns that
 * into a bias of f of order h (measured: 0.5 % of the test loss at 130 steps for T = 5). Each
 * component whose sign differs between start, midpoint and end gets its switched-on fraction
 * from switching_fraction instead, its c is corrected, and the end state's pre-activations are
 * updated through that neuron's row of C (O(P) per corrected component; in weight coordinates
 * the correction of c_mu moves v along x_mu / sqrt(D), which changes h by the same row of C).
 * The components of one neuron are coupled through C: a component's drift A includes the moves
 * of the neuron's other components, and when one of those slides on its own kink, its
 * uncorrected move (fully on or fully off, by its midpoint sign) is as large as the component's
 * own switch. Taking A from the uncorrected end state sent a component that small-step Euler
 * carries across its kink back to the on side for good (seen: one large neuron, 7 % off in c,
 * a 1.6e-3 bias of the test loss that did not shrink with the step tolerance). So the fractions
 * are solved together, by Gauss-Seidel sweeps over the neuron's switching components with the
 * end pre-activations updated after each correction, until no fraction moves by more than
 * KINK_FRACTION_TOLERANCE (a fraction's error scales one component's move within one step) or
 * KINK_SWEEPS sweeps. Returns the number of corrected neurons. */
#define KINK_SWEEPS 8
#define KINK_FRACTION_TOLERANCE 1e-6

static size_t resolve_kinks(akt_population *pop, const flow_context *c, double h,
                            const double *H_from, const double *H_used, const double *z_used,
                            const double *Psi, double *y_out, flow_eval *to)
{
    size_t S = pop->S, P = c->P, n = c->n, D = pop->D, corrected = 0;
    double ea_mid = c->gamma * phi1(-(c->lambda + c->delta) * h); /* as in advance */
    double input_scale = 1.0 / sqrt((double)D);
    double *applied = pop->kink_fractions; /* each component's switched-on fraction in y_out */
    for (size_t i = 0; i < S; i++) {
        const double *hs = H_from + i * P, *hu = H_used + i * P;
        double *he = to->H + i * P, *ci = y_out + i * n;
        bool switching = false;
        for (size_t mu = 0; mu < P && !switching; mu++)
            switching = (hs[mu] > 0.0) != (hu[mu] > 0.0) || (hu[mu] > 0.0) != (he[mu] > 0.0);
        if (!switching)
            continue;
        for (size_t mu = 0; mu < P; mu++)
            applied[mu] = hu[mu] > 0.0 ? 1.0 : 0.0;
        bool changed = false;
        for (int sweep = 0; sweep < KINK_SWEEPS; sweep++) {
            double largest = 0.0;
            for (size_t mu = 0; mu < P; mu++) {
                bool start = hs[mu] > 0.0, used = hu[mu] > 0.0, finish = he[mu] > 0.0;
                if (start == used && used == finish && applied[mu] == (used ? 1.0 : 0.0))
                    continue;
                double move = ea_mid * z_used[i] * Psi[mu]; /* c_mu's change when switched on */
                double B = move * c->C[mu * P + mu];
                double A = he[mu] - hs[mu] - applied[mu] * B;
                double change = switching_fraction(hs[mu], A, B) - applied[mu];
                if (change == 0.0)
                    continue;
                if (c->weights) /* c_mu's move reaches v along x_mu / sqrt(D) */
                    cblas_daxpy((int)D, change * move * input_scale, c->X + mu * D, 1, ci, 1);
                else
                    ci[mu] += change * move;
                cblas_daxpy((int)P, change * move, c->C + mu * P, 1, he, 1);
                applied[mu] += change;
                largest = fmax(largest, fabs(change));
                changed = true;
            }
            if (largest <= KINK_FRACTION_TOLERANCE)
                break;
        }
        corrected += changed;
    }
    return corrected;
}

/* Relu kinks in the error estimate. A neuron component whose h crosses 0 within the step (or
 * sits on a kink and chatters across it: neurons gather there, THEORY.md section 2) contributes
 * its kink remainder phi(h_end) - phi(h_start) - phi'(h_mid)(h_end - h_start), O(h) instead of
 * O(h^3), to the end state's residual; without removing it the estimate would stay O(h) as
 * h -> 0 and the step would collapse. Its effect on the flow is not an accumulating error: over
 * many steps the pattern samples the time a component spends on each side, as small-step Euler
 * does, and chattering components stay within O(h) of the kink. The remainders are moved from
 * the actual residual to the model's (model_end += what the kinks added to f). */
static void remove_kink_remainders(akt_population *pop, const flow_context *c, const double *y,
                                   const flow_eval *now, const flow_eval *mid,
                                   const flow_eval *end, double *model_end)
{
    size_t S = pop->S, P = c->P;
    const double *z_start = y + S * c->n, *z_end = pop->y_new + S * c->n, *z_mid = pop->z_mid;
    double scale = 1.0 / (c->gamma * (double)S);
    for (size_t i = 0; i < S; i++) {
        const double *hs = now->H + i * P, *hm = mid->H + i * P, *he = end->H + i * P;
        for (size_t mu = 0; mu < P; mu++) {
            bool start = hs[mu] > 0.0, middle = hm[mu] > 0.0, finish = he[mu] > 0.0;
            if (start == middle && middle == finish)
                continue;
            /* this neuron's actual change of z phi(h_mu), minus its midpoint linearisation */
            double remainder = z_end[i] * fmax(he[mu], 0.0) - z_start[i] * fmax(hs[mu], 0.0) -
                               (middle ? z_mid[i] * (he[mu] - hs[mu]) : 0.0) -
                               fmax(hm[mu], 0.0) * (z_end[i] - z_start[i]);
            model_end[mu] -= scale * remainder;
        }
    }
}

/* One exponential midpoint step of length h from y (evaluated in *now) into pop->y_new, leaving
 * the end state's evaluation in *end. The predictor is a half exponential Euler step with the
 * last K (an O(h) stale K only changes the midpoint by O(h^2)); the step itself uses
 * the features, K and forcing at the midpoint: second order. Returns the local error estimate:
 * the RMS gap between the end state's actual residual and the frozen-midpoint model's, both
 * accurate to O(h^3), in output units. NAN when an evaluation met NaN/Inf. */
static double exponential_midpoint(akt_population *pop, const flow_context *c, const double *y,
                                   double h, flow_eval *now, flow_eval *mid, flow_eval *end,
                                   akt_error *err, int *status)
{
    size_t P = c->P, n = c->n;
    double *Psi = pop->Psi, *model_end = pop->model_end;
    *status = AKT_OK;
    bool relu = pop->activation == AKT_ACTIVATION_RELU;
    if ((*status = residual_model(pop, P, 0.5 * h, now->Delta, now->q, Psi, NULL, err)) != AKT_OK)
        return NAN;
    advance(pop, c, y, 0.5 * h, now, Psi, pop->y_new);
    if (!evaluate(pop, c, pop->y_new, pop->t + 0.5 * h, mid))
        return NAN;
    /* The predictor's kinks too: a component sliding on a kink would otherwise put its neuron's
     * midpoint O(h) off, an O(h^2) local error of the whole step. */
    if (relu && resolve_kinks(pop, c, 0.5 * h, now->H, now->H, y + pop->S * n, Psi, pop->y_new,
                              mid) > 0 &&
        !finish_evaluation(pop, c, pop->y_new, pop->t + 0.5 * h, mid))
        return NAN;
    adapted_ntk(pop, c, mid);
    if ((*status = residual_model(pop, P, h, now->Delta, mid->q, Psi, model_end, err)) != AKT_OK)
        return NAN;
    memcpy(pop->z_mid, pop->y_new + pop->S * n, pop->S * sizeof *pop->z_mid);
    advance(pop, c, y, h, mid, Psi, pop->y_new);
    if (!evaluate(pop, c, pop->y_new, pop->t + h, end))
        return NAN;
    if (!relu)
        return rms_difference(end->Delta, model_end, P);
    /* The estimate first (the smooth part, before the kinks are resolved), then the kinks. */
    remove_kink_remainders(pop, c, y, now, mid, end, model_end);
    double estimate = rms_difference(end->Delta, model_end, P);
    if (resolve_kinks(pop, c, h, now->H, mid->H, pop->z_mid, Psi, pop->y_new, end) > 0 &&
        !finish_evaluation(pop, c, pop->y_new, pop->t + h, end))
        return NAN;
    return estimate;
}

/* Integrates the phase's flow on state y (actual values at pop->t) for phase->time (a number;
 * time converge is converge_accelerated's, in segments of this). Step control: a step is
 * accepted when its local error estimate is at most step_tolerance * h (error per unit time),
 * and the next step is h (tol h / err)^{1/2} (the estimate is O(h^3)), with a safety factor 0.9
 * and growth between 0.2 and 5. On success pop->evals[0] holds the evaluation of the final y. */
static int integrate(akt_population *pop, flow_context *c, double *y,
                     const akt_population_phase *phase, step_log *log, akt_population_run *run,
                     akt_error *err)
{
    size_t S = pop->S, P = c->P, n = S * (c->n + 1);
    double t_start = pop->t, t_end = t_start + phase->time;
    double tol = phase->step_tolerance;
    flow_eval *now = &pop->evals[0], *mid = &pop->evals[1], *end = &pop->evals[2];
    memset(run, 0, sizeof *run);

    if (!evaluate(pop, c, y, pop->t, now))
        return akt_error_set(err, AKT_ERR_NUMERIC, "%s phase at t = %g: predictions on the "
                             "training points are NaN/Inf", state_name(pop->kind), pop->t);
    adapted_ntk(pop, c, now);
    int status = use_krylov(P) ? AKT_OK : ntk_eigen(pop, P, err);
    if (status != AKT_OK)
        return status;
    /* First step: the fastest relaxation time 1/lambda_max(K); the controller grows it. */
    double lambda_max = use_krylov(P) ? ntk_lambda_max(pop, P) : pop->eigenvalues[P - 1];
    double dt = fmin(1.0 / fmax(lambda_max, 1e-3), t_end - pop->t);
    bool replay = log && log->replay;
    while (pop->t < t_end) {
        bool last = false, rejected_attempt = false;
        if (replay) {
            if (log->next >= log->count)
                break;
            rejected_attempt = log->steps[log->next] < 0.0;
            dt = fabs(log->steps[log->next]);
            last = !rejected_attempt && dt >= (t_end - pop->t) * (1.0 - 1e-12);
        } else if (dt >= t_end - pop->t) {
            dt = t_end - pop->t;
            last = true;
        }
        double e = exponential_midpoint(pop, c, y, dt, now, mid, end, err, &status);
        if (status != AKT_OK)
            return status;
        if (replay ? rejected_attempt : !(e <= tol * dt)) {
            run->rejected++;
            /* A rejected attempt leaves its midpoint K behind, which the next attempt's predictor
             * uses: a replay repeats it (logged as -dt) so that both runs compute the same. */
            if (replay) {
                log->next++;
                continue;
            }
            if (log && log_step(log, -dt) != AKT_OK)
                return akt_error_set(err, AKT_ERR_MEMORY, "out of memory recording steps");
            dt *= isfinite(e) ? clamp(0.9 * sqrt(tol * dt / e), 0.1, 0.9) : 0.1;
            if (dt < phase->min_step)
                return akt_error_set(err, AKT_ERR_NUMERIC,
                                     "%s phase at t = %.6g: the step size collapsed to %.3g below "
                                     "solver.min_step = %.3g (%s)", state_name(pop->kind), pop->t,
                                     dt, phase->min_step,
                                     isfinite(e) ? "error estimate of the training predictions "
                                                   "too large"
                                                 : "predictions on the training points became "
                                                   "NaN/Inf");
            continue;
        }
        if (!isfinite(e))
            return akt_error_set(err, AKT_ERR_NUMERIC, "%s phase at t = %.6g: predictions on the "
                                 "training points became NaN/Inf", state_name(pop->kind), pop->t);
        memcpy(y, pop->y_new, n * sizeof *y);
        swap_evals(&now, &end);
        pop->t = last ? t_end : pop->t + dt;
        /* observer hook (akt_population_set_observer): the accepted state at pop->t */
        int observed = pop->observer ? pop->observer(pop->observer_context, pop->t, pop, err)
                                     : AKT_OK;
        if (observed != AKT_OK)
            return observed;
        run->steps++;
        if (replay)
            log->next++;
        else if (log && log_step(log, dt) != AKT_OK)
            return akt_error_set(err, AKT_ERR_MEMORY, "out of memory recording steps");
        run->residual += e;
        dt *= e > 0.0 ? clamp(0.9 * sqrt(tol * dt / e), 0.2, 5.0) : 5.0;
    }
    run->time = pop->t - t_start;
    run->converged = true;
    /* leave the final state's evaluation where callers find it (converge_accelerated) */
    flow_eval final = *now;
    *now = pop->evals[0];
    pop->evals[0] = final;
    return AKT_OK;
}

/* ---- t -> infinity: the flow, accelerated ---------------------------------------------------- */

/* Time converge. The stationary state is the fixed point of the flow map over a segment of
 * CONVERGE_SEGMENT units of time. The flow is not autonomous in (c, z) alone: the base
 * pre-activations enter with r(t), which relaxes to its limit like u = e^{-(lambda+delta) t}
 * (for lambda = 0.05 the slowest thing in a source or scratch phase). With u as one more
 * coordinate the segment map G(c, z, u) is autonomous, and its fixed point is the t -> infinity
 * state (u = 0). Plain time stepping converges to it only as fast as the slowest mode decays
 * (rate ~ lambda for tanh/erf; algebraically for relu, THEORY.md section 4); Anderson
 * acceleration (anderson.h, memory ANDERSON_MEMORY) of G extrapolates from the last iterates,
 * u included (pop->t is then the time whose r the extrapolated u carries). It is safeguarded: an
 * extrapolated point whose segment does not lower the identity residual below the last plain
 * iterate's (or that the flow cannot integrate) is dropped, the iteration resumes from that
 * plain iterate, and the history starts again. So the iteration never does worse than plain
 * stepping by more than the segments it wastes, and the state reported is always one the flow
 * reached by a segment of integration, checked by the identity residual (never called
 * converged when it is not). The segment, 1 unit of time: long enough for the fast output modes
 * (rates lambda_max(K) >> 1) to settle, so the iteration acts on the slow ones, and short
 * enough that many iterations fit in a run. */
#define CONVERGE_SEGMENT 1.0
#define ANDERSON_MEMORY 5
#define ANDERSON_PATIENCE 4

/* u = e^{-(lambda+delta) t} and back. An extrapolated u <= 0 (overshooting the limit) maps to
 * the time where u underflows: r is then at its limit. */
static double base_decay(const flow_context *c, double t)
{
    double rate = c->lambda + c->delta;
    return rate > 0.0 ? exp(-rate * t) : 1.0;
}

static double base_decay_time(const flow_context *c, double u, double t_now)
{
    double rate = c->lambda + c->delta;
    if (!(rate > 0.0))
        return t_now;
    return u > 1e-300 ? -log(fmin(u, 1.0)) / rate : 745.0 / rate;
}

/* Extended state [y ; u] in and out of the iteration's vectors. */
static void pack(const flow_context *c, const double *y, double t, size_t n, double *v)
{
    memcpy(v, y, n * sizeof *v);
    v[n] = base_decay(c, t);
}

static void unpack(akt_population *pop, const flow_context *c, const double *v, size_t n,
                   double *y)
{
    memcpy(y, v, n * sizeof *y);
    pop->t = base_decay_time(c, v[n], pop->t);
}

static int converge_accelerated(akt_population *pop, flow_context *c, double *y,
                                const akt_population_phase *phase, akt_population_run *run,
                                akt_error *err)
{
    size_t n = pop->S * (c->n + 1);
    akt_anderson *anderson = akt_anderson_alloc(n + 1, ANDERSON_MEMORY);
    double *start = malloc((n + 1) * sizeof *start), *plain = malloc((n + 1) * sizeof *plain);
    double *image = malloc((n + 1) * sizeof *image);
    int status = AKT_OK;
    memset(run, 0, sizeof *run);
    run->residual = NAN;
    if (!anderson || !start || !plain || !image) {
        status = akt_error_set(err, AKT_ERR_MEMORY, "out of memory for the accelerated "
                               "t -> infinity iteration (%zu doubles)",
                               (2 * ANDERSON_MEMORY + 5) * (n + 1));
        goto done;
    }
    akt_population_phase segment = *phase;
    double flown = 0.0, plain_residual = INFINITY;
    bool extrapolated = false; /* the segment starts from an Anderson point */
    int contracting = 0;       /* plain segments in a row that lowered the residual */
    int patience = ANDERSON_PATIENCE; /* such segments needed before extrapolating (again) */
    pack(c, y, pop->t, n, start);
    memcpy(plain, start, (n + 1) * sizeof *plain);
    while (flown < phase->max_time) {
        akt_population_run part;
        segment.time = fmin(CONVERGE_SEGMENT, phase->max_time - flown);
        status = integrate(pop, c, y, &segment, NULL, &part, err);
        double residual = NAN;
        if (status == AKT_OK) {
            flown += part.time;
            run->steps += part.steps;
            run->rejected += part.rejected;
            /* integrate left the evaluation of y in evals[0]: no second S x P x P product */
            status = identity_residual(pop, c, &pop->evals[0], &residual, err);
        }
        if (status != AKT_OK && !extrapolated)
            goto done;
        if (status == AKT_OK && residual <= phase->tolerance) {
            run->residual = residual;
            run->converged = true;
            break;
        }
        if (extrapolated && !(residual < plain_residual)) {
            /* the extrapolation did not pay: resume plain from the last plain iterate, and
             * wait twice as long before the next attempt */
            status = AKT_OK;
            unpack(pop, c, plain, n, y);
            memcpy(start, plain, (n + 1) * sizeof *start);
            akt_anderson_reset(anderson);
            extrapolated = false;
            contracting = 0;
            patience *= 2;
            run->residual = plain_residual;
            continue;
        }
        contracting = residual < plain_residual ? contracting + 1 : 0;
        plain_residual = run->residual = residual;
        pack(c, y, pop->t, n, image);
        memcpy(plain, image, (n + 1) * sizeof *plain);
        if (contracting >= patience) {
            extrapolated = akt_anderson_next(anderson, start, image, image) > 0;
            unpack(pop, c, image, n, y);
        } else {
            akt_anderson_reset(anderson); /* no history across a phase that is not contracting */
            extrapolated = false;
        }
        memcpy(start, image, (n + 1) * sizeof *start);
    }
    run->time = flown;
    if (!run->converged) {
        /* the state kept is the last plain iterate, the one the residual describes */
        unpack(pop, c, plain, n, y);
        status = akt_error_set(err, AKT_ERR_NUMERIC,
                               "%s phase: not converged by solver.max_time = %g: relative "
                               "Phi-identity residual %.3g > solver.tolerance %.3g",
                               state_name(pop->kind), phase->max_time, run->residual,
                               phase->tolerance);
    }
done:
    akt_anderson_free(anderson);
    free(start);
    free(plain);
    free(image);
    return status;
}

/* A phase's run: for its time, or to convergence. */
static int run_phase(akt_population *pop, flow_context *c, double *y,
                     const akt_population_phase *phase, akt_population_run *run, akt_error *err)
{
    /* BLAS threads for the step's S x P x P products (core/threads.h) */
    akt_blas_threads_for(2.0 * (double)pop->S * (double)c->P * (double)c->P);
    /* akt_population_force_steps: a finite-time phase replays the given steps */
    step_log forced = {pop->forced_steps, pop->forced_count, pop->forced_count, 0, true};
    int status = phase->time == AKT_TIME_CONVERGE
                     ? converge_accelerated(pop, c, y, phase, run, err)
                     : integrate(pop, c, y, phase, pop->forced_count ? &forced : NULL, run, err);
    akt_blas_threads_reset();
    return status;
}

/* Forward Euler with a fixed step dt on the same flow (akt_population_run_euler): what a
 * finite-width network does, step for step, in the phase's coordinates (weights: the step's
 * feedback gamma W * Delta reaches v through X / sqrt(D), one S x P x D product). */
static int integrate_euler(akt_population *pop, const flow_context *c, double *y, double time,
                           double dt, akt_population_run *run, akt_error *err)
{
    size_t S = pop->S, P = c->P, n = c->n, D = pop->D;
    double t_end = pop->t + time, rate = c->lambda + c->delta;
    long steps = (long)ceil(time / dt - 1e-9);
    flow_eval *e = &pop->evals[0];
    memset(run, 0, sizeof *run);
    akt_blas_threads_for(2.0 * (double)S * (double)P * (double)P);
    for (long k = 0; k < steps; k++) {
        double h = k + 1 == steps ? t_end - pop->t : dt;
        if (!evaluate(pop, c, y, pop->t, e)) {
            akt_blas_threads_reset();
            return akt_error_set(err, AKT_ERR_NUMERIC, "%s phase at t = %.6g: predictions on the "
                                 "training points became NaN/Inf", state_name(pop->kind), pop->t);
        }
        double *U = pop->H; /* weights: the feedback on the training points, S x P */
        for (size_t i = 0; i < S; i++) {
            double *ci = y + i * n, dot = 0.0;
            const double *Wi = e->W + i * P, *Fi = e->F + i * P;
            if (c->weights) {
                for (size_t mu = 0; mu < P; mu++) {
                    U[i * P + mu] = Wi[mu] * e->Delta[mu];
                    dot += Fi[mu] * e->Delta[mu];
                }
                for (size_t k = 0; k < D; k++)
                    ci[k] -= h * rate * ci[k];
            } else {
                for (size_t mu = 0; mu < P; mu++) {
                    ci[mu] += h * (c->gamma * Wi[mu] * e->Delta[mu] - rate * ci[mu]);
                    dot += Fi[mu] * e->Delta[mu];
                }
            }
            y[S * n + i] += h * (c->gamma * dot - c->lambda * y[S * n + i]);
        }
        if (c->weights)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)S, (int)D, (int)P,
                        h * c->gamma / sqrt((double)D), U, (int)P, c->X, (int)D, 1.0, y, (int)D);
        pop->t += h;
        run->steps++;
    }
    akt_blas_threads_reset();
    pop->t = t_end;
    run->time = time;
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
    int phase = pop->kind == STATE_SOURCE ? 0 : 1;
    c->weights = pop->weights[phase];
    c->n = pop->width[phase];
    if (pop->kind == STATE_SOURCE) {
        c->P = data->source.rows;
        c->h_base = pop->h0[AKT_POINTS_SOURCE_TRAIN];
        c->C = pop->C1[AKT_POINTS_SOURCE_TRAIN];
        c->X = data->source.x;
        c->y = data->source.y;
    } else {
        c->P = data->target.rows;
        c->X = data->target.x;
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

/* Where the current state's pre-activations on a point set come from: h = r(t) base + state C
 * (reduced: state S x P, C P x M) or r(t) base + state X' / sqrt(D) (weights: state S x D, X the
 * set's inputs, M x D). False when the state has no pre-activations there. */
typedef struct {
    const double *base, *C, *X, *state;
    size_t n;      /* state width */
    bool weights;
} state_source;

static bool state_source_of(const akt_population *pop, akt_points points, state_source *src)
{
    if (pop->kind == STATE_SOURCE) {
        *src = (state_source){pop->h0[points], pop->C1[points], pop->splits[points]->x,
                              pop->y_source, pop->width[0], pop->weights[0]};
        return true;
    }
    if ((pop->kind == STATE_SCRATCH || pop->kind == STATE_JOINT) &&
        (points == AKT_POINTS_TARGET_TRAIN || points == AKT_POINTS_TEST)) {
        *src = (state_source){pop->kind == STATE_JOINT ? pop->hs[points] : pop->h0[points],
                              pop->C2[points], pop->splits[points]->x, pop->y_target,
                              pop->width[1], pop->weights[1]};
        return true;
    }
    return false;
}

/* out (count x M, leading dimension ld) = r out + rows first.. of the state mapped to the M
 * points of src: S x n x M. */
static void state_block_to_points(const akt_population *pop, const state_source *src, size_t M,
                                  size_t first, size_t count, double r, double *out, size_t ld)
{
    const double *state = src->state + first * src->n;
    if (src->weights)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)count, (int)M, (int)pop->D,
                    1.0 / sqrt((double)pop->D), state, (int)src->n, src->X, (int)pop->D, r, out,
                    (int)ld);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)count, (int)M, (int)src->n,
                    1.0, state, (int)src->n, src->C, (int)M, r, out, (int)ld);
}

/* A joint state's pre-activations on a source point set into pop->Q (S x M):
 * h = rho h_s + C(x, X2) b, with h_s = e1 h0 + (the source state mapped to the points) made as
 * keep_source_state makes it on the target points (THEORY.md section 3). */
static void joint_source_preactivations(akt_population *pop, akt_points points)
{
    size_t S = pop->S, M = pop->rows[points];
    if (M == 0)
        return;
    const double *X = pop->splits[points]->x;
    state_source source = {pop->h0[points], pop->C1[points], X, pop->y_source, pop->width[0],
                           pop->weights[0]};
    state_source target = {NULL, pop->C2[points], X, pop->y_target, pop->width[1],
                           pop->weights[1]};
    memcpy(pop->Q, pop->h0[points], S * M * sizeof *pop->Q);
    state_block_to_points(pop, &source, M, 0, S, pop->source_base, pop->Q, M);
    state_block_to_points(pop, &target, M, 0, S, base_factor(pop->lambda, pop->delta, pop->t),
                          pop->Q, M);
}

/* The pre-activations of the current state on a point set, into pop->Q (S x rows). */
static int query_preactivations(akt_population *pop, akt_points points, akt_error *err)
{
    size_t S = pop->S, M = pop->rows[points];
    state_source src;
    if (pop->kind == STATE_JOINT &&
        (points == AKT_POINTS_SOURCE_TRAIN || points == AKT_POINTS_SOURCE_TEST)) {
        joint_source_preactivations(pop, points);
        return AKT_OK;
    }
    if (!state_source_of(pop, points, &src)) {
        if (pop->kind != STATE_INITIAL)
            return akt_error_set(err, AKT_ERR_INPUT, "population: the %s state has no "
                                 "predictions on that point set", state_name(pop->kind));
        memcpy(pop->Q, pop->h0[points], S * M * sizeof *pop->Q);
        return AKT_OK;
    }
    if (M == 0)
        return AKT_OK;
    double r = base_factor(pop->lambda, pop->delta, pop->t);
    memcpy(pop->Q, src.base, S * M * sizeof *pop->Q);
    state_block_to_points(pop, &src, M, 0, S, r, pop->Q, M);
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
    akt_activation_apply(pop->activation, pop->Q, pop->Q, NULL, S * M);
    const double *z;
    double gamma = pop->gamma;
    if (pop->kind == STATE_SOURCE)
        z = pop->y_source + S * pop->width[0];
    else if (pop->kind == STATE_INITIAL)
        z = pop->z0, gamma = 1.0; /* initial output with gamma 1 (it is 0 for any gamma) */
    else
        z = pop->y_target + S * pop->width[1];
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

/* |w_s|^2 / D of every neuron into pop->ws_norm. With w_s = e1 w0 + s (THEORY.md section 3;
 * e1 = pop->source_base, s the data-span part of the source state):
 *     |w_s|^2 / D = e1^2 |w0|^2 / D + 2 e1 w0.s / D + |s|^2 / D,
 * reduced coordinates s = X1'a / sqrt(D): w0.s = a.h0(X1), |s|^2 = a'C11 a (O(S P1^2));
 * weight coordinates s = v directly. pop->H is the work space (S x P1). */
static void source_weight_norms(akt_population *pop)
{
    size_t S = pop->S, D = pop->D, P1 = pop->rows[AKT_POINTS_SOURCE_TRAIN], n1 = pop->width[0];
    double e1 = pop->source_base, inv_D = 1.0 / (double)D;
    const double *state = pop->y_source, *h0 = pop->h0[AKT_POINTS_SOURCE_TRAIN];
    bool weights = pop->weights[0];
    if (!weights) /* row i of H: C11 a_i */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)S, (int)P1, (int)P1, 1.0,
                    state, (int)P1, pop->C1[AKT_POINTS_SOURCE_TRAIN], (int)P1, 0.0, pop->H,
                    (int)P1);
    for (size_t i = 0; i < S; i++) {
        const double *w0 = pop->w0 + (i / 2) * D, *c = state + i * n1;
        double w0_norm = cblas_ddot((int)D, w0, 1, w0, 1) * inv_D, cross, quadratic;
        if (weights) {
            cross = cblas_ddot((int)D, w0, 1, c, 1) * inv_D;
            quadratic = cblas_ddot((int)D, c, 1, c, 1) * inv_D;
        } else {
            cross = cblas_ddot((int)P1, c, 1, h0 + i * P1, 1) * inv_D;
            quadratic = cblas_ddot((int)P1, c, 1, pop->H + i * P1, 1) * inv_D;
        }
        pop->ws_norm[i] = e1 * e1 * w0_norm + 2.0 * e1 * cross + quadratic;
    }
}

/* Keeps what the target regimes need from the source state in y_source (at time pop->t): h_s on
 * the target points, the source readout, the factor of h0 in h_s and |w_s|^2 / D. Shared by a
 * source run and a restored source, so that both give the same numbers bit for bit. */
static int keep_source_state(akt_population *pop, akt_error *err)
{
    size_t S = pop->S, n1 = pop->width[0];
    pop->source_base = base_factor(pop->lambda, pop->delta, pop->t);
    source_weight_norms(pop);
    for (int s = AKT_POINTS_TARGET_TRAIN; s <= AKT_POINTS_TEST; s++) {
        int status = query_preactivations(pop, (akt_points)s, err);
        if (status != AKT_OK)
            return status;
        memcpy(pop->hs[s], pop->Q, S * pop->rows[s] * sizeof *pop->Q);
    }
    memcpy(pop->z_source, pop->y_source + S * n1, S * sizeof *pop->z_source);
    pop->source_done = true;
    return AKT_OK;
}

int akt_population_run_source(akt_population *pop, const akt_population_phase *phase,
                              akt_population_run *run, akt_error *err)
{
    int status = check_phase(phase, err);
    if (status != AKT_OK)
        return status;
    if (pop->kind == STATE_NONE)
        return akt_error_set(err, AKT_ERR_MEMORY, "population: sampling failed (out of memory)");
    size_t S = pop->S, n1 = pop->width[0];
    memset(pop->y_source, 0, S * n1 * sizeof *pop->y_source);
    memcpy(pop->y_source + S * n1, pop->z0, S * sizeof *pop->z0);
    pop->t = 0.0;
    set_phase(pop, STATE_SOURCE, phase);
    flow_context c;
    phase_context(pop, &c);
    status = run_phase(pop, &c, pop->y_source, phase, run, err);
    if (status != AKT_OK)
        return status;
    return keep_source_state(pop, err);
}

int akt_population_start_scratch(akt_population *pop, akt_error *err)
{
    if (pop->kind == STATE_NONE)
        return akt_error_set(err, AKT_ERR_INPUT, "population: not sampled");
    size_t S = pop->S, n2 = pop->width[1];
    memset(pop->y_target, 0, S * n2 * sizeof *pop->y_target);
    memcpy(pop->y_target + S * n2, pop->z0, S * sizeof *pop->z0);
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
    size_t S = pop->S, n2 = pop->width[1];
    double *z = pop->y_target + S * n2;
    memset(pop->y_target, 0, S * n2 * sizeof *pop->y_target);
    if (readout_init == AKT_READOUT_ZERO) {
        memset(z, 0, S * sizeof *z);
    } else if (readout_init == AKT_READOUT_SOURCE) {
        memcpy(z, pop->z_source, S * sizeof *z);
    } else {
        gsl_rng *fresh = stream(pop, AKT_POPULATION_STREAM_FRESH);
        if (!fresh)
            return akt_error_set(err, AKT_ERR_MEMORY, "out of memory allocating a generator");
        for (size_t k = 0; k < S / 2; k++) {
            z[2 * k] = pop->readout_scale * gsl_ran_gaussian_ziggurat(fresh, 1.0);
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
    return run_phase(pop, &c, pop->y_target, phase, run, err);
}

void akt_population_set_target_phase(akt_population *pop, const akt_population_phase *phase)
{
    if (pop->kind == STATE_SCRATCH || pop->kind == STATE_JOINT)
        set_phase(pop, pop->kind, phase);
}

double akt_population_time(const akt_population *pop)
{
    return pop->t;
}

int akt_population_run_euler(akt_population *pop, const akt_population_phase *phase, double dt,
                             akt_population_run *run, akt_error *err)
{
    int status = check_phase(phase, err);
    if (status != AKT_OK)
        return status;
    if (phase->time == AKT_TIME_CONVERGE || !(dt > 0.0))
        return akt_error_set(err, AKT_ERR_INPUT, "population Euler reference: needs a finite "
                             "time and a step dt > 0");
    bool source = pop->kind == STATE_INITIAL || pop->kind == STATE_SOURCE;
    if (pop->kind == STATE_NONE)
        return akt_error_set(err, AKT_ERR_INPUT, "population: not sampled");
    if (source) {
        size_t S = pop->S, n1 = pop->width[0];
        memset(pop->y_source, 0, S * n1 * sizeof *pop->y_source);
        memcpy(pop->y_source + S * n1, pop->z0, S * sizeof *pop->z0);
        pop->t = 0.0;
        set_phase(pop, STATE_SOURCE, phase);
    } else {
        set_phase(pop, pop->kind, phase);
    }
    flow_context c;
    phase_context(pop, &c);
    status = integrate_euler(pop, &c, source ? pop->y_source : pop->y_target, phase->time, dt,
                             run, err);
    if (status == AKT_OK && source)
        status = keep_source_state(pop, err);
    return status;
}

/* ---- keeping a source run for later solves ------------------------------------------------- */

struct akt_population_source {
    akt_activation activation;
    size_t S, D, P1;
    bool weights;             /* the source phase's coordinates */
    size_t width;             /* P1 (reduced) or D (weights) */
    unsigned long seed, replica;
    double t, gamma, lambda;  /* the source phase's end time, gamma and weight decay */
    double *state;            /* S x (width + 1): a or v (S x width) then z (S), values at t */
};

double akt_population_source_gib(size_t neurons, size_t source_rows)
{
    double doubles = (double)neurons * (double)(source_rows + 1);
    return (doubles * sizeof(double) + sizeof(akt_population_source)) /
           (1024.0 * 1024.0 * 1024.0);
}

void akt_population_source_free(akt_population_source *source)
{
    if (!source)
        return;
    free(source->state);
    free(source);
}

akt_population_source *akt_population_source_save(const akt_population *pop, akt_error *err)
{
    if (pop->kind != STATE_SOURCE || !pop->source_done)
        return akt_error_set(err, AKT_ERR_INPUT, "population: only a finished source run can be "
                             "saved (save it before a target phase starts)"), NULL;
    size_t S = pop->S, P1 = pop->rows[AKT_POINTS_SOURCE_TRAIN], n = S * (pop->width[0] + 1);
    akt_population_source *source = calloc(1, sizeof *source);
    if (source)
        source->state = malloc(n * sizeof *source->state);
    if (!source || !source->state) {
        akt_population_source_free(source);
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory saving a source state (%.3g GiB)",
                             akt_population_source_gib(S, P1)), NULL;
    }
    source->activation = pop->activation;
    source->S = S;
    source->D = pop->D;
    source->P1 = P1;
    source->weights = pop->weights[0];
    source->width = pop->width[0];
    source->seed = pop->seed;
    source->replica = pop->replica;
    source->t = pop->t;
    source->gamma = pop->gamma;
    source->lambda = pop->lambda;
    memcpy(source->state, pop->y_source, n * sizeof *source->state);
    return source;
}

int akt_population_source_restore(akt_population *pop, const akt_population_source *source,
                                  akt_error *err)
{
    if (pop->kind == STATE_NONE)
        return akt_error_set(err, AKT_ERR_INPUT, "population: not sampled");
    size_t S = pop->S, P1 = pop->rows[AKT_POINTS_SOURCE_TRAIN];
    if (source->activation != pop->activation || source->S != S || source->D != pop->D ||
        source->P1 != P1 || source->seed != pop->seed || source->replica != pop->replica ||
        source->weights != pop->weights[0])
        return akt_error_set(err, AKT_ERR_INPUT, "population: the saved source state belongs to "
                             "another population (activation, neurons, dimension, source split "
                             "size, seed, replica or coordinates differ)");
    memcpy(pop->y_source, source->state, S * (source->width + 1) * sizeof *pop->y_source);
    pop->kind = STATE_SOURCE;
    pop->t = source->t;
    pop->gamma = source->gamma;
    pop->lambda = source->lambda;
    pop->delta = 0.0;
    return keep_source_state(pop, err);
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
    akt_activation_apply(pop->activation, Ftrain, Ftrain, NULL, S * P2);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P2, (int)P2, (int)S,
                1.0 / (double)S, Ftrain, (int)P2, Ftrain, (int)P2, 0.0, K, (int)P2);
    memcpy(K_cross, K, P2 * P2 * sizeof *K);
    if (Mt == 0)
        return AKT_OK;
    memcpy(Ftest, pop->hs[AKT_POINTS_TEST], S * Mt * sizeof *Ftest);
    akt_activation_apply(pop->activation, Ftest, Ftest, NULL, S * Mt);
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
    const double *y = pop->kind == STATE_SOURCE ? pop->y_source : pop->y_target;
    akt_error ignored;
    /* K needs the features only: a started phase not yet run has no gamma for f. */
    (void)evaluate(pop, &c, y, pop->t, &pop->evals[0]);
    adapted_ntk(pop, &c, &pop->evals[0]);
    if (ntk_eigen(pop, c.P, &ignored) != AKT_OK)
        return NAN;
    return pop->eigenvalues[c.P - 1]; /* ascending */
}

/* ---- observer and adapted kernels ------------------------------------------------------------- */

void akt_population_set_observer(akt_population *pop, akt_population_observer observer,
                                 void *context)
{
    pop->observer = observer;
    pop->observer_context = context;
}

int akt_population_force_steps(akt_population *pop, const double *steps, size_t count,
                               akt_error *err)
{
    free(pop->forced_steps);
    pop->forced_steps = NULL;
    pop->forced_count = 0;
    if (!steps || count == 0)
        return AKT_OK;
    for (size_t k = 0; k < count; k++)
        if (!(steps[k] > 0.0) || !isfinite(steps[k]))
            return akt_error_set(err, AKT_ERR_INPUT, "forced steps: step %zu is not a positive "
                                 "number", k);
    pop->forced_steps = malloc(count * sizeof *pop->forced_steps);
    if (!pop->forced_steps)
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory keeping %zu forced steps",
                             count);
    memcpy(pop->forced_steps, steps, count * sizeof *steps);
    pop->forced_count = count;
    return AKT_OK;
}

void akt_population_set_sampling(akt_population *pop, akt_population_sampling sampling)
{
    pop->sampling = sampling;
}

/* Neurons per block of akt_population_kernels: the work space is three blocks x M doubles. */
#define KERNEL_BLOCK_NEURONS 256

/* Pre-activations of neurons first .. first + count - 1 of the current state on a point set,
 * into out (row i at out + i * ld): the block form of query_preactivations. */
static int preactivation_block(const akt_population *pop, akt_points points, size_t first,
                               size_t count, double *out, size_t ld, akt_error *err)
{
    size_t M = pop->rows[points];
    state_source src;
    if (pop->kind == STATE_INITIAL) { /* h = h0 */
        for (size_t i = 0; i < count; i++)
            memcpy(out + i * ld, pop->h0[points] + (first + i) * M, M * sizeof *out);
        return AKT_OK;
    }
    if (!state_source_of(pop, points, &src))
        return akt_error_set(err, AKT_ERR_INPUT, "population: the %s state has no kernels on "
                             "that point set", state_name(pop->kind));
    if (M == 0)
        return AKT_OK;
    for (size_t i = 0; i < count; i++)
        memcpy(out + i * ld, src.base + (first + i) * M, M * sizeof *out);
    state_block_to_points(pop, &src, M, first, count,
                          base_factor(pop->lambda, pop->delta, pop->t), out, ld);
    return AKT_OK;
}

int akt_population_kernels(akt_population *pop, const bool points[AKT_POINTS_COUNT], double *Phi,
                           double *G, akt_error *err)
{
    if (pop->kind == STATE_NONE)
        return akt_error_set(err, AKT_ERR_INPUT, "population: not sampled");
    bool every_point = pop->kind == STATE_SOURCE || pop->kind == STATE_INITIAL;
    if (!every_point &&
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
    const double *z = pop->kind == STATE_INITIAL  ? pop->z0
                      : pop->kind == STATE_SOURCE ? pop->y_source + S * pop->width[0]
                                                  : pop->y_target + S * pop->width[1];
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
        akt_activation_apply(pop->activation, H, F, Fp, count * M);
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
        akt_symmetrize_upper(Phi, M);
        if (G)
            akt_symmetrize_upper(G, M);
    }
    free(H);
    free(F);
    free(Fp);
    return status;
}

/* ---- observables: the source kernel on one set, distances, raw weights ------------------------ */

int akt_population_source_phi(akt_population *pop, akt_points points, double *K, akt_error *err)
{
    if (!pop->source_done)
        return akt_error_set(err, AKT_ERR_INPUT, "population: the source kernel needs the source "
                             "state (run the source phase first)");
    if (points != AKT_POINTS_TARGET_TRAIN && points != AKT_POINTS_TEST)
        return akt_error_set(err, AKT_ERR_INPUT, "population: the source kernel is kept on the "
                             "target training and test points only");
    size_t S = pop->S, n = pop->rows[points];
    if (n == 0)
        return AKT_OK;
    /* phi(h_s) in the query buffer, then the same product as akt_population_source_kernel */
    double *F = pop->Q;
    memcpy(F, pop->hs[points], S * n * sizeof *F);
    akt_activation_apply(pop->activation, F, F, NULL, S * n);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)S, 1.0 / (double)S,
                F, (int)n, F, (int)n, 0.0, K, (int)n);
    return AKT_OK;
}

/* w_s.u / D and |u|^2 / D per neuron for the target part u of a joint state in weight
 * coordinates (row i of the target state is u_i in R^D): w_s = e1 w0 + s, with s.u = v1.u
 * (source in weights) or a.(X1 u) / sqrt(D) (source reduced; work: S x P1). */
static void weights_target_terms(const akt_population *pop, double *work, double *cross,
                                 double *quadratic)
{
    size_t S = pop->S, D = pop->D, P1 = pop->rows[AKT_POINTS_SOURCE_TRAIN], n1 = pop->width[0];
    double e1 = pop->source_base, inv_D = 1.0 / (double)D;
    const double *U = pop->y_target, *source = pop->y_source;
    if (!pop->weights[0]) /* row i of work: X1 u_i / sqrt(D) */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)S, (int)P1, (int)D,
                    1.0 / sqrt((double)D), U, (int)D, pop->data->source.x, (int)D, 0.0, work,
                    (int)P1);
    for (size_t i = 0; i < S; i++) {
        const double *u = U + i * D, *w0 = pop->w0 + (i / 2) * D, *c = source + i * n1;
        double s_dot_u = pop->weights[0] ? cblas_ddot((int)D, c, 1, u, 1)
                                         : cblas_ddot((int)P1, c, 1, work + i * P1, 1);
        cross[i] = (e1 * cblas_ddot((int)D, w0, 1, u, 1) + s_dot_u) * inv_D;
        quadratic[i] = cblas_ddot((int)D, u, 1, u, 1) * inv_D;
    }
}

/* The same in reduced coordinates (u = X2'b / sqrt(D)): w_s.u = b.h_s(X2), |u|^2 = b'C22 b
 * (work: S x P2). */
static void reduced_target_terms(const akt_population *pop, double *work, double *cross,
                                 double *quadratic)
{
    size_t S = pop->S, P2 = pop->rows[AKT_POINTS_TARGET_TRAIN];
    double inv_D = 1.0 / (double)pop->D;
    const double *B = pop->y_target, *hs = pop->hs[AKT_POINTS_TARGET_TRAIN];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)S, (int)P2, (int)P2, 1.0, B,
                (int)P2, pop->C2[AKT_POINTS_TARGET_TRAIN], (int)P2, 0.0, work, (int)P2);
    for (size_t i = 0; i < S; i++) {
        const double *b = B + i * P2;
        cross[i] = cblas_ddot((int)P2, b, 1, hs + i * P2, 1) * inv_D;
        quadratic[i] = cblas_ddot((int)P2, b, 1, work + i * P2, 1) * inv_D;
    }
}

int akt_population_joint_distances(akt_population *pop, double *hidden, double *readout,
                                   akt_error *err)
{
    if (pop->kind != STATE_JOINT)
        return akt_error_set(err, AKT_ERR_INPUT, "population: distances from the source need a "
                             "joint state");
    size_t S = pop->S, P = max_size(pop->rows[AKT_POINTS_SOURCE_TRAIN],
                                    pop->rows[AKT_POINTS_TARGET_TRAIN]);
    /* own work space: an observer may call this between steps, when pop->H is the integrator's */
    double *work = malloc((S * P + 2 * S) * sizeof *work);
    if (!work)
        return akt_out_of_memory(err, "the distances from the source");
    double *cross = work + S * P, *quadratic = cross + S;
    if (pop->weights[1])
        weights_target_terms(pop, work, cross, quadratic);
    else
        reduced_target_terms(pop, work, cross, quadratic);
    /* w - w_s = (rho - 1) w_s + u */
    double rho_1 = base_factor(pop->lambda, pop->delta, pop->t) - 1.0;
    const double *z = pop->y_target + S * pop->width[1];
    double hidden_sum = 0.0, readout_sum = 0.0;
    for (size_t i = 0; i < S; i++) {
        hidden_sum += rho_1 * rho_1 * pop->ws_norm[i] + 2.0 * rho_1 * cross[i] + quadratic[i];
        readout_sum += (z[i] - pop->z_source[i]) * (z[i] - pop->z_source[i]);
    }
    free(work);
    *hidden = hidden_sum / (double)S;
    *readout = readout_sum / (double)S;
    return AKT_OK;
}

/* W = beta W + (a data-span state, S x width, as weights): itself (weight coordinates) or
 * state X / sqrt(D) (reduced, X the phase's P x D training inputs). */
static void add_data_span(const akt_population *pop, const double *state, bool weights,
                          const double *X, size_t P, double beta, double *W)
{
    size_t S = pop->S, D = pop->D;
    if (weights) {
        for (size_t i = 0; i < S * D; i++)
            W[i] = beta * W[i] + state[i];
        return;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)S, (int)D, (int)P,
                1.0 / sqrt((double)D), state, (int)P, X, (int)D, beta, W, (int)D);
}

int akt_population_hidden_weights(const akt_population *pop, double *W, akt_error *err)
{
    if (pop->kind == STATE_NONE)
        return akt_error_set(err, AKT_ERR_INPUT, "population: not sampled");
    size_t S = pop->S, D = pop->D;
    const akt_data *data = pop->data;
    for (size_t i = 0; i < S; i++)
        memcpy(W + i * D, pop->w0 + (i / 2) * D, D * sizeof *W);
    double r = base_factor(pop->lambda, pop->delta, pop->t);
    if (pop->kind == STATE_SOURCE)
        add_data_span(pop, pop->y_source, pop->weights[0], data->source.x, data->source.rows, r,
                      W);
    if (pop->kind == STATE_SCRATCH)
        add_data_span(pop, pop->y_target, pop->weights[1], data->target.x, data->target.rows, r,
                      W);
    if (pop->kind == STATE_JOINT) { /* rho w_s + u */
        add_data_span(pop, pop->y_source, pop->weights[0], data->source.x, data->source.rows,
                      pop->source_base, W);
        add_data_span(pop, pop->y_target, pop->weights[1], data->target.x, data->target.rows, r,
                      W);
    }
    return AKT_OK;
}

/* ---- stability of the joint state ------------------------------------------------------------ */

static double rms(const double *v, size_t n)
{
    return n ? cblas_dnrm2((int)n, v, 1) / sqrt((double)n) : 0.0;
}

/* Adds relative * rms(block) * N(0,1) to every entry of the b block (b or its weights v) and of
 * the z block. */
static int kick(akt_population *pop, double *y, double relative, akt_error *err)
{
    size_t S = pop->S, P2 = pop->width[1];
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


/* Distance of two target states in the kick's units: the RMS difference of the b block (b or
 * its weights v) over scale_b and of the z block over scale_z (the plain state's block RMS at
 * that time), the two blocks weighted equally, so that a kick of relative size k is at distance
 * about k. Relative to the state at each time, so that a kick that only keeps its share of a
 * growing b (no weight decay: b grows as the target is fitted) does not read as growth. */
static double state_distance(const akt_population *pop, const double *a, const double *b,
                             double scale_b, double scale_z)
{
    size_t S = pop->S, nb = S * pop->width[1];
    double db = rms_difference(a, b, nb), dz = rms_difference(a + nb, b + nb, S);
    double rb = scale_b > 0.0 ? db / scale_b : 0.0, rz = scale_z > 0.0 ? dz / scale_z : 0.0;
    return sqrt(0.5 * (rb * rb + rz * rz));
}

/* The stability test's kicks and thresholds (docs/stability.md says how they were measured).
 * STABILITY_KICK: akt_population_stability's kick, relative per block: above relu's noise floor
 * at the default step tolerance (a few 1e-3 of the state on Figure 5's problem), and small
 * enough to stay linear (on the trap, kicks of 1e-6 and 1e-2 give the same growth to 3 digits).
 * STABILITY_FLOOR_KICK: the second, tiny kick along the same direction, relative to the first;
 * a linear response to it is 1e-6 of the first kick's, so whatever it shows beyond that is the
 * integrator's own noise floor (relu: a kick of any size flips some kink decisions of the
 * steps, an O(step error) jump). STABILITY_FLOOR_MARGIN: the first kick's difference must exceed
 * the floor's by this factor to be read as the kick's response. STABILITY_MIN_GROWTH: the least
 * growth over the second half that counts as growing (a neutral direction keeps 1).
 * STABILITY_RATE_KEPT: how much of the first half's growth the second half must keep. A single
 * exponential mode keeps all of it (ratio 1, up to round-off: hence not exactly 1), one behind
 * a decaying or a neutral part more (the trap: 1.58 then 1.83); a secular drift a + b t that
 * still grows by STABILITY_MIN_GROWTH over the second half keeps at most 15/16 = 0.9375
 * ((1 + 2x) / (1 + x)^2 with x = b T / (2 a) >= 1/3). 0.97 lies between. */
#define STABILITY_KICK 1e-2
#define STABILITY_FLOOR_KICK 1e-6
#define STABILITY_FLOOR_MARGIN 10.0
#define STABILITY_MIN_GROWTH 1.25
#define STABILITY_RATE_KEPT 0.97

/* RMS of the b block and of the z block of a target state. */
static void block_scales(const akt_population *pop, const double *y, double *scale_b,
                         double *scale_z)
{
    size_t S = pop->S, nb = S * pop->width[1];
    *scale_b = rms(y, nb);
    *scale_z = rms(y + nb, S);
}

int akt_population_stability_measure(akt_population *pop, const akt_population_phase *phase,
                                     double extra_time, double relative_kick,
                                     akt_population_stability_report *report,
                                     akt_stability *stable, akt_error *err)
{
    *stable = AKT_STABLE_UNTESTED;
    *report = (akt_population_stability_report){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    if (pop->kind != STATE_JOINT && pop->kind != STATE_SCRATCH)
        return akt_error_set(err, AKT_ERR_INPUT, "population: the stability test needs a joint "
                             "or scratch state");
    if (!(relative_kick >= 0.0) || !(extra_time > 0.0))
        return akt_error_set(err, AKT_ERR_INPUT, "population: the stability test needs a kick "
                             ">= 0 and an extra time > 0");
    size_t S = pop->S, Mt = pop->rows[AKT_POINTS_TEST], n = S * (pop->width[1] + 1);
    size_t nf = Mt ? Mt : 1;
    double *f_plain = malloc(nf * sizeof *f_plain), *f_kicked = malloc(nf * sizeof *f_kicked);
    double *f_half = malloc(nf * sizeof *f_half);
    double *y_half = malloc(n * sizeof *y_half), *y_end = malloc(n * sizeof *y_end);
    double *y_start = pop->y_spare;
    step_log log = {NULL, 0, 0, 0, false};
    akt_population_phase extra = *phase;
    int status = AKT_OK;
    if (!f_plain || !f_kicked || !f_half || !y_half || !y_end) {
        status = akt_error_set(err, AKT_ERR_MEMORY, "out of memory in the stability test");
        goto done;
    }
    double t_state = pop->t;
    double start_b, start_z, half_b, half_z, end_b, end_z;
    block_scales(pop, pop->y_target, &start_b, &start_z);
    memcpy(y_start, pop->y_target, n * sizeof *y_start);
    if ((status = akt_population_predict(pop, AKT_POINTS_TEST, f_plain, err)) != AKT_OK)
        goto done;

    /* The plain copy: two halves of extra_time/2, every attempted step logged. */
    flow_context c;
    akt_population_run run;
    extra.time = 0.5 * extra_time;
    phase_context(pop, &c);
    double noise = 0.0; /* the plain copy's own integration error estimate over extra_time */
    if ((status = integrate(pop, &c, pop->y_target, &extra, &log, &run, err)) ||
        (status = akt_population_predict(pop, AKT_POINTS_TEST, f_half, err)))
        goto done;
    memcpy(y_half, pop->y_target, n * sizeof *y_half);
    noise += run.residual;
    if ((status = integrate(pop, &c, pop->y_target, &extra, &log, &run, err)))
        goto done;
    memcpy(y_end, pop->y_target, n * sizeof *y_end);
    noise += run.residual;
    block_scales(pop, y_half, &half_b, &half_z);
    block_scales(pop, y_end, &end_b, &end_z);

    /* The kicked copies, the tiny one first: each starts from the plain start plus the kick
     * (the same direction, the KICK stream drawn afresh) and repeats the plain copy's attempts.
     * The second leaves its continuation as the state. */
    double s0 = 0.0, s_half = 0.0, s1 = 0.0, floor1 = 0.0, d0 = 0.0, d_half = 0.0, d1 = 0.0;
    for (int copy = 0; copy < 2; copy++) {
        double k = copy == 0 ? relative_kick * STABILITY_FLOOR_KICK : relative_kick;
        memcpy(pop->y_target, y_start, n * sizeof *y_start);
        if ((status = kick(pop, pop->y_target, k, err)) != AKT_OK)
            goto done;
        pop->t = t_state;
        log.replay = true;
        log.next = 0;
        if (copy == 1) {
            s0 = state_distance(pop, pop->y_target, y_start, start_b, start_z);
            if ((status = akt_population_predict(pop, AKT_POINTS_TEST, f_kicked, err)))
                goto done;
            d0 = rms_difference(f_plain, f_kicked, Mt);
        }
        if ((status = integrate(pop, &c, pop->y_target, &extra, &log, &run, err)))
            goto done;
        if (copy == 1) {
            s_half = state_distance(pop, pop->y_target, y_half, half_b, half_z);
            if ((status = akt_population_predict(pop, AKT_POINTS_TEST, f_kicked, err)))
                goto done;
            d_half = rms_difference(f_half, f_kicked, Mt);
        }
        if ((status = integrate(pop, &c, pop->y_target, &extra, &log, &run, err)))
            goto done;
        double distance = state_distance(pop, pop->y_target, y_end, end_b, end_z);
        if (copy == 0) {
            floor1 = distance;
            continue;
        }
        s1 = distance;
        /* the plain end's predictions, then the kicked end's */
        double *kept = pop->y_target;
        pop->y_target = y_end;
        status = akt_population_predict(pop, AKT_POINTS_TEST, f_plain, err);
        pop->y_target = kept;
        if (status || (status = akt_population_predict(pop, AKT_POINTS_TEST, f_kicked, err)))
            goto done;
        d1 = rms_difference(f_plain, f_kicked, Mt);
    }
    *report = (akt_population_stability_report){d0, d_half, d1, noise, d0 > 0.0 ? d1 / d0 : NAN,
                                                s0, s_half, s1, floor1};
    /* The verdict (docs/stability.md). Unstable when the kick's state difference, relative to the
     * plain copy's state at each time,
     *   - is its response: above STABILITY_FLOOR_MARGIN times what the tiny kick's copy shows at
     *     the end (a linear response to the tiny kick is 1e-6 of it; more is integrator noise:
     *     relu kink decisions flipped by any perturbation, a jump of the size of the step error
     *     that does not scale with the kick, docs/stability.md), and
     *   - grows exponentially: by at least STABILITY_MIN_GROWTH over the second half, and keeping
     *     STABILITY_RATE_KEPT of the first half's growth (a neutral direction keeps its size, a
     *     secular drift a + b t slows down relative to itself; an exponential mode keeps its
     *     rate, or speeds up when the kick's decaying part dies out first).
     * The state distance, not the predictions: the instability of THEORY.md section 4 moves the
     * neurons apart (diversity), which the predictions see only at second order in the kick
     * (measured on the trap: predictions' difference falls 50-fold while the state's grows 3-fold). */
    double second = s_half > 0.0 ? s1 / s_half : 0.0, first = s0 > 0.0 ? s_half / s0 : 0.0;
    bool response = s1 > STABILITY_FLOOR_MARGIN * floor1;
    bool growing = second >= STABILITY_MIN_GROWTH && second >= STABILITY_RATE_KEPT * first;
    *stable = s0 > 0.0 && !(response && growing) ? AKT_STABLE_YES : AKT_STABLE_NO;
    if (!(s0 > 0.0))
        *stable = AKT_STABLE_UNTESTED;
done:
    free(f_plain);
    free(f_kicked);
    free(f_half);
    free(y_half);
    free(y_end);
    free(log.steps);
    return status;
}

int akt_population_stability(akt_population *pop, const akt_population_phase *phase,
                             double extra_time, double *growth, akt_stability *stable,
                             akt_error *err)
{
    akt_population_stability_report report;
    int status = pop->kind == STATE_JOINT
                     ? akt_population_stability_measure(pop, phase, extra_time, STABILITY_KICK,
                                                        &report, stable, err)
                     : akt_error_set(err, AKT_ERR_INPUT, "population: the stability test needs "
                                     "a joint state");
    *growth = status == AKT_OK ? report.growth : NAN;
    if (status != AKT_OK)
        *stable = AKT_STABLE_UNTESTED;
    return status;
}
