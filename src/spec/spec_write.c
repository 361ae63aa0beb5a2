/* spec_write.c: a validated spec printed back as YAML (akt check) or JSON (the "spec" field of
 * the output contract).
 *
 * Both walk the key table in order and print only the keys that apply to the spec's task, so
 * the YAML is itself a valid spec that loads to an identical struct. Doubles are printed in the
 * shortest form that reads back exactly. */
#include "spec/spec_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

/* Sections nest at most three deep (data.source.x); room for a little more. */
#define WRITER_MAX_DEPTH 6

typedef struct {
    char *text;
    size_t length, capacity;
    bool failed;
    bool json;
    char open[WRITER_MAX_DEPTH][32];  /* the sections currently open */
    size_t depth;
    bool has_member[WRITER_MAX_DEPTH + 1];  /* JSON: a comma is due at this depth */
} writer;

static void put(writer *w, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void put(writer *w, const char *format, ...)
{
    if (w->failed)
        return;
    for (;;) {
        va_list args;
        va_start(args, format);
        int needed = vsnprintf(w->text + w->length, w->capacity - w->length, format, args);
        va_end(args);
        if (needed < 0) {
            w->failed = true;
            return;
        }
        if ((size_t)needed < w->capacity - w->length) {
            w->length += (size_t)needed;
            return;
        }
        size_t capacity = 2 * w->capacity + (size_t)needed;
        char *grown = realloc(w->text, capacity);
        if (!grown) {
            w->failed = true;
            return;
        }
        w->text = grown;
        w->capacity = capacity;
    }
}

static void put_json_string(writer *w, const char *text)
{
    char *quoted = akt_io_json_quoted(text);
    if (!quoted) {
        w->failed = true;
        return;
    }
    put(w, "%s", quoted);
    free(quoted);
}

/* Plain when that reads back as the same text; double-quoted otherwise. */
static void put_yaml_string(writer *w, const char *text)
{
    bool plain = *text && strcmp(text, "null") && strcmp(text, "Null") && strcmp(text, "NULL");
    for (const char *c = text; plain && *c; c++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./+-", *c) != NULL;
    if (plain) {
        put(w, "%s", text);
        return;
    }
    put(w, "\"");
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\')
            put(w, "\\%c", *c);
        else if (*c < 0x20)
            put(w, "\\x%02x", *c);
        else
            put(w, "%c", *c);
    }
    put(w, "\"");
}

static void put_string(writer *w, const char *text)
{
    if (!text)
        put(w, "null");
    else if (w->json)
        put_json_string(w, text);
    else
        put_yaml_string(w, text);
}

static void put_double(writer *w, double value)
{
    char text[64];
    spec_format_double(value, text, sizeof text);
    put(w, "%s", text);
}

/* Starts a member called name at the current depth (the value follows). */
static void begin_member(writer *w, const char *name)
{
    if (w->json) {
        put(w, "%s\"%s\": ", w->has_member[w->depth] ? ", " : "", name);
        w->has_member[w->depth] = true;
    } else {
        put(w, "%*s%s:", (int)(2 * w->depth), "", name);
    }
}

static void close_sections(writer *w, size_t keep)
{
    while (w->depth > keep) {
        w->depth--;
        if (w->json)
            put(w, "}");
    }
}

static void open_section(writer *w, const char *name, size_t length)
{
    char section[32];
    snprintf(section, sizeof section, "%.*s", (int)length, name);
    begin_member(w, section);
    put(w, w->json ? "{" : "\n");
    snprintf(w->open[w->depth], sizeof w->open[w->depth], "%s", section);
    w->depth++;
    w->has_member[w->depth] = false;
}

/* Opens and closes sections so that the leaf of dotted name can be written next; returns it. */
static const char *enter_sections(writer *w, const char *name)
{
    size_t level = 0;
    const char *rest = name;
    for (const char *dot; (dot = strchr(rest, '.')); rest = dot + 1, level++) {
        size_t length = (size_t)(dot - rest);
        bool same = level < w->depth && strlen(w->open[level]) == length &&
                    !strncmp(w->open[level], rest, length);
        if (same)
            continue;
        close_sections(w, level);
        open_section(w, rest, length);
    }
    close_sections(w, level);
    return rest;
}

static void put_word(writer *w, const char *word)
{
    put(w, w->json ? "\"%s\"" : "%s", word);
}

static void put_hermite(writer *w, const double *coefficients)
{
    put(w, "{");
    for (int k = 0, listed = 0; k <= AKT_HERMITE_MAX; k++) {
        if (coefficients[k] == 0)
            continue;
        put(w, w->json ? "%s\"%d\": " : "%s%d: ", listed++ ? ", " : "", k);
        put_double(w, coefficients[k]);
    }
    put(w, "}");
}

static void put_regimes(writer *w, const bool *regimes)
{
    put(w, "[");
    for (int r = AKT_REGIME_SOURCE + 1, listed = 0; r < AKT_REGIME_COUNT; r++) {
        if (!regimes[r])
            continue;
        put(w, "%s", listed++ ? ", " : "");
        put_word(w, akt_regime_name((akt_regime)r));
    }
    put(w, "]");
}

static void put_splits(writer *w, const bool *splits)
{
    put(w, "[");
    for (int s = 0, listed = 0; s < AKT_SPLIT_COUNT; s++) {
        if (!splits[s])
            continue;
        put(w, "%s", listed++ ? ", " : "");
        put_word(w, akt_split_name(s));
    }
    put(w, "]");
}

static const char *word_of(const spec_key *key, int value)
{
    return key->words[value];
}

static void put_value(writer *w, const akt_spec *spec, const spec_key *key)
{
    const void *field = (const char *)spec + key->offset;
    switch (key->type) {
    case KEY_SEED: put(w, "%lu", *(const unsigned long *)field); break;
    case KEY_INTEGER: put(w, "%ld", *(const long *)field); break;
    case KEY_NUMBER: put_double(w, *(const double *)field); break;
    case KEY_TIME:
        if (*(const double *)field == AKT_TIME_CONVERGE)
            put_word(w, "converge");
        else
            put_double(w, *(const double *)field);
        break;
    case KEY_BOOLEAN: put(w, "%s", *(const bool *)field ? "true" : "false"); break;
    case KEY_WORD: {
        int value;
        memcpy(&value, field, sizeof value);
        put_word(w, word_of(key, value));
        break;
    }
    case KEY_NAME: put_word(w, *(char *const *)field); break;
    case KEY_PATH:
    case KEY_OUTPUT: put_string(w, *(char *const *)field); break;
    case KEY_HERMITE: put_hermite(w, field); break;
    case KEY_REGIMES: put_regimes(w, field); break;
    case KEY_CLASSES: put(w, "[%d, %d]", ((const int *)field)[0], ((const int *)field)[1]); break;
    case KEY_SPLITS: put_splits(w, field); break;
    }
}

static bool is_printed(const akt_spec *spec, const spec_key *key)
{
    if (!(key->tasks & TASK_BIT(spec->data.task)))
        return false;
    /* The optional csv source_test split is printed only when given. */
    return key->type != KEY_PATH || *(char *const *)((const char *)spec + key->offset) != NULL ||
           key->required;
}

static void put_sweep(writer *w, const akt_spec *spec)
{
    begin_member(w, "sweep");
    if (spec->sweep_count == 0) {
        put(w, w->json ? "{}" : " {}\n");
        return;
    }
    put(w, w->json ? "{" : "\n");
    for (size_t a = 0; a < spec->sweep_count; a++) {
        const akt_sweep_axis *axis = &spec->sweep[a];
        if (w->json)
            put(w, "%s\"%s\": ", a ? ", " : "", axis->key);
        else
            put(w, "  %s: ", axis->key);
        bool generator = axis->count == 1 && (!strncmp(axis->values[0], "linspace", 8) ||
                                               !strncmp(axis->values[0], "logspace", 8));
        if (generator) {
            w->json ? put_json_string(w, axis->values[0]) : put(w, "\"%s\"", axis->values[0]);
        } else {
            put(w, "[");
            for (size_t v = 0; v < axis->count; v++) {
                put(w, "%s", v ? ", " : "");
                put_string(w, axis->values[v]);
            }
            put(w, "]");
        }
        put(w, w->json ? "" : "\n");
    }
    put(w, w->json ? "}" : "");
}

static char *write_spec(const akt_spec *spec, bool json)
{
    writer w = { .json = json, .capacity = 1024 };
    if (!(w.text = malloc(w.capacity)))
        return NULL;
    w.text[0] = '\0';
    put(&w, json ? "{" : "");
    for (size_t i = 0; i < spec_key_count; i++) {
        const spec_key *key = &spec_keys[i];
        if (!is_printed(spec, key))
            continue;
        begin_member(&w, enter_sections(&w, key->name));
        put(&w, json ? "" : " ");
        put_value(&w, spec, key);
        put(&w, json ? "" : "\n");
    }
    close_sections(&w, 0);
    put_sweep(&w, spec);
    put(&w, json ? "}" : "");
    if (w.failed) {
        free(w.text);
        return NULL;
    }
    return w.text;
}

char *akt_spec_to_yaml(const akt_spec *spec)
{
    return write_spec(spec, false);
}

char *akt_spec_to_json(const akt_spec *spec)
{
    return write_spec(spec, true);
}
