/* fuzz.h — what the libFuzzer targets share: the entry point's prototype and a NUL-terminated copy
 * of the input (the parsers that take text want one). Build with ASPIRE_FUZZ=ON; run with
 * `make fuzz` (see docs/RELIABILITY.md). */
#ifndef ASPIRE_FUZZ_H
#define ASPIRE_FUZZ_H

#include "aspire/common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A NUL-terminated copy of the input (malloc; the caller frees it). Aborts on OOM: libFuzzer
 * reports that as a crash, which is what it is here. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    s[size] = 0;
    return s;
}

#endif
