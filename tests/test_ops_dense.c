/* test_ops_dense.c — the engine's non-convolution ops: forward values against plain loops written
 * here, every backward against finite differences (gradcheck.h), the oneDNN GEMM path against the
 * reference loop, numerical stability of softmax on large inputs, and determinism. */
#include "aspire/engine.h"
#include "engine/dense.h"
#include "gradcheck.h"
#include "test.h"

#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------- */
typedef struct spec {
    int nin;
    int ndim[4];
    int64_t shape[4][ASPIRE_MAX_DIMS];
    int mask[4];
} spec;

static int64_t numel_of(int ndim, const int64_t *s) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= s[i];
    return n;
}

/* Normal(0, 1) inputs; values with |v| < away are pushed out to |v| >= away (for kinks like relu). */
static double run_gc(const char *what, gc_fn fn, void *ud, spec *s, uint64_t seed, float away, double eps,
                     double tol) {
    aspire_rng rng;
    aspire_rng_seed(&rng, seed);
    float *data[4];
    for (int k = 0; k < s->nin; k++) {
        int64_t n = numel_of(s->ndim[k], s->shape[k]);
        data[k] = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            float v = aspire_rng_normal(&rng);
            if (fabsf(v) < away) v += v < 0 ? -away : away;
            data[k][i] = v;
        }
    }
    double w = gradcheck(what, fn, ud, s->nin, data, s->ndim, (const int64_t(*)[ASPIRE_MAX_DIMS])s->shape, s->mask,
                         eps, tol, 200);
    for (int k = 0; k < s->nin; k++) free(data[k]);
    return w;
}

static aspire_ctx *new_ctx(int reference) {
    aspire_ctx *ctx = NULL;
    aspire_ctx_options o = {.threads = 0, .seed = 1, .reference = reference};
    CHECK(aspire_ctx_new(&ctx, &o) == ASPIRE_OK);
    return ctx;
}

static void fill_normal(float *x, int64_t n, uint64_t seed) {
    aspire_rng r;
    aspire_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) x[i] = aspire_rng_normal(&r);
}

static aspire_tensor *rand_tensor(aspire_ctx *ctx, int ndim, const int64_t *shape, uint64_t seed) {
    aspire_tensor *t = aspire_tensor_new(ctx, ndim, shape);
    fill_normal(t->data, t->numel, seed);
    return t;
}

/* ---- elementwise --------------------------------------------------------------------------- */
static aspire_tensor *f_add(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_add(c, in[0], in[1]); }
static aspire_tensor *f_sub(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_sub(c, in[0], in[1]); }
static aspire_tensor *f_mul(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_mul(c, in[0], in[1]); }
static aspire_tensor *f_add_self(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_mul(c, in[0], in[0]); }

static void test_binary_values(void) {
    aspire_ctx *ctx = new_ctx(0);
    aspire_tensor *x = rand_tensor(ctx, 3, (int64_t[]){2, 3, 4}, 1);
    aspire_tensor *y = rand_tensor(ctx, 2, (int64_t[]){3, 4}, 2);
    aspire_tensor *s = rand_tensor(ctx, 1, (int64_t[]){1}, 3);
    aspire_tensor *z = rand_tensor(ctx, 3, (int64_t[]){2, 3, 4}, 4);
    aspire_tensor *a = aspire_add(ctx, x, y), *b = aspire_sub(ctx, x, y), *m = aspire_mul(ctx, x, y);
    aspire_tensor *as = aspire_add(ctx, x, s), *mz = aspire_mul(ctx, x, z);
    for (int64_t i = 0; i < 24; i++) {
        CHECK(a->data[i] == x->data[i] + y->data[i % 12]);
        CHECK(b->data[i] == x->data[i] - y->data[i % 12]);
        CHECK(m->data[i] == x->data[i] * y->data[i % 12]);
        CHECK(as->data[i] == x->data[i] + s->data[0]);
        CHECK(mz->data[i] == x->data[i] * z->data[i]);
    }
    CHECK(a->ndim == 3 && a->shape[0] == 2 && a->shape[2] == 4);
    /* a big same-shape add runs the parallel path */
    int64_t big[2] = {512, 300};
    aspire_tensor *p = rand_tensor(ctx, 2, big, 5), *q = rand_tensor(ctx, 2, big, 6);
    aspire_tensor *pq = aspire_add(ctx, p, q);
    int bad = 0;
    for (int64_t i = 0; i < p->numel; i++) bad += pq->data[i] != p->data[i] + q->data[i];
    CHECK(bad == 0);
    aspire_ctx_free(ctx);
}

static void test_binary_grads(void) {
    gc_fn fns[3] = {f_add, f_sub, f_mul};
    const char *names[3] = {"add", "sub", "mul"};
    /* y: same shape, trailing dims, last dim only, single element */
    spec cases[4] = {
        {2, {3, 3}, {{2, 3, 4}, {2, 3, 4}}, {1, 1}},
        {2, {3, 2}, {{2, 3, 4}, {3, 4}}, {1, 1}},
        {2, {3, 1}, {{2, 3, 4}, {4}}, {1, 1}},
        {2, {3, 1}, {{2, 3, 4}, {1}}, {1, 1}},
    };
    char what[64];
    for (int f = 0; f < 3; f++)
        for (int c = 0; c < 4; c++) {
            snprintf(what, sizeof what, "%s case %d", names[f], c);
            run_gc(what, fns[f], NULL, &cases[c], 10 + (uint64_t)c, 0, 1e-2, 2e-3);
        }
    /* only one side requiring grad */
    spec one = {2, {2, 1}, {{5, 7}, {7}}, {0, 1}};
    run_gc("mul y only", f_mul, NULL, &one, 3, 0, 1e-2, 2e-3);
    one.mask[0] = 1; one.mask[1] = 0;
    run_gc("add x only", f_add, NULL, &one, 4, 0, 1e-2, 2e-3);
    /* a tensor used twice by one op: x * x */
    spec self = {1, {2}, {{3, 5}}, {1}};
    run_gc("mul x*x", f_add_self, NULL, &self, 5, 0, 1e-2, 2e-3);
    /* a large broadcast (parallel column sums) */
    spec big = {2, {2, 1}, {{300, 130}, {130}}, {1, 1}};
    run_gc("mul big broadcast", f_mul, NULL, &big, 6, 0, 1e-2, 5e-3);
}

static aspire_tensor *f_relu(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_relu(c, in[0]); }
static aspire_tensor *f_scale(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_scale(c, in[0], -1.5f, 0.25f); }
static aspire_tensor *f_sum(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_sum(c, in[0]); }
static aspire_tensor *f_mean(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_mean(c, in[0]); }

static void test_relu(void) {
    aspire_ctx *ctx = new_ctx(0);
    float v[6] = {-2, -0.0f, 0, 0.5f, 3, NAN};
    aspire_tensor *x = aspire_tensor_from(ctx, 1, (int64_t[]){6}, v);
    aspire_tensor *y = aspire_relu(ctx, x);
    CHECK(y->data[0] == 0 && y->data[1] == 0 && y->data[2] == 0 && y->data[3] == 0.5f && y->data[4] == 3);
    CHECK(isnan(y->data[5]));  /* NaN propagates, as in PyTorch */
    /* large input: parallel path, and the gradient mask from the output */
    int64_t big[2] = {1000, 77};
    aspire_tensor *b = rand_tensor(ctx, 2, big, 9);
    b->requires_grad = 1;
    aspire_tensor *rb = aspire_relu(ctx, b);
    int bad = 0;
    for (int64_t i = 0; i < b->numel; i++) bad += rb->data[i] != (b->data[i] > 0 ? b->data[i] : 0.0f);
    CHECK(bad == 0);
    CHECK(aspire_backward(ctx, aspire_sum(ctx, rb)) == ASPIRE_OK);
    bad = 0;
    for (int64_t i = 0; i < b->numel; i++) bad += b->grad[i] != (b->data[i] > 0 ? 1.0f : 0.0f);
    CHECK(bad == 0);
    aspire_ctx_free(ctx);
    spec s = {1, {3}, {{4, 5, 6}}, {1}};
    run_gc("relu", f_relu, NULL, &s, 1, 0.05f, 1e-2, 2e-3);
    run_gc("scale", f_scale, NULL, &s, 2, 0, 1e-2, 2e-3);
}

static void test_sum_mean(void) {
    aspire_ctx *ctx = new_ctx(0);
    int64_t n = 100003;  /* several blocks, not a multiple of the block */
    aspire_tensor *x = aspire_tensor_new(ctx, 1, &n);
    double want = 0;
    for (int64_t i = 0; i < n; i++) { x->data[i] = (float)((i % 17) - 8) * 0.5f; want += x->data[i]; }
    CHECK_CLOSE(aspire_sum(ctx, x)->data[0], want, 1e-6);
    CHECK_CLOSE(aspire_mean(ctx, x)->data[0], want / (double)n, 1e-6);
    aspire_ctx_free(ctx);
    spec s = {1, {2}, {{7, 9}}, {1}};
    run_gc("sum", f_sum, NULL, &s, 3, 0, 1e-2, 2e-3);
    run_gc("mean", f_mean, NULL, &s, 4, 0, 1e-2, 2e-3);
}

/* ---- shape --------------------------------------------------------------------------------- */
static aspire_tensor *f_reshape(aspire_ctx *c, aspire_tensor **in, void *ud) {
    (void)ud;
    /* reshape, then an op that reads the reshaped layout, so a wrong gradient layout would show */
    aspire_tensor *r = aspire_reshape(c, in[0], 2, (int64_t[]){-1, 6});
    return aspire_mul(c, r, in[1]);
}

static void test_reshape(void) {
    aspire_ctx *ctx = new_ctx(0);
    aspire_tensor *x = rand_tensor(ctx, 3, (int64_t[]){2, 3, 4}, 1);
    aspire_tensor *r = aspire_reshape(ctx, x, 2, (int64_t[]){4, -1});
    CHECK(r->ndim == 2 && r->shape[0] == 4 && r->shape[1] == 6 && r->numel == 24);
    CHECK(r->data == x->data);  /* a view */
    aspire_ctx_free(ctx);
    spec s = {2, {3, 1}, {{2, 3, 4}, {6}}, {1, 1}};
    run_gc("reshape", f_reshape, NULL, &s, 5, 0, 1e-2, 2e-3);
}

/* ---- linear and the GEMM paths ------------------------------------------------------------- */
static aspire_tensor *f_linear(aspire_ctx *c, aspire_tensor **in, void *ud) {
    int bias = *(int *)ud;
    return aspire_linear(c, in[0], in[1], bias ? in[2] : NULL);
}

/* y = x w^T + b computed here in double */
static void linear_naive(double *y, const float *x, const float *w, const float *b, int64_t M, int64_t I, int64_t O) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t o = 0; o < O; o++) {
            double s = b ? b[o] : 0;
            for (int64_t i = 0; i < I; i++) s += (double)x[m * I + i] * w[o * I + i];
            y[m * O + o] = s;
        }
}

static void test_linear(void) {
    for (int ref = 0; ref < 2; ref++) {
        aspire_ctx *ctx = new_ctx(ref);
        int64_t M = 37, I = 53, O = 29;
        aspire_tensor *x = rand_tensor(ctx, 3, (int64_t[]){1, M, I}, 1);
        aspire_tensor *w = rand_tensor(ctx, 2, (int64_t[]){O, I}, 2);
        aspire_tensor *b = rand_tensor(ctx, 1, (int64_t[]){O}, 3);
        aspire_tensor *y = aspire_linear(ctx, x, w, b);
        CHECK(y && y->ndim == 3 && y->shape[0] == 1 && y->shape[1] == M && y->shape[2] == O);
        double *want = malloc(sizeof(double) * (size_t)(M * O));
        linear_naive(want, x->data, w->data, b->data, M, I, O);
        double worst = 0;
        for (int64_t i = 0; i < M * O; i++) worst = fmax(worst, fabs(y->data[i] - want[i]));
        CHECK_MSG(worst < 1e-4, "linear (reference %d) off by %g", ref, worst);
        aspire_ctx_free(ctx);
        free(want);
    }
    int bias = 1;
    spec s = {3, {3, 2, 1}, {{2, 3, 5}, {4, 5}, {4}}, {1, 1, 1}};
    run_gc("linear", f_linear, &bias, &s, 7, 0, 1e-2, 2e-3);
    bias = 0;
    spec s2 = {2, {2, 2}, {{6, 5}, {3, 5}}, {1, 1}};
    run_gc("linear no bias", f_linear, &bias, &s2, 8, 0, 1e-2, 2e-3);
    s2.mask[0] = 0;
    run_gc("linear w only", f_linear, &bias, &s2, 9, 0, 1e-2, 2e-3);
}

/* oneDNN's sgemm against the reference loop: every transpose combination, several shapes,
 * alpha/beta, and leading dimensions larger than the rows. The two sum in different orders, so
 * they agree to float rounding: |diff| <= 1e-5 * sum_k |a||b| + 1e-6 per element. */
static void test_gemm_paths(void) {
    aspire_ctx *dn = new_ctx(0), *rf = new_ctx(1);
    int64_t shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {64, 48, 96}, {129, 65, 257}, {1, 300, 17}, {300, 1, 33}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int64_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
                int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                int64_t na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb, nc = M * ldc;
                float *A = malloc(sizeof(float) * (size_t)na), *B = malloc(sizeof(float) * (size_t)nb);
                float *C1 = malloc(sizeof(float) * (size_t)nc), *C2 = malloc(sizeof(float) * (size_t)nc);
                fill_normal(A, na, 1 + si);
                fill_normal(B, nb, 2 + si);
                fill_normal(C1, nc, 3 + si);
                memcpy(C2, C1, sizeof(float) * (size_t)nc);
                float alpha = 0.75f, beta = si % 2 ? 0.5f : 0.0f;
                CHECK(aspire_gemm(dn, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C1, ldc) == ASPIRE_OK);
                CHECK(aspire_gemm(rf, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc) == ASPIRE_OK);
                int bad = 0;
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++) {
                        double mag = 0;
                        for (int64_t k = 0; k < K; k++)
                            mag += fabs((double)(ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]));
                        double d = fabs((double)C1[i * ldc + j] - C2[i * ldc + j]);
                        if (d > 1e-5 * mag + 1e-6) bad++;
                    }
                /* the padding columns of C are untouched by both */
                for (int64_t i = 0; i < M; i++) bad += C1[i * ldc + N] != C2[i * ldc + N];
                CHECK_MSG(bad == 0, "gemm M=%lld N=%lld K=%lld ta=%d tb=%d: %d elements differ", (long long)M,
                          (long long)N, (long long)K, ta, tb, bad);
                free(A); free(B); free(C1); free(C2);
            }
    aspire_ctx_free(dn);
    aspire_ctx_free(rf);
}

/* ---- cross-entropy ------------------------------------------------------------------------- */
typedef struct ce_ud { const int32_t *t; const float *w; aspire_reduction r; } ce_ud;

static aspire_tensor *f_ce(aspire_ctx *c, aspire_tensor **in, void *ud) {
    ce_ud *u = ud;
    return aspire_cross_entropy(c, in[0], u->t, u->w, u->r);
}

static void test_cross_entropy(void) {
    aspire_ctx *ctx = new_ctx(0);
    /* logits [[1,2,3],[1,1,1]] targets [2,0]: -log softmax = log(e+e^2+e^3) - 3, log 3 */
    float lg[6] = {1, 2, 3, 1, 1, 1};
    int32_t t[2] = {2, 0};
    float w[2] = {2.0f, 0.5f};
    double l0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3.0, l1 = log(3.0);
    aspire_tensor *x = aspire_tensor_from(ctx, 2, (int64_t[]){2, 3}, lg);
    aspire_tensor *none = aspire_cross_entropy(ctx, x, t, NULL, ASPIRE_REDUCE_NONE);
    CHECK(none->ndim == 1 && none->shape[0] == 2);
    CHECK_CLOSE(none->data[0], l0, 1e-6);
    CHECK_CLOSE(none->data[1], l1, 1e-6);
    CHECK_CLOSE(aspire_cross_entropy(ctx, x, t, NULL, ASPIRE_REDUCE_MEAN)->data[0], (l0 + l1) / 2, 1e-6);
    CHECK_CLOSE(aspire_cross_entropy(ctx, x, t, NULL, ASPIRE_REDUCE_SUM)->data[0], l0 + l1, 1e-6);
    /* weighted mean divides by N, not by the weight sum */
    CHECK_CLOSE(aspire_cross_entropy(ctx, x, t, w, ASPIRE_REDUCE_MEAN)->data[0], (2 * l0 + 0.5 * l1) / 2, 1e-6);
    CHECK_CLOSE(aspire_cross_entropy(ctx, x, t, w, ASPIRE_REDUCE_NONE)->data[1], 0.5 * l1, 1e-6);
    /* large logits: no overflow */
    float big[3] = {1000.0f, 1001.0f, 999.0f};
    int32_t tb = 1;
    aspire_tensor *xb = aspire_tensor_from(ctx, 2, (int64_t[]){1, 3}, big);
    double lb = log(exp(-1.0) + 1.0 + exp(-2.0));
    CHECK_CLOSE(aspire_cross_entropy(ctx, xb, &tb, NULL, ASPIRE_REDUCE_SUM)->data[0], lb, 1e-5);
    /* a target out of range is bad input: NULL with a message */
    int32_t bad[2] = {0, 3};
    CHECK(aspire_cross_entropy(ctx, x, bad, NULL, ASPIRE_REDUCE_MEAN) == NULL);
    CHECK(strstr(aspire_errmsg(), "target 3 of example 1") != NULL);
    aspire_ctx_free(ctx);

    int32_t tg[5] = {0, 3, 2, 2, 1};
    float wt[5] = {1.0f, 0.5f, 2.0f, 0.0f, 1.5f};
    aspire_reduction rs[3] = {ASPIRE_REDUCE_MEAN, ASPIRE_REDUCE_SUM, ASPIRE_REDUCE_NONE};
    char what[64];
    for (int ri = 0; ri < 3; ri++)
        for (int wi = 0; wi < 2; wi++) {
            ce_ud u = {tg, wi ? wt : NULL, rs[ri]};
            spec s = {1, {2}, {{5, 4}}, {1}};
            snprintf(what, sizeof what, "cross_entropy r=%d weights=%d", (int)rs[ri], wi);
            run_gc(what, f_ce, &u, &s, 20 + (uint64_t)ri, 0, 1e-2, 2e-3);
        }
}

int main(void) {
    RUN(test_binary_values);
    RUN(test_binary_grads);
    RUN(test_relu);
    RUN(test_sum_mean);
    RUN(test_reshape);
    RUN(test_linear);
    RUN(test_gemm_paths);
    RUN(test_cross_entropy);
    return TEST_REPORT();
}
