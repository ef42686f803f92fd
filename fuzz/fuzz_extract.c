/* fuzz_extract.c — the extractor's input (include/aspire/extract.h): arbitrary bytes as a caption
 * (the first byte picks the class, including out-of-range ones), through the WordNet backend, then
 * the alternates. Checks the documented contract: a result's phrases are lower case, single-spaced,
 * without duplicates; an alternate only where there is a background. */
#include "fuzz.h"

#include "aspire/extract.h"

#include <ctype.h>

static aspire_extractor *ex;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *classes[] = {"landbird", "waterbird", "big dog"};
    if (aspire_extractor_new_wordnet(classes, 3, &ex) != ASPIRE_OK) abort();
    return 0;
}

static void check_phrase(const char *p) {
    if (!p || !*p || p[0] == ' ' || p[strlen(p) - 1] == ' ' || strstr(p, "  ")) abort();
    for (const char *c = p; *c; c++)
        if (isupper((unsigned char)*c)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int cls = (int)(int8_t)data[0] % 5;  /* -4..4: out of range too */
    char *caption = fuzz_cstr(data + 1, size - 1);
    aspire_extraction e[2] = {{0}, {0}};
    int rc = aspire_extractor_extract(ex, caption, cls, &e[0]);
    if (cls < 0 || cls >= 3) { if (rc != ASPIRE_ERR_ARG) abort(); }
    else if (rc == ASPIRE_OK) {
        for (int k = 0; k < e[0].n_foreground; k++) {
            check_phrase(e[0].foreground[k]);
            for (int j = 0; j < k; j++)
                if (!strcmp(e[0].foreground[j], e[0].foreground[k])) abort();
        }
        if (e[0].background) check_phrase(e[0].background);
        if (e[0].alternate && !e[0].background) abort();
        rc = aspire_extractor_extract(ex, "a duck on a lake", (cls + 1) % 3, &e[1]);
        if (rc != ASPIRE_OK) abort();
        int cl[2] = {cls, (cls + 1) % 3};
        if (aspire_extractor_alternates(ex, e, cl, 2) != ASPIRE_OK) abort();
        if (e[0].alternate && !e[0].background) abort();
    } else if (rc != ASPIRE_ERR_FORMAT) {
        abort();
    }
    aspire_extraction_destroy(&e[0]);
    aspire_extraction_destroy(&e[1]);
    free(caption);
    return 0;
}
