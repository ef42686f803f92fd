/* fuzz_jsonl.c — the JSON-lines reader (src/io/jsonl.c) on arbitrary bytes: every line is read,
 * good or bad (the reader moves on after an error), and each object is printed back and parsed
 * again to check that it survives the writer's form. */
#include "fuzz.h"

#include "aspire/jsonl.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) { (void)argc; (void)argv; return 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    aspire_jsonl *r = NULL;
    if (aspire_jsonl_open_text(&r, (const char *)data, size, "fuzz.jsonl") != ASPIRE_OK) return 0;
    int last_line = 0;
    for (int guard = 0; guard < 100000; guard++) {
        cJSON *obj = NULL;
        int rc = aspire_jsonl_next(r, &obj);
        if (rc == 0) { if (obj) abort(); break; }
        int line = aspire_jsonl_line(r);
        if (line <= last_line) abort();  /* always moves on, also after an error */
        last_line = line;
        if (rc < 0) { if (obj || !*aspire_errmsg()) abort(); continue; }
        if (!cJSON_IsObject(obj)) abort();
        char *text = cJSON_PrintUnformatted(obj);
        if (text) {
            if (strchr(text, '\n')) abort();  /* one object stays one line */
            cJSON *again = cJSON_Parse(text);
            if (!again) abort();
            cJSON_Delete(again);
            cJSON_free(text);
        }
        cJSON_Delete(obj);
    }
    aspire_jsonl_free(r);
    return 0;
}
