/* util.h: the small helpers every layer of libakt uses, defined once (src/core/util.c).
 *
 * Internal to the library (not installed): a clock for the seconds of the output contract, the
 * one "out of memory" message, and the finiteness check of results. */
#ifndef AKT_CORE_UTIL_H
#define AKT_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/error.h"

/* Monotonic wall-clock seconds (CLOCK_MONOTONIC): differences are the "seconds" of results. */
double akt_now_seconds(void);

/* Sets AKT_ERR_MEMORY with "out of memory allocating <what>" and returns it. */
int akt_out_of_memory(akt_error *err, const char *what);

/* True when every one of the n values is finite (no NaN, no infinity). */
bool akt_all_finite(const double *values, size_t n);

/* Copies the upper triangle of the n x n row-major matrix A onto its lower one. */
void akt_symmetrize_upper(double *A, size_t n);

/* |value - reference| / |reference|. */
double akt_relative_change(double value, double reference);

#endif
