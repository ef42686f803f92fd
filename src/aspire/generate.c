/* generate.c — generation of an extra-images folder with the built-in generator (ASPIRE step 9):
 * DDIM with classifier-free guidance, one prompt per learned placeholder ("a photo of a <class>")
 * or one given prompt, a seed per image and fixed batches so that a re-run fills only the missing
 * images and gives the same bytes. */
#include "aspire/personalize.h"

#include "aspire/csv.h"
#include "aspire/dataset.h"
#include "aspire/fileio.h"
#include "aspire/progress.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define MAX_PROMPTS 256

void aspire_generate_opts_default(aspire_generate_opts *o) {
    memset(o, 0, sizeof *o);
    o->templ = "a photo of a {}";
    o->n = 100;
    o->batch = 16;
    o->keep_detail = 1;
    aspire_sample_opts_default(&o->sample);
    o->progress = 1;
}

static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t image_seed(uint64_t seed, int y, int k) {
    return mix64(seed ^ mix64(((uint64_t)(uint32_t)y << 32) | (uint32_t)k));
}

typedef struct gen_job {
    aspire_generator *g;
    char *prompts[MAX_PROMPTS];
    int y[MAX_PROMPTS];
    int np;
    aspire_dataset *from;          /* start images (at out_size), or NULL */
    int64_t *starts[MAX_PROMPTS];  /* per prompt: the start images of its label, in metadata order */
    int nstarts[MAX_PROMPTS];
} gen_job;

static void job_destroy(gen_job *j) {
    for (int i = 0; i < j->np; i++) {
        aspire_strfree(j->prompts[i]);
        aspire_free(j->starts[i], 0);
    }
    aspire_dataset_free(j->from);
    aspire_generator_free(j->g);
}

/* Loads the start images and lists, per prompt, those of its label (a label without any is an
 * error naming the folder). */
static int load_starts(gen_job *j, const aspire_generate_opts *o) {
    const aspire_generator_config *c = aspire_generator_get_config(j->g);
    aspire_dataset_options d = {.split = ASPIRE_SPLIT_ALL, .layout = ASPIRE_LAYOUT_EXTRA, .size = c->out_size};
    int rc = aspire_dataset_load(&j->from, o->from, &d);
    const int64_t N = rc ? 0 : aspire_dataset_count(j->from);
    for (int p = 0; !rc && p < j->np; p++) {
        if (!(j->starts[p] = aspire_malloc(sizeof(int64_t) * (size_t)(N ? N : 1)))) return ASPIRE_ERR_NOMEM;
        for (int64_t i = 0; i < N; i++)
            if (aspire_dataset_label(j->from, i) == j->y[p]) j->starts[p][j->nstarts[p]++] = i;
        if (!j->nstarts[p])
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s/metadata.csv: no start image of class %d (y = %d) for \"%s\"",
                              o->from, j->y[p], j->y[p], j->prompts[p]);
    }
    return rc;
}

/* "a photo of a {}" with {} replaced by name (a new string). */
static char *fill_template(const char *templ, const char *name) {
    const char *br = strstr(templ, "{}");
    size_t n = strlen(templ) + strlen(name) + 1;
    char *s = aspire_malloc(n);
    if (s) snprintf(s, n, "%.*s%s%s", (int)(br - templ), templ, name, br + 2);
    return s;
}

/* The model, its placeholders and the prompts with their labels. */
static int job_init(gen_job *j, const aspire_generate_opts *o) {
    memset(j, 0, sizeof *j);
    char model[4096];
    int rc = aspire_generator_load(&j->g, o->model ? o->model : aspire_generator_default_model(o->models_dir, model, sizeof model), NULL);
    char **names = NULL;
    int n = 0;
    if (!rc && o->embeds) rc = aspire_generator_embeds_load(j->g, o->embeds, &names, &n);
    if (!rc && o->prompt) {
        if (!(j->prompts[0] = aspire_strdup(o->prompt))) rc = ASPIRE_ERR_NOMEM;
        j->y[0] = o->label;
        j->np = 1;
    } else if (!rc && n > 0) {
        if (!strstr(o->templ, "{}")) rc = aspire_error(ASPIRE_ERR_ARG, "--template \"%s\" has no {}", o->templ);
        for (int k = 0; !rc && k < n && k < MAX_PROMPTS; k++) {
            if (!(j->prompts[k] = fill_template(o->templ, names[k]))) rc = ASPIRE_ERR_NOMEM;
            j->y[k] = k;
            j->np = k + 1;
        }
        if (!rc) {   /* the class each placeholder learned, when personalization recorded it */
            int lr = aspire_generator_embeds_labels(o->embeds, j->y, j->np);
            if (lr == ASPIRE_ERR_NOTFOUND) {
                aspire_error_clear();
                for (int k = 0; k < j->np; k++) j->y[k] = k;
            } else {
                rc = lr;
            }
        }
    } else if (!rc && o->n_names > 0) {
        if (!strstr(o->templ, "{}")) rc = aspire_error(ASPIRE_ERR_ARG, "--template \"%s\" has no {}", o->templ);
        for (int k = 0; !rc && k < o->n_names && k < MAX_PROMPTS; k++) {
            if (!(j->prompts[k] = fill_template(o->templ, o->names[k] ? o->names[k] : ""))) rc = ASPIRE_ERR_NOMEM;
            j->y[k] = k;
            j->np = k + 1;
        }
    } else if (!rc) {
        rc = aspire_error(ASPIRE_ERR_ARG, "generate: give --embeds (a prompt per learned token) or --prompt");
    }
    for (int k = 0; k < n; k++) aspire_strfree(names[k]);
    aspire_free(names, 0);
    /* every prompt must encode (an unknown placeholder is refused before anything is written) */
    int32_t *ids = rc ? NULL : aspire_malloc(sizeof(int32_t) * (size_t)aspire_generator_get_config(j->g)->max_len);
    if (!rc && !ids) rc = ASPIRE_ERR_NOMEM;
    for (int i = 0; !rc && i < j->np; i++) rc = aspire_generator_encode(j->g, j->prompts[i], ids);
    if (!rc && o->sample.negative && aspire_generator_encode(j->g, o->sample.negative, ids)) {
        char why[512];
        snprintf(why, sizeof why, "%s", aspire_errmsg());
        rc = aspire_error(aspire_errstatus(), "--negative: %s", why);
    }
    aspire_free(ids, 0);
    if (!rc && o->from) rc = load_starts(j, o);
    return rc;
}

/* The settings as JSON (new string): a folder is only continued with the same ones. */
static char *settings_json(const aspire_generate_opts *o, const gen_job *j) {
    cJSON *s = cJSON_CreateObject();
    if (!s) return NULL;
    char model[4096];
    cJSON_AddStringToObject(s, "model", o->model ? o->model : aspire_generator_default_model(o->models_dir, model, sizeof model));
    cJSON_AddStringToObject(s, "embeds", o->embeds ? o->embeds : "");
    cJSON *p = cJSON_AddArrayToObject(s, "prompts");
    for (int i = 0; p && i < j->np; i++) cJSON_AddItemToArray(p, cJSON_CreateString(j->prompts[i]));
    cJSON *y = cJSON_CreateIntArray(j->y, j->np);
    if (y) cJSON_AddItemToObject(s, "y", y);
    cJSON_AddNumberToObject(s, "n", o->n);
    cJSON_AddNumberToObject(s, "batch", o->batch);
    cJSON_AddNumberToObject(s, "steps", o->sample.steps);
    cJSON_AddNumberToObject(s, "scale", o->sample.scale);
    cJSON_AddNumberToObject(s, "eta", o->sample.eta);
    if (o->sample.negative && *o->sample.negative) cJSON_AddStringToObject(s, "negative", o->sample.negative);
    if (o->from) {
        cJSON_AddStringToObject(s, "from", o->from);
        cJSON_AddNumberToObject(s, "start_images", (double)aspire_dataset_count(j->from));
        cJSON_AddNumberToObject(s, "strength", o->sample.strength);
        cJSON_AddBoolToObject(s, "keep_detail", o->keep_detail);
    }
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    cJSON_AddStringToObject(s, "seed", seed);
    char *txt = cJSON_Print(s);
    cJSON_Delete(s);
    char *out = txt ? aspire_strdup(txt) : NULL;
    cJSON_free(txt);
    return out;
}

/* Writes DIR/generate.json, or checks that the one there has the same settings. */
static int check_settings(const char *dir, const char *settings) {
    char *path = aspire_path_join(dir, "generate.json");
    if (!path) return ASPIRE_ERR_NOMEM;
    int rc = ASPIRE_OK;
    if (aspire_file_exists(path)) {
        char *old = NULL;
        size_t n = 0;
        rc = aspire_read_file(path, &old, &n);
        if (!rc && (n != strlen(settings) || memcmp(old, settings, n) != 0))
            rc = aspire_error(ASPIRE_ERR_ARG, "%s: the folder was made with other settings; use another --out or the "
                              "same options", path);
        aspire_free(old, 0);
    } else {
        rc = aspire_write_file_atomic(path, settings, strlen(settings));
    }
    aspire_strfree(path);
    return rc;
}

static void image_name(char *buf, size_t n, int y, int k) { snprintf(buf, n, "%d/%06d.png", y, k); }

/* Start image of image k of prompt p: the label's start images in turn, mirrored on odd rounds. */
static void start_of(const gen_job *j, int p, int k, int64_t *idx, int *flip) {
    *idx = j->starts[p][k % j->nstarts[p]];
    *flip = (k / j->nstarts[p]) % 2;
}

/* The start images of a batch as model inputs (B, S, S, 3). */
static int batch_starts(const gen_job *j, int p, int k0, int B, float *init) {
    const aspire_generator_config *c = aspire_generator_get_config(j->g);
    const size_t per = (size_t)c->image_size * c->image_size * 3;
    int rc = ASPIRE_OK;
    for (int b = 0; b < B && !rc; b++) {
        int64_t i;
        int flip;
        start_of(j, p, k0 + b, &i, &flip);
        const int O = aspire_dataset_size(j->from);
        aspire_image img = {.w = O, .h = O, .c = 3, .data = (uint8_t *)aspire_dataset_pixels(j->from, i)};
        rc = aspire_generator_pixels(j->g, &img, flip, init + (size_t)b * per);
    }
    return rc;
}

/* Adds the start image's detail above the generator's resolution (start − its own round trip
 * through image_size) to an output image: the generator redraws the coarse image, the start image
 * keeps its sharp edges where it was not redrawn. */
static int add_detail(const gen_job *j, int p, int k, aspire_image *out) {
    const aspire_generator_config *c = aspire_generator_get_config(j->g);
    const int O = out->w, S = c->image_size;
    int64_t i;
    int flip;
    start_of(j, p, k, &i, &flip);
    aspire_image src = {.w = O, .h = O, .c = 3, .data = (uint8_t *)aspire_dataset_pixels(j->from, i)};
    aspire_image small = {0}, low = {0};
    int rc = aspire_image_resize(&small, &src, S, S, ASPIRE_RESIZE_AREA);
    if (!rc) rc = aspire_image_resize(&low, &small, O, O, ASPIRE_RESIZE_BILINEAR);
    for (int y = 0; !rc && y < O; y++)
        for (int x = 0; x < O; x++) {
            const int sx = flip ? O - 1 - x : x;
            for (int ch = 0; ch < 3; ch++) {
                const size_t q = ((size_t)y * O + sx) * 3 + ch, d = ((size_t)y * O + x) * 3 + ch;
                int v = out->data[d] + (int)src.data[q] - (int)low.data[q];
                out->data[d] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    aspire_image_destroy(&small);
    aspire_image_destroy(&low);
    return rc;
}

/* Writes image b of a sampled batch if it is missing. */
static int write_one(const gen_job *j, const aspire_generate_opts *o, int p, int k, const float *x, const char *dir,
                     int *written) {
    char name[64];
    image_name(name, sizeof name, j->y[p], k);
    char *path = aspire_path_join(dir, name);
    if (!path) return ASPIRE_ERR_NOMEM;
    int rc = ASPIRE_OK;
    if (!aspire_file_exists(path)) {
        aspire_image img = {0};
        rc = aspire_generator_to_image(j->g, x, &img);
        if (!rc && j->from && o->keep_detail) rc = add_detail(j, p, k, &img);
        if (!rc) rc = aspire_image_save_png_ex(&img, path, ASPIRE_ATOMIC_NOSYNC);
        aspire_image_destroy(&img);
        if (!rc) (*written)++;
    }
    aspire_strfree(path);
    return rc;
}

/* Samples one fixed batch [k0, k0 + B) of prompt p, writing the images that are missing. */
static int run_batch(aspire_ctx *ctx, gen_job *j, const aspire_generate_opts *o, int p, int k0, int B,
                     const char *dir, float *x, float *init, int *written) {
    const aspire_generator_config *c = aspire_generator_get_config(j->g);
    const int L = c->max_len;
    int32_t ids[64 * 256];
    uint64_t seeds[64];
    char name[64];
    int missing = 0;
    for (int b = 0; b < B; b++) {
        image_name(name, sizeof name, j->y[p], k0 + b);
        char *path = aspire_path_join(dir, name);
        if (!path) return ASPIRE_ERR_NOMEM;
        missing += !aspire_file_exists(path);
        aspire_strfree(path);
        seeds[b] = image_seed(o->seed, j->y[p], k0 + b);
        int rc = aspire_generator_encode(j->g, j->prompts[p], ids + (size_t)b * L);
        if (rc) return rc;
    }
    if (!missing) return ASPIRE_OK;
    int rc = j->from ? batch_starts(j, p, k0, B, init) : ASPIRE_OK;
    if (!rc) rc = j->from ? aspire_generator_sample_from(ctx, j->g, ids, B, seeds, &o->sample, init, x)
                          : aspire_generator_sample(ctx, j->g, ids, B, seeds, &o->sample, x);
    const size_t per = (size_t)c->image_size * c->image_size * 3;
    for (int b = 0; b < B && !rc; b++) rc = write_one(j, o, p, k0 + b, x + (size_t)b * per, dir, written);
    return rc;
}

static int write_metadata(const gen_job *j, const aspire_generate_opts *o) {
    char *path = aspire_path_join(o->out, "metadata.csv");
    if (!path) return ASPIRE_ERR_NOMEM;
    const char *header[] = {"img_filename", "y", "prompt", "seed", "start"};
    aspire_csv_writer *w = NULL;
    int rc = aspire_csv_writer_open(&w, path, j->from ? 5 : 4, header);
    aspire_strfree(path);
    for (int p = 0; p < j->np && !rc; p++)
        for (int k = 0; k < o->n && !rc; k++) {
            char name[64], y[16], seed[32];
            image_name(name, sizeof name, j->y[p], k);
            snprintf(y, sizeof y, "%d", j->y[p]);
            snprintf(seed, sizeof seed, "%llu", (unsigned long long)image_seed(o->seed, j->y[p], k));
            const char *start = "";
            if (j->from) {
                int64_t i;
                int flip;
                start_of(j, p, k, &i, &flip);
                start = aspire_dataset_filename(j->from, i);
            }
            const char *row[] = {name, y, j->prompts[p], seed, start};
            rc = aspire_csv_writer_row(w, row);
        }
    if (rc) { aspire_csv_writer_abort(w); return rc; }
    return aspire_csv_writer_commit(w);
}

/* Makes the output folder and one subfolder per label. */
static int make_dirs(const gen_job *j, const char *dir) {
    int rc = aspire_mkdir_p(dir);
    for (int p = 0; p < j->np && !rc; p++) {
        char sub[32];
        snprintf(sub, sizeof sub, "%d", j->y[p]);
        char *path = aspire_path_join(dir, sub);
        rc = path ? aspire_mkdir_p(path) : ASPIRE_ERR_NOMEM;
        aspire_strfree(path);
    }
    return rc;
}

static int generate(const aspire_generate_opts *o, int *written) {
    if (written) *written = 0;
    if (!o->out) return aspire_error(ASPIRE_ERR_ARG, "generate: --out is required");
    if (o->n < 1 || o->batch < 1 || o->batch > 64 || o->label < 0)
        return aspire_error(ASPIRE_ERR_ARG, "generate: --n must be positive, --batch in 1..64, --label >= 0");
    gen_job j;
    int rc = job_init(&j, o), count = 0;
    char *settings = rc ? NULL : settings_json(o, &j);
    if (!rc && !settings) rc = ASPIRE_ERR_NOMEM;
    if (!rc) rc = make_dirs(&j, o->out);
    if (!rc) rc = check_settings(o->out, settings);
    aspire_strfree(settings);
    const aspire_generator_config *c = j.g ? aspire_generator_get_config(j.g) : NULL;
    const size_t per = c ? (size_t)c->image_size * c->image_size * 3 : 0;
    float *x = c ? aspire_malloc(sizeof(float) * (size_t)o->batch * per) : NULL;
    float *init = c && o->from ? aspire_malloc(sizeof(float) * (size_t)o->batch * per) : NULL;
    aspire_ctx *ctx = NULL;
    if (!rc && (!x || (o->from && !init))) rc = ASPIRE_ERR_NOMEM;
    if (!rc) rc = aspire_ctx_new(&ctx, &(aspire_ctx_options){.threads = o->threads, .seed = o->seed});
    aspire_progress pg;
    aspire_progress_init(&pg, "generate", (int64_t)j.np * o->n, "img");
    if (!o->progress) pg.quiet = 1;
    for (int p = 0; p < j.np && !rc; p++)
        for (int k0 = 0; k0 < o->n && !rc; k0 += o->batch) {
            int B = o->n - k0 < o->batch ? o->n - k0 : o->batch;
            rc = run_batch(ctx, &j, o, p, k0, B, o->out, x, init, &count);
            aspire_progress_update(&pg, (int64_t)p * o->n + k0 + B, "%d sampled", count);
        }
    aspire_progress_finish(&pg, "%d sampled", count);
    if (!rc) rc = aspire_sync_fs(o->out);
    if (!rc) rc = write_metadata(&j, o);
    aspire_ctx_free(ctx);
    aspire_free(x, 0);
    aspire_free(init, 0);
    job_destroy(&j);
    if (written) *written = count;
    return rc;
}

/* The whole run with the calling thread's team set to o->threads (restored afterwards). */
int aspire_generate_run(const aspire_generate_opts *o, int *written) {
    int prev = aspire_threads_enter(o->threads);
    int rc = generate(o, written);
    aspire_threads_leave(prev);
    return rc;
}
