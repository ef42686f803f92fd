/* op_shape.c — ops that move data without arithmetic, forward and backward side by side: reshape
 * (a view: shares x's data), transpose of two dims (a copy), concat of n tensors along an axis, and
 * slice along an axis. Each is viewed as (outer, axis, inner) blocks of contiguous memory. */
#include "engine/dense.h"
#include "engine/ops.h"

#include <string.h>

static int64_t prod(const int64_t *s, int lo, int hi) {
    int64_t p = 1;
    for (int i = lo; i < hi; i++) p *= s[i];
    return p;
}

static int norm_axis(int axis, int ndim, const char *op) {
    if (axis < 0) axis += ndim;
    ASPIRE_ASSERT(axis >= 0 && axis < ndim, "(%s: axis out of range for %d dims)", op, ndim);
    return axis;
}

/* ---- reshape ------------------------------------------------------------------------------- */
/* One dim may be -1 (inferred). The result shares x's data (writes to one show in the other); its
 * gradient is its own and flows back into x's. */
aspire_tensor *aspire_reshape(aspire_ctx *ctx, aspire_tensor *x, int ndim, const int64_t *shape) {
    if (!x) return NULL;
    ASPIRE_ASSERT(ndim >= 1 && ndim <= ASPIRE_MAX_DIMS, "(reshape to %d dims)", ndim);
    int64_t s[ASPIRE_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1) {
            ASPIRE_ASSERT(infer < 0, "(reshape: more than one -1)");
            infer = i;
        } else {
            ASPIRE_ASSERT(s[i] >= 0, "(reshape: dim %d is %lld)", i, (long long)s[i]);
            known *= s[i];
        }
    }
    if (infer >= 0) {
        int64_t rest = known > 0 ? x->numel % known : 1;  /* (no % inside ASPIRE_ASSERT: it becomes the format) */
        ASPIRE_ASSERT(known > 0 && rest == 0, "(reshape: cannot infer the -1 dim)");
        s[infer] = x->numel / known;
        known *= s[infer];
    }
    if (known != x->numel) {
        char b[96];
        aspire_abort(__FILE__, __LINE__, "reshape: %lld elements of x %s do not fit the new shape",
                     (long long)x->numel, aspire_shape_str(x, b, sizeof b));
    }
    aspire_tensor *out = aspire_ctx_alloc(ctx, sizeof *out);
    if (!out) return NULL;
    memset(out, 0, sizeof *out);
    out->ndim = ndim;
    memcpy(out->shape, s, sizeof(int64_t) * (size_t)ndim);
    out->numel = x->numel;
    out->data = x->data;
    out->node = -1;
    aspire_record(ctx, ASPIRE_OP_RESHAPE, out, 1, &x);
    return out;
}

void aspire_bwd_reshape(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0];
    const float *g = node->out->grad;
    int acc;
    float *d = aspire_grad_dst(ctx, x, &acc);
    if (!d) return;
    int64_t n = x->numel;
    if (!acc) { memcpy(d, g, sizeof(float) * (size_t)n); return; }
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) d[i] += g[i];
}

/* ---- transpose ----------------------------------------------------------------------------- */
/* src viewed as (pre, n0, mid, n1, post) -> dst (pre, n1, mid, n0, post); acc adds into dst. */
static void swap_axes(float *dst, const float *src, int64_t pre, int64_t n0, int64_t mid, int64_t n1, int64_t post,
                      int acc) {
    int64_t total = pre * n0 * mid * n1 * post;
#pragma omp parallel for collapse(2) schedule(static) if (total > ASPIRE_PAR_MIN)
    for (int64_t p = 0; p < pre; p++)
        for (int64_t j = 0; j < n1; j++)
            for (int64_t m = 0; m < mid; m++)
                for (int64_t i = 0; i < n0; i++) {
                    const float *s = src + (((p * n0 + i) * mid + m) * n1 + j) * post;
                    float *d = dst + (((p * n1 + j) * mid + m) * n0 + i) * post;
                    if (acc)
                        for (int64_t k = 0; k < post; k++) d[k] += s[k];
                    else
                        memcpy(d, s, sizeof(float) * (size_t)post);
                }
}

aspire_tensor *aspire_transpose(aspire_ctx *ctx, aspire_tensor *x, int d0, int d1) {
    if (!x) return NULL;
    d0 = norm_axis(d0, x->ndim, "transpose");
    d1 = norm_axis(d1, x->ndim, "transpose");
    if (d0 > d1) { int t = d0; d0 = d1; d1 = t; }
    double t0 = aspire_prof_begin(ctx);
    int64_t s[ASPIRE_MAX_DIMS];
    memcpy(s, x->shape, sizeof s);
    s[d0] = x->shape[d1];
    s[d1] = x->shape[d0];
    aspire_tensor *out = aspire_tensor_new(ctx, x->ndim, s);
    if (!out) return NULL;
    int64_t pre = prod(x->shape, 0, d0), mid = prod(x->shape, d0 + 1, d1), post = prod(x->shape, d1 + 1, x->ndim);
    swap_axes(out->data, x->data, pre, x->shape[d0], mid, x->shape[d1], post, 0);
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_TRANSPOSE, out, 1, &x);
    if (node) { node->i[0] = d0; node->i[1] = d1; }
    aspire_prof_end(ctx, ASPIRE_OP_TRANSPOSE, t0);
    return out;
}

void aspire_bwd_transpose(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0];
    int d0 = (int)node->i[0], d1 = (int)node->i[1];
    int acc;
    float *d = aspire_grad_dst(ctx, x, &acc);
    if (!d) return;
    int64_t pre = prod(x->shape, 0, d0), mid = prod(x->shape, d0 + 1, d1), post = prod(x->shape, d1 + 1, x->ndim);
    /* out is (pre, n1, mid, n0, post): swapping back gives x's layout. */
    swap_axes(d, node->out->grad, pre, x->shape[d1], mid, x->shape[d0], post, acc);
}

/* ---- concat -------------------------------------------------------------------------------- */
/* The node holds one input that requires grad (a node has at most ASPIRE_NODE_MAX_IN inputs); the
 * whole list is in node->saved. i[0] = n, i[1] = axis. */
aspire_tensor *aspire_concat(aspire_ctx *ctx, aspire_tensor *const *xs, int n, int axis) {
    ASPIRE_ASSERT(n >= 1, "(concat of %d tensors)", n);
    for (int k = 0; k < n; k++)
        if (!xs[k]) return NULL;
    const aspire_tensor *x0 = xs[0];
    axis = norm_axis(axis, x0->ndim, "concat");
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        const aspire_tensor *x = xs[k];
        int ok = x->ndim == x0->ndim;
        for (int d = 0; ok && d < x0->ndim; d++)
            if (d != axis && x->shape[d] != x0->shape[d]) ok = 0;
        if (!ok) {
            char a[96], b[96];
            aspire_abort(__FILE__, __LINE__, "concat: input %d %s does not match input 0 %s off axis %d", k,
                         aspire_shape_str(x, a, sizeof a), aspire_shape_str(x0, b, sizeof b), axis);
        }
        total += x->shape[axis];
    }
    double t0 = aspire_prof_begin(ctx);
    int64_t s[ASPIRE_MAX_DIMS];
    memcpy(s, x0->shape, sizeof s);
    s[axis] = total;
    aspire_tensor *out = aspire_tensor_new(ctx, x0->ndim, s);
    if (!out) return NULL;
    int64_t outer = prod(x0->shape, 0, axis), inner = prod(x0->shape, axis + 1, x0->ndim);
    int64_t off = 0;
    for (int k = 0; k < n; k++) {
        int64_t w = xs[k]->shape[axis] * inner;
        const float *src = xs[k]->data;
        float *dst = out->data;
#pragma omp parallel for schedule(static) if (outer * w > ASPIRE_PAR_MIN && outer > 1)
        for (int64_t o = 0; o < outer; o++)
            memcpy(dst + o * total * inner + off, src + o * w, sizeof(float) * (size_t)w);
        off += w;
    }
    aspire_tensor *rep = xs[0];
    for (int k = 0; k < n; k++)
        if (xs[k]->requires_grad) { rep = xs[k]; break; }
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_CONCAT, out, 1, &rep);
    if (node) {
        aspire_tensor **list = aspire_ctx_alloc(ctx, sizeof(*list) * (size_t)n);
        if (!list) return NULL;
        memcpy(list, xs, sizeof(*list) * (size_t)n);
        node->saved = list;
        node->i[0] = n;
        node->i[1] = axis;
    }
    aspire_prof_end(ctx, ASPIRE_OP_CONCAT, t0);
    return out;
}

void aspire_bwd_concat(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor **xs = node->saved;
    int n = (int)node->i[0], axis = (int)node->i[1];
    const aspire_tensor *out = node->out;
    int64_t outer = prod(out->shape, 0, axis), inner = prod(out->shape, axis + 1, out->ndim);
    int64_t total = out->shape[axis], off = 0;
    for (int k = 0; k < n; k++) {
        aspire_tensor *x = xs[k];
        int64_t w = x->shape[axis] * inner;
        if (aspire_needs_grad(x)) {
            int acc;
            float *d = aspire_grad_dst(ctx, x, &acc);
            if (!d) return;
            const float *g = out->grad;
#pragma omp parallel for schedule(static) if (outer * w > ASPIRE_PAR_MIN && outer > 1)
            for (int64_t o = 0; o < outer; o++) {
                const float *src = g + o * total * inner + off;
                float *dst = d + o * w;
                if (acc)
                    for (int64_t j = 0; j < w; j++) dst[j] += src[j];
                else
                    memcpy(dst, src, sizeof(float) * (size_t)w);
            }
        }
        off += w;
    }
}

/* ---- slice --------------------------------------------------------------------------------- */
/* x (..., A, ...) -> (..., len, ...): elements [start, start + len) along `axis`. */
aspire_tensor *aspire_slice(aspire_ctx *ctx, aspire_tensor *x, int axis, int64_t start, int64_t len) {
    if (!x) return NULL;
    axis = norm_axis(axis, x->ndim, "slice");
    ASPIRE_ASSERT(start >= 0 && len >= 0 && start + len <= x->shape[axis], "(slice [%lld, %lld) of a dim of %lld)",
                  (long long)start, (long long)(start + len), (long long)x->shape[axis]);
    double t0 = aspire_prof_begin(ctx);
    int64_t s[ASPIRE_MAX_DIMS];
    memcpy(s, x->shape, sizeof s);
    s[axis] = len;
    aspire_tensor *out = aspire_tensor_new(ctx, x->ndim, s);
    if (!out) return NULL;
    int64_t outer = prod(x->shape, 0, axis), inner = prod(x->shape, axis + 1, x->ndim), a = x->shape[axis];
    int64_t w = len * inner;
#pragma omp parallel for schedule(static) if (outer * w > ASPIRE_PAR_MIN && outer > 1)
    for (int64_t o = 0; o < outer; o++)
        memcpy(out->data + o * w, x->data + (o * a + start) * inner, sizeof(float) * (size_t)w);
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_SLICE, out, 1, &x);
    if (node) { node->i[0] = axis; node->i[1] = start; node->i[2] = len; }
    aspire_prof_end(ctx, ASPIRE_OP_SLICE, t0);
    return out;
}

void aspire_bwd_slice(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0];
    int axis = (int)node->i[0];
    int64_t start = node->i[1], len = node->i[2];
    int64_t outer = prod(x->shape, 0, axis), inner = prod(x->shape, axis + 1, x->ndim), a = x->shape[axis];
    int64_t w = len * inner;
    /* The gradient is zero outside the slice: accumulate into a zero-filled (or existing) grad. */
    float *d = aspire_grad_accum(ctx, x);
    if (!d) return;
    const float *g = node->out->grad;
#pragma omp parallel for schedule(static) if (outer * w > ASPIRE_PAR_MIN && outer > 1)
    for (int64_t o = 0; o < outer; o++) {
        float *dst = d + (o * a + start) * inner;
        const float *src = g + o * w;
        for (int64_t j = 0; j < w; j++) dst[j] += src[j];
    }
}
