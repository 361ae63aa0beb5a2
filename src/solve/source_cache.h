/* source_cache.h: what transfer.c needs from the source cache and nobody else does.
 *
 * The public face (akt_source_cache_alloc/free/stats, akt_solver_set_cache) is in solve.h. Here:
 * looking a source phase up, making room for a new one under the memory limit, and keeping it.
 * The cache does not know what a method's source state is: it holds an opaque pointer with its
 * destructor and its size; the solve layer builds and reads the states with the method's
 * operations, and the method says which spec keys its source phase reads. */
#ifndef AKT_SOURCE_CACHE_INTERNAL_H
#define AKT_SOURCE_CACHE_INTERNAL_H

#include <stdbool.h>

#include "akt/data.h"
#include "akt/method.h"
#include "akt/solve.h"
#include "akt/spec.h"

/* The state kept for the source phase of (spec, data) by method, or NULL. A match needs the
 * same method, equal values of the method's source keys and byte-equal source and source-test
 * splits. On a hit
 * the kept source result is copied to *result and the entry becomes the most recently used.
 * Counts a hit or a miss. */
void *akt_source_cache_find(akt_source_cache *cache, const akt_spec *spec, const akt_data *data,
                            const akt_method_type *method, akt_result *result);

/* Prepares to keep a new source state of about state_gib (the copies of the source splits the
 * cache adds are counted here) computed by a solve whose own peak is solve_gib, while data are
 * held: evicts least recently used entries until a slot is free and data + entries + solve +
 * new state fit in AKT_RESOURCES_MEMORY_SHARE of the machine's memory. False when they do not
 * fit even with the cache emptied: the caller then keeps nothing, and the solve runs as
 * without a cache (the cache never makes a solve exceed the limit the refusal uses). */
bool akt_source_cache_reserve(akt_source_cache *cache, const akt_data *data, double solve_gib,
                              double state_gib);

/* After a hit: evicts least recently used entries other than the one just found (the most
 * recently used) while data + entries + the solve's own peak solve_gib exceed the limit. */
void akt_source_cache_fit(akt_source_cache *cache, const akt_data *data, double solve_gib);

/* Keeps state (owned by the cache from now on: freed by free_state on eviction) with the source
 * result of the run that made it, under the key of (spec, data, method). Best effort: when the
 * copies of the splits do not fit in memory, state is freed at once and false returned (the
 * solve that made it is unaffected). state_gib: the state's own memory. */
bool akt_source_cache_keep(akt_source_cache *cache, const akt_spec *spec, const akt_data *data,
                           const akt_method_type *method, const akt_result *result, void *state,
                           void (*free_state)(void *), double state_gib);

#endif
