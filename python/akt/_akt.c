/* _akt.c: the CPython extension under the Python package akt (python/akt/__init__.py).
 *
 * A thin layer over the public C API (include/akt/): each function loads a spec (a YAML text or
 * a file, with --set style overrides), builds the data (or takes the caller's numpy arrays),
 * runs the library with the GIL released, and returns plain Python values (dicts, lists,
 * floats, numpy arrays). The numbers are the library's doubles, so they equal what
 * `akt solve --json` prints (17 significant digits) bit for bit.
 *
 * The solver's progress hook (or the hooks of an akt_observer when kernels or trajectories are
 * wanted) takes the GIL back a few times a second to run pending signal handlers (Ctrl-C: the
 * handler raises KeyboardInterrupt, the hook returns AKT_ERR_INTERRUPTED and the solve stops at
 * that step) and the caller's progress callable. An exception raised there is kept and raised
 * again once the solve has returned. Library errors become akt.InputError / akt.NumericError
 * (subclasses of akt.Error) with the library's message. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "akt/compare.h"
#include "akt/data.h"
#include "akt/error.h"
#include "akt/method.h"
#include "akt/report.h"
#include "akt/solve.h"
#include "akt/spec.h"
#include "akt/sweep.h"

static PyObject *Error, *InputError, *NumericError;

/* ---- errors ---------------------------------------------------------------------------------- */

/* Sets the Python exception for a library failure and returns NULL. An exception already set
 * (KeyboardInterrupt, or one from the caller's progress callable) is kept. */
static PyObject *raise_akt(const akt_error *err)
{
    if (PyErr_Occurred())
        return NULL;
    switch (err->status) {
    case AKT_ERR_INPUT: PyErr_SetString(InputError, err->message); break;
    case AKT_ERR_NUMERIC: PyErr_SetString(NumericError, err->message); break;
    case AKT_ERR_MEMORY: PyErr_SetString(PyExc_MemoryError, err->message); break;
    case AKT_ERR_IO: PyErr_SetString(PyExc_OSError, err->message); break;
    case AKT_ERR_INTERRUPTED: PyErr_SetString(PyExc_KeyboardInterrupt, err->message); break;
    default: PyErr_SetString(Error, err->message); break;
    }
    return NULL;
}

/* ---- specs ----------------------------------------------------------------------------------- */

/* The arguments every function starts with: text (YAML or a path), is_path, name (for
 * messages), directory (for relative paths), overrides (a list of "key=value" strings). */
typedef struct {
    const char *text, *name, *directory;
    int is_path;
    PyObject *overrides;
} spec_source;

/* Loads and validates the spec and checks solver.method; AKT_OK, or a Python exception set. */
static int load_spec(const spec_source *source, akt_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    if (!PyList_Check(source->overrides)) {
        PyErr_SetString(PyExc_TypeError, "overrides must be a list of 'key=value' strings");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(source->overrides);
    const char **overrides = malloc((size_t)(n ? n : 1) * sizeof *overrides);
    if (!overrides) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        overrides[i] = PyUnicode_AsUTF8(PyList_GET_ITEM(source->overrides, i));
        if (!overrides[i]) {
            free(overrides);
            return -1;
        }
    }
    akt_error err = {0};
    int status = source->is_path
                     ? akt_spec_load(spec, source->text, overrides, (size_t)n, &err)
                     : akt_spec_load_string(spec, source->text, source->name, source->directory,
                                            overrides, (size_t)n, &err);
    free(overrides);
    if (status == AKT_OK)
        status = akt_method_check_name(spec, &err);
    if (status != AKT_OK) {
        akt_spec_free(spec);
        raise_akt(&err);
        return -1;
    }
    return 0;
}

/* akt_data_load with the GIL released; 0 or -1 with an exception set. */
static int load_data(const akt_spec *spec, akt_data *data)
{
    akt_error err = {0};
    int status;
    memset(data, 0, sizeof *data);
    Py_BEGIN_ALLOW_THREADS
    status = akt_data_load(data, spec, &err);
    Py_END_ALLOW_THREADS
    if (status != AKT_OK) {
        raise_akt(&err);
        return -1;
    }
    return 0;
}

/* The spec as a JSON text (Python str), as in the "spec" field of akt solve --json. */
static PyObject *spec_json(const akt_spec *spec)
{
    char *json = akt_spec_to_json(spec);
    if (!json)
        return PyErr_NoMemory();
    PyObject *text = PyUnicode_FromString(json);
    free(json);
    return text;
}

#define SPEC_KEYWORDS "text", "is_path", "name", "directory", "overrides"
#define SPEC_FORMAT "spssO!"
#define SPEC_ARGS(s) &(s).text, &(s).is_path, &(s).name, &(s).directory, &PyList_Type, \
                     &(s).overrides

/* ---- Python values of results ---------------------------------------------------------------- */

/* A double as the JSON contract has it: null (None) for NaN and Inf. */
static PyObject *number(double value)
{
    if (!isfinite(value))
        Py_RETURN_NONE;
    return PyFloat_FromDouble(value);
}

/* Sets key to value in dict and releases value; -1 if value is NULL or the insertion fails. */
static int put(PyObject *dict, const char *key, PyObject *value)
{
    if (!value)
        return -1;
    int status = PyDict_SetItemString(dict, key, value);
    Py_DECREF(value);
    return status;
}

static PyObject *stable_value(akt_stability stable)
{
    if (stable == AKT_STABLE_UNTESTED)
        Py_RETURN_NONE;
    return PyBool_FromLong(stable == AKT_STABLE_YES);
}

/* {name: value or None} in akt_observable order, as akt solve --json's "observables". */
static PyObject *observables_dict(const double *values)
{
    PyObject *d = PyDict_New();
    for (int k = 0; d && k < AKT_OBSERVABLE_COUNT; k++)
        if (put(d, akt_observable_name((akt_observable)k), number(values[k])) < 0)
            Py_CLEAR(d);
    return d;
}

/* One result with the fields of the output contract (akt_report_json). */
static PyObject *result_dict(const akt_solution *solution, const akt_result *r)
{
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    if (put(d, "regime", PyUnicode_FromString(akt_regime_name(r->regime))) ||
        put(d, "test_loss", number(r->test_loss)) ||
        put(d, "train_loss", number(r->train_loss)) ||
        put(d, "mc_error", number(r->mc_error)) ||
        put(d, "converged", PyBool_FromLong(r->converged)) ||
        put(d, "method", PyUnicode_FromString(r->method ? r->method : "")) ||
        put(d, "iterations", PyLong_FromLong(r->iterations)) ||
        put(d, "seconds", number(r->seconds)) ||
        put(d, "residual", number(r->residual)) ||
        put(d, "stable", stable_value(r->stable)) ||
        put(d, "transfer_benefit", number(akt_report_transfer_benefit(solution, r))) ||
        put(d, "integration_error", number(r->integration_error)) ||
        put(d, "bias", number(r->bias)) ||
        put(d, "error", number(r->error)) ||
        put(d, "test_loss_corrected", number(akt_report_corrected_loss(r))) ||
        put(d, "observables", observables_dict(r->observables)) ||
        put(d, "observable_errors", observables_dict(r->observable_errors))) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

/* A new float64 array of the given shape holding a copy of values. */
static PyObject *array_copy(int nd, const npy_intp *dims, const double *values)
{
    PyObject *a = PyArray_SimpleNew(nd, (npy_intp *)dims, NPY_DOUBLE);
    if (!a)
        return NULL;
    size_t n = (size_t)PyArray_SIZE((PyArrayObject *)a);
    if (n)
        memcpy(PyArray_DATA((PyArrayObject *)a), values, n * sizeof(double));
    return a;
}

/* ---- watching a solve: interrupts, progress, kernels, trajectories ----------------------------- */

/* How often (seconds) a solving thread takes the GIL to run signal handlers and the progress
 * callable: a Ctrl-C is seen within this time plus one step. */
#define CHECK_INTERVAL 0.05

/* Values kept per trajectory row (see watch.rows). */
#define TRAJECTORY_WIDTH (5 + AKT_OBSERVABLE_COUNT)

typedef struct {
    PyObject *progress;              /* the caller's callable or NULL (borrowed) */
    PyObject *exc_type, *exc_value, *exc_traceback;  /* the first exception raised in a hook */
    int stopped;                     /* a hook failed: every later step stops too */
    const akt_spec *spec;
    const akt_data *data;
    akt_solver *solver;
    /* kernels: the regimes that want them, the splits they are taken on, their size M, and
     * every estimate (M x M each, symmetrised) */
    bool kernels[AKT_REGIME_COUNT];
    bool splits[AKT_POINTS_COUNT];
    size_t M;
    double *phi[AKT_REGIME_COUNT], *g[AKT_REGIME_COUNT];
    size_t estimates[AKT_REGIME_COUNT], capacity[AKT_REGIME_COUNT];
    /* trajectory rows of TRAJECTORY_WIDTH: regime, replica, t, train_loss, test_loss, then the
     * observables (NAN where not measured) */
    bool trajectory;
    double *rows;
    size_t row_count, row_capacity;
} watch;

static void watch_free(watch *w)
{
    for (int r = 0; r < AKT_REGIME_COUNT; r++) {
        free(w->phi[r]);
        free(w->g[r]);
    }
    free(w->rows);
    Py_XDECREF(w->exc_type);
    Py_XDECREF(w->exc_value);
    Py_XDECREF(w->exc_traceback);
}

static double monotonic_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* When this thread last took the GIL in a hook (each solving thread keeps its own clock). */
static _Thread_local double last_check;

static size_t regime_replicas(const watch *w, akt_regime regime)
{
    const akt_method_type *method = w->solver ? akt_solver_method(w->solver, regime) : NULL;
    return method && method->replicas ? method->replicas(w->spec) : 1;
}

/* Every step of every time-stepped phase (from the solving threads, one at a time). */
static int watch_step(watch *w, akt_regime regime, size_t replica, size_t replicas, double t,
                      double horizon, long steps, akt_error *err)
{
    if (w->stopped)
        return akt_error_set(err, AKT_ERR_INTERRUPTED, "interrupted at t = %g of %g", t, horizon);
    double now = monotonic_seconds();
    if (now - last_check < CHECK_INTERVAL)
        return AKT_OK;
    last_check = now;
    PyGILState_STATE gil = PyGILState_Ensure();
    int failed = PyErr_CheckSignals() < 0;
    if (!failed && w->progress) {
        PyObject *r = PyObject_CallFunction(w->progress, "snnddl", akt_regime_name(regime),
                                            (Py_ssize_t)replica, (Py_ssize_t)replicas, t,
                                            horizon, steps);
        failed = r == NULL;
        Py_XDECREF(r);
    }
    if (failed) {
        w->stopped = 1;
        if (!w->exc_type)
            PyErr_Fetch(&w->exc_type, &w->exc_value, &w->exc_traceback);
        else
            PyErr_Clear();
    }
    PyGILState_Release(gil);
    return failed ? akt_error_set(err, AKT_ERR_INTERRUPTED, "interrupted at t = %g of %g", t,
                                  horizon)
                  : AKT_OK;
}

static int progress_hook(void *context, akt_regime regime, size_t replica, size_t replicas,
                         double t, double horizon, long steps, akt_error *err)
{
    return watch_step(context, regime, replica, replicas, t, horizon, steps, err);
}

static int observer_step(void *context, akt_regime regime, size_t replica, double t,
                         double horizon, long steps, akt_error *err)
{
    watch *w = context;
    return watch_step(w, regime, replica, regime_replicas(w, regime), t, horizon, steps, err);
}

static bool observer_wants_kernels(void *context, akt_regime regime)
{
    const watch *w = context;
    /* the readout regime's kernel is the source's (frozen features): kept from the source */
    return w->kernels[regime] || (regime == AKT_REGIME_SOURCE && w->kernels[AKT_REGIME_READOUT]);
}

static void observer_kernel_splits(void *context, akt_regime regime,
                                   bool splits[AKT_POINTS_COUNT], size_t *M)
{
    const watch *w = context;
    (void)regime;
    memcpy(splits, w->splits, sizeof w->splits);
    *M = w->M;
}

static int observer_add_kernels(void *context, akt_regime regime, const double *Phi,
                                const double *G, akt_error *err)
{
    watch *w = context;
    size_t M = w->M, n = M * M;
    if (w->estimates[regime] == w->capacity[regime]) {
        size_t capacity = w->capacity[regime] ? 2 * w->capacity[regime] : 4;
        double *phi = realloc(w->phi[regime], (n ? capacity * n : 1) * sizeof *phi);
        if (!phi)
            return akt_error_set(err, AKT_ERR_MEMORY, "out of memory keeping the kernels");
        w->phi[regime] = phi;
        double *g = realloc(w->g[regime], (n ? capacity * n : 1) * sizeof *g);
        if (!g)
            return akt_error_set(err, AKT_ERR_MEMORY, "out of memory keeping the kernels");
        w->g[regime] = g;
        w->capacity[regime] = capacity;
    }
    double *phi = w->phi[regime] + w->estimates[regime] * n;
    double *g = w->g[regime] + w->estimates[regime] * n;
    for (size_t i = 0; i < M; i++)         /* (A + A')/2, as the kernel files hold them */
        for (size_t j = 0; j < M; j++) {
            phi[i * M + j] = i == j ? Phi[i * M + i] : 0.5 * (Phi[i * M + j] + Phi[j * M + i]);
            g[i * M + j] = i == j ? G[i * M + i] : 0.5 * (G[i * M + j] + G[j * M + i]);
        }
    w->estimates[regime]++;
    return AKT_OK;
}

static bool observer_wants_trajectory(void *context, akt_regime regime)
{
    const watch *w = context;
    (void)regime;
    return w->trajectory;
}

static int observer_add_losses(void *context, akt_regime regime, unsigned long replica, double t,
                               double train_loss, double test_loss, const double *observables,
                               akt_error *err)
{
    watch *w = context;
    if (w->row_count == w->row_capacity) {
        size_t capacity = w->row_capacity ? 2 * w->row_capacity : 256;
        double *rows = realloc(w->rows, capacity * TRAJECTORY_WIDTH * sizeof *rows);
        if (!rows)
            return akt_error_set(err, AKT_ERR_MEMORY, "out of memory keeping the trajectory");
        w->rows = rows;
        w->row_capacity = capacity;
    }
    double *row = w->rows + TRAJECTORY_WIDTH * w->row_count++;
    row[0] = (double)regime;
    row[1] = (double)replica;
    row[2] = t;
    row[3] = train_loss;
    row[4] = test_loss;
    for (int k = 0; k < AKT_OBSERVABLE_COUNT; k++)
        row[5 + k] = observables ? observables[k] : NAN;
    return AKT_OK;
}

/* The kernels of a regime as {"splits": [...], "Phi": (R, M, M), "G": (R, M, M) or None}. */
static PyObject *kernels_dict(const watch *w, akt_regime regime)
{
    akt_regime from = regime == AKT_REGIME_READOUT ? AKT_REGIME_SOURCE : regime;
    npy_intp dims[3] = {(npy_intp)w->estimates[from], (npy_intp)w->M, (npy_intp)w->M};
    PyObject *d = PyDict_New(), *splits = PyList_New(0);
    int failed = !d || !splits;
    for (int s = 0; !failed && s < AKT_POINTS_COUNT; s++)
        if (w->splits[s]) {
            PyObject *name = PyUnicode_FromString(akt_split_name(s));
            failed = !name || PyList_Append(splits, name) < 0;
            Py_XDECREF(name);
        }
    if (!failed) {
        failed = PyDict_SetItemString(d, "splits", splits) < 0 ||
                 put(d, "Phi", array_copy(3, dims, w->phi[from])) < 0;
        if (!failed && regime == AKT_REGIME_READOUT)
            failed = PyDict_SetItemString(d, "G", Py_None) < 0;
        else if (!failed)
            failed = put(d, "G", array_copy(3, dims, w->g[from])) < 0;
    }
    Py_XDECREF(splits);
    if (failed) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

/* A regime's trajectory rows as an (n, TRAJECTORY_WIDTH - 1) array: replica, t, train_loss,
 * test_loss, then the observables in akt_observable order (NaN where not measured). */
static PyObject *trajectory_array(const watch *w, akt_regime regime)
{
    size_t n = 0, width = TRAJECTORY_WIDTH - 1;
    for (size_t i = 0; i < w->row_count; i++)
        n += w->rows[TRAJECTORY_WIDTH * i] == (double)regime;
    npy_intp dims[2] = {(npy_intp)n, (npy_intp)width};
    PyObject *a = PyArray_SimpleNew(2, dims, NPY_DOUBLE);
    if (!a)
        return NULL;
    double *out = PyArray_DATA((PyArrayObject *)a);
    for (size_t i = 0; i < w->row_count; i++)
        if (w->rows[TRAJECTORY_WIDTH * i] == (double)regime) {
            memcpy(out, w->rows + TRAJECTORY_WIDTH * i + 1, width * sizeof *out);
            out += width;
        }
    return a;
}

/* ---- data from numpy arrays ------------------------------------------------------------------ */

/* Copies one (X, y) pair into a split; X must be 2-D, y 1-D with as many rows (the Python
 * layer has converted both to C-contiguous float64). */
static int split_from_arrays(akt_split *split, PyObject *pair, const char *name)
{
    PyArrayObject *X = NULL, *y = NULL;
    if (!PyArg_ParseTuple(pair, "O!O!", &PyArray_Type, &X, &PyArray_Type, &y))
        return -1;
    if (PyArray_NDIM(X) != 2 || PyArray_NDIM(y) != 1 || PyArray_TYPE(X) != NPY_DOUBLE ||
        PyArray_TYPE(y) != NPY_DOUBLE || !PyArray_IS_C_CONTIGUOUS(X) ||
        !PyArray_IS_C_CONTIGUOUS(y) || PyArray_DIM(X, 0) != PyArray_DIM(y, 0)) {
        PyErr_Format(InputError, "data.%s: expected X (rows x D) and y (rows) as contiguous "
                     "float64 arrays with as many rows", name);
        return -1;
    }
    akt_error err = {0};
    if (akt_split_alloc(split, (size_t)PyArray_DIM(X, 0), (size_t)PyArray_DIM(X, 1), &err)) {
        raise_akt(&err);
        return -1;
    }
    size_t rows = split->rows, cols = split->cols;
    if (rows > 0 && cols > 0)
        memcpy(split->x, PyArray_DATA(X), rows * cols * sizeof(double));
    if (rows)
        memcpy(split->y, PyArray_DATA(y), rows * sizeof(double));
    return 0;
}

static bool all_finite(const double *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(values[i]))
            return false;
    return true;
}

/* akt_data from a dict {"source": (X, y), "target": ..., "test": ..., "source_test": ...}
 * (source_test optional); the alignment is measured as for csv tasks. */
static int data_from_arrays(akt_data *data, PyObject *dict)
{
    akt_split *splits[AKT_POINTS_COUNT] = {&data->source, &data->target, &data->test,
                                           &data->source_test};
    memset(data, 0, sizeof *data);
    for (int s = 0; s < AKT_POINTS_COUNT; s++) {
        PyObject *pair = PyDict_GetItemString(dict, akt_split_name(s));
        if (!pair && s == AKT_POINTS_SOURCE_TEST)
            continue;
        if (!pair) {
            PyErr_Format(InputError, "data: the split %s is missing", akt_split_name(s));
            return -1;
        }
        if (split_from_arrays(splits[s], pair, akt_split_name(s)) < 0)
            return -1;
        if (splits[s]->cols != data->source.cols) {
            PyErr_Format(InputError, "data.%s has %zu columns but data.source has %zu: all "
                         "splits need the same width D", akt_split_name(s), splits[s]->cols,
                         data->source.cols);
            return -1;
        }
        if (splits[s]->rows == 0 && s != AKT_POINTS_SOURCE_TEST) {
            PyErr_Format(InputError, "data.%s has no rows", akt_split_name(s));
            return -1;
        }
    }
    for (int s = 0; s < AKT_POINTS_COUNT; s++)
        if (!all_finite(splits[s]->x, splits[s]->rows * splits[s]->cols) ||
            !all_finite(splits[s]->y, splits[s]->rows)) {
            PyErr_Format(InputError, "data.%s holds NaN or Inf", akt_split_name(s));
            return -1;
        }
    data->dim = data->source.cols;
    akt_error err = {0};
    if (akt_data_fit_alignment(&data->source, &data->target, &data->alignment, &err)) {
        raise_akt(&err);
        return -1;
    }
    return 0;
}

/* ---- solve ----------------------------------------------------------------------------------- */

/* The solution as {"results": [...], "alignment": x, "spec": json}, with each wanted regime's
 * kernels and trajectory in its result. */
static PyObject *solution_dict(const akt_spec *spec, const akt_data *data,
                               const akt_solution *solution, const watch *w, int observed)
{
    PyObject *out = PyDict_New(), *results = PyList_New(0);
    int failed = !out || !results;
    for (size_t i = 0; !failed && i < solution->count; i++) {
        const akt_result *r = &solution->results[i];
        PyObject *d = result_dict(solution, r);
        failed = !d;
        if (!failed && observed && w->kernels[r->regime])
            failed = put(d, "kernels", kernels_dict(w, r->regime)) < 0;
        if (!failed && observed && w->trajectory)
            failed = put(d, "trajectory", trajectory_array(w, r->regime)) < 0;
        if (!failed)
            failed = PyList_Append(results, d) < 0;
        Py_XDECREF(d);
    }
    if (!failed)
        failed = PyDict_SetItemString(out, "results", results) < 0 ||
                 put(out, "alignment", number(data->alignment)) < 0 ||
                 put(out, "spec", spec_json(spec)) < 0;
    Py_XDECREF(results);
    if (failed) {
        Py_XDECREF(out);
        return NULL;
    }
    return out;
}

static PyObject *py_solve(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *keywords[] = {SPEC_KEYWORDS, "data", "kernels", "trajectory", "progress", NULL};
    spec_source source;
    PyObject *arrays = Py_None, *kernel_splits = Py_None, *progress = Py_None;
    int trajectory = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, SPEC_FORMAT "|OOpO", keywords,
                                     SPEC_ARGS(source), &arrays, &kernel_splits, &trajectory,
                                     &progress))
        return NULL;
    if (arrays != Py_None && !PyDict_Check(arrays))
        return PyErr_Format(PyExc_TypeError, "data must be a dict of split -> (X, y)");
    if (progress != Py_None && !PyCallable_Check(progress))
        return PyErr_Format(PyExc_TypeError, "progress must be callable");
    akt_spec spec;
    if (load_spec(&source, &spec) < 0)
        return NULL;
    if (spec.output.kernels || spec.output.trajectory) {
        PyErr_Format(InputError, "%s: akt.solve returns kernels and trajectories as arrays "
                     "(kernels=, trajectory=), not files; remove the key",
                     spec.output.kernels ? "output.kernels" : "output.trajectory");
        akt_spec_free(&spec);
        return NULL;
    }
    akt_data data;
    int loaded = arrays == Py_None ? load_data(&spec, &data) : data_from_arrays(&data, arrays);
    if (loaded < 0) {
        akt_data_free(&data);
        akt_spec_free(&spec);
        return NULL;
    }

    watch w;
    memset(&w, 0, sizeof w);
    w.progress = progress == Py_None ? NULL : progress;
    w.spec = &spec;
    w.data = &data;
    w.trajectory = trajectory;
    PyObject *result = NULL;
    int observed = trajectory || kernel_splits != Py_None;
    if (kernel_splits != Py_None) {
        /* kernels: a sequence of split names; every regime's kernels on them */
        PyObject *seq = PySequence_Fast(kernel_splits, "kernels must be a list of split names");
        if (!seq)
            goto done;
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
            const char *name = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
            int s = 0;
            while (name && s < AKT_POINTS_COUNT && strcmp(name, akt_split_name(s)) != 0)
                s++;
            if (!name || s == AKT_POINTS_COUNT) {
                if (name)
                    PyErr_Format(InputError, "kernels: unknown split '%s' (source, target, "
                                 "test, source_test)", name);
                Py_DECREF(seq);
                goto done;
            }
            w.splits[s] = true;
        }
        Py_DECREF(seq);
        const akt_split *splits[AKT_POINTS_COUNT] = {&data.source, &data.target, &data.test,
                                                     &data.source_test};
        for (int s = 0; s < AKT_POINTS_COUNT; s++)
            w.M += w.splits[s] ? splits[s]->rows : 0;
        for (int r = 0; r < AKT_REGIME_COUNT; r++)
            w.kernels[r] = true;
    }

    akt_error err = {0};
    akt_solution solution;
    memset(&solution, 0, sizeof solution);
    akt_solver *solver = akt_solver_alloc(&spec, &data, &err);
    if (!solver) {
        raise_akt(&err);
        goto done;
    }
    w.solver = solver;
    akt_observer observer = {
        .context = &w,
        .wants_kernels = observer_wants_kernels,
        .kernel_splits = observer_kernel_splits,
        .add_kernels = observer_add_kernels,
        .wants_trajectory = observer_wants_trajectory,
        .add_losses = observer_add_losses,
        .step = observer_step,
    };
    if (observed)
        akt_solver_set_observer(solver, &observer);   /* replicas one at a time */
    else
        akt_solver_set_progress(solver, progress_hook, &w);   /* replicas in threads */
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = akt_solver_run(solver, &solution, &err);
    Py_END_ALLOW_THREADS
    akt_solver_free(solver);
    if (w.exc_type) {            /* KeyboardInterrupt or the progress callable's exception */
        PyErr_Restore(w.exc_type, w.exc_value, w.exc_traceback);
        w.exc_type = w.exc_value = w.exc_traceback = NULL;
        goto done;
    }
    if (status == AKT_OK) {
        result = solution_dict(&spec, &data, &solution, &w, observed);
    } else if (status == AKT_ERR_NUMERIC && solution.count > 0) {
        /* what was reached goes with the exception, as akt solve prints it */
        PyObject *partial = solution_dict(&spec, &data, &solution, &w, observed);
        PyObject *exc = partial ? PyObject_CallFunction(NumericError, "s", err.message) : NULL;
        if (exc && PyObject_SetAttrString(exc, "partial", partial) == 0)
            PyErr_SetObject(NumericError, exc);
        Py_XDECREF(exc);
        Py_XDECREF(partial);
    } else {
        raise_akt(&err);
    }
done:
    watch_free(&w);
    akt_data_free(&data);
    akt_spec_free(&spec);
    return result;
}

/* ---- check, data ----------------------------------------------------------------------------- */

static PyObject *py_check(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *keywords[] = {SPEC_KEYWORDS, NULL};
    spec_source source;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, SPEC_FORMAT, keywords, SPEC_ARGS(source)))
        return NULL;
    akt_spec spec;
    if (load_spec(&source, &spec) < 0)
        return NULL;
    PyObject *json = spec_json(&spec);
    char *yaml = json ? akt_spec_to_yaml(&spec) : NULL;
    PyObject *out = NULL;
    if (json && !yaml)
        PyErr_NoMemory();
    else if (json)
        out = Py_BuildValue("(Os)", json, yaml);
    free(yaml);
    Py_XDECREF(json);
    akt_spec_free(&spec);
    return out;
}

static PyObject *split_pair(const akt_split *split)
{
    npy_intp xdims[2] = {(npy_intp)split->rows, (npy_intp)split->cols};
    npy_intp ydims[1] = {(npy_intp)split->rows};
    PyObject *X = array_copy(2, xdims, split->x);
    PyObject *y = X ? array_copy(1, ydims, split->y) : NULL;
    PyObject *pair = y ? PyTuple_Pack(2, X, y) : NULL;
    Py_XDECREF(X);
    Py_XDECREF(y);
    return pair;
}

static PyObject *py_data(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *keywords[] = {SPEC_KEYWORDS, NULL};
    spec_source source;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, SPEC_FORMAT, keywords, SPEC_ARGS(source)))
        return NULL;
    akt_spec spec;
    if (load_spec(&source, &spec) < 0)
        return NULL;
    akt_data data;
    PyObject *out = NULL;
    if (load_data(&spec, &data) == 0 && (out = PyDict_New())) {
        const akt_split *splits[AKT_POINTS_COUNT] = {&data.source, &data.target, &data.test,
                                                     &data.source_test};
        int failed = 0;
        for (int s = 0; !failed && s < AKT_POINTS_COUNT; s++)
            if (s != AKT_POINTS_SOURCE_TEST || splits[s]->rows > 0)
                failed = put(out, akt_split_name(s), split_pair(splits[s])) < 0;
        if (!failed)
            failed = put(out, "alignment", number(data.alignment)) < 0;
        if (failed)
            Py_CLEAR(out);
    }
    akt_data_free(&data);
    akt_spec_free(&spec);
    return out;
}

/* ---- train, compare -------------------------------------------------------------------------- */

/* {name: value} over every observable, as akt train/compare --json's "observables" and
 * "observable_errors" of a width. */
static PyObject *network_observable_map(const double values[AKT_OBSERVABLE_COUNT])
{
    PyObject *d = PyDict_New();
    for (int o = 0; d && o < AKT_OBSERVABLE_COUNT; o++)
        if (put(d, akt_observable_name((akt_observable)o), number(values[o])))
            Py_CLEAR(d);
    return d;
}

/* A width's record as akt train --json has it (with the regime) or as an entry of akt compare
 * --json's "widths" (without it, with the gap to the theory). */
static PyObject *width_dict(const akt_width_result *w, const akt_result *theory)
{
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    if ((!theory && put(d, "regime", PyUnicode_FromString(akt_regime_name(w->regime)))) ||
        put(d, "width", PyLong_FromLong(w->width)) ||
        put(d, "test_loss_mean", number(w->test_loss_mean)) ||
        put(d, "test_loss_sd", number(w->test_loss_sd)) ||
        put(d, "test_loss_se", number(w->test_loss_se)) ||
        put(d, "seeds", PyLong_FromLong(w->seeds)) ||
        put(d, "train_loss_mean", number(w->train_loss_mean)) ||
        put(d, "euler_bias", number(w->euler_bias)) ||
        put(d, "step_stability", number(w->stability)) ||
        put(d, "step_converged", PyBool_FromLong(w->step_converged)) ||
        put(d, "seconds", number(w->seconds)) ||
        (theory && put(d, "gap", number(w->test_loss_mean - theory->test_loss))) ||
        put(d, "observables", network_observable_map(w->observables)) ||
        put(d, "observable_errors", network_observable_map(w->observable_se))) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *py_train(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *keywords[] = {SPEC_KEYWORDS, "width", "seeds", NULL};
    spec_source source;
    long width = 0, seeds = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, SPEC_FORMAT "ll", keywords,
                                     SPEC_ARGS(source), &width, &seeds))
        return NULL;
    if (width < 1 || seeds < 1)
        return PyErr_Format(InputError, "width and seeds must be positive integers");
    akt_spec spec;
    if (load_spec(&source, &spec) < 0)
        return NULL;
    akt_data data;
    PyObject *out = NULL;
    if (load_data(&spec, &data) == 0) {
        akt_width_result results[AKT_REGIME_COUNT];
        size_t count = 0;
        akt_error err = {0};
        int status;
        Py_BEGIN_ALLOW_THREADS
        status = akt_train_width(&spec, &data, width, seeds, NULL, results, &count, &err);
        Py_END_ALLOW_THREADS
        if (status != AKT_OK)
            raise_akt(&err);
        else if ((out = PyList_New((Py_ssize_t)count)))
            for (size_t i = 0; i < count; i++) {
                PyObject *d = width_dict(&results[i], NULL);
                if (!d) {
                    Py_CLEAR(out);
                    break;
                }
                PyList_SET_ITEM(out, (Py_ssize_t)i, d);
            }
    }
    akt_data_free(&data);
    akt_spec_free(&spec);
    return out;
}

/* akt compare --json's "observable_comparison" of a regime: each observable's theory value and
 * error, the largest width's mean and standard error, their difference and the verdict. */
static PyObject *observable_comparison_dict(const akt_regime_comparison *r)
{
    const akt_width_result *largest = NULL;
    for (size_t i = 0; i < r->width_count; i++)
        if (!largest || r->widths[i].width > largest->width)
            largest = &r->widths[i];
    PyObject *d = PyDict_New();
    for (int o = 0; d && o < AKT_OBSERVABLE_COUNT; o++) {
        double theory = r->theory.observables[o], network = largest ? largest->observables[o] : NAN;
        int verdict = r->observable_verdicts[o];
        PyObject *entry = PyDict_New();
        int failed = !entry ||
            put(entry, "theory", number(theory)) ||
            put(entry, "theory_error", number(r->theory.observable_errors[o])) ||
            put(entry, "width", PyLong_FromLong(largest ? largest->width : 0L)) ||
            put(entry, "network", number(network)) ||
            put(entry, "network_error", number(largest ? largest->observable_se[o] : NAN)) ||
            put(entry, "difference", number(theory - network)) ||
            put(entry, "compatible", verdict < 0 ? number(NAN) /* None: not compared */
                                                 : PyBool_FromLong(verdict));
        if (failed || put(d, akt_observable_name((akt_observable)o), entry)) {
            if (failed)
                Py_XDECREF(entry);
            Py_CLEAR(d);
        }
    }
    return d;
}

/* A regime of akt compare --json: the theory's result fields (no transfer benefit), "widths",
 * "fit" and "observable_comparison". */
static PyObject *comparison_dict(const akt_regime_comparison *r)
{
    akt_solution none = {.count = 0};       /* no scratch: transfer_benefit null, as the CLI */
    PyObject *d = result_dict(&none, &r->theory), *widths = PyList_New(0), *fit = PyDict_New();
    int failed = !d || !widths || !fit;
    for (size_t k = 0; !failed && k < r->width_count; k++) {
        PyObject *w = width_dict(&r->widths[k], &r->theory);
        failed = !w || PyList_Append(widths, w) < 0;
        Py_XDECREF(w);
    }
    if (!failed)
        failed = put(fit, "slope", number(r->slope)) ||
                 put(fit, "intercept", number(r->intercept)) ||
                 put(fit, "intercept_error", number(r->intercept_error)) ||
                 put(fit, "compatible", PyBool_FromLong(r->compatible)) ||
                 PyDict_SetItemString(d, "widths", widths) < 0 ||
                 PyDict_SetItemString(d, "fit", fit) < 0 ||
                 put(d, "observable_comparison", observable_comparison_dict(r));
    Py_XDECREF(widths);
    Py_XDECREF(fit);
    if (failed) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *py_compare(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *keywords[] = {SPEC_KEYWORDS, "widths", "seeds", NULL};
    spec_source source;
    PyObject *width_list;
    long seeds = 4;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, SPEC_FORMAT "O!l", keywords,
                                     SPEC_ARGS(source), &PyList_Type, &width_list, &seeds))
        return NULL;
    long widths[AKT_COMPARE_MAX_WIDTHS];
    Py_ssize_t width_count = PyList_GET_SIZE(width_list);
    if (width_count < 1 || width_count > AKT_COMPARE_MAX_WIDTHS || seeds < 1)
        return PyErr_Format(InputError, "compare: 1 to %d widths and a positive seed count",
                            AKT_COMPARE_MAX_WIDTHS);
    for (Py_ssize_t i = 0; i < width_count; i++) {
        widths[i] = PyLong_AsLong(PyList_GET_ITEM(width_list, i));
        if (widths[i] == -1 && PyErr_Occurred())
            return NULL;
        if (widths[i] < 1)
            return PyErr_Format(InputError, "compare: widths must be positive integers");
    }
    akt_spec spec;
    if (load_spec(&source, &spec) < 0)
        return NULL;
    akt_data data;
    PyObject *out = NULL;
    akt_comparison *comparison = malloc(sizeof *comparison);
    if (!comparison)
        PyErr_NoMemory();
    else if (load_data(&spec, &data) == 0) {
        akt_error err = {0};
        int status;
        Py_BEGIN_ALLOW_THREADS
        status = akt_compare(&spec, &data, widths, (size_t)width_count, seeds, NULL, comparison,
                             &err);
        Py_END_ALLOW_THREADS
        if (status != AKT_OK)
            raise_akt(&err);
        else if ((out = PyList_New((Py_ssize_t)comparison->count)))
            for (size_t i = 0; i < comparison->count; i++) {
                PyObject *d = comparison_dict(&comparison->regimes[i]);
                if (!d) {
                    Py_CLEAR(out);
                    break;
                }
                PyList_SET_ITEM(out, (Py_ssize_t)i, d);
            }
        akt_data_free(&data);
    }
    free(comparison);
    akt_spec_free(&spec);
    return out;
}

/* ---- sweep ----------------------------------------------------------------------------------- */

/* Solves the grid point by point as akt_sweep_run's serial loop does (the same sweep solver:
 * data and source phases reused; a numerical failure recorded with converged false), with the
 * GIL released during each point and, between points, pending signals (Ctrl-C) and the
 * caller's progress(done, total). With out (a .csv or .jsonl path) the points go to the CLI's
 * resumable file (points already there are skipped) and None is returned (the caller reads the
 * file); without, a list of each point's rows as JSON lines text. */
static PyObject *py_sweep(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *keywords[] = {SPEC_KEYWORDS, "out", "progress", NULL};
    spec_source source;
    const char *out_path = NULL;
    PyObject *progress = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, SPEC_FORMAT "|zO", keywords,
                                     SPEC_ARGS(source), &out_path, &progress))
        return NULL;
    if (progress != Py_None && !PyCallable_Check(progress))
        return PyErr_Format(PyExc_TypeError, "progress must be callable");
    akt_spec spec;
    if (load_spec(&source, &spec) < 0)
        return NULL;
    akt_sweep_grid grid;
    memset(&grid, 0, sizeof grid);
    akt_sweep_file file;
    bool file_open = false;
    akt_error err = {0};
    PyObject *rows = out_path ? NULL : PyList_New(0);
    int status = out_path || rows ? akt_sweep_grid_init(&grid, &spec, &err) : AKT_ERR_MEMORY;
    if (status == AKT_OK)
        status = akt_sweep_validate(&grid, &err);
    if (status == AKT_OK && out_path) {
        status = akt_sweep_file_open(&file, out_path, &grid, &err);
        file_open = status == AKT_OK;
    }
    int stopped = PyErr_Occurred() != NULL;   /* a Python exception ends the loop */
    if (status == AKT_OK && !stopped) {
        akt_sweep_solver solver;
        akt_sweep_solver_init(&solver, &grid);
        size_t total = grid.point_count - (file_open ? file.done : 0), done = 0;
        for (size_t point = 0; point < grid.point_count && status == AKT_OK && !stopped;
             point++) {
            if (file_open && akt_sweep_file_has(&file, point))
                continue;
            akt_solution solution;
            Py_BEGIN_ALLOW_THREADS
            status = akt_sweep_solve_point(&solver, point, &solution, &err);
            Py_END_ALLOW_THREADS
            if (status != AKT_OK && status != AKT_ERR_NUMERIC)
                break;
            status = AKT_OK;
            if (file_open) {
                status = akt_sweep_file_add(&file, point, &solution, &err);
            } else {
                char *text = akt_sweep_rows_text(&grid, AKT_SWEEP_JSON_LINES, point, &solution);
                PyObject *item = text ? PyUnicode_FromString(text) : PyErr_NoMemory();
                stopped = !item || PyList_Append(rows, item) < 0;
                Py_XDECREF(item);
                free(text);
            }
            done++;
            if (!stopped && status == AKT_OK && progress != Py_None) {
                PyObject *r = PyObject_CallFunction(progress, "nn", (Py_ssize_t)done,
                                                    (Py_ssize_t)total);
                stopped = !r;
                Py_XDECREF(r);
            }
            if (!stopped && PyErr_CheckSignals() < 0)   /* Ctrl-C: finished points are kept */
                stopped = 1;
        }
        akt_sweep_solver_free(&solver);
    }
    if (file_open)
        akt_sweep_file_close(&file);
    PyObject *out = NULL;
    if (!stopped && status != AKT_OK)
        raise_akt(&err);
    else if (!stopped)
        out = out_path ? Py_NewRef(Py_None) : Py_NewRef(rows);
    Py_XDECREF(rows);
    akt_sweep_grid_free(&grid);
    akt_spec_free(&spec);
    return out;
}

/* ---- the module ------------------------------------------------------------------------------ */

static PyMethodDef methods[] = {
    {"solve", (PyCFunction)(void (*)(void))py_solve, METH_VARARGS | METH_KEYWORDS,
     "solve(text, is_path, name, directory, overrides, data=None, kernels=None, "
     "trajectory=False, progress=None) -> dict"},
    {"check", (PyCFunction)(void (*)(void))py_check, METH_VARARGS | METH_KEYWORDS,
     "check(text, is_path, name, directory, overrides) -> (spec JSON, spec YAML)"},
    {"data", (PyCFunction)(void (*)(void))py_data, METH_VARARGS | METH_KEYWORDS,
     "data(text, is_path, name, directory, overrides) -> {split: (X, y), 'alignment': a}"},
    {"train", (PyCFunction)(void (*)(void))py_train, METH_VARARGS | METH_KEYWORDS,
     "train(text, is_path, name, directory, overrides, width, seeds) -> [dict]"},
    {"compare", (PyCFunction)(void (*)(void))py_compare, METH_VARARGS | METH_KEYWORDS,
     "compare(text, is_path, name, directory, overrides, widths, seeds) -> [dict]"},
    {"sweep", (PyCFunction)(void (*)(void))py_sweep, METH_VARARGS | METH_KEYWORDS,
     "sweep(text, is_path, name, directory, overrides, out=None, progress=None) -> "
     "[JSON lines of each point] or None"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_akt",
                                    "The C extension under the akt package (libakt).", -1,
                                    methods, NULL, NULL, NULL, NULL};

/* The observables' names in akt_observable order (akt.OBSERVABLES). */
static PyObject *observable_names(void)
{
    PyObject *names = PyTuple_New(AKT_OBSERVABLE_COUNT);
    for (int k = 0; names && k < AKT_OBSERVABLE_COUNT; k++) {
        PyObject *name = PyUnicode_FromString(akt_observable_name((akt_observable)k));
        if (!name) {
            Py_CLEAR(names);
            break;
        }
        PyTuple_SET_ITEM(names, k, name);
    }
    return names;
}

PyMODINIT_FUNC PyInit__akt(void)
{
    import_array();
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Error = PyErr_NewExceptionWithDoc("akt.Error", "A failure reported by libakt.", NULL, NULL);
    InputError = Error ? PyErr_NewExceptionWithDoc(
                             "akt.InputError",
                             "Bad input: the spec, a data file, an argument, or a request no "
                             "method serves (the command line's exit 2).",
                             Error, NULL)
                       : NULL;
    NumericError = InputError ? PyErr_NewExceptionWithDoc(
                                    "akt.NumericError",
                                    "A numerical failure (the command line's exit 1); "
                                    "solve's results reached so far are in .partial.",
                                    Error, NULL)
                              : NULL;
    PyObject *names = NumericError ? observable_names() : NULL;
    if (!names || PyModule_AddObjectRef(m, "Error", Error) < 0 ||
        PyModule_AddObjectRef(m, "InputError", InputError) < 0 ||
        PyModule_AddObjectRef(m, "NumericError", NumericError) < 0 ||
        PyModule_AddStringConstant(m, "quickstart_yaml", akt_spec_quickstart_yaml) < 0 ||
        PyModule_AddObjectRef(m, "observable_names", names) < 0) {
        Py_XDECREF(names);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(names);
    return m;
}
