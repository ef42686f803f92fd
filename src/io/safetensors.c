/* safetensors.c — the safetensors reader (whole file read and validated up front) and writer
 * (atomic, header padded to 8 bytes with spaces as the reference implementation pads it), with
 * conversions from every stored dtype to float. */
#include "aspire/safetensors.h"
#include "aspire/fileio.h"
#include "io/utf8.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

/* The reference implementation refuses headers above 100 MB; so do we. */
#define MAX_HEADER ((uint64_t)100000000)

static const struct { const char *name; size_t size; } dtypes[ASPIRE_DT_COUNT] = {
    [ASPIRE_DT_F32] = {"F32", 4},   [ASPIRE_DT_F16] = {"F16", 2},   [ASPIRE_DT_BF16] = {"BF16", 2},
    [ASPIRE_DT_F64] = {"F64", 8},   [ASPIRE_DT_I64] = {"I64", 8},   [ASPIRE_DT_I32] = {"I32", 4},
    [ASPIRE_DT_I16] = {"I16", 2},   [ASPIRE_DT_I8] = {"I8", 1},     [ASPIRE_DT_U64] = {"U64", 8},
    [ASPIRE_DT_U32] = {"U32", 4},   [ASPIRE_DT_U16] = {"U16", 2},   [ASPIRE_DT_U8] = {"U8", 1},
    [ASPIRE_DT_BOOL] = {"BOOL", 1}, [ASPIRE_DT_F8_E4M3] = {"F8_E4M3", 1}, [ASPIRE_DT_F8_E5M2] = {"F8_E5M2", 1},
};

const char *aspire_dtype_name(aspire_dtype dt) {
    ASPIRE_ASSERT(dt >= 0 && dt < ASPIRE_DT_COUNT);
    return dtypes[dt].name;
}

size_t aspire_dtype_size(aspire_dtype dt) {
    ASPIRE_ASSERT(dt >= 0 && dt < ASPIRE_DT_COUNT);
    return dtypes[dt].size;
}

static int dtype_parse(const char *s) {
    for (int i = 0; i < ASPIRE_DT_COUNT; i++)
        if (strcmp(s, dtypes[i].name) == 0) return i;
    return -1;
}

/* ---- reader ---------------------------------------------------------------------------------- */

struct aspire_safetensors {
    char *path;
    uint8_t *buf;          /* the whole file */
    size_t n;
    aspire_st_tensor *t;   /* sorted by data offset */
    int nt, t_alloc;
    int *by_name;          /* indices of t sorted by name (nt entries once built) */
    char **meta;           /* key, value pairs */
    int nmeta, meta_alloc;
};

void aspire_safetensors_free(aspire_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->nt; i++) aspire_strfree((char *)st->t[i].name);
    aspire_free(st->t, sizeof(aspire_st_tensor) * (size_t)st->t_alloc);
    aspire_free(st->by_name, sizeof(int) * (size_t)st->nt);
    for (int i = 0; i < 2 * st->nmeta; i++) aspire_strfree(st->meta[i]);
    aspire_free(st->meta, sizeof(char *) * 2 * (size_t)st->meta_alloc);
    aspire_free(st->buf, st->n + 1);
    aspire_strfree(st->path);
    aspire_free(st, sizeof *st);
}

/* A JSON number that is a non-negative integer within 2^53 (exact in a double). */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

typedef struct span { uint64_t begin, end; int idx; } span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int name_cmp(const void *a, const void *b, void *base) {
    const aspire_st_tensor *t = base;
    return strcmp(t[*(const int *)a].name, t[*(const int *)b].name);
}

/* Parses one tensor entry of the header into *t (name set by the caller). */
static int parse_entry(const char *path, const cJSON *e, aspire_st_tensor *t, uint64_t *begin, uint64_t *end,
                       size_t data_n) {
    const char *nm = t->name;
    if (!cJSON_IsObject(e)) return aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s': header entry is not an object", path, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) return aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s': missing or non-string dtype", path, nm);
    int d = dtype_parse(dt->valuestring);
    if (d < 0) return aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", path, nm, dt->valuestring);
    t->dtype = (aspire_dtype)d;
    if (!cJSON_IsArray(sh)) return aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s': missing or non-list shape", path, nm);
    int ndim = cJSON_GetArraySize(sh);
    if (ndim > ASPIRE_ST_MAX_DIMS)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s': %d dimensions (at most %d supported)", path, nm, ndim,
                            ASPIRE_ST_MAX_DIMS);
    t->ndim = ndim;
    uint64_t numel = 1;
    int k = 0;
    for (const cJSON *v = sh->child; v; v = v->next, k++) {
        uint64_t dim;
        if (!json_uint(v, &dim)) return aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s': shape entry %d is not a non-negative integer", path, nm, k);
        t->shape[k] = (int64_t)dim;
        if (dim && numel > ((uint64_t)1 << 62) / dim / 8) return aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s': shape too large", path, nm);
        numel *= dim;
    }
    t->numel = (int64_t)numel;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_uint(off->child, begin) || !json_uint(off->child->next, end))
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s': data_offsets is not a pair of non-negative integers", path, nm);
    if (*end < *begin) return aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] are reversed", path, nm,
                                          (unsigned long long)*begin, (unsigned long long)*end);
    if (*end > data_n)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the data (%zu bytes; file truncated?)",
                            path, nm, (unsigned long long)*begin, (unsigned long long)*end, data_n);
    uint64_t want = numel * dtypes[d].size;
    if (*end - *begin != want)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s': %llu bytes of data, but %s with %llu elements needs %llu", path, nm,
                            (unsigned long long)(*end - *begin), dtypes[d].name, (unsigned long long)numel, (unsigned long long)want);
    t->nbytes = (size_t)want;
    return ASPIRE_OK;
}

static int st_build(aspire_safetensors *st) {
    const char *path = st->path;
    if (st->n < 8) return aspire_error(ASPIRE_ERR_FORMAT, "%s: not a safetensors file (%zu bytes, too short for a header)", path, st->n);
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--) hn = (hn << 8) | st->buf[i];
    if (hn > MAX_HEADER) return aspire_error(ASPIRE_ERR_FORMAT, "%s: header length %llu is implausible (not a safetensors file?)", path, (unsigned long long)hn);
    if (hn > st->n - 8)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes; truncated?)", path,
                            (unsigned long long)hn, st->n);
    const char *h = (const char *)st->buf + 8;
    if (hn < 2 || h[0] != '{') return aspire_error(ASPIRE_ERR_FORMAT, "%s: header does not start with '{' (not a safetensors file?)", path);
    ptrdiff_t bad = io_utf8_invalid_at(h, (size_t)hn);
    if (bad >= 0) return aspire_error(ASPIRE_ERR_FORMAT, "%s: header is not valid UTF-8 (byte %td)", path, bad + 8);
    const char *endp = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(h, (size_t)hn, &endp, 0);
    if (!root) {
        const char *ep = cJSON_GetErrorPtr();
        long at = ep && ep >= h && ep <= h + hn ? (long)(ep - h) : -1;
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: header is not valid JSON (near byte %ld of the header)", path, at);
    }
    int rc = ASPIRE_OK;
    for (const char *q = endp; q && q < h + hn; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: trailing bytes after the JSON header", path);
            break;
        }
    if (!rc && !cJSON_IsObject(root)) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: header is not a JSON object", path);
    const uint8_t *data = st->buf + 8 + hn;
    size_t data_n = st->n - 8 - (size_t)hn;
    int count = 0;
    const cJSON *meta = NULL;
    for (const cJSON *e = rc ? NULL : root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (meta) { rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: __metadata__ appears twice", path); break; }
            meta = e;
        } else {
            count++;
        }
    }
    span *sp = NULL;
    if (!rc && meta) {
        if (!cJSON_IsObject(meta)) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: __metadata__ is not an object", path);
        int nm = rc ? 0 : cJSON_GetArraySize(meta);
        if (nm > 0) {
            st->meta = aspire_calloc(2 * (size_t)nm, sizeof(char *));
            if (!st->meta) rc = ASPIRE_ERR_NOMEM;
            else st->meta_alloc = nm;
        }
        for (const cJSON *m = rc ? NULL : meta->child; m; m = m->next) {
            if (!cJSON_IsString(m)) { rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: __metadata__ value of '%s' is not a string", path, m->string); break; }
            for (int j = 0; j < st->nmeta; j++)
                if (strcmp(st->meta[2 * j], m->string) == 0) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: __metadata__ key '%s' appears twice", path, m->string);
            if (rc) break;
            st->meta[2 * st->nmeta] = aspire_strdup(m->string);
            st->meta[2 * st->nmeta + 1] = aspire_strdup(m->valuestring);
            st->nmeta++;
            if (!st->meta[2 * st->nmeta - 2] || !st->meta[2 * st->nmeta - 1]) { rc = ASPIRE_ERR_NOMEM; break; }
        }
    }
    if (!rc && count > 0) {
        st->t = aspire_calloc((size_t)count, sizeof(aspire_st_tensor));
        sp = aspire_calloc((size_t)count, sizeof(span));
        if (st->t) st->t_alloc = count;
        if (!st->t || !sp) rc = ASPIRE_ERR_NOMEM;
    }
    aspire_st_tensor *tmp_t = st->t;
    int nt = 0;
    for (const cJSON *e = rc ? NULL : root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        aspire_st_tensor *t = &tmp_t[nt];
        t->name = aspire_strdup(e->string);
        if (!t->name) { rc = ASPIRE_ERR_NOMEM; break; }
        sp[nt].idx = nt;
        nt++;
        rc = parse_entry(path, e, t, &sp[nt - 1].begin, &sp[nt - 1].end, data_n);
        if (rc) break;
        t->data = data + sp[nt - 1].begin;
    }
    st->nt = nt; /* so that free releases the names parsed so far */
    cJSON_Delete(root);
    if (!rc && nt > 0) {
        /* non-overlapping: sorted by offset, each begins at or after the previous end */
        qsort(sp, (size_t)nt, sizeof(span), span_cmp);
        for (int i = 1; i < nt && !rc; i++)
            if (sp[i].begin < sp[i - 1].end)
                rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap in the data", path, tmp_t[sp[i - 1].idx].name,
                                  tmp_t[sp[i].idx].name);
    }
    if (!rc && nt > 0) {
        /* reorder by offset, then index by name (and refuse duplicate names) */
        aspire_st_tensor *sorted = aspire_malloc(sizeof(aspire_st_tensor) * (size_t)nt);
        st->by_name = aspire_malloc(sizeof(int) * (size_t)nt);
        if (!sorted || !st->by_name) {
            aspire_free(sorted, sizeof(aspire_st_tensor) * (size_t)nt);
            aspire_free(st->by_name, sizeof(int) * (size_t)nt);
            st->by_name = NULL;
            rc = ASPIRE_ERR_NOMEM;
        } else {
            for (int i = 0; i < nt; i++) sorted[i] = tmp_t[sp[i].idx];
            memcpy(tmp_t, sorted, sizeof(aspire_st_tensor) * (size_t)nt);
            aspire_free(sorted, sizeof(aspire_st_tensor) * (size_t)nt);
            for (int i = 0; i < nt; i++) st->by_name[i] = i;
            qsort_r(st->by_name, (size_t)nt, sizeof(int), name_cmp, tmp_t);
            for (int i = 1; i < nt && !rc; i++)
                if (strcmp(tmp_t[st->by_name[i]].name, tmp_t[st->by_name[i - 1]].name) == 0)
                    rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", path, tmp_t[st->by_name[i]].name);
        }
    }
    aspire_free(sp, sizeof(span) * (size_t)count);
    return rc;
}

int aspire_safetensors_parse(aspire_safetensors **out, const void *data, size_t n, const char *name) {
    *out = NULL;
    aspire_safetensors *st = aspire_calloc(1, sizeof *st);
    if (!st) return ASPIRE_ERR_NOMEM;
    st->path = aspire_strdup(name ? name : "<memory>");
    st->buf = aspire_malloc(n + 1);
    if (!st->path || !st->buf) { aspire_safetensors_free(st); return ASPIRE_ERR_NOMEM; }
    memcpy(st->buf, data, n);
    st->buf[n] = 0;
    st->n = n;
    int rc = st_build(st);
    if (rc) { aspire_safetensors_free(st); return rc; }
    *out = st;
    return ASPIRE_OK;
}

int aspire_safetensors_open(aspire_safetensors **out, const char *path) {
    *out = NULL;
    aspire_safetensors *st = aspire_calloc(1, sizeof *st);
    if (!st) return ASPIRE_ERR_NOMEM;
    st->path = aspire_strdup(path);
    if (!st->path) { aspire_safetensors_free(st); return ASPIRE_ERR_NOMEM; }
    char *buf;
    int rc = aspire_read_file(path, &buf, &st->n);
    if (rc) { aspire_safetensors_free(st); return rc; }
    st->buf = (uint8_t *)buf;
    rc = st_build(st);
    if (rc) { aspire_safetensors_free(st); return rc; }
    *out = st;
    return ASPIRE_OK;
}

const char *aspire_safetensors_path(const aspire_safetensors *st) { return st->path; }
int aspire_safetensors_count(const aspire_safetensors *st) { return st->nt; }

const aspire_st_tensor *aspire_safetensors_at(const aspire_safetensors *st, int i) {
    ASPIRE_ASSERT(i >= 0 && i < st->nt, "(index %d of %d)", i, st->nt);
    return &st->t[i];
}

const aspire_st_tensor *aspire_safetensors_find(const aspire_safetensors *st, const char *name) {
    int lo = 0, hi = st->nt - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const aspire_st_tensor *t = &st->t[st->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0) hi = mid - 1; else lo = mid + 1;
    }
    return NULL;
}

const char *aspire_safetensors_meta(const aspire_safetensors *st, const char *key) {
    for (int i = 0; i < st->nmeta; i++)
        if (strcmp(st->meta[2 * i], key) == 0) return st->meta[2 * i + 1];
    return NULL;
}

int aspire_safetensors_meta_count(const aspire_safetensors *st) { return st->nmeta; }

void aspire_safetensors_meta_at(const aspire_safetensors *st, int i, const char **key, const char **value) {
    ASPIRE_ASSERT(i >= 0 && i < st->nmeta, "(index %d of %d)", i, st->nmeta);
    if (key) *key = st->meta[2 * i];
    if (value) *value = st->meta[2 * i + 1];
}

/* ---- conversions ------------------------------------------------------------------------------ */

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float f;
    if (exp == 0) f = ldexpf((float)man, -24);                      /* zero and subnormals */
    else if (exp == 31) f = man ? NAN : INFINITY;
    else f = ldexpf((float)(man | 0x400), (int)exp - 25);
    uint32_t bits;
    memcpy(&bits, &f, 4);
    bits |= sign;
    memcpy(&f, &bits, 4);
    return f;
}

/* FP8 E4M3 "fn" (no infinities; S.1111.111 is NaN) and E5M2 (IEEE-like), as in torch. */
static float f8_to_float(uint8_t v, int e4m3) {
    int sign = v >> 7;
    float f;
    if (e4m3) {
        int exp = (v >> 3) & 0xf, man = v & 7;
        if (exp == 15 && man == 7) f = NAN;
        else if (exp == 0) f = ldexpf((float)man, -9);
        else f = ldexpf((float)(man | 8), exp - 10);
    } else {
        int exp = (v >> 2) & 0x1f, man = v & 3;
        if (exp == 31) f = man ? NAN : INFINITY;
        else if (exp == 0) f = ldexpf((float)man, -16);
        else f = ldexpf((float)(man | 4), exp - 17);
    }
    return sign ? -f : f;
}

void aspire_st_tensor_to_f32(const aspire_st_tensor *t, float *dst) {
    const uint8_t *p = t->data;
    int64_t n = t->numel;
    size_t sz = dtypes[t->dtype].size;
    if (t->dtype == ASPIRE_DT_F32) { memcpy(dst, p, (size_t)n * 4); return; }
    for (int64_t i = 0; i < n; i++, p += sz) {
        union { uint8_t b[8]; uint16_t u16; uint32_t u32; uint64_t u64; int8_t i8; int16_t i16; int32_t i32; int64_t i64; double f64; } u;
        memcpy(u.b, p, sz);
        float v;
        switch (t->dtype) {
        case ASPIRE_DT_F16: v = half_to_float(u.u16); break;
        case ASPIRE_DT_BF16: { uint32_t b = (uint32_t)u.u16 << 16; memcpy(&v, &b, 4); break; }
        case ASPIRE_DT_F64: v = (float)u.f64; break;
        case ASPIRE_DT_I64: v = (float)u.i64; break;
        case ASPIRE_DT_I32: v = (float)u.i32; break;
        case ASPIRE_DT_I16: v = (float)u.i16; break;
        case ASPIRE_DT_I8: v = (float)u.i8; break;
        case ASPIRE_DT_U64: v = (float)u.u64; break;
        case ASPIRE_DT_U32: v = (float)u.u32; break;
        case ASPIRE_DT_U16: v = (float)u.u16; break;
        case ASPIRE_DT_U8: v = (float)u.b[0]; break;
        case ASPIRE_DT_BOOL: v = u.b[0] ? 1.0f : 0.0f; break;
        case ASPIRE_DT_F8_E4M3: v = f8_to_float(u.b[0], 1); break;
        case ASPIRE_DT_F8_E5M2: v = f8_to_float(u.b[0], 0); break;
        default: v = 0; ASPIRE_ASSERT(0, "(dtype %d)", (int)t->dtype);
        }
        dst[i] = v;
    }
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && k < n; i++) k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, ndim == 1 ? ",)" : ")");
}

int aspire_safetensors_read_f32(const aspire_safetensors *st, const char *name, int ndim, const int64_t *shape, int convert,
                                float *dst, int64_t capacity, const aspire_st_tensor **t_out) {
    if (t_out) *t_out = NULL;
    const aspire_st_tensor *t = aspire_safetensors_find(st, name);
    if (!t) return aspire_error(ASPIRE_ERR_NOTFOUND, "%s: tensor '%s' is missing", st->path, name);
    if (t->dtype != ASPIRE_DT_F32 && !convert)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: tensor '%s': dtype %s, expected F32", st->path, name, dtypes[t->dtype].name);
    int same = !shape || ndim == t->ndim;
    for (int i = 0; same && shape && i < ndim; i++) same = shape[i] == t->shape[i];
    if (!same) {
        char a[160], b[160];
        shape_str(a, sizeof a, t->ndim, t->shape);
        shape_str(b, sizeof b, ndim, shape);
        return aspire_error(ASPIRE_ERR_SHAPE, "%s: tensor '%s': shape %s in the file, expected %s", st->path, name, a, b);
    }
    if (t->numel > capacity)
        return aspire_error(ASPIRE_ERR_SHAPE, "%s: tensor '%s': %lld elements do not fit in %lld", st->path, name,
                            (long long)t->numel, (long long)capacity);
    aspire_st_tensor_to_f32(t, dst);
    if (t_out) *t_out = t;
    return ASPIRE_OK;
}

/* ---- writer ---------------------------------------------------------------------------------- */

typedef struct w_tensor {
    char *name;
    aspire_dtype dtype;
    int ndim;
    int64_t shape[ASPIRE_ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
} w_tensor;

struct aspire_st_writer {
    w_tensor *t;
    int nt, cap;
    char **meta;  /* key, value pairs */
    int nmeta, meta_cap;
};

aspire_st_writer *aspire_st_writer_new(void) { return aspire_calloc(1, sizeof(aspire_st_writer)); }

void aspire_st_writer_free(aspire_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->nt; i++) aspire_strfree(w->t[i].name);
    aspire_free(w->t, sizeof(w_tensor) * (size_t)w->cap);
    for (int i = 0; i < 2 * w->nmeta; i++) aspire_strfree(w->meta[i]);
    aspire_free(w->meta, sizeof(char *) * 2 * (size_t)w->meta_cap);
    aspire_free(w, sizeof *w);
}

int aspire_st_writer_add(aspire_st_writer *w, const char *name, aspire_dtype dtype, int ndim, const int64_t *shape,
                         const void *data) {
    ASPIRE_ASSERT(dtype >= 0 && dtype < ASPIRE_DT_COUNT);
    ASPIRE_ASSERT(ndim >= 0 && ndim <= ASPIRE_ST_MAX_DIMS, "(ndim %d)", ndim);
    if (!*name || strcmp(name, "__metadata__") == 0)
        return aspire_error(ASPIRE_ERR_ARG, "safetensors: '%s' cannot name a tensor", name);
    for (int i = 0; i < w->nt; i++)
        if (strcmp(w->t[i].name, name) == 0) return aspire_error(ASPIRE_ERR_ARG, "safetensors: tensor '%s' added twice", name);
    if (w->nt == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        w_tensor *t = aspire_realloc(w->t, sizeof(w_tensor) * (size_t)w->cap, sizeof(w_tensor) * (size_t)cap);
        if (!t) return ASPIRE_ERR_NOMEM;
        w->t = t;
        w->cap = cap;
    }
    w_tensor *t = &w->t[w->nt];
    memset(t, 0, sizeof *t);
    t->name = aspire_strdup(name);
    if (!t->name) return ASPIRE_ERR_NOMEM;
    t->dtype = dtype;
    t->ndim = ndim;
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        ASPIRE_ASSERT(shape[i] >= 0, "(tensor %s dim %d is %lld)", name, i, (long long)shape[i]);
        t->shape[i] = shape[i];
        numel *= (size_t)shape[i];
    }
    t->data = data;
    t->nbytes = numel * dtypes[dtype].size;
    ASPIRE_ASSERT(data || t->nbytes == 0, "(tensor %s has no data)", name);
    w->nt++;
    return ASPIRE_OK;
}

int aspire_st_writer_meta(aspire_st_writer *w, const char *key, const char *value) {
    for (int i = 0; i < w->nmeta; i++)
        if (strcmp(w->meta[2 * i], key) == 0) {
            char *v = aspire_strdup(value);
            if (!v) return ASPIRE_ERR_NOMEM;
            aspire_strfree(w->meta[2 * i + 1]);
            w->meta[2 * i + 1] = v;
            return ASPIRE_OK;
        }
    if (w->nmeta == w->meta_cap) {
        int cap = w->meta_cap ? 2 * w->meta_cap : 8;
        char **m = aspire_realloc(w->meta, sizeof(char *) * 2 * (size_t)w->meta_cap, sizeof(char *) * 2 * (size_t)cap);
        if (!m) return ASPIRE_ERR_NOMEM;
        w->meta = m;
        w->meta_cap = cap;
    }
    char *k = aspire_strdup(key), *v = aspire_strdup(value);
    if (!k || !v) { aspire_strfree(k); aspire_strfree(v); return ASPIRE_ERR_NOMEM; }
    w->meta[2 * w->nmeta] = k;
    w->meta[2 * w->nmeta + 1] = v;
    w->nmeta++;
    return ASPIRE_OK;
}

/* A growable string for the header. */
typedef struct sbuf { char *p; size_t n, cap; int oom; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = aspire_realloc(b->p, b->cap, cap);
        if (!q) { b->oom = 1; return; }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string literal, escaped as serde_json (the reference serializer) escapes it. */
static void sb_json(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        const char *short_esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                              : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
        if (short_esc) sb_put(b, short_esc, 2);
        else if (c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", c); sb_put(b, esc, 6); }
        else sb_put(b, (const char *)&c, 1);
    }
    sb_put(b, "\"", 1);
}

int aspire_st_writer_save(aspire_st_writer *w, const char *path) {
    sbuf h = {0};
    char num[64];
    sb_str(&h, "{");
    int first = 1;
    if (w->nmeta) {
        sb_str(&h, "\"__metadata__\":{");
        for (int i = 0; i < w->nmeta; i++) {
            if (i) sb_str(&h, ",");
            sb_json(&h, w->meta[2 * i]);
            sb_str(&h, ":");
            sb_json(&h, w->meta[2 * i + 1]);
        }
        sb_str(&h, "}");
        first = 0;
    }
    uint64_t off = 0;
    for (int i = 0; i < w->nt; i++) {
        const w_tensor *t = &w->t[i];
        if (!first) sb_str(&h, ",");
        first = 0;
        sb_json(&h, t->name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, dtypes[t->dtype].name);
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)t->shape[d]);
            sb_str(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + t->nbytes));
        sb_str(&h, num);
        off += t->nbytes;
    }
    sb_str(&h, "}");
    while (!h.oom && h.n % 8) sb_str(&h, " ");
    if (h.oom) { aspire_free(h.p, h.cap); return aspire_error(ASPIRE_ERR_NOMEM, "%s: out of memory building the header", path); }
    aspire_atomic_file af;
    int rc = aspire_atomic_open(&af, path);
    if (rc) { aspire_free(h.p, h.cap); return rc; }
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)h.n >> (8 * i));
    int ok = fwrite(len, 1, 8, af.fp) == 8 && fwrite(h.p, 1, h.n, af.fp) == h.n;
    for (int i = 0; ok && i < w->nt; i++)
        if (w->t[i].nbytes) ok = fwrite(w->t[i].data, 1, w->t[i].nbytes, af.fp) == w->t[i].nbytes;
    aspire_free(h.p, h.cap);
    if (!ok) {
        aspire_atomic_abort(&af);
        return aspire_error(ASPIRE_ERR_IO, "%s: write failed (old contents kept)", path);
    }
    return aspire_atomic_commit(&af);
}
