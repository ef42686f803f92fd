/* extract.c — the extractor object, independent of its backend: input checks (UTF-8, length,
 * class), serialising calls to the backend, and the dataset-level choice of alternative
 * backgrounds (the most frequent background of the other classes). */
#include "aspire/extract.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct aspire_extractor {
    const aspire_extractor_backend *backend;
    void *impl;
    char **classes;        /* nclasses names */
    int nclasses;
    pthread_mutex_t lock;  /* one call into the backend at a time */
};

void aspire_extraction_destroy(aspire_extraction *e) {
    if (!e) return;
    for (int i = 0; i < e->n_foreground; i++) aspire_strfree(e->foreground[i]);
    aspire_free(e->foreground, 0);
    aspire_strfree(e->background);
    aspire_strfree(e->alternate);
    memset(e, 0, sizeof *e);
}

long aspire_utf8_check(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) { i++; continue; }
        int len;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
        else return (long)i;   /* continuation byte out of place, 0xC0/0xC1, or 0xF5.. */
        if (i + (size_t)len > n) return (long)i;
        for (int k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return (long)(i + k);
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return (long)i;
        i += (size_t)len;
    }
    return -1;
}

int aspire_extractor_new(const aspire_extractor_backend *backend, void *impl, const char *const *classes,
                         int nclasses, aspire_extractor **out) {
    ASPIRE_ASSERT(backend && backend->extract && out);
    *out = NULL;
    int rc = ASPIRE_OK;
    if (nclasses < 1 || nclasses > ASPIRE_EXTRACT_MAX_CLASSES) {
        rc = aspire_error(ASPIRE_ERR_ARG, "extractor: %d classes (1 to %d allowed)", nclasses,
                          ASPIRE_EXTRACT_MAX_CLASSES);
        goto fail;
    }
    for (int i = 0; i < nclasses; i++)
        if (!classes[i] || !classes[i][0]) {
            rc = aspire_error(ASPIRE_ERR_ARG, "extractor: class %d has an empty name", i);
            goto fail;
        }
    aspire_extractor *ex = aspire_calloc(1, sizeof *ex);
    if (!ex) { rc = ASPIRE_ERR_NOMEM; goto fail; }
    ex->classes = aspire_calloc((size_t)nclasses, sizeof *ex->classes);
    if (!ex->classes) { aspire_free(ex, sizeof *ex); rc = ASPIRE_ERR_NOMEM; goto fail; }
    ex->nclasses = nclasses;
    ex->backend = backend;
    ex->impl = impl;
    pthread_mutex_init(&ex->lock, NULL);
    for (int i = 0; i < nclasses; i++)
        if (!(ex->classes[i] = aspire_strdup(classes[i]))) { aspire_extractor_free(ex); return ASPIRE_ERR_NOMEM; }
    *out = ex;
    return ASPIRE_OK;
fail:
    if (backend->free) backend->free(impl);
    return rc;
}

void aspire_extractor_free(aspire_extractor *ex) {
    if (!ex) return;
    if (ex->backend->free) ex->backend->free(ex->impl);
    for (int i = 0; i < ex->nclasses; i++) aspire_strfree(ex->classes[i]);
    aspire_free(ex->classes, 0);
    pthread_mutex_destroy(&ex->lock);
    aspire_free(ex, sizeof *ex);
}

const char *aspire_extractor_backend_name(const aspire_extractor *ex) { return ex->backend->name; }
int aspire_extractor_nclasses(const aspire_extractor *ex) { return ex->nclasses; }

const char *aspire_extractor_class_name(const aspire_extractor *ex, int cls) {
    ASPIRE_ASSERT(cls >= 0 && cls < ex->nclasses);
    return ex->classes[cls];
}

const char *aspire_extractor_concept(const aspire_extractor *ex, int cls) {
    ASPIRE_ASSERT(cls >= 0 && cls < ex->nclasses);
    return ex->backend->concept ? ex->backend->concept(ex->impl, cls) : NULL;
}

int aspire_extractor_extract(aspire_extractor *ex, const char *caption, int cls, aspire_extraction *out) {
    ASPIRE_ASSERT(ex && caption && out);
    memset(out, 0, sizeof *out);
    if (cls < 0 || cls >= ex->nclasses)
        return aspire_error(ASPIRE_ERR_ARG, "class %d out of range (%d classes)", cls, ex->nclasses);
    size_t n = strnlen(caption, ASPIRE_EXTRACT_MAX_CAPTION + 1);
    if (n > ASPIRE_EXTRACT_MAX_CAPTION)
        return aspire_error(ASPIRE_ERR_FORMAT, "caption is too long (more than %d bytes)", ASPIRE_EXTRACT_MAX_CAPTION);
    long bad = aspire_utf8_check(caption, n);
    if (bad >= 0)
        return aspire_error(ASPIRE_ERR_FORMAT, "caption is not valid UTF-8 (byte %ld: 0x%02x)", bad + 1,
                            (unsigned char)caption[bad]);
    pthread_mutex_lock(&ex->lock);
    int rc = ex->backend->extract(ex->impl, caption, cls, out);
    pthread_mutex_unlock(&ex->lock);
    if (rc) aspire_extraction_destroy(out);
    return rc;
}

/* ---- alternative backgrounds ------------------------------------------------------------- */

typedef struct bg_count {
    const char *phrase;    /* borrowed from the items */
    int count[ASPIRE_EXTRACT_MAX_CLASSES];
    int total;
} bg_count;

static int cmp_phrase(const void *a, const void *b) {
    return strcmp(((const bg_count *)a)->phrase, ((const bg_count *)b)->phrase);
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

int aspire_extractor_alternates(aspire_extractor *ex, aspire_extraction *items, const int *cls, int n) {
    ASPIRE_ASSERT(ex && (n == 0 || (items && cls)));
    for (int i = 0; i < n; i++)
        if (cls[i] < 0 || cls[i] >= ex->nclasses)
            return aspire_error(ASPIRE_ERR_ARG, "item %d: class %d out of range (%d classes)", i, cls[i], ex->nclasses);
    /* Distinct backgrounds, sorted by phrase, with their count per class. */
    const char **all = aspire_calloc((size_t)n + 1, sizeof *all);
    if (!all) return ASPIRE_ERR_NOMEM;
    int nall = 0;
    for (int i = 0; i < n; i++)
        if (items[i].background) all[nall++] = items[i].background;
    qsort(all, (size_t)nall, sizeof *all, cmp_cstr);
    int ndistinct = 0;
    for (int i = 0; i < nall; i++)
        if (i == 0 || strcmp(all[i], all[i - 1]) != 0) all[ndistinct++] = all[i];
    bg_count *bgs = aspire_calloc((size_t)ndistinct + 1, sizeof *bgs);
    if (!bgs) { aspire_free(all, 0); return ASPIRE_ERR_NOMEM; }
    for (int i = 0; i < ndistinct; i++) bgs[i].phrase = all[i];
    aspire_free(all, 0);
    for (int i = 0; i < n; i++) {
        if (!items[i].background) continue;
        bg_count key = {.phrase = items[i].background};
        bg_count *b = bsearch(&key, bgs, (size_t)ndistinct, sizeof *bgs, cmp_phrase);
        ASPIRE_ASSERT(b);
        b->count[cls[i]]++;
        b->total++;
    }
    /* Per class: the backgrounds of the other classes ranked by count (ties by phrase, as bgs is
     * sorted and the sort is stable by index). The first that differs from the item's own wins,
     * so only the top two matter. */
    int best[ASPIRE_EXTRACT_MAX_CLASSES][2];
    for (int c = 0; c < ex->nclasses; c++) {
        best[c][0] = best[c][1] = -1;
        for (int k = 0; k < ndistinct; k++) {
            int other = bgs[k].total - bgs[k].count[c];
            if (other <= 0) continue;
            for (int slot = 0; slot < 2; slot++) {
                int j = best[c][slot];
                if (j < 0 || other > bgs[j].total - bgs[j].count[c]) {
                    if (slot == 0) best[c][1] = best[c][0];
                    best[c][slot] = k;
                    break;
                }
            }
        }
    }
    int rc = ASPIRE_OK;
    for (int i = 0; i < n && rc == ASPIRE_OK; i++) {
        aspire_extraction *it = &items[i];
        if (!it->background || it->alternate) continue;
        const char *pick = NULL;
        for (int slot = 0; slot < 2 && !pick; slot++) {
            int k = best[cls[i]][slot];
            if (k >= 0 && strcmp(bgs[k].phrase, it->background) != 0) pick = bgs[k].phrase;
        }
        if (pick) {
            if (!(it->alternate = aspire_strdup(pick))) rc = ASPIRE_ERR_NOMEM;
        } else if (ex->backend->contrast) {
            pthread_mutex_lock(&ex->lock);
            rc = ex->backend->contrast(ex->impl, it->background, &it->alternate);
            pthread_mutex_unlock(&ex->lock);
        }
    }
    aspire_free(bgs, 0);
    return rc;
}
