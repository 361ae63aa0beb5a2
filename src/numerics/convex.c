/* convex.c: the t -> infinity limit of a relu or linear phase as a lasso over a continuum of
 * features (THEORY.md section 4), solved by fully corrective conditional gradient over
 * activation cells.
 *
 * Why cells. On the training points relu(w.x) is linear in w inside one activation cell
 * (a fixed sign pattern S of x_mu.w): relu(X w) = D_S X w for every w in the closed polyhedral
 * cone K_S = {w: x_mu.w >= 0 (mu in S), x_mu.w <= 0 (mu not in S)}. Writing an atom as
 * w = |c| u with a sign s, the problem restricted to a set of (cell, sign) pairs is the convex
 * cone-constrained group lasso
 *     min_{w_j in K_{S_j}}  1/2 |y - sum_j s_j D_{S_j} X w_j / sqrt(D)|^2 + tau sum_j |w_j|,
 * whose proximal map is exact: prox(v) = shrink_tau(P_K(v)) (a norm restricted to a cone).
 * The projection P_K is a non-negative least-squares problem on the constraint normals
 * (Moreau decomposition), solved exactly by Lawson-Hanson. The same projection gives the exact
 * oracle inside a cell: max_{u in K_S, |u| = 1} u.v = |P_K(v)| at u = P_K(v)/|P_K(v)|, which
 * lands exactly on the kinks where relu optima sit. Atoms therefore slide continuously inside
 * their cells (the FISTA solve moves w_j, not only c_j, as sliding Frank-Wolfe does), two
 * atoms of one sign merge when one lies in the other's closed cell (same fit, smaller penalty),
 * and atoms that shrink to zero are pruned.
 *
 * The oracle across cells is a non-convex search: many starts (random directions, the current
 * atoms, the training inputs, +-v of the full pattern, perturbations of the best few), each
 * improved by the cheap fixed-point iteration u <- v_S/|v_S| and then refined exactly
 * (projection, then the best single sign flip among all P neighbouring patterns while it
 * improves). Every start is refined: relu maxima are often narrow kink intersections whose
 * unrefined starts look poor, and ranking starts before refining them missed such maxima
 * (measured: two seeds then disagreed by 7e-4 in the training fit; refining every start they
 * agree to 2e-9). The reported gap is relative to the best direction found.
 *
 * The cheap iteration runs a block of starts at once (two products per step); the P neighbour
 * projections of a refinement step warm-start Lawson-Hanson from the cell's passive set.
 *
 * Cost: the restricted problem is solved by FISTA, first order; on degenerate problems it
 * converges slowly, so tolerances much below 1e-7 take many outer rounds. At D = 200, P = 1000
 * the refinement's count (starts x steps x P projections) makes one oracle round about 10^5 s
 * (bench/RESULTS.md, "Convex at D = 200, P = 1000"). Warm-starting the prox projections too
 * (3 times faster there) was measured and reverted: on the convex_population problem its path
 * let this oracle certify a point 1.5e-4 above the optimum.
 *
 * Linear activation: the problem is a one-group lasso in beta = sum_k c_k u_k, solved by
 * akt_linear_fixed_point. */
#include "akt/convex.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* gsl_randist.h pulls in GSL's own cblas.h, whose enums clash with OpenBLAS's (included above
 * and the one we link); its include guard keeps GSL's copy out. */
#define __GSL_CBLAS_H__
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "akt/exact.h"

/* ---- tolerances and search sizes ----
 * KINK_TOLERANCE: w lies in a closed cell when every violated margin is below 1e-10 |x_mu| |w|.
 * Lawson-Hanson projections put active constraints at round-off (1e-16 relative), so 1e-10
 * separates them from genuinely positive margins with room to spare (used when merging).
 * NNLS_TOLERANCE: Lawson-Hanson stops when no constraint normal has a positive correlation
 * above 1e-13 |v| |a_mu| with the residual: a projection exact to round-off.
 * INNER_GAP_FRACTION: the restricted problem (fixed cells) is solved to a relative gap of
 * 1e-1 of the requested tolerance, so that its error alone cannot reach the outer gap; the
 * outer gap is always recomputed from scratch (relu network residual, oracle), never inherited.
 * FISTA_MAX_ITERATIONS: a cap per restricted solve; the next outer round warm-starts from it.
 * Search sizes (RANDOM_STARTS .. PERTURBED_STARTS): starts per oracle round and sign; the
 * best REFINED_PER_SIGN distinct cells of each sign are kept, the first ADDED_PER_SIGN of those
 * with value above tau become new atoms. */
#define KINK_TOLERANCE 1e-10
#define NNLS_TOLERANCE 1e-13
#define INNER_GAP_FRACTION 1e-1
#define FISTA_MAX_ITERATIONS 20000
#define FISTA_CHECK_EVERY 10
#define CHEAP_STEPS 30
#define REFINE_STEPS 200
#define RANDOM_STARTS 128
#define REFINED_PER_SIGN 8
#define PERTURBED_CENTRES 4
#define PERTURBED_STARTS 32
#define ADDED_PER_SIGN 4
#define ASCENT_BLOCK 256

typedef struct {
    const double *X, *y;
    size_t P, D;
    double scale;          /* 1/sqrt(D) */
    double tau;            /* lambda/gamma */
    double *x_norm;        /* |x_mu| */
} problem;

/* An atom: w = |c| u in the closed cone of its cell, with a sign. */
typedef struct {
    size_t count, capacity;
    double *W;             /* capacity x D */
    int *sign;             /* +1 / -1 */
    unsigned char *cell;   /* capacity x P: 1 when mu in S (x_mu.w >= 0 required) */
} atom_set;

/* Scratch space of one solve, sized once (P, D, capacity). */
typedef struct {
    /* Lawson-Hanson */
    double *lambda, *z, *correlation, *ls_matrix, *ls_rhs;
    lapack_int *pivots;
    size_t *passive, passive_count;  /* the last projection's passive set */
    size_t *parent_passive, *best_passive, *initial;   /* refine's warm starts */
    unsigned char *in_passive, *blocked, *keep;
    /* the passive Cholesky's cache (passive_cholesky): D x D Gram and factor, D right-hand side;
     * rows 0..chol_rows of the Gram and 0..chol_factored of the factor are current */
    double *chol_gram, *chol_factor, *chol_rhs;
    size_t chol_rows, chol_factored;
    /* oracle */
    double *v, *u, *e, *best_e, *margins;
    unsigned char *cell, *trial_cell;
    /* FISTA (capacity x D and P x capacity) */
    double *W_extra, *W_new, *Z, *R;
    double *f, *r, *gram, *eigenvalues;
} workspace;

typedef struct {
    double value;          /* s <r, relu(X e / sqrt(D))> */
    int sign;
    double *e;             /* D, unit */
    unsigned char *cell;   /* P */
} candidate;

/* ------------------------------------------------------------------------------------------ */
/* small vector helpers */

static double norm2(const double *v, size_t n) { return cblas_dnrm2((int)n, v, 1); }

static double relu(double a) { return a > 0.0 ? a : 0.0; }

/* s <r, relu(X u)/sqrt(D)>: the oracle's objective at any direction u. */
static double oracle_value(const problem *pb, const double *r, const double *u, int sign,
                           double *margins)
{
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)pb->P, (int)pb->D, pb->scale, pb->X,
                (int)pb->D, u, 1, 0.0, margins, 1);
    double sum = 0.0;
    for (size_t mu = 0; mu < pb->P; mu++)
        sum += r[mu] * relu(margins[mu]);
    return sign * sum;
}

static void pattern_of(const problem *pb, const double *u, unsigned char *cell, double *margins)
{
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)pb->P, (int)pb->D, 1.0, pb->X, (int)pb->D, u, 1,
                0.0, margins, 1);
    for (size_t mu = 0; mu < pb->P; mu++)
        cell[mu] = margins[mu] > 0.0;
}

/* v_S = s sum_{mu in S} r_mu x_mu / sqrt(D): the cell's linear functional. */
static void cell_functional(const problem *pb, const double *r, const unsigned char *cell,
                            int sign, double *masked, double *v)
{
    for (size_t mu = 0; mu < pb->P; mu++)
        masked[mu] = cell[mu] ? sign * r[mu] : 0.0;
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)pb->P, (int)pb->D, pb->scale, pb->X, (int)pb->D,
                masked, 1, 0.0, v, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* Projection onto the closed cone of a cell (Lawson-Hanson NNLS on the constraint normals
 * a_mu = -x_mu (mu in S), +x_mu (mu not in S)): P_K(v) = v - sum_mu lambda_mu a_mu with
 * lambda = argmin_{lambda >= 0} |v - A' lambda|. */

static double constraint_sign(const unsigned char *cell, size_t mu) { return cell[mu] ? -1.0 : 1.0; }

/* Normal equations of the passive normals by a hand-written Cholesky (count is small, and
 * LAPACK's per-call set-up dominated the run time), kept up to date as the passive set changes:
 * Lawson-Hanson appends one normal per outer step and removes a few in its inner steps, and
 * row i of the factor depends only on the normals 0..i, so only the rows from the first changed
 * position on are (re)computed, by the same formula in the same order as a factorisation from
 * scratch (the iterates are bit-identical to it). The Gram entries s_i s_j x_i.x_j and the
 * right-hand side s_i x_i.v are cached with them (stride D) and compacted on removal.
 * Returns -1 when a pivot falls below 1e-10 of its diagonal entry (nearly dependent normals):
 * the caller then uses pivoted QR. */
static int passive_cholesky(const problem *pb, const unsigned char *cell, const double *v,
                            size_t count, workspace *wk)
{
    size_t D = pb->D;
    double *G = wk->chol_gram, *L = wk->chol_factor, *b = wk->z;
    for (size_t i = wk->chol_rows; i < count; i++) {
        const double *xi = pb->X + wk->passive[i] * D;
        double si = constraint_sign(cell, wk->passive[i]);
        wk->chol_rhs[i] = si * cblas_ddot((int)D, xi, 1, v, 1);
        for (size_t j = 0; j <= i; j++) {
            const double *xj = pb->X + wk->passive[j] * D;
            G[i * D + j] = si * constraint_sign(cell, wk->passive[j]) *
                           cblas_ddot((int)D, xi, 1, xj, 1);
        }
    }
    wk->chol_rows = count;
    for (size_t i = wk->chol_factored; i < count; i++) {
        for (size_t j = 0; j < i; j++) {
            double sum = G[i * D + j];
            for (size_t k = 0; k < j; k++)
                sum -= L[i * D + k] * L[j * D + k];
            L[i * D + j] = sum / L[j * D + j];
        }
        double diagonal = G[i * D + i];
        double pivot = diagonal;
        for (size_t k = 0; k < i; k++)
            pivot -= L[i * D + k] * L[i * D + k];
        if (!(pivot > 1e-10 * diagonal)) {
            wk->chol_factored = i;
            return -1;
        }
        L[i * D + i] = sqrt(pivot);
        wk->chol_factored = i + 1;
    }
    for (size_t i = 0; i < count; i++) {
        b[i] = wk->chol_rhs[i];
        for (size_t k = 0; k < i; k++)
            b[i] -= L[i * D + k] * b[k];
        b[i] /= L[i * D + i];
    }
    for (size_t i = count; i-- > 0;) {
        for (size_t k = i + 1; k < count; k++)
            b[i] -= L[k * D + i] * b[k];
        b[i] /= L[i * D + i];
    }
    return 0;
}

/* The passive set keeps the entries flagged in keep[0..count) (in order): the cached Gram rows
 * and right-hand side are compacted, the factor stays valid up to the first removed entry. */
static void passive_compact_cache(workspace *wk, size_t D, const unsigned char *keep,
                                  size_t count)
{
    size_t rows = wk->chol_rows < count ? wk->chol_rows : count;
    size_t kept = 0;
    for (size_t i = 0; i < rows; i++) {
        if (!keep[i]) {
            if (kept < wk->chol_factored)
                wk->chol_factored = kept;
            continue;
        }
        if (kept != i) {
            size_t jj = 0;
            for (size_t j = 0; j <= i; j++)
                if (keep[j])
                    wk->chol_gram[kept * D + jj++] = wk->chol_gram[i * D + j];
            wk->chol_rhs[kept] = wk->chol_rhs[i];
        } else {
            /* row unchanged in place, but its columns may have shifted */
            size_t jj = 0;
            for (size_t j = 0; j <= i; j++)
                if (keep[j])
                    wk->chol_gram[kept * D + jj++] = wk->chol_gram[i * D + j];
        }
        kept++;
    }
    wk->chol_rows = kept;
    if (wk->chol_factored > kept)
        wk->chol_factored = kept;
}

/* Least squares on the passive normals: z_P = argmin |v - sum_{i in P} z_i a_i|; pivoted QR
 * (rank revealing, so a degenerate set of normals cannot blow up) when Cholesky declines. */
static int passive_least_squares(const problem *pb, const unsigned char *cell, const double *v,
                                 size_t count, workspace *wk)
{
    size_t D = pb->D;
    if (count <= D && passive_cholesky(pb, cell, v, count, wk) == 0)
        return 0;
    for (size_t i = 0; i < count; i++) {
        size_t mu = wk->passive[i];
        double s = constraint_sign(cell, mu);
        for (size_t d = 0; d < D; d++)
            wk->ls_matrix[i * D + d] = s * pb->X[mu * D + d];   /* column-major D x count */
        wk->pivots[i] = 0;
    }
    size_t ldb = D > count ? D : count;
    memset(wk->ls_rhs, 0, ldb * sizeof(double));
    memcpy(wk->ls_rhs, v, D * sizeof(double));
    lapack_int rank = 0;
    lapack_int info = LAPACKE_dgelsy(LAPACK_COL_MAJOR, (lapack_int)D, (lapack_int)count, 1,
                                     wk->ls_matrix, (lapack_int)D, wk->ls_rhs, (lapack_int)ldb,
                                     wk->pivots, 1e-12, &rank);
    if (info != 0)
        return -1;
    for (size_t i = 0; i < count; i++)
        wk->z[i] = wk->ls_rhs[i];
    return 0;
}

static void cone_residual(const problem *pb, const unsigned char *cell, const double *v,
                          size_t count, workspace *wk, double *q)
{
    memcpy(q, v, pb->D * sizeof(double));
    for (size_t i = 0; i < count; i++) {
        size_t mu = wk->passive[i];
        cblas_daxpy((int)pb->D, -wk->lambda[i] * constraint_sign(cell, mu), pb->X + mu * pb->D,
                    1, q, 1);
    }
}

/* Writes P_K(v) into q (q may not alias v); the final passive set is left in
 * wk->passive[0..wk->passive_count). Warm start: initial[0..n_initial) (normals of this cell,
 * e.g. the passive set of a neighbouring cell's projection) is the first passive set, with the
 * normals whose least-squares multipliers are not positive dropped until all are; from there
 * Lawson-Hanson proceeds as from the empty set, and it stops on the same test (no normal
 * outside the passive set correlates with the residual), so the result is the same exact
 * projection, reached in a few steps when the neighbour's set is nearly right. */
static void cone_project_from(const problem *pb, const unsigned char *cell, const double *v,
                              double *q, const size_t *initial, size_t n_initial, workspace *wk)
{
    size_t P = pb->P, count = 0;
    double threshold = NNLS_TOLERANCE * norm2(v, pb->D);
    memset(wk->in_passive, 0, P);
    memset(wk->blocked, 0, P);
    wk->chol_rows = wk->chol_factored = 0;
    memcpy(q, v, pb->D * sizeof(double));
    for (size_t i = 0; i < n_initial; i++) {
        wk->passive[count++] = initial[i];
        wk->in_passive[initial[i]] = 1;
    }
    while (count > 0) {
        if (passive_least_squares(pb, cell, v, count, wk) != 0) {
            for (size_t i = 0; i < count; i++)
                wk->in_passive[wk->passive[i]] = 0;
            count = 0;
            wk->chol_rows = wk->chol_factored = 0;
            break;
        }
        size_t kept = 0;
        for (size_t i = 0; i < count; i++) {
            wk->keep[i] = wk->z[i] > 0.0;
            if (wk->keep[i]) {
                wk->passive[kept] = wk->passive[i];
                wk->lambda[kept] = wk->z[i];
                kept++;
            } else {
                wk->in_passive[wk->passive[i]] = 0;
            }
        }
        passive_compact_cache(wk, pb->D, wk->keep, count);
        int done = kept == count;
        count = kept;
        if (done)
            break;
    }
    if (count > 0)
        cone_residual(pb, cell, v, count, wk, q);
    wk->passive_count = count;
    for (size_t outer = 0; outer < 3 * P + 10; outer++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)P, (int)pb->D, 1.0, pb->X, (int)pb->D, q, 1,
                    0.0, wk->correlation, 1);
        size_t entering = P;
        double best = 0.0;
        for (size_t mu = 0; mu < P; mu++) {
            if (wk->in_passive[mu] || wk->blocked[mu])
                continue;
            double c = constraint_sign(cell, mu) * wk->correlation[mu];
            if (c > threshold * pb->x_norm[mu] && c > best) {
                best = c;
                entering = mu;
            }
        }
        if (entering == P)
            return;
        wk->passive[count] = entering;
        wk->passive_count = count + 1;
        wk->lambda[count] = 0.0;
        wk->in_passive[entering] = 1;
        count++;
        for (size_t inner = 0; inner < 3 * P + 10; inner++) {
            if (passive_least_squares(pb, cell, v, count, wk) != 0) {
                wk->passive_count = count;
                return;
            }
            double alpha = 1.0;
            size_t leaving = count;
            int all_positive = 1;
            for (size_t i = 0; i < count; i++) {
                if (wk->z[i] <= 0.0) {
                    all_positive = 0;
                    double step = wk->lambda[i] / (wk->lambda[i] - wk->z[i]);
                    if (step < alpha || leaving == count) {
                        alpha = step;
                        leaving = i;
                    }
                }
            }
            if (all_positive) {
                memcpy(wk->lambda, wk->z, count * sizeof(double));
                break;
            }
            /* The entering constraint cannot move: round-off degeneracy. Block it, so that
             * the outer loop cannot cycle on it. */
            if (alpha <= 0.0 && inner == 0) {
                count--;
                wk->in_passive[entering] = 0;
                wk->blocked[entering] = 1;
                if (wk->chol_rows > count)
                    wk->chol_rows = count;
                if (wk->chol_factored > count)
                    wk->chol_factored = count;
                wk->passive_count = count;
                break;
            }
            size_t kept = 0;
            for (size_t i = 0; i < count; i++) {
                double lam = wk->lambda[i] + alpha * (wk->z[i] - wk->lambda[i]);
                wk->keep[i] = i != leaving && lam > 0.0;
                if (wk->keep[i]) {
                    wk->passive[kept] = wk->passive[i];
                    wk->lambda[kept] = lam;
                    kept++;
                } else {
                    wk->in_passive[wk->passive[i]] = 0;
                }
            }
            passive_compact_cache(wk, pb->D, wk->keep, count);
            count = kept;
            wk->passive_count = count;
        }
        cone_residual(pb, cell, v, count, wk, q);
    }
}

static void cone_project(const problem *pb, const unsigned char *cell, const double *v, double *q,
                         workspace *wk)
{
    cone_project_from(pb, cell, v, q, NULL, 0, wk);
}

/* ------------------------------------------------------------------------------------------ */
/* Oracle */

/* Exact maximum of s g over the closed cell: |P_K(v_S)|, at e = P_K(v_S)/|P_K(v_S)|; the
 * projection warm-starts from initial[0..n_initial) (cone_project_from). */
static double cell_maximum_from(const problem *pb, const double *r, const unsigned char *cell,
                                int sign, const size_t *initial, size_t n_initial, double *e,
                                workspace *wk)
{
    cell_functional(pb, r, cell, sign, wk->margins, wk->v);
    cone_project_from(pb, cell, wk->v, e, initial, n_initial, wk);
    double value = norm2(e, pb->D);
    if (value > 0.0)
        cblas_dscal((int)pb->D, 1.0 / value, e, 1);
    return value;
}

static double cell_maximum(const problem *pb, const double *r, const unsigned char *cell, int sign,
                           double *e, workspace *wk)
{
    return cell_maximum_from(pb, r, cell, sign, NULL, 0, e, wk);
}

/* Exact refinement from u: cell maximum, then the best single sign flip among all P
 * neighbouring patterns while it improves (a flip of a kink the maximiser sits on keeps it
 * feasible, so it never loses; flips of other points reach cells not containing it, which
 * widens the local search at P projections per step). Writes the result into cand. */
static void refine(const problem *pb, const double *r, int sign, const double *u, candidate *cand,
                   workspace *wk)
{
    size_t P = pb->P, D = pb->D;
    pattern_of(pb, u, cand->cell, wk->margins);
    cand->sign = sign;
    cand->value = cell_maximum(pb, r, cand->cell, sign, cand->e, wk);
    size_t parent_count = wk->passive_count, best_count = 0;
    memcpy(wk->parent_passive, wk->passive, parent_count * sizeof(size_t));
    for (int step = 0; step < REFINE_STEPS && cand->value > 0.0; step++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)P, (int)D, 1.0, pb->X, (int)D, cand->e, 1,
                    0.0, wk->margins, 1);
        memcpy(wk->trial_cell, cand->cell, P);
        double best = cand->value;
        size_t best_flip = P;
        for (size_t mu = 0; mu < P; mu++) {
            /* the neighbour's projection starts from this cell's passive set without mu */
            size_t n_initial = 0;
            for (size_t i = 0; i < parent_count; i++)
                if (wk->parent_passive[i] != mu)
                    wk->initial[n_initial++] = wk->parent_passive[i];
            wk->trial_cell[mu] ^= 1;
            double value = cell_maximum_from(pb, r, wk->trial_cell, sign, wk->initial, n_initial,
                                             wk->u, wk);
            /* relative 1e-12: an improvement must beat round-off of the projection */
            if (value > best * (1.0 + 1e-12)) {
                best = value;
                best_flip = mu;
                memcpy(wk->best_e, wk->u, D * sizeof(double));
                best_count = wk->passive_count;
                memcpy(wk->best_passive, wk->passive, best_count * sizeof(size_t));
            }
            wk->trial_cell[mu] ^= 1;
        }
        if (best_flip == P)
            break;
        parent_count = best_count;
        memcpy(wk->parent_passive, wk->best_passive, best_count * sizeof(size_t));
        cand->cell[best_flip] ^= 1;
        cand->value = best;
        memcpy(cand->e, wk->best_e, D * sizeof(double));
    }
    /* The certificate uses the oracle's own value at e, not the cell bound. */
    if (cand->value > 0.0)
        cand->value = oracle_value(pb, r, cand->e, sign, wk->margins);
}

typedef struct {
    size_t count, capacity;
    double *U;             /* capacity x D starts */
} start_set;

/* Buffers of the batched cheap ascent (ASCENT_BLOCK starts at a time). */
typedef struct {
    double *U, *Z, *M, *value;   /* block x D, P x block, P x block, block */
    unsigned char *pattern;      /* block x P */
    size_t *row;                 /* block */
} ascent_batch;

/* cheap_ascent on the n <= ASCENT_BLOCK rows of U at once (two n x D x P products per step
 * instead of 4 matrix-vector products per start): each row becomes the best direction its
 * iteration met, value[i] its oracle value. Same iteration and stopping rule as cheap_ascent. */
static void cheap_ascent_block(const problem *pb, const double *r, int sign, double *U, size_t n,
                               ascent_batch *b)
{
    size_t P = pb->P, D = pb->D, active = n;
    memcpy(b->U, U, n * D * sizeof(double));
    for (size_t j = 0; j < n; j++)
        b->row[j] = j;
    for (int step = 0; active > 0; step++) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)P, (int)active, (int)D, 1.0,
                    pb->X, (int)D, b->U, (int)D, 0.0, b->Z, (int)active);
        size_t kept = 0;
        for (size_t j = 0; j < active; j++) {
            size_t i = b->row[j];
            unsigned char *pattern = b->pattern + i * P;
            double value = 0.0;
            int same = step > 0;
            for (size_t mu = 0; mu < P; mu++) {
                double a = b->Z[mu * active + j];
                unsigned char on = a > 0.0;
                if (on)
                    value += r[mu] * a;
                if (pattern[mu] != on)
                    same = 0;
                pattern[mu] = on;
            }
            value *= sign * pb->scale;
            if (step == 0 || value > b->value[i]) {
                b->value[i] = value;
                memcpy(U + i * D, b->U + j * D, D * sizeof(double));
            }
            if (same || step >= CHEAP_STEPS)
                continue;
            if (kept != j)
                memcpy(b->U + kept * D, b->U + j * D, D * sizeof(double));
            b->row[kept++] = i;
        }
        active = kept;
        if (active == 0)
            break;
        for (size_t mu = 0; mu < P; mu++)
            for (size_t j = 0; j < active; j++)
                b->M[mu * active + j] = b->pattern[b->row[j] * P + mu] ? sign * r[mu] : 0.0;
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)active, (int)D, (int)P,
                    pb->scale, b->M, (int)active, pb->X, (int)D, 0.0, b->U, (int)D);
        kept = 0;
        for (size_t j = 0; j < active; j++) {
            double length = norm2(b->U + j * D, D);
            if (length == 0.0)
                continue;
            for (size_t d = 0; d < D; d++)
                b->U[kept * D + d] = b->U[j * D + d] / length;
            b->row[kept++] = b->row[j];
        }
        active = kept;
    }
}

static void random_unit(gsl_rng *rng, double *u, size_t D)
{
    for (size_t d = 0; d < D; d++)
        u[d] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    double length = norm2(u, D);
    if (length > 0.0)
        cblas_dscal((int)D, 1.0 / length, u, 1);
}

static void add_start(start_set *starts, const double *u, size_t D)
{
    if (starts->count >= starts->capacity)
        return;
    double length = norm2(u, D);
    if (length == 0.0)
        return;
    double *slot = starts->U + starts->count * D;
    for (size_t d = 0; d < D; d++)
        slot[d] = u[d] / length;
    starts->count++;
}

static void fill_starts(const problem *pb, const double *r, const atom_set *atoms, gsl_rng *rng,
                        start_set *starts, workspace *wk)
{
    size_t D = pb->D;
    starts->count = 0;
    for (size_t k = 0; k < atoms->count; k++)
        add_start(starts, atoms->W + k * D, D);
    for (size_t mu = 0; mu < pb->P; mu++)
        add_start(starts, pb->X + mu * D, D);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)pb->P, (int)D, 1.0, pb->X, (int)D, r, 1, 0.0,
                wk->v, 1);
    add_start(starts, wk->v, D);
    cblas_dscal((int)D, -1.0, wk->v, 1);
    add_start(starts, wk->v, D);
    for (int i = 0; i < RANDOM_STARTS; i++) {
        random_unit(rng, wk->u, D);
        add_start(starts, wk->u, D);
    }
}

/* Inserts cand into the sorted (descending) list best[0..*n) of at most limit entries with
 * distinct cells. */
static void keep_best(const problem *pb, candidate *best, size_t *n, size_t limit,
                      const candidate *cand)
{
    for (size_t i = 0; i < *n; i++)
        if (memcmp(best[i].cell, cand->cell, pb->P) == 0) {
            if (cand->value > best[i].value) {
                best[i].value = cand->value;
                memcpy(best[i].e, cand->e, pb->D * sizeof(double));
            }
            return;
        }
    size_t position = *n;
    while (position > 0 && best[position - 1].value < cand->value)
        position--;
    if (position >= limit)
        return;
    size_t last = *n < limit ? *n : limit - 1;
    /* shift down, recycling the buffers of the dropped entry */
    double *e_spare = best[last].e;
    unsigned char *cell_spare = best[last].cell;
    for (size_t i = last; i > position; i--)
        best[i] = best[i - 1];
    best[position].e = e_spare;
    best[position].cell = cell_spare;
    best[position].value = cand->value;
    best[position].sign = cand->sign;
    memcpy(best[position].e, cand->e, pb->D * sizeof(double));
    memcpy(best[position].cell, cand->cell, pb->P);
    if (*n < limit)
        (*n)++;
}

/* ------------------------------------------------------------------------------------------ */
/* The restricted problem on fixed cells (FISTA with function-value restart) */

/* f = sum_k s_k D_{S_k} X w_k / sqrt(D) (equal to the relu network for w_k in its cone). */
static void forward(const problem *pb, const atom_set *atoms, const double *W, workspace *wk,
                    double *f)
{
    size_t P = pb->P, K = atoms->count;
    memset(f, 0, P * sizeof(double));
    if (K == 0)
        return;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)P, (int)K, (int)pb->D, pb->scale,
                pb->X, (int)pb->D, W, (int)pb->D, 0.0, wk->Z, (int)K);
    for (size_t mu = 0; mu < P; mu++)
        for (size_t k = 0; k < K; k++)
            if (atoms->cell[k * P + mu])
                f[mu] += atoms->sign[k] * wk->Z[mu * K + k];
}

static double half_squared_residual(const problem *pb, const double *f, double *r)
{
    double sum = 0.0;
    for (size_t mu = 0; mu < pb->P; mu++) {
        r[mu] = pb->y[mu] - f[mu];
        sum += r[mu] * r[mu];
    }
    return 0.5 * sum;
}

static double penalty(const problem *pb, const double *W, size_t K)
{
    double sum = 0.0;
    for (size_t k = 0; k < K; k++)
        sum += norm2(W + k * pb->D, pb->D);
    return pb->tau * sum;
}

/* Relative duality gap of primal value `primal` with residual r, given the largest dual
 * constraint value m: theta = r min(1, tau/m), D = 1/2|y|^2 - 1/2|y - theta|^2. */
static double relative_gap(const problem *pb, const double *r, double primal, double m)
{
    if (primal <= 0.0)
        return 0.0;
    double scale = m > pb->tau ? pb->tau / m : 1.0;
    double dual = 0.0;
    for (size_t mu = 0; mu < pb->P; mu++) {
        double theta = scale * r[mu];
        dual += pb->y[mu] * pb->y[mu] - (pb->y[mu] - theta) * (pb->y[mu] - theta);
    }
    return (primal - 0.5 * dual) / primal;
}

/* Largest eigenvalue of A A' = (X X'/D) o (sum_k cell_k cell_k'): the Lipschitz constant. */
static int lipschitz(const problem *pb, const atom_set *atoms, workspace *wk, double *L,
                     akt_error *err)
{
    size_t P = pb->P, K = atoms->count;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)P, (int)P, (int)pb->D,
                pb->scale * pb->scale, pb->X, (int)pb->D, pb->X, (int)pb->D, 0.0, wk->gram,
                (int)P);
    for (size_t i = 0; i < P; i++)
        for (size_t j = 0; j < P; j++) {
            size_t shared = 0;
            for (size_t k = 0; k < K; k++)
                shared += atoms->cell[k * P + i] & atoms->cell[k * P + j];
            wk->gram[i * P + j] *= (double)shared;
        }
    int status = akt_symmetric_eigen(wk->gram, P, wk->eigenvalues, err);
    if (status != AKT_OK)
        return status;
    /* 1% margin: the eigenvalue is exact to round-off; the margin keeps the step safe. */
    *L = 1.01 * wk->eigenvalues[P - 1];
    return AKT_OK;
}

static void prox_step(const problem *pb, const atom_set *atoms, const double *W_from, double L,
                      workspace *wk, double *W_to)
{
    size_t P = pb->P, D = pb->D, K = atoms->count;
    for (size_t mu = 0; mu < P; mu++)
        for (size_t k = 0; k < K; k++)
            wk->R[mu * K + k] = atoms->cell[k * P + mu] ? atoms->sign[k] * wk->r[mu] : 0.0;
    /* gradient of the loss is -R' X / sqrt(D); step v = w + R'X/(L sqrt(D)) */
    memcpy(W_to, W_from, K * D * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)D, (int)P, pb->scale / L,
                wk->R, (int)K, pb->X, (int)D, 1.0, W_to, (int)D);
    for (size_t k = 0; k < K; k++) {
        double *w = W_to + k * D;
        memcpy(wk->v, w, D * sizeof(double));
        cone_project(pb, atoms->cell + k * P, wk->v, w, wk);
        double length = norm2(w, D);
        double shrink = length > pb->tau / L ? 1.0 - pb->tau / (L * length) : 0.0;
        if (shrink == 0.0)
            memset(w, 0, D * sizeof(double));
        else
            cblas_dscal((int)D, shrink, w, 1);
    }
}

/* The restricted gap: the dual constraint over the active cells only. */
static double restricted_gap(const problem *pb, const atom_set *atoms, double primal,
                             workspace *wk)
{
    double m = 0.0;
    for (size_t k = 0; k < atoms->count; k++) {
        double value = cell_maximum(pb, wk->r, atoms->cell + k * pb->P, atoms->sign[k], wk->e, wk);
        if (value > m)
            m = value;
    }
    return relative_gap(pb, wk->r, primal, m);
}

static int solve_restricted(const problem *pb, atom_set *atoms, double tolerance, workspace *wk,
                            akt_error *err)
{
    size_t K = atoms->count, D = pb->D, n = K * D;
    if (K == 0)
        return AKT_OK;
    double L;
    int status = lipschitz(pb, atoms, wk, &L, err);
    if (status != AKT_OK)
        return status;
    double *W = atoms->W;
    memcpy(wk->W_extra, W, n * sizeof(double));
    forward(pb, atoms, W, wk, wk->f);
    double current = half_squared_residual(pb, wk->f, wk->r) + penalty(pb, W, K);
    double t = 1.0;
    for (long it = 1; it <= FISTA_MAX_ITERATIONS; it++) {
        forward(pb, atoms, wk->W_extra, wk, wk->f);
        half_squared_residual(pb, wk->f, wk->r);
        prox_step(pb, atoms, wk->W_extra, L, wk, wk->W_new);
        forward(pb, atoms, wk->W_new, wk, wk->f);
        double next = half_squared_residual(pb, wk->f, wk->r) + penalty(pb, wk->W_new, K);
        if (next > current && t > 1.0) {
            /* function-value restart: drop the momentum and step from the last iterate */
            t = 1.0;
            memcpy(wk->W_extra, W, n * sizeof(double));
            continue;
        }
        double t_next = 0.5 * (1.0 + sqrt(1.0 + 4.0 * t * t));
        double momentum = (t - 1.0) / t_next;
        for (size_t i = 0; i < n; i++) {
            wk->W_extra[i] = wk->W_new[i] + momentum * (wk->W_new[i] - W[i]);
            W[i] = wk->W_new[i];
        }
        t = t_next;
        current = next;
        if (!isfinite(current))
            return akt_error_set(err, AKT_ERR_NUMERIC, "convex: restricted lasso diverged");
        if (it % FISTA_CHECK_EVERY == 0 && restricted_gap(pb, atoms, current, wk) < tolerance)
            break;
    }
    return AKT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Atom bookkeeping */

static void remove_atom(const problem *pb, atom_set *atoms, size_t k)
{
    size_t last = atoms->count - 1, D = pb->D, P = pb->P;
    if (k != last) {
        memcpy(atoms->W + k * D, atoms->W + last * D, D * sizeof(double));
        memcpy(atoms->cell + k * P, atoms->cell + last * P, P);
        atoms->sign[k] = atoms->sign[last];
    }
    atoms->count--;
}

/* Is w in the closed cone of cell (to the kink tolerance)? */
static int in_cone(const problem *pb, const unsigned char *cell, const double *w, double *margins)
{
    double length = norm2(w, pb->D);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)pb->P, (int)pb->D, 1.0, pb->X, (int)pb->D, w, 1,
                0.0, margins, 1);
    for (size_t mu = 0; mu < pb->P; mu++)
        if (constraint_sign(cell, mu) * margins[mu] > KINK_TOLERANCE * pb->x_norm[mu] * length)
            return 0;
    return 1;
}

static void prune_and_merge(const problem *pb, atom_set *atoms, workspace *wk)
{
    size_t D = pb->D;
    for (size_t k = 0; k < atoms->count;) {
        if (norm2(atoms->W + k * D, D) == 0.0)
            remove_atom(pb, atoms, k);
        else
            k++;
    }
    for (size_t k = 0; k < atoms->count;) {
        size_t host = atoms->count;
        for (size_t j = 0; j < atoms->count && host == atoms->count; j++)
            if (j != k && atoms->sign[j] == atoms->sign[k] &&
                in_cone(pb, atoms->cell + j * pb->P, atoms->W + k * D, wk->margins))
                host = j;
        if (host == atoms->count) {
            k++;
            continue;
        }
        cblas_daxpy((int)D, 1.0, atoms->W + k * D, 1, atoms->W + host * D, 1);
        remove_atom(pb, atoms, k);
    }
}

static int cell_active(const problem *pb, const atom_set *atoms, const candidate *cand)
{
    for (size_t k = 0; k < atoms->count; k++)
        if (atoms->sign[k] == cand->sign && memcmp(atoms->cell + k * pb->P, cand->cell, pb->P) == 0)
            return 1;
    return 0;
}

static int add_atom(const problem *pb, atom_set *atoms, const candidate *cand)
{
    if (atoms->count >= atoms->capacity || cell_active(pb, atoms, cand))
        return 0;
    size_t k = atoms->count++;
    memset(atoms->W + k * pb->D, 0, pb->D * sizeof(double));
    memcpy(atoms->cell + k * pb->P, cand->cell, pb->P);
    atoms->sign[k] = cand->sign;
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* One oracle round: returns the best value found (over both signs) and the best candidates of
 * each sign in best[sign][0..n[sign]). */

typedef struct {
    start_set starts;
    double *work;          /* starts.capacity x D: the starts as the ascent moves them */
    ascent_batch batch;
    candidate best[2][REFINED_PER_SIGN];
    size_t n[2];
    candidate trial;
} oracle_state;

/* Batched ascent of starts[0..n) (overwritten by their best directions), then the exact
 * refinement of each, kept in best[si]. */
static void ascend_and_refine(const problem *pb, const double *r, int sign, int si, double *U,
                              size_t n, oracle_state *os, workspace *wk)
{
    size_t D = pb->D;
    for (size_t first = 0; first < n; first += ASCENT_BLOCK) {
        size_t count = n - first < ASCENT_BLOCK ? n - first : ASCENT_BLOCK;
        cheap_ascent_block(pb, r, sign, U + first * D, count, &os->batch);
        for (size_t i = 0; i < count; i++) {
            refine(pb, r, sign, U + (first + i) * D, &os->trial, wk);
            keep_best(pb, os->best[si], &os->n[si], REFINED_PER_SIGN, &os->trial);
        }
    }
}

static double run_oracle(const problem *pb, const double *r, const atom_set *atoms, gsl_rng *rng,
                         oracle_state *os, workspace *wk)
{
    size_t D = pb->D;
    fill_starts(pb, r, atoms, rng, &os->starts, wk);
    double overall = 0.0;
    for (int si = 0; si < 2; si++) {
        int sign = si == 0 ? 1 : -1;
        os->n[si] = 0;
        /* every start: the cheap iteration, then exact refinement (ranking starts by their
         * unrefined values and refining only the best missed narrow kink maxima) */
        memcpy(os->work, os->starts.U, os->starts.count * D * sizeof(double));
        ascend_and_refine(pb, r, sign, si, os->work, os->starts.count, os, wk);
        /* perturbations of the best few directions found, at several scales */
        if (os->n[si] > 0) {
            for (int i = 0; i < PERTURBED_STARTS; i++) {
                size_t around = (size_t)i % (os->n[si] < PERTURBED_CENTRES ? os->n[si]
                                                                           : PERTURBED_CENTRES);
                double size = 0.3 * pow(0.5, (i / PERTURBED_CENTRES) % 4);
                double *u = os->work + (size_t)i * D;
                for (size_t d = 0; d < D; d++)
                    u[d] = os->best[si][around].e[d] +
                           size * gsl_ran_gaussian_ziggurat(rng, 1.0) / sqrt((double)D);
            }
            ascend_and_refine(pb, r, sign, si, os->work, PERTURBED_STARTS, os, wk);
            if (os->best[si][0].value > overall)
                overall = os->best[si][0].value;
        }
    }
    return overall;
}

/* ------------------------------------------------------------------------------------------ */
/* Allocation */

static void *checked_calloc(size_t n, size_t size, int *failed)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        *failed = 1;
    return p;
}

static void workspace_free(workspace *wk)
{
    free(wk->lambda); free(wk->z); free(wk->correlation); free(wk->ls_matrix); free(wk->ls_rhs);
    free(wk->pivots); free(wk->passive); free(wk->parent_passive); free(wk->best_passive);
    free(wk->initial); free(wk->in_passive); free(wk->blocked);
    free(wk->keep); free(wk->chol_gram); free(wk->chol_factor); free(wk->chol_rhs);
    free(wk->v); free(wk->u); free(wk->e); free(wk->best_e); free(wk->margins);
    free(wk->cell); free(wk->trial_cell);
    free(wk->W_extra); free(wk->W_new); free(wk->Z);
    free(wk->R); free(wk->f); free(wk->r); free(wk->gram); free(wk->eigenvalues);
}

static int workspace_alloc(workspace *wk, size_t P, size_t D, size_t capacity)
{
    int failed = 0;
    size_t big = P > D ? P : D;
    memset(wk, 0, sizeof(*wk));
    wk->lambda = checked_calloc(P, sizeof(double), &failed);
    wk->z = checked_calloc(big, sizeof(double), &failed);
    wk->correlation = checked_calloc(P, sizeof(double), &failed);
    wk->ls_matrix = checked_calloc((P + D) * D, sizeof(double), &failed);
    wk->ls_rhs = checked_calloc(big, sizeof(double), &failed);
    wk->pivots = checked_calloc(P, sizeof(lapack_int), &failed);
    wk->passive = checked_calloc(P, sizeof(size_t), &failed);
    wk->parent_passive = checked_calloc(P, sizeof(size_t), &failed);
    wk->best_passive = checked_calloc(P, sizeof(size_t), &failed);
    wk->initial = checked_calloc(P, sizeof(size_t), &failed);
    wk->in_passive = checked_calloc(P, 1, &failed);
    wk->blocked = checked_calloc(P, 1, &failed);
    wk->keep = checked_calloc(P, 1, &failed);
    wk->chol_gram = checked_calloc(D * D, sizeof(double), &failed);
    wk->chol_factor = checked_calloc(D * D, sizeof(double), &failed);
    wk->chol_rhs = checked_calloc(D, sizeof(double), &failed);
    wk->v = checked_calloc(D, sizeof(double), &failed);
    wk->u = checked_calloc(D, sizeof(double), &failed);
    wk->e = checked_calloc(D, sizeof(double), &failed);
    wk->best_e = checked_calloc(D, sizeof(double), &failed);
    wk->margins = checked_calloc(P, sizeof(double), &failed);
    wk->cell = checked_calloc(P, 1, &failed);
    wk->trial_cell = checked_calloc(P, 1, &failed);
    wk->W_extra = checked_calloc(capacity * D, sizeof(double), &failed);
    wk->W_new = checked_calloc(capacity * D, sizeof(double), &failed);
    wk->Z = checked_calloc(P * capacity, sizeof(double), &failed);
    wk->R = checked_calloc(P * capacity, sizeof(double), &failed);
    wk->f = checked_calloc(P, sizeof(double), &failed);
    wk->r = checked_calloc(P, sizeof(double), &failed);
    wk->gram = checked_calloc(P * P, sizeof(double), &failed);
    wk->eigenvalues = checked_calloc(P, sizeof(double), &failed);
    return failed;
}

static int candidate_alloc(candidate *c, size_t P, size_t D)
{
    int failed = 0;
    c->e = checked_calloc(D, sizeof(double), &failed);
    c->cell = checked_calloc(P, 1, &failed);
    return failed;
}

static void oracle_free(oracle_state *os)
{
    free(os->starts.U);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < REFINED_PER_SIGN; i++) {
            free(os->best[s][i].e);
            free(os->best[s][i].cell);
        }
    free(os->trial.e);
    free(os->trial.cell);
    free(os->work);
    free(os->batch.U); free(os->batch.Z); free(os->batch.M); free(os->batch.value);
    free(os->batch.pattern); free(os->batch.row);
}

static int oracle_alloc(oracle_state *os, size_t P, size_t D, size_t capacity)
{
    int failed = 0;
    memset(os, 0, sizeof(*os));
    os->starts.capacity = capacity + P + 2 + RANDOM_STARTS;
    os->starts.U = checked_calloc(os->starts.capacity * D, sizeof(double), &failed);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < REFINED_PER_SIGN; i++)
            failed |= candidate_alloc(&os->best[s][i], P, D);
    failed |= candidate_alloc(&os->trial, P, D);
    os->work = checked_calloc(os->starts.capacity * D, sizeof(double), &failed);
    os->batch.U = checked_calloc(ASCENT_BLOCK * D, sizeof(double), &failed);
    os->batch.Z = checked_calloc(P * ASCENT_BLOCK, sizeof(double), &failed);
    os->batch.M = checked_calloc(P * ASCENT_BLOCK, sizeof(double), &failed);
    os->batch.value = checked_calloc(ASCENT_BLOCK, sizeof(double), &failed);
    os->batch.pattern = checked_calloc(ASCENT_BLOCK * P, 1, &failed);
    os->batch.row = checked_calloc(ASCENT_BLOCK, sizeof(size_t), &failed);
    return failed;
}

/* ------------------------------------------------------------------------------------------ */
/* Public API */

void akt_convex_free(akt_convex_solution *solution)
{
    if (!solution)
        return;
    free(solution->U);
    free(solution->c);
    solution->U = NULL;
    solution->c = NULL;
    solution->K = 0;
}

static int solution_set_atoms(akt_convex_solution *solution, const problem *pb,
                              const atom_set *atoms, akt_error *err)
{
    size_t K = atoms->count, D = pb->D;
    akt_convex_free(solution);
    solution->D = D;
    if (K == 0)
        return AKT_OK;
    solution->U = malloc(K * D * sizeof(double));
    solution->c = malloc(K * sizeof(double));
    if (!solution->U || !solution->c) {
        akt_convex_free(solution);
        return akt_error_set(err, AKT_ERR_MEMORY, "convex: out of memory for %zu atoms", K);
    }
    for (size_t k = 0; k < K; k++) {
        const double *w = atoms->W + k * D;
        double length = norm2(w, D);
        for (size_t d = 0; d < D; d++)
            solution->U[k * D + d] = w[d] / length;
        solution->c[k] = atoms->sign[k] * length;
    }
    solution->K = K;
    return AKT_OK;
}

static double activate(akt_activation activation, double a)
{
    return activation == AKT_ACTIVATION_RELU ? relu(a) : a;
}

/* phi(X U'/sqrt(D)): M x K features (row-major) into F. */
static void features(const akt_convex_solution *solution, akt_activation activation,
                     const double *X, size_t M, size_t D, double *F)
{
    size_t K = solution->K;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)K, (int)D,
                1.0 / sqrt((double)D), X, (int)D, solution->U, (int)D, 0.0, F, (int)K);
    for (size_t i = 0; i < M * K; i++)
        F[i] = activate(activation, F[i]);
}

int akt_convex_predict(const akt_convex_solution *solution, const double *X, size_t M, size_t D,
                       akt_activation activation, double *f, akt_error *err)
{
    memset(f, 0, M * sizeof(double));
    if (solution->K == 0 || M == 0)
        return AKT_OK;
    if (D != solution->D)
        return akt_error_set(err, AKT_ERR_INPUT, "convex: inputs have %zu columns, atoms %zu", D,
                             solution->D);
    double *F = malloc(M * solution->K * sizeof(double));
    if (!F)
        return akt_error_set(err, AKT_ERR_MEMORY, "convex: out of memory for %zu x %zu features",
                             M, solution->K);
    features(solution, activation, X, M, D, F);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)M, (int)solution->K, 1.0, F, (int)solution->K,
                solution->c, 1, 0.0, f, 1);
    free(F);
    return AKT_OK;
}

int akt_convex_kernel(const akt_convex_solution *solution, akt_activation activation,
                      double gamma, const double *A, size_t a, const double *B, size_t b,
                      size_t D, double *out, akt_error *err)
{
    size_t K = solution->K;
    memset(out, 0, a * b * sizeof(double));
    if (K == 0 || a == 0 || b == 0)
        return AKT_OK;
    if (D != solution->D)
        return akt_error_set(err, AKT_ERR_INPUT, "convex: inputs have %zu columns, atoms %zu", D,
                             solution->D);
    double *FA = malloc(a * K * sizeof(double));
    double *FB = malloc(b * K * sizeof(double));
    if (!FA || !FB) {
        free(FA);
        free(FB);
        return akt_error_set(err, AKT_ERR_MEMORY, "convex: out of memory for kernel features");
    }
    features(solution, activation, A, a, D, FA);
    features(solution, activation, B, b, D, FB);
    for (size_t i = 0; i < a; i++)
        for (size_t k = 0; k < K; k++)
            FA[i * K + k] *= gamma * fabs(solution->c[k]);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)a, (int)b, (int)K, 1.0, FA, (int)K,
                FB, (int)K, 0.0, out, (int)b);
    free(FA);
    free(FB);
    return AKT_OK;
}

/* The certificate of any solution: objective, best oracle value, gap (relu oracle given). */
static void certify_linear(const problem *pb, const double *beta, akt_convex_solution *solution,
                           double *r)
{
    size_t P = pb->P, D = pb->D;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)P, (int)D, -pb->scale, pb->X, (int)D, beta, 1,
                0.0, r, 1);
    cblas_daxpy((int)P, 1.0, pb->y, 1, r, 1);
    double *g = malloc(D * sizeof(double));
    double m = 0.0;
    if (g) {
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)P, (int)D, pb->scale, pb->X, (int)D, r, 1, 0.0,
                    g, 1);
        m = norm2(g, D);   /* max_u <r, X u/sqrt(D)> over the sphere: exact, no search */
        free(g);
    }
    double primal = 0.5 * cblas_ddot((int)P, r, 1, r, 1) + pb->tau * norm2(beta, D);
    solution->objective = primal;
    solution->oracle_max = m;
    solution->gap = relative_gap(pb, r, primal, m);
}

static int solve_linear(const problem *pb, double gamma, double lambda, double tolerance,
                        akt_convex_solution *solution, akt_error *err)
{
    size_t D = pb->D;
    double *beta = malloc(D * sizeof(double));
    double *r = malloc(pb->P * sizeof(double));
    int status = AKT_OK;
    if (!beta || !r) {
        status = akt_error_set(err, AKT_ERR_MEMORY, "convex: out of memory");
        goto done;
    }
    double kappa;
    status = akt_linear_fixed_point(pb->X, pb->y, pb->P, D, gamma, lambda, beta, &kappa, err);
    if (status != AKT_OK)
        goto done;
    double length = norm2(beta, D);
    if (length > 0.0) {
        solution->U = malloc(D * sizeof(double));
        solution->c = malloc(sizeof(double));
        if (!solution->U || !solution->c) {
            akt_convex_free(solution);
            status = akt_error_set(err, AKT_ERR_MEMORY, "convex: out of memory");
            goto done;
        }
        for (size_t d = 0; d < D; d++)
            solution->U[d] = beta[d] / length;
        solution->c[0] = length;
        solution->K = 1;
    }
    certify_linear(pb, beta, solution, r);
    solution->iterations = 1;
    solution->converged = solution->gap < tolerance;
    if (!solution->converged)
        status = akt_error_set(err, AKT_ERR_NUMERIC,
                               "convex: linear fixed point has relative duality gap %.3g >= %.3g",
                               solution->gap, tolerance);
done:
    free(beta);
    free(r);
    return status;
}

/* Primal value and residual of the atoms as a relu network (not the masked model), so the
 * certificate does not rely on the atoms being inside their cells. */
static double relu_primal(const problem *pb, const atom_set *atoms, workspace *wk)
{
    size_t P = pb->P, K = atoms->count;
    memset(wk->f, 0, P * sizeof(double));
    if (K > 0) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)P, (int)K, (int)pb->D, pb->scale,
                    pb->X, (int)pb->D, atoms->W, (int)pb->D, 0.0, wk->Z, (int)K);
        for (size_t mu = 0; mu < P; mu++)
            for (size_t k = 0; k < K; k++)
                wk->f[mu] += atoms->sign[k] * relu(wk->Z[mu * K + k]);
    }
    return half_squared_residual(pb, wk->f, wk->r) + penalty(pb, atoms->W, K);
}

static int solve_relu(const problem *pb, double tolerance, unsigned long seed, long max_iterations,
                      akt_convex_solution *solution, akt_error *err)
{
    size_t P = pb->P, D = pb->D;
    /* Representer bound: an optimum with at most P atoms exists; one atom per sign and cell at
     * most P each, plus room for the candidates of one round before merging. */
    size_t capacity = 2 * P + 2 * ADDED_PER_SIGN;
    atom_set atoms = {0, capacity, NULL, NULL, NULL};
    workspace wk;
    oracle_state os;
    int failed = workspace_alloc(&wk, P, D, capacity);
    failed |= oracle_alloc(&os, P, D, capacity);
    atoms.W = calloc(capacity * D, sizeof(double));
    atoms.sign = calloc(capacity, sizeof(int));
    atoms.cell = calloc(capacity * P, 1);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int status = AKT_OK;
    if (failed || !atoms.W || !atoms.sign || !atoms.cell || !rng) {
        status = akt_error_set(err, AKT_ERR_MEMORY, "convex: out of memory (P = %zu, D = %zu)", P,
                               D);
        goto done;
    }
    gsl_rng_set(rng, seed);
    double primal = 0.0, m = 0.0, gap = 1.0;
    long iteration = 0;
    while (1) {
        primal = relu_primal(pb, &atoms, &wk);
        m = run_oracle(pb, wk.r, &atoms, rng, &os, &wk);
        gap = relative_gap(pb, wk.r, primal, m);
        if (gap < tolerance || iteration >= max_iterations)
            break;
        iteration++;
        for (int si = 0; si < 2; si++)
            for (size_t i = 0; i < os.n[si] && i < ADDED_PER_SIGN; i++)
                if (os.best[si][i].value > pb->tau)
                    add_atom(pb, &atoms, &os.best[si][i]);
        status = solve_restricted(pb, &atoms, INNER_GAP_FRACTION * tolerance, &wk, err);
        if (status != AKT_OK)
            goto done;
        prune_and_merge(pb, &atoms, &wk);
    }
    status = solution_set_atoms(solution, pb, &atoms, err);
    if (status != AKT_OK)
        goto done;
    solution->objective = primal;
    solution->oracle_max = m;
    solution->gap = gap;
    solution->iterations = iteration;
    solution->converged = gap < tolerance;
    if (!solution->converged)
        status = akt_error_set(err, AKT_ERR_NUMERIC,
                               "convex: relative duality gap %.3g after %ld iterations (tolerance "
                               "%.3g)", gap, iteration, tolerance);
done:
    gsl_rng_free(rng);
    free(atoms.W);
    free(atoms.sign);
    free(atoms.cell);
    workspace_free(&wk);
    oracle_free(&os);
    return status;
}

static int check_inputs(const double *X, const double *y, size_t P, size_t D,
                        akt_activation activation, double gamma, double lambda, double tolerance,
                        akt_error *err)
{
    if (activation != AKT_ACTIVATION_RELU && activation != AKT_ACTIVATION_LINEAR)
        return akt_error_set(err, AKT_ERR_INPUT,
                             "convex: activation %s is not positively homogeneous (relu or "
                             "linear only)", akt_activation_name(activation));
    if (!(gamma > 0.0) || !(lambda > 0.0))
        return akt_error_set(err, AKT_ERR_INPUT,
                             "convex: needs gamma > 0 and weight_decay > 0 (got %g, %g)", gamma,
                             lambda);
    if (!(tolerance > 0.0))
        return akt_error_set(err, AKT_ERR_INPUT, "convex: tolerance must be > 0 (got %g)",
                             tolerance);
    if (P == 0 || D == 0)
        return akt_error_set(err, AKT_ERR_INPUT, "convex: empty training set (P = %zu, D = %zu)",
                             P, D);
    for (size_t i = 0; i < P * D; i++)
        if (!isfinite(X[i]))
            return akt_error_set(err, AKT_ERR_INPUT, "convex: non-finite input x[%zu][%zu]",
                                 i / D, i % D);
    for (size_t mu = 0; mu < P; mu++)
        if (!isfinite(y[mu]))
            return akt_error_set(err, AKT_ERR_INPUT, "convex: non-finite label y[%zu]", mu);
    return AKT_OK;
}

int akt_convex_solve(const double *X, const double *y, size_t P, size_t D,
                     akt_activation activation, double gamma, double lambda, double tolerance,
                     unsigned long seed, long max_iterations, akt_convex_solution *solution,
                     akt_error *err)
{
    memset(solution, 0, sizeof(*solution));
    solution->D = D;
    solution->gap = NAN;
    solution->objective = NAN;
    solution->oracle_max = NAN;
    int status = check_inputs(X, y, P, D, activation, gamma, lambda, tolerance, err);
    if (status != AKT_OK)
        return status;
    problem pb = {X, y, P, D, 1.0 / sqrt((double)D), lambda / gamma, NULL};
    double *x_norm = malloc(P * sizeof(double));
    if (!x_norm)
        return akt_error_set(err, AKT_ERR_MEMORY, "convex: out of memory");
    for (size_t mu = 0; mu < P; mu++)
        x_norm[mu] = norm2(X + mu * D, D);
    pb.x_norm = x_norm;
    if (activation == AKT_ACTIVATION_LINEAR)
        status = solve_linear(&pb, gamma, lambda, tolerance, solution, err);
    else
        status = solve_relu(&pb, tolerance, seed, max_iterations, solution, err);
    free(x_norm);
    return status;
}
