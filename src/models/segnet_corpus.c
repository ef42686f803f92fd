/* segnet_corpus.c — the segmenter's training data: the world corpus's images with per-pixel
 * concept labels, from scenes.jsonl (each object's name and label) and the instance label maps
 * in masks/ (pixel = label of the topmost object covering it). Pretraining and benches only. */
#include "models/segnet_internal.h"
#include "models/corpus_scan.h"

#include "aspire/fileio.h"
#include "aspire/jsonl.h"
#include "aspire/world.h"

#include <stdio.h>
#include <string.h>

void aspire_seg_corpus_destroy(aspire_seg_corpus *c) {
    if (!c) return;
    aspire_free(c->pixels, 0);
    aspire_free(c->labels, 0);
    aspire_free(c->present, 0);
    aspire_free(c->ids, 0);
    memset(c, 0, sizeof *c);
}

static int reserve(aspire_seg_corpus *c, int *cap, int need) {
    if (need <= *cap) return ASPIRE_OK;
    int nc = *cap ? *cap * 2 : 1024;
    size_t S2 = (size_t)c->size * c->size;
    uint8_t *px = aspire_realloc(c->pixels, (size_t)*cap * S2 * 3, (size_t)nc * S2 * 3);
    if (px) c->pixels = px;
    uint8_t *lb = px ? aspire_realloc(c->labels, (size_t)*cap * S2, (size_t)nc * S2) : NULL;
    if (lb) c->labels = lb;
    uint64_t *pr = lb ? aspire_realloc(c->present, (size_t)*cap * 8, (size_t)nc * 8) : NULL;
    if (pr) c->present = pr;
    int64_t *id = pr ? aspire_realloc(c->ids, (size_t)*cap * 8, (size_t)nc * 8) : NULL;
    if (!id) return ASPIRE_ERR_NOMEM;
    c->ids = id;
    *cap = nc;
    return ASPIRE_OK;
}

/* label value (object label k + 1) → concept + 1, from the scene's "objects". */
static int object_table(const cJSON *o, uint8_t table[256], uint64_t *present, const char *where) {
    memset(table, 0, 256);
    *present = 0;
    const cJSON *objs = cJSON_GetObjectItemCaseSensitive(o, "objects");
    if (!cJSON_IsArray(objs)) return aspire_error(ASPIRE_ERR_FORMAT, "%s: no \"objects\" array", where);
    const cJSON *ob;
    cJSON_ArrayForEach(ob, objs) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(ob, "name");
        const cJSON *label = cJSON_GetObjectItemCaseSensitive(ob, "label");
        if (!cJSON_IsString(name) || !cJSON_IsNumber(label) || label->valueint < 1 || label->valueint > 255)
            return aspire_error(ASPIRE_ERR_FORMAT, "%s: an object lacks \"name\" or a \"label\" in 1..255", where);
        int e = aspire_world_emoji_find(name->valuestring);
        if (e < 0) return aspire_error(ASPIRE_ERR_FORMAT, "%s: unknown object '%s'", where, name->valuestring);
        table[label->valueint] = (uint8_t)(e + 1);
    }
    return ASPIRE_OK;
}

static int add_item(aspire_seg_corpus *c, const char *dir, const cJSON *o, const char *where) {
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(o, "img_filename");
    const cJSON *mk = cJSON_GetObjectItemCaseSensitive(o, "mask");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "img_id");
    if (!cJSON_IsString(fn) || !cJSON_IsString(mk) || !cJSON_IsNumber(id))
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: \"img_filename\", \"mask\" or \"img_id\" is missing", where);
    uint8_t table[256];
    uint64_t present = 0;
    int rc = object_table(o, table, &present, where);
    aspire_image img = {0}, mask = {0};
    char *ip = aspire_path_join(dir, fn->valuestring), *mp = aspire_path_join(dir, mk->valuestring);
    if (!rc && (!ip || !mp)) rc = ASPIRE_ERR_NOMEM;
    if (!rc) rc = aspire_image_load(&img, ip, 3);
    if (!rc) rc = aspire_image_load(&mask, mp, 1);
    const int S = c->size;
    if (!rc && (img.w != S || img.h != S || mask.w != S || mask.h != S))
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: image %dx%d, mask %dx%d (%dx%d expected)", where, img.w, img.h, mask.w,
                          mask.h, S, S);
    if (!rc) {
        size_t S2 = (size_t)S * S;
        memcpy(c->pixels + (size_t)c->n * S2 * 3, img.data, S2 * 3);
        uint8_t *lb = c->labels + (size_t)c->n * S2;
        for (size_t p = 0; p < S2 && !rc; p++) {
            lb[p] = mask.data[p] ? table[mask.data[p]] : 0;
            if (mask.data[p] && !lb[p]) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: mask value %d names no object", mp, mask.data[p]);
            else if (lb[p]) present |= UINT64_C(1) << (lb[p] - 1);
        }
        c->present[c->n] = present;
        c->ids[c->n] = (int64_t)id->valuedouble;
        if (!rc) c->n++;
    }
    aspire_image_destroy(&img);
    aspire_image_destroy(&mask);
    aspire_strfree(ip);
    aspire_strfree(mp);
    return rc;
}

typedef struct seg_scan { aspire_seg_corpus *c; const char *dir; int cap, limit; } seg_scan;

static int seg_row(void *ud, const cJSON *o, const char *where) {
    seg_scan *sc = ud;
    if (sc->limit > 0 && sc->c->n >= sc->limit) return CORPUS_SCAN_STOP;
    int rc = reserve(sc->c, &sc->cap, sc->c->n + 1);
    return rc ? rc : add_item(sc->c, sc->dir, o, where);
}

int aspire_seg_corpus_load(aspire_seg_corpus *c, const char *dir, int split, int limit, int size) {
    memset(c, 0, sizeof *c);
    c->size = size;
    char *path = aspire_path_join(dir, "scenes.jsonl");
    if (!path) return ASPIRE_ERR_NOMEM;
    seg_scan sc = {c, dir, 0, limit};
    int rc = corpus_scan(path, split, seg_row, &sc);
    if (!rc && c->n == 0) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: no image of split %d", path, split);
    aspire_strfree(path);
    if (rc) aspire_seg_corpus_destroy(c);
    return rc;
}
