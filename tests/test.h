/* test.h — the tests' tiny harness: CHECK and CHECK_CLOSE count failures and report file:line;
 * TEST_MAIN runs the listed test functions and exits non-zero if any check failed. */
#ifndef ASPIRE_TEST_H
#define ASPIRE_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int test_failures, test_checks;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        test_checks++;                                                                \
        if (!(cond)) {                                                                \
            test_failures++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                             \
    } while (0)

#define CHECK_MSG(cond, ...)                                                          \
    do {                                                                              \
        test_checks++;                                                                \
        if (!(cond)) {                                                                \
            test_failures++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
        }                                                                             \
    } while (0)

/* |a - b| <= tol * max(1, |b|) */
#define CHECK_CLOSE(a, b, tol)                                                                  \
    do {                                                                                        \
        double ca_ = (double)(a), cb_ = (double)(b), ct_ = (double)(tol);                       \
        test_checks++;                                                                          \
        if (!(fabs(ca_ - cb_) <= ct_ * fmax(1.0, fabs(cb_))) || isnan(ca_) != isnan(cb_)) {    \
            test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK_CLOSE failed: %s = %.9g, %s = %.9g (tol %g)\n",        \
                    __FILE__, __LINE__, #a, ca_, #b, cb_, ct_);                                 \
        }                                                                                       \
    } while (0)

#define RUN(fn)                                                      \
    do {                                                             \
        int before_ = test_failures;                                 \
        fn();                                                        \
        fprintf(stderr, "  %s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

/* The out-of-memory sweeps' allocator (aspire_set_allocator(failing_alloc, NULL)): the next
 * alloc_budget allocations succeed, every later one fails; frees always work. The budget is atomic,
 * so parallel code may run under it. Unused in most tests, hence the attribute. */
__attribute__((unused)) static _Atomic long alloc_budget;
__attribute__((unused)) static void *failing_alloc(void *ptr, size_t old_size, size_t new_size, void *ud) {
    (void)old_size; (void)ud;
    if (new_size == 0) { free(ptr); return NULL; }
    if (alloc_budget-- <= 0) return NULL;
    return realloc(ptr, new_size);
}

#define TEST_REPORT()                                                                        \
    (fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures), test_failures ? 1 : 0)

#endif
