/* params_io.c — parameter sets to and from safetensors files: every tensor as F32 under its
 * parameter name (PyTorch's state_dict naming), metadata as string pairs. Loading is
 * all-or-nothing: every tensor is checked before any is copied. */
#include "aspire/engine.h"
#include "aspire/safetensors.h"

#include <stdio.h>
#include <string.h>

int aspire_params_save(const aspire_params *p, const char *path, const char *const *meta, int nmeta) {
    aspire_st_writer *w = aspire_st_writer_new();
    if (!w) return ASPIRE_ERR_NOMEM;
    int rc = ASPIRE_OK;
    for (int i = 0; i < nmeta && !rc; i++) rc = aspire_st_writer_meta(w, meta[2 * i], meta[2 * i + 1]);
    for (int i = 0; i < aspire_params_count(p) && !rc; i++) {
        const aspire_tensor *t = aspire_params_at(p, i);
        rc = aspire_st_writer_add(w, t->name, ASPIRE_DT_F32, t->ndim, t->shape, t->data);
    }
    if (!rc) rc = aspire_st_writer_save(w, path);
    else aspire_error_prefix(rc, "%s", path);
    aspire_st_writer_free(w);
    return rc;
}

static int float_dtype(aspire_dtype d) {
    return d == ASPIRE_DT_F32 || d == ASPIRE_DT_F16 || d == ASPIRE_DT_BF16 || d == ASPIRE_DT_F64;
}

static int has_prefix(const char *s, const char *prefix) {
    return prefix && *prefix && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Whether the file's tensor can be copied into t: same rank and shape. */
static int same_shape(const aspire_st_tensor *f, const aspire_tensor *t) {
    int same = f->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = f->shape[d] == t->shape[d];
    return same;
}

int aspire_params_load(aspire_params *p, const char *path) {
    return aspire_params_load_partial(p, path, NULL);
}

int aspire_params_load_partial(aspire_params *p, const char *path, const char *optional) {
    aspire_safetensors *st;
    int rc = aspire_safetensors_open(&st, path);
    if (rc) return rc;
    int n = aspire_params_count(p);
    char *skip = aspire_malloc(n > 0 ? (size_t)n : 1);
    if (!skip) { aspire_safetensors_free(st); return ASPIRE_ERR_NOMEM; }
    /* pass 1: every parameter present, with a float dtype and the same shape (optional ones that
     * are missing or of another shape are skipped) */
    for (int i = 0; i < n && !rc; i++) {
        const aspire_tensor *t = aspire_params_at(p, i);
        const aspire_st_tensor *f = aspire_safetensors_find(st, t->name);
        skip[i] = has_prefix(t->name, optional) && (!f || !float_dtype(f->dtype) || !same_shape(f, t));
        if (skip[i]) continue;
        if (!f) {
            rc = aspire_error(ASPIRE_ERR_NOTFOUND, "%s: tensor '%s' is missing (the file has %d tensors)", path, t->name,
                              aspire_safetensors_count(st));
            break;
        }
        if (!float_dtype(f->dtype)) {
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s': dtype %s, expected a float type (F32, F16, BF16 or F64)",
                              path, t->name, aspire_dtype_name(f->dtype));
            break;
        }
        if (!same_shape(f, t)) {
            char a[160], b[160];
            size_t k = (size_t)snprintf(a, sizeof a, "(");
            for (int d = 0; d < f->ndim && k < sizeof a; d++) k += (size_t)snprintf(a + k, sizeof a - k, d ? ", %lld" : "%lld", (long long)f->shape[d]);
            if (k < sizeof a) snprintf(a + k, sizeof a - k, ")");
            aspire_shape_str(t, b, sizeof b);
            rc = aspire_error(ASPIRE_ERR_SHAPE, "%s: tensor '%s': shape %s in the file, expected %s", path, t->name, a, b);
        }
    }
    /* pass 2: copy (converting narrower or wider floats) */
    for (int i = 0; i < n && !rc; i++) {
        if (skip[i]) continue;
        aspire_tensor *t = aspire_params_at(p, i);
        aspire_st_tensor_to_f32(aspire_safetensors_find(st, t->name), t->data);
    }
    aspire_free(skip, n > 0 ? (size_t)n : 1);
    aspire_safetensors_free(st);
    return rc;
}

int aspire_params_read_prefixed(aspire_params *p, const aspire_safetensors *st, const char *prefix) {
    char name[512];
    for (int i = 0; i < aspire_params_count(p); i++) {
        aspire_tensor *x = aspire_params_at(p, i);
        snprintf(name, sizeof name, "%s%s", prefix, x->name);
        int rc = aspire_safetensors_read_f32(st, name, x->ndim, x->shape, 0, x->data, x->numel, NULL);
        if (rc) return rc;
    }
    return ASPIRE_OK;
}

int aspire_params_read_all(aspire_params *p, const aspire_safetensors *st, const char *path, const char *what) {
    int rc = aspire_params_read_prefixed(p, st, "");
    if (!rc && aspire_safetensors_count(st) != aspire_params_count(p))
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: holds %d tensors, the %s has %d", path, aspire_safetensors_count(st), what,
                          aspire_params_count(p));
    return rc;
}
