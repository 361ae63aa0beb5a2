/* moments.c: the exact second-moment closure of linear two-layer networks.
 *
 * THEORY.md section 4 ("Linear activation, any finite time"): with phi(h) = h every neuron's
 * state v = (z, w, w_src) moves by the same linear map given the shared error Delta,
 *     dz/dt = gamma w.u - lambda z,   dw/dt = gamma z u - lambda w - delta (w - w_src),   dw_src/dt = 0,
 * u = X' Delta / sqrt(D), and Delta depends on the neurons only through <z w>. So the second
 * moment matrix S = <v v'> obeys the closed ODE dS/dt = M S + S M', exactly, at any width
 * (started from a finite network's empirical moments it reproduces that network) and in the
 * infinite-width limit (started from the Gaussian moments). M is diagonal-like plus the rank-two
 * coupling gamma (e_z u' + u e_z'), so M S costs O(n^2), n = dim v, and one right-hand side costs
 * O(n^2 + P D), not O(n^3).
 *
 * Layout of v: index 0 is z, 1..D is w, 1+D..2D is w_src (present after start_target).
 *
 * The source readout z_src. The distance a joint phase moves the readout, <(z - z_src)^2>, needs
 * <z z_src>, which S does not hold: z_src is not a linear function of v (the source had D + 1
 * independent directions per neuron, w_src keeps D of them), and with readout_init source the
 * part of z_src outside the span of w_src moves z from the start. The exact route is to extend v
 * by the constant z_src: dz_src/dt = 0, so the extra column c = <v z_src> obeys dc/dt = M c, the
 * same linear map as S's w_src columns (which are <v w_src_k>, also of a constant), and
 * <z_src^2> is a constant. The column rides after S in the integrated state (the "tracked
 * readout", set by start_target) and does not feed back into S. The step-size control reads S
 * only (leading_control), so the steps, and therefore S and every prediction, are bit for bit
 * those without it; the column's accuracy is that of S's w_src columns, which the control does
 * watch and which solve the same linear ODE (tests/exact/test_observables.c checks it against a
 * finite network started from the same empirical moments). */
#include "akt/exact.h"
#include "core/util.h"

#include <cblas.h>
#include <stdbool.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* rk8pd: an embedded Runge-Kutta pair of order 8(7). The flow is smooth, so at the tight
 * step tolerances the exact method is run with, a high order takes far fewer steps; when the
 * output feedback is stiff (THEORY.md section 1) the step is set by stability, which the
 * embedded error estimate detects and enforces. */
#define MOMENTS_STEPPER gsl_odeiv2_step_rk8pd
#define DEFAULT_MIN_STEP 1e-9
/* Time converge: the Phi-identity residual costs O(P^2 D + P^3), so it is evaluated at times
 * spaced by max(1, 10% of the elapsed time): a run to t is charged O(log t) checks. */
#define FIRST_CHECK_TIME 1.0
#define CHECK_RELATIVE_SPACING 0.1
/* Chunk of the hidden dimension processed with a stack buffer in akt_moments_kernel (which cannot
 * report an allocation failure). */
#define KERNEL_CHUNK 256

struct akt_moments {
    size_t D;
    size_t n;         /* 1 + D, or 1 + 2D with the source block */
    double *S;        /* n x n, row-major, then the tracked column (n values) when tracking;
                         capacity (1 + 2D)^2 + 1 + 2D */
    double *scratch;  /* same capacity: start_target rebuilds S into it */
    bool tracking;    /* the column c = <v z_src> follows S (a source block is present) */
    double z_src_square;              /* <z_src^2> when tracking */
    double min_step;
    double readout_variance;          /* s_z^2 of the initial law: a fresh random readout's */
    akt_moments_observer observer;    /* NULL: none */
    void *observer_context;
};

akt_moments *akt_moments_alloc(size_t D, akt_error *err)
{
    if (D == 0) {
        akt_error_set(err, AKT_ERR_INPUT, "moment closure: input dimension D is 0");
        return NULL;
    }
    size_t capacity = (1 + 2 * D) * (1 + 2 * D) + 1 + 2 * D;
    akt_moments *m = calloc(1, sizeof *m);
    if (m) {
        m->S = malloc(capacity * sizeof *m->S);
        m->scratch = malloc(capacity * sizeof *m->scratch);
    }
    if (!m || !m->S || !m->scratch) {
        akt_moments_free(m);
        akt_error_set(err, AKT_ERR_MEMORY, "moment closure: out of memory (D = %zu, %zu doubles)",
                      D, 2 * capacity);
        return NULL;
    }
    m->D = D;
    m->min_step = DEFAULT_MIN_STEP;
    akt_moments_init_fresh(m);
    return m;
}

void akt_moments_free(akt_moments *m)
{
    if (!m)
        return;
    free(m->S);
    free(m->scratch);
    free(m);
}

void akt_moments_init_fresh(akt_moments *m)
{
    akt_moments_init_scaled(m, 1.0, 1.0);
}

void akt_moments_init_scaled(akt_moments *m, double hidden_scale, double readout_scale)
{
    m->n = 1 + m->D;
    m->tracking = false;
    m->readout_variance = readout_scale * readout_scale;
    memset(m->S, 0, m->n * m->n * sizeof *m->S);
    m->S[0] = m->readout_variance;
    for (size_t i = 1; i < m->n; i++)
        m->S[i * m->n + i] = hidden_scale * hidden_scale;
}

void akt_moments_start_target(akt_moments *m, akt_readout_init readout_init)
{
    size_t D = m->D, old_n = m->n, n = 1 + 2 * D;
    const double *old = m->S;
    double *S = m->scratch;
    memset(S, 0, n * n * sizeof *S);
    /* <w w'> is copied into all four hidden blocks: w_src is w, frozen. */
    for (size_t k = 0; k < D; k++)
        for (size_t l = 0; l < D; l++) {
            double value = old[(1 + k) * old_n + 1 + l];
            S[(1 + k) * n + 1 + l] = value;
            S[(1 + D + k) * n + 1 + D + l] = value;
            S[(1 + k) * n + 1 + D + l] = value;
            S[(1 + D + k) * n + 1 + l] = value;
        }
    if (readout_init == AKT_READOUT_SOURCE) {
        S[0] = old[0];
        for (size_t k = 0; k < D; k++) {
            double value = old[1 + k];
            S[1 + k] = S[(1 + k) * n] = value;
            S[1 + D + k] = S[(1 + D + k) * n] = value;
        }
    } else if (readout_init == AKT_READOUT_RANDOM) {
        S[0] = m->readout_variance;
    }
    /* The tracked column <v z_src> at the start: <z z_src> is <z_src^2> when the readout is
     * kept and 0 when it is zero or fresh (independent of everything); w and w_src are the
     * source's w, so both blocks hold the source's <w z>. */
    double *c = S + n * n;
    c[0] = readout_init == AKT_READOUT_SOURCE ? old[0] : 0.0;
    for (size_t k = 0; k < D; k++)
        c[1 + k] = c[1 + D + k] = old[1 + k];
    m->z_src_square = old[0];
    m->tracking = true;
    m->scratch = m->S;
    m->S = S;
    m->n = n;
}

int akt_moments_set(akt_moments *m, const double *S, size_t n, akt_error *err)
{
    if (n != 1 + m->D && n != 1 + 2 * m->D)
        return akt_error_set(err, AKT_ERR_INPUT, "moment closure: state size %zu is neither 1 + D "
                             "nor 1 + 2D (D = %zu)", n, m->D);
    if (!akt_all_finite(S, n * n))
        return akt_error_set(err, AKT_ERR_NUMERIC, "moment closure: NaN or Inf in the state");
    /* Symmetrised, so that round-off asymmetry of the caller's matrix is not carried along. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            m->S[i * n + j] = 0.5 * (S[i * n + j] + S[j * n + i]);
    m->n = n;
    m->tracking = false;
    return AKT_OK;
}

int akt_moments_set_source_readout(akt_moments *m, const double *c, double z_src_square,
                                   akt_error *err)
{
    size_t n = m->n;
    if (n != 1 + 2 * m->D)
        return akt_error_set(err, AKT_ERR_INPUT, "moment closure: the source readout needs a "
                             "state with a source block (size 1 + 2D)");
    if (!akt_all_finite(c, n) || !isfinite(z_src_square))
        return akt_error_set(err, AKT_ERR_NUMERIC, "moment closure: NaN or Inf in the source "
                             "readout's moments");
    memcpy(m->S + n * n, c, n * sizeof *c);
    m->z_src_square = z_src_square;
    m->tracking = true;
    return AKT_OK;
}

size_t akt_moments_state_length(const akt_moments *m)
{
    return m->n * m->n + (m->tracking ? m->n : 0);
}

void akt_moments_save(const akt_moments *m, double *state)
{
    memcpy(state, m->S, akt_moments_state_length(m) * sizeof *state);
}

void akt_moments_restore(akt_moments *m, const double *state)
{
    memcpy(m->S, state, akt_moments_state_length(m) * sizeof *state);
}

/* tr <(w - w_src)(w - w_src)'> / D = tr(<w w'> - 2 <w w_src'> + <w_src w_src'>) / D. */
double akt_moments_hidden_distance(const akt_moments *m)
{
    size_t D = m->D, n = m->n;
    if (n != 1 + 2 * D)
        return NAN;
    double sum = 0.0;
    for (size_t k = 1; k <= D; k++)
        sum += m->S[k * n + k] - 2.0 * m->S[k * n + D + k] + m->S[(D + k) * n + D + k];
    return sum / (double)D;
}

/* <(z - z_src)^2> = <z^2> - 2 <z z_src> + <z_src^2>, from the tracked column. */
double akt_moments_readout_distance(const akt_moments *m)
{
    if (!m->tracking)
        return NAN;
    return m->S[0] - 2.0 * m->S[m->n * m->n] + m->z_src_square;
}

size_t akt_moments_size(const akt_moments *m)
{
    return m->n;
}

const double *akt_moments_matrix(const akt_moments *m)
{
    return m->S;
}

void akt_moments_set_min_step(akt_moments *m, double min_step)
{
    m->min_step = min_step;
}

void akt_moments_set_observer(akt_moments *m, akt_moments_observer observer, void *context)
{
    m->observer = observer;
    m->observer_context = context;
}

void akt_moments_predict(const akt_moments *m, const double *X, size_t M, double gamma, double *f)
{
    if (M == 0)
        return;
    size_t D = m->D;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)M, (int)D, 1.0 / (gamma * sqrt((double)D)), X,
                (int)D, m->S + 1, 1, 0.0, f, 1);
}

void akt_moments_kernel(const akt_moments *m, const double *A, size_t a, const double *B, size_t b,
                        double *out)
{
    size_t D = m->D, n = m->n;
    const double *W = m->S + n + 1; /* <w w'>, leading dimension n */
    double projected[KERNEL_CHUNK];
    for (size_t i = 0; i < a; i++) {
        double *row = out + i * b;
        memset(row, 0, b * sizeof *row);
        for (size_t k0 = 0; k0 < D; k0 += KERNEL_CHUNK) {
            size_t length = D - k0 < KERNEL_CHUNK ? D - k0 : KERNEL_CHUNK;
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)length, (int)D, 1.0 / (double)D,
                        W + k0 * n, (int)n, A + i * D, 1, 0.0, projected, 1);
            if (b > 0)
                cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)b, (int)length, 1.0, B + k0, (int)D,
                            projected, 1, 1.0, row, 1);
        }
    }
}

/* ---- the flow ---- */

typedef struct {
    size_t D, n, P;
    bool tracking;      /* the tracked column c follows S in the state */
    const double *X, *y;
    double gamma, lambda, delta;
    double *error;      /* Delta = y - f(X), P */
    double *u;          /* X' Delta / sqrt(D), D */
    double *S_u;        /* S[:, w] u, n */
} flow_system;

/* Delta and u from the current <z w>. */
static void shared_error(flow_system *sys, const double *S)
{
    size_t D = sys->D, P = sys->P;
    double root_D = sqrt((double)D);
    memcpy(sys->error, sys->y, P * sizeof *sys->error);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)P, (int)D, -1.0 / (sys->gamma * root_D), sys->X,
                (int)D, S + 1, 1, 1.0, sys->error, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)P, (int)D, 1.0 / root_D, sys->X, (int)D,
                sys->error, 1, 0.0, sys->u, 1);
}

/* T = M S, row by row (T is written into out). Row z: -lambda S_z + gamma (S u)'; rows w:
 * gamma u_k S_z - (lambda + delta) S_w + delta S_wsrc; rows w_src: 0. */
static void linear_map_times_state(const flow_system *sys, const double *S, double *T)
{
    size_t D = sys->D, n = sys->n;
    int with_source = n == 1 + 2 * D;
    double decay = sys->lambda + (with_source ? sys->delta : 0.0);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)D, 1.0, S + 1, (int)n, sys->u, 1, 0.0,
                sys->S_u, 1);
    for (size_t j = 0; j < n; j++)
        T[j] = -sys->lambda * S[j] + sys->gamma * sys->S_u[j];
    for (size_t k = 0; k < D; k++) {
        const double *S_w = S + (1 + k) * n;
        double *T_w = T + (1 + k) * n;
        double pull = sys->gamma * sys->u[k];
        for (size_t j = 0; j < n; j++)
            T_w[j] = pull * S[j] - decay * S_w[j];
        if (with_source)
            cblas_daxpy((int)n, sys->delta, S + (1 + D + k) * n, 1, T_w, 1);
    }
    if (with_source)
        memset(T + (1 + D) * n, 0, D * n * sizeof *T);
}

/* dc/dt = M c for the tracked column (z_src is constant): the rows of M as in
 * linear_map_times_state. */
static void tracked_derivative(const flow_system *sys, const double *c, double *dc)
{
    size_t D = sys->D;
    double decay = sys->lambda + sys->delta; /* tracking implies a source block */
    dc[0] = -sys->lambda * c[0] + sys->gamma * cblas_ddot((int)D, c + 1, 1, sys->u, 1);
    for (size_t k = 0; k < D; k++) {
        dc[1 + k] = sys->gamma * sys->u[k] * c[0] - decay * c[1 + k] + sys->delta * c[1 + D + k];
        dc[1 + D + k] = 0.0;
    }
}

static int moment_derivative(double t, const double *S, double *dS, void *params)
{
    (void)t;
    flow_system *sys = params;
    size_t n = sys->n;
    shared_error(sys, S);
    linear_map_times_state(sys, S, dS);
    /* dS = T + T': the sum of the pair is formed once, so dS is exactly symmetric and S stays so. */
    for (size_t i = 0; i < n; i++) {
        dS[i * n + i] *= 2.0;
        for (size_t j = i + 1; j < n; j++) {
            double sum = dS[i * n + j] + dS[j * n + i];
            dS[i * n + j] = dS[j * n + i] = sum;
        }
    }
    size_t length = n * n;
    if (sys->tracking) {
        tracked_derivative(sys, S + n * n, dS + n * n);
        length += n;
    }
    /* A trial step too long for the stiff feedback can overflow; GSL's error control would
     * accept a NaN error estimate, so the trial is refused here and integrate_to halves it. */
    return akt_all_finite(dS, length) ? GSL_SUCCESS : GSL_EDOM;
}

static const char *block_name(size_t index, size_t D)
{
    if (index == 0)
        return "z";
    return index <= D ? "w" : "w_src";
}

static int check_state(const double *S, size_t n, bool tracking, size_t D, double t,
                       akt_error *err)
{
    for (size_t i = 0; i < n * n; i++)
        if (!isfinite(S[i]))
            return akt_error_set(err, AKT_ERR_NUMERIC, "moment closure: non-finite second moment "
                                 "<%s %s> (entry %zu,%zu) at t = %.6g", block_name(i / n, D),
                                 block_name(i % n, D), i / n, i % n, t);
    for (size_t i = 0; tracking && i < n; i++)
        if (!isfinite(S[n * n + i]))
            return akt_error_set(err, AKT_ERR_NUMERIC, "moment closure: non-finite second moment "
                                 "<%s z_src> at t = %.6g", block_name(i, D), t);
    return AKT_OK;
}

typedef struct {
    gsl_odeiv2_system system;
    gsl_odeiv2_step *step;
    gsl_odeiv2_control *control;
    gsl_odeiv2_evolve *evolve;
    double t, h, min_step;
    long steps;
    const akt_moments *m;   /* for the observer: its S is the state being stepped */
} integrator;

/* Advances the state S to t_end (adaptive steps; a step shorter than min_step that is not the one
 * truncated to land on t_end counts as a collapse of the step size). */
static int integrate_to(integrator *in, double *S, size_t D, double t_end, akt_error *err)
{
    flow_system *sys = in->system.params;
    while (in->t < t_end) {
        double t_before = in->t;
        int status = gsl_odeiv2_evolve_apply(in->evolve, in->control, in->step, &in->system,
                                             &in->t, t_end, &in->h, S);
        if (status == GSL_EDOM && in->h >= 2.0 * in->min_step) {
            in->h *= 0.5; /* t and S were restored; retry the non-finite trial shorter */
            continue;
        }
        if (status == GSL_EDOM)
            return akt_error_set(err, AKT_ERR_NUMERIC, "moment closure: non-finite derivative of "
                                 "the second moments at t = %.6g even with a step at min_step "
                                 "%.3g", in->t, in->min_step);
        if (status != GSL_SUCCESS)
            return akt_error_set(err, AKT_ERR_NUMERIC, "moment closure: stepper failed at t = %.6g "
                                 "(%s)", in->t, gsl_strerror(status));
        in->steps++;
        if (check_state(S, sys->n, sys->tracking, D, in->t, err) != AKT_OK)
            return AKT_ERR_NUMERIC;
        if (in->m->observer) {
            int observed = in->m->observer(in->m->observer_context, in->t, in->m, err);
            if (observed != AKT_OK)
                return observed;
        }
        if (in->t < t_end && in->t - t_before < in->min_step)
            return akt_error_set(err, AKT_ERR_NUMERIC, "moment closure: step size %.3g fell below "
                                 "min_step %.3g at t = %.6g", in->t - t_before, in->min_step,
                                 in->t);
    }
    return AKT_OK;
}

/* Relative Phi-identity residual (THEORY.md section 2) on the training points:
 * |f - Phi (Phi + lambda I)^{-1} y| / max(|f|, |y|). The denominator is the larger of |f| and
 * |y| because on the beta = 0 branch f decays to 0 while |f - Phi(Phi + lambda I)^{-1} y| / |f|
 * tends to the constant 1 - gamma |X'y| / (sqrt(D) lambda): relative to the labels the branch
 * still converges; wherever the network fits (|f| ~ |y|) it is the plain relative residual. */
static int phi_residual(const akt_moments *m, const flow_system *sys, double *work,
                        double *residual, akt_error *err)
{
    size_t P = sys->P;
    double *phi = work, *f = phi + P * P, *ridge = f + P;
    akt_moments_kernel(m, sys->X, P, sys->X, P, phi);
    akt_moments_predict(m, sys->X, P, sys->gamma, f);
    int status = akt_ridge_predict(phi, P, phi, P, sys->y, sys->lambda, ridge, err);
    if (status != AKT_OK)
        return akt_error_prefix(err, "moment closure residual: ");
    cblas_daxpy((int)P, -1.0, f, 1, ridge, 1);
    double scale = fmax(cblas_dnrm2((int)P, f, 1), cblas_dnrm2((int)P, sys->y, 1));
    double gap = cblas_dnrm2((int)P, ridge, 1);
    *residual = scale > 0.0 ? gap / scale : gap;
    return AKT_OK;
}

static int flow_to_convergence(akt_moments *m, integrator *in, double tolerance, double max_time,
                               double *residual, akt_error *err)
{
    const flow_system *sys = in->system.params;
    double *work = malloc((sys->P * sys->P + 2 * sys->P) * sizeof *work);
    if (!work)
        return akt_error_set(err, AKT_ERR_MEMORY, "moment closure: out of memory (P = %zu)", sys->P);
    int status = AKT_OK;
    double next_check = fmin(FIRST_CHECK_TIME, max_time);
    for (;;) {
        status = integrate_to(in, m->S, m->D, next_check, err);
        if (status == AKT_OK)
            status = phi_residual(m, sys, work, residual, err);
        if (status != AKT_OK || *residual < tolerance)
            break;
        if (in->t >= max_time) {
            status = akt_error_set(err, AKT_ERR_NUMERIC, "moment closure: max_time %.6g reached "
                                   "with residual %.3g above tolerance %.3g", max_time, *residual,
                                   tolerance);
            break;
        }
        next_check = fmin(max_time, in->t + fmax(1.0, CHECK_RELATIVE_SPACING * in->t));
    }
    free(work);
    return status;
}

static int check_flow_arguments(const akt_moments *m, const double *X, const double *y, size_t P,
                                double gamma, double lambda, double delta, double T,
                                double step_tolerance, double tolerance, double max_time,
                                akt_error *err)
{
    if (!(gamma > 0.0) || !isfinite(gamma) || !(lambda >= 0.0) || !isfinite(lambda) ||
        !(delta >= 0.0) || !isfinite(delta))
        return akt_error_set(err, AKT_ERR_INPUT, "moment closure: needs gamma > 0, lambda >= 0, "
                             "delta >= 0 (got %g, %g, %g)", gamma, lambda, delta);
    if (T != AKT_TIME_CONVERGE && !(T >= 0.0 && isfinite(T)))
        return akt_error_set(err, AKT_ERR_INPUT, "moment closure: time must be >= 0 or converge "
                             "(got %g)", T);
    if (!(step_tolerance > 0.0))
        return akt_error_set(err, AKT_ERR_INPUT, "moment closure: step_tolerance must be > 0");
    if (T == AKT_TIME_CONVERGE && (!(tolerance > 0.0) || !(max_time > 0.0)))
        return akt_error_set(err, AKT_ERR_INPUT, "moment closure: time converge needs tolerance "
                             "> 0 and max_time > 0");
    if (!akt_all_finite(X, P * m->D) || !akt_all_finite(y, P))
        return akt_error_set(err, AKT_ERR_NUMERIC, "moment closure: NaN or Inf in the data");
    return AKT_OK;
}

/* The step control of a flow with a tracked column: GSL's standard control applied to the
 * leading n^2 components (S) only, by delegation, so that the decisions are the standard
 * control's on S, bit for bit, and the column (a passenger, see the top of the file) never
 * decides a step. (GSL's scaled control cannot stand in: it caps a step's growth at 4.9, the
 * standard one at 5.) */
typedef struct {
    gsl_odeiv2_control *standard;
    size_t controlled;       /* the leading components the error test reads */
} leading_control;

static void *leading_alloc(void)
{
    return calloc(1, sizeof(leading_control));
}

/* The standard control is made here, with its tolerances (GSL does not declare its type). */
static int leading_init(void *state, double eps_abs, double eps_rel, double a_y, double a_dydt)
{
    leading_control *c = state;
    if (c->standard)
        return gsl_odeiv2_control_init(c->standard, eps_abs, eps_rel, a_y, a_dydt);
    c->standard = gsl_odeiv2_control_standard_new(eps_abs, eps_rel, a_y, a_dydt);
    return c->standard ? GSL_SUCCESS : GSL_ENOMEM;
}

static int leading_hadjust(void *state, size_t dim, unsigned int order, const double y[],
                           const double yerr[], const double yp[], double *h)
{
    leading_control *c = state;
    size_t controlled = c->controlled < dim ? c->controlled : dim;
    return c->standard->type->hadjust(c->standard->state, controlled, order, y, yerr, yp, h);
}

static int leading_errlevel(void *state, const double y, const double dydt, const double h,
                            const size_t index, double *errlev)
{
    leading_control *c = state;
    return gsl_odeiv2_control_errlevel(c->standard, y, dydt, h, index, errlev);
}

static int leading_set_driver(void *state, const gsl_odeiv2_driver *driver)
{
    leading_control *c = state;
    return gsl_odeiv2_control_set_driver(c->standard, driver);
}

static void leading_free(void *state)
{
    leading_control *c = state;
    if (c->standard)
        gsl_odeiv2_control_free(c->standard);
    free(c);
}

static const gsl_odeiv2_control_type leading_control_type = {
    "leading components", leading_alloc, leading_init, leading_hadjust, leading_errlevel,
    leading_set_driver, leading_free};

/* Local error per step below step_tolerance (1 + |S_ij|): absolute for small moments, relative
 * for large ones; with a tracked column, the same test on S alone. */
static gsl_odeiv2_control *step_control(const akt_moments *m, double step_tolerance)
{
    if (!m->tracking)
        return gsl_odeiv2_control_standard_new(step_tolerance, step_tolerance, 1.0, 0.0);
    gsl_odeiv2_control *control = gsl_odeiv2_control_alloc(&leading_control_type);
    if (!control)
        return NULL;
    ((leading_control *)control->state)->controlled = m->n * m->n;
    if (gsl_odeiv2_control_init(control, step_tolerance, step_tolerance, 1.0, 0.0) != GSL_SUCCESS) {
        gsl_odeiv2_control_free(control);
        return NULL;
    }
    return control;
}

static int run_flow(akt_moments *m, flow_system *sys, double T, double step_tolerance,
                    double tolerance, double max_time, long *steps, double *residual,
                    akt_error *err)
{
    size_t dimension = m->n * m->n + (m->tracking ? m->n : 0);
    integrator in = {.system = {moment_derivative, NULL, dimension, sys}, .t = 0.0,
                     .min_step = m->min_step, .m = m};
    in.step = gsl_odeiv2_step_alloc(MOMENTS_STEPPER, dimension);
    in.control = step_control(m, step_tolerance);
    in.evolve = gsl_odeiv2_evolve_alloc(dimension);
    int status = AKT_OK;
    if (!in.step || !in.control || !in.evolve)
        status = akt_error_set(err, AKT_ERR_MEMORY, "moment closure: out of memory for the stepper "
                               "(%zu unknowns)", dimension);
    /* First trial step: small, but never below min_step, so that only a step the error control
     * itself shrank can trip the min_step failure. */
    in.h = fmax(1e-3, m->min_step);
    if (T > 0.0)
        in.h = fmin(in.h, T);
    gsl_error_handler_t *previous = gsl_set_error_handler_off();
    if (status == AKT_OK && T == AKT_TIME_CONVERGE)
        status = flow_to_convergence(m, &in, tolerance, max_time, residual, err);
    else if (status == AKT_OK)
        status = integrate_to(&in, m->S, m->D, T, err);
    gsl_set_error_handler(previous);
    if (in.evolve)
        gsl_odeiv2_evolve_free(in.evolve);
    if (in.control)
        gsl_odeiv2_control_free(in.control);
    if (in.step)
        gsl_odeiv2_step_free(in.step);
    if (steps)
        *steps = in.steps;
    return status;
}

int akt_moments_flow(akt_moments *m, const double *X, const double *y, size_t P, double gamma,
                     double lambda, double delta, double T, double step_tolerance,
                     double tolerance, double max_time, long *steps, double *residual,
                     akt_error *err)
{
    double reached = NAN;
    if (steps)
        *steps = 0;
    if (residual)
        *residual = NAN;
    int status = check_flow_arguments(m, X, y, P, gamma, lambda, delta, T, step_tolerance,
                                      tolerance, max_time, err);
    if (status != AKT_OK)
        return status;
    double *buffers = malloc((P + m->D + m->n) * sizeof *buffers);
    if (!buffers)
        return akt_error_set(err, AKT_ERR_MEMORY, "moment closure: out of memory (P = %zu)", P);
    flow_system sys = {m->D, m->n, P, m->tracking, X, y, gamma, lambda, delta, buffers,
                       buffers + P, buffers + P + m->D};
    status = run_flow(m, &sys, T, step_tolerance, tolerance, max_time, steps, &reached, err);
    free(buffers);
    if (residual && T == AKT_TIME_CONVERGE)
        *residual = reached;
    return status;
}
