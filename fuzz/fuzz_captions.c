/* fuzz_captions.c — a captions file (CSV with columns path,caption) as `aspire extract` and
 * `aspire caption` read it, through the io functions: parsed, the two columns required, every
 * caption checked as UTF-8 and extracted with the WordNet extractor (class from the row), the
 * alternates chosen over the whole file, and each record built and printed as a JSON line. */
#include "fuzz.h"

#include "aspire/csv.h"
#include "aspire/extract.h"
#include "aspire/jsonl.h"

static aspire_extractor *ex;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *classes[] = {"landbird", "waterbird"};
    if (aspire_extractor_new_wordnet(classes, 2, &ex) != ASPIRE_OK) abort();
    return 0;
}

static void record(const char *path, const char *caption, const aspire_extraction *e) {
    cJSON *o = cJSON_CreateObject();
    if (!o) abort();
    cJSON_AddStringToObject(o, "img_filename", path);
    cJSON_AddStringToObject(o, "caption", caption);
    cJSON *fg = cJSON_AddArrayToObject(o, "foreground");
    for (int k = 0; fg && k < e->n_foreground; k++) cJSON_AddItemToArray(fg, cJSON_CreateString(e->foreground[k]));
    if (e->background) cJSON_AddStringToObject(o, "background", e->background);
    if (e->alternate) cJSON_AddStringToObject(o, "alternate_background", e->alternate);
    char *line = cJSON_PrintUnformatted(o);
    if (line && strchr(line, '\n')) abort();
    cJSON_free(line);
    cJSON_Delete(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    aspire_csv *csv = NULL;
    int c_path, c_cap;
    if (aspire_csv_parse(&csv, (const char *)data, size, "captions.csv") != ASPIRE_OK) return 0;
    if (aspire_csv_require(csv, "path", &c_path) || aspire_csv_require(csv, "caption", &c_cap) ||
        aspire_csv_nrows(csv) > 256) {
        aspire_csv_free(csv);
        return 0;
    }
    int n = (int)aspire_csv_nrows(csv);
    aspire_extraction *items = calloc((size_t)n + 1, sizeof *items);
    int *cls = calloc((size_t)n + 1, sizeof *cls);
    if (!items || !cls) abort();
    for (int r = 0; r < n; r++) {
        const char *cap = aspire_csv_field(csv, r, c_cap);
        if (aspire_utf8_check(cap, strlen(cap)) >= 0) abort();  /* the reader already refused bad UTF-8 */
        cls[r] = (int)(strlen(aspire_csv_field(csv, r, c_path)) & 1);
        int rc = aspire_extractor_extract(ex, cap, cls[r], &items[r]);
        if (rc != ASPIRE_OK && rc != ASPIRE_ERR_FORMAT) abort();  /* only an over-long caption */
    }
    if (aspire_extractor_alternates(ex, items, cls, n) != ASPIRE_OK) abort();
    for (int r = 0; r < n; r++) {
        record(aspire_csv_field(csv, r, c_path), aspire_csv_field(csv, r, c_cap), &items[r]);
        aspire_extraction_destroy(&items[r]);
    }
    free(items);
    free(cls);
    aspire_csv_free(csv);
    return 0;
}
