/* spec_keys.c: the table of every key a spec may hold, and the parser of each kind of value.
 *
 * One row per leaf key (DESIGN.md "Spec"): its place in akt_spec, its type, the tasks it applies
 * to, its default and its range rule. The loader, the defaults, the validator and the printers
 * all walk this table, so adding a key is one row here rather than edits in five if-chains. */
#include "spec/spec_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const task_words[] = { "linear", "polynomial", "fashion_mnist", "csv", NULL };
#define activation_words akt_activation_words
#define readout_words akt_readout_init_words
#define regime_words akt_regime_words
#define split_words akt_split_words

#define AT(field) offsetof(akt_spec, field)
#define TASK_F TASK_BIT(AKT_TASK_FASHION_MNIST)
#define TASK_C TASK_BIT(AKT_TASK_CSV)

/* Order matters to the printers: keys of one section are contiguous, in the order printed. */
const spec_key spec_keys[] = {
    { "seed", KEY_SEED, AT(seed), TASKS_ALL, "1", CHECK_NONE, NULL, false },
    { "data.task", KEY_WORD, AT(data.task), TASKS_ALL, "linear", CHECK_NONE, task_words, false },
    { "data.dim", KEY_INTEGER, AT(data.dim), TASKS_SYNTHETIC, "100", CHECK_AT_LEAST_ONE, NULL, false },
    { "data.alignment", KEY_NUMBER, AT(data.alignment), TASKS_SYNTHETIC, "0.5", CHECK_UNIT, NULL, false },
    { "data.noise", KEY_NUMBER, AT(data.noise), TASKS_SAMPLED, "0", CHECK_NONNEGATIVE, NULL, false },
    { "data.hermite", KEY_HERMITE, AT(data.hermite), TASK_BIT(AKT_TASK_POLYNOMIAL), "{1: 1.0}",
      CHECK_HERMITE, NULL, false },
    { "data.path", KEY_PATH, AT(data.path), TASK_F, "/usr/share/datasets/fashion-mnist",
      CHECK_NONE, NULL, false },
    /* fashion_mnist defaults: source T-shirt/top vs shirt, target pullover vs coat; two pairs of
     * visually close classes, so the tasks are related but not the same. */
    { "data.source.samples", KEY_INTEGER, AT(data.source.samples), TASKS_SAMPLED, "400",
      CHECK_AT_LEAST_ONE, NULL, false },
    { "data.source.classes", KEY_CLASSES, AT(data.source.classes), TASK_F, "[0, 6]",
      CHECK_CLASS_PAIR, NULL, false },
    { "data.source.x", KEY_PATH, AT(data.source.x_path), TASK_C, NULL, CHECK_NONE, NULL, true },
    { "data.source.y", KEY_PATH, AT(data.source.y_path), TASK_C, NULL, CHECK_NONE, NULL, true },
    { "data.target.samples", KEY_INTEGER, AT(data.target.samples), TASKS_SAMPLED, "50",
      CHECK_AT_LEAST_ONE, NULL, false },
    { "data.target.classes", KEY_CLASSES, AT(data.target.classes), TASK_F, "[2, 4]",
      CHECK_CLASS_PAIR, NULL, false },
    { "data.target.x", KEY_PATH, AT(data.target.x_path), TASK_C, NULL, CHECK_NONE, NULL, true },
    { "data.target.y", KEY_PATH, AT(data.target.y_path), TASK_C, NULL, CHECK_NONE, NULL, true },
    { "data.test.samples", KEY_INTEGER, AT(data.test.samples), TASKS_SAMPLED, "2000",
      CHECK_AT_LEAST_ONE, NULL, false },
    { "data.test.x", KEY_PATH, AT(data.test.x_path), TASK_C, NULL, CHECK_NONE, NULL, true },
    { "data.test.y", KEY_PATH, AT(data.test.y_path), TASK_C, NULL, CHECK_NONE, NULL, true },
    { "data.source_test.x", KEY_PATH, AT(data.source_test.x_path), TASK_C, NULL, CHECK_NONE, NULL, false },
    { "data.source_test.y", KEY_PATH, AT(data.source_test.y_path), TASK_C, NULL, CHECK_NONE, NULL, false },
    { "network.activation", KEY_WORD, AT(network.activation), TASKS_ALL, "relu", CHECK_NONE,
      activation_words, false },
    { "network.center", KEY_BOOLEAN, AT(network.center), TASKS_ALL, "false", CHECK_NONE, NULL, false },
    { "network.hidden_scale", KEY_NUMBER, AT(network.hidden_scale), TASKS_ALL, "1", CHECK_POSITIVE,
      NULL, false },
    { "network.readout_scale", KEY_NUMBER, AT(network.readout_scale), TASKS_ALL, "1",
      CHECK_NONNEGATIVE, NULL, false },
    { "source.gamma", KEY_NUMBER, AT(source.gamma), TASKS_ALL, "1", CHECK_POSITIVE, NULL, false },
    { "source.weight_decay", KEY_NUMBER, AT(source.weight_decay), TASKS_ALL, "0.05",
      CHECK_NONNEGATIVE, NULL, false },
    { "source.time", KEY_TIME, AT(source.time), TASKS_ALL, "20", CHECK_TIME, NULL, false },
    { "target.regimes", KEY_REGIMES, AT(target.regimes), TASKS_ALL, "[scratch, readout, joint]",
      CHECK_NONE, NULL, false },
    { "target.gamma", KEY_NUMBER, AT(target.gamma), TASKS_ALL, "1", CHECK_POSITIVE, NULL, false },
    { "target.weight_decay", KEY_NUMBER, AT(target.weight_decay), TASKS_ALL, "0.05",
      CHECK_NONNEGATIVE, NULL, false },
    { "target.elastic", KEY_NUMBER, AT(target.elastic), TASKS_ALL, "0", CHECK_NONNEGATIVE, NULL, false },
    { "target.readout_decay", KEY_NUMBER, AT(target.readout_decay), TASKS_ALL, "0",
      CHECK_NONNEGATIVE, NULL, false },
    { "target.readout_init", KEY_WORD, AT(target.readout_init), TASKS_ALL, "zero", CHECK_NONE,
      readout_words, false },
    { "target.time", KEY_TIME, AT(target.time), TASKS_ALL, "20", CHECK_TIME, NULL, false },
    { "solver.method", KEY_NAME, AT(solver.method), TASKS_ALL, "auto", CHECK_NONE, NULL, false },
    { "solver.neurons", KEY_INTEGER, AT(solver.neurons), TASKS_ALL, "8192", CHECK_EVEN_PAIRS, NULL, false },
    { "solver.replicas", KEY_INTEGER, AT(solver.replicas), TASKS_ALL, "4", CHECK_AT_LEAST_ONE, NULL, false },
    { "solver.estimate_errors", KEY_BOOLEAN, AT(solver.estimate_errors), TASKS_ALL, "true",
      CHECK_NONE, NULL, false },
    { "solver.target_error", KEY_NUMBER, AT(solver.target_error), TASKS_ALL, "0",
      CHECK_NONNEGATIVE, NULL, false },
    { "solver.step_tolerance", KEY_NUMBER, AT(solver.step_tolerance), TASKS_ALL, "1.0e-4",
      CHECK_POSITIVE, NULL, false },
    { "solver.tolerance", KEY_NUMBER, AT(solver.tolerance), TASKS_ALL, "1.0e-6", CHECK_POSITIVE, NULL, false },
    { "solver.max_time", KEY_NUMBER, AT(solver.max_time), TASKS_ALL, "1.0e5", CHECK_POSITIVE, NULL, false },
    { "solver.min_step", KEY_NUMBER, AT(solver.min_step), TASKS_ALL, "1.0e-9", CHECK_POSITIVE, NULL, false },
    { "output.kernels", KEY_OUTPUT, AT(output.kernels), TASKS_ALL, "null", CHECK_NONE, NULL, false },
    { "output.trajectory", KEY_OUTPUT, AT(output.trajectory), TASKS_ALL, "null", CHECK_NONE, NULL, false },
    { "output.kernel_splits", KEY_SPLITS, AT(output.kernel_splits), TASKS_ALL, "[target]", CHECK_NONE,
      split_words, false },
};
const size_t spec_key_count = sizeof spec_keys / sizeof spec_keys[0];

/* Enums are stored through an int; this holds for every enum of spec.h with GCC and Clang. */
_Static_assert(sizeof(akt_task) == sizeof(int) &&
               sizeof(akt_activation) == sizeof(int) && sizeof(akt_readout_init) == sizeof(int),
               "spec enums are int-sized");

int spec_key_find(const char *name)
{
    for (size_t i = 0; i < spec_key_count; i++)
        if (!strcmp(spec_keys[i].name, name))
            return (int)i;
    return -1;
}

bool spec_section_exists(const char *name)
{
    size_t length = strlen(name);
    if (length == 0)
        return true;
    for (size_t i = 0; i < spec_key_count; i++)
        if (!strncmp(spec_keys[i].name, name, length) && spec_keys[i].name[length] == '.')
            return true;
    return false;
}

void spec_key_task_names(const spec_key *key, char *buffer, size_t size)
{
    size_t used = 0, listed = 0, total = 0;
    for (int t = 0; task_words[t]; t++)
        total += (key->tasks & TASK_BIT(t)) != 0;
    buffer[0] = '\0';
    for (int t = 0; task_words[t] && used < size; t++) {
        if (!(key->tasks & TASK_BIT(t)))
            continue;
        const char *separator = listed == 0 ? "" : listed + 1 == total ? " and " : ", ";
        used += (size_t)snprintf(buffer + used, size - used, "%s%s", separator, task_words[t]);
        listed++;
    }
}

const char *akt_task_name(akt_task task) { return task_words[task]; }

/* ---- suggestions ---------------------------------------------------------------------- */

/* Optimal string alignment distance: a swapped pair of letters counts as one typo. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64)
        return (size_t)-1;
    size_t d[65][65];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

const char *spec_suggest(const char *word, const char *const *candidates)
{
    /* Close enough to be a typo: at most a third of the word wrong (and at least 2 edits
     * allowed), so "gama" finds "gamma" but "foo" does not find "seed". */
    size_t allowed = strlen(word) / 3 > 2 ? strlen(word) / 3 : 2;
    const char *best = NULL;
    size_t best_distance = allowed + 1;
    for (size_t i = 0; candidates[i]; i++) {
        size_t distance = edit_distance(word, candidates[i]);
        if (distance < best_distance) {
            best = candidates[i];
            best_distance = distance;
        }
    }
    return best;
}

/* ---- value parsers -------------------------------------------------------------------- */

static const char *node_shown(const spec_node *node)
{
    if (node->kind == SPEC_NODE_MAPPING)
        return "a mapping";
    if (node->kind == SPEC_NODE_SEQUENCE)
        return "a list";
    return NULL;
}

static int type_error(const spec_node *node, const char *key, const char *expected, akt_error *err)
{
    char where[512];
    spec_node_where(node, where, sizeof where);
    const char *shown = node_shown(node);
    if (shown)
        return akt_error_set(err, AKT_ERR_INPUT, "%s: %s: expected %s, got %s", where, key, expected, shown);
    if (spec_node_is_null(node))
        return akt_error_set(err, AKT_ERR_INPUT, "%s: %s: expected %s, got nothing", where, key, expected);
    return akt_error_set(err, AKT_ERR_INPUT, "%s: %s: expected %s, got '%s'", where, key, expected,
                         node->text);
}

static bool text_to_double(const char *text, double *out)
{
    if (!*text)
        return false;
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (*end || errno == ERANGE || !isfinite(value))
        return false;
    *out = value;
    return true;
}

/* Integers may be written as 8192 or 8.192e3; anything that is not exactly an integer is refused.
 * 2^53 bounds the range where a double holds every integer exactly. */
static bool text_to_integer(const char *text, long *out)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (*text && !*end && errno == 0) {
        *out = value;
        return true;
    }
    double real;
    if (!text_to_double(text, &real) || real != floor(real) || fabs(real) > 9007199254740992.0)
        return false;
    *out = (long)real;
    return true;
}

static int parse_number(const spec_node *node, const char *key, double *out, akt_error *err)
{
    if (node->kind != SPEC_NODE_SCALAR || !text_to_double(node->text, out))
        return type_error(node, key, "a number", err);
    return AKT_OK;
}

static int parse_integer(const spec_node *node, const char *key, long *out, akt_error *err)
{
    if (node->kind != SPEC_NODE_SCALAR || !text_to_integer(node->text, out))
        return type_error(node, key, "an integer", err);
    return AKT_OK;
}

static int parse_word(const spec_node *node, const char *key, const char *const *words, int *out,
                      akt_error *err)
{
    char expected[256] = "one of";
    for (int i = 0; words[i]; i++)
        snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s %s",
                 i == 0 ? "" : words[i + 1] ? "," : " or", words[i]);
    if (node->kind != SPEC_NODE_SCALAR || spec_node_is_null(node))
        return type_error(node, key, expected, err);
    for (int i = 0; words[i]; i++)
        if (!strcmp(node->text, words[i])) {
            *out = i;
            return AKT_OK;
        }
    char where[512];
    spec_node_where(node, where, sizeof where);
    const char *suggestion = spec_suggest(node->text, words);
    if (suggestion)
        return akt_error_set(err, AKT_ERR_INPUT, "%s: %s: unknown value '%s' (expected %s); did you mean '%s'?",
                             where, key, node->text, expected, suggestion);
    return akt_error_set(err, AKT_ERR_INPUT, "%s: %s: unknown value '%s' (expected %s)", where, key,
                         node->text, expected);
}

static char *resolve_path(const char *directory, const char *path)
{
    if (path[0] == '/' || !directory || !*directory)
        return strdup(path);
    size_t size = strlen(directory) + strlen(path) + 2;
    char *joined = malloc(size);
    if (joined)
        snprintf(joined, size, "%s/%s", directory, path);
    return joined;
}

static int set_string(char **field, char *value, akt_error *err)
{
    if (!value)
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory reading the spec");
    free(*field);
    *field = value;
    return AKT_OK;
}

static int set_time(double *field, const spec_node *node, const char *key, akt_error *err)
{
    if (node->kind == SPEC_NODE_SCALAR && !strcmp(node->text, "converge")) {
        *field = AKT_TIME_CONVERGE;
        return AKT_OK;
    }
    double value;
    /* A non-positive number could collide with the converge marker, so it is refused here. */
    if (node->kind != SPEC_NODE_SCALAR || !text_to_double(node->text, &value) || !(value > 0))
        return type_error(node, key, "a positive number or converge", err);
    *field = value;
    return AKT_OK;
}

static int set_boolean(bool *field, const spec_node *node, const char *key, akt_error *err)
{
    static const char *const truths[] = { "true", "True", "TRUE", NULL };
    static const char *const falsehoods[] = { "false", "False", "FALSE", NULL };
    for (int i = 0; node->kind == SPEC_NODE_SCALAR && truths[i]; i++) {
        if (!strcmp(node->text, truths[i])) {
            *field = true;
            return AKT_OK;
        }
        if (!strcmp(node->text, falsehoods[i])) {
            *field = false;
            return AKT_OK;
        }
    }
    return type_error(node, key, "true or false", err);
}

static int set_seed(unsigned long *field, const spec_node *node, const char *key, akt_error *err)
{
    const char *t = node->kind == SPEC_NODE_SCALAR ? node->text : "";
    char *end;
    errno = 0;
    unsigned long value = strtoul(t, &end, 10);
    if (!*t || *end || errno || t[0] == '-' || t[0] == '+' || t[0] == ' ')
        return type_error(node, key, "a non-negative integer", err);
    *field = value;
    return AKT_OK;
}

/* A polynomial teacher: the mapping replaces the default coefficients entirely. */
static int set_hermite(double *coefficients, const spec_node *node, const char *key, akt_error *err)
{
    if (node->kind != SPEC_NODE_MAPPING)
        return type_error(node, key, "a mapping from degree to coefficient, like {1: 1.0, 2: 0.5}", err);
    double parsed[AKT_HERMITE_MAX + 1] = { 0 };
    bool seen[AKT_HERMITE_MAX + 1] = { false };
    for (size_t i = 0; i + 1 < node->count; i += 2) {
        const spec_node *degree = node->items[i];
        long k;
        if (!text_to_integer(degree->text, &k) || k < 0 || k > AKT_HERMITE_MAX) {
            char where[512];
            spec_node_where(degree, where, sizeof where);
            return akt_error_set(err, AKT_ERR_INPUT, "%s: %s: degree must be an integer in 0..%d, got '%s'",
                                 where, key, AKT_HERMITE_MAX, degree->text);
        }
        if (seen[k]) {
            char where[512];
            spec_node_where(degree, where, sizeof where);
            return akt_error_set(err, AKT_ERR_INPUT, "%s: %s: degree %ld given twice", where, key, k);
        }
        seen[k] = true;
        int status = parse_number(node->items[i + 1], key, &parsed[k], err);
        if (status != AKT_OK)
            return status;
    }
    memcpy(coefficients, parsed, sizeof parsed);
    return AKT_OK;
}

/* target.regimes: a list (or one word). The source regime is always reported, so the word
 * source is accepted and changes nothing. */
static int set_regimes(bool *regimes, const spec_node *node, const char *key, akt_error *err)
{
    const spec_node *const *items = (const spec_node *const *)node->items;
    size_t count = node->count;
    if (node->kind == SPEC_NODE_SCALAR && !spec_node_is_null(node)) {
        items = &node;
        count = 1;
    } else if (node->kind != SPEC_NODE_SEQUENCE) {
        return type_error(node, key, "a list of scratch, readout, joint", err);
    }
    bool chosen[AKT_REGIME_COUNT] = { [AKT_REGIME_SOURCE] = true };
    for (size_t i = 0; i < count; i++) {
        int regime;
        int status = parse_word(items[i], key, regime_words, &regime, err);
        if (status != AKT_OK)
            return status;
        chosen[regime] = true;
    }
    memcpy(regimes, chosen, sizeof chosen);
    return AKT_OK;
}

/* output.kernel_splits: a non-empty list (or one word) of split names, each at most once. */
static int set_splits(bool *splits, const spec_node *node, const char *key, akt_error *err)
{
    const spec_node *const *items = (const spec_node *const *)node->items;
    size_t count = node->count;
    if (node->kind == SPEC_NODE_SCALAR && !spec_node_is_null(node)) {
        items = &node;
        count = 1;
    } else if (node->kind != SPEC_NODE_SEQUENCE || count == 0) {
        return type_error(node, key, "a non-empty list of source, target, test, source_test", err);
    }
    bool chosen[AKT_SPLIT_COUNT] = { false };
    for (size_t i = 0; i < count; i++) {
        int split;
        int status = parse_word(items[i], key, split_words, &split, err);
        if (status != AKT_OK)
            return status;
        if (chosen[split]) {
            char where[512];
            spec_node_where(items[i], where, sizeof where);
            return akt_error_set(err, AKT_ERR_INPUT, "%s: %s: split %s given twice", where, key,
                                 split_words[split]);
        }
        chosen[split] = true;
    }
    memcpy(splits, chosen, sizeof chosen);
    return AKT_OK;
}

static int set_classes(int *classes, const spec_node *node, const char *key, akt_error *err)
{
    const char *expected = "a pair of classes like [0, 6]";
    if (node->kind != SPEC_NODE_SEQUENCE || node->count != 2)
        return type_error(node, key, expected, err);
    for (int i = 0; i < 2; i++) {
        long value;
        if (!text_to_integer(node->items[i]->kind == SPEC_NODE_SCALAR ? node->items[i]->text : "", &value) ||
            value < -1000 || value > 1000)
            return type_error(node->items[i], key, "an integer class", err);
        classes[i] = (int)value;
    }
    return AKT_OK;
}

/* A method name: a plain word of lowercase letters, digits and underscores. Which names exist
 * is the solve layer's registry's business, so only the form is checked here; where it was
 * written is kept for that later check's message. */
static int set_name(akt_spec *spec, char **field, const spec_node *value, const char *key,
                    akt_error *err)
{
    bool ok = value->kind == SPEC_NODE_SCALAR && !spec_node_is_null(value) && value->text[0] &&
              islower((unsigned char)value->text[0]);
    for (const char *c = ok ? value->text : ""; *c; c++)
        ok = ok && (islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_');
    if (!ok)
        return type_error(value, key, "a method name (auto, exact, lazy, population, convex, or a "
                          "registered one)", err);
    char where[512];
    if (value->origin->is_file || value->origin->name[0] != '(')
        spec_node_where(value, where, sizeof where);
    else /* the built-in default */
        snprintf(where, sizeof where, "%s (default)", key);
    char *name = strdup(value->text), *at = strdup(where);
    if (!name || !at) {
        free(name);
        free(at);
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory reading the spec");
    }
    free(*field);
    *field = name;
    free(spec->solver.method_where);
    spec->solver.method_where = at;
    return AKT_OK;
}

int spec_key_set(akt_spec *spec, size_t index, const spec_node *value, akt_error *err)
{
    const spec_key *key = &spec_keys[index];
    void *field = (char *)spec + key->offset;
    switch (key->type) {
    case KEY_SEED: return set_seed(field, value, key->name, err);
    case KEY_INTEGER: return parse_integer(value, key->name, field, err);
    case KEY_NUMBER: return parse_number(value, key->name, field, err);
    case KEY_TIME: return set_time(field, value, key->name, err);
    case KEY_BOOLEAN: return set_boolean(field, value, key->name, err);
    case KEY_WORD: {
        int word;
        int status = parse_word(value, key->name, key->words, &word, err);
        if (status == AKT_OK)
            memcpy(field, &word, sizeof word);
        return status;
    }
    case KEY_PATH:
        if (value->kind != SPEC_NODE_SCALAR || spec_node_is_null(value))
            return type_error(value, key->name, "a file name", err);
        return set_string(field, resolve_path(spec->directory, value->text), err);
    case KEY_OUTPUT:
        if (spec_node_is_null(value)) {
            free(*(char **)field);
            *(char **)field = NULL;
            return AKT_OK;
        }
        if (value->kind != SPEC_NODE_SCALAR)
            return type_error(value, key->name, "a file name or null", err);
        return set_string(field, strdup(value->text), err);
    case KEY_NAME: return set_name(spec, field, value, key->name, err);
    case KEY_HERMITE: return set_hermite(field, value, key->name, err);
    case KEY_REGIMES: return set_regimes(field, value, key->name, err);
    case KEY_CLASSES: return set_classes(field, value, key->name, err);
    case KEY_SPLITS: return set_splits(field, value, key->name, err);
    }
    return akt_error_set(err, AKT_ERR_INPUT, "%s: unsupported key type", key->name);
}
