/* anderson.h: Anderson acceleration of a fixed-point iteration x <- G(x), for the population
 * solver's t -> infinity limit (issue 3: "integrate with acceleration (Anderson ...) near
 * stationarity"). Internal to the library: population.c and its tests use it.
 *
 * Type II Anderson mixing with a memory of m differences (Walker and Ni, SIAM J. Numer. Anal.
 * 49, 2011): with residuals f_k = G(x_k) - x_k and the last m differences dF, dG of f and G,
 *     gamma = argmin |f_k - dF gamma|,     x_{k+1} = G(x_k) - dG gamma.
 * On a linear contraction it is a Krylov method (GMRES-like); on a nonlinear map it needs a
 * safeguard, which is the caller's: akt_anderson_reset drops the history. The work space holds
 * 2 m + 2 vectors of n doubles, sized up front. */
#ifndef AKT_ANDERSON_H
#define AKT_ANDERSON_H

#include <stddef.h>

typedef struct akt_anderson akt_anderson;

/* NULL when out of memory (or n == 0, or memory outside 1..8). */
akt_anderson *akt_anderson_alloc(size_t n, size_t memory);
void akt_anderson_free(akt_anderson *anderson);

/* Forgets every earlier iterate: the next call to akt_anderson_next returns G(x) itself. */
void akt_anderson_reset(akt_anderson *anderson);

/* One iteration: x, the point the map started from, and g = G(x) (n doubles each) give the
 * next point into next (which may be g or x itself). Returns the number of differences used
 * (0: a plain step, the first after a reset or when the least-squares problem is singular). */
size_t akt_anderson_next(akt_anderson *anderson, const double *x, const double *g, double *next);

#endif
