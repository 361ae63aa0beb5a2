/* util.c: the small helpers of util.h. */
#include "core/util.h"

#include <math.h>
#include <time.h>

double akt_now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int akt_out_of_memory(akt_error *err, const char *what)
{
    return akt_error_set(err, AKT_ERR_MEMORY, "out of memory allocating %s", what);
}

void akt_symmetrize_upper(double *A, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            A[i * n + j] = A[j * n + i];
}

double akt_relative_change(double value, double reference)
{
    return fabs(value - reference) / fabs(reference);
}

bool akt_all_finite(const double *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(values[i]))
            return false;
    return true;
}
