/* common.c — the error message, the allocation hook, the contract abort, threads and clock. */
#include "aspire/common.h"

#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Thread_local char errbuf[1024];
static _Thread_local int errstatus;

const char *aspire_errmsg(void) { return errbuf; }
int aspire_errstatus(void) { return errstatus; }
void aspire_error_clear(void) { errbuf[0] = 0; errstatus = 0; }

int aspire_error(int status, const char *fmt, ...) {
    errstatus = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return status;
}

int aspire_error_prefix(int status, const char *fmt, ...) {
    char old[sizeof errbuf], pre[512];
    errstatus = status;
    memcpy(old, errbuf, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    snprintf(errbuf, sizeof errbuf, "%s: %s", pre, old);
    return status;
}

static void *default_alloc(void *ptr, size_t old_size, size_t new_size, void *ud) {
    (void)old_size; (void)ud;
    if (new_size == 0) { free(ptr); return NULL; }
    return realloc(ptr, new_size);
}

static aspire_alloc_fn alloc_fn = default_alloc;
static void *alloc_ud;

void aspire_set_allocator(aspire_alloc_fn fn, void *ud) {
    alloc_fn = fn ? fn : default_alloc;
    alloc_ud = fn ? ud : NULL;
}

void *aspire_malloc(size_t n) {
    void *p = alloc_fn(NULL, 0, n ? n : 1, alloc_ud);
    if (!p) aspire_error(ASPIRE_ERR_NOMEM, "out of memory (asked for %zu bytes)", n);
    return p;
}

void *aspire_calloc(size_t count, size_t n) {
    if (n && count > SIZE_MAX / n) { aspire_error(ASPIRE_ERR_NOMEM, "allocation size overflow"); return NULL; }
    void *p = aspire_malloc(count * n);
    if (p) memset(p, 0, count * n);
    return p;
}

void *aspire_realloc(void *p, size_t old_n, size_t new_n) {
    void *q = alloc_fn(p, old_n, new_n ? new_n : 1, alloc_ud);
    if (!q) aspire_error(ASPIRE_ERR_NOMEM, "out of memory (asked for %zu bytes)", new_n);
    return q;
}

void aspire_free(void *p, size_t n) { if (p) alloc_fn(p, n, 0, alloc_ud); }

char *aspire_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = aspire_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void aspire_strfree(char *s) { if (s) aspire_free(s, strlen(s) + 1); }

/* Aligned blocks keep the hook: over-allocate, store the raw pointer and size before the block. */
void *aspire_malloc_aligned(size_t n) {
    size_t total = n + 64 + 2 * sizeof(size_t);
    char *raw = aspire_malloc(total);
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)raw + 2 * sizeof(size_t) + 63) & ~(uintptr_t)63;
    ((size_t *)a)[-1] = (size_t)(a - (uintptr_t)raw);
    ((size_t *)a)[-2] = total;
    return (void *)a;
}

void aspire_free_aligned(void *p) {
    if (!p) return;
    size_t off = ((size_t *)p)[-1], total = ((size_t *)p)[-2];
    aspire_free((char *)p - off, total);
}

_Noreturn void aspire_abort(const char *file, int line, const char *fmt, ...) {
    fprintf(stderr, "aspire: internal error at %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

_Noreturn void aspire_assert_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
    fprintf(stderr, "aspire: internal error at %s:%d: assertion failed: %s", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void aspire_set_threads(int n) {
    int procs = omp_get_num_procs(), cap = procs < 16 ? 64 : 4 * procs;
    if (n <= 0) n = procs;
    if (n > cap) n = cap;  /* libgomp builds a team on its stack: 100000 threads overflowed it */
    omp_set_num_threads(n);
}

int aspire_get_threads(void) { return omp_get_max_threads(); }

double aspire_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
