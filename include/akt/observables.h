/* observables.h: the kernel observables of README "Observables", from kernels on arrays.
 *
 * Every method (theory or finite network) hands its kernels to these functions, so a value
 * means the same thing whoever computed it. Kernels are n x n row-major, symmetric. */
#ifndef AKT_OBSERVABLES_H
#define AKT_OBSERVABLES_H

#include <stddef.h>

#include "akt/core.h"

/* The kernel observables of a split need a few n x n kernels: splits of more points are not
 * measured (their observables stay NAN), so that a large test set costs no O(n^2) memory. */
#define AKT_OBSERVABLES_MAX_POINTS 4096

/* Kernel-target alignment y'Ky / (|K|_F |y|^2) (Cristianini et al. 2002; uncentred), in
 * [-1, 1]; NAN when K or y is zero or n = 0. */
double akt_kernel_target_alignment(const double *K, const double *y, size_t n);

/* Centred kernel alignment <HAH, HBH>_F / (|HAH|_F |HBH|_F), H = I - 11'/n (Kornblith et al.
 * 2019); NAN when either centred kernel is zero. */
double akt_centered_kernel_alignment(const double *A, const double *B, size_t n);

/* |K_end - K_start|_F / |K_start|_F; NAN when K_start is zero. */
double akt_kernel_relative_change(const double *K_end, const double *K_start, size_t n);

/* The adapted NTK K = Phi + G * C (elementwise; THEORY.md section 2) into K (may be Phi). */
void akt_ntk_kernel(const double *Phi, const double *G, const double *C, size_t n, double *K);

/* The kernels of one regime's final state that its observables need (NULL: not available,
 * the observables that need it are left as they are). Splits: the regime's training split
 * (n_train points, labels y_train) and test split (n_test, y_test). */
typedef struct {
    const double *Phi_train, *G_train, *C_train;   /* n_train x n_train */
    const double *Phi_test, *G_test, *C_test;      /* n_test x n_test */
    const double *y_train, *y_test;
    size_t n_train, n_test;
    const double *ntk_start;                       /* the NTK the phase started from, train */
    const double *source_phi;                      /* Phi_s on the target training points */
} akt_regime_kernels;

/* Fills the kernel observables (alignments, retention, feature learning) of observables[] from
 * the kernels given; AKT_ERR_MEMORY when a scratch NTK cannot be allocated. */
int akt_observables_from_kernels(const akt_regime_kernels *kernels,
                                 double observables[AKT_OBSERVABLE_COUNT], akt_error *err);

/* Every observable NAN (nothing measured yet). */
void akt_observables_clear(double observables[AKT_OBSERVABLE_COUNT]);

#endif
