/* corpus_scan.c — reads a world corpus's scenes.jsonl split by split (corpus_scan.h). */
#include "models/corpus_scan.h"

#include "aspire/common.h"
#include "aspire/jsonl.h"

#include <stdio.h>

int corpus_scan(const char *path, int split, int (*row)(void *ud, const cJSON *o, const char *where), void *ud) {
    aspire_jsonl *r = NULL;
    int rc = aspire_jsonl_open(&r, path);
    while (!rc) {
        cJSON *o = NULL;
        int got = aspire_jsonl_next(r, &o);
        if (got <= 0) { rc = got; break; }
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, aspire_jsonl_line(r));
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(o, "split");
        if (!cJSON_IsNumber(sp)) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: no numeric \"split\"", where);
        else if (split < 0 || sp->valueint == split) rc = row(ud, o, where);
        cJSON_Delete(o);
    }
    aspire_jsonl_free(r);
    return rc == CORPUS_SCAN_STOP ? ASPIRE_OK : rc;
}
