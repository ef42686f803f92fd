/* onednn_glue.h — the engine's private bridge to oneDNN (Debian's 2.6.3, the v2 C API).
 *
 * Per context: an engine and a stream, created on first use; a primitive cache keyed by
 * everything that defines a primitive (kind, shapes, strides, paddings, formats, flags, threads),
 * so that a training loop creates each primitive once; one shared user-mode scratchpad; and a few
 * growable temporary buffers for reorders. Every dnnl_* call is checked: a failure becomes an
 * aspire status (ASPIRE_ERR_BACKEND, or ASPIRE_ERR_NOMEM) with a message naming the call. */
#ifndef ASPIRE_DNNL_GLUE_H
#define ASPIRE_DNNL_GLUE_H

#include "engine/internal.h"

#include <oneapi/dnnl/dnnl.h>

typedef struct aspire_dnnl aspire_dnnl;

/* Turns a failed dnnl status into an aspire status and message "oneDNN: <call>: <reason>". */
int aspire_dnnl_fail(dnnl_status_t s, const char *call);

/* Checks a dnnl_* call inside a function that has `int rc` and a `fail:` label. */
#define DNNL_TRY(call)                                        \
    do {                                                      \
        dnnl_status_t s_ = (call);                            \
        if (s_ != dnnl_success) {                             \
            rc = aspire_dnnl_fail(s_, #call);                 \
            goto fail;                                        \
        }                                                     \
    } while (0)
/* Checks an aspire status the same way. */
#define ASPIRE_TRY(expr)                                      \
    do {                                                      \
        rc = (expr);                                          \
        if (rc != ASPIRE_OK) goto fail;                       \
    } while (0)

/* ---- cache keys: a flat list of integers ---------------------------------------------------- */
#define ASPIRE_DNNL_KEY_MAX 64
typedef struct aspire_dnnl_key {
    int n;
    int64_t v[ASPIRE_DNNL_KEY_MAX];
} aspire_dnnl_key;

/* Primitive kinds, the first element of every key. */
enum {
    ASPIRE_PK_CONV_FWD = 1, ASPIRE_PK_CONV_BWD_DATA, ASPIRE_PK_CONV_BWD_WEIGHTS,
    ASPIRE_PK_DECONV_FWD, ASPIRE_PK_DECONV_BWD_DATA, ASPIRE_PK_DECONV_BWD_WEIGHTS,
    ASPIRE_PK_POOL_FWD, ASPIRE_PK_POOL_BWD, ASPIRE_PK_BN_FWD, ASPIRE_PK_BN_BWD,
    ASPIRE_PK_RESAMPLE_FWD, ASPIRE_PK_RESAMPLE_BWD, ASPIRE_PK_REORDER
};

static inline void aspire_key_add(aspire_dnnl_key *k, int64_t v) {
    ASPIRE_ASSERT(k->n < ASPIRE_DNNL_KEY_MAX, "(oneDNN cache key too long)");
    k->v[k->n++] = v;
}
static inline void aspire_key_init(aspire_dnnl_key *k, int kind) {
    k->n = 0;
    aspire_key_add(k, kind);
}
static inline void aspire_key_dims(aspire_dnnl_key *k, int n, const int64_t *d) {
    aspire_key_add(k, n);
    for (int i = 0; i < n; i++) aspire_key_add(k, d[i]);
}

/* ---- primitives --------------------------------------------------------------------------- */
#define ASPIRE_PRIM_MAX_MEMS 14
typedef struct aspire_prim {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    int nmems;
    struct { int arg; dnnl_memory_t mem; } mems[ASPIRE_PRIM_MAX_MEMS]; /* one per execute argument */
    int alg;      /* op-specific notes (e.g. the convolution algorithm and layouts chosen) */
    int variant;
} aspire_prim;

/* The context's oneDNN state, made on first use (engine, stream, cache). NULL with the error set
 * when oneDNN cannot start. Owned by the context (freed by aspire_ctx_free). */
aspire_dnnl *aspire_dnnl_get(aspire_ctx *ctx);

/* The cached primitive for k, or NULL. */
aspire_prim *aspire_dnnl_find(aspire_dnnl *d, const aspire_dnnl_key *k);

/* Creates the primitive for operation descriptor `desc` (attr may be NULL; hint: the forward
 * primitive descriptor of a backward primitive, or NULL), caches it under k and returns it in
 * *out. The cache owns it. A failure to create (e.g. dnnl_unimplemented) returns
 * ASPIRE_ERR_BACKEND and caches nothing. */
int aspire_dnnl_make(aspire_dnnl *d, const aspire_dnnl_key *k, const_dnnl_op_desc_t desc,
                     const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint, aspire_prim **out);
/* The same, but refuses (ASPIRE_ERR_BACKEND, nothing cached) when oneDNN would run its slow
 * reference kernel ("ref:" implementations), so the caller can try other layouts first. */
int aspire_dnnl_make_fast(aspire_dnnl *d, const aspire_dnnl_key *k, const_dnnl_op_desc_t desc,
                          const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint, aspire_prim **out);

/* The memory descriptor of execute argument `arg` (DNNL_ARG_SRC, ...) of p; a zero descriptor when p
 * has no such argument. */
const dnnl_memory_desc_t *aspire_prim_md(const aspire_prim *p, int arg);

typedef struct aspire_dnnl_arg {
    int arg;         /* DNNL_ARG_* */
    const void *ptr; /* data in the layout of aspire_prim_md(p, arg) */
} aspire_dnnl_arg;

/* Executes p on raw pointers (the scratchpad is supplied here) and waits for it. */
int aspire_dnnl_exec(aspire_dnnl *d, aspire_prim *p, int n, const aspire_dnnl_arg *args);

/* Copies src (layout src_md) into dst (layout dst_md) through a cached reorder primitive. */
int aspire_dnnl_reorder(aspire_dnnl *d, const dnnl_memory_desc_t *src_md, const void *src,
                        const dnnl_memory_desc_t *dst_md, void *dst);

/* A temporary buffer of at least `bytes`, 64-byte aligned, owned by the oneDNN state and reused:
 * valid until the next call with the same slot (0 .. ASPIRE_DNNL_TMP_SLOTS-1). NULL on OOM. */
#define ASPIRE_DNNL_TMP_SLOTS 4
void *aspire_dnnl_tmp(aspire_dnnl *d, int slot, size_t bytes);

/* A plain memory descriptor by tag (dims in oneDNN's logical order). */
int aspire_dnnl_md(dnnl_memory_desc_t *md, int ndims, const int64_t *dims, dnnl_format_tag_t tag);

/* Whether two descriptors describe the same bytes (equal, or equal up to the trivial difference
 * between nhwc and nChw16c when C == 16). */
int aspire_dnnl_md_same(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b);

/* Whether 3×3 stride-1 convolutions may use oneDNN's Winograd kernels (default on; the environment
 * variable ASPIRE_WINOGRAD=0 turns them off, read when the context first uses oneDNN). */
int aspire_dnnl_winograd(const aspire_dnnl *d);

/* Batch norm's kernels: 0 or 1 = the fused C kernels (the default, see op_norm.c), 2 = oneDNN's
 * primitive. From the environment (ASPIRE_BN=fast or =onednn), read when the context first uses
 * oneDNN. */
int aspire_dnnl_bn_path(const aspire_dnnl *d);

/* Backward functions cannot return errors: when a oneDNN backward fails they compute the same
 * with the reference path and count it here (tests check the count stays 0). */
void aspire_dnnl_note_fallback(aspire_ctx *ctx);
int aspire_dnnl_fallbacks(aspire_ctx *ctx);

/* Small work runs on one thread: a parallel region costs more than it saves on small tensors, and
 * far more on a loaded machine, where every region waits until each of its threads is scheduled.
 * aspire_threads_limit(work) drops OpenMP (and so oneDNN, whose primitives are created and cached
 * per thread count) to one thread when `work` (elementary operations) is below
 * ASPIRE_SMALL_WORK, returning the count to restore with aspire_threads_restore. Nests. */
#define ASPIRE_SMALL_WORK ((int64_t)1 << 16)
int aspire_threads_limit(int64_t work);
void aspire_threads_restore(int prev);

/* Number of primitives created so far (tests check that a loop creates each one once). */
int aspire_dnnl_cache_size(aspire_ctx *ctx);

#endif
