/* random.c: the stream seeds of random.h, in one place. */
#include "akt/random.h"

uint64_t akt_splitmix64(uint64_t z)
{
    z += UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static unsigned long fold(uint64_t z)
{
    return (unsigned long)((z ^ (z >> 32)) & UINT64_C(0xffffffff));
}

unsigned long akt_data_stream_seed(unsigned long seed, unsigned purpose)
{
    /* seed * 64 + purpose is injective for purposes < 64, and splitmix64 is a bijection, so
     * distinct (seed, purpose) pairs get distinct 64-bit states before folding to 32 bits. */
    return fold(akt_splitmix64((uint64_t)seed * 64u + purpose));
}

unsigned long akt_population_stream_seed(unsigned long seed, unsigned purpose,
                                         unsigned long replica)
{
    return fold(akt_splitmix64(akt_splitmix64(akt_splitmix64((uint64_t)seed) ^ purpose) ^ replica));
}

unsigned long akt_finite_stream_seed(unsigned long seed, unsigned long seed_index,
                                     unsigned purpose)
{
    uint64_t s = akt_splitmix64((uint64_t)seed);
    s = akt_splitmix64(s ^ (uint64_t)seed_index);
    s = akt_splitmix64(s ^ (uint64_t)purpose);
    return (unsigned long)((s >> 32) ^ (s & 0xffffffffULL));
}
