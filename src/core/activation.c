/* activation.c: phi and phi' (activation.h). One loop per activation, so the switch is not
 * paid per value in the integrators' hot loops. */
#include "akt/activation.h"

#include <math.h>

/* 2 / sqrt(pi): erf'(h) = (2 / sqrt(pi)) e^{-h^2}. */
#define TWO_OVER_SQRT_PI 1.12837916709551257390

void akt_activation_apply(akt_activation activation, const double *h, double *F, double *Fp,
                          size_t n)
{
    switch (activation) {
    case AKT_ACTIVATION_RELU:
        for (size_t i = 0; i < n; i++) {
            double x = h[i];
            F[i] = x > 0.0 ? x : 0.0;
            if (Fp)
                Fp[i] = x > 0.0 ? 1.0 : 0.0;
        }
        break;
    case AKT_ACTIVATION_TANH:
        for (size_t i = 0; i < n; i++) {
            double t = tanh(h[i]);
            F[i] = t;
            if (Fp)
                Fp[i] = 1.0 - t * t;
        }
        break;
    case AKT_ACTIVATION_ERF:
        for (size_t i = 0; i < n; i++) {
            double x = h[i];
            F[i] = erf(x);
            if (Fp)
                Fp[i] = TWO_OVER_SQRT_PI * exp(-x * x);
        }
        break;
    case AKT_ACTIVATION_LINEAR:
        for (size_t i = 0; i < n; i++) {
            F[i] = h[i];
            if (Fp)
                Fp[i] = 1.0;
        }
        break;
    }
}

double akt_activation_value(akt_activation activation, double h)
{
    double F;
    akt_activation_apply(activation, &h, &F, NULL, 1);
    return F;
}

bool akt_activation_positively_homogeneous(akt_activation activation)
{
    return activation == AKT_ACTIVATION_RELU || activation == AKT_ACTIVATION_LINEAR;
}
