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
static double run_gc_probe(const char *what, gc_fn fn, void *ud, spec *s, uint64_t seed, float away, double eps,
                           double tol, int max_probe) {
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
                         eps, tol, max_probe);
    for (int k = 0; k < s->nin; k++) free(data[k]);
    return w;
}

static double run_gc(const char *what, gc_fn fn, void *ud, spec *s, uint64_t seed, float away, double eps,
                     double tol) {
    return run_gc_probe(what, fn, ud, s, seed, away, eps, tol, 200);
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
    run_gc_probe("mul big broadcast", f_mul, NULL, &big, 6, 0, 1e-2, 5e-3, 40);
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

/* ---- more shape ops ------------------------------------------------------------------------ */
typedef struct ax_ud { int a, b; int64_t start, len; } ax_ud;

static aspire_tensor *f_transpose(aspire_ctx *c, aspire_tensor **in, void *ud) {
    ax_ud *u = ud;
    return aspire_transpose(c, in[0], u->a, u->b);
}

static aspire_tensor *f_slice(aspire_ctx *c, aspire_tensor **in, void *ud) {
    ax_ud *u = ud;
    return aspire_slice(c, in[0], u->a, u->start, u->len);
}

static aspire_tensor *f_concat3(aspire_ctx *c, aspire_tensor **in, void *ud) {
    ax_ud *u = ud;
    return aspire_concat(c, in, 3, u->a);
}

/* seven inputs (more than a node holds): in[0] repeated six times, then in[1] */
static aspire_tensor *f_concat7(aspire_ctx *c, aspire_tensor **in, void *ud) {
    (void)ud;
    aspire_tensor *xs[7] = {in[0], in[0], in[0], in[0], in[0], in[0], in[1]};
    return aspire_concat(c, xs, 7, 1);
}

static void test_transpose_slice_concat(void) {
    aspire_ctx *ctx = new_ctx(0);
    aspire_tensor *x = rand_tensor(ctx, 4, (int64_t[]){2, 3, 4, 5}, 1);
    aspire_tensor *t = aspire_transpose(ctx, x, 3, 1);  /* (2, 5, 4, 3) */
    CHECK(t->shape[0] == 2 && t->shape[1] == 5 && t->shape[2] == 4 && t->shape[3] == 3);
    int bad = 0;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++)
                for (int d = 0; d < 5; d++)
                    bad += t->data[((a * 5 + d) * 4 + c) * 3 + b] != x->data[((a * 3 + b) * 4 + c) * 5 + d];
    CHECK(bad == 0);
    aspire_tensor *sl = aspire_slice(ctx, x, 2, 1, 2);  /* (2, 3, 2, 5) */
    bad = 0;
    for (int a = 0; a < 6; a++)
        for (int c = 0; c < 2; c++)
            for (int d = 0; d < 5; d++) bad += sl->data[(a * 2 + c) * 5 + d] != x->data[(a * 4 + c + 1) * 5 + d];
    CHECK(bad == 0);
    aspire_tensor *y = rand_tensor(ctx, 4, (int64_t[]){2, 1, 4, 5}, 2);
    aspire_tensor *cc = aspire_concat(ctx, (aspire_tensor *[]){x, y}, 2, 1);  /* (2, 4, 4, 5) */
    CHECK(cc->shape[1] == 4);
    bad = 0;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 4; b++)
            for (int e = 0; e < 20; e++) {
                float want = b < 3 ? x->data[(a * 3 + b) * 20 + e] : y->data[a * 20 + e];
                bad += cc->data[(a * 4 + b) * 20 + e] != want;
            }
    CHECK(bad == 0);
    aspire_ctx_free(ctx);

    ax_ud u = {1, 3, 0, 0};
    spec s = {1, {4}, {{2, 3, 4, 5}}, {1}};
    run_gc("transpose 1,3", f_transpose, &u, &s, 1, 0, 1e-2, 2e-3);
    u.a = 0; u.b = 1;
    run_gc("transpose 0,1", f_transpose, &u, &s, 2, 0, 1e-2, 2e-3);
    u.a = 2; u.b = 3;
    run_gc("transpose 2,3", f_transpose, &u, &s, 3, 0, 1e-2, 2e-3);
    ax_ud us = {2, 0, 1, 2};
    run_gc("slice", f_slice, &us, &s, 4, 0, 1e-2, 2e-3);
    us.a = 0; us.start = 1; us.len = 1;
    run_gc("slice axis 0", f_slice, &us, &s, 5, 0, 1e-2, 2e-3);
    ax_ud uc = {1, 0, 0, 0};
    spec s3 = {3, {3, 3, 3}, {{2, 3, 4}, {2, 1, 4}, {2, 2, 4}}, {1, 0, 1}};
    run_gc("concat", f_concat3, &uc, &s3, 6, 0, 1e-2, 2e-3);
    uc.a = -1;
    spec s3b = {3, {2, 2, 2}, {{3, 2}, {3, 4}, {3, 1}}, {1, 1, 1}};
    run_gc("concat last axis", f_concat3, &uc, &s3b, 7, 0, 1e-2, 2e-3);
    /* only the seventh input requires grad: the node must still be recorded */
    spec s7 = {2, {2, 2}, {{3, 2}, {3, 3}}, {0, 1}};
    run_gc("concat 7 (last only)", f_concat7, NULL, &s7, 8, 0, 1e-2, 2e-3);
    s7.mask[0] = 1;
    run_gc("concat 7", f_concat7, NULL, &s7, 9, 0, 1e-2, 2e-3);
}

/* ---- activations, dropout ------------------------------------------------------------------ */
static aspire_tensor *f_silu(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_silu(c, in[0]); }
static aspire_tensor *f_gelu(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_gelu(c, in[0]); }
static aspire_tensor *f_sigmoid(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_sigmoid(c, in[0]); }
static aspire_tensor *f_tanh(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_tanh(c, in[0]); }
static aspire_tensor *f_dropout(aspire_ctx *c, aspire_tensor **in, void *ud) { return aspire_dropout(c, in[0], *(float *)ud); }

static void test_activations(void) {
    aspire_ctx *ctx = new_ctx(0);
    float xs[7] = {-3, -1, -0.5f, 0, 0.5f, 1, 3};
    /* PyTorch 1.13: F.gelu(x, approximate='tanh') and F.silu(x) for these x (printed with %.8g) */
    double gelu_t[7] = {-0.0036374331, -0.15880799, -0.154286, 0, 0.345714, 0.84119201, 2.9963627};
    double silu_t[7] = {-0.14227761, -0.26894143, -0.18877034, 0, 0.31122968, 0.7310586, 2.8577225};
    aspire_tensor *x = aspire_tensor_from(ctx, 1, (int64_t[]){7}, xs);
    aspire_tensor *g = aspire_gelu(ctx, x), *si = aspire_silu(ctx, x), *sg = aspire_sigmoid(ctx, x), *th = aspire_tanh(ctx, x);
    for (int i = 0; i < 7; i++) {
        CHECK_CLOSE(g->data[i], gelu_t[i], 2e-6);
        CHECK_CLOSE(si->data[i], silu_t[i], 2e-6);
        CHECK_CLOSE(sg->data[i], 1.0 / (1.0 + exp(-(double)xs[i])), 1e-6);
        CHECK_CLOSE(th->data[i], tanh((double)xs[i]), 1e-6);
    }
    aspire_ctx_free(ctx);
    spec s = {1, {2}, {{6, 7}}, {1}};
    run_gc("silu", f_silu, NULL, &s, 1, 0, 1e-2, 2e-3);
    run_gc("gelu", f_gelu, NULL, &s, 2, 0, 1e-2, 2e-3);
    run_gc("sigmoid", f_sigmoid, NULL, &s, 3, 0, 1e-2, 2e-3);
    run_gc("tanh", f_tanh, NULL, &s, 4, 0, 1e-2, 2e-3);
}

static void test_dropout(void) {
    aspire_ctx *ctx = new_ctx(0);
    int64_t n = 200000;
    aspire_tensor *x = aspire_tensor_new(ctx, 1, &n);
    for (int64_t i = 0; i < n; i++) x->data[i] = 1.0f;
    CHECK(aspire_dropout(ctx, x, 0.3f) == x);  /* eval mode: identity */
    aspire_ctx_set_training(ctx, 1);
    CHECK(aspire_dropout(ctx, x, 0.0f) == x);
    aspire_tensor *y = aspire_dropout(ctx, x, 0.3f);
    int64_t kept = 0;
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (y->data[i] != 0.0f) { kept++; bad += fabsf(y->data[i] - 1.0f / 0.7f) > 1e-6f; }
    }
    CHECK(bad == 0);
    /* kept fraction 0.7 within 5 standard deviations (sd = sqrt(0.21 / n) ~ 0.001) */
    CHECK_CLOSE((double)kept / (double)n, 0.7, 0.005);
    CHECK_CLOSE(aspire_mean(ctx, y)->data[0], 1.0, 0.01);  /* inverted scaling keeps the mean */
    aspire_tensor *z = aspire_dropout(ctx, x, 1.0f);
    CHECK(aspire_sum(ctx, z)->data[0] == 0.0f);
    /* same seed, same mask */
    aspire_ctx *c2 = new_ctx(0);
    aspire_ctx_set_training(c2, 1);
    aspire_tensor *x2 = aspire_tensor_from(c2, 1, &n, x->data);
    aspire_tensor *y2 = aspire_dropout(c2, x2, 0.3f);
    CHECK(memcmp(y->data, y2->data, sizeof(float) * (size_t)n) == 0);
    aspire_ctx_free(c2);
    aspire_ctx_free(ctx);
    float p = 0.4f;
    spec s = {1, {2}, {{5, 8}}, {1}};
    run_gc("dropout", f_dropout, &p, &s, 5, 0, 1e-2, 2e-3);
}

/* ---- matmul -------------------------------------------------------------------------------- */
typedef struct mm_ud { int ta, tb; } mm_ud;

static aspire_tensor *f_matmul(aspire_ctx *c, aspire_tensor **in, void *ud) {
    mm_ud *u = ud;
    return aspire_matmul(c, in[0], in[1], u->ta, u->tb);
}

/* c (nb, M, N) = op(a) op(b) in double; b shared when bshared */
static void matmul_naive(double *c, const float *a, const float *b, int64_t nb, int64_t M, int64_t N, int64_t K,
                         int ta, int tb, int bshared) {
    for (int64_t p = 0; p < nb; p++) {
        const float *ap = a + p * M * K, *bp = b + (bshared ? 0 : p * K * N);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (double)(ta ? ap[k * M + i] : ap[i * K + k]) * (tb ? bp[j * K + k] : bp[k * N + j]);
                c[(p * M + i) * N + j] = s;
            }
    }
}

static void test_matmul(void) {
    int64_t nb = 6, M = 9, N = 7, K = 11;  /* (2, 3) batch */
    for (int ref = 0; ref < 2; ref++)
        for (int shared = 0; shared < 2; shared++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) {
                    aspire_ctx *ctx = new_ctx(ref);
                    aspire_tensor *a = rand_tensor(ctx, 4, (int64_t[]){2, 3, ta ? K : M, ta ? M : K}, 1);
                    aspire_tensor *b = shared ? rand_tensor(ctx, 2, (int64_t[]){tb ? N : K, tb ? K : N}, 2)
                                              : rand_tensor(ctx, 4, (int64_t[]){2, 3, tb ? N : K, tb ? K : N}, 2);
                    aspire_tensor *c = aspire_matmul(ctx, a, b, ta, tb);
                    CHECK(c && c->ndim == 4 && c->shape[2] == M && c->shape[3] == N);
                    double want[6 * 9 * 7];
                    matmul_naive(want, a->data, b->data, nb, M, N, K, ta, tb, shared);
                    double worst = 0;
                    for (int64_t i = 0; i < nb * M * N; i++) worst = fmax(worst, fabs(c->data[i] - want[i]));
                    CHECK_MSG(worst < 1e-4, "matmul ref=%d shared=%d ta=%d tb=%d off by %g", ref, shared, ta, tb, worst);
                    aspire_ctx_free(ctx);
                }
    char what[64];
    for (int shared = 0; shared < 2; shared++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                mm_ud u = {ta, tb};
                spec s = {2, {3, shared ? 2 : 3}, {{2, ta ? 4 : 3, ta ? 3 : 4}, {0}}, {1, 1}};
                if (shared) { s.shape[1][0] = tb ? 5 : 4; s.shape[1][1] = tb ? 4 : 5; }
                else { s.shape[1][0] = 2; s.shape[1][1] = tb ? 5 : 4; s.shape[1][2] = tb ? 4 : 5; }
                snprintf(what, sizeof what, "matmul shared=%d ta=%d tb=%d", shared, ta, tb);
                run_gc(what, f_matmul, &u, &s, 30 + (uint64_t)(shared * 4 + ta * 2 + tb), 0, 1e-2, 2e-3);
            }
    mm_ud u = {0, 1};
    spec s2 = {2, {2, 2}, {{3, 4}, {5, 4}}, {1, 1}};
    run_gc("matmul 2-D", f_matmul, &u, &s2, 40, 0, 1e-2, 2e-3);
    /* a batch big enough to run its products in parallel, one per thread */
    for (int ref = 0; ref < 2; ref++) {
        aspire_ctx *ctx = new_ctx(ref);
        aspire_tensor *a = rand_tensor(ctx, 3, (int64_t[]){8, 32, 32}, 3), *b = rand_tensor(ctx, 3, (int64_t[]){8, 32, 32}, 4);
        aspire_tensor *c = aspire_matmul(ctx, a, b, 1, 0);
        double *want = malloc(sizeof(double) * 8 * 32 * 32), worst = 0;
        matmul_naive(want, a->data, b->data, 8, 32, 32, 32, 1, 0, 0);
        for (int64_t i = 0; i < c->numel; i++) worst = fmax(worst, fabs(c->data[i] - want[i]));
        CHECK_MSG(worst < 1e-4, "batched matmul ref=%d off by %g", ref, worst);
        free(want);
        aspire_ctx_free(ctx);
    }
    mm_ud ub = {1, 1};
    spec sb = {2, {3, 3}, {{8, 32, 32}, {8, 32, 32}}, {1, 1}};
    run_gc_probe("matmul parallel batch", f_matmul, &ub, &sb, 41, 0, 1e-2, 3e-3, 20);
}

/* ---- embedding ----------------------------------------------------------------------------- */
static const int32_t emb_ids[6] = {3, 0, 3, 4, 1, 3};

static aspire_tensor *f_embedding(aspire_ctx *c, aspire_tensor **in, void *ud) {
    (void)ud;
    return aspire_embedding(c, in[0], emb_ids, 2, (int64_t[]){2, 3});
}

static void test_embedding(void) {
    aspire_ctx *ctx = new_ctx(0);
    aspire_tensor *table = rand_tensor(ctx, 2, (int64_t[]){5, 4}, 1);
    aspire_tensor *e = aspire_embedding(ctx, table, emb_ids, 2, (int64_t[]){2, 3});
    CHECK(e->ndim == 3 && e->shape[0] == 2 && e->shape[1] == 3 && e->shape[2] == 4);
    for (int i = 0; i < 6; i++) CHECK(memcmp(e->data + i * 4, table->data + emb_ids[i] * 4, 16) == 0);
    int32_t bad[2] = {1, 5};
    CHECK(aspire_embedding(ctx, table, bad, 1, (int64_t[]){2}) == NULL);
    CHECK(strstr(aspire_errmsg(), "id 5 at position 1") != NULL);
    aspire_ctx_free(ctx);
    spec s = {1, {2}, {{5, 4}}, {1}};  /* id 3 repeats, id 2 never appears (zero gradient) */
    run_gc("embedding", f_embedding, NULL, &s, 2, 0, 1e-2, 2e-3);
}

/* ---- softmax ------------------------------------------------------------------------------- */
static aspire_tensor *f_softmax(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_softmax(c, in[0]); }
static aspire_tensor *f_log_softmax(aspire_ctx *c, aspire_tensor **in, void *ud) { (void)ud; return aspire_log_softmax(c, in[0]); }

static void test_softmax(void) {
    aspire_ctx *ctx = new_ctx(0);
    /* rows: small values, huge values (exp would overflow), huge negative, and a fully masked row */
    float v[12] = {1, 2, 3, 1000, 1001, 1002, -1000, -1001, -1002, -INFINITY, -INFINITY, -INFINITY};
    aspire_tensor *x = aspire_tensor_from(ctx, 2, (int64_t[]){4, 3}, v);
    aspire_tensor *p = aspire_softmax(ctx, x), *lp = aspire_log_softmax(ctx, x);
    double z = exp(-2.0) + exp(-1.0) + 1.0;
    double want[3] = {exp(-2.0) / z, exp(-1.0) / z, 1.0 / z};
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 3; j++) {
            CHECK_CLOSE(p->data[r * 3 + j], want[j], 1e-6);
            CHECK_CLOSE(lp->data[r * 3 + j], log(want[j]), 1e-6);
        }
    for (int j = 0; j < 3; j++) {
        CHECK_CLOSE(p->data[6 + j], want[2 - j], 1e-6);
        CHECK_CLOSE(lp->data[6 + j], log(want[2 - j]), 1e-6);
        CHECK(p->data[9 + j] == 0.0f && isinf(lp->data[9 + j]) && lp->data[9 + j] < 0);
    }
    aspire_ctx_free(ctx);
    spec s = {1, {3}, {{2, 3, 6}}, {1}};
    run_gc("softmax", f_softmax, NULL, &s, 1, 0, 1e-2, 2e-3);
    run_gc("log_softmax", f_log_softmax, NULL, &s, 2, 0, 1e-2, 2e-3);
}

/* ---- layernorm ----------------------------------------------------------------------------- */
static aspire_tensor *f_layernorm(aspire_ctx *c, aspire_tensor **in, void *ud) {
    int affine = *(int *)ud;
    return aspire_layernorm(c, in[0], affine ? in[1] : NULL, affine ? in[2] : NULL, 1e-5f);
}

static void test_layernorm(void) {
    aspire_ctx *ctx = new_ctx(0);
    aspire_tensor *x = rand_tensor(ctx, 3, (int64_t[]){2, 3, 8}, 1);
    aspire_tensor *gm = rand_tensor(ctx, 1, (int64_t[]){8}, 2), *bt = rand_tensor(ctx, 1, (int64_t[]){8}, 3);
    aspire_tensor *y = aspire_layernorm(ctx, x, gm, bt, 1e-5f);
    for (int r = 0; r < 6; r++) {
        double mu = 0, var = 0;
        for (int j = 0; j < 8; j++) mu += x->data[r * 8 + j];
        mu /= 8;
        for (int j = 0; j < 8; j++) var += (x->data[r * 8 + j] - mu) * (x->data[r * 8 + j] - mu);
        var /= 8;
        for (int j = 0; j < 8; j++)
            CHECK_CLOSE(y->data[r * 8 + j], (x->data[r * 8 + j] - mu) / sqrt(var + 1e-5) * gm->data[j] + bt->data[j], 1e-5);
    }
    aspire_ctx_free(ctx);
    int affine = 1;
    spec s = {3, {3, 1, 1}, {{2, 3, 8}, {8}, {8}}, {1, 1, 1}};
    run_gc("layernorm", f_layernorm, &affine, &s, 4, 0, 1e-2, 3e-3);
    affine = 0;
    spec s2 = {1, {2}, {{4, 16}}, {1}};
    run_gc("layernorm plain", f_layernorm, &affine, &s2, 5, 0, 1e-2, 3e-3);
}

/* ---- attention ----------------------------------------------------------------------------- */
typedef struct att_ud { const aspire_tensor *mask; int causal; } att_ud;

static aspire_tensor *f_attention(aspire_ctx *c, aspire_tensor **in, void *ud) {
    att_ud *u = ud;
    return aspire_attention(c, in[0], in[1], in[2], u->mask, u->causal);
}

/* out (nb, Tq, Dv) in double */
static void attention_naive(double *out, const float *q, const float *k, const float *v, const float *mask, int causal,
                            int64_t nb, int64_t Tq, int64_t Tk, int64_t D, int64_t Dv) {
    double s[64];
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = 0; i < Tq; i++) {
            double m = -INFINITY, z = 0;
            for (int64_t j = 0; j < Tk; j++) {
                double d = 0;
                for (int64_t e = 0; e < D; e++) d += (double)q[(b * Tq + i) * D + e] * k[(b * Tk + j) * D + e];
                d /= sqrt((double)D);
                if (mask) d += mask[i * Tk + j];
                if (causal && j > i) d = -INFINITY;
                s[j] = d;
                m = fmax(m, d);
            }
            for (int64_t j = 0; j < Tk; j++) { s[j] = exp(s[j] - m); z += s[j]; }
            for (int64_t e = 0; e < Dv; e++) {
                double o = 0;
                for (int64_t j = 0; j < Tk; j++) o += s[j] / z * v[(b * Tk + j) * Dv + e];
                out[(b * Tq + i) * Dv + e] = o;
            }
        }
}

static void test_attention(void) {
    int64_t B = 2, H = 3, T = 5, D = 8;
    float maskv[25];
    for (int i = 0; i < 25; i++) maskv[i] = (i * 7) % 5 == 0 ? -INFINITY : 0.1f * (float)(i % 3);
    for (int i = 0; i < 5; i++) maskv[i * 5 + i] = 0;  /* no fully masked row */
    for (int ref = 0; ref < 2; ref++)
        for (int mode = 0; mode < 3; mode++) {
            aspire_ctx *ctx = new_ctx(ref);
            aspire_tensor *q = rand_tensor(ctx, 4, (int64_t[]){B, H, T, D}, 1);
            aspire_tensor *k = rand_tensor(ctx, 4, (int64_t[]){B, H, T, D}, 2);
            aspire_tensor *v = rand_tensor(ctx, 4, (int64_t[]){B, H, T, D}, 3);
            aspire_tensor *mask = aspire_tensor_from(ctx, 2, (int64_t[]){T, T}, maskv);
            aspire_tensor *o = aspire_attention(ctx, q, k, v, mode == 1 ? mask : NULL, mode == 2);
            double want[2 * 3 * 5 * 8];
            attention_naive(want, q->data, k->data, v->data, mode == 1 ? maskv : NULL, mode == 2, B * H, T, T, D, D);
            double worst = 0;
            for (int64_t i = 0; i < o->numel; i++) worst = fmax(worst, fabs(o->data[i] - want[i]));
            CHECK_MSG(worst < 1e-5, "attention ref=%d mode=%d off by %g", ref, mode, worst);
            aspire_ctx_free(ctx);
        }
    for (int ref = 0; ref < 2; ref++) {  /* parallel batch of products */
        aspire_ctx *ctx = new_ctx(ref);
        int64_t sh[4] = {2, 4, 32, 16};
        aspire_tensor *q = rand_tensor(ctx, 4, sh, 4), *k = rand_tensor(ctx, 4, sh, 5), *v = rand_tensor(ctx, 4, sh, 6);
        aspire_tensor *o = aspire_attention(ctx, q, k, v, NULL, 1);
        double *want = malloc(sizeof(double) * (size_t)o->numel), worst = 0;
        attention_naive(want, q->data, k->data, v->data, NULL, 1, 8, 32, 32, 16, 16);
        for (int64_t i = 0; i < o->numel; i++) worst = fmax(worst, fabs(o->data[i] - want[i]));
        CHECK_MSG(worst < 1e-5, "attention (2, 4, 32, 16) ref=%d off by %g", ref, worst);
        free(want);
        aspire_ctx_free(ctx);
    }
    aspire_ctx *ctx = new_ctx(0);
    aspire_tensor *mask = aspire_tensor_from(ctx, 2, (int64_t[]){T, T}, maskv);
    att_ud u = {NULL, 0};
    spec s = {3, {4, 4, 4}, {{2, 2, 5, 4}, {2, 2, 5, 4}, {2, 2, 5, 4}}, {1, 1, 1}};
    run_gc("attention", f_attention, &u, &s, 1, 0, 1e-2, 3e-3);
    u.mask = mask;
    run_gc("attention mask", f_attention, &u, &s, 2, 0, 1e-2, 3e-3);
    u.mask = NULL;
    u.causal = 1;
    run_gc("attention causal", f_attention, &u, &s, 3, 0, 1e-2, 3e-3);
    /* big enough for the parallel batch of products */
    spec sp = {3, {4, 4, 4}, {{2, 4, 32, 16}, {2, 4, 32, 16}, {2, 4, 32, 16}}, {1, 1, 1}};
    u.causal = 1;
    run_gc_probe("attention parallel batch", f_attention, &u, &sp, 5, 0, 1e-2, 3e-3, 16);
    /* cross-attention: Tq != Tk, Dv != D */
    u.causal = 0;
    spec sx = {3, {4, 4, 4}, {{1, 2, 3, 4}, {1, 2, 6, 4}, {1, 2, 6, 5}}, {1, 1, 1}};
    run_gc("attention cross", f_attention, &u, &sx, 4, 0, 1e-2, 3e-3);
    aspire_ctx_free(ctx);
}

/* ---- mse ----------------------------------------------------------------------------------- */
static aspire_tensor *f_mse(aspire_ctx *c, aspire_tensor **in, void *ud) {
    return aspire_mse(c, in[0], in[1], *(aspire_reduction *)ud);
}

static void test_mse(void) {
    aspire_ctx *ctx = new_ctx(0);
    float a[4] = {1, 2, 3, 4}, b[4] = {0, 2, 5, 3};
    aspire_tensor *x = aspire_tensor_from(ctx, 2, (int64_t[]){2, 2}, a), *y = aspire_tensor_from(ctx, 2, (int64_t[]){2, 2}, b);
    CHECK_CLOSE(aspire_mse(ctx, x, y, ASPIRE_REDUCE_MEAN)->data[0], 6.0 / 4, 1e-7);
    CHECK_CLOSE(aspire_mse(ctx, x, y, ASPIRE_REDUCE_SUM)->data[0], 6.0, 1e-7);
    aspire_tensor *none = aspire_mse(ctx, x, y, ASPIRE_REDUCE_NONE);
    CHECK(none->ndim == 2 && none->data[2] == 4.0f && none->data[1] == 0.0f);
    aspire_ctx_free(ctx);
    aspire_reduction rs[3] = {ASPIRE_REDUCE_MEAN, ASPIRE_REDUCE_SUM, ASPIRE_REDUCE_NONE};
    for (int i = 0; i < 3; i++) {
        spec s = {2, {2, 2}, {{3, 4}, {3, 4}}, {1, 1}};
        run_gc("mse", f_mse, &rs[i], &s, 50 + (uint64_t)i, 0, 1e-2, 2e-3);
    }
}

/* ---- determinism --------------------------------------------------------------------------- */
/* A small graph through every kind of reduction; same seed and threads -> bit-identical output and
 * gradients. */
static void det_run(float *out, float *grad, int64_t n) {
    aspire_ctx *ctx = new_ctx(0);
    aspire_ctx_set_training(ctx, 1);
    aspire_tensor *x = rand_tensor(ctx, 2, (int64_t[]){256, 96}, 1);
    aspire_tensor *w = rand_tensor(ctx, 2, (int64_t[]){64, 96}, 2);
    aspire_tensor *b = rand_tensor(ctx, 1, (int64_t[]){64}, 3);
    x->requires_grad = w->requires_grad = b->requires_grad = 1;
    aspire_tensor *h = aspire_dropout(ctx, aspire_gelu(ctx, aspire_linear(ctx, x, w, b)), 0.2f);
    h = aspire_layernorm(ctx, h, NULL, NULL, 1e-5f);
    int32_t t[256];
    for (int i = 0; i < 256; i++) t[i] = i % 64;
    aspire_tensor *loss = aspire_add(ctx, aspire_cross_entropy(ctx, h, t, NULL, ASPIRE_REDUCE_MEAN),
                                     aspire_mean(ctx, aspire_mul(ctx, h, h)));
    CHECK(aspire_backward(ctx, loss) == ASPIRE_OK);
    out[0] = loss->data[0];
    memcpy(grad, w->grad, sizeof(float) * (size_t)n);
    aspire_ctx_free(ctx);
}

/* The shared reductions are built to give the same bits for any thread count. */
static void test_reductions_thread_independent(void) {
    int64_t rows = 5000, cols = 24, n = rows * cols;
    float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
    fill_normal(a, n, 1);
    fill_normal(b, n, 2);
    float c1[24], c2[24];
    static float w1[3000], w2[3000];  /* n / 40 columns */
    int keep = aspire_get_threads();
    aspire_set_threads(1);
    aspire_colsum(c1, a, b, rows, cols, 0.5f, 0);
    aspire_colsum(w1, a, NULL, 40, n / 40, 1.0f, 0);  /* wide: column blocks */
    double d1 = aspire_dot_det(a, b, n);
    aspire_set_threads(2);
    aspire_colsum(c2, a, b, rows, cols, 0.5f, 0);
    aspire_colsum(w2, a, NULL, 40, n / 40, 1.0f, 0);
    double d2 = aspire_dot_det(a, b, n);
    aspire_set_threads(keep);
    CHECK(memcmp(c1, c2, sizeof c1) == 0 && memcmp(w1, w2, sizeof w1) == 0 && d1 == d2);
    double want = 0;
    for (int64_t r = 0; r < rows; r++) want += (double)a[r * cols + 5] * b[r * cols + 5];
    CHECK_CLOSE(c1[5], 0.5 * want, 1e-6);
    free(a);
    free(b);
    /* a bias over many rows through the chunked column sums */
    spec s = {2, {2, 1}, {{2100, 16}, {16}}, {1, 1}};  /* just over the parallel threshold */
    run_gc_probe("add bias over many rows", f_add, NULL, &s, 60, 0, 1e-2, 2e-3, 24);
    run_gc_probe("mul bias over many rows", f_mul, NULL, &s, 61, 0, 1e-2, 5e-3, 24);
}

static void test_determinism(void) {
    int64_t n = 64 * 96;
    float l1, l2, *g1 = malloc(sizeof(float) * (size_t)n), *g2 = malloc(sizeof(float) * (size_t)n);
    det_run(&l1, g1, n);
    det_run(&l2, g2, n);
    CHECK(memcmp(&l1, &l2, sizeof l1) == 0);
    CHECK(memcmp(g1, g2, sizeof(float) * (size_t)n) == 0);
    free(g1);
    free(g2);
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
    RUN(test_transpose_slice_concat);
    RUN(test_activations);
    RUN(test_dropout);
    RUN(test_matmul);
    RUN(test_embedding);
    RUN(test_softmax);
    RUN(test_layernorm);
    RUN(test_attention);
    RUN(test_mse);
    RUN(test_reductions_thread_independent);
    RUN(test_determinism);
    return TEST_REPORT();
}
