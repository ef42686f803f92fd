/* classifier.c — the trained image classifier (classifier.h): the networks by architecture name
 * and their initialisations, the classifier files (weights file, training checkpoint, run folder)
 * and predictions in eval mode for normalised floats, bytes and images of any size. */
#include "aspire/classifier.h"

#include "aspire/fileio.h"
#include "aspire/progress.h"
#include "aspire/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct aspire_classifier {
    aspire_resnet *net;
    aspire_ctx *ctx;
    aspire_ctx_options engine;
    char arch[32];
    int K, S, epoch;
    char **class_names;     /* (K) */
    char *progress;         /* label of a progress line over predictions, or NULL */
};

/* ---- names and checks ------------------------------------------------------------------------ */
int aspire_classifier_check_arch(const char *arch) {
    if (arch && (strcmp(arch, "reference") == 0 || strcmp(arch, "resnet18") == 0 || strcmp(arch, "resnet50") == 0))
        return ASPIRE_OK;
    return aspire_error(ASPIRE_ERR_ARG, "unknown architecture '%s' (reference, resnet18 or resnet50)", arch ? arch : "");
}

/* An init that is neither name is a weights file. */
static int init_is_file(const char *init) {
    return init && strcmp(init, "torchvision") != 0 && strcmp(init, "pytorch") != 0;
}

int aspire_classifier_check_init(const char *init) {
    if (!init || !*init)
        return aspire_error(ASPIRE_ERR_ARG, "unknown initialisation '' (torchvision, pytorch or a .safetensors weights file)");
    if (init_is_file(init) && !aspire_file_exists(init))
        return aspire_error(ASPIRE_ERR_NOTFOUND, "%s: no such weights file (or use torchvision or pytorch)", init);
    return ASPIRE_OK;
}

const char *aspire_default_class_name(int k, int n_classes, char *buf, size_t n) {
    static const char *const wb[2] = {"landbird", "waterbird"};
    if (n_classes <= 2 && k >= 0 && k < 2) snprintf(buf, n, "%s", wb[k]);
    else snprintf(buf, n, "class %d", k);
    return buf;
}

/* ---- construction ---------------------------------------------------------------------------- */
void aspire_classifier_free(aspire_classifier *c) {
    if (!c) return;
    for (int k = 0; c->class_names && k < c->K; k++) aspire_strfree(c->class_names[k]);
    aspire_free(c->class_names, sizeof(char *) * (size_t)(c->K ? c->K : 1));
    aspire_strfree(c->progress);
    aspire_ctx_free(c->ctx);
    aspire_resnet_free(c->net);
    aspire_free(c, sizeof *c);
}

/* PyTorch's defaults: Conv2d and Linear weights kaiming_uniform_(a = sqrt(5)), i.e. uniform in
 * ±1/sqrt(fan_in); Linear bias uniform in ±1/sqrt(fan_in); batch norm as it is (1, 0). */
static void init_pytorch(aspire_resnet *net, uint64_t seed) {
    aspire_rng rng;
    aspire_rng_seed(&rng, seed ^ 0x5EEDull);
    aspire_params *p = aspire_resnet_params(net);
    for (int i = 0; i < aspire_params_count(p); i++) {
        aspire_tensor *t = aspire_params_at(p, i);
        if (t->ndim < 2) continue;
        int64_t fan_in = 1;
        for (int d = 1; d < t->ndim; d++) fan_in *= t->shape[d];
        float bound = 1.0f / sqrtf((float)fan_in);
        aspire_init_uniform(t, -bound, bound, &rng);
        if (strcmp(t->name, "fc.weight") == 0) {
            aspire_tensor *b = aspire_params_find(p, "fc.bias");
            if (b) aspire_init_uniform(b, -bound, bound, &rng);
        }
    }
}

/* The network of an architecture, initialised (init as in aspire_classifier_spec). */
static int build_net(aspire_resnet **out, const char *arch, int K, uint64_t seed, const char *init) {
    *out = NULL;
    int rc = aspire_classifier_check_arch(arch);
    if (!rc && init) rc = aspire_classifier_check_init(init);
    if (rc) return rc;
    aspire_resnet_config c = strcmp(arch, "resnet18") == 0   ? aspire_resnet18_config(K)
                             : strcmp(arch, "resnet50") == 0 ? aspire_resnet50_config(K)
                                                             : aspire_resnet_reference_config(K);
    rc = aspire_resnet_new(out, &c, seed);
    if (rc || !init || strcmp(init, "torchvision") == 0) return rc;
    if (init_is_file(init)) {
        /* pretrained weights (torchvision names); a head of another class count stays as initialised */
        rc = aspire_params_load_partial(aspire_resnet_params(*out), init, "fc.");
        if (rc) {
            aspire_resnet_free(*out);
            *out = NULL;
        }
        return rc;
    }
    init_pytorch(*out, seed);
    return ASPIRE_OK;
}

/* The shell of a classifier: names (defaults where NULL), context; the network comes after. */
static int shell_new(aspire_classifier **out, const char *arch, int K, int S, const char *const *names,
                     const aspire_ctx_options *engine) {
    aspire_classifier *c = aspire_calloc(1, sizeof *c);
    if (!c) return ASPIRE_ERR_NOMEM;
    *out = c;
    snprintf(c->arch, sizeof c->arch, "%s", arch);
    c->K = K;
    c->S = S;
    c->epoch = -1;
    if (engine) c->engine = *engine;
    c->class_names = aspire_calloc((size_t)(K ? K : 1), sizeof(char *));
    if (!c->class_names) return ASPIRE_ERR_NOMEM;
    char buf[64];
    for (int k = 0; k < K; k++)
        if (!(c->class_names[k] = aspire_strdup(names && names[k] ? names[k] : aspire_default_class_name(k, K, buf, sizeof buf))))
            return ASPIRE_ERR_NOMEM;
    return aspire_ctx_new(&c->ctx, &c->engine);
}

int aspire_classifier_new(aspire_classifier **out, const aspire_classifier_spec *spec, const aspire_ctx_options *engine) {
    *out = NULL;
    if (spec->num_classes < 1 || spec->image_size < 1)
        return aspire_error(ASPIRE_ERR_ARG, "a classifier needs at least one class and a positive image size");
    int rc = aspire_classifier_check_arch(spec->arch);
    aspire_classifier *c = NULL;
    if (!rc) rc = shell_new(&c, spec->arch, spec->num_classes, spec->image_size, spec->class_names, engine);
    if (!rc) rc = build_net(&c->net, spec->arch, spec->num_classes, spec->seed, spec->init);
    if (rc) { aspire_classifier_free(c); return rc; }
    *out = c;
    return ASPIRE_OK;
}

/* ---- accessors ------------------------------------------------------------------------------- */
int aspire_classifier_n_classes(const aspire_classifier *c) { return c->K; }
const char *aspire_classifier_class_name(const aspire_classifier *c, int k) { return k >= 0 && k < c->K ? c->class_names[k] : NULL; }
int aspire_classifier_image_size(const aspire_classifier *c) { return c->S; }
const char *aspire_classifier_arch(const aspire_classifier *c) { return c->arch; }
int aspire_classifier_epoch(const aspire_classifier *c) { return c->epoch; }
int aspire_classifier_feature_dim(const aspire_classifier *c) { return aspire_resnet_feature_dim(c->net); }
aspire_resnet *aspire_classifier_resnet(aspire_classifier *c) { return c->net; }

void aspire_classifier_set_progress(aspire_classifier *c, const char *label) {
    aspire_strfree(c->progress);
    c->progress = label ? aspire_strdup(label) : NULL;
}

/* ---- files ----------------------------------------------------------------------------------- */
/* The class names as a JSON list, or NULL when they are the defaults (then the key is left out,
 * and a reader falls back to the same defaults). *nomem on failure. */
static char *names_json(const aspire_classifier *c, int *nomem) {
    char buf[64];
    int dflt = 1;
    for (int k = 0; k < c->K; k++) dflt &= strcmp(c->class_names[k], aspire_default_class_name(k, c->K, buf, sizeof buf)) == 0;
    *nomem = 0;
    if (dflt) return NULL;
    cJSON *a = cJSON_CreateStringArray((const char *const *)c->class_names, c->K);
    char *s = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    *nomem = s == NULL;
    return s;
}

int aspire_classifier_save(const aspire_classifier *c, const char *path, int epoch, const char *const *meta, int n_meta) {
    char k[16], size[16], ep[32];
    snprintf(k, sizeof k, "%d", c->K);
    snprintf(size, sizeof size, "%d", c->S);
    snprintf(ep, sizeof ep, "%d", epoch);
    int nomem = 0;
    char *names = names_json(c, &nomem);
    const char **all = aspire_malloc(sizeof(char *) * 2 * (size_t)(n_meta + 6));
    if (nomem || !all) {
        cJSON_free(names);
        aspire_free(all, 0);
        return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    }
    int n = 0;
    const char *fixed[8] = {"arch", c->arch, "num_classes", k, "image_size", size, "epoch", ep};
    for (int i = 0; i < 8; i++) all[n++] = fixed[i];
    for (int i = 0; i < 2 * n_meta; i++) all[n++] = meta[i];
    all[n++] = "normalize";
    all[n++] = "(x/255 - 0.5) / 0.25";
    if (names) { all[n++] = "class_names"; all[n++] = names; }
    int rc = aspire_params_save(aspire_resnet_params(c->net), path, all, n / 2);
    aspire_free(all, sizeof(char *) * 2 * (size_t)(n_meta + 6));
    cJSON_free(names);
    return rc;
}

/* What a file does not say itself: a run folder's train.json (architecture, image size, class
 * names). Absent or unreadable files leave the outputs as they are. */
static void read_run_json(const char *run_dir, char *arch, size_t na, int *S, cJSON **names) {
    char *p = aspire_path_join(run_dir, "train.json"), *buf = NULL;
    size_t len = 0;
    if (!p || aspire_read_file(p, &buf, &len)) { aspire_strfree(p); aspire_error_clear(); return; }
    cJSON *root = cJSON_ParseWithLength(buf, len), *cfg = cJSON_GetObjectItem(root, "config");
    const cJSON *a = cJSON_GetObjectItem(cfg, "arch"), *s = cJSON_GetObjectItem(cfg, "image_size");
    if (cJSON_IsString(a)) snprintf(arch, na, "%s", a->valuestring);
    if (cJSON_IsNumber(s)) *S = (int)s->valuedouble;
    cJSON *n = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "dataset"), "class_names");
    if (cJSON_IsArray(n) && !*names) *names = cJSON_Duplicate(n, 1);
    cJSON_Delete(root);
    aspire_free(buf, len + 1);
    aspire_strfree(p);
}

typedef struct file_info {
    int checkpoint, K, S, epoch;
    char arch[32];
    cJSON *names;   /* a JSON list or NULL */
} file_info;

static int meta_int(const aspire_safetensors *st, const char *key, int *out) {
    const char *v = aspire_safetensors_meta(st, key);
    char *end = NULL;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || errno == ERANGE || x < INT_MIN || x > INT_MAX)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata '%s' is %s (not a classifier weights file?)", aspire_safetensors_path(st),
                            key, v ? "not an integer" : "missing");
    *out = (int)x;
    return ASPIRE_OK;
}

/* Architecture, classes, size, epoch and names of an open file (run_dir: the folder beside it). */
static int read_info(const aspire_safetensors *st, const char *run_dir, file_info *fi) {
    const char *fmt = aspire_safetensors_meta(st, "format"), *arch = aspire_safetensors_meta(st, "arch");
    fi->checkpoint = fmt && strcmp(fmt, ASPIRE_CHECKPOINT_FORMAT) == 0;
    fi->S = 64;
    fi->epoch = -1;
    const char *nm = aspire_safetensors_meta(st, "class_names");
    if (nm && !(fi->names = cJSON_Parse(nm)))
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata 'class_names' is not a JSON list", aspire_safetensors_path(st));
    /* what the run folder says, where the file itself does not say it */
    read_run_json(run_dir, fi->arch, sizeof fi->arch, &fi->S, &fi->names);
    if (arch) snprintf(fi->arch, sizeof fi->arch, "%s", arch);
    int rc = ASPIRE_OK, next = 0;
    if (fi->checkpoint) {
        const aspire_st_tensor *b = aspire_safetensors_find(st, ASPIRE_CHECKPOINT_MODEL_PREFIX "fc.bias");
        if (!b) return aspire_error(ASPIRE_ERR_FORMAT, "%s: no tensor '" ASPIRE_CHECKPOINT_MODEL_PREFIX "fc.bias'", aspire_safetensors_path(st));
        fi->K = (int)b->numel;
        if (!(rc = meta_int(st, ASPIRE_CHECKPOINT_EPOCHS_KEY, &next))) fi->epoch = next - 1;
        if (!rc && !fi->arch[0])
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: a checkpoint without its run's train.json (no architecture)",
                              aspire_safetensors_path(st));
        return rc;
    }
    if (!arch) return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata 'arch' is missing (not a classifier weights file?)", aspire_safetensors_path(st));
    rc = meta_int(st, "num_classes", &fi->K);
    if (!rc && aspire_safetensors_meta(st, "image_size")) rc = meta_int(st, "image_size", &fi->S);
    if (!rc && aspire_safetensors_meta(st, "epoch")) rc = meta_int(st, "epoch", &fi->epoch);
    /* as strictly as training's options: a file saying image_size 0 or 4096 would abort or exhaust memory */
    if (!rc && (fi->K < 1 || fi->K > 65536 || fi->S < 8 || fi->S > 1024))
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata num_classes %d / image_size %d out of range (1..65536 / 8..1024)",
                          aspire_safetensors_path(st), fi->K, fi->S);
    return rc;
}

/* The names of a JSON list as K strings (NULL entries where missing). */
static const char **names_of(const cJSON *list, int K) {
    const char **n = aspire_calloc((size_t)(K ? K : 1), sizeof(char *));
    for (int k = 0; n && k < K; k++) {
        const cJSON *e = cJSON_GetArrayItem(list, k);
        n[k] = cJSON_IsString(e) ? e->valuestring : NULL;
    }
    return n;
}

static int open_file(aspire_classifier **out, const char *path, const char *run_dir, const aspire_ctx_options *engine) {
    aspire_safetensors *st = NULL;
    int rc = aspire_safetensors_open(&st, path);
    if (rc && !aspire_file_exists(path))
        rc = aspire_error(ASPIRE_ERR_NOTFOUND, "%s: no such file (has the run finished an epoch?)", path);
    file_info fi = {0};
    if (!rc) rc = read_info(st, run_dir, &fi);
    const char **names = rc ? NULL : names_of(fi.names, fi.K);
    if (!rc && !names) rc = ASPIRE_ERR_NOMEM;
    if (!rc) rc = shell_new(out, fi.arch, fi.K, fi.S, names, engine);
    if (!rc) rc = build_net(&(*out)->net, fi.arch, fi.K, 0, NULL);
    if (!rc) rc = aspire_params_read_prefixed(aspire_resnet_params((*out)->net), st, fi.checkpoint ? ASPIRE_CHECKPOINT_MODEL_PREFIX : "");
    if (!rc) (*out)->epoch = fi.epoch;
    aspire_free(names, sizeof(char *) * (size_t)(fi.K ? fi.K : 1));
    cJSON_Delete(fi.names);
    aspire_safetensors_free(st);
    return rc;
}

static int is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    char *d = aspire_malloc(n + 1);
    if (d) {
        memcpy(d, slash ? path : ".", n);
        d[n] = 0;
    }
    return d;
}

int aspire_classifier_open(aspire_classifier **out, const char *path, const aspire_ctx_options *engine) {
    *out = NULL;
    char *weights = NULL, *run_dir = NULL;
    if (is_dir(path)) {
        weights = aspire_path_join(path, "best.safetensors");
        run_dir = aspire_strdup(path);
    } else {
        weights = aspire_strdup(path);
        run_dir = dir_of(path);
    }
    int rc = weights && run_dir ? open_file(out, weights, run_dir, engine) : ASPIRE_ERR_NOMEM;
    if (rc) {
        aspire_classifier_free(*out);
        *out = NULL;
    }
    aspire_strfree(weights);
    aspire_strfree(run_dir);
    return rc;
}

/* ---- predictions ----------------------------------------------------------------------------- */
/* Labels (argmax, the first on ties), softmax probabilities and features of one forward pass. */
static int forward_batch(aspire_classifier *c, aspire_tensor *x, int64_t n, int32_t *labels, float *probs, float *feats) {
    aspire_tensor *f = NULL;
    aspire_tensor *logits = aspire_resnet_forward(c->ctx, c->net, x, feats ? &f : NULL);
    if (!logits || (feats && !f)) return aspire_error_prefix(ASPIRE_ERR_BACKEND, "forward pass");
    const int K = c->K;
    for (int64_t i = 0; i < n; i++) {
        const float *l = logits->data + (size_t)i * (size_t)K;
        int best = 0;
        for (int k = 1; k < K; k++)
            if (l[k] > l[best]) best = k;
        if (labels) labels[i] = best;
        if (!probs) continue;
        double sum = 0;
        for (int k = 0; k < K; k++) sum += exp((double)l[k] - (double)l[best]);
        for (int k = 0; k < K; k++) probs[(size_t)i * (size_t)K + (size_t)k] = (float)(exp((double)l[k] - (double)l[best]) / sum);
    }
    if (feats) memcpy(feats, f->data, sizeof(float) * (size_t)n * (size_t)aspire_resnet_feature_dim(c->net));
    return ASPIRE_OK;
}

/* Writes inputs [i0, i0 + n) of a source as normalised S×S×3 floats into x. */
typedef int (*fill_fn)(const aspire_classifier *c, const void *src, int64_t i0, int64_t n, float *x);

static int predict_loop(aspire_classifier *c, int64_t n, fill_fn fill, const void *src, int32_t *labels, float *probs,
                        float *feats) {
    const int S = c->S, K = c->K, D = aspire_resnet_feature_dim(c->net);
    int prev = aspire_threads_enter(c->engine.threads);
    aspire_ctx_set_training(c->ctx, 0);
    aspire_ctx_set_recording(c->ctx, 0);
    aspire_progress pg;
    aspire_progress_init(&pg, c->progress ? c->progress : "predict", n, "img");
    pg.quiet = c->progress == NULL;
    int rc = ASPIRE_OK;
    for (int64_t b0 = 0; b0 < n && !rc; b0 += ASPIRE_CLASSIFIER_BATCH) {
        int64_t nb = n - b0 < ASPIRE_CLASSIFIER_BATCH ? n - b0 : ASPIRE_CLASSIFIER_BATCH;
        aspire_ctx_reset(c->ctx);
        aspire_tensor *x = aspire_tensor_new(c->ctx, 4, (int64_t[]){nb, S, S, 3});
        if (!x) rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory for a batch of %lld images", (long long)nb);
        if (!rc) rc = fill(c, src, b0, nb, x->data);
        if (!rc)
            rc = forward_batch(c, x, nb, labels ? labels + b0 : NULL, probs ? probs + (size_t)b0 * (size_t)K : NULL,
                               feats ? feats + (size_t)b0 * (size_t)D : NULL);
        aspire_progress_update(&pg, b0 + nb, NULL);
    }
    if (!rc) aspire_progress_finish(&pg, NULL);
    aspire_ctx_reset(c->ctx);
    aspire_threads_leave(prev);
    return rc;
}

static int fill_nhwc(const aspire_classifier *c, const void *src, int64_t i0, int64_t n, float *x) {
    size_t per = (size_t)c->S * (size_t)c->S * 3;
    memcpy(x, (const float *)src + (size_t)i0 * per, sizeof(float) * per * (size_t)n);
    return ASPIRE_OK;
}

int aspire_classifier_predict_nhwc(aspire_classifier *c, const float *x, int64_t n, int32_t *labels, float *probs, float *feats) {
    return predict_loop(c, n, fill_nhwc, x, labels, probs, feats);
}

/* One image at the classifier's size, normalised: resized the dataset's way where it is another
 * size, grey replicated into RGB. */
static int image_to_input(const aspire_classifier *c, const aspire_image *im, const float *lut, float *dst) {
    ASPIRE_ASSERT(im->c == 1 || im->c == 3, "(%d channels)", im->c);
    aspire_image rs = {0};
    const aspire_image *src = im;
    if (im->w != c->S || im->h != c->S) {
        int rc = aspire_image_resize(&rs, im, c->S, c->S, ASPIRE_RESIZE_AUTO);
        if (rc) return rc;
        src = &rs;
    }
    size_t npix = (size_t)c->S * (size_t)c->S;
    for (size_t i = 0; i < npix; i++)
        for (int ch = 0; ch < 3; ch++) dst[3 * i + (size_t)ch] = lut[src->data[i * (size_t)src->c + (size_t)(src->c == 3 ? ch : 0)]];
    aspire_image_destroy(&rs);
    return ASPIRE_OK;
}

typedef struct u8_src { const uint8_t *pixels; int h, w, channels; } u8_src;

static int fill_u8(const aspire_classifier *c, const void *src, int64_t i0, int64_t n, float *x) {
    const u8_src *u = src;
    float lut[256];
    aspire_pixel_lut(lut, 0.5f, 0.25f);
    size_t in = (size_t)u->h * (size_t)u->w * (size_t)u->channels, out = (size_t)c->S * (size_t)c->S * 3;
    int rc = ASPIRE_OK;
    for (int64_t k = 0; k < n && !rc; k++) {
        /* a view of the caller's bytes (not freed here) */
        aspire_image im = {u->w, u->h, u->channels, (uint8_t *)(uintptr_t)(u->pixels + (size_t)(i0 + k) * in)};
        rc = image_to_input(c, &im, lut, x + (size_t)k * out);
    }
    return rc;
}

int aspire_classifier_predict_u8(aspire_classifier *c, const uint8_t *pixels, int64_t n, int h, int w, int channels,
                                 int32_t *labels, float *probs, float *feats) {
    if (h < 1 || w < 1 || (channels != 1 && channels != 3))
        return aspire_error(ASPIRE_ERR_ARG, "images of %dx%d with %d channels (1 or 3) cannot be classified", w, h, channels);
    u8_src u = {pixels, h, w, channels};
    return predict_loop(c, n, fill_u8, &u, labels, probs, feats);
}

static int fill_images(const aspire_classifier *c, const void *src, int64_t i0, int64_t n, float *x) {
    const aspire_image *images = src;
    float lut[256];
    aspire_pixel_lut(lut, 0.5f, 0.25f);
    size_t out = (size_t)c->S * (size_t)c->S * 3;
    int rc = ASPIRE_OK;
    for (int64_t k = 0; k < n && !rc; k++) rc = image_to_input(c, &images[i0 + k], lut, x + (size_t)k * out);
    return rc;
}

int aspire_classifier_predict_images(aspire_classifier *c, const aspire_image *images, int64_t n, int32_t *labels, float *probs) {
    for (int64_t i = 0; i < n; i++)
        if (images[i].c != 1 && images[i].c != 3)
            return aspire_error(ASPIRE_ERR_ARG, "image %lld has %d channels (1 or 3 can be classified)", (long long)i, images[i].c);
    return predict_loop(c, n, fill_images, images, labels, probs, NULL);
}
