/* spec_tree.c: YAML text -> a tree of nodes that remember line and column.
 *
 * libyaml's event API gives marks for every scalar and collection; its document API would too,
 * but keeping our own small tree lets the key walker (spec.c) be written over one node type and
 * lets every later validation error point at the value the user wrote. Anchors and aliases are
 * refused: a spec has no use for them and they would make "where did this come from" ambiguous. */
#include "spec/spec_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* Deep enough for any sensible spec; a deeper document is refused rather than recursed into. */
#define SPEC_TREE_MAX_DEPTH 64

typedef struct {
    spec_node *stack[SPEC_TREE_MAX_DEPTH];
    size_t depth;
    spec_node *root;
    const spec_origin *origin;
    akt_error *err;
} tree_builder;

void spec_node_where(const spec_node *node, char *buffer, size_t size)
{
    if (node->origin->is_file)
        snprintf(buffer, size, "%s:%zu:%zu", node->origin->name, node->line, node->column);
    else
        snprintf(buffer, size, "--set %s", node->origin->name);
}

static int tree_error_at(const tree_builder *builder, yaml_mark_t mark, const char *problem)
{
    if (builder->origin->is_file)
        return akt_error_set(builder->err, AKT_ERR_INPUT, "%s:%zu:%zu: %s", builder->origin->name,
                             mark.line + 1, mark.column + 1, problem);
    return akt_error_set(builder->err, AKT_ERR_INPUT, "--set %s: %s", builder->origin->name, problem);
}

void spec_tree_free(spec_node *node)
{
    if (!node)
        return;
    for (size_t i = 0; i < node->count; i++)
        spec_tree_free(node->items[i]);
    free(node->items);
    free(node->text);
    free(node);
}

bool spec_node_is_null(const spec_node *node)
{
    if (!node)
        return true;
    if (node->kind != SPEC_NODE_SCALAR || !node->plain)
        return false;
    const char *t = node->text;
    return !*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL");
}

static spec_node *node_new(spec_node_kind kind, yaml_mark_t mark, const spec_origin *origin)
{
    spec_node *node = calloc(1, sizeof *node);
    if (!node)
        return NULL;
    node->kind = kind;
    node->line = mark.line + 1;
    node->column = mark.column + 1;
    node->origin = origin;
    return node;
}

static int node_append(spec_node *parent, spec_node *child)
{
    spec_node **items = realloc(parent->items, (parent->count + 1) * sizeof *items);
    if (!items)
        return AKT_ERR_MEMORY;
    parent->items = items;
    parent->items[parent->count++] = child;
    return AKT_OK;
}

/* Hangs a finished node on the open collection (or makes it the root). */
static int builder_attach(tree_builder *builder, spec_node *node, yaml_mark_t mark)
{
    if (builder->depth == 0) {
        builder->root = node;
        return AKT_OK;
    }
    spec_node *parent = builder->stack[builder->depth - 1];
    bool is_key = parent->kind == SPEC_NODE_MAPPING && parent->count % 2 == 0;
    if (is_key && node->kind != SPEC_NODE_SCALAR) {
        spec_tree_free(node);
        return tree_error_at(builder, mark, "a mapping key must be a scalar");
    }
    if (node_append(parent, node) != AKT_OK) {
        spec_tree_free(node);
        return akt_error_set(builder->err, AKT_ERR_MEMORY, "out of memory reading the spec");
    }
    return AKT_OK;
}

static int builder_scalar(tree_builder *builder, const yaml_event_t *event)
{
    spec_node *node = node_new(SPEC_NODE_SCALAR, event->start_mark, builder->origin);
    if (node)
        node->text = strdup((const char *)event->data.scalar.value);
    if (!node || !node->text) {
        spec_tree_free(node);
        return akt_error_set(builder->err, AKT_ERR_MEMORY, "out of memory reading the spec");
    }
    node->plain = event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return builder_attach(builder, node, event->start_mark);
}

static int builder_open(tree_builder *builder, const yaml_event_t *event, spec_node_kind kind)
{
    if (builder->depth == SPEC_TREE_MAX_DEPTH)
        return tree_error_at(builder, event->start_mark, "nesting too deep");
    spec_node *node = node_new(kind, event->start_mark, builder->origin);
    if (!node)
        return akt_error_set(builder->err, AKT_ERR_MEMORY, "out of memory reading the spec");
    int status = builder_attach(builder, node, event->start_mark);
    if (status != AKT_OK)
        return status;
    builder->stack[builder->depth++] = node;
    return AKT_OK;
}

/* Handles one event; *done is set at the end of the stream. */
static int builder_event(tree_builder *builder, const yaml_event_t *event, bool *done)
{
    switch (event->type) {
    case YAML_SCALAR_EVENT:
        return builder_scalar(builder, event);
    case YAML_SEQUENCE_START_EVENT:
        return builder_open(builder, event, SPEC_NODE_SEQUENCE);
    case YAML_MAPPING_START_EVENT:
        return builder_open(builder, event, SPEC_NODE_MAPPING);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        builder->depth--;
        return AKT_OK;
    case YAML_ALIAS_EVENT:
        return tree_error_at(builder, event->start_mark, "aliases are not supported in a spec");
    case YAML_DOCUMENT_START_EVENT:
        if (builder->root)
            return tree_error_at(builder, event->start_mark, "a spec is a single YAML document");
        return AKT_OK;
    case YAML_STREAM_END_EVENT:
        *done = true;
        return AKT_OK;
    default:
        return AKT_OK;
    }
}

static int parser_failure(tree_builder *builder, const yaml_parser_t *parser)
{
    if (parser->error == YAML_MEMORY_ERROR)
        return akt_error_set(builder->err, AKT_ERR_MEMORY, "out of memory reading the spec");
    char problem[AKT_ERROR_MESSAGE_SIZE / 2];
    if (parser->context)
        snprintf(problem, sizeof problem, "malformed YAML: %s %s", parser->problem, parser->context);
    else
        snprintf(problem, sizeof problem, "malformed YAML: %s",
                 parser->problem ? parser->problem : "unreadable");
    return tree_error_at(builder, parser->problem_mark, problem);
}

int spec_tree_parse(spec_node **root, const char *text, const spec_origin *origin, akt_error *err)
{
    *root = NULL;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory reading the spec");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    tree_builder builder = { .origin = origin, .err = err };
    int status = AKT_OK;
    for (bool done = false; !done && status == AKT_OK;) {
        yaml_event_t event;
        if (!yaml_parser_parse(&parser, &event)) {
            status = parser_failure(&builder, &parser);
            break;
        }
        status = builder_event(&builder, &event, &done);
        yaml_event_delete(&event);
    }
    yaml_parser_delete(&parser);
    if (status != AKT_OK) {
        spec_tree_free(builder.root);
        return status;
    }
    *root = builder.root;
    return AKT_OK;
}

void spec_format_double(double value, char *buffer, size_t size)
{
    /* Integers print as integers (20, not 2e+01); below 2^53 they are exact. The range test
     * comes first: converting a larger double to long long is undefined behaviour. */
    if (value > -9007199254740992.0 && value < 9007199254740992.0 &&
        value == (double)(long long)value) {
        snprintf(buffer, size, "%lld", (long long)value);
        return;
    }
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buffer, size, "%.*g", digits, value);
        if (strtod(buffer, NULL) == value)
            return;
    }
}
