/* spec_internal.h: what the spec sources share and nobody else needs.
 *
 * A spec is read in two steps so that every later error can still point at the text it came
 * from: YAML (a file, a --set value, or a built-in default) becomes a small tree of nodes that
 * keep their line and column (spec_tree.c); the tree is then walked against a table of known keys
 * (spec.c). spec_write.c prints a validated spec back as YAML or JSON. */
#ifndef AKT_SPEC_INTERNAL_H
#define AKT_SPEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "akt/error.h"
#include "akt/spec.h"

typedef enum { SPEC_NODE_SCALAR, SPEC_NODE_MAPPING, SPEC_NODE_SEQUENCE } spec_node_kind;

/* Where a node's text came from: a file (with line:column) or one --set override. */
typedef struct {
    const char *name;        /* file name, or the whole override text "key=value" */
    bool is_file;
} spec_origin;

typedef struct spec_node {
    spec_node_kind kind;
    char *text;              /* scalar text as written (NULL for collections) */
    bool plain;              /* plain (unquoted) scalar: only these can mean null */
    size_t line, column;     /* 1-based */
    const spec_origin *origin;
    struct spec_node **items;   /* sequence items, or mapping keys and values interleaved */
    size_t count;               /* number of items (a mapping has count/2 pairs) */
} spec_node;

/* Parses one YAML document into a tree. An empty document gives *root = NULL. Errors are
 * "origin:LINE:COL: problem" (file) or "--set TEXT: problem" (override), AKT_ERR_INPUT. */
int spec_tree_parse(spec_node **root, const char *text, const spec_origin *origin, akt_error *err);

void spec_tree_free(spec_node *node);

/* True for a plain scalar meaning null ("", "~", "null", "Null", "NULL"). */
bool spec_node_is_null(const spec_node *node);

/* Writes "FILE:LINE:COL" or "--set KEY=VALUE" for node into buffer. */
void spec_node_where(const spec_node *node, char *buffer, size_t size);

/* The kinds of value a key takes; each has one parser in spec_keys.c. */
typedef enum {
    KEY_SEED,        /* non-negative integer */
    KEY_INTEGER,     /* long */
    KEY_NUMBER,      /* finite double */
    KEY_TIME,        /* positive double or the word converge */
    KEY_BOOLEAN,
    KEY_WORD,        /* one of a list of words, stored as the enum value (int) */
    KEY_NAME,        /* a plain lowercase word kept as a string (solver.method) */
    KEY_PATH,        /* input file or directory, resolved against the spec's directory */
    KEY_OUTPUT,      /* output file name or null, kept as written */
    KEY_HERMITE,     /* mapping degree -> coefficient */
    KEY_REGIMES,     /* list of regime words */
    KEY_CLASSES,     /* pair of integers */
    KEY_SPLITS       /* list of split words (source, target, test, source_test) */
} spec_key_type;

/* The range rule a key's value must satisfy (checked by spec_check_key). */
typedef enum {
    CHECK_NONE,
    CHECK_POSITIVE,        /* > 0 */
    CHECK_NONNEGATIVE,     /* >= 0 */
    CHECK_UNIT,            /* in [-1, 1] */
    CHECK_AT_LEAST_ONE,    /* integer >= 1 */
    CHECK_EVEN_PAIRS,      /* even integer >= 2: neurons come in antithetic pairs */
    CHECK_TIME,            /* > 0 or converge */
    CHECK_CLASS_PAIR,      /* two distinct classes in 0..9 */
    CHECK_HERMITE          /* some coefficient nonzero */
} spec_key_check;

#define TASK_BIT(task) (1u << (task))
#define TASKS_SYNTHETIC (TASK_BIT(AKT_TASK_LINEAR) | TASK_BIT(AKT_TASK_POLYNOMIAL))
#define TASKS_SAMPLED (TASKS_SYNTHETIC | TASK_BIT(AKT_TASK_FASHION_MNIST))
#define TASKS_ALL (TASKS_SAMPLED | TASK_BIT(AKT_TASK_CSV))

/* One leaf key of the spec: where it lives in akt_spec, what it takes, for which tasks, and
 * its default written as YAML (parsed by the same code as the user's text). */
typedef struct {
    const char *name;             /* dotted, e.g. "source.gamma" */
    spec_key_type type;
    size_t offset;                /* into akt_spec */
    unsigned tasks;               /* TASK_BIT mask of the tasks it applies to */
    const char *fallback;         /* default as YAML, NULL for none */
    spec_key_check check;
    const char *const *words;     /* KEY_WORD: NULL-terminated, index = enum value */
    bool required;                /* must be given when it applies (csv file names) */
} spec_key;

extern const spec_key spec_keys[];
extern const size_t spec_key_count;

/* Index of the key called name, or -1. */
int spec_key_find(const char *name);

/* True if name is a section (a prefix of some key, like "data.source"); "" is the root. */
bool spec_section_exists(const char *name);

/* Names of the tasks a key applies to, e.g. "linear and polynomial". */
void spec_key_task_names(const spec_key *key, char *buffer, size_t size);

/* Parses value into the key's field of spec (type rules only; ranges are spec_check_key's). */
int spec_key_set(akt_spec *spec, size_t index, const spec_node *value, akt_error *err);

/* The best suggestion for word among candidates (NULL-terminated), or NULL if none is close. */
const char *spec_suggest(const char *word, const char *const *candidates);

/* Checks the range rule of one key on spec; node (may be NULL) locates the error. */
int spec_check_key(const akt_spec *spec, size_t index, const spec_node *node, akt_error *err);

/* Every range and cross-key rule. set_by (may be NULL) gives, per key index, the node that set
 * it, so that errors point at the value the user wrote. */
int spec_check(const akt_spec *spec, const spec_node *const *set_by, akt_error *err);


/* Shortest "%.*g" text that reads back as exactly value (at most 17 digits). */
void spec_format_double(double value, char *buffer, size_t size);

#endif
