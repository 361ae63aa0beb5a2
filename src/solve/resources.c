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

#include "akt/population.h"

#define FASHION_MNIST_PIXELS 784.0
#define BYTES_PER_GIB (1024.0 * 1024.0 * 1024.0)

/* GSL's rk8pd stepper keeps 13 stage and error vectors of the state's size; the moment
 * solver adds the state, a copy of the start (to run a phase twice) and the derivative. */
#define EXACT_STATE_COPIES 16.0
/* Population estimate without data (coarse O(S (P + M))): the per-neuron vectors of
 * akt_population_memory_gib add up to about M + 26 P doubles for P = max(P1, P2). */
#define POPULATION_DOUBLES_PER_POINT 26.0
/* Finite networks: W, W_src, dW and the copies kept for the Euler-bias rerun (N x D each);
 * pre-activations, activations and derivatives on the training points (N x P each). */
#define FINITE_WEIGHT_COPIES 6.0
#define FINITE_ACTIVATION_COPIES 4.0

typedef struct {
    double D, P1, P2, test, source_test;
} problem_sizes;

static problem_sizes sizes_of(const akt_spec *spec, const akt_data *data)
{
    problem_sizes s = {0, 0, 0, 0, 0};
    if (data) {
        s.D = (double)data->dim;
        s.P1 = (double)data->source.rows;
        s.P2 = (double)data->target.rows;
        s.test = (double)data->test.rows;
        s.source_test = (double)data->source_test.rows;
    } else if (spec->data.task != AKT_TASK_CSV) {
        s.D = spec->data.task == AKT_TASK_FASHION_MNIST ? FASHION_MNIST_PIXELS : (double)spec->data.dim;
        s.P1 = (double)spec->data.source.samples;
        s.P2 = (double)spec->data.target.samples;
        s.test = (double)spec->data.test.samples;
        s.source_test = (double)spec->data.test.samples; /* the loader's rule (spec.h) */
    }
    return s;
}

/* Moment closure: the (1 + 2D)^2 state with the stepper's copies, the D x D Gram of the
 * closed-form fixed point (and its factorisation), and the readout kernels P x P, M x P. */
static double exact_doubles(const problem_sizes *s, double P, double M)
{
    double n = 1.0 + 2.0 * s->D;
    return EXACT_STATE_COPIES * n * n + 3.0 * s->D * s->D + P * P + M * P;
}

/* Lazy limit: NNGP and derivative kernels on the training points and on the queries, and the
 * eigendecomposition's copy and workspace. */
static double lazy_doubles(double P, double M)
{
    return 4.0 * P * P + 2.0 * M * P;
}

static double population_doubles(const akt_spec *spec, const akt_data *data,
                                 const problem_sizes *s, double P, double M)
{
    double S = (double)spec->solver.neurons;
    double sampling = S / 2.0 * s->D; /* w0, one row of D per antithetic pair, while sampling */
    if (data)
        return akt_population_memory_gib(data, (size_t)spec->solver.neurons) * BYTES_PER_GIB /
               sizeof(double) + sampling;
    return S * (M + POPULATION_DOUBLES_PER_POINT * P) + (s->P1 + s->P2) * M + 4.0 * P * P + sampling;
}

static double finite_doubles(const problem_sizes *s, double N, double P)
{
    return FINITE_WEIGHT_COPIES * N * s->D + FINITE_ACTIVATION_COPIES * N * P + 2.0 * P * P;
}

double akt_resources_estimate_gib(const akt_spec *spec, const akt_data *data, akt_method method,
                                  long width)
{
    problem_sizes s = sizes_of(spec, data);
    double P = s.P1 > s.P2 ? s.P1 : s.P2;
    double M = s.P1 + s.P2 + s.test + s.source_test;
    if (method == AKT_METHOD_AUTO)
        method = spec->network.activation == AKT_ACTIVATION_LINEAR ? AKT_METHOD_EXACT
                                                                   : AKT_METHOD_POPULATION;
    double doubles;
    if (width > 0)
        doubles = finite_doubles(&s, (double)width, P);
    else if (method == AKT_METHOD_EXACT)
        doubles = exact_doubles(&s, P, M);
    else if (method == AKT_METHOD_LAZY)
        doubles = lazy_doubles(P, M);
    else /* population, and convex (which samples neurons too): the population bound */
        doubles = population_doubles(spec, data, &s, P, M);
    if (!data)
        doubles += M * (s.D + 1.0); /* the data themselves, not built yet */
    return doubles * sizeof(double) / BYTES_PER_GIB;
}

double akt_resources_source_state_gib(const akt_spec *spec, const akt_data *data,
                                      akt_method method)
{
    problem_sizes s = sizes_of(spec, data);
    switch (method) {
    case AKT_METHOD_EXACT:
        return (spec->source.time == AKT_TIME_CONVERGE ? s.D : (1.0 + s.D) * (1.0 + s.D)) *
               sizeof(double) / BYTES_PER_GIB;
    case AKT_METHOD_POPULATION:
        return (double)spec->solver.replicas *
               akt_population_source_gib((size_t)spec->solver.neurons, (size_t)s.P1);
    case AKT_METHOD_CONVEX:
        return (s.P1 + 1.0) * (s.D + 1.0) * sizeof(double) / BYTES_PER_GIB;
    default:
        return 0.0;
    }
}

double akt_resources_physical_gib(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_size <= 0)
        return 0.0;
    return (double)pages * (double)page_size / BYTES_PER_GIB;
}

int akt_resources_check(const akt_spec *spec, const akt_data *data, akt_method method, long width,
                        akt_error *err)
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
    else
        snprintf(what, sizeof what, "method %s",
                 akt_method_name(method == AKT_METHOD_AUTO
                                     ? (spec->network.activation == AKT_ACTIVATION_LINEAR
                                            ? AKT_METHOD_EXACT : AKT_METHOD_POPULATION)
                                     : method));
    return akt_error_set(err, AKT_ERR_INPUT,
                         "%s: this problem needs an estimated %.3g GiB of memory with %s "
                         "(D = %ld), more than %.0f%% of the machine's %.3g GiB (%.3g GiB); "
                         "reduce data.dim, the sample counts%s",
                         spec->file ? spec->file : "spec", estimate, what,
                         (long)(data ? (long)data->dim : spec->data.dim),
                         100.0 * AKT_RESOURCES_MEMORY_SHARE, physical, limit,
                         width > 0 ? " or the width" : " or solver.neurons");
}
