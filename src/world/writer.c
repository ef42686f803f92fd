/* writer.c — the world's datasets on disk: the task dataset (Waterbirds layout, class correlated
 * with background and context objects in train, group-balanced val and test, ground truth kept in
 * a separate folder) and the pretraining corpus (no correlations). A dataset is planned in one
 * sequential pass (splits, classes, places, objects) and then rendered in parallel, each image
 * from its own random stream forked from the seed by img_id, so the bytes never depend on the
 * thread count. A dataset (and its ground truth) is written into a temporary sibling folder and
 * renamed into place at the end (rundir.h): the final folder holds a whole dataset or nothing,
 * whatever happens (a full disk, kill -9), and an existing non-empty one is replaced only when
 * asked to (force). metadata.csv is still written last within it. */
#include "world/internal.h"

#include "aspire/fileio.h"
#include "aspire/progress.h"
#include "aspire/rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <png.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- A growing string ---------------------------------------------------------------------- */

typedef struct sbuf { char *p; size_t len, cap; int oom; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { b->oom = 1; return; }
        if (b->p && b->len + (size_t)n < b->cap) { b->len += (size_t)n; return; }
        size_t cap = b->cap ? b->cap : 256;
        while (cap <= b->len + (size_t)n) cap *= 2;
        char *q = aspire_realloc(b->p, b->cap, cap);
        if (!q) { b->oom = 1; return; }
        b->p = q;
        b->cap = cap;
    }
}

/* A JSON string literal (quotes included) for arbitrary text such as a path. */
static void sb_json_string(sbuf *b, const char *text) {
    sb_printf(b, "\"");
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\') sb_printf(b, "\\%c", *c);
        else if (*c < 0x20) sb_printf(b, "\\u%04x", *c);
        else sb_printf(b, "%c", *c);
    }
    sb_printf(b, "\"");
}

static void sb_free(sbuf *b) { aspire_free(b->p, b->cap); memset(b, 0, sizeof *b); }

/* Hands the text over as a string the caller frees with aspire_strfree (NULL if out of memory). */
static char *sb_take(sbuf *b) {
    char *s = b->oom || !b->p ? NULL : aspire_strdup(b->p);
    sb_free(b);
    return s;
}

/* ---- The plan of one image --------------------------------------------------------------- */

typedef struct plan {
    int img_id, split, index;   /* index within its split */
    int y, species, background;
    int spurious, obj_y;        /* spurious context object (-1 none) and the class it is tied to */
    int ctx[ASPIRE_WORLD_MAX_OBJECTS - 1], nctx;
} plan;

typedef struct job {
    const aspire_world *w;
    const aspire_world_style *style;
    const char *out, *truth;    /* images under out; masks and counterfactuals under truth */
    int size, ncaptions, masks;
    int corpus;                 /* split 0 is "pretrain" rather than "train" */
    int cf_limit;               /* images per split with counterfactuals (-1 = all) */
    aspire_rng base;            /* scene streams are forked from it by img_id */
} job;

static const char *const split_names[3] = {"train", "val", "test"};

static void json_object(sbuf *b, const aspire_world_scene *s, int k, int size, int spurious) {
    const aspire_world_object *o = &s->objects[k];
    int box[4];
    aspire_world_object_box(s, k, size, box);
    const char *role = k == s->bird ? "bird" : o->emoji == spurious ? "spurious" : "context";
    sb_printf(b,
              "{\"name\":\"%s\",\"role\":\"%s\",\"x\":%.9g,\"y\":%.9g,\"w\":%.9g,\"h\":%.9g,\"flip\":%d,"
              "\"hue\":%.9g,\"sat\":%.9g,\"val\":%.9g,\"box\":[%d,%d,%d,%d],\"label\":%d}",
              aspire_world_emoji_name(o->emoji), role, (double)o->x, (double)o->y, (double)o->w, (double)o->h, o->flip,
              (double)o->hue, (double)o->sat, (double)o->val, box[0], box[1], box[2], box[3], k + 1);
}

/* Writes a PNG into dir/name: encoded in memory, written to a temporary file beside it and renamed
 * over it, so a reader never sees half a file. Unlike aspire_image_save_png it does not fsync each
 * of the thousands of files: the folder is synced once (syncfs, in aspire_dir_build_commit) before
 * it is renamed into place, which is what makes a dataset visible. */
static int save_png(const uint8_t *px, int size, int c, const char *dir, const char *name) {
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)size;
    pi.height = (png_uint_32)size;
    pi.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    pi.flags = PNG_IMAGE_FLAG_FAST;  /* 2-3x faster to encode, ~13 % larger on these noisy images */
    size_t cap = PNG_IMAGE_PNG_SIZE_MAX(pi), n = cap;
    uint8_t *buf = aspire_malloc(cap);
    char *path = aspire_path_join(dir, name);
    size_t tlen = path ? strlen(path) + 48 : 0;
    char *tmp = path ? aspire_malloc(tlen) : NULL;
    int rc = ASPIRE_OK;
    if (!buf || !path || !tmp) { rc = ASPIRE_ERR_NOMEM; goto done; }
    if (!png_image_write_to_memory(&pi, buf, &n, 0, px, 0, NULL)) {
        rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot encode PNG: %s", path, pi.message);
        png_image_free(&pi);
        goto done;
    }
    snprintf(tmp, tlen, "%s.tmp.%ld.%d", path, (long)getpid(), omp_get_thread_num());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) { rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno)); goto done; }
    size_t off = 0;
    while (off < n) {
        ssize_t k = write(fd, buf + off, n - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) { rc = aspire_error(ASPIRE_ERR_IO, "%s: write failed: %s", tmp, k < 0 ? strerror(errno) : "no progress"); break; }
        off += (size_t)k;
    }
    if (close(fd) != 0 && rc == ASPIRE_OK) rc = aspire_error(ASPIRE_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (rc == ASPIRE_OK && rename(tmp, path) != 0) rc = aspire_error(ASPIRE_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
    if (rc) unlink(tmp);
done:
    aspire_free(tmp, tlen);
    aspire_strfree(path);
    aspire_free(buf, cap);
    return rc;
}

/* The output folders, each built whole: the dataset and, for a task, its ground truth. The truth
 * is begun first and committed first, so a --truth that cannot be made leaves no dataset. */
typedef struct outdirs {
    aspire_dir_build *out, *truth;
} outdirs;

static int outdirs_begin(outdirs *d, const char *out, const char *truth, int force) {
    memset(d, 0, sizeof *d);
    int rc = truth ? aspire_dir_build_begin(&d->truth, truth, force) : ASPIRE_OK;
    if (!rc) rc = aspire_dir_build_begin(&d->out, out, force);
    if (rc) { aspire_dir_build_abort(d->truth); d->truth = NULL; }
    return rc;
}

static int outdirs_commit(outdirs *d) {
    int rc = d->truth ? aspire_dir_build_commit(d->truth) : ASPIRE_OK;
    d->truth = NULL;
    if (rc) { aspire_dir_build_abort(d->out); d->out = NULL; return rc; }
    rc = aspire_dir_build_commit(d->out);
    d->out = NULL;
    return rc;
}

static void outdirs_abort(outdirs *d) {
    aspire_dir_build_abort(d->truth);
    aspire_dir_build_abort(d->out);
    memset(d, 0, sizeof *d);
}

/* Renders one planned image and its ground truth; *line receives its scenes.jsonl line. */
static int make_image(const job *jb, const plan *pl, char **line) {
    *line = NULL;
    aspire_rng r;
    aspire_rng_fork(&jb->base, (uint64_t)pl->img_id, &r);
    aspire_world_scene s;
    aspire_world_scene_sample(&s, jb->w, jb->style, pl->species, pl->background, pl->ctx, pl->nctx, &r);
    /* The alternative background for the counterfactual: one of the other place's. */
    int place = aspire_world_background_place(pl->background);
    int alt = (place ? ASPIRE_WORLD_FOREST : ASPIRE_WORLD_LAKE) + (int)aspire_rng_below(&r, 4);
    aspire_rng cap_rng;
    aspire_rng_fork(&r, 1, &cap_rng);

    int size = jb->size, rc = ASPIRE_OK;
    size_t npix = (size_t)size * size;
    float *bg = aspire_malloc(npix * 3 * sizeof(float));
    uint8_t *rgb = aspire_malloc(npix * 3), *labels = aspire_malloc(npix);
    sbuf b = {0};
    if (!bg || !rgb || !labels) { rc = ASPIRE_ERR_NOMEM; goto done; }
    aspire_world_paint_background(s.background, s.bg_seed, size, bg);
    if ((rc = world_render_over(jb->w, &s, size, bg, rgb, labels))) goto done;

    const char *species = aspire_world_emoji_name(pl->species);
    char fname[96], name[96];
    snprintf(fname, sizeof fname, "%s/%06d.png", species, pl->img_id);
    if ((rc = save_png(rgb, size, 3, jb->out, fname))) goto done;
    if (jb->masks) {
        snprintf(name, sizeof name, "masks/%06d.png", pl->img_id);
        if ((rc = save_png(labels, size, 1, jb->truth, name))) goto done;
    }

    sb_printf(&b, "{\"img_id\":%d,\"img_filename\":\"%s\",\"split\":%d,\"split_name\":\"%s\",\"y\":%d,\"place\":%d,"
                  "\"species\":\"%s\",\"background\":\"%s\",\"kind\":\"%s\",\"bg_seed\":%u,\"horizon\":%.4f,\"size\":%d,"
                  "\"objects\":[",
              pl->img_id, fname, pl->split, jb->corpus && pl->split == 0 ? "pretrain" : split_names[pl->split],
              pl->y, place, species, aspire_world_background_name(pl->background), place ? "water" : "land", s.bg_seed,
              (double)world_horizon(s.background, s.bg_seed), size);
    for (int k = 0; k < s.nobjects; k++) {
        if (k) sb_printf(&b, ",");
        json_object(&b, &s, k, size, pl->spurious);
    }
    sb_printf(&b, "],\"spurious_object\":\"%s\",\"object_y\":%d,\"captions\":[",
              pl->spurious >= 0 ? aspire_world_emoji_name(pl->spurious) : "", pl->obj_y);
    char first[256] = "";
    for (int c = 0; c < jb->ncaptions; c++) {
        char cap[256];
        aspire_world_caption(&s, &cap_rng, cap, sizeof cap);
        if (c == 0) memcpy(first, cap, sizeof cap);
        sb_printf(&b, "%s\"%s\"", c ? "," : "", cap);
    }
    sb_printf(&b, "],\"caption\":\"%s\"", first);
    if (jb->masks) sb_printf(&b, ",\"mask\":\"masks/%06d.png\"", pl->img_id);

    if (jb->cf_limit < 0 || pl->index < jb->cf_limit) {
        sb_printf(&b, ",\"counterfactuals\":[");
        for (int k = 0; k < s.nobjects; k++) {
            aspire_world_scene e;
            aspire_world_scene_remove(&e, &s, k);
            if ((rc = world_render_over(jb->w, &e, size, bg, rgb, NULL))) goto done;
            snprintf(name, sizeof name, "counterfactuals/%06d_rm%d_%s.png", pl->img_id, k,
                     aspire_world_emoji_name(s.objects[k].emoji));
            if ((rc = save_png(rgb, size, 3, jb->truth, name))) goto done;
            sb_printf(&b, "%s{\"edit\":\"remove\",\"object\":%d,\"name\":\"%s\",\"file\":\"%s\"}", k ? "," : "", k,
                      aspire_world_emoji_name(s.objects[k].emoji), name);
        }
        aspire_world_scene e;
        aspire_world_scene_set_background(&e, &s, alt);
        if ((rc = aspire_world_render(jb->w, &e, size, rgb, NULL))) goto done;
        snprintf(name, sizeof name, "counterfactuals/%06d_bg_%s.png", pl->img_id, aspire_world_background_name(alt));
        if ((rc = save_png(rgb, size, 3, jb->truth, name))) goto done;
        sb_printf(&b, "%s{\"edit\":\"background\",\"background\":\"%s\",\"file\":\"%s\"}]", s.nobjects ? "," : "",
                  aspire_world_background_name(alt), name);
    }
    sb_printf(&b, "}");
    if (b.oom) { rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory"); goto done; }
    *line = sb_take(&b);
    if (!*line) rc = ASPIRE_ERR_NOMEM;
done:
    sb_free(&b);
    aspire_free(bg, npix * 3 * sizeof(float));
    aspire_free(rgb, npix * 3);
    aspire_free(labels, npix);
    return rc;
}

/* Renders every planned image in parallel; lines[i] receives image i's JSON line. */
static int render_all(const job *jb, const plan *plans, int n, char **lines, int progress, const char *what) {
    int failed = 0, first_rc = ASPIRE_OK;
    char msg[1024] = "";
    aspire_progress pg;
    aspire_progress_init(&pg, what, n, "img");
    if (!progress) pg.quiet = 1;
#pragma omp parallel for schedule(dynamic, 8)
    for (int i = 0; i < n; i++) {
        int skip;
#pragma omp atomic read
        skip = failed;
        if (skip) continue;
        int rc = make_image(jb, &plans[i], &lines[i]);
        if (rc) {
#pragma omp critical(world_fail)
            {
                if (!failed) { snprintf(msg, sizeof msg, "%s", aspire_errmsg()); first_rc = rc; }
#pragma omp atomic write
                failed = 1;
            }
        }
        aspire_progress_add(&pg, 1);
    }
    if (failed) return aspire_error(first_rc, "%s", msg);
    aspire_progress_finish(&pg, NULL);
    return ASPIRE_OK;
}

/* scenes.jsonl, one line per image in img_id order. */
static int write_lines(const char *dir, const char *name, char **lines, int n) {
    char *path = aspire_path_join(dir, name);
    if (!path) return ASPIRE_ERR_NOMEM;
    aspire_atomic_file af;
    int rc = aspire_atomic_open(&af, path);
    if (rc == ASPIRE_OK) {
        for (int i = 0; i < n; i++) fprintf(af.fp, "%s\n", lines[i]);
        rc = aspire_atomic_commit(&af);
    }
    aspire_strfree(path);
    return rc;
}

static int write_metadata(const char *dir, const plan *plans, int n) {
    char *path = aspire_path_join(dir, "metadata.csv");
    if (!path) return ASPIRE_ERR_NOMEM;
    aspire_atomic_file af;
    int rc = aspire_atomic_open(&af, path);
    if (rc == ASPIRE_OK) {
        fprintf(af.fp, "img_id,img_filename,y,split,place,species,background,objects,spurious_object,object_y\n");
        for (int i = 0; i < n; i++) {
            const plan *p = &plans[i];
            fprintf(af.fp, "%d,%s/%06d.png,%d,%d,%d,%s,%s,", p->img_id, aspire_world_emoji_name(p->species), p->img_id,
                    p->y, p->split, aspire_world_background_place(p->background), aspire_world_emoji_name(p->species),
                    aspire_world_background_name(p->background));
            for (int k = 0; k < p->nctx; k++) fprintf(af.fp, "%s%s", k ? ";" : "", aspire_world_emoji_name(p->ctx[k]));
            fprintf(af.fp, ",%s,%d\n", p->spurious >= 0 ? aspire_world_emoji_name(p->spurious) : "", p->obj_y);
        }
        rc = aspire_atomic_commit(&af);
    }
    aspire_strfree(path);
    return rc;
}

/* The ground-truth folders first: a --truth that cannot be made then leaves nothing in `out`. */
static int make_dirs(const char *out, const char *truth, int masks, int cf) {
    int rc = aspire_mkdir_p(truth);
    const char *sub[2] = {masks ? "masks" : NULL, cf ? "counterfactuals" : NULL};
    for (int i = 0; i < 2 && rc == ASPIRE_OK; i++) {
        if (!sub[i]) continue;
        char *d = aspire_path_join(truth, sub[i]);
        rc = d ? aspire_mkdir_p(d) : ASPIRE_ERR_NOMEM;
        aspire_strfree(d);
    }
    if (rc == ASPIRE_OK) rc = aspire_mkdir_p(out);
    for (int e = 0; e < ASPIRE_WORLD_NBIRDS && rc == ASPIRE_OK; e++) {
        char *d = aspire_path_join(out, aspire_world_emoji_name(e));
        rc = d ? aspire_mkdir_p(d) : ASPIRE_ERR_NOMEM;
        aspire_strfree(d);
    }
    return rc;
}

static void free_lines(char **lines, int n) {
    if (!lines) return;
    for (int i = 0; i < n; i++) aspire_strfree(lines[i]);
    aspire_free(lines, (size_t)n * sizeof *lines);
}

/* Draws k distinct context objects from pool[0..npool) into dst, avoiding `avoid`. */
static int draw_distinct(aspire_rng *r, const int *pool, int npool, int k, int *dst, int avoid) {
    int cand[ASPIRE_WORLD_NEMOJI], nc = 0, n = 0;
    for (int i = 0; i < npool; i++)
        if (pool[i] != avoid) cand[nc++] = pool[i];
    for (int i = 0; i < k && nc > 0; i++) {
        int j = (int)aspire_rng_below(r, nc);
        dst[n++] = cand[j];
        cand[j] = cand[--nc];
    }
    return n;
}

/* ---- Task dataset ------------------------------------------------------------------------ */

void aspire_world_task_opts_default(aspire_world_task_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_train = 4795;
    o->n_val = 1199;
    o->n_test = 5794;
    o->size = 64;
    o->waterbird_frac = 0.15;  /* Waterbirds has 0.232; fewer waterbirds make the world harder (docs/WORLD.md) */
    o->rho_bg = 0.95;
    o->spurious = "sailboat,tree";
    o->p_obj = 0.5;
    o->rho_obj = 0.9;
    o->max_distractors = 1;
    o->counterfactuals = 200;
    o->masks = 1;
    aspire_world_style_default(&o->style);
}

/* Parses "sailboat,tree=0" into the objects tied to each class. */
static int parse_spurious(const char *spec, int tied[2][ASPIRE_WORLD_NEMOJI], int count[2], int *is_spurious) {
    count[0] = count[1] = 0;
    memset(is_spurious, 0, ASPIRE_WORLD_NEMOJI * sizeof(int));
    if (!spec) return ASPIRE_OK;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof item) {
            if (len == 0 && !end) break;
            return aspire_error(ASPIRE_ERR_ARG, "spurious objects: bad item in '%s'", spec);
        }
        memcpy(item, p, len);
        item[len] = 0;
        int cls = -2;
        char *eq = strchr(item, '=');
        if (eq) {
            *eq = 0;
            if (strcmp(eq + 1, "0") == 0) cls = 0;
            else if (strcmp(eq + 1, "1") == 0) cls = 1;
            else return aspire_error(ASPIRE_ERR_ARG, "spurious objects: '%s=%s': the class must be 0 or 1", item, eq + 1);
        }
        int e = aspire_world_emoji_find(item);
        if (e < ASPIRE_WORLD_FIRST_OBJECT)
            return aspire_error(ASPIRE_ERR_ARG, "spurious objects: '%s' is not a context object (one of sailboat, fish, "
                                "shell, pine, tree, sunflower, mushroom, cactus, sun, cloud, balloon)", item);
        if (cls == -2) cls = aspire_world_emoji_class(e);
        if (cls < 0)
            return aspire_error(ASPIRE_ERR_ARG, "spurious objects: '%s' is neutral; tie it to a class with %s=0 or %s=1",
                                item, item, item);
        if (is_spurious[e]) return aspire_error(ASPIRE_ERR_ARG, "spurious objects: '%s' named twice", item);
        is_spurious[e] = 1;
        tied[cls][count[cls]++] = e;
        if (!end) break;
        p = end + 1;
    }
    return ASPIRE_OK;
}

static char *default_truth(const char *out) {
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/') n--;
    char *t = aspire_malloc(n + 7);
    if (t) { memcpy(t, out, n); memcpy(t + n, "_truth", 7); }
    return t;
}

int world_check_style(const aspire_world_style *st) {
    if (!(st->bird_min > 0 && st->bird_max >= st->bird_min && st->bird_max <= 1))
        return aspire_error(ASPIRE_ERR_ARG, "bird size range [%g, %g] must lie in (0, 1]", (double)st->bird_min,
                            (double)st->bird_max);
    if (!(st->object_scale > 0 && st->object_scale <= 3))
        return aspire_error(ASPIRE_ERR_ARG, "object scale %g must lie in (0, 3]", (double)st->object_scale);
    if (!(st->jitter >= 0 && st->jitter <= 3)) return aspire_error(ASPIRE_ERR_ARG, "jitter %g must lie in [0, 3]", (double)st->jitter);
    if (!(st->flip_prob >= 0 && st->flip_prob <= 1)) return aspire_error(ASPIRE_ERR_ARG, "flip probability must lie in [0, 1]");
    return ASPIRE_OK;
}

static int check_prob(double p, const char *name) {
    return p >= 0 && p <= 1 ? ASPIRE_OK : aspire_error(ASPIRE_ERR_ARG, "%s = %g must lie in [0, 1]", name, p);
}

static int write_config(const char *truth, const char *json) {
    char *path = aspire_path_join(truth, "config.json");
    if (!path) return ASPIRE_ERR_NOMEM;
    int rc = aspire_write_file_atomic(path, json, strlen(json));
    aspire_strfree(path);
    return rc;
}

int aspire_world_task_write(const aspire_world_task_opts *o) {
    int rc;
    if (!o->out || !*o->out) return aspire_error(ASPIRE_ERR_ARG, "no output folder");
    if (o->n_train < 0 || o->n_val < 0 || o->n_test < 0 || (long)o->n_train + o->n_val + o->n_test > 9999999L)
        return aspire_error(ASPIRE_ERR_ARG, "split sizes must be between 0 and 9999999 in all");
    if (o->size < 8 || o->size > 1024) return aspire_error(ASPIRE_ERR_ARG, "image size %d outside 8..1024", o->size);
    if ((rc = check_prob(o->rho_bg, "rho_bg")) || (rc = check_prob(o->rho_obj, "rho_obj")) ||
        (rc = check_prob(o->p_obj, "p_obj")) || (rc = check_prob(o->waterbird_frac, "waterbird fraction")) ||
        (rc = world_check_style(&o->style)))
        return rc;
    if (o->max_distractors < 0 || o->max_distractors > ASPIRE_WORLD_MAX_OBJECTS - 2)
        return aspire_error(ASPIRE_ERR_ARG, "distractors %d outside 0..%d", o->max_distractors,
                            ASPIRE_WORLD_MAX_OBJECTS - 2);
    int tied[2][ASPIRE_WORLD_NEMOJI], ntied[2], is_spur[ASPIRE_WORLD_NEMOJI];
    if ((rc = parse_spurious(o->spurious, tied, ntied, is_spur))) return rc;
    int pool[ASPIRE_WORLD_NEMOJI], npool = 0;  /* distractors: the context objects that are not spurious */
    for (int e = ASPIRE_WORLD_FIRST_OBJECT; e < ASPIRE_WORLD_NEMOJI; e++)
        if (!is_spur[e]) pool[npool++] = e;

    char *truth = o->truth ? aspire_strdup(o->truth) : default_truth(o->out);
    if (!truth) return ASPIRE_ERR_NOMEM;
    int sizes[3] = {o->n_train, o->n_val, o->n_test}, n = sizes[0] + sizes[1] + sizes[2];
    plan *plans = aspire_calloc((size_t)(n ? n : 1), sizeof *plans);
    char **lines = aspire_calloc((size_t)(n ? n : 1), sizeof *lines);
    aspire_world *w = NULL;
    outdirs od = {0};
    if (!plans || !lines) { rc = ASPIRE_ERR_NOMEM; goto done; }

    /* The plan: streams forked from the seed, one per purpose. */
    aspire_rng root, pr;
    aspire_rng_seed(&root, o->seed);
    aspire_rng_fork(&root, 0x706c616eULL, &pr);  /* "plan" */
    static const int birds[2][6] = {{ASPIRE_WORLD_ROOSTER, ASPIRE_WORLD_TURKEY, ASPIRE_WORLD_PEACOCK, ASPIRE_WORLD_PARROT,
                                     ASPIRE_WORLD_EAGLE, ASPIRE_WORLD_OWL},
                                    {ASPIRE_WORLD_DUCK, ASPIRE_WORLD_SWAN, ASPIRE_WORLD_FLAMINGO, ASPIRE_WORLD_PENGUIN,
                                     ASPIRE_WORLD_GOOSE, -1}};
    static const int nbirds[2] = {6, 5};
    int at = 0;
    for (int sp = 0; sp < 3; sp++) {
        int ns = sizes[sp];
        int n1 = (int)(ns * o->waterbird_frac + 0.5), ncls[2] = {ns - n1, n1};
        plan *base = plans + at;
        int i = 0;
        for (int y = 0; y < 2; y++) {
            /* val/test: exactly half of each class on water (the odd one out drawn at random). */
            int nwater = ncls[y] / 2 + ((ncls[y] & 1) && aspire_rng_uniform(&pr) < 0.5);
            for (int j = 0; j < ncls[y]; j++, i++) {
                plan *p = &base[i];
                p->split = sp;
                p->y = y;
                int place = sp == 0 ? (aspire_rng_uniform(&pr) < o->rho_bg ? y : 1 - y) : (j < nwater ? 1 : 0);
                p->background = (place ? ASPIRE_WORLD_LAKE : ASPIRE_WORLD_FOREST) + (int)aspire_rng_below(&pr, 4);
                p->species = birds[y][aspire_rng_below(&pr, nbirds[y])];
                p->spurious = -1;
                p->obj_y = -1;
                if (ntied[0] + ntied[1] > 0 && aspire_rng_uniform(&pr) < o->p_obj) {
                    double rho = sp == 0 ? o->rho_obj : 0.5;
                    int oy = aspire_rng_uniform(&pr) < rho ? y : 1 - y;
                    if (ntied[oy] > 0) {
                        p->spurious = tied[oy][aspire_rng_below(&pr, ntied[oy])];
                        p->obj_y = oy;
                        p->ctx[p->nctx++] = p->spurious;
                    }
                }
                int nd = (int)aspire_rng_below(&pr, o->max_distractors + 1);
                p->nctx += draw_distinct(&pr, pool, npool, nd, p->ctx + p->nctx, -1);
            }
        }
        /* Shuffle the split so that classes and groups interleave. */
        for (int k = ns - 1; k > 0; k--) {
            int j = (int)aspire_rng_below(&pr, k + 1);
            plan t = base[k]; base[k] = base[j]; base[j] = t;
        }
        for (int k = 0; k < ns; k++) { base[k].index = k; base[k].img_id = at + k + 1; }
        at += ns;
    }

    if ((rc = aspire_world_new(&w, o->font))) goto done;
    if ((rc = outdirs_begin(&od, o->out, truth, o->force))) goto done;
    const char *tmp_out = aspire_dir_build_path(od.out), *tmp_truth = aspire_dir_build_path(od.truth);
    if ((rc = make_dirs(tmp_out, tmp_truth, o->masks, o->counterfactuals != 0))) goto done;
    job jb = {w, &o->style, tmp_out, tmp_truth, o->size, 3, o->masks, 0, o->counterfactuals, {{0}, 0, 0}};
    aspire_rng_fork(&root, 0x7363656eULL, &jb.base);  /* "scen" */
    if ((rc = render_all(&jb, plans, n, lines, o->progress, "world task"))) goto done;
    if ((rc = write_lines(tmp_truth, "scenes.jsonl", lines, n))) goto done;
    {
        sbuf cfg = {0};
        sb_printf(&cfg,
                  "{\"kind\":\"task\",\"seed\":%llu,\"n_train\":%d,\"n_val\":%d,\"n_test\":%d,\"size\":%d,"
                  "\"waterbird_frac\":%g,\"rho_bg\":%g,\"p_obj\":%g,\"rho_obj\":%g,"
                  "\"max_distractors\":%d,\"counterfactuals\":%d,\"bird_min\":%g,\"bird_max\":%g,\"object_scale\":%g,"
                  "\"jitter\":%g,\"flip_prob\":%g,\"spurious\":",
                  (unsigned long long)o->seed, o->n_train, o->n_val, o->n_test, o->size, o->waterbird_frac, o->rho_bg,
                  o->p_obj, o->rho_obj, o->max_distractors, o->counterfactuals,
                  (double)o->style.bird_min, (double)o->style.bird_max, (double)o->style.object_scale,
                  (double)o->style.jitter, (double)o->style.flip_prob);
        sb_json_string(&cfg, o->spurious ? o->spurious : "");
        sb_printf(&cfg, ",\"dataset\":");
        sb_json_string(&cfg, o->out);
        sb_printf(&cfg, "}\n");
        char *json = sb_take(&cfg);
        rc = json ? write_config(tmp_truth, json) : ASPIRE_ERR_NOMEM;
        aspire_strfree(json);
        if (rc) goto done;
    }
    if ((rc = write_metadata(tmp_out, plans, n))) goto done;
    rc = outdirs_commit(&od);
done:
    outdirs_abort(&od);
    free_lines(lines, n);
    aspire_free(plans, (size_t)(n ? n : 1) * sizeof *plans);
    aspire_world_free(w);
    aspire_strfree(truth);
    return rc;
}

/* ---- Corpus ------------------------------------------------------------------------------ */

void aspire_world_corpus_opts_default(aspire_world_corpus_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_pretrain = 20000;
    o->n_test = 2000;
    o->size = 64;
    o->max_objects = 3;
    o->captions = 3;
    o->counterfactuals = 0;
    aspire_world_style_default(&o->style);
}

int aspire_world_corpus_write(const aspire_world_corpus_opts *o) {
    int rc;
    if (!o->out || !*o->out) return aspire_error(ASPIRE_ERR_ARG, "no output folder");
    if (o->n_pretrain < 0 || o->n_test < 0 || (long)o->n_pretrain + o->n_test > 9999999L)
        return aspire_error(ASPIRE_ERR_ARG, "split sizes must be between 0 and 9999999 in all");
    if (o->size < 8 || o->size > 1024) return aspire_error(ASPIRE_ERR_ARG, "image size %d outside 8..1024", o->size);
    if (o->max_objects < 0 || o->max_objects > ASPIRE_WORLD_MAX_OBJECTS - 1)
        return aspire_error(ASPIRE_ERR_ARG, "objects per image %d outside 0..%d", o->max_objects,
                            ASPIRE_WORLD_MAX_OBJECTS - 1);
    if (o->captions < 1 || o->captions > 20) return aspire_error(ASPIRE_ERR_ARG, "captions %d outside 1..20", o->captions);
    if ((rc = world_check_style(&o->style))) return rc;
    int n = o->n_pretrain + o->n_test;
    plan *plans = aspire_calloc((size_t)(n ? n : 1), sizeof *plans);
    char **lines = aspire_calloc((size_t)(n ? n : 1), sizeof *lines);
    aspire_world *w = NULL;
    outdirs od = {0};
    if (!plans || !lines) { rc = ASPIRE_ERR_NOMEM; goto done; }
    aspire_rng root, pr;
    aspire_rng_seed(&root, o->seed);
    aspire_rng_fork(&root, 0x636f7270ULL, &pr);  /* "corp" */
    int pool[ASPIRE_WORLD_NEMOJI], npool = 0;
    for (int e = ASPIRE_WORLD_FIRST_OBJECT; e < ASPIRE_WORLD_NEMOJI; e++) pool[npool++] = e;
    for (int i = 0; i < n; i++) {
        plan *p = &plans[i];
        p->img_id = i + 1;
        p->split = i < o->n_pretrain ? 0 : 2;
        p->index = i < o->n_pretrain ? i : i - o->n_pretrain;
        p->species = (int)aspire_rng_below(&pr, ASPIRE_WORLD_NBIRDS);
        p->y = aspire_world_emoji_class(p->species);
        p->background = (int)aspire_rng_below(&pr, ASPIRE_WORLD_NBACKGROUNDS);
        p->spurious = -1;
        p->obj_y = -1;
        p->nctx = draw_distinct(&pr, pool, npool, (int)aspire_rng_below(&pr, o->max_objects + 1), p->ctx, -1);
    }
    if ((rc = aspire_world_new(&w, o->font))) goto done;
    if ((rc = outdirs_begin(&od, o->out, NULL, o->force))) goto done;
    const char *tmp = aspire_dir_build_path(od.out);
    if ((rc = make_dirs(tmp, tmp, 1, o->counterfactuals != 0))) goto done;
    job jb = {w, &o->style, tmp, tmp, o->size, o->captions, 1, 1, o->counterfactuals, {{0}, 0, 0}};
    aspire_rng_fork(&root, 0x7363656eULL, &jb.base);
    if ((rc = render_all(&jb, plans, n, lines, o->progress, "world corpus"))) goto done;
    if ((rc = write_lines(tmp, "scenes.jsonl", lines, n))) goto done;
    if ((rc = write_metadata(tmp, plans, n))) goto done;
    rc = outdirs_commit(&od);
done:
    outdirs_abort(&od);
    free_lines(lines, n);
    aspire_free(plans, (size_t)(n ? n : 1) * sizeof *plans);
    aspire_world_free(w);
    return rc;
}
