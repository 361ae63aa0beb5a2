/* activation.h: phi and phi' of the network's activations, written once.
 *
 * The population integrator, the finite-width networks and the convex method all evaluate the
 * same functions; they take them from here so the three cannot drift apart. */
#ifndef AKT_ACTIVATION_H
#define AKT_ACTIVATION_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/core.h"

/* F[i] = phi(h[i]) and, when Fp is not NULL, Fp[i] = phi'(h[i]) for n values. F (or Fp) may
 * be h itself: each h[i] is read before F[i] and Fp[i] are written. relu' is 0 at 0. */
void akt_activation_apply(akt_activation activation, const double *h, double *F, double *Fp,
                          size_t n);

double akt_activation_value(akt_activation activation, double h);

/* relu and linear: phi(c h) = c phi(h) for c > 0 (the convex method's condition). */
bool akt_activation_positively_homogeneous(akt_activation activation);

#endif
