/* faults.h — the allocation-failure injection the fault tests share: fault_run(k, f, arg) runs
 * f(arg) with the library's allocator hooked (common.h, aspire_set_allocator) so that allocation
 * number k fails (k < 0: none), and counts the allocations made in fault_counted. */
#ifndef ASPIRE_TEST_FAULTS_H
#define ASPIRE_TEST_FAULTS_H

#include "aspire/common.h"

#include <stdatomic.h>
#include <stdlib.h>

static _Atomic long fault_budget = -1;   /* allocations left before failing; < 0: never fail */
static _Atomic long fault_counted;        /* allocations made */

static void *fault_hook(void *ptr, size_t old_size, size_t new_size, void *ud) {
    (void)old_size;
    (void)ud;
    if (new_size == 0) { free(ptr); return NULL; }
    fault_counted++;
    if (fault_budget >= 0 && fault_budget-- == 0) return NULL;
    return realloc(ptr, new_size);
}

static int fault_run(long k, int (*f)(void *), void *arg) {
    fault_budget = k;
    fault_counted = 0;
    aspire_error_clear();
    aspire_set_allocator(fault_hook, NULL);
    int rc = f(arg);
    aspire_set_allocator(NULL, NULL);
    fault_budget = -1;
    return rc;
}

#endif
