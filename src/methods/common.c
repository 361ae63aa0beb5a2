/* common.c: the helpers of common.h, and the trajectory clock of method.h. */
#include "methods/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "akt/observables.h"
#include "core/util.h"

const akt_split *method_split(const akt_data *data, akt_points points)
{
    switch (points) {
    case AKT_POINTS_SOURCE_TRAIN: return &data->source;
    case AKT_POINTS_TARGET_TRAIN: return &data->target;
    case AKT_POINTS_TEST: return &data->test;
    default: return &data->source_test;
    }
}

double *method_stack_rows(const akt_split *a, const akt_split *b, size_t dim)
{
    size_t rows = a->rows + b->rows;
    double *out = malloc((rows ? rows : 1) * dim * sizeof *out);
    if (!out)
        return NULL;
    if (a->rows)
        memcpy(out, a->x, a->rows * dim * sizeof *out);
    if (b->rows)
        memcpy(out + a->rows * dim, b->x, b->rows * dim * sizeof *out);
    return out;
}

void method_set_losses(akt_result *result, const double *f, const akt_split *train,
                       const akt_split *test)
{
    result->train_loss = akt_mean_squared_error(f, train->y, train->rows);
    result->test_loss = akt_mean_squared_error(f + train->rows, test->y, test->rows);
}

#define FASHION_MNIST_PIXELS 784.0

method_sizes method_sizes_of(const akt_spec *spec, const akt_data *data)
{
    method_sizes s = {0, 0, 0, 0, 0};
    if (data) {
        s.D = (double)data->dim;
        s.P1 = (double)data->source.rows;
        s.P2 = (double)data->target.rows;
        s.test = (double)data->test.rows;
        s.source_test = (double)data->source_test.rows;
    } else if (spec->data.task != AKT_TASK_CSV) {
        s.D = spec->data.task == AKT_TASK_FASHION_MNIST ? FASHION_MNIST_PIXELS
                                                         : (double)spec->data.dim;
        s.P1 = (double)spec->data.source.samples;
        s.P2 = (double)spec->data.target.samples;
        s.test = (double)spec->data.test.samples;
        s.source_test = (double)spec->data.test.samples; /* the loader's rule (spec.h) */
    }
    return s;
}

const char *const method_source_keys[] = {
    "network.activation", "network.center", "network.hidden_scale", "network.readout_scale",
    "source.gamma", "source.weight_decay",
    "source.time", "solver.neurons", "solver.replicas", "solver.step_tolerance",
    "solver.tolerance", "solver.max_time", "solver.min_step", "seed", NULL,
};

double method_phase_time(const akt_spec *spec, akt_regime regime)
{
    return regime == AKT_REGIME_SOURCE || regime == AKT_REGIME_READOUT ? spec->source.time
                                                                         : spec->target.time;
}

/* The readout regime always converges, but its ridge is readout_decay: its source phase is
 * what matters. */
static bool converges_without_decay(const akt_spec *spec, akt_regime regime)
{
    bool source_phase = spec->source.time == AKT_TIME_CONVERGE && spec->source.weight_decay == 0;
    bool target_phase = spec->target.time == AKT_TIME_CONVERGE && spec->target.weight_decay == 0;
    switch (regime) {
    case AKT_REGIME_SOURCE:
    case AKT_REGIME_READOUT:
        return source_phase;
    case AKT_REGIME_SCRATCH:
        return target_phase;
    default:
        return source_phase || target_phase;
    }
}

int method_refuse_converge_without_decay(const akt_spec *spec, akt_regime regime, akt_error *err)
{
    if (!converges_without_decay(spec, regime))
        return AKT_OK;
    return akt_error_set(err, AKT_ERR_INPUT,
                         "regime %s: time converge with weight_decay 0: the t -> infinity state "
                         "then depends on the whole path (no fixed point to certify); give a "
                         "finite time, or use method lazy for the kernel limit",
                         akt_regime_name(regime));
}

/* ---- the trajectory clock (method.h) ---------------------------------------------------------- */

void akt_trajectory_clock_start(akt_trajectory_clock *clock, double horizon)
{
    double first = fmin(1e-2, 1e-3 * horizon);
    clock->next = first;
    clock->ratio = pow(horizon / first, 1.0 / (AKT_TRAJECTORY_GRID - 1));
}

bool akt_trajectory_clock_due(akt_trajectory_clock *clock, double t)
{
    /* The last grid time is the horizon up to round-off of the powers: a relative slack of
     * 1e-12 lets the step that lands on the horizon count. */
    if (t < clock->next * (1.0 - 1e-12))
        return false;
    while (clock->next * (1.0 - 1e-12) <= t)
        clock->next *= clock->ratio;
    return true;
}

/* ---- observer hooks ---------------------------------------------------------------------------- */

bool method_wants_kernels(const akt_observer *o, akt_regime regime)
{
    return o && o->wants_kernels && o->wants_kernels(o->context, regime);
}

double *method_kernel_points(const akt_observer *o, const akt_data *data, akt_regime regime,
                             bool splits[AKT_POINTS_COUNT], size_t *M, akt_error *err)
{
    o->kernel_splits(o->context, regime, splits, M);
    size_t D = data->dim, at = 0;
    double *points = malloc((*M ? *M : 1) * D * sizeof *points);
    if (!points) {
        akt_out_of_memory(err, "the kernel points");
        return NULL;
    }
    for (int s = 0; s < AKT_POINTS_COUNT; s++) {
        const akt_split *split = method_split(data, (akt_points)s);
        if (!splits[s])
            continue;
        if (split->rows)
            memcpy(points + at * D, split->x, split->rows * D * sizeof *points);
        at += split->rows;
    }
    return points;
}

int method_add_kernels(const akt_observer *o, akt_regime regime, const double *Phi,
                       const double *G, akt_error *err)
{
    return o && o->add_kernels ? o->add_kernels(o->context, regime, Phi, G, err) : AKT_OK;
}

bool method_wants_trajectory(const akt_observer *o, akt_regime regime)
{
    return o && o->wants_trajectory && o->wants_trajectory(o->context, regime);
}

int method_add_losses(const akt_observer *o, akt_regime regime, unsigned long replica, double t,
                      double train_loss, double test_loss, const double *observables,
                      akt_error *err)
{
    return o && o->add_losses
               ? o->add_losses(o->context, regime, replica, t, train_loss, test_loss,
                               observables, err)
               : AKT_OK;
}

int method_step(const akt_observer *o, akt_regime regime, size_t replica, double t,
                double horizon, long steps, akt_error *err)
{
    return o && o->step ? o->step(o->context, regime, replica, t, horizon, steps, err) : AKT_OK;
}

/* ---- observables -------------------------------------------------------------------------------- */

void method_regime_points(akt_regime regime, akt_points *train, akt_points *test)
{
    bool source = regime == AKT_REGIME_SOURCE;
    *train = source ? AKT_POINTS_SOURCE_TRAIN : AKT_POINTS_TARGET_TRAIN;
    *test = source ? AKT_POINTS_SOURCE_TEST : AKT_POINTS_TEST;
}

method_observed_splits method_observed_splits_of(const akt_data *data, akt_regime regime)
{
    akt_points train, test;
    method_regime_points(regime, &train, &test);
    method_observed_splits o = {.train_points = train, .test_points = test,
                                .train = method_split(data, train), .test = method_split(data, test)};
    o.train_measured = o.train->rows <= AKT_OBSERVABLES_MAX_POINTS;
    o.test_measured = o.test->rows <= AKT_OBSERVABLES_MAX_POINTS;
    o.train_rows = o.train_measured ? o.train->rows : 0;
    o.test_rows = o.test_measured ? o.test->rows : 0;
    return o;
}

/* The Gram kernel of a point set (n x n, malloc'd), or NULL with the error set. */
static double *split_gram(const akt_data *data, akt_points points, akt_error *err)
{
    const akt_split *split = method_split(data, points);
    size_t n = split->rows;
    double *C = malloc((n ? n * n : 1) * sizeof *C);
    if (!C) {
        akt_out_of_memory(err, "the Gram kernel");
        return NULL;
    }
    int status = n ? akt_gram(split->x, n, split->x, n, data->dim, C) : AKT_OK;
    if (status != AKT_OK) { /* sizes beyond BLAS's int: not a memory failure */
        free(C);
        akt_error_set(err, status, "the Gram kernel of %zu points in dimension %zu", n,
                      data->dim);
        return NULL;
    }
    return C;
}

int method_ntk(const akt_data *data, akt_points points, const double *Phi, const double *G,
               double *K, akt_error *err)
{
    double *C = split_gram(data, points, err);
    if (!C)
        return err ? err->status : AKT_ERR_MEMORY;
    akt_ntk_kernel(Phi, G, C, method_split(data, points)->rows, K);
    free(C);
    return AKT_OK;
}

int method_kernel_observables(const akt_data *data, akt_regime regime, const double *Phi_train,
                              const double *G_train, const double *Phi_test,
                              const double *G_test, const double *ntk_start,
                              const double *source_phi,
                              double observables[AKT_OBSERVABLE_COUNT], akt_error *err)
{
    akt_points train, test;
    method_regime_points(regime, &train, &test);
    const akt_split *train_split = method_split(data, train), *test_split = method_split(data, test);
    /* A split without kernels needs no Gram kernel. */
    double *C_train = Phi_train ? split_gram(data, train, err) : NULL;
    double *C_test = Phi_test && (C_train || !Phi_train) ? split_gram(data, test, err) : NULL;
    int status = (C_train || !Phi_train) && (C_test || !Phi_test)
                     ? AKT_OK : (err ? err->status : AKT_ERR_MEMORY);
    if (status == AKT_OK) {
        akt_regime_kernels kernels = {
            .Phi_train = Phi_train, .G_train = G_train, .C_train = C_train,
            .Phi_test = Phi_test, .G_test = G_test, .C_test = C_test,
            .y_train = train_split->y, .y_test = test_split->y,
            .n_train = train_split->rows, .n_test = test_split->rows,
            .ntk_start = ntk_start,
            .source_phi = regime == AKT_REGIME_SOURCE ? NULL : source_phi};
        status = akt_observables_from_kernels(&kernels, observables, err);
    }
    free(C_train);
    free(C_test);
    return status;
}
