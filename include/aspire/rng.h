/* rng.h — deterministic random numbers (xoshiro256**, seeded by splitmix64). The same seed gives
 * the same stream on every machine; nothing in aspire uses rand(). */
#ifndef ASPIRE_RNG_H
#define ASPIRE_RNG_H

#include "aspire/common.h"

typedef struct aspire_rng { uint64_t s[4]; int has_spare; float spare; } aspire_rng;

ASPIRE_API void aspire_rng_seed(aspire_rng *r, uint64_t seed);
ASPIRE_API uint64_t aspire_rng_u64(aspire_rng *r);
ASPIRE_API double aspire_rng_uniform(aspire_rng *r);               /* [0, 1) */
ASPIRE_API float aspire_rng_normal(aspire_rng *r);                 /* N(0, 1) */
ASPIRE_API int64_t aspire_rng_below(aspire_rng *r, int64_t n);      /* [0, n), unbiased */
ASPIRE_API void aspire_rng_shuffle(aspire_rng *r, int64_t *a, int64_t n);
/* A child stream: same parent state and key give the same child; the parent is not advanced. */
ASPIRE_API void aspire_rng_fork(const aspire_rng *parent, uint64_t key, aspire_rng *child);

#endif
