/* anderson.c: Anderson acceleration (type II) of a fixed-point iteration; see anderson.h.
 *
 * The least-squares problem min |f - dF gamma| has m <= a few columns of length n (n = S(P+1)
 * for a population): it is solved by its m x m normal equations, O(n m^2) to form (dgemv per
 * column) and O(m^3) to solve. Normal equations square the condition number; differences of
 * a converging iteration become nearly collinear, so the system is regularised by
 * ANDERSON_REGULARISATION times its largest diagonal entry (a relative shift of 1e-10 leaves
 * gamma accurate to about 1e-10 relative to its own size, far below what the safeguarded
 * iteration needs) and solved by Cholesky; a failed factorisation falls back to a plain step. */
#include "numerics/anderson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#define ANDERSON_REGULARISATION 1e-10

struct akt_anderson {
    size_t n, memory;
    size_t count, next;       /* differences held (<= memory) and the ring slot to fill next */
    double *dF, *dG;          /* memory x n: differences of f = G(x) - x and of G(x) */
    double *f_last, *g_last;  /* n: the previous iteration's f and G(x) */
    int have_last;
    double normal[64], rhs[8];
};

akt_anderson *akt_anderson_alloc(size_t n, size_t memory)
{
    if (n == 0 || memory == 0 || memory > 8)
        return NULL;
    akt_anderson *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->n = n;
    a->memory = memory;
    a->dF = malloc(memory * n * sizeof *a->dF);
    a->dG = malloc(memory * n * sizeof *a->dG);
    a->f_last = malloc(n * sizeof *a->f_last);
    a->g_last = malloc(n * sizeof *a->g_last);
    if (!a->dF || !a->dG || !a->f_last || !a->g_last) {
        akt_anderson_free(a);
        return NULL;
    }
    return a;
}

void akt_anderson_free(akt_anderson *anderson)
{
    if (!anderson)
        return;
    free(anderson->dF);
    free(anderson->dG);
    free(anderson->f_last);
    free(anderson->g_last);
    free(anderson);
}

void akt_anderson_reset(akt_anderson *anderson)
{
    anderson->count = 0;
    anderson->next = 0;
    anderson->have_last = 0;
}

/* Cholesky solve of the k x k system normal * gamma = rhs in place (rhs becomes gamma).
 * Returns 0 when the matrix is not numerically positive definite. */
static int cholesky_solve(double *normal, double *rhs, size_t k)
{
    for (size_t j = 0; j < k; j++) {
        double d = normal[j * k + j];
        for (size_t p = 0; p < j; p++)
            d -= normal[j * k + p] * normal[j * k + p];
        if (!(d > 0.0))
            return 0;
        d = sqrt(d);
        normal[j * k + j] = d;
        for (size_t i = j + 1; i < k; i++) {
            double s = normal[i * k + j];
            for (size_t p = 0; p < j; p++)
                s -= normal[i * k + p] * normal[j * k + p];
            normal[i * k + j] = s / d;
        }
    }
    for (size_t i = 0; i < k; i++) { /* L u = rhs */
        double s = rhs[i];
        for (size_t p = 0; p < i; p++)
            s -= normal[i * k + p] * rhs[p];
        rhs[i] = s / normal[i * k + i];
    }
    for (size_t i = k; i-- > 0;) { /* L' gamma = u */
        double s = rhs[i];
        for (size_t p = i + 1; p < k; p++)
            s -= normal[p * k + i] * rhs[p];
        rhs[i] = s / normal[i * k + i];
    }
    return 1;
}

/* Stores the differences of this iteration's f = g - x and g against the last ones. */
static void record(akt_anderson *a, const double *x, const double *g)
{
    size_t n = a->n;
    double *dF = a->dF + a->next * n, *dG = a->dG + a->next * n;
    for (size_t i = 0; i < n; i++) {
        double f = g[i] - x[i];
        if (a->have_last) {
            dF[i] = f - a->f_last[i];
            dG[i] = g[i] - a->g_last[i];
        }
        a->f_last[i] = f;
    }
    memcpy(a->g_last, g, n * sizeof *g);
    if (a->have_last) {
        a->next = (a->next + 1) % a->memory;
        if (a->count < a->memory)
            a->count++;
    }
    a->have_last = 1;
}

size_t akt_anderson_next(akt_anderson *anderson, const double *x, const double *g, double *next)
{
    akt_anderson *a = anderson;
    size_t n = a->n;
    record(a, x, g);
    size_t k = a->count;
    if (k == 0) {
        if (next != g)
            memcpy(next, g, n * sizeof *next);
        return 0;
    }
    /* normal = dF' dF, rhs = dF' f over the k held differences (ring order does not matter) */
    double largest = 0.0;
    for (size_t i = 0; i < k; i++) {
        const double *di = a->dF + i * n;
        for (size_t j = 0; j <= i; j++)
            a->normal[i * k + j] = a->normal[j * k + i] = cblas_ddot((int)n, di, 1,
                                                                     a->dF + j * n, 1);
        a->rhs[i] = cblas_ddot((int)n, di, 1, a->f_last, 1);
        largest = fmax(largest, a->normal[i * k + i]);
    }
    for (size_t i = 0; i < k; i++)
        a->normal[i * k + i] += ANDERSON_REGULARISATION * largest;
    if (!(largest > 0.0) || !cholesky_solve(a->normal, a->rhs, k)) {
        if (next != g)
            memcpy(next, g, n * sizeof *next);
        return 0;
    }
    /* next = g - dG gamma (g_last holds g: next may alias g or x) */
    if (next != a->g_last)
        memcpy(next, a->g_last, n * sizeof *next);
    for (size_t i = 0; i < k; i++)
        cblas_daxpy((int)n, -a->rhs[i], a->dG + i * n, 1, next, 1);
    return k;
}
