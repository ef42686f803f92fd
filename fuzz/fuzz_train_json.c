/* fuzz_train_json.c — a run's train.json as --resume and aspire eval read it (tr_config_parse:
 * every field typed and checked as strictly as the command line). An accepted config must pass
 * the command line's own checks, and write back (JSON and the repeat command) to a config that
 * reads back the same. */
#include "fuzz.h"

#include "train/train_config.h"

#include <cjson/cJSON.h>
#include <math.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) { (void)argc; (void)argv; return 0; }

static int same(const aspire_train_config *a, const aspire_train_config *b) {
    return a->image_size == b->image_size && a->epochs == b->epochs && a->batch == b->batch && a->lr == b->lr &&
           a->momentum == b->momentum && a->weight_decay == b->weight_decay && a->seed == b->seed && a->method == b->method &&
           a->flip == b->flip && a->limit_train == b->limit_train && strcmp(a->data_dir, b->data_dir) == 0 &&
           strcmp(a->arch, b->arch) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    aspire_train_config c;
    aspire_train_strings st;
    if (tr_config_parse((const char *)data, size, &c, &st, "train.json") != ASPIRE_OK) {
        for (int i = 0; i < (int)(sizeof st.s / sizeof st.s[0]); i++) if (st.s[i]) abort();  /* freed */
        if (!*aspire_errmsg()) abort();
        return 0;
    }
    if (tr_config_check(&c, NULL) != ASPIRE_OK) abort();  /* what the file may hold, the command line may say */
    if (!isfinite(c.lr) || c.image_size < 8 || c.image_size > 1024) abort();
    char cmd[8192];
    (void)tr_config_command(&c, cmd, sizeof cmd);
    cJSON *o = cJSON_CreateObject(), *conf = tr_config_to_json(&c);
    if (!o || !conf) abort();
    cJSON_AddItemToObject(o, "config", conf);
    char *txt = cJSON_PrintUnformatted(o);
    if (!txt) abort();
    aspire_train_config back;
    aspire_train_strings bst;
    if (tr_config_parse(txt, strlen(txt), &back, &bst, "back.json") != ASPIRE_OK) abort();
    if (!same(&c, &back)) abort();
    aspire_train_config_strings_free(&bst);
    cJSON_free(txt);
    cJSON_Delete(o);
    aspire_train_config_strings_free(&st);
    return 0;
}
