/* util.c — small helpers of the pipeline: paths, file hashes, JSON files, the per-run evaluation. */
#include "aspire/fileio.h"
#include "aspire/metrics.h"
#include "pipeline_internal.h"

#include <stdio.h>
#include <string.h>

char *pl_path(const char *rundir, const char *a, const char *b) {
    char *p = aspire_path_join(rundir, a);
    if (!p || !b) return p;
    char *q = aspire_path_join(p, b);
    aspire_strfree(p);
    return q;
}

uint64_t pl_fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

int pl_hash_file(const char *path, char hex[17]) {
    FILE *f = fopen(path, "rb");
    if (!f) return aspire_error(ASPIRE_ERR_IO, "%s: cannot read (needed to hash a stage's input)", path);
    uint64_t h = PL_FNV_INIT;
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) h = pl_fnv1a(h, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return aspire_error(ASPIRE_ERR_IO, "%s: read error", path);
    snprintf(hex, 17, "%016llx", (unsigned long long)h);
    return ASPIRE_OK;
}

cJSON *pl_read_json(const char *path) {
    char *buf = NULL;
    size_t n = 0;
    if (aspire_read_file_max(path, &buf, &n, (size_t)64 << 20)) return NULL;
    cJSON *j = cJSON_ParseWithLength(buf, n);
    aspire_free(buf, n + 1);
    if (!j) aspire_error(ASPIRE_ERR_FORMAT, "%s: not valid JSON", path);
    return j;
}

int pl_write_json(const char *path, const cJSON *j) {
    char *txt = cJSON_Print(j);
    if (!txt) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    size_t n = strlen(txt);
    txt[n] = '\n';  /* cJSON_Print's buffer ends with the NUL we overwrite; write n + 1 bytes */
    int rc = aspire_write_file_atomic(path, txt, n + 1);
    cJSON_free(txt);
    return rc;
}

static cJSON *names_json(char **names, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(names[i] ? names[i] : ""));
    return a;
}

int pl_eval_to_file(const char *run_dir, int threads, const char *path) {
    aspire_eval_options eo = {0};
    eo.run_dir = run_dir;
    eo.split = "test";
    eo.checkpoint = "best";
    eo.threads = threads;
    eo.engine.threads = threads;
    aspire_eval_result r;
    int rc = aspire_train_evaluate(&eo, &r);
    if (rc) return rc;
    char *txt = aspire_metrics_to_json(&r.metrics, &r.summary);
    cJSON *j = txt ? cJSON_Parse(txt) : NULL;
    aspire_strfree(txt);
    if (j) {
        cJSON_AddStringToObject(j, "split", "test");
        cJSON_AddStringToObject(j, "method", aspire_method_name(r.method));
        cJSON_AddNumberToObject(j, "epoch", r.epoch);
        cJSON_AddStringToObject(j, "selection", aspire_select_rule_name(r.rule));
        cJSON_AddStringToObject(j, "mean_convention", "plain accuracy over the split's examples");
        cJSON_AddStringToObject(j, "weighted_mean_convention",
                                "group accuracies weighted by training group proportions");
        cJSON_AddItemToObject(j, "class_names", names_json(r.class_names, r.metrics.nclasses));
        cJSON_AddItemToObject(j, "place_names", names_json(r.place_names, r.metrics.nplaces));
        rc = pl_write_json(path, j);
    } else {
        rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    }
    cJSON_Delete(j);
    aspire_eval_result_destroy(&r);
    return rc;
}

void pl_run_names(aspire_method m, int aspire, char *name, size_t n) {
    snprintf(name, n, "%s%s", aspire_method_name(m), aspire ? "-aspire" : "");
}
