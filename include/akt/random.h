/* random.h: the seeds of every random stream, derived from (seed, purpose, index).
 *
 * Each stream is a gsl_rng_mt19937 seeded with a 32-bit value folded from a splitmix64 chain,
 * so that a stream's numbers never depend on which other streams exist, in which order or on
 * which MPI rank they run (DESIGN.md, Decisions: Randomness). The three chains below are part of
 * the documented draw order (README "How the data are drawn"): never change them. */
#ifndef AKT_RANDOM_H
#define AKT_RANDOM_H

#include <stdint.h>

/* splitmix64's output function (a bijection of 64-bit words). */
uint64_t akt_splitmix64(uint64_t z);

/* Data streams: z = sm(seed * 64 + purpose), folded z ^ (z >> 32) to 32 bits (purpose < 64). */
unsigned long akt_data_stream_seed(unsigned long seed, unsigned purpose);

/* Population streams: z = sm(sm(sm(seed) ^ purpose) ^ replica), folded the same way. */
unsigned long akt_population_stream_seed(unsigned long seed, unsigned purpose,
                                         unsigned long replica);

/* Finite-width network streams: s = sm(sm(sm(seed) ^ seed_index) ^ purpose), folded
 * (s >> 32) ^ (s & 0xffffffff). */
unsigned long akt_finite_stream_seed(unsigned long seed, unsigned long seed_index,
                                     unsigned purpose);

#endif
