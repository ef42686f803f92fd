/* common.h — what every aspire module shares: export macro, status codes, the error message,
 * the allocation hook, and the contract assertion.
 *
 * Errors are values: library calls return ASPIRE_OK (0) or a negative status and leave a one-line
 * message (naming the file, line or field at fault) readable with aspire_errmsg(). Programmer
 * errors (shape or contract violations) abort through ASPIRE_ASSERT with file and line. */
#ifndef ASPIRE_COMMON_H
#define ASPIRE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(ASPIRE_BUILDING)
#define ASPIRE_API __attribute__((visibility("default")))
#else
#define ASPIRE_API
#endif

#define ASPIRE_VERSION "0.1.0"

typedef enum aspire_status {
    ASPIRE_OK = 0,
    ASPIRE_ERR_IO = -1,       /* a file could not be opened, read or written */
    ASPIRE_ERR_FORMAT = -2,   /* a file's contents are malformed (bad header, truncated, bad row) */
    ASPIRE_ERR_NOMEM = -3,    /* an allocation failed */
    ASPIRE_ERR_ARG = -4,      /* an argument or option is out of range */
    ASPIRE_ERR_SHAPE = -5,    /* a tensor in a file does not match the model */
    ASPIRE_ERR_BACKEND = -6,  /* oneDNN (or another backend) refused or failed */
    ASPIRE_ERR_NOTFOUND = -7, /* a named thing (file, tensor, column, command) does not exist */
} aspire_status;

/* The message of the last error set on this thread ("" if none). Valid until the next error. */
ASPIRE_API const char *aspire_errmsg(void);
/* Sets this thread's error message (printf-style) and returns `status`, so that
 * `return aspire_error(ASPIRE_ERR_IO, "%s: cannot open", path);` reads naturally. */
ASPIRE_API int aspire_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes the current message: "prefix: old message". Returns `status`. */
ASPIRE_API int aspire_error_prefix(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ASPIRE_API void aspire_error_clear(void);
/* The status that came with the current message (0 after aspire_error_clear): lets a caller that
 * only saw a NULL (an engine op's result) return the right status, ASPIRE_ERR_NOMEM included. */
ASPIRE_API int aspire_errstatus(void);

/* Allocation hook: every allocation of the library goes through these, so tests can make them
 * fail. aspire_set_allocator(NULL, NULL) restores the default (malloc/free). The hook receives
 * (ptr, old_size, new_size, ud) like Lua's lua_Alloc: new_size 0 frees, ptr NULL allocates. */
typedef void *(*aspire_alloc_fn)(void *ptr, size_t old_size, size_t new_size, void *ud);
ASPIRE_API void aspire_set_allocator(aspire_alloc_fn fn, void *ud);
ASPIRE_API void *aspire_malloc(size_t n);             /* NULL on failure (and sets the error) */
ASPIRE_API void *aspire_calloc(size_t count, size_t n);
ASPIRE_API void *aspire_realloc(void *p, size_t old_n, size_t new_n);
ASPIRE_API void aspire_free(void *p, size_t n);       /* accepts NULL; n may be 0 if unknown */
ASPIRE_API char *aspire_strdup(const char *s);
ASPIRE_API void aspire_strfree(char *s);
/* 64-byte aligned allocation for tensor data; freed with aspire_free_aligned. */
ASPIRE_API void *aspire_malloc_aligned(size_t n);
ASPIRE_API void aspire_free_aligned(void *p);

/* Contract violations abort with file and line. Always on (also in release builds).
 * ASPIRE_ASSERT(cond) or ASPIRE_ASSERT(cond, "format", args...). */
ASPIRE_API _Noreturn void aspire_abort(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ASPIRE_API _Noreturn void aspire_assert_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define ASPIRE_ASSERT(cond, ...)                                                  \
    do {                                                                          \
        if (!(cond)) aspire_assert_fail(__FILE__, __LINE__, #cond, " " __VA_ARGS__); \
    } while (0)

/* Threads: 0 = all cores; more than 4 x the cores (at least 64) is taken as that many. Sets
 * OpenMP's (and so oneDNN's) thread count. */
ASPIRE_API void aspire_set_threads(int n);
ASPIRE_API int aspire_get_threads(void);

/* Seconds from a monotonic clock. */
ASPIRE_API double aspire_now(void);

#endif
