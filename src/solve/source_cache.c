/* source_cache.c: source phases kept between solves, so that a sweep over target keys runs each
 * distinct source phase once (solve.h, "sharing a source phase between solves").
 *
 * An entry is keyed by the settings the source phase reads and by copies of the data it sees.
 * The data are compared byte by byte rather than inferred from the spec's data keys: which keys
 * move the source split is a property of the generators (README "How the data are drawn"),
 * of csv files on disk and of Fashion-MNIST subsampling, and a wrong inference would silently
 * give a wrong source; comparing (P1 + Ms)(D + 1) doubles costs nothing next to a solve.
 * Entries are few (a sweep solver keeps AKT_SOURCE_CACHE_CAPACITY), so lookups are linear. */
#include "solve/source_cache.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "akt/resources.h"

#define BYTES_PER_GIB (1024.0 * 1024.0 * 1024.0)

typedef struct {
    const akt_method_type *method;
    akt_spec spec;                   /* the spec of the run that made the state (its source keys
                                        are the entry's key) */
    size_t dim;
    akt_split source, source_test;   /* copies of the splits the source phase saw */
    akt_result result;               /* the source row of the run that made the state */
    void *state;
    void (*free_state)(void *);
    double gib;                      /* state and split copies */
    unsigned long long last_use;
} source_entry;

struct akt_source_cache {
    source_entry *entries;
    size_t capacity, count;
    unsigned long long clock;
    size_t hits, misses;
};

/* Same method and the same values of every key its source phase reads. */
static bool same_settings(const source_entry *entry, const akt_spec *spec,
                          const akt_method_type *method)
{
    return entry->method == method && akt_spec_same_values(&entry->spec, spec, method->source_keys);
}

static bool same_split(const akt_split *kept, const akt_split *split)
{
    if (kept->rows != split->rows || kept->cols != split->cols)
        return false;
    size_t rows = split->rows, values = rows * split->cols;
    return (values == 0 || !memcmp(kept->x, split->x, values * sizeof *split->x)) &&
           (rows == 0 || !memcmp(kept->y, split->y, rows * sizeof *split->y));
}

static double split_gib(const akt_split *split)
{
    return (double)split->rows * (double)(split->cols + 1) * sizeof(double) / BYTES_PER_GIB;
}

static double data_gib(const akt_data *data)
{
    return split_gib(&data->source) + split_gib(&data->target) + split_gib(&data->test) +
           split_gib(&data->source_test);
}

static int copy_split(akt_split *copy, const akt_split *split)
{
    int status = akt_split_alloc(copy, split->rows, split->cols, NULL);
    if (status != AKT_OK)
        return status;
    if (split->rows > 0 && split->cols > 0)
        memcpy(copy->x, split->x, split->rows * split->cols * sizeof *copy->x);
    if (split->rows)
        memcpy(copy->y, split->y, split->rows * sizeof *copy->y);
    return AKT_OK;
}

static void free_split(akt_split *split)
{
    free(split->x);
    free(split->y);
    memset(split, 0, sizeof *split);
}

static void entry_free(source_entry *entry)
{
    if (entry->free_state)
        entry->free_state(entry->state);
    free_split(&entry->source);
    free_split(&entry->source_test);
    akt_spec_free(&entry->spec);
    memset(entry, 0, sizeof *entry);
}

akt_source_cache *akt_source_cache_alloc(size_t capacity, akt_error *err)
{
    if (capacity == 0)
        return akt_error_set(err, AKT_ERR_INPUT, "source cache: capacity must be at least 1"),
               NULL;
    akt_source_cache *cache = calloc(1, sizeof *cache);
    if (cache)
        cache->entries = calloc(capacity, sizeof *cache->entries);
    if (!cache || !cache->entries) {
        free(cache);
        return akt_error_set(err, AKT_ERR_MEMORY, "out of memory allocating a source cache"), NULL;
    }
    cache->capacity = capacity;
    return cache;
}

void akt_source_cache_free(akt_source_cache *cache)
{
    if (!cache)
        return;
    for (size_t i = 0; i < cache->count; i++)
        entry_free(&cache->entries[i]);
    free(cache->entries);
    free(cache);
}

static double held_gib(const akt_source_cache *cache)
{
    double gib = 0.0;
    for (size_t i = 0; i < cache->count; i++)
        gib += cache->entries[i].gib;
    return gib;
}

void akt_source_cache_statistics(const akt_source_cache *cache, akt_source_cache_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    if (!cache)
        return;
    stats->hits = cache->hits;
    stats->misses = cache->misses;
    stats->entries = cache->count;
    stats->gib = held_gib(cache);
}

void *akt_source_cache_find(akt_source_cache *cache, const akt_spec *spec, const akt_data *data,
                            const akt_method_type *method, akt_result *result)
{
    for (size_t i = 0; i < cache->count; i++) {
        source_entry *entry = &cache->entries[i];
        if (same_settings(entry, spec, method) && entry->dim == data->dim &&
            same_split(&entry->source, &data->source) &&
            same_split(&entry->source_test, &data->source_test)) {
            entry->last_use = ++cache->clock;
            cache->hits++;
            *result = entry->result;
            return entry->state;
        }
    }
    cache->misses++;
    return NULL;
}

static void evict_least_recent(akt_source_cache *cache)
{
    size_t oldest = 0;
    for (size_t i = 1; i < cache->count; i++)
        if (cache->entries[i].last_use < cache->entries[oldest].last_use)
            oldest = i;
    entry_free(&cache->entries[oldest]);
    cache->entries[oldest] = cache->entries[--cache->count];
    memset(&cache->entries[cache->count], 0, sizeof cache->entries[0]);
}

/* The memory a solve may plan to use (akt_resources_check's limit); unknown machine: none. */
static double memory_limit_gib(void)
{
    double physical = akt_resources_physical_gib();
    return physical > 0.0 ? AKT_RESOURCES_MEMORY_SHARE * physical : INFINITY;
}

void akt_source_cache_fit(akt_source_cache *cache, const akt_data *data, double solve_gib)
{
    double limit = memory_limit_gib();
    while (cache->count > 1 && !(data_gib(data) + solve_gib + held_gib(cache) <= limit))
        evict_least_recent(cache);
}

bool akt_source_cache_reserve(akt_source_cache *cache, const akt_data *data, double solve_gib,
                              double state_gib)
{
    double limit = memory_limit_gib();
    double needed = data_gib(data) + solve_gib + state_gib + split_gib(&data->source) +
                    split_gib(&data->source_test);
    if (!(needed <= limit)) {
        while (cache->count > 0)
            evict_least_recent(cache);
        return false;
    }
    while (cache->count > 0 &&
           (cache->count >= cache->capacity || !(needed + held_gib(cache) <= limit)))
        evict_least_recent(cache);
    return true;
}

bool akt_source_cache_keep(akt_source_cache *cache, const akt_spec *spec, const akt_data *data,
                           const akt_method_type *method, const akt_result *result, void *state,
                           void (*free_state)(void *), double state_gib)
{
    if (cache->count >= cache->capacity)
        evict_least_recent(cache);
    source_entry entry;
    memset(&entry, 0, sizeof entry);
    entry.state = state;
    entry.free_state = free_state;
    if (copy_split(&entry.source, &data->source) != AKT_OK ||
        copy_split(&entry.source_test, &data->source_test) != AKT_OK ||
        akt_spec_copy(&entry.spec, spec, NULL) != AKT_OK) {
        entry_free(&entry);
        return false;
    }
    entry.method = method;
    entry.dim = data->dim;
    entry.result = *result;
    entry.gib = state_gib + split_gib(&data->source) + split_gib(&data->source_test);
    entry.last_use = ++cache->clock;
    cache->entries[cache->count++] = entry;
    return true;
}
