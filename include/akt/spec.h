/* spec.h: a transfer problem as the user writes it (YAML), validated, with defaults filled.
 *
 * The YAML format and its defaults are those of ../shared/DESIGN.md ("Spec"). akt_spec_load
 * parses, applies --set overrides, fills the defaults of the chosen task, and validates; any
 * error is one line naming file:line:column (or the overridden key) with status AKT_ERR_INPUT.
 * A loaded spec owns its strings; release it with akt_spec_free. */
#ifndef AKT_SPEC_H
#define AKT_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/core.h"
#include "akt/error.h"

typedef enum { AKT_TASK_LINEAR, AKT_TASK_POLYNOMIAL, AKT_TASK_FASHION_MNIST, AKT_TASK_CSV } akt_task;

/* The four data splits (source, target, test, source_test), e.g. for output.kernel_splits:
 * the point sets of core.h, in their order. */
#define AKT_SPLIT_COUNT AKT_POINTS_COUNT
/* Highest Hermite degree a polynomial task may use. */
#define AKT_HERMITE_MAX 8

/* One data split. Synthetic and fashion_mnist tasks use samples (and classes for
 * fashion_mnist); csv tasks use x_path and y_path (resolved against the spec file's directory,
 * stored as absolute paths). The loader also fills fields that follow from the rules, so that
 * consumers need not repeat them: present is true for every split the task has (csv
 * source_test only when given); for synthetic and fashion_mnist tasks source_test.samples =
 * test.samples; for fashion_mnist test.classes = target classes and source_test.classes =
 * source classes. Defaults for fashion_mnist: source classes [0, 6] (T-shirt/top vs shirt),
 * target classes [2, 4] (pullover vs coat). */
typedef struct {
    long samples;
    int classes[2];          /* fashion_mnist class pair: classes[0] -> label -1, classes[1] -> +1 */
    char *x_path;
    char *y_path;
    bool present;            /* csv source_test is optional */
} akt_split_spec;

typedef struct {
    char *key;               /* dotted key, e.g. "data.alignment" */
    char **values;           /* the grid values as written (scalars as text) */
    size_t count;
} akt_sweep_axis;

typedef struct akt_spec {
    unsigned long seed;
    struct {
        akt_task task;
        long dim;                            /* D (synthetic tasks) */
        double alignment;                    /* cosine between teachers, [-1, 1] */
        double noise;                        /* label noise sd, >= 0 */
        double hermite[AKT_HERMITE_MAX + 1]; /* coefficient of He_k; default {1: 1.0} */
        char *path;                          /* fashion_mnist directory (resolved like csv paths) */
        akt_split_spec source, target, test, source_test;
    } data;
    struct {
        akt_activation activation;
        bool center;
        double hidden_scale, readout_scale;  /* s_h, s_z of THEORY.md section 1: w ~ N(0, s_h^2 I),
                                                z ~ N(0, s_z^2) at initialisation */
    } network;
    struct {
        double gamma, weight_decay, time;    /* time: > 0 or AKT_TIME_CONVERGE */
    } source;
    struct {
        bool regimes[AKT_REGIME_COUNT];      /* [AKT_REGIME_SOURCE] is always true */
        double gamma, weight_decay, elastic, readout_decay;
        akt_readout_init readout_init;
        double time;
    } target;
    struct {
        char *method;                        /* a method's name ("auto", "exact", ...): the
                                                solve layer checks it against its registry */
        char *method_where;                  /* where it was written, for messages:
                                                "FILE:LINE:COL" or "--set solver.method=...";
                                                NULL for the default */
        long neurons, replicas;
        bool estimate_errors;                /* sampled methods: measure integration_error and
                                                bias by two more runs (solve.c) */
        double target_error, step_tolerance, tolerance, max_time, min_step;
    } solver;
    struct {
        char *kernels, *trajectory;          /* NULL when not asked for; relative names are
                                                relative to directory (the spec file's) */
        bool kernel_splits[AKT_SPLIT_COUNT]; /* splits the kernels are written on, indexed
                                                source, target, test, source_test (the order
                                                of akt_points); default target only */
    } output;
    /* Sweep axes as written: a list gives one value per grid point (scalar text); a string
     * "linspace(a, b, n)" or "logspace(a, b, n)" is stored as the single value, unexpanded. */
    akt_sweep_axis *sweep;
    size_t sweep_count;
    char *file;              /* the spec's file name ("<built-in quickstart>" for the default) */
    char *directory;         /* directory of the spec file, for relative data paths */
} akt_spec;

/* The YAML text of the built-in quickstart problem (equal to problems/quickstart.yaml). */
extern const char akt_spec_quickstart_yaml[];

/* The largest spec akt reads: 16 MiB. A longer file is refused (AKT_ERR_INPUT, naming the limit)
 * after reading at most this many bytes plus one, so that a device or an endless stream given as a
 * spec (akt solve /dev/zero) ends at once instead of filling memory. */
#define AKT_SPEC_MAX_BYTES ((size_t)16 << 20)

/* Parses the YAML file at path, applies the overrides ("dotted.key=value", in order), fills
 * defaults and validates. On failure *spec is left empty (safe to free). The file is read with
 * its length (akt_spec_load_text): a NUL byte anywhere in it is an error naming path:line:column
 * of the byte, never the end of the spec; an empty file is the all-defaults spec. */
int akt_spec_load(akt_spec *spec, const char *path, const char *const *overrides,
                  size_t override_count, akt_error *err);

/* The same from a YAML string; name is used in error messages and directory for relative paths. */
int akt_spec_load_string(akt_spec *spec, const char *yaml, const char *name, const char *directory,
                         const char *const *overrides, size_t override_count, akt_error *err);

/* The same from the `length` bytes at text (which need not end in NUL): a NUL byte among them is
 * AKT_ERR_INPUT "name:line:column: NUL byte ...", and more than AKT_SPEC_MAX_BYTES is refused.
 * akt_spec_load reads its file and comes here, and so do the fuzz harnesses. */
int akt_spec_load_text(akt_spec *spec, const char *text, size_t length, const char *name,
                       const char *directory, const char *const *overrides, size_t override_count,
                       akt_error *err);

/* Checks ranges and cross-key rules (liblinear's check_parameter): AKT_OK or AKT_ERR_INPUT
 * with a message naming the key. akt_spec_load calls it. */
int akt_spec_validate(const akt_spec *spec, akt_error *err);

/* The validated spec as YAML (defaults filled, only keys that apply to its task); the result is
 * itself a valid spec. Returns a malloc'd string or NULL (out of memory). */
char *akt_spec_to_yaml(const akt_spec *spec);

/* The validated spec as one JSON object (for the output contract's "spec" field). malloc'd. */
char *akt_spec_to_json(const akt_spec *spec);

/* Applies one "dotted.key=value" (value in YAML, as for --set) to a loaded, validated spec and
 * validates again; on failure spec is unchanged. For expanding sweep points. data.task and sweep
 * cannot be changed this way. */
int akt_spec_set(akt_spec *spec, const char *assignment, akt_error *err);

/* True if the two specs describe the same problem (every key and the sweep; file and
 * directory are not compared). */
bool akt_spec_equal(const akt_spec *a, const akt_spec *b);

/* True if the two specs hold the same value for every key of keys (NULL-terminated dotted
 * names, e.g. "source.gamma"); an unknown key never compares equal. For the source cache. */
bool akt_spec_same_values(const akt_spec *a, const akt_spec *b, const char *const *keys);

/* Deep copy (for sweeps). */
int akt_spec_copy(akt_spec *dest, const akt_spec *src, akt_error *err);

void akt_spec_free(akt_spec *spec);

const char *akt_task_name(akt_task task);

#endif
