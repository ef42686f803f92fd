/* inpainter.c — the learned inpainter's network: a small U-Net over the image with its hole zeroed
 * plus the mask channel, predicting RGB that is composited back inside the hole only; its model
 * files (config and recipe in the safetensors metadata). The backend table around it is in
 * src/imgproc/inpaint.c, the training on the world in src/models/inpainter_train.c. */
#include "aspire/inpaint.h"

#include "aspire/fileio.h"
#include "aspire/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIX_MEAN 0.5f
#define PIX_STD 0.25f
#define FORMAT "aspire-inpainter-1"

typedef struct conv {
    aspire_tensor *w, *b;  /* (O, I, 3, 3), (O) */
    int stride, dil;
} conv;

struct aspire_inpaint_model {
    aspire_inpaint_config cfg;
    aspire_params *params;
    conv enc[ASPIRE_INPAINT_MAX_LEVELS][2];
    conv dec[ASPIRE_INPAINT_MAX_LEVELS];
    conv out;
};

aspire_inpaint_config aspire_inpaint_default_config(void) {
    aspire_inpaint_config c = {.image_size = 64, .levels = 4, .enc = {16, 32, 64, 96}, .dec = {16, 24, 48}};
    return c;
}

static int check_config(const aspire_inpaint_config *c) {
    if (c->levels < 2 || c->levels > ASPIRE_INPAINT_MAX_LEVELS)
        return aspire_error(ASPIRE_ERR_ARG, "inpainter: levels %d not in 2..%d", c->levels, ASPIRE_INPAINT_MAX_LEVELS);
    int div = 1 << (c->levels - 1);
    if (c->image_size < 8 || c->image_size > 1024 || c->image_size % div)
        return aspire_error(ASPIRE_ERR_ARG, "inpainter: image_size %d not in 8..1024 or not divisible by %d",
                            c->image_size, div);
    for (int l = 0; l < c->levels; l++) {
        if (c->enc[l] < 1 || c->enc[l] > 1024)
            return aspire_error(ASPIRE_ERR_ARG, "inpainter: enc[%d] = %d out of range", l, c->enc[l]);
        if (l < c->levels - 1 && (c->dec[l] < 1 || c->dec[l] > 1024))
            return aspire_error(ASPIRE_ERR_ARG, "inpainter: dec[%d] = %d out of range", l, c->dec[l]);
    }
    return ASPIRE_OK;
}

/* ---- construction ---------------------------------------------------------------------------- */
static int build_conv(aspire_params *p, aspire_rng *rng, conv *c, const char *prefix, int in, int out, int stride,
                      int dil, float gain) {
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    c->w = aspire_params_add(p, name, 4, (int64_t[]){out, in, 3, 3}, 1);
    snprintf(name, sizeof name, "%s.bias", prefix);
    c->b = aspire_params_add(p, name, 1, (int64_t[]){out}, 1);
    if (!c->w || !c->b) return ASPIRE_ERR_NOMEM;
    aspire_init_kaiming(c->w, (int64_t)in * 9, rng);
    if (gain != 1.0f)
        for (int64_t i = 0; i < c->w->numel; i++) c->w->data[i] *= gain;
    aspire_init_fill(c->b, 0.0f);
    c->stride = stride;
    c->dil = dil;
    return ASPIRE_OK;
}

int aspire_inpaint_model_new(aspire_inpaint_model **out, const aspire_inpaint_config *cfg, uint64_t seed) {
    *out = NULL;
    int rc = check_config(cfg);
    if (rc) return rc;
    aspire_inpaint_model *m = aspire_calloc(1, sizeof *m);
    if (!m) return ASPIRE_ERR_NOMEM;
    m->cfg = *cfg;
    m->params = aspire_params_new();
    if (!m->params) { aspire_inpaint_model_free(m); return ASPIRE_ERR_NOMEM; }
    aspire_rng rng;
    aspire_rng_seed(&rng, seed);
    const int L = cfg->levels;
    char name[64];
    for (int l = 0; !rc && l < L; l++) {
        int in = l ? cfg->enc[l - 1] : 4;
        snprintf(name, sizeof name, "enc%d.conv1", l);
        rc = build_conv(m->params, &rng, &m->enc[l][0], name, in, cfg->enc[l], l ? 2 : 1, 1, 1.0f);
        snprintf(name, sizeof name, "enc%d.conv2", l);
        if (!rc) rc = build_conv(m->params, &rng, &m->enc[l][1], name, cfg->enc[l], cfg->enc[l], 1, l == L - 1 ? 2 : 1, 1.0f);
    }
    for (int l = L - 2; !rc && l >= 0; l--) {
        int below = l == L - 2 ? cfg->enc[L - 1] : cfg->dec[l + 1];
        snprintf(name, sizeof name, "dec%d.conv", l);
        rc = build_conv(m->params, &rng, &m->dec[l], name, below + cfg->enc[l], cfg->dec[l], 1, 1, 1.0f);
    }
    if (!rc) rc = build_conv(m->params, &rng, &m->out, "out.conv", cfg->dec[0], 3, 1, 1, 0.1f);
    if (rc) { aspire_inpaint_model_free(m); return rc; }
    *out = m;
    return ASPIRE_OK;
}

void aspire_inpaint_model_free(aspire_inpaint_model *m) {
    if (!m) return;
    aspire_params_free(m->params);
    aspire_free(m, sizeof *m);
}

aspire_params *aspire_inpaint_model_params(aspire_inpaint_model *m) { return m->params; }
const aspire_inpaint_config *aspire_inpaint_model_config(const aspire_inpaint_model *m) { return &m->cfg; }

/* ---- forward --------------------------------------------------------------------------------- */
void aspire_inpaint_model_input(int S, const uint8_t *rgb, const uint8_t *mask, float *dst) {
    for (int64_t i = 0; i < (int64_t)S * S; i++) {
        float *q = dst + 4 * i;
        if (mask[i]) {
            q[0] = q[1] = q[2] = 0.0f;
            q[3] = 1.0f;
        } else {
            for (int c = 0; c < 3; c++) q[c] = ((float)rgb[3 * i + c] / 255.0f - PIX_MEAN) / PIX_STD;
            q[3] = 0.0f;
        }
    }
}

static aspire_tensor *apply(aspire_ctx *ctx, const conv *c, aspire_tensor *x, int relu) {
    aspire_conv_params p = {.stride_h = c->stride, .stride_w = c->stride, .pad_h = c->dil, .pad_w = c->dil,
                            .dil_h = c->dil, .dil_w = c->dil};
    aspire_tensor *y = aspire_conv2d(ctx, x, c->w, c->b, p);
    return relu ? aspire_relu(ctx, y) : y;
}

aspire_tensor *aspire_inpaint_model_forward(aspire_ctx *ctx, aspire_inpaint_model *m, aspire_tensor *x) {
    if (!x) return NULL;
    const int L = m->cfg.levels, S = m->cfg.image_size;
    ASPIRE_ASSERT(x->ndim == 4 && x->shape[1] == S && x->shape[2] == S && x->shape[3] == 4,
                  "inpainter input must be (N, %d, %d, 4)", S, S);
    aspire_tensor *skip[ASPIRE_INPAINT_MAX_LEVELS];
    aspire_tensor *h = x;
    for (int l = 0; l < L; l++) {
        h = apply(ctx, &m->enc[l][0], h, 1);
        h = apply(ctx, &m->enc[l][1], h, 1);
        skip[l] = h;
    }
    for (int l = L - 2; l >= 0; l--) {
        aspire_tensor *cat[2] = {aspire_upsample_nearest(ctx, h, 2), skip[l]};
        if (!cat[0]) return NULL;
        h = apply(ctx, &m->dec[l], aspire_concat(ctx, cat, 2, 3), 1);
    }
    aspire_tensor *pred = apply(ctx, &m->out, h, 0);
    /* composite: x's pixels are 0 inside the hole, so out = rgb + mask * pred */
    aspire_tensor *rgb = aspire_slice(ctx, x, 3, 0, 3);
    aspire_tensor *mk = aspire_slice(ctx, x, 3, 3, 1);
    aspire_tensor *m3[3] = {mk, mk, mk};
    aspire_tensor *mask3 = mk ? aspire_concat(ctx, m3, 3, 3) : NULL;
    return aspire_add(ctx, rgb, aspire_mul(ctx, pred, mask3));
}

/* ---- files ----------------------------------------------------------------------------------- */
char *aspire_inpaint_config_json(const aspire_inpaint_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "image_size", c->image_size);
    cJSON_AddNumberToObject(o, "levels", c->levels);
    cJSON *e = cJSON_CreateIntArray(c->enc, c->levels);
    if (e) cJSON_AddItemToObject(o, "enc", e);
    cJSON *d = cJSON_CreateIntArray(c->dec, c->levels - 1);
    if (d) cJSON_AddItemToObject(o, "dec", d);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt) return NULL;
    char *s = aspire_strdup(txt);
    cJSON_free(txt);
    return s;
}

static int json_ints(const cJSON *o, const char *key, int *dst, int n, const char *path) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (n < 0 || !cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\": \"%s\" must list %d integers", path, key, n);
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(v))
            return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\": %s[%d] is not a number", path, key, i);
        dst[i] = (int)v->valuedouble;
    }
    return ASPIRE_OK;
}

static int parse_config(const char *json, aspire_inpaint_config *c, const char *path) {
    memset(c, 0, sizeof *c);
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\" is not a JSON object", path);
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "image_size");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "levels");
    int rc = ASPIRE_OK;
    if (!cJSON_IsNumber(s) || !cJSON_IsNumber(l))
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\": \"%s\" is missing or not a number", path,
                          !cJSON_IsNumber(s) ? "image_size" : "levels");
    if (!rc) {
        c->image_size = (int)s->valuedouble;
        c->levels = (int)l->valuedouble;
        if (c->levels < 2 || c->levels > ASPIRE_INPAINT_MAX_LEVELS)
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\": levels %d not in 2..%d", path, c->levels,
                              ASPIRE_INPAINT_MAX_LEVELS);
    }
    if (!rc) rc = json_ints(o, "enc", c->enc, c->levels, path);
    if (!rc) rc = json_ints(o, "dec", c->dec, c->levels - 1, path);
    cJSON_Delete(o);
    return rc;
}

const char *aspire_inpaint_default_model(const char *models_dir, char *buf, size_t n) {
    return aspire_model_path(models_dir, "inpainter.safetensors", buf, n);
}

int aspire_inpaint_model_save(const aspire_inpaint_model *m, const char *path, const char *recipe) {
    char *config = aspire_inpaint_config_json(&m->cfg);
    if (!config) return ASPIRE_ERR_NOMEM;
    const char *meta[] = {"format", FORMAT, "config", config, "recipe", recipe ? recipe : ""};
    int rc = aspire_params_save(m->params, path, meta, 3);
    aspire_strfree(config);
    return rc;
}

static int load_tensors(aspire_inpaint_model *m, const aspire_safetensors *st, const char *path) {
    return aspire_params_read_all(m->params, st, path, "inpainter");
}

int aspire_inpaint_model_load(aspire_inpaint_model **out, const char *path, char **recipe) {
    *out = NULL;
    if (recipe) *recipe = NULL;
    aspire_safetensors *st = NULL;
    int rc = aspire_safetensors_open(&st, path);
    if (rc) return rc;
    const char *format = aspire_safetensors_meta(st, "format");
    const char *cs = aspire_safetensors_meta(st, "config");
    aspire_inpaint_model *m = NULL;
    aspire_inpaint_config cfg;
    if (!format || strcmp(format, FORMAT) != 0)
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: not an inpainter file (metadata \"format\" is %s)", path,
                          format ? format : "missing");
    else if (!cs)
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\" is missing", path);
    if (!rc) rc = parse_config(cs, &cfg, path);
    if (!rc) {
        rc = aspire_inpaint_model_new(&m, &cfg, 0);
        if (rc == ASPIRE_ERR_ARG) rc = aspire_error_prefix(ASPIRE_ERR_FORMAT, "%s: metadata \"config\"", path);
    }
    if (!rc) rc = load_tensors(m, st, path);
    if (!rc && recipe) {
        const char *r = aspire_safetensors_meta(st, "recipe");
        *recipe = aspire_strdup(r ? r : "");
        if (!*recipe) rc = ASPIRE_ERR_NOMEM;
    }
    aspire_safetensors_free(st);
    if (rc) { aspire_inpaint_model_free(m); return rc; }
    *out = m;
    return ASPIRE_OK;
}
