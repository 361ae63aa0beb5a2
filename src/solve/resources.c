/* resources.c: the memory a solve will need, estimated from its sizes before anything is built.
 *
 * Each estimate counts the doubles of the largest objects a method holds at once (its peak),
 * with the constant factors of the implementation, so that the refusal threshold means
 * something; small objects (O(P) or O(D) vectors) are ignored. Sizes: D the input dimension,
 * P1 and P2 the source and target training splits, M every point where outputs or h are
 * needed (all four splits), P = max(P1, P2). See resources.h for why this exists. */
#include "akt/resources.h"

#include <stdio.h>
#include <unistd.h>

#include "akt/solve.h"
#include "methods/common.h"

#define BYTES_PER_GIB (1024.0 * 1024.0 * 1024.0)

/* Finite networks: W, W_src, dW and the copies kept for the Euler-bias rerun (N x D each);
 * pre-activations, activations and derivatives on the training points (N x P each). */
#define FINITE_WEIGHT_COPIES 6.0
#define FINITE_ACTIVATION_COPIES 4.0

static double finite_gib(const akt_spec *spec, const akt_data *data, double N)
{
    method_sizes s = method_sizes_of(spec, data);
    double P = s.P1 > s.P2 ? s.P1 : s.P2;
    return (FINITE_WEIGHT_COPIES * N * s.D + FINITE_ACTIVATION_COPIES * N * P + 2.0 * P * P) *
           sizeof(double) / BYTES_PER_GIB;
}

/* The data themselves, when they are not built yet. */
static double data_gib(const akt_spec *spec, const akt_data *data)
{
    if (data)
        return 0.0;
    method_sizes s = method_sizes_of(spec, data);
    double M = s.P1 + s.P2 + s.test + s.source_test;
    return M * (s.D + 1.0) * sizeof(double) / BYTES_PER_GIB;
}

static double method_gib(const akt_spec *spec, const akt_data *data,
                         const akt_method_type *method)
{
    return method && method->memory_gib ? method->memory_gib(spec, data) : 0.0;
}

/* Without a method: the largest of the methods the spec's regimes resolve to (a regime no
 * method serves counts nothing here: the solve refuses it with its own message). */
static const akt_method_type *largest_method(const akt_spec *spec, const akt_data *data)
{
    const akt_method_type *largest = NULL;
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        const akt_method_type *method;
        if (!(r == AKT_REGIME_SOURCE || spec->target.regimes[r]) ||
            akt_method_resolve(spec, (akt_regime)r, &method, NULL) != AKT_OK)
            continue;
        if (!largest || method_gib(spec, data, method) > method_gib(spec, data, largest))
            largest = method;
    }
    return largest;
}

double akt_resources_estimate_gib(const akt_spec *spec, const akt_data *data,
                                  const akt_method_type *method, long width)
{
    if (width > 0)
        return finite_gib(spec, data, (double)width) + data_gib(spec, data);
    if (!method)
        method = largest_method(spec, data);
    return method_gib(spec, data, method) + data_gib(spec, data);
}

double akt_resources_physical_gib(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_size <= 0)
        return 0.0;
    return (double)pages * (double)page_size / BYTES_PER_GIB;
}

int akt_resources_check(const akt_spec *spec, const akt_data *data,
                        const akt_method_type *method, long width, akt_error *err)
{
    double physical = akt_resources_physical_gib();
    if (physical <= 0.0) /* unknown machine: nothing to compare with, let the solve try */
        return AKT_OK;
    double limit = AKT_RESOURCES_MEMORY_SHARE * physical;
    double estimate = akt_resources_estimate_gib(spec, data, method, width);
    if (estimate <= limit)
        return AKT_OK;
    char what[64] = "";
    if (width > 0)
        snprintf(what, sizeof what, "finite networks of width %ld", width);
    else if ((method = method ? method : largest_method(spec, data)) != NULL)
        snprintf(what, sizeof what, "method %s", method->name);
    return akt_error_set(err, AKT_ERR_INPUT,
                         "%s: this problem needs an estimated %.3g GiB of memory with %s "
                         "(D = %ld), more than %.0f%% of the machine's %.3g GiB (%.3g GiB); "
                         "reduce data.dim, the sample counts%s",
                         spec->file ? spec->file : "spec", estimate, what,
                         (long)(data ? (long)data->dim : spec->data.dim),
                         100.0 * AKT_RESOURCES_MEMORY_SHARE, physical, limit,
                         width > 0 ? " or the width" : " or solver.neurons");
}
