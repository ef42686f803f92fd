/* segnet_io.c — the segmenter network's model file: weights plus metadata "format", "config",
 * "concepts", "phrases", "thresholds" and "recipe" (segmenter.h). */
#include "models/segnet_internal.h"

#include "aspire/fileio.h"
#include "aspire/safetensors.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT "aspire-segmenter-1"

static char *print_json(cJSON *o) {
    char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!txt) return NULL;
    char *s = aspire_strdup(txt);
    cJSON_free(txt);
    return s;
}

static char *config_json(const aspire_segnet_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "image_size", c->image_size);
    cJSON_AddNumberToObject(o, "nlevels", c->nlevels);
    cJSON *w = cJSON_CreateIntArray(c->widths, c->nlevels);
    if (w) cJSON_AddItemToObject(o, "widths", w);
    cJSON_AddNumberToObject(o, "nconcepts", c->nconcepts);
    return print_json(o);
}

static char *thresholds_json(const aspire_segnet_thresholds *t) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "pixel", t->pixel);
    cJSON_AddNumberToObject(o, "min_peak", t->min_peak);
    cJSON_AddNumberToObject(o, "min_area", t->min_area);
    return print_json(o);
}

static char *concepts_text(const aspire_segnet *net) {
    size_t cap = 1;
    for (int c = 0; c < net->nconcepts; c++) cap += strlen(net->concepts[c]) + 1;
    char *s = aspire_malloc(cap);
    if (!s) return NULL;
    size_t k = 0;
    for (int c = 0; c < net->nconcepts; c++) k += (size_t)snprintf(s + k, cap - k, "%s%s", c ? "," : "", net->concepts[c]);
    s[k] = 0;
    return s;
}

int aspire_segnet_save(const aspire_segnet *net, const char *path, const char *recipe) {
    char *cfg = config_json(&net->cfg), *th = thresholds_json(&net->th);
    char *concepts = concepts_text(net), *phrases = segnet_phrases_serialize(net);
    int rc = ASPIRE_ERR_NOMEM;
    if (cfg && th && concepts && phrases) {
        const char *meta[] = {"format", FORMAT, "config", cfg, "concepts", concepts, "phrases", phrases,
                              "thresholds", th, "recipe", recipe ? recipe : ""};
        rc = aspire_params_save(net->params, path, meta, 6);
    }
    aspire_strfree(cfg);
    aspire_strfree(th);
    aspire_strfree(concepts);
    aspire_strfree(phrases);
    return rc;
}

/* ---- loading ------------------------------------------------------------------------------- */

static int json_num(const cJSON *o, const char *key, double *dst, const char *path, const char *what) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"%s\": \"%s\" is missing or not a number", path, what, key);
    *dst = v->valuedouble;
    return ASPIRE_OK;
}

static int parse_config(const char *json, aspire_segnet_config *c, const char *path) {
    memset(c, 0, sizeof *c);
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) { cJSON_Delete(o); return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\" is not a JSON object", path); }
    double size = 0, levels = 0, nc = 0;
    int rc = json_num(o, "image_size", &size, path, "config");
    if (!rc) rc = json_num(o, "nlevels", &levels, path, "config");
    if (!rc) rc = json_num(o, "nconcepts", &nc, path, "config");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "widths");
    if (!rc && (levels < 1 || levels > ASPIRE_SEGNET_MAX_LEVELS || !cJSON_IsArray(w) || cJSON_GetArraySize(w) != (int)levels))
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\": \"widths\" must list nlevels (1 to %d) widths", path,
                          ASPIRE_SEGNET_MAX_LEVELS);
    if (!rc) {
        c->image_size = (int)size;
        c->nlevels = (int)levels;
        c->nconcepts = (int)nc;
        for (int l = 0; l < c->nlevels; l++) {
            const cJSON *e = cJSON_GetArrayItem(w, l);
            c->widths[l] = cJSON_IsNumber(e) ? (int)e->valuedouble : 0;
        }
    }
    cJSON_Delete(o);
    return rc;
}

static int parse_thresholds(const char *json, aspire_segnet_thresholds *t, const char *path) {
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) { cJSON_Delete(o); return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"thresholds\" is not a JSON object", path); }
    double px = 0, peak = 0, area = 0;
    int rc = json_num(o, "pixel", &px, path, "thresholds");
    if (!rc) rc = json_num(o, "min_peak", &peak, path, "thresholds");
    if (!rc) rc = json_num(o, "min_area", &area, path, "thresholds");
    cJSON_Delete(o);
    if (!rc && (px <= 0 || px >= 1 || peak < 0 || peak > 1 || area < 0))
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"thresholds\" out of range", path);
    t->pixel = (float)px;
    t->min_peak = (float)peak;
    t->min_area = (int)area;
    return rc;
}

/* "a,b,c" → a new array of new strings. */
static int split_concepts(const char *s, char ***out, int *n) {
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    *out = aspire_calloc((size_t)cap, sizeof **out);
    *n = 0;
    if (!*out) return ASPIRE_ERR_NOMEM;
    for (const char *a = s; *a || *n == 0;) {
        const char *b = strchr(a, ',');
        size_t l = b ? (size_t)(b - a) : strlen(a);
        char *w = aspire_malloc(l + 1);
        if (!w) return ASPIRE_ERR_NOMEM;
        memcpy(w, a, l);
        w[l] = 0;
        (*out)[(*n)++] = w;
        if (!b) break;
        a = b + 1;
    }
    return ASPIRE_OK;
}

typedef struct meta_parts {
    aspire_segnet_config cfg;
    aspire_segnet_thresholds th;
    aspire_segnet_vocab vocab;
    char **concepts, **phrases;
    int nconcepts;
    uint64_t *sets;
} meta_parts;

static void meta_parts_free(meta_parts *m) {
    for (int c = 0; m->concepts && c < m->nconcepts; c++) aspire_strfree(m->concepts[c]);
    for (int p = 0; m->phrases && m->phrases[p]; p++) aspire_strfree(m->phrases[p]);
    aspire_free(m->concepts, 0);
    aspire_free(m->phrases, 0);
    aspire_free(m->sets, 0);
}

static int read_meta(const aspire_safetensors *st, const char *path, meta_parts *m) {
    const char *format = aspire_safetensors_meta(st, "format");
    if (!format || strcmp(format, FORMAT) != 0)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: not a segmenter file (metadata \"format\" is %s)", path,
                            format ? format : "missing");
    const char *keys[] = {"config", "concepts", "phrases", "thresholds"};
    for (int i = 0; i < 4; i++)
        if (!aspire_safetensors_meta(st, keys[i]))
            return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"%s\" is missing", path, keys[i]);
    int rc = parse_config(aspire_safetensors_meta(st, "config"), &m->cfg, path);
    if (!rc) rc = parse_thresholds(aspire_safetensors_meta(st, "thresholds"), &m->th, path);
    if (!rc) rc = split_concepts(aspire_safetensors_meta(st, "concepts"), &m->concepts, &m->nconcepts);
    if (!rc && m->nconcepts != m->cfg.nconcepts)
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: config says %d concepts, metadata \"concepts\" lists %d", path,
                          m->cfg.nconcepts, m->nconcepts);
    m->vocab.nconcepts = m->nconcepts;
    m->vocab.concepts = (const char *const *)m->concepts;
    char where[1100];
    snprintf(where, sizeof where, "%s: metadata \"phrases\"", path);
    if (!rc) rc = segnet_phrases_parse(&m->vocab, &m->phrases, &m->sets, aspire_safetensors_meta(st, "phrases"), where);
    return rc;
}

static int read_weights(aspire_segnet *net, const aspire_safetensors *st, const char *path) {
    return aspire_params_read_all(net->params, st, path, "segmenter");
}

int aspire_segnet_load(aspire_segnet **out, const char *path, char **recipe) {
    *out = NULL;
    if (recipe) *recipe = NULL;
    aspire_safetensors *st = NULL;
    int rc = aspire_safetensors_open(&st, path);
    if (rc) return rc;
    meta_parts m;
    memset(&m, 0, sizeof m);
    aspire_segnet *net = NULL;
    rc = read_meta(st, path, &m);
    if (!rc) {
        rc = aspire_segnet_new(&net, &m.cfg, &m.vocab, 0);
        if (rc == ASPIRE_ERR_ARG) rc = aspire_error_prefix(ASPIRE_ERR_FORMAT, "%s: metadata", path);
    }
    if (!rc) rc = read_weights(net, st, path);
    if (!rc) net->th = m.th;
    if (!rc && recipe) {
        const char *r = aspire_safetensors_meta(st, "recipe");
        if (!(*recipe = aspire_strdup(r ? r : ""))) rc = ASPIRE_ERR_NOMEM;
    }
    meta_parts_free(&m);
    aspire_safetensors_free(st);
    if (rc) { aspire_segnet_free(net); return rc; }
    *out = net;
    return ASPIRE_OK;
}
