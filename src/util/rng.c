/* rng.c — xoshiro256** with splitmix64 seeding, plus the draws aspire needs. */
#include "aspire/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void aspire_rng_seed(aspire_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t aspire_rng_u64(aspire_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double aspire_rng_uniform(aspire_rng *r) { return (double)(aspire_rng_u64(r) >> 11) * 0x1.0p-53; }

float aspire_rng_normal(aspire_rng *r) {
    if (r->has_spare) { r->has_spare = 0; return r->spare; }
    double u1, u2;
    do { u1 = aspire_rng_uniform(r); } while (u1 <= 1e-300);
    u2 = aspire_rng_uniform(r);
    double m = sqrt(-2.0 * log(u1));
    r->spare = (float)(m * sin(2.0 * M_PI * u2));
    r->has_spare = 1;
    return (float)(m * cos(2.0 * M_PI * u2));
}

int64_t aspire_rng_below(aspire_rng *r, int64_t n) {
    ASPIRE_ASSERT(n > 0);
    uint64_t un = (uint64_t)n, lim = UINT64_MAX - UINT64_MAX % un, x;
    do { x = aspire_rng_u64(r); } while (x >= lim);
    return (int64_t)(x % un);
}

void aspire_rng_shuffle(aspire_rng *r, int64_t *a, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = aspire_rng_below(r, i + 1), t = a[i];
        a[i] = a[j]; a[j] = t;
    }
}

void aspire_rng_fork(const aspire_rng *parent, uint64_t key, aspire_rng *child) {
    uint64_t x = parent->s[0] ^ rotl(parent->s[1], 13) ^ rotl(parent->s[2], 29) ^ rotl(parent->s[3], 47);
    x ^= key * 0xd1342543de82ef95ULL;
    aspire_rng_seed(child, splitmix64(&x));
}
