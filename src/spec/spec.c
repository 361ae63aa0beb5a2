/* spec.c: loading a spec: YAML file or string + --set overrides -> defaults -> validated struct.
 *
 * The YAML becomes a tree of nodes with marks (spec_tree.c); this file walks that tree against
 * the key table (spec_keys.c): sections recurse, leaves go to their typed parser, anything else
 * is an unknown key with a did-you-mean suggestion. Overrides are applied through the same walk
 * (a "--set a.b=v" is the tree {a: {b: v}}), then each key the user did not give gets its task's
 * default, parsed from YAML text like everything else, and spec_check.c validates. The loader
 * remembers which node set each key so that every error points at the text responsible. */
/* realpath is an XSI function in glibc. */
#define _XOPEN_SOURCE 700

#include "spec/spec_internal.h"

#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Room for the key table; spec_keys.c holds fewer (checked at load). */
#define SPEC_KEY_CAPACITY 64
/* Room for the children of one section when listing or suggesting names. */
#define SPEC_CHILD_CAPACITY 32

typedef struct {
    akt_spec *spec;
    const spec_node *set_by[SPEC_KEY_CAPACITY];   /* node that set each key; NULL = default */
    const spec_node **sweep_by;                   /* per sweep axis, the node that gave it */
    spec_node **trees;                            /* every parsed tree, freed at the end */
    size_t tree_count;
    spec_origin file_origin;
    spec_origin *override_origins;
    akt_error *err;
} loader;

static const spec_origin default_origin = { "(built-in default)", false };

static int keep_tree(loader *l, spec_node *tree)
{
    spec_node **trees = realloc(l->trees, (l->tree_count + 1) * sizeof *trees);
    if (!trees) {
        spec_tree_free(tree);
        return akt_out_of_memory(l->err, "the spec");
    }
    l->trees = trees;
    l->trees[l->tree_count++] = tree;
    return AKT_OK;
}

/* Parses text into a tree owned by the loader; an empty text is a null scalar. */
static int parse_kept(loader *l, const char *text, const spec_origin *origin, spec_node **out)
{
    int status = spec_tree_parse(out, text, origin, l->err);
    if (status != AKT_OK)
        return status;
    if (!*out) {
        *out = calloc(1, sizeof **out);
        if (!*out || !((*out)->text = strdup(""))) {
            free(*out);
            return akt_out_of_memory(l->err, "the spec");
        }
        (*out)->plain = true;
        (*out)->line = (*out)->column = 1;
        (*out)->origin = origin;
    }
    return keep_tree(l, *out);
}

static char *join_name(const char *section, const char *leaf)
{
    size_t size = strlen(section) + strlen(leaf) + 2;
    char *name = malloc(size);
    if (name)
        snprintf(name, size, "%s%s%s", section, *section ? "." : "", leaf);
    return name;
}

/* ---- unknown keys and suggestions ----------------------------------------------------- */

/* The names directly under section ("" is the root), each once, NULL-terminated. */
static void section_children(const char *section, const char *children[SPEC_CHILD_CAPACITY],
                             char storage[SPEC_CHILD_CAPACITY][64])
{
    size_t length = strlen(section), count = 0;
    if (length == 0)
        children[count++] = "sweep";
    for (size_t i = 0; i < spec_key_count && count + 1 < SPEC_CHILD_CAPACITY; i++) {
        const char *name = spec_keys[i].name;
        if (length && (strncmp(name, section, length) || name[length] != '.'))
            continue;
        const char *rest = name + length + (length ? 1 : 0);
        size_t piece = strcspn(rest, ".");
        snprintf(storage[count], 64, "%.*s", (int)piece, rest);
        bool seen = false;
        for (size_t c = 0; c < count; c++)
            seen = seen || !strcmp(children[c], storage[count]);
        if (!seen) {
            children[count] = storage[count];
            count++;
        }
    }
    children[count] = NULL;
}

/* Finds the first component of name that is not known, and suggests a replacement for it:
 * "sorce.gamma" -> "source.gamma", "source.gama" -> "source.gamma". */
static int unknown_key(loader *l, const char *name, const char *where)
{
    char prefix[256] = "";
    const char *rest = name;
    for (;;) {
        size_t piece = strcspn(rest, ".");
        char candidate[512];
        snprintf(candidate, sizeof candidate, "%s%s%.*s", prefix, *prefix ? "." : "", (int)piece, rest);
        bool known = spec_key_find(candidate) >= 0 || spec_section_exists(candidate) ||
                     !strcmp(candidate, "sweep");
        if (!known || !rest[piece]) {
            const char *children[SPEC_CHILD_CAPACITY];
            char storage[SPEC_CHILD_CAPACITY][64], component[128];
            snprintf(component, sizeof component, "%.*s", (int)piece, rest);
            section_children(prefix, children, storage);
            const char *suggestion = spec_suggest(component, children);
            if (suggestion)
                return akt_error_set(l->err, AKT_ERR_INPUT, "%s: unknown key '%s'; did you mean '%s%s%s%s'?",
                                     where, name, prefix, *prefix ? "." : "", suggestion, rest + piece);
            char known_list[512] = "";
            for (size_t c = 0; children[c]; c++)
                snprintf(known_list + strlen(known_list), sizeof known_list - strlen(known_list), "%s%s",
                         c ? ", " : "", children[c]);
            return akt_error_set(l->err, AKT_ERR_INPUT, "%s: unknown key '%s' (known%s%s: %s)", where, name,
                                 *prefix ? " in " : "", prefix, known_list);
        }
        if (strlen(candidate) >= sizeof prefix)
            return akt_error_set(l->err, AKT_ERR_INPUT, "%s: unknown key '%s'", where, name);
        memcpy(prefix, candidate, strlen(candidate) + 1);
        rest += piece + 1;
    }
}

static int check_duplicates(loader *l, const spec_node *map, const char *section)
{
    for (size_t j = 2; j < map->count; j += 2)
        for (size_t i = 0; i < j; i += 2) {
            const spec_node *first = map->items[i], *again = map->items[j];
            if (strcmp(first->text, again->text))
                continue;
            char where[512];
            spec_node_where(again, where, sizeof where);
            if (again->origin->is_file)
                return akt_error_set(l->err, AKT_ERR_INPUT, "%s: duplicate key '%s%s%s' (first given at line %zu)",
                                     where, section, *section ? "." : "", again->text, first->line);
            return akt_error_set(l->err, AKT_ERR_INPUT, "%s: duplicate key '%s%s%s'", where, section,
                                 *section ? "." : "", again->text);
        }
    return AKT_OK;
}

/* ---- sweep ---------------------------------------------------------------------------- */

/* "linspace(a, b, n)" or "logspace(a, b, n)" with numbers a, b and an integer n >= 1. The grid
 * is expanded by the sweep code; here only its form is checked. */
static bool is_generator(const char *text)
{
    double a, b;
    long n;
    int used = -1;
    if (!strncmp(text, "linspace", 8))
        sscanf(text, "linspace ( %lf , %lf , %ld ) %n", &a, &b, &n, &used);
    else if (!strncmp(text, "logspace", 8))
        sscanf(text, "logspace ( %lf , %lf , %ld ) %n", &a, &b, &n, &used);
    return used >= 0 && (size_t)used == strlen(text) && n >= 1;
}

/* Checks one grid value by parsing it as the key would, on a scratch spec. */
static int check_sweep_value(loader *l, size_t index, const spec_node *value)
{
    akt_spec scratch;
    memset(&scratch, 0, sizeof scratch);
    scratch.file = l->spec->file;
    scratch.directory = l->spec->directory;
    int status = spec_key_set(&scratch, index, value, l->err);
    if (status == AKT_OK)
        status = spec_check_key(&scratch, index, value, l->err);
    scratch.file = scratch.directory = NULL;
    akt_spec_free(&scratch);
    return status;
}

/* A generator is kept as raw text and printed back by akt_spec_to_yaml, so it must survive
 * that round trip: control characters (line breaks folded by YAML) are refused. */
static bool has_control_characters(const char *text)
{
    for (; *text; text++)
        if ((unsigned char)*text < 0x20 || *text == 0x7f)
            return true;
    return false;
}

static int sweep_values(loader *l, size_t index, const spec_node *value, akt_sweep_axis *axis)
{
    const spec_key *key = &spec_keys[index];
    bool numeric = key->type == KEY_NUMBER || key->type == KEY_INTEGER || key->type == KEY_TIME;
    bool generator = value->kind == SPEC_NODE_SCALAR && is_generator(value->text);
    if ((value->kind != SPEC_NODE_SEQUENCE && !generator) || (generator && !numeric) ||
        (generator && has_control_characters(value->text))) {
        char where[512];
        spec_node_where(value, where, sizeof where);
        return akt_error_set(l->err, AKT_ERR_INPUT, "%s: sweep.%s: expected a list of values%s", where,
                             key->name, numeric ? " or \"linspace(a, b, n)\" / \"logspace(a, b, n)\"" : "");
    }
    size_t count = generator ? 1 : value->count;
    axis->values = calloc(count ? count : 1, sizeof *axis->values);
    if (!axis->values)
        return akt_out_of_memory(l->err, "the spec");
    for (size_t i = 0; i < count; i++) {
        const spec_node *item = generator ? value : value->items[i];
        int status = generator ? AKT_OK : check_sweep_value(l, index, item);
        if (status != AKT_OK)
            return status;
        if (!(axis->values[i] = strdup(item->text)))
            return akt_out_of_memory(l->err, "the spec");
        axis->count = i + 1;
    }
    return AKT_OK;
}

static void free_axis(akt_sweep_axis *axis)
{
    for (size_t i = 0; i < axis->count; i++)
        free(axis->values[i]);
    free(axis->values);
    free(axis->key);
}

/* One axis: key_where locates the key (for unknown keys), value is the grid. A later axis with
 * the same key (an override) replaces the earlier one. */
static int apply_sweep_axis(loader *l, const char *name, const char *key_where, const spec_node *value)
{
    int index = spec_key_find(name);
    if (index < 0) {
        const char *names[SPEC_KEY_CAPACITY + 1];
        for (size_t i = 0; i < spec_key_count; i++)
            names[i] = spec_keys[i].name;
        names[spec_key_count] = NULL;
        const char *suggestion = spec_suggest(name, names);
        if (suggestion)
            return akt_error_set(l->err, AKT_ERR_INPUT, "%s: sweep: unknown key '%s'; did you mean '%s'?",
                                 key_where, name, suggestion);
        return akt_error_set(l->err, AKT_ERR_INPUT, "%s: sweep: unknown key '%s'", key_where, name);
    }
    spec_key_type type = spec_keys[index].type;
    if (type == KEY_HERMITE || type == KEY_REGIMES || type == KEY_CLASSES || type == KEY_SPLITS)
        return akt_error_set(l->err, AKT_ERR_INPUT, "%s: sweep: %s is not a scalar key and cannot be swept",
                             key_where, name);
    /* The task decides which keys exist, so one sweep cannot span tasks. */
    if (!strcmp(name, "data.task"))
        return akt_error_set(l->err, AKT_ERR_INPUT, "%s: sweep: data.task cannot be swept", key_where);
    akt_sweep_axis axis = { 0 };
    int status = (axis.key = strdup(name)) ? sweep_values(l, (size_t)index, value, &axis)
                                           : akt_out_of_memory(l->err, "the spec");
    if (status != AKT_OK) {
        free_axis(&axis);
        return status;
    }
    akt_spec *spec = l->spec;
    size_t slot = 0;
    while (slot < spec->sweep_count && strcmp(spec->sweep[slot].key, name))
        slot++;
    if (slot == spec->sweep_count) {
        akt_sweep_axis *axes = realloc(spec->sweep, (slot + 1) * sizeof *axes);
        const spec_node **by = realloc(l->sweep_by, (slot + 1) * sizeof *by);
        if (axes)
            spec->sweep = axes;
        if (by)
            l->sweep_by = by;
        if (!axes || !by) {
            free_axis(&axis);
            return akt_out_of_memory(l->err, "the spec");
        }
        spec->sweep_count++;
    } else {
        free_axis(&spec->sweep[slot]);
    }
    spec->sweep[slot] = axis;
    l->sweep_by[slot] = value;
    return AKT_OK;
}

static int apply_sweep(loader *l, const spec_node *value)
{
    if (spec_node_is_null(value))
        return AKT_OK;
    if (value->kind != SPEC_NODE_MAPPING) {
        char where[512];
        spec_node_where(value, where, sizeof where);
        return akt_error_set(l->err, AKT_ERR_INPUT, "%s: sweep: expected a mapping from key to values", where);
    }
    int status = check_duplicates(l, value, "sweep");
    for (size_t i = 0; status == AKT_OK && i + 1 < value->count; i += 2) {
        char where[512];
        spec_node_where(value->items[i], where, sizeof where);
        status = apply_sweep_axis(l, value->items[i]->text, where, value->items[i + 1]);
    }
    return status;
}

/* ---- the walk ------------------------------------------------------------------------- */

static int apply(loader *l, const char *name, const char *where, const spec_node *value);

static int apply_section(loader *l, const char *name, const spec_node *value)
{
    if (spec_node_is_null(value))
        return AKT_OK;
    if (value->kind != SPEC_NODE_MAPPING) {
        char where[512];
        spec_node_where(value, where, sizeof where);
        return akt_error_set(l->err, AKT_ERR_INPUT, "%s: %s: expected a mapping of keys", where,
                             *name ? name : "the spec");
    }
    int status = check_duplicates(l, value, name);
    for (size_t i = 0; status == AKT_OK && i + 1 < value->count; i += 2) {
        char where[512];
        char *child = join_name(name, value->items[i]->text);
        if (!child)
            return akt_out_of_memory(l->err, "the spec");
        spec_node_where(value->items[i], where, sizeof where);
        status = apply(l, child, where, value->items[i + 1]);
        free(child);
    }
    return status;
}

/* Sets the key or walks the section called name; where locates the key itself. */
static int apply(loader *l, const char *name, const char *where, const spec_node *value)
{
    if (!strcmp(name, "sweep"))
        return apply_sweep(l, value);
    if (!strncmp(name, "sweep.", 6))
        return apply_sweep_axis(l, name + 6, where, value);
    int index = spec_key_find(name);
    if (index >= 0) {
        int status = spec_key_set(l->spec, (size_t)index, value, l->err);
        if (status == AKT_OK)
            l->set_by[index] = value;
        return status;
    }
    if (spec_section_exists(name))
        return apply_section(l, name, value);
    return unknown_key(l, name, where);
}

/* "--set key=value": value is YAML (a scalar or a flow collection). */
static int apply_override(loader *l, const char *text, spec_origin *origin)
{
    origin->name = text;
    origin->is_file = false;
    const char *equals = strchr(text, '=');
    if (!equals)
        return akt_error_set(l->err, AKT_ERR_INPUT, "--set %s: expected key=value", text);
    size_t length = (size_t)(equals - text);
    while (length && text[length - 1] == ' ')
        length--;
    if (length == 0)
        return akt_error_set(l->err, AKT_ERR_INPUT, "--set %s: empty key", text);
    char name[256], where[512];
    snprintf(name, sizeof name, "%.*s", (int)length, text);
    snprintf(where, sizeof where, "--set %s", text);
    spec_node *value;
    int status = parse_kept(l, equals + 1, origin, &value);
    if (status == AKT_OK)
        status = apply(l, name, where, value);
    return status;
}

/* ---- defaults ------------------------------------------------------------------------- */

/* A key the user set that does not belong to the task is refused rather than ignored: it would
 * otherwise be silently dropped from what the solver does. */
static int refuse_foreign_keys(loader *l)
{
    akt_task task = l->spec->data.task;
    for (size_t i = 0; i < spec_key_count; i++) {
        const spec_key *key = &spec_keys[i];
        if (!l->set_by[i] || (key->tasks & TASK_BIT(task)))
            continue;
        char where[512], tasks[128];
        spec_node_where(l->set_by[i], where, sizeof where);
        spec_key_task_names(key, tasks, sizeof tasks);
        const char *reason = task == AKT_TASK_CSV && strstr(key->name, ".samples")
                                 ? "; a csv task takes its sizes from the files" : "";
        return akt_error_set(l->err, AKT_ERR_INPUT, "%s: %s does not apply to task %s (only to %s)%s",
                             where, key->name, akt_task_name(task), tasks, reason);
    }
    return AKT_OK;
}

static int refuse_foreign_sweeps(loader *l)
{
    akt_task task = l->spec->data.task;
    for (size_t a = 0; a < l->spec->sweep_count; a++) {
        const spec_key *key = &spec_keys[spec_key_find(l->spec->sweep[a].key)];
        if (key->tasks & TASK_BIT(task))
            continue;
        char where[512];
        spec_node_where(l->sweep_by[a], where, sizeof where);
        return akt_error_set(l->err, AKT_ERR_INPUT, "%s: sweep: %s does not apply to task %s", where,
                             key->name, akt_task_name(task));
    }
    return AKT_OK;
}

static int fill_default(loader *l, size_t index)
{
    spec_node *value;
    int status = parse_kept(l, spec_keys[index].fallback, &default_origin, &value);
    return status == AKT_OK ? spec_key_set(l->spec, index, value, l->err) : status;
}

static int fill_defaults(loader *l)
{
    int task = spec_key_find("data.task");
    if (!l->set_by[task]) {
        int status = fill_default(l, (size_t)task);
        if (status != AKT_OK)
            return status;
    }
    int status = refuse_foreign_keys(l);
    if (status == AKT_OK)
        status = refuse_foreign_sweeps(l);
    for (size_t i = 0; status == AKT_OK && i < spec_key_count; i++) {
        const spec_key *key = &spec_keys[i];
        if (!l->set_by[i] && key->fallback && (key->tasks & TASK_BIT(l->spec->data.task)))
            status = fill_default(l, i);
    }
    return status;
}

/* Fields that follow from others, filled so that consumers need not know the rules: the source
 * test split of a sampled task has test.samples points (DESIGN.md Decisions, Losses), and a
 * fashion_mnist test split uses the target classes, its source test split the source classes. */
static void fill_derived(akt_spec *spec)
{
    akt_split_spec *d[] = { &spec->data.source, &spec->data.target, &spec->data.test };
    for (int i = 0; i < 3; i++)
        d[i]->present = true;
    if (spec->data.task == AKT_TASK_CSV) {
        spec->data.source_test.present = spec->data.source_test.x_path != NULL;
        return;
    }
    spec->data.source_test.present = true;
    spec->data.source_test.samples = spec->data.test.samples;
    if (spec->data.task == AKT_TASK_FASHION_MNIST) {
        memcpy(spec->data.test.classes, spec->data.target.classes, sizeof spec->data.test.classes);
        memcpy(spec->data.source_test.classes, spec->data.source.classes, sizeof spec->data.source_test.classes);
    }
}

/* ---- public entry points -------------------------------------------------------------- */

/* The spec's directory made absolute, so that resolved data paths (and the YAML printed back)
 * mean the same file from wherever they are read. */
static char *absolute_directory(const char *directory)
{
    if (!directory || !*directory)
        directory = ".";
    char *real = realpath(directory, NULL);
    if (real || directory[0] == '/')
        return real ? real : strdup(directory);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return strdup(directory);
    size_t size = strlen(cwd) + strlen(directory) + 2;
    char *joined = malloc(size);
    if (joined)
        snprintf(joined, size, "%s/%s", cwd, directory);
    return joined;
}

static int load_tree(loader *l, const char *yaml, const char *const *overrides, size_t override_count)
{
    spec_node *root;
    int status = spec_tree_parse(&root, yaml, &l->file_origin, l->err);
    if (status == AKT_OK && root)
        status = keep_tree(l, root);
    if (status == AKT_OK && root) {
        char where[512];
        spec_node_where(root, where, sizeof where);
        status = apply(l, "", where, root);
    }
    if (status == AKT_OK && override_count) {
        l->override_origins = calloc(override_count, sizeof *l->override_origins);
        if (!l->override_origins)
            status = akt_out_of_memory(l->err, "the spec");
    }
    for (size_t i = 0; status == AKT_OK && i < override_count; i++)
        status = apply_override(l, overrides[i], &l->override_origins[i]);
    if (status == AKT_OK)
        status = fill_defaults(l);
    if (status == AKT_OK) {
        fill_derived(l->spec);
        status = spec_check(l->spec, l->set_by, l->err);
    }
    return status;
}

int akt_spec_load_string(akt_spec *spec, const char *yaml, const char *name, const char *directory,
                         const char *const *overrides, size_t override_count, akt_error *err)
{
    memset(spec, 0, sizeof *spec);
    if (spec_key_count > SPEC_KEY_CAPACITY)
        return akt_error_set(err, AKT_ERR_INPUT, "spec key table larger than SPEC_KEY_CAPACITY");
    spec->file = strdup(name ? name : "<string>");
    spec->directory = absolute_directory(directory);
    if (!spec->file || !spec->directory) {
        akt_spec_free(spec);
        return akt_out_of_memory(err, "the spec");
    }
    loader l = { .spec = spec, .file_origin = { spec->file, true }, .err = err };
    int status = load_tree(&l, yaml, overrides, override_count);
    for (size_t i = 0; i < l.tree_count; i++)
        spec_tree_free(l.trees[i]);
    free(l.trees);
    free(l.sweep_by);
    free(l.override_origins);
    if (status != AKT_OK)
        akt_spec_free(spec);
    return status;
}

/* Refuses a text that is not a spec by its bytes alone: longer than AKT_SPEC_MAX_BYTES, or
 * holding a NUL byte (libyaml and every C string would stop there and silently drop the rest).
 * The NUL's position is counted as libyaml counts marks: lines from 1, broken by \n, \r\n or a
 * lone \r; columns from 1 in characters (UTF-8 continuation bytes do not count). */
static int check_text(const char *text, size_t length, const char *name, akt_error *err)
{
    if (length > AKT_SPEC_MAX_BYTES)
        return akt_error_set(err, AKT_ERR_INPUT, "%s: larger than %zu MiB, the limit for a spec (is it a "
                             "spec?)", name, AKT_SPEC_MAX_BYTES >> 20);
    const char *nul = memchr(text, '\0', length);
    if (!nul)
        return AKT_OK;
    size_t line = 1, column = 1;
    for (const char *c = text; c < nul; c++) {
        if (*c == '\n' || (*c == '\r' && c + 1 < nul && c[1] != '\n')) {
            line++;
            column = 1;
        } else if (*c != '\r' && ((unsigned char)*c & 0xC0) != 0x80) {
            column++;
        }
    }
    return akt_error_set(err, AKT_ERR_INPUT, "%s:%zu:%zu: NUL byte in the spec (a spec is YAML text)", name,
                         line, column);
}

/* Reads at most AKT_SPEC_MAX_BYTES + 1 bytes of the file (one more than allowed, so that
 * check_text can tell a file at the limit from a longer one) into a NUL-terminated buffer. */
static char *read_file(const char *path, size_t *length, akt_error *err)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        akt_error_set(err, AKT_ERR_INPUT, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    size_t size = 0, capacity = 4096;
    const size_t most = AKT_SPEC_MAX_BYTES + 1;
    char *text = malloc(capacity);
    while (text) {
        size_t want = capacity - size - 1;
        if (want > most - size)
            want = most - size;
        size_t got = fread(text + size, 1, want, file);
        size += got;
        if (got < want || size == most)
            break;
        char *grown = realloc(text, capacity *= 2);
        if (!grown)
            free(text);
        text = grown;
    }
    int failed = ferror(file) ? errno : 0;
    fclose(file);
    if (!text) {
        akt_error_set(err, AKT_ERR_MEMORY, "%s: out of memory reading the spec", path);
        return NULL;
    }
    if (failed) {
        free(text);
        akt_error_set(err, AKT_ERR_INPUT, "%s: cannot read: %s", path, strerror(failed));
        return NULL;
    }
    text[size] = '\0';
    *length = size;
    return text;
}

int akt_spec_load_text(akt_spec *spec, const char *text, size_t length, const char *name,
                       const char *directory, const char *const *overrides, size_t override_count,
                       akt_error *err)
{
    memset(spec, 0, sizeof *spec);
    const char *label = name ? name : "<string>";
    int status = check_text(text, length, label, err);
    if (status != AKT_OK)
        return status;
    char *copy = malloc(length + 1);
    if (!copy)
        return akt_out_of_memory(err, "the spec");
    memcpy(copy, text, length);
    copy[length] = '\0';
    status = akt_spec_load_string(spec, copy, name, directory, overrides, override_count, err);
    free(copy);
    return status;
}

int akt_spec_load(akt_spec *spec, const char *path, const char *const *overrides,
                  size_t override_count, akt_error *err)
{
    memset(spec, 0, sizeof *spec);
    size_t length = 0;
    char *text = read_file(path, &length, err);
    if (!text)
        return err ? err->status : AKT_ERR_INPUT;
    int status = check_text(text, length, path, err);
    if (status != AKT_OK) {
        free(text);
        return status;
    }
    char directory[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(directory, sizeof directory, ".");
    else
        snprintf(directory, sizeof directory, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    status = akt_spec_load_string(spec, text, path, directory, overrides, override_count, err);
    free(text);
    return status;
}

int akt_spec_set(akt_spec *spec, const char *assignment, akt_error *err)
{
    /* The task decides which keys exist and the sweep is the grid being expanded: both are
     * fixed once a spec is loaded (give them to akt_spec_load instead). */
    if (!strncmp(assignment, "data.task", 9) || !strncmp(assignment, "sweep", 5) ||
        !strncmp(assignment, "data=", 5))
        return akt_error_set(err, AKT_ERR_INPUT, "--set %s: cannot change on a loaded spec", assignment);
    akt_spec changed;
    int status = akt_spec_copy(&changed, spec, err);
    if (status != AKT_OK)
        return status;
    loader l = { .spec = &changed, .err = err };
    spec_origin origin;
    status = apply_override(&l, assignment, &origin);
    if (status == AKT_OK)
        status = refuse_foreign_keys(&l);
    if (status == AKT_OK) {
        fill_derived(&changed);
        status = spec_check(&changed, l.set_by, err);
    }
    for (size_t i = 0; i < l.tree_count; i++)
        spec_tree_free(l.trees[i]);
    free(l.trees);
    free(l.sweep_by);
    if (status != AKT_OK) {
        akt_spec_free(&changed);
        return status;
    }
    akt_spec_free(spec);
    *spec = changed;
    return AKT_OK;
}

/* ---- ownership ------------------------------------------------------------------------ */

static char **string_field(akt_spec *spec, size_t index)
{
    return (char **)((char *)spec + spec_keys[index].offset);
}

static bool is_string_key(size_t index)
{
    return spec_keys[index].type == KEY_PATH || spec_keys[index].type == KEY_OUTPUT ||
           spec_keys[index].type == KEY_NAME;
}

void akt_spec_free(akt_spec *spec)
{
    if (!spec)
        return;
    for (size_t i = 0; i < spec_key_count; i++)
        if (is_string_key(i))
            free(*string_field(spec, i));
    for (size_t a = 0; a < spec->sweep_count; a++)
        free_axis(&spec->sweep[a]);
    free(spec->sweep);
    free(spec->solver.method_where);
    free(spec->file);
    free(spec->directory);
    memset(spec, 0, sizeof *spec);
}

static bool copy_string(char **field)
{
    return !*field || (*field = strdup(*field));
}

int akt_spec_copy(akt_spec *dest, const akt_spec *src, akt_error *err)
{
    *dest = *src;
    bool ok = true;
    for (size_t i = 0; i < spec_key_count; i++)
        if (is_string_key(i) && !copy_string(string_field(dest, i)))
            ok = false;
    ok = copy_string(&dest->solver.method_where) && ok;
    ok = copy_string(&dest->file) && ok;
    ok = copy_string(&dest->directory) && ok;
    dest->sweep = NULL;
    dest->sweep_count = 0;
    if (ok && src->sweep_count && !(dest->sweep = calloc(src->sweep_count, sizeof *dest->sweep)))
        ok = false;
    for (size_t a = 0; ok && a < src->sweep_count; a++) {
        akt_sweep_axis *axis = &dest->sweep[a];
        dest->sweep_count = a + 1;
        axis->key = strdup(src->sweep[a].key);
        axis->values = calloc(src->sweep[a].count ? src->sweep[a].count : 1, sizeof *axis->values);
        ok = axis->key && axis->values;
        for (size_t v = 0; ok && v < src->sweep[a].count; v++) {
            ok = (axis->values[v] = strdup(src->sweep[a].values[v])) != NULL;
            axis->count = v + 1;
        }
    }
    if (ok)
        return AKT_OK;
    /* Fields not yet duplicated still point into src: clear them before freeing dest. */
    for (size_t i = 0; i < spec_key_count; i++)
        if (is_string_key(i) && *string_field(dest, i) == *string_field((akt_spec *)src, i))
            *string_field(dest, i) = NULL;
    if (dest->solver.method_where == src->solver.method_where)
        dest->solver.method_where = NULL;
    if (dest->file == src->file)
        dest->file = NULL;
    if (dest->directory == src->directory)
        dest->directory = NULL;
    akt_spec_free(dest);
    return akt_out_of_memory(err, "the spec");
}

static bool same_string(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static bool same_key(const akt_spec *a, const akt_spec *b, size_t index)
{
    const spec_key *key = &spec_keys[index];
    const void *x = (const char *)a + key->offset, *y = (const char *)b + key->offset;
    switch (key->type) {
    case KEY_SEED: return *(const unsigned long *)x == *(const unsigned long *)y;
    case KEY_INTEGER: return *(const long *)x == *(const long *)y;
    case KEY_NUMBER:
    case KEY_TIME: return *(const double *)x == *(const double *)y;
    case KEY_BOOLEAN: return *(const bool *)x == *(const bool *)y;
    case KEY_WORD: return !memcmp(x, y, sizeof(int));
    case KEY_PATH:
    case KEY_NAME:
    case KEY_OUTPUT: return same_string(*(char *const *)x, *(char *const *)y);
    case KEY_HERMITE:
        for (int k = 0; k <= AKT_HERMITE_MAX; k++)
            if (((const double *)x)[k] != ((const double *)y)[k])
                return false;
        return true;
    case KEY_REGIMES: return !memcmp(x, y, AKT_REGIME_COUNT * sizeof(bool));
    case KEY_CLASSES: return !memcmp(x, y, 2 * sizeof(int));
    case KEY_SPLITS: return !memcmp(x, y, AKT_SPLIT_COUNT * sizeof(bool));
    }
    return false;
}

bool akt_spec_same_values(const akt_spec *a, const akt_spec *b, const char *const *keys)
{
    for (size_t k = 0; keys && keys[k]; k++) {
        int index = spec_key_find(keys[k]);
        if (index < 0 || !same_key(a, b, (size_t)index))
            return false;
    }
    return true;
}

bool akt_spec_equal(const akt_spec *a, const akt_spec *b)
{
    for (size_t i = 0; i < spec_key_count; i++)
        if (!same_key(a, b, i))
            return false;
    if (a->sweep_count != b->sweep_count)
        return false;
    for (size_t s = 0; s < a->sweep_count; s++) {
        const akt_sweep_axis *x = &a->sweep[s], *y = &b->sweep[s];
        if (strcmp(x->key, y->key) || x->count != y->count)
            return false;
        for (size_t v = 0; v < x->count; v++)
            if (strcmp(x->values[v], y->values[v]))
                return false;
    }
    return true;
}

/* The built-in quickstart (akt with no argument). Kept byte-identical to problems/quickstart.yaml;
 * the test spec_quickstart compares the two. */
const char akt_spec_quickstart_yaml[] =
    "# akt quickstart: transfer between two linear teachers at cosine 0.5 with a linear network,\n"
    "# solved exactly (moment closure, THEORY.md section 4). Run it with `akt` or `akt solve problems/quickstart.yaml`.\n"
    "seed: 1\n"
    "data:\n"
    "  task: linear\n"
    "  dim: 50\n"
    "  alignment: 0.5\n"
    "  noise: 0.1\n"
    "  source: {samples: 200}\n"
    "  target: {samples: 25}\n"
    "  test: {samples: 2000}\n"
    "network: {activation: linear}\n"
    "source: {gamma: 1.0, weight_decay: 0.05, time: 20}\n"
    "target:\n"
    "  regimes: [scratch, readout, joint]\n"
    "  gamma: 1.0\n"
    "  weight_decay: 0.05\n"
    "  elastic: 0.5\n"
    "  readout_decay: 0.01\n"
    "  readout_init: zero\n"
    "  time: 20\n"
    "solver: {method: exact}\n";
