/* spec_check.c: the range and cross-key rules a spec must satisfy (like liblinear's
 * check_parameter), run on the filled struct.
 *
 * Each rule names the key; when the loader knows which node set the key, the message starts
 * with that node's file:line:column (or the --set text), so a user is sent to the exact value. */
#include "spec/spec_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const akt_spec *spec;
    const spec_node *const *set_by;   /* per key index; NULL when the loader is not involved */
    akt_error *err;
} checker;

static const spec_node *node_of(const checker *c, const char *name)
{
    int index = spec_key_find(name);
    return c->set_by && index >= 0 ? c->set_by[index] : NULL;
}

/* The first of the named keys that was written by the user locates the error. */
static const spec_node *first_node(const checker *c, const char *a, const char *b)
{
    const spec_node *node = node_of(c, a);
    return node ? node : b ? node_of(c, b) : NULL;
}

static int fail_at(const akt_spec *spec, const spec_node *node, akt_error *err, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(const akt_spec *spec, const spec_node *node, akt_error *err, const char *format, ...)
{
    char message[AKT_ERROR_MESSAGE_SIZE / 2], where[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    if (node)
        spec_node_where(node, where, sizeof where);
    else
        snprintf(where, sizeof where, "%s", spec->file ? spec->file : "spec");
    return akt_error_set(err, AKT_ERR_INPUT, "%s: %s", where, message);
}

static int check_class_pair(const akt_spec *spec, const spec_key *key, const int *classes,
                            const spec_node *node, akt_error *err)
{
    bool in_range = classes[0] >= 0 && classes[0] <= 9 && classes[1] >= 0 && classes[1] <= 9;
    if (in_range && classes[0] != classes[1])
        return AKT_OK;
    return fail_at(spec, node, err, "%s must be two distinct Fashion-MNIST classes in 0..9, got [%d, %d]",
                   key->name, classes[0], classes[1]);
}

static int check_hermite(const akt_spec *spec, const spec_key *key, const double *coefficients,
                         const spec_node *node, akt_error *err)
{
    for (int k = 0; k <= AKT_HERMITE_MAX; k++)
        if (coefficients[k] != 0)
            return AKT_OK;
    return fail_at(spec, node, err, "%s: all coefficients are 0, so the teacher is identically zero",
                   key->name);
}

int spec_check_key(const akt_spec *spec, size_t index, const spec_node *node, akt_error *err)
{
    const spec_key *key = &spec_keys[index];
    const void *field = (const char *)spec + key->offset;
    double real = key->type == KEY_NUMBER || key->type == KEY_TIME ? *(const double *)field : 0;
    long integer = key->type == KEY_INTEGER ? *(const long *)field : 0;
    char shown[64];
    spec_format_double(real, shown, sizeof shown);
    switch (key->check) {
    case CHECK_NONE:
        return AKT_OK;
    case CHECK_POSITIVE:
        if (real > 0)
            return AKT_OK;
        return fail_at(spec, node, err, "%s must be > 0, got %s", key->name, shown);
    case CHECK_NONNEGATIVE:
        if (real >= 0)
            return AKT_OK;
        return fail_at(spec, node, err, "%s must be >= 0, got %s", key->name, shown);
    case CHECK_UNIT:
        if (real >= -1 && real <= 1)
            return AKT_OK;
        return fail_at(spec, node, err, "%s must be in [-1, 1], got %s", key->name, shown);
    case CHECK_AT_LEAST_ONE:
        if (integer >= 1)
            return AKT_OK;
        return fail_at(spec, node, err, "%s must be >= 1, got %ld", key->name, integer);
    case CHECK_EVEN_PAIRS:
        if (integer >= 2 && integer % 2 == 0)
            return AKT_OK;
        return fail_at(spec, node, err,
                       "%s must be an even number >= 2 (neurons are sampled in antithetic pairs), got %ld",
                       key->name, integer);
    case CHECK_TIME:
        if (real > 0 || real == AKT_TIME_CONVERGE)
            return AKT_OK;
        return fail_at(spec, node, err, "%s must be > 0 or converge, got %s", key->name, shown);
    case CHECK_CLASS_PAIR:
        return check_class_pair(spec, key, field, node, err);
    case CHECK_HERMITE:
        return check_hermite(spec, key, field, node, err);
    }
    return AKT_OK;
}

/* Ranges of every key that applies to the task, and presence of the required ones. */
static int check_keys(const checker *c)
{
    const akt_spec *spec = c->spec;
    for (size_t i = 0; i < spec_key_count; i++) {
        const spec_key *key = &spec_keys[i];
        if (!(key->tasks & TASK_BIT(spec->data.task)))
            continue;
        const spec_node *node = c->set_by ? c->set_by[i] : NULL;
        if (key->required && !*(char *const *)((const char *)spec + key->offset))
            return fail_at(spec, node_of(c, "data.task"), c->err, "%s is required for task %s",
                           key->name, akt_task_name(spec->data.task));
        int status = spec_check_key(spec, i, node, c->err);
        if (status != AKT_OK)
            return status;
    }
    return AKT_OK;
}

static int check_csv_source_test(const checker *c)
{
    const akt_split_spec *split = &c->spec->data.source_test;
    if (c->spec->data.task != AKT_TASK_CSV || !split->x_path == !split->y_path)
        return AKT_OK;
    const char *missing = split->x_path ? "data.source_test.y" : "data.source_test.x";
    const char *given = split->x_path ? "data.source_test.x" : "data.source_test.y";
    return fail_at(c->spec, node_of(c, given), c->err, "%s is given, so %s is required too", given, missing);
}

/* DESIGN.md Decisions (Methods): the lazy limit keeps weight decay fixed while gamma -> 0, so a
 * nonzero decay would dominate the vanishing feature learning; lazy needs decay 0 everywhere. */
static int check_lazy(const checker *c)
{
    const akt_spec *spec = c->spec;
    if (!spec->solver.method || strcmp(spec->solver.method, "lazy") != 0)
        return AKT_OK;
    const char *phases[2] = { "source.weight_decay", "target.weight_decay" };
    double decays[2] = { spec->source.weight_decay, spec->target.weight_decay };
    for (int i = 0; i < 2; i++) {
        if (decays[i] == 0)
            continue;
        char shown[64];
        spec_format_double(decays[i], shown, sizeof shown);
        return fail_at(spec, first_node(c, phases[i], "solver.method"), c->err,
                       "solver.method lazy needs %s = 0 (weight decay does not vanish with gamma), got %s",
                       phases[i], shown);
    }
    return AKT_OK;
}

/* DESIGN.md Decisions: the joint regime starts from the source weights at time T1; with T1
 * infinite the remainder e^{-lambda1 T1} h0 that carries the neuron diversity is gone. */
static int check_joint_source_time(const checker *c)
{
    const akt_spec *spec = c->spec;
    if (!spec->target.regimes[AKT_REGIME_JOINT] || spec->source.time != AKT_TIME_CONVERGE)
        return AKT_OK;
    return fail_at(spec, first_node(c, "source.time", "target.regimes"), c->err,
                   "the joint regime needs a numeric source.time, not converge: the remainder "
                   "e^{-lambda1 T1} h0 carries the neuron diversity that decides where the joint "
                   "flow goes (THEORY.md section 4); give source.time a number or drop joint from "
                   "target.regimes");
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t n = strlen(text), m = strlen(suffix);
    return n >= m && !strcmp(text + n - m, suffix);
}

/* Output files (README "Output files"): CSV is the one format written, so the name must say so
 * (a .bin or .json name would otherwise get CSV content); the two files must differ; the kernels
 * can only be written on splits the task has. */
static int check_outputs(const checker *c)
{
    const akt_spec *spec = c->spec;
    const char *names[2] = { "output.kernels", "output.trajectory" };
    const char *files[2] = { spec->output.kernels, spec->output.trajectory };
    for (int i = 0; i < 2; i++)
        if (files[i] && (!ends_with(files[i], ".csv") || strlen(files[i]) == 4 ||
                         ends_with(files[i], "/.csv")))
            return fail_at(spec, node_of(c, names[i]), c->err,
                           "%s must be a file name ending in .csv (the format written), got '%s'",
                           names[i], files[i]);
    if (files[0] && files[1] && !strcmp(files[0], files[1]))
        return fail_at(spec, first_node(c, names[1], names[0]), c->err,
                       "output.kernels and output.trajectory name the same file '%s'", files[0]);
    if (spec->output.kernel_splits[3] && !spec->data.source_test.present)
        return fail_at(spec, node_of(c, "output.kernel_splits"), c->err,
                       "output.kernel_splits: this %s task has no source_test split (give "
                       "data.source_test.x and .y, or drop source_test)",
                       akt_task_name(spec->data.task));
    return AKT_OK;
}

static int check_sweep(const checker *c)
{
    const akt_spec *spec = c->spec;
    for (size_t a = 0; a < spec->sweep_count; a++) {
        const char *name = spec->sweep[a].key;
        int index = spec_key_find(name);
        if (index < 0)
            return fail_at(spec, NULL, c->err, "sweep: unknown key '%s'", name);
        const spec_key *key = &spec_keys[index];
        if (key->type == KEY_HERMITE || key->type == KEY_REGIMES || key->type == KEY_CLASSES ||
            key->type == KEY_SPLITS)
            return fail_at(spec, NULL, c->err, "sweep: %s is not a scalar key", name);
        if (!(key->tasks & TASK_BIT(spec->data.task)))
            return fail_at(spec, NULL, c->err, "sweep: %s does not apply to task %s", name,
                           akt_task_name(spec->data.task));
        if (spec->sweep[a].count == 0)
            return fail_at(spec, NULL, c->err, "sweep: %s has no values", name);
    }
    return AKT_OK;
}

int spec_check(const akt_spec *spec, const spec_node *const *set_by, akt_error *err)
{
    checker c = { spec, set_by, err };
    int (*const rules[])(const checker *) = {
        check_keys, check_csv_source_test, check_lazy, check_joint_source_time, check_outputs,
        check_sweep,
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        int status = rules[i](&c);
        if (status != AKT_OK)
            return status;
    }
    return AKT_OK;
}

int akt_spec_validate(const akt_spec *spec, akt_error *err)
{
    if ((unsigned)spec->data.task > AKT_TASK_CSV)
        return akt_error_set(err, AKT_ERR_INPUT, "%s: data.task is not a known task",
                             spec->file ? spec->file : "spec");
    return spec_check(spec, NULL, err);
}
