/* test_core.c — the engine core: arena, tape bookkeeping, gradient plumbing, parameters, rng. */
#include "aspire/engine.h"
#include "engine/internal.h"
#include "test.h"

#include <omp.h>
#include <string.h>

static void test_rng(void) {
    aspire_rng a, b;
    aspire_rng_seed(&a, 42);
    aspire_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) CHECK(aspire_rng_u64(&a) == aspire_rng_u64(&b));
    double s = 0, s2 = 0;
    for (int i = 0; i < 20000; i++) { float x = aspire_rng_normal(&a); s += x; s2 += (double)x * x; }
    CHECK_CLOSE(s / 20000, 0.0, 0.03);
    CHECK_CLOSE(s2 / 20000, 1.0, 0.05);
    int64_t perm[50];
    for (int i = 0; i < 50; i++) perm[i] = i;
    aspire_rng_shuffle(&a, perm, 50);
    int64_t sum = 0;
    for (int i = 0; i < 50; i++) sum += perm[i];
    CHECK(sum == 49 * 50 / 2);
    for (int i = 0; i < 1000; i++) { int64_t k = aspire_rng_below(&a, 7); CHECK(k >= 0 && k < 7); }
}

static void test_arena_and_reset(void) {
    aspire_ctx *ctx;
    CHECK(aspire_ctx_new(&ctx, NULL) == ASPIRE_OK);
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < 10; i++) {
            aspire_tensor *t = aspire_tensor_zeros(ctx, 2, (int64_t[]){1000, 1000 + i});
            CHECK(t != NULL && t->numel == 1000 * (1000 + i));
            CHECK(((uintptr_t)t->data & 63) == 0);
            CHECK(t->data[t->numel - 1] == 0.0f);
        }
        aspire_ctx_reset(ctx);
    }
    CHECK(aspire_ctx_arena_peak(ctx) >= 10u * 1000 * 1000 * 4);
    char buf[64];
    aspire_tensor *t = aspire_tensor_new(ctx, 3, (int64_t[]){2, 3, 4});
    CHECK(strcmp(aspire_shape_str(t, buf, sizeof buf), "(2, 3, 4)") == 0);
    aspire_ctx_free(ctx);
    aspire_ctx_free(NULL);
}

static void test_grad_plumbing(void) {
    aspire_ctx *ctx;
    CHECK(aspire_ctx_new(&ctx, NULL) == ASPIRE_OK);
    aspire_tensor *t = aspire_tensor_zeros(ctx, 1, (int64_t[]){4});
    int acc;
    float *g = aspire_grad_begin(ctx, t, &acc);
    CHECK(acc == 0);
    for (int i = 0; i < 4; i++) g[i] = (float)i;
    aspire_grad_end(ctx, t, g, acc);
    g = aspire_grad_begin(ctx, t, &acc);
    CHECK(acc == 1 && g != t->grad);
    for (int i = 0; i < 4; i++) g[i] = 10.0f;
    aspire_grad_end(ctx, t, g, acc);
    CHECK(t->grad[3] == 13.0f && t->grad[0] == 10.0f);
    aspire_ctx_free(ctx);
}

static void test_params(void) {
    aspire_params *p = aspire_params_new();
    aspire_tensor *w = aspire_params_add(p, "fc.weight", 2, (int64_t[]){3, 5}, 1);
    aspire_tensor *m = aspire_params_add(p, "bn.running_mean", 1, (int64_t[]){5}, 0);
    CHECK(w && m && w->requires_grad && !m->requires_grad && m->grad == NULL);
    CHECK(aspire_params_find(p, "fc.weight") == w);
    CHECK(aspire_params_find(p, "nope") == NULL);
    CHECK(aspire_params_numel(p, 1) == 15 && aspire_params_numel(p, 0) == 20);
    aspire_rng r;
    aspire_rng_seed(&r, 1);
    aspire_init_kaiming(w, 5, &r);
    CHECK(w->data[0] != 0.0f);
    w->grad_valid = 1;
    aspire_params_zero_grad(p);
    CHECK(w->grad_valid == 0);
    aspire_params_free(p);
}

/* A thread count far beyond the machine is capped (an OpenMP team of 100000 overflowed libgomp's
 * stack); 0 means all cores. */
static void test_threads(void) {
    int keep = aspire_get_threads(), procs = omp_get_num_procs();
    aspire_set_threads(100000);
    int n = aspire_get_threads();
    CHECK_MSG(n >= procs && n <= (procs < 16 ? 64 : 4 * procs), "%d threads", n);
    int ran = 0;
#pragma omp parallel reduction(+ : ran)
    ran += 1;
    CHECK(ran == n);
    aspire_set_threads(0);
    CHECK(aspire_get_threads() == procs);
    aspire_set_threads(keep);
}

/* The engine's settings are context options: a context keeps them and changes no OpenMP setting;
 * a thread scope sets the count and gives the caller's back. */
static void test_ctx_options_and_thread_scope(void) {
    int keep = aspire_get_threads();
    aspire_set_threads(1);
    aspire_ctx *ctx = NULL;
    aspire_ctx_options o = {.threads = 2, .seed = 3, .reference = 1, .no_winograd = 1, .bn_kernel = ASPIRE_BN_ONEDNN, .profile = 1};
    CHECK(aspire_ctx_new(&ctx, &o) == ASPIRE_OK);
    CHECK(aspire_get_threads() == 1);  /* creating a context changes nothing */
    const aspire_ctx_options *g = ctx ? aspire_ctx_get_options(ctx) : NULL;
    CHECK(g && g->threads == 2 && g->reference == 1 && g->no_winograd == 1 && g->bn_kernel == ASPIRE_BN_ONEDNN && g->profile == 1);
    CHECK(ctx && aspire_ctx_reference(ctx) == 1);
    aspire_ctx_free(ctx);
    int prev = aspire_threads_enter(2);
    CHECK(prev == 1 && aspire_get_threads() == 2);
    int prev2 = aspire_threads_enter(-1);  /* < 0: unchanged */
    CHECK(prev2 == 2 && aspire_get_threads() == 2);
    aspire_threads_leave(prev2);
    aspire_threads_leave(prev);
    CHECK(aspire_get_threads() == 1);
    prev = aspire_threads_enter(0);  /* all cores */
    CHECK(aspire_get_threads() == omp_get_num_procs());
    aspire_threads_leave(prev);
    CHECK(aspire_get_threads() == 1);
    aspire_set_threads(keep);
}

int main(void) {
    RUN(test_rng);
    RUN(test_arena_and_reset);
    RUN(test_grad_plumbing);
    RUN(test_params);
    RUN(test_threads);
    RUN(test_ctx_options_and_thread_scope);
    return TEST_REPORT();
}
