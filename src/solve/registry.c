/* registry.c: the methods a spec may name, and how `auto` picks one per regime.
 *
 * The built-in methods come first, in the order auto asks them (exact, convex, population; lazy
 * is never auto's choice: it is how a user asks for the gamma -> 0 limit). Registered methods
 * follow. The table is process-wide and grows only by akt_method_register; solves read it. */
#include "akt/solve.h"

#include <stdio.h>
#include <string.h>

/* Room for the built-ins and a few registered methods. */
#define REGISTRY_CAPACITY 16

static const akt_method_type *registry[REGISTRY_CAPACITY] = {
    &akt_method_exact, &akt_method_convex, &akt_method_population, &akt_method_lazy,
};
static size_t registered = 4;

const akt_method_type *akt_method_find(const char *name)
{
    for (size_t i = 0; name && i < registered; i++)
        if (!strcmp(registry[i]->name, name))
            return registry[i];
    return NULL;
}

static bool plain_word(const char *name)
{
    if (!name || !(name[0] >= 'a' && name[0] <= 'z'))
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return true;
}

int akt_method_register(const akt_method_type *type, akt_error *err)
{
    if (!type || !plain_word(type->name) || !strcmp(type->name, "auto"))
        return akt_error_set(err, AKT_ERR_INPUT, "method registry: a method needs a plain "
                             "lowercase name other than auto");
    if (akt_method_find(type->name))
        return akt_error_set(err, AKT_ERR_INPUT, "method registry: a method called %s is "
                             "already registered", type->name);
    if (registered == REGISTRY_CAPACITY)
        return akt_error_set(err, AKT_ERR_MEMORY, "method registry: full (%d methods)",
                             REGISTRY_CAPACITY);
    registry[registered++] = type;
    return AKT_OK;
}

void akt_method_names(char *buffer, size_t size)
{
    size_t used = (size_t)snprintf(buffer, size, "auto");
    for (size_t i = 0; i < registered && used < size; i++)
        used += (size_t)snprintf(buffer + used, size - used, ", %s", registry[i]->name);
}

/* Edit distance of two short words (for "did you mean"), capped at 3. */
static size_t distance(const char *a, const char *b)
{
    size_t n = strlen(b), row[64];
    if (n >= 64 || strlen(a) >= 64)
        return 3;
    for (size_t j = 0; j <= n; j++)
        row[j] = j;
    for (size_t i = 1; a[i - 1]; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= n; j++) {
            size_t substitute = diagonal + (a[i - 1] != b[j - 1]);
            diagonal = row[j];
            size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            row[j] = substitute < best ? substitute : best;
        }
    }
    return row[n] < 3 ? row[n] : 3;
}

int akt_method_check_name(const akt_spec *spec, akt_error *err)
{
    const char *name = spec->solver.method;
    if (name && (!strcmp(name, "auto") || akt_method_find(name)))
        return AKT_OK;
    const char *closest = NULL;
    size_t best = 3;
    for (size_t i = 0; name && i < registered; i++) {
        size_t d = distance(name, registry[i]->name);
        if (d < best) {
            best = d;
            closest = registry[i]->name;
        }
    }
    char names[512];
    akt_method_names(names, sizeof names);
    const char *where = spec->solver.method_where ? spec->solver.method_where : "solver.method";
    if (closest)
        return akt_error_set(err, AKT_ERR_INPUT, "%s: solver.method: unknown value '%s' (did you "
                             "mean '%s'? methods: %s)", where, name ? name : "", closest, names);
    return akt_error_set(err, AKT_ERR_INPUT, "%s: solver.method: unknown value '%s' (methods: %s)",
                         where, name ? name : "", names);
}

static const akt_method_type *resolve_auto(const akt_spec *spec, akt_regime regime)
{
    for (size_t i = 0; i < registered; i++)
        if (registry[i]->preferred && registry[i]->preferred(spec, regime))
            return registry[i];
    return &akt_method_population;
}

int akt_method_resolve(const akt_spec *spec, akt_regime regime, const akt_method_type **method,
                       akt_error *err)
{
    int status = akt_method_check_name(spec, err);
    if (status != AKT_OK)
        return status;
    const akt_method_type *chosen = !strcmp(spec->solver.method, "auto")
                                        ? resolve_auto(spec, regime)
                                        : akt_method_find(spec->solver.method);
    bool served = regime == AKT_REGIME_SOURCE   ? chosen->source != NULL
                  : regime == AKT_REGIME_SCRATCH ? chosen->scratch != NULL
                  : regime == AKT_REGIME_READOUT ? chosen->readout_kernel != NULL
                                                 : chosen->joint != NULL;
    if (!served)
        return akt_error_set(err, AKT_ERR_INPUT, "solver.method: regime %s: method %s does not "
                             "serve it", akt_regime_name(regime), chosen->name);
    if (chosen->applies && (status = chosen->applies(spec, regime, err)) != AKT_OK)
        return status;
    *method = chosen;
    return AKT_OK;
}
