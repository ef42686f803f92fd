/* onednn_glue.c — oneDNN engine, stream, primitive cache, scratchpad and reorders for one context
 * (see onednn_glue.h). */
#include "engine/onednn_glue.h"

#include <oneapi/dnnl/dnnl_debug.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef struct cache_entry {
    uint64_t hash;
    aspire_dnnl_key key;
    aspire_prim prim;
} cache_entry;

typedef struct reorder_entry {
    dnnl_memory_desc_t src, dst;
    int threads;
    aspire_prim prim;
} reorder_entry;

struct aspire_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    cache_entry **entries; /* small: a network has tens of primitives; scanned by hash */
    int n, cap;
    reorder_entry *reorders;
    int nreorders, reorder_cap;
    void *scratch;         /* the shared user-mode scratchpad */
    size_t scratch_bytes;
    void *tmp[ASPIRE_DNNL_TMP_SLOTS];
    size_t tmp_bytes[ASPIRE_DNNL_TMP_SLOTS];
    int winograd;          /* ASPIRE_WINOGRAD=0 turns Winograd convolutions off */
    int fallbacks;         /* backward passes that fell back to the reference path */
    int bn_path;           /* ASPIRE_BN_DEFAULT / _FAST (fused C kernels) / _ONEDNN (oneDNN's primitive) */
};

int aspire_dnnl_fail(dnnl_status_t s, const char *call) {
    return aspire_error(s == dnnl_out_of_memory ? ASPIRE_ERR_NOMEM : ASPIRE_ERR_BACKEND, "oneDNN: %s: %s", call,
                        dnnl_status2str(s));
}

static void prim_destroy(aspire_prim *p) {
    for (int i = 0; i < p->nmems; i++) dnnl_memory_destroy(p->mems[i].mem);
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->pd) dnnl_primitive_desc_destroy(p->pd);
    memset(p, 0, sizeof *p);
}

static void dnnl_state_free(aspire_dnnl *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) {
        prim_destroy(&d->entries[i]->prim);
        aspire_free(d->entries[i], sizeof(cache_entry));
    }
    aspire_free(d->entries, sizeof(*d->entries) * (size_t)d->cap);
    for (int i = 0; i < d->nreorders; i++) prim_destroy(&d->reorders[i].prim);
    aspire_free(d->reorders, sizeof(reorder_entry) * (size_t)d->reorder_cap);
    aspire_free_aligned(d->scratch);
    for (int i = 0; i < ASPIRE_DNNL_TMP_SLOTS; i++) aspire_free_aligned(d->tmp[i]);
    if (d->stream) dnnl_stream_destroy(d->stream);
    if (d->engine) dnnl_engine_destroy(d->engine);
    aspire_free(d, sizeof *d);
}

aspire_dnnl *aspire_dnnl_get(aspire_ctx *ctx) {
    aspire_dnnl *d = aspire_ctx_dnnl(ctx);
    if (d) return d;
    int rc = ASPIRE_OK;
    d = aspire_calloc(1, sizeof *d);
    if (!d) return NULL;
    DNNL_TRY(dnnl_engine_create(&d->engine, dnnl_cpu, 0));
    DNNL_TRY(dnnl_stream_create(&d->stream, d->engine, dnnl_stream_default_flags));
    const aspire_ctx_options *o = aspire_ctx_get_options(ctx);
    d->winograd = !o->no_winograd;
    d->bn_path = o->bn_kernel == ASPIRE_BN_FAST || o->bn_kernel == ASPIRE_BN_ONEDNN ? o->bn_kernel : ASPIRE_BN_DEFAULT;
    aspire_ctx_set_dnnl(ctx, d, dnnl_state_free);
    return d;
fail:
    (void)rc;
    dnnl_state_free(d);
    return NULL;
}

static uint64_t key_hash(const aspire_dnnl_key *k) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < k->n; i++) {
        h ^= (uint64_t)k->v[i];
        h *= 1099511628211ull;
    }
    return h;
}

aspire_prim *aspire_dnnl_find(aspire_dnnl *d, const aspire_dnnl_key *k) {
    uint64_t h = key_hash(k);
    for (int i = 0; i < d->n; i++) {
        cache_entry *e = d->entries[i];
        if (e->hash == h && e->key.n == k->n && memcmp(e->key.v, k->v, sizeof(int64_t) * (size_t)k->n) == 0)
            return &e->prim;
    }
    return NULL;
}

/* Takes ownership of pd (destroyed on failure): makes its primitive and caches it under k. */
static int cache_put(aspire_dnnl *d, const aspire_dnnl_key *k, dnnl_primitive_desc_t pd, aspire_prim **out) {
    int rc = ASPIRE_OK;
    cache_entry *e = NULL;
    *out = NULL;
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 64;
        cache_entry **n = aspire_realloc(d->entries, sizeof(*n) * (size_t)d->cap, sizeof(*n) * (size_t)cap);
        if (!n) { dnnl_primitive_desc_destroy(pd); return ASPIRE_ERR_NOMEM; }
        d->entries = n;
        d->cap = cap;
    }
    e = aspire_calloc(1, sizeof *e);
    if (!e) { dnnl_primitive_desc_destroy(pd); return ASPIRE_ERR_NOMEM; }
    e->prim.pd = pd;
    DNNL_TRY(dnnl_primitive_create(&e->prim.prim, pd));
    e->key = *k;
    e->hash = key_hash(k);
    d->entries[d->n++] = e;
    *out = &e->prim;
    return ASPIRE_OK;
fail:
    prim_destroy(&e->prim);
    aspire_free(e, sizeof *e);
    return rc;
}

static int make(aspire_dnnl *d, const aspire_dnnl_key *k, const_dnnl_op_desc_t desc, const_dnnl_primitive_attr_t attr,
                const_dnnl_primitive_desc_t hint, int no_ref, aspire_prim **out) {
    int rc = ASPIRE_OK;
    dnnl_primitive_attr_t a = NULL;
    dnnl_primitive_desc_t pd = NULL;
    *out = NULL;
    if (attr) DNNL_TRY(dnnl_primitive_attr_clone(&a, attr));
    else DNNL_TRY(dnnl_primitive_attr_create(&a));
    DNNL_TRY(dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user));
    DNNL_TRY(dnnl_primitive_desc_create(&pd, desc, a, d->engine, hint));
    dnnl_primitive_attr_destroy(a);
    a = NULL;
    if (no_ref) {
        const char *impl = NULL;
        DNNL_TRY(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
        if (impl && strncmp(impl, "ref", 3) == 0) {
            dnnl_primitive_desc_destroy(pd);
            return aspire_error(ASPIRE_ERR_BACKEND, "oneDNN: only its reference kernel (%s) for this layout", impl);
        }
    }
    return cache_put(d, k, pd, out);
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (a) dnnl_primitive_attr_destroy(a);
    return rc;
}

int aspire_dnnl_make(aspire_dnnl *d, const aspire_dnnl_key *k, const_dnnl_op_desc_t desc,
                     const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint, aspire_prim **out) {
    return make(d, k, desc, attr, hint, 0, out);
}

int aspire_dnnl_make_fast(aspire_dnnl *d, const aspire_dnnl_key *k, const_dnnl_op_desc_t desc,
                          const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint, aspire_prim **out) {
    return make(d, k, desc, attr, hint, 1, out);
}

const dnnl_memory_desc_t *aspire_prim_md(const aspire_prim *p, int arg) {
    return dnnl_primitive_desc_query_md(p->pd, dnnl_query_exec_arg_md, arg);
}

static void *grow(void **buf, size_t *have, size_t bytes) {
    if (bytes <= *have && *buf) return *buf;
    aspire_free_aligned(*buf);
    *have = 0;
    *buf = aspire_malloc_aligned(bytes ? bytes : 64);
    if (*buf) *have = bytes;
    return *buf;
}

void *aspire_dnnl_tmp(aspire_dnnl *d, int slot, size_t bytes) {
    ASPIRE_ASSERT(slot >= 0 && slot < ASPIRE_DNNL_TMP_SLOTS);
    return grow(&d->tmp[slot], &d->tmp_bytes[slot], bytes);
}

int aspire_dnnl_exec(aspire_dnnl *d, aspire_prim *p, int n, const aspire_dnnl_arg *args) {
    int rc = ASPIRE_OK;
    dnnl_exec_arg_t ea[ASPIRE_PRIM_MAX_MEMS + 1];
    ASPIRE_ASSERT(n <= ASPIRE_PRIM_MAX_MEMS);
    for (int i = 0; i < n; i++) {
        dnnl_memory_t m = NULL;
        for (int j = 0; j < p->nmems; j++)
            if (p->mems[j].arg == args[i].arg) m = p->mems[j].mem;
        if (!m) {
            ASPIRE_ASSERT(p->nmems < ASPIRE_PRIM_MAX_MEMS);
            DNNL_TRY(dnnl_memory_create(&m, aspire_prim_md(p, args[i].arg), d->engine, (void *)args[i].ptr));
            p->mems[p->nmems].arg = args[i].arg;
            p->mems[p->nmems++].mem = m;
        } else {
            DNNL_TRY(dnnl_memory_set_data_handle(m, (void *)args[i].ptr));
        }
        ea[i].arg = args[i].arg;
        ea[i].memory = m;
    }
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(p->pd, dnnl_query_scratchpad_md, 0);
    size_t sbytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (sbytes) {
        if (!grow(&d->scratch, &d->scratch_bytes, sbytes)) return ASPIRE_ERR_NOMEM;
        dnnl_memory_t m = NULL;
        for (int j = 0; j < p->nmems; j++)
            if (p->mems[j].arg == DNNL_ARG_SCRATCHPAD) m = p->mems[j].mem;
        if (!m) {
            ASPIRE_ASSERT(p->nmems < ASPIRE_PRIM_MAX_MEMS);
            DNNL_TRY(dnnl_memory_create(&m, smd, d->engine, d->scratch));
            p->mems[p->nmems].arg = DNNL_ARG_SCRATCHPAD;
            p->mems[p->nmems++].mem = m;
        } else {
            DNNL_TRY(dnnl_memory_set_data_handle(m, d->scratch));
        }
        ea[n].arg = DNNL_ARG_SCRATCHPAD;
        ea[n].memory = m;
        n++;
    }
    DNNL_TRY(dnnl_primitive_execute(p->prim, d->stream, n, ea));
    DNNL_TRY(dnnl_stream_wait(d->stream));
    return ASPIRE_OK;
fail:
    return rc;
}

int aspire_dnnl_md(dnnl_memory_desc_t *md, int ndims, const int64_t *dims, dnnl_format_tag_t tag) {
    int rc = ASPIRE_OK;
    dnnl_dims_t dd;
    for (int i = 0; i < ndims; i++) dd[i] = dims[i];
    DNNL_TRY(dnnl_memory_desc_init_by_tag(md, ndims, dd, dnnl_f32, tag));
    return ASPIRE_OK;
fail:
    return rc;
}

/* Byte offset of element idx in a blocked descriptor (oneDNN's blocking rule). */
static int64_t md_offset(const dnnl_memory_desc_t *md, const int64_t *idx) {
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int64_t blk[DNNL_MAX_NDIMS];
    for (int i = 0; i < md->ndims; i++) blk[i] = 1;
    for (int i = 0; i < b->inner_nblks; i++) blk[b->inner_idxs[i]] *= b->inner_blks[i];
    int64_t off = md->offset0;
    for (int i = 0; i < md->ndims; i++) off += (idx[i] / blk[i]) * b->strides[i];
    int64_t step = 1, seen[DNNL_MAX_NDIMS];
    for (int i = 0; i < md->ndims; i++) seen[i] = 1;
    for (int i = b->inner_nblks - 1; i >= 0; i--) {
        int dim = b->inner_idxs[i];
        off += ((idx[dim] / seen[dim]) % b->inner_blks[i]) * step;
        seen[dim] *= b->inner_blks[i];
        step *= b->inner_blks[i];
    }
    return off;
}

int aspire_dnnl_md_same(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b) {
    if (dnnl_memory_desc_equal(a, b)) return 1;
    if (a->ndims != b->ndims || a->data_type != b->data_type) return 0;
    if (a->format_kind != dnnl_blocked || b->format_kind != dnnl_blocked) return 0;
    if (dnnl_memory_desc_get_size(a) != dnnl_memory_desc_get_size(b)) return 0;
    for (int i = 0; i < a->ndims; i++)
        if (a->dims[i] != b->dims[i] || a->padded_dims[i] != b->padded_dims[i]) return 0;
    /* Layouts that are affine per dimension agree everywhere when they agree along every axis. */
    int64_t idx[DNNL_MAX_NDIMS] = {0};
    for (int d = 0; d < a->ndims; d++) {
        for (int64_t v = 0; v < a->dims[d]; v++) {
            idx[d] = v;
            if (md_offset(a, idx) != md_offset(b, idx)) return 0;
        }
        idx[d] = 0;
    }
    for (int d = 0; d < a->ndims; d++) idx[d] = a->dims[d] - 1;
    return md_offset(a, idx) == md_offset(b, idx);
}

int aspire_dnnl_reorder(aspire_dnnl *d, const dnnl_memory_desc_t *src_md, const void *src,
                        const dnnl_memory_desc_t *dst_md, void *dst) {
    int rc = ASPIRE_OK;
    /* Reorders are found by descriptor equality (layouts such as Winograd weights are not plain
     * blocked ones, so they do not flatten into a key); a network has a few tens of them. */
    aspire_prim *p = NULL;
    const int prev = aspire_threads_limit((int64_t)(dnnl_memory_desc_get_size(dst_md) / sizeof(float)));
    int threads = omp_get_max_threads();
    for (int i = 0; i < d->nreorders && !p; i++) {
        reorder_entry *r = &d->reorders[i];
        if (r->threads == threads && dnnl_memory_desc_equal(&r->src, src_md) && dnnl_memory_desc_equal(&r->dst, dst_md))
            p = &r->prim;
    }
    if (!p) {
        if (d->nreorders == d->reorder_cap) {
            int cap = d->reorder_cap ? 2 * d->reorder_cap : 32;
            reorder_entry *n = aspire_realloc(d->reorders, sizeof(*n) * (size_t)d->reorder_cap, sizeof(*n) * (size_t)cap);
            if (!n) { rc = ASPIRE_ERR_NOMEM; goto fail; }
            d->reorders = n;
            d->reorder_cap = cap;
        }
        reorder_entry *r = &d->reorders[d->nreorders];
        memset(r, 0, sizeof *r);
        dnnl_primitive_attr_t a = NULL;
        DNNL_TRY(dnnl_primitive_attr_create(&a));
        dnnl_status_t s = dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user);
        if (s == dnnl_success) s = dnnl_reorder_primitive_desc_create(&r->prim.pd, src_md, d->engine, dst_md, d->engine, a);
        dnnl_primitive_attr_destroy(a);
        if (s == dnnl_success) s = dnnl_primitive_create(&r->prim.prim, r->prim.pd);
        if (s != dnnl_success) {
            prim_destroy(&r->prim);
            rc = aspire_dnnl_fail(s, "reorder primitive");
            goto fail;
        }
        r->src = *src_md;
        r->dst = *dst_md;
        r->threads = threads;
        d->nreorders++;
        p = &r->prim;
    }
    aspire_dnnl_arg args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    rc = aspire_dnnl_exec(d, p, 2, args);
fail:
    aspire_threads_restore(prev);
    return rc;
}

int aspire_dnnl_cache_size(aspire_ctx *ctx) {
    aspire_dnnl *d = aspire_ctx_dnnl(ctx);
    return d ? d->n + d->nreorders : 0;
}

int aspire_dnnl_winograd(const aspire_dnnl *d) { return d->winograd; }

void aspire_dnnl_note_fallback(aspire_ctx *ctx) {
    aspire_dnnl *d = aspire_ctx_dnnl(ctx);
    if (d) d->fallbacks++;
}

int aspire_dnnl_fallbacks(aspire_ctx *ctx) {
    aspire_dnnl *d = aspire_ctx_dnnl(ctx);
    return d ? d->fallbacks : 0;
}

int aspire_dnnl_bn_path(const aspire_dnnl *d) { return d->bn_path; }

int aspire_threads_limit(int64_t work) {
    int prev = omp_get_max_threads();
    if (work < ASPIRE_SMALL_WORK && prev > 1) omp_set_num_threads(1);
    return prev;
}

void aspire_threads_restore(int prev) {
    if (omp_get_max_threads() != prev) omp_set_num_threads(prev);
}
