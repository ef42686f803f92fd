/* edit.c — quality and speed of the editing models on the world, measured as the detection stage
 * uses them; the world's ground truth is used here only to score (and for the comparison rows that
 * take the true masks):
 *   - masks: the SEGMENTER's (phrase → mask, dilated as detection dilates: aspire_segmenter_segment
 *     with dilate -1, 1 px at 64 px). A removal segments the removed object's name ("tree",
 *     "sailboat", "eagle"); the replacer's foreground is the union of "bird" and every context
 *     object name the segmenter finds. The same figures with the world's true instance masks
 *     (dilated 1 px) follow as a second, labelled row;
 *   - inpainter: PSNR inside the hole against the exact remove-counterfactual, learned vs classical
 *     (pooled over every hole pixel of every removal the segmenter found); "gone": after the
 *     learned inpainter removed the phrase's object, the segmenter no longer finds the phrase;
 *   - replacer: PSNR of the foreground pixels against the input; the share of results whose
 *     background a water/land judge (logistic regression on 8×8 colour thumbnails plus colour
 *     statistics, trained here on the corpus's pretrain images) calls the alternative's kind. The
 *     plate bank is built by the `aspire edit plates` stage from the set's own TRAINING images
 *     (captions by the shipped captioner, background phrases by the extractor), their objects
 *     given as the segmenter's masks (the bench writes them as PNGs for the stage's --masks);
 *   - flip agreement (task set, with --run): an ERM classifier's prediction on the original, on the
 *     edited image and on the exact counterfactual render; for removals and background swaps:
 *     agreement (edit flips ⇔ counterfactual flips) and flip recall (of the counterfactuals that
 *     flip, the share whose edit flips too). The swap's alternative phrase is the background of
 *     the scene's own background-counterfactual (a bench shortcut: detection picks it from the
 *     extractor's alternates); a phrase the segmenter does not find leaves the image unedited;
 *   - images per second of each (in memory, no PNG decoding), at the thread count given.
 * On the corpus's test part and on a task dataset's test counterfactuals. Last line: one JSON object
 * (scripts/bench-edit.sh adds bench/segment's figures to it).
 *
 *   build/bench/edit --corpus DIR --task DIR [--run RUNDIR] [--segmenter FILE] [--model FILE]
 *                    [--limit N] [--plates N] [--threads N] [--work DIR] [--sheet PNG] [--failures PNG] */
#include "aspire/classifier.h"
#include "aspire/csv.h"
#include "aspire/edit.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/inpaint.h"
#include "aspire/logreg.h"
#include "aspire/replace.h"
#include "aspire/segmenter.h"
#include "aspire/sheet.h"
#include "aspire/world.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RM 5
#define NFEAT (8 * 8 * 3 + 6)
#define DILATE_DETECT (-1) /* the segmenter's default radius, as detection dilates removals (1 px at 64 px) */
#define DILATE_REPLACE 0   /* detection keeps the replacer's foreground undilated (docs/editing.md) */

enum { MODE_SEG, MODE_TRUTH };
static const char *const mode_name[] = {"segmenter masks", "true masks"};
static const char *const mode_tag[] = {"seg", "truth"};

typedef struct item {
    aspire_image img, bg_cf;
    uint8_t *labels;
    int kind;                         /* 1 water, 0 land */
    char file[128];
    char bg_alt[32];                  /* the background counterfactual's background */
    int nrm, rm_k[MAX_RM];
    char rm_name[MAX_RM][32];
    aspire_image rm_cf[MAX_RM];
} item;

typedef struct set {
    const char *name, *dir, *truth;
    item *it;
    int n;
} set;

/* What every measurement shares. */
typedef struct bench {
    aspire_segmenter *seg;
    aspire_inpainter *learned, *classical;
    aspire_classifier *cls;  /* NULL: no flip agreement */
    aspire_logreg judge;
    const char *model, *work;
    int threads, nplates;
} bench;

static void die(const char *what) {
    fprintf(stderr, "bench edit: %s: %s\n", what, aspire_errmsg());
    exit(1);
}

/* CPU seconds of this process: with one thread, a speed that does not depend on what else runs. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double psnr(double sse, double n) { return n > 0 && sse > 0 ? 10.0 * log10(255.0 * 255.0 * n / sse) : 100.0; }
static double ratio(int a, int b) { return b ? (double)a / b : 0.0; }
/* a / b for the JSON line, "null" when b is 0 (a recall with no counterfactual flip to recall). */
static const char *jratio(char *buf, size_t n, int a, int b) {
    if (b) snprintf(buf, n, "%.4f", (double)a / b);
    else snprintf(buf, n, "null");
    return buf;
}

/* ---- loading ----------------------------------------------------------------------------------- */
static int load_cfs(item *it, const cJSON *cfs, const char *truth) {
    const cJSON *c;
    cJSON_ArrayForEach(c, cfs) {
        const char *edit = cJSON_GetStringValue(cJSON_GetObjectItem(c, "edit"));
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(c, "file"));
        char *path = aspire_path_join(truth, file);
        aspire_image *dst = NULL;
        if (edit && !strcmp(edit, "background")) {
            dst = &it->bg_cf;
            snprintf(it->bg_alt, sizeof it->bg_alt, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(c, "background")));
        } else if (it->nrm < MAX_RM) {
            it->rm_k[it->nrm] = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(c, "object"));
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(c, "name"));
            snprintf(it->rm_name[it->nrm], sizeof it->rm_name[0], "%s", name ? name : "");
            dst = &it->rm_cf[it->nrm++];
        }
        int rc = dst ? aspire_image_load(dst, path, 3) : ASPIRE_OK;
        aspire_strfree(path);
        if (rc) return rc;
    }
    return ASPIRE_OK;
}

static int load_item(item *it, const cJSON *o, const set *s) {
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(o, "img_filename"));
    const char *mask = cJSON_GetStringValue(cJSON_GetObjectItem(o, "mask"));
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind"));
    char *ip = aspire_path_join(s->dir, file), *mp = aspire_path_join(s->truth, mask);
    aspire_image m = {0};
    snprintf(it->file, sizeof it->file, "%s", file);
    int rc = aspire_image_load(&it->img, ip, 3);
    if (!rc) rc = aspire_image_load(&m, mp, 1);
    it->labels = m.data;
    it->kind = kind && !strcmp(kind, "water");
    if (!rc) rc = load_cfs(it, cJSON_GetObjectItem(o, "counterfactuals"), s->truth);
    aspire_strfree(ip);
    aspire_strfree(mp);
    return rc;
}

/* The test images (split 2) with counterfactual renders, at most `limit`. */
static void load_set(set *s, int limit) {
    char *path = aspire_path_join(s->truth, "scenes.jsonl");
    char *buf = NULL;
    size_t n = 0;
    if (aspire_read_file(path, &buf, &n)) die(path);
    s->it = calloc((size_t)limit, sizeof *s->it);
    for (char *line = strtok(buf, "\n"); line && s->n < limit; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *cfs = cJSON_GetObjectItem(o, "counterfactuals");
        if (o && cJSON_GetNumberValue(cJSON_GetObjectItem(o, "split")) == 2 && cJSON_GetArraySize(cfs) > 0) {
            if (load_item(&s->it[s->n], o, s)) die(path);
            s->n++;
        }
        cJSON_Delete(o);
    }
    aspire_free(buf, n + 1);
    aspire_strfree(path);
    printf("%s: %d test images with counterfactuals (%s)\n", s->name, s->n, s->truth);
}

static void free_set(set *s) {
    for (int i = 0; i < s->n; i++) {
        aspire_image_destroy(&s->it[i].img);
        aspire_image_destroy(&s->it[i].bg_cf);
        aspire_free(s->it[i].labels, 0);
        for (int k = 0; k < s->it[i].nrm; k++) aspire_image_destroy(&s->it[i].rm_cf[k]);
    }
    free(s->it);
}

/* ---- masks --------------------------------------------------------------------------------------- */
/* The world's instance mask of object k (label k + 1), or every object's (k < 0), dilated by 1 px. */
static uint8_t *truth_mask(const item *it, int k) {
    int64_t n = (int64_t)it->img.w * it->img.h;
    uint8_t *m = aspire_malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) m[i] = k < 0 ? it->labels[i] != 0 : it->labels[i] == k + 1;
    if (aspire_mask_dilate(m, it->img.w, it->img.h, 1)) die("mask dilation");
    return m;
}

/* The segmenter's mask of `phrase` in img (dilated by `dilate` as aspire_segmenter_segment takes
 * it), or NULL when the segmenter finds nothing. */
static uint8_t *seg_mask(aspire_segmenter *seg, const aspire_image *img, const char *phrase, int dilate) {
    aspire_segment out;
    memset(&out, 0, sizeof out);
    if (aspire_segmenter_segment(seg, img, 1, phrase, dilate, &out)) die(phrase);
    uint8_t *m = NULL;
    if (out.present) {
        m = out.mask;
        out.mask = NULL;
    }
    aspire_segment_destroy(&out);
    return m;
}

/* The foreground as the segmenter sees it: for each of n images, the union of "bird" and every
 * context object the segmenter finds (each of the world's object names asked in turn, over the n
 * images at once). fg[i] is always a new mask (empty if nothing is found). */
static void seg_foreground(aspire_segmenter *seg, const aspire_image *imgs, int n, int dilate, uint8_t **fg) {
    aspire_segment *out = calloc((size_t)n, sizeof *out);
    for (int i = 0; i < n; i++) {
        fg[i] = aspire_malloc((size_t)imgs[i].w * imgs[i].h);
        memset(fg[i], 0, (size_t)imgs[i].w * imgs[i].h);
    }
    for (int e = ASPIRE_WORLD_FIRST_OBJECT - 1; e < ASPIRE_WORLD_NEMOJI; e++) {
        const char *phrase = e < ASPIRE_WORLD_FIRST_OBJECT ? "bird" : aspire_world_emoji_name(e);
        if (aspire_segmenter_segment(seg, imgs, n, phrase, dilate, out)) die(phrase);
        for (int i = 0; i < n; i++) {
            if (out[i].present) aspire_mask_union(fg[i], out[i].mask, imgs[i].w, imgs[i].h);
            aspire_segment_destroy(&out[i]);
        }
    }
    free(out);
}

static int64_t area_of(const uint8_t *m, int w, int h) { return m ? aspire_mask_area(m, w, h) : 0; }

/* ---- removals ------------------------------------------------------------------------------------ */
/* One removal: the item, its counterfactual r, the mask (NULL: the segmenter did not find the
 * phrase; the image then stays as it is) and the learned inpainter's result. */
typedef struct rm_case {
    int item, r;
    uint8_t *mask;
    aspire_image out;
} rm_case;

/* Every removal of an object that is visible (the true mask is not empty), with the mode's mask. */
static rm_case *make_cases(const bench *b, const set *s, int mode, int *ncases, int *nfound) {
    int n = 0;
    for (int i = 0; i < s->n; i++) n += s->it[i].nrm;
    rm_case *c = calloc((size_t)(n ? n : 1), sizeof *c);
    *ncases = *nfound = 0;
    for (int i = 0; i < s->n; i++)
        for (int r = 0; r < s->it[i].nrm; r++) {
            const item *it = &s->it[i];
            uint8_t *t = truth_mask(it, it->rm_k[r]);
            int64_t area = area_of(t, it->img.w, it->img.h);
            if (!area) { aspire_free(t, 0); continue; }  /* an object hidden by others */
            uint8_t *m = t;
            if (mode == MODE_SEG) {
                aspire_free(t, 0);
                m = seg_mask(b->seg, &it->img, it->rm_name[r], DILATE_DETECT);
            }
            *nfound += m != NULL;
            c[(*ncases)++] = (rm_case){i, r, m, {0}};
        }
    return c;
}

typedef struct inpaint_score { double sse, npx, img_s, img_s_cpu; int ncases; } inpaint_score;

/* Runs the inpainter over every case that has a mask, in batches of 64, timing the calls; scores the
 * hole pixels against the remove-counterfactual. keep: store the results in the cases. */
static inpaint_score run_inpaint(aspire_inpainter *inp, const set *s, rm_case *c, int n, int keep) {
    inpaint_score sc = {0};
    aspire_image imgs[64], outs[64];
    const uint8_t *masks[64];
    int idx[64];
    double t = 0.0, tc = 0.0;
    for (int i0 = 0; i0 < n;) {
        int nb = 0;
        for (; i0 < n && nb < 64; i0++)
            if (c[i0].mask) {
                imgs[nb] = s->it[c[i0].item].img;
                masks[nb] = c[i0].mask;
                idx[nb++] = i0;
            }
        if (!nb) break;
        double t0 = aspire_now(), c0 = cpu_now();
        if (aspire_inpainter_run(inp, imgs, masks, nb, outs)) die("inpaint");
        t += aspire_now() - t0;
        tc += cpu_now() - c0;
        for (int k = 0; k < nb; k++) {
            const aspire_image *cf = &s->it[c[idx[k]].item].rm_cf[c[idx[k]].r];
            for (int64_t p = 0; p < (int64_t)cf->w * cf->h; p++)
                for (int ch = 0; masks[k][p] && ch < 3; ch++) {
                    double d = (double)outs[k].data[3 * p + ch] - cf->data[3 * p + ch];
                    sc.sse += d * d;
                    sc.npx += 1;
                }
            if (keep) { aspire_image_destroy(&c[idx[k]].out); c[idx[k]].out = outs[k]; }
            else aspire_image_destroy(&outs[k]);
        }
        sc.ncases += nb;
    }
    sc.img_s = t > 0 ? sc.ncases / t : 0;
    sc.img_s_cpu = tc > 0 ? sc.ncases / tc : 0;
    return sc;
}

/* "gone": of the removals the segmenter found, the share where it no longer finds the phrase in the
 * learned inpainter's result (undilated: presence only). */
static int count_gone(aspire_segmenter *seg, const set *s, const rm_case *c, int n, int *nfound) {
    int gone = 0;
    *nfound = 0;
    for (int i = 0; i < n; i++) {
        if (!c[i].mask || !c[i].out.data) continue;
        uint8_t *m = seg_mask(seg, &c[i].out, s->it[c[i].item].rm_name[c[i].r], 0);
        gone += m == NULL;
        (*nfound)++;
        aspire_free(m, 0);
    }
    return gone;
}

/* ---- the background judge (water vs land) --------------------------------------------------------- */
static void features(const aspire_image *img, float *f) {
    aspire_image t = {0};
    if (aspire_image_resize(&t, img, 8, 8, ASPIRE_RESIZE_AREA)) die("resize");
    for (int i = 0; i < 8 * 8 * 3; i++) f[i] = t.data[i] / 255.0f;
    aspire_image_destroy(&t);
    int64_t n = (int64_t)img->w * img->h;
    for (int ch = 0; ch < 3; ch++) {
        double s = 0, s2 = 0;
        for (int64_t p = 0; p < n; p++) {
            double v = img->data[3 * p + ch] / 255.0;
            s += v;
            s2 += v * v;
        }
        f[192 + ch] = (float)(s / n);
        f[195 + ch] = (float)sqrt(fmax(0.0, s2 / n - (s / n) * (s / n)));
    }
}

/* Trains on the corpus's pretrain images (their scene's kind), at most `limit`. */
static void train_judge(aspire_logreg *m, const char *corpus, int limit) {
    char *path = aspire_path_join(corpus, "scenes.jsonl");
    char *buf = NULL;
    size_t nb = 0;
    if (aspire_read_file(path, &buf, &nb)) die(path);
    float *x = malloc(sizeof(float) * NFEAT * (size_t)limit);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)limit);
    int n = 0;
    for (char *line = strtok(buf, "\n"); line && n < limit; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        if (o && cJSON_GetNumberValue(cJSON_GetObjectItem(o, "split")) == 0) {
            char *ip = aspire_path_join(corpus, cJSON_GetStringValue(cJSON_GetObjectItem(o, "img_filename")));
            aspire_image img = {0};
            if (aspire_image_load(&img, ip, 3)) die(ip);
            features(&img, x + (size_t)n * NFEAT);
            y[n++] = !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind")), "water");
            aspire_image_destroy(&img);
            aspire_strfree(ip);
        }
        cJSON_Delete(o);
    }
    aspire_standardizer st;
    aspire_logreg_options lo = {.C = 1.0, .tol = 1e-5, .max_iter = 100};
    if (aspire_standardizer_fit(&st, x, n, NFEAT) || aspire_logreg_init(m, NFEAT, 2)) die("bg judge");
    aspire_standardizer_apply(&st, x, n);
    if (aspire_logreg_fit(m, x, y, NULL, n, &lo, NULL)) die("bg judge");
    aspire_standardizer_fold(&st, m);
    aspire_standardizer_destroy(&st);
    printf("background judge: logistic regression on %d features, trained on %d corpus pretrain images\n", NFEAT, n);
    free(x);
    free(y);
    aspire_free(buf, nb + 1);
    aspire_strfree(path);
}

static int bg_kind(const aspire_logreg *m, const aspire_image *img) {
    float f[NFEAT];
    int32_t pred;
    features(img, f);
    aspire_logreg_predict(m, f, 1, &pred);
    return pred;
}

/* ---- plates and replacing ------------------------------------------------------------------------ */
/* The object masks of n training images: the segmenter's foreground (undilated: the plates stage
 * dilates by 1 px itself), or the world's label map (MODE_TRUTH, the comparison row). */
static void plate_masks(const bench *b, const set *s, int mode, const aspire_image *imgs, const int64_t *ids, int n,
                        uint8_t **m) {
    if (mode == MODE_SEG) { seg_foreground(b->seg, imgs, n, 0, m); return; }
    for (int i = 0; i < n; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "masks/%06lld.png", (long long)ids[i]);
        char *mp = aspire_path_join(s->truth, rel);
        aspire_image t = {0};
        if (aspire_image_load(&t, mp, 1)) die(mp);
        aspire_strfree(mp);
        for (int64_t p = 0; p < (int64_t)t.w * t.h; p++) t.data[p] = t.data[p] ? 255 : 0;
        m[i] = t.data;
    }
}

/* Makes and saves the masks of a batch of n images (files under dir); returns the seconds the
 * masks took. Frees the images. */
static double flush_plate_masks(const bench *b, const set *s, int mode, aspire_image *imgs, const int64_t *ids,
                                char **files, int n, const char *dir) {
    uint8_t *m[64];
    double t0 = aspire_now();
    plate_masks(b, s, mode, imgs, ids, n, m);
    double t = aspire_now() - t0;
    for (int i = 0; i < n; i++) {
        char *out = aspire_path_join(dir, files[i]);
        char *slash = strrchr(out, '/');
        *slash = 0;
        aspire_mkdir_p(out);
        *slash = '/';
        if (aspire_mask_save_png_ex(m[i], imgs[i].w, imgs[i].h, out, ASPIRE_ATOMIC_NOSYNC)) die(out);
        aspire_free(m[i], 0);
        aspire_image_destroy(&imgs[i]);
        aspire_strfree(out);
        free(files[i]);
    }
    return t;
}

/* Writes the object masks of the first `count` training images (split 0 of metadata.csv) as PNGs
 * in the dataset's layout under `dir`; returns the seconds spent making the masks. */
static double write_plate_masks(const bench *b, const set *s, int mode, const char *dir, int count) {
    char *meta_path = aspire_path_join(s->dir, "metadata.csv");
    aspire_csv *meta = NULL;
    int c_id, c_file, c_split;
    if (aspire_csv_read(&meta, meta_path) || aspire_csv_require(meta, "img_id", &c_id) ||
        aspire_csv_require(meta, "img_filename", &c_file) || aspire_csv_require(meta, "split", &c_split))
        die(meta_path);
    aspire_image imgs[64];
    int64_t ids[64];
    char *files[64];
    int nb = 0;
    double t = 0.0;
    for (int64_t r = 0, n = 0; r < aspire_csv_nrows(meta) && n < count; r++) {
        int64_t split = -1;
        if (aspire_csv_get_int(meta, r, c_split, &split) || aspire_csv_get_int(meta, r, c_id, &ids[nb])) die(meta_path);
        if (split != 0) continue;
        const char *file = aspire_csv_field(meta, r, c_file);
        char *ip = aspire_path_join(s->dir, file);
        memset(&imgs[nb], 0, sizeof imgs[nb]);
        if (aspire_image_load(&imgs[nb], ip, 3)) die(ip);
        aspire_strfree(ip);
        files[nb++] = strdup(file);
        n++;
        if (nb == 64) { t += flush_plate_masks(b, s, mode, imgs, ids, files, nb, dir); nb = 0; }
    }
    if (nb) t += flush_plate_masks(b, s, mode, imgs, ids, files, nb, dir);
    aspire_csv_free(meta);
    aspire_strfree(meta_path);
    return t;
}

/* The plate bank of the set's training images for this mode, built by the `aspire edit plates`
 * stage over the mask PNGs written above (its SEGMENTER HOOK still reads masks from a folder). */
static void build_plates(const bench *b, const set *s, int mode, char *plates, size_t cap) {
    char masks[4096];
    snprintf(masks, sizeof masks, "%s/%s-%s-masks", b->work, s->name, mode_tag[mode]);
    snprintf(plates, cap, "%s/%s-%s-plates", b->work, s->name, mode_tag[mode]);
    /* every training caption the captioner writes names a background, so a quarter more images than
     * plates is plenty; an image past the masks written here would stop the stage naming it */
    double tm = write_plate_masks(b, s, mode, masks, b->nplates + b->nplates / 4 + 64);
    aspire_edit_plates_opts o;
    aspire_edit_plates_opts_default(&o);
    o.data = s->dir;
    o.masks = masks;
    o.out = plates;
    o.model = b->model;
    o.limit = b->nplates;
    o.threads = b->threads;
    o.progress = 0;
    double t0 = aspire_now();
    if (aspire_edit_plates_run(&o)) die("edit plates");
    printf("%s (%s): plate bank of up to %d plates from its training images: object masks %.1f s, the plates stage "
           "%.1f s: %s\n", s->name, mode_name[mode], b->nplates, tm, aspire_now() - t0, plates);
}

typedef struct replace_score { double fg_sse, fg_npx, img_s, img_s_cpu, cf_acc, seg_s; int n, right; } replace_score;

/* Replaces the background of every item that has a background counterfactual; out[i] and fg[i]
 * (arrays of s->n) receive the result and the foreground mask. */
static replace_score run_replace(const bench *b, aspire_replacer *r, const set *s, int mode, int dilate,
                                 aspire_image *out, uint8_t **fg) {
    replace_score sc = {0};
    double t = 0.0, tc = 0.0;
    int cf_right = 0;
    double tseg = aspire_now();
    for (int i0 = 0; mode == MODE_SEG && i0 < s->n; i0 += 64) {
        aspire_image imgs[64];
        int nb = s->n - i0 < 64 ? s->n - i0 : 64;
        for (int k = 0; k < nb; k++) imgs[k] = s->it[i0 + k].img;
        seg_foreground(b->seg, imgs, nb, dilate, fg + i0);
    }
    sc.seg_s = aspire_now() - tseg;
    for (int i = 0; i < s->n; i++) {
        const item *it = &s->it[i];
        if (mode == MODE_TRUTH) fg[i] = truth_mask(it, -1);
        if (!it->bg_cf.data) continue;
        double t0 = aspire_now(), c0 = cpu_now();
        if (aspire_replacer_run(r, &it->img, fg[i], NULL, it->bg_alt, aspire_replace_key(it->file), &out[i]))
            die("replace");
        t += aspire_now() - t0;
        tc += cpu_now() - c0;
        for (int64_t p = 0; p < (int64_t)out[i].w * out[i].h; p++)
            for (int ch = 0; fg[i][p] && ch < 3; ch++) {
                double d = (double)out[i].data[3 * p + ch] - it->img.data[3 * p + ch];
                sc.fg_sse += d * d;
                sc.fg_npx += 1;
            }
        sc.right += bg_kind(&b->judge, &out[i]) == !it->kind;
        cf_right += bg_kind(&b->judge, &it->bg_cf) == !it->kind;
        sc.n++;
    }
    sc.img_s = t > 0 ? sc.n / t : 0;
    sc.img_s_cpu = tc > 0 ? sc.n / tc : 0;
    sc.cf_acc = ratio(cf_right, sc.n);
    return sc;
}

/* ---- flip agreement ------------------------------------------------------------------------------ */
typedef struct flip_score { int n, agree, cf_flips, caught, edit_flips; } flip_score;

/* Predictions: on the originals (per item), on each removal's edit and counterfactual (per case), on
 * each swap's edit and counterfactual (per item; -1 where an item has none). */
typedef struct preds { int32_t *orig, *rm_edit, *rm_cf, *bg_edit, *bg_cf; } preds;

static void predict(aspire_classifier *cls, const aspire_image *imgs, int n, int32_t *out) {
    if (n > 0 && aspire_classifier_predict_images(cls, imgs, n, out, NULL)) die("classifier");
}

static void flip_add(flip_score *f, int orig, int edit, int cf) {
    int ef = edit != orig, cff = cf != orig;
    f->n++;
    f->agree += ef == cff;
    f->cf_flips += cff;
    f->caught += cff && ef;
    f->edit_flips += ef;
}

/* Classifies originals, edits and counterfactuals; fills p (arrays allocated here) and the scores. */
static void eval_flips(const bench *b, const set *s, const rm_case *c, int nc, const aspire_image *rep_out, preds *p,
                       flip_score *rm, flip_score *bg) {
    int n = s->n > nc ? s->n : nc;
    aspire_image *a = calloc((size_t)(n ? n : 1), sizeof *a), *cf = calloc((size_t)(n ? n : 1), sizeof *cf);
    p->orig = calloc((size_t)s->n + 1, sizeof(int32_t));
    p->rm_edit = calloc((size_t)nc + 1, sizeof(int32_t));
    p->rm_cf = calloc((size_t)nc + 1, sizeof(int32_t));
    p->bg_edit = calloc((size_t)s->n + 1, sizeof(int32_t));
    p->bg_cf = calloc((size_t)s->n + 1, sizeof(int32_t));
    for (int i = 0; i < s->n; i++) a[i] = s->it[i].img;
    predict(b->cls, a, s->n, p->orig);
    for (int i = 0; i < nc; i++) {
        a[i] = c[i].out.data ? c[i].out : s->it[c[i].item].img;  /* not found: the image unedited */
        cf[i] = s->it[c[i].item].rm_cf[c[i].r];
    }
    predict(b->cls, a, nc, p->rm_edit);
    predict(b->cls, cf, nc, p->rm_cf);
    for (int i = 0; i < nc; i++) flip_add(rm, p->orig[c[i].item], p->rm_edit[i], p->rm_cf[i]);
    int m = 0;
    for (int i = 0; i < s->n; i++)
        if (rep_out[i].data) { a[m] = rep_out[i]; cf[m++] = s->it[i].bg_cf; }
    int32_t *pe = calloc((size_t)m + 1, sizeof(int32_t)), *pc = calloc((size_t)m + 1, sizeof(int32_t));
    predict(b->cls, a, m, pe);
    predict(b->cls, cf, m, pc);
    for (int i = 0, k = 0; i < s->n; i++) {
        p->bg_edit[i] = p->bg_cf[i] = -1;
        if (!rep_out[i].data) continue;
        p->bg_edit[i] = pe[k];
        p->bg_cf[i] = pc[k++];
        flip_add(bg, p->orig[i], p->bg_edit[i], p->bg_cf[i]);
    }
    free(pe);
    free(pc);
    free(a);
    free(cf);
}

static void free_preds(preds *p) {
    free(p->orig);
    free(p->rm_edit);
    free(p->rm_cf);
    free(p->bg_edit);
    free(p->bg_cf);
}

/* ---- contact sheets ------------------------------------------------------------------------------- */
#define SHEET_COLS 6

static const char *cls_name(const bench *b, const int32_t *pred, int i) {
    return b->cls && pred && pred[i] >= 0 ? aspire_classifier_class_name(b->cls, pred[i]) : NULL;
}

/* One row: image | mask | removed | true remove-cf | replaced | true background-cf, each tile labelled
 * with the classifier's prediction (the mask with its phrase). ci < 0: a swap-only row (its mask the
 * foreground). */
static void sheet_row(aspire_sheet *sh, const bench *b, const set *s, const rm_case *c, int ci, int item_i,
                      const aspire_image *rep_out, uint8_t *const *fg, const preds *p) {
    const item *it = &s->it[item_i];
    aspire_sheet_add(sh, &it->img, cls_name(b, p->orig, item_i));
    if (ci >= 0) {
        const rm_case *k = &c[ci];
        if (k->mask) aspire_sheet_add_mask(sh, k->mask, it->img.w, it->img.h, it->rm_name[k->r]);
        else aspire_sheet_add(sh, &it->img, "(not found)");
        aspire_sheet_add(sh, k->out.data ? &k->out : &it->img, cls_name(b, p->rm_edit, ci));
        aspire_sheet_add(sh, &it->rm_cf[k->r], cls_name(b, p->rm_cf, ci));
    } else {
        if (fg[item_i]) aspire_sheet_add_mask(sh, fg[item_i], it->img.w, it->img.h, "foreground");
        else aspire_sheet_skip(sh);
        aspire_sheet_skip(sh);
        aspire_sheet_skip(sh);
    }
    if (rep_out[item_i].data) aspire_sheet_add(sh, &rep_out[item_i], cls_name(b, p->bg_edit, item_i));
    else aspire_sheet_skip(sh);
    if (it->bg_cf.data) aspire_sheet_add(sh, &it->bg_cf, cls_name(b, p->bg_cf, item_i));
    else aspire_sheet_skip(sh);
}

static aspire_sheet *sheet_open(void) {
    static const char *heads[SHEET_COLS] = {"IMAGE", "MASK", "REMOVED", "TRUE RM", "REPLACED", "TRUE BG"};
    aspire_sheet *sh = NULL;
    if (aspire_sheet_new(&sh, SHEET_COLS, 128, 2)) die("sheet");
    for (int k = 0; k < SHEET_COLS; k++) aspire_sheet_header(sh, k, heads[k]);
    return sh;
}

/* The documentation sheet: the first 4 removals, then up to 8 whose counterfactual flips the
 * classifier (or, without one, the next 8 removals). */
static void write_sheet(const bench *b, const set *s, const rm_case *c, int nc, const aspire_image *rep_out,
                        uint8_t *const *fg, const preds *p, const char *path) {
    aspire_sheet *sh = sheet_open();
    int rows = 0, flips = 0, last = -1;
    for (int i = 0; i < nc && rows < 12; i++) {
        int cff = p->rm_cf && p->rm_cf[i] != p->orig[c[i].item];
        if (i >= 4 && p->rm_cf && !cff) continue;
        sheet_row(sh, b, s, c, i, c[i].item, rep_out, fg, p);
        rows++;
        flips += cff;
        last = i < 4 ? i : last;
    }
    for (int i = last + 1; i < nc && rows < 8; i++)  /* few flips: more of the first removals */
        if (p->rm_cf && p->rm_cf[i] == p->orig[c[i].item]) { sheet_row(sh, b, s, c, i, c[i].item, rep_out, fg, p); rows++; }
    if (aspire_sheet_save(sh, path)) die(path);
    aspire_sheet_free(sh);
    printf("contact sheet: %s (%d rows, %d of them removals whose counterfactual flips the classifier)\n", path, rows,
           flips);
}

/* The failures: counterfactuals that flip the classifier where the edit does not (removals, then
 * swaps), up to 12 of each. */
static void write_failures(const bench *b, const set *s, const rm_case *c, int nc, const aspire_image *rep_out,
                           uint8_t *const *fg, const preds *p, const char *path) {
    aspire_sheet *sh = sheet_open();
    int nrm = 0, nbg = 0;
    for (int i = 0; i < nc && nrm < 12; i++) {
        int o = p->orig[c[i].item];
        if (p->rm_cf[i] == o || p->rm_edit[i] != o) continue;
        sheet_row(sh, b, s, c, i, c[i].item, rep_out, fg, p);
        nrm++;
    }
    for (int i = 0; i < s->n && nbg < 12; i++) {
        if (p->bg_cf[i] < 0 || p->bg_cf[i] == p->orig[i] || p->bg_edit[i] != p->orig[i]) continue;
        sheet_row(sh, b, s, c, -1, i, rep_out, fg, p);
        nbg++;
    }
    if (nrm + nbg == 0) { aspire_sheet_free(sh); printf("failure sheet: no failures\n"); return; }
    if (aspire_sheet_save(sh, path)) die(path);
    aspire_sheet_free(sh);
    printf("failure sheet: %s (%d missed removal flips, %d missed swap flips)\n", path, nrm, nbg);
}

/* ---- one set, one mask mode ----------------------------------------------------------------------- */
typedef struct set_result {
    inpaint_score learned, classical;
    replace_score rep;
    double judge_acc;
    int ncases, nfound, gone, gone_n;
    flip_score frm, fbg, fbg_dilated;
} set_result;

/* The swaps again with the segmenter's foreground dilated as removals are (the comparison row: the
 * dilation ring is old background that stays around the bird): flip agreement against the same
 * counterfactual predictions. */
static flip_score dilated_swaps(const bench *b, aspire_replacer *rep, const set *s, const preds *p) {
    flip_score f = {0};
    aspire_image *out = calloc((size_t)s->n + 1, sizeof *out);
    uint8_t **fg = calloc((size_t)s->n + 1, sizeof *fg);
    run_replace(b, rep, s, MODE_SEG, DILATE_DETECT, out, fg);
    for (int i = 0; i < s->n; i++) {
        int32_t pe = -1;
        if (out[i].data) predict(b->cls, &out[i], 1, &pe);
        if (out[i].data) flip_add(&f, p->orig[i], pe, p->bg_cf[i]);
        aspire_image_destroy(&out[i]);
        aspire_free(fg[i], 0);
    }
    free(out);
    free(fg);
    return f;
}

static void report_set(const set *s, int mode, const set_result *r, int flips) {
    printf("%s inpaint (%s): %d removals, the mask found for %d (%.1f %%); hole PSNR learned %.2f dB, Telea %.2f dB; "
           "gone after removal %d of %d (%.1f %%); learned %.0f img/s (%.0f per CPU second), Telea %.0f img/s (%.0f per CPU "
           "second)\n",
           s->name, mode_name[mode], r->ncases, r->nfound, 100.0 * ratio(r->nfound, r->ncases),
           psnr(r->learned.sse, r->learned.npx), psnr(r->classical.sse, r->classical.npx), r->gone, r->gone_n,
           100.0 * ratio(r->gone, r->gone_n), r->learned.img_s, r->learned.img_s_cpu, r->classical.img_s,
           r->classical.img_s_cpu);
    printf("%s replace (%s): %d images, foreground PSNR %s%.2f dB, background judged of the alternative's kind %.1f %% "
           "(the true background counterfactuals: %.1f %%; the inputs' own kind: %.1f %%), %.0f img/s (%.0f per CPU "
           "second)\n",
           s->name, mode_name[mode], r->rep.n, r->rep.fg_sse == 0 ? "(bit-exact, MSE 0, shown as) " : "",
           psnr(r->rep.fg_sse, r->rep.fg_npx), 100.0 * ratio(r->rep.right, r->rep.n), 100.0 * r->rep.cf_acc,
           100.0 * r->judge_acc, r->rep.img_s, r->rep.img_s_cpu);
    if (!flips) return;
    const flip_score *f[2] = {&r->frm, &r->fbg};
    static const char *what[2] = {"removals", "background swaps"};
    for (int k = 0; k < 2; k++)
        printf("%s flips (%s), %s: %d edits; agreement %.1f %% (%d); counterfactual flips %d, the edit flips too for %d "
               "(recall %.1f %%); the edit flips %d in all\n",
               s->name, mode_name[mode], what[k], f[k]->n, 100.0 * ratio(f[k]->agree, f[k]->n), f[k]->agree,
               f[k]->cf_flips, f[k]->caught, 100.0 * ratio(f[k]->caught, f[k]->cf_flips), f[k]->edit_flips);
    if (mode == MODE_SEG)
        printf("%s flips (%s, the replacer's foreground dilated 1 px), background swaps: agreement %.1f %%, recall %.1f %% "
               "(%d of %d); the edit flips %d\n", s->name, mode_name[mode], 100.0 * ratio(r->fbg_dilated.agree, r->fbg_dilated.n),
               100.0 * ratio(r->fbg_dilated.caught, r->fbg_dilated.cf_flips), r->fbg_dilated.caught, r->fbg_dilated.cf_flips,
               r->fbg_dilated.edit_flips);
}

static set_result eval_set(const bench *b, const set *s, int mode, aspire_replacer *rep, const char *sheet,
                           const char *failures) {
    set_result r = {0};
    rm_case *c = make_cases(b, s, mode, &r.ncases, &r.nfound);
    /* warm-up, right before the timed run: the engine's first calls in a process (kernel generation, the
     * arena's first growth) take seconds; a pass over the set settles them */
    for (int w = 0; w < 2; w++) run_inpaint(b->learned, s, c, r.ncases, 0);
    r.learned = run_inpaint(b->learned, s, c, r.ncases, 1);
    r.classical = run_inpaint(b->classical, s, c, r.ncases, 0);
    r.gone = count_gone(b->seg, s, c, r.ncases, &r.gone_n);
    aspire_image *out = calloc((size_t)s->n + 1, sizeof *out);
    uint8_t **fg = calloc((size_t)s->n + 1, sizeof *fg);
    r.rep = run_replace(b, rep, s, mode, mode == MODE_SEG ? DILATE_REPLACE : DILATE_DETECT, out, fg);
    int right = 0;
    for (int i = 0; i < s->n; i++) right += bg_kind(&b->judge, &s->it[i].img) == s->it[i].kind;
    r.judge_acc = ratio(right, s->n);
    preds p = {0};
    if (b->cls) eval_flips(b, s, c, r.ncases, out, &p, &r.frm, &r.fbg);
    if (b->cls && mode == MODE_SEG) r.fbg_dilated = dilated_swaps(b, rep, s, &p);
    if (sheet) write_sheet(b, s, c, r.ncases, out, fg, &p, sheet);
    if (failures && b->cls) write_failures(b, s, c, r.ncases, out, fg, &p, failures);
    report_set(s, mode, &r, b->cls != NULL);
    free_preds(&p);
    for (int i = 0; i < s->n; i++) { aspire_image_destroy(&out[i]); aspire_free(fg[i], 0); }
    free(out);
    free(fg);
    for (int i = 0; i < r.ncases; i++) { aspire_free(c[i].mask, 0); aspire_image_destroy(&c[i].out); }
    free(c);
    return r;
}

/* ---- the JSON line -------------------------------------------------------------------------------- */
static void print_json(set_result res[2][2], int threads) {
    const set_result *cs = &res[0][MODE_SEG], *ts = &res[1][MODE_SEG], *ct = &res[0][MODE_TRUTH],
                     *tt = &res[1][MODE_TRUTH];
    char b1[16], b2[16], b3[16], b4[16], b5[16];
    printf("{\"inpaint_psnr\": %.3f, \"inpaint_psnr_classical\": %.3f, \"inpaint_gone\": %.4f, \"replace_fg_psnr\": %.3f, "
           "\"replace_bg_acc\": %.4f, \"flip_agree_remove\": %.4f, \"flip_agree_replace\": %.4f, "
           "\"flip_recall_remove\": %s, \"flip_recall_replace\": %s, \"inpaint_img_s\": %.1f, \"replace_img_s\": %.1f, ",
           psnr(cs->learned.sse, cs->learned.npx), psnr(cs->classical.sse, cs->classical.npx),
           ratio(cs->gone + ts->gone, cs->gone_n + ts->gone_n), psnr(cs->rep.fg_sse, cs->rep.fg_npx),
           ratio(cs->rep.right, cs->rep.n), ratio(ts->frm.agree, ts->frm.n), ratio(ts->fbg.agree, ts->fbg.n),
           jratio(b1, sizeof b1, ts->frm.caught, ts->frm.cf_flips), jratio(b2, sizeof b2, ts->fbg.caught, ts->fbg.cf_flips),
           cs->learned.img_s,
           cs->rep.img_s);
    printf("\"flip_n_remove\": %d, \"flip_cf_flips_remove\": %d, \"flip_n_replace\": %d, \"flip_cf_flips_replace\": %d, "
           "\"seg_found_remove\": %.4f, \"task_inpaint_psnr\": %.3f, \"task_inpaint_psnr_classical\": %.3f, "
           "\"task_replace_bg_acc\": %.4f, \"inpaint_img_s_cpu\": %.1f, \"replace_img_s_cpu\": %.1f, ",
           ts->frm.n, ts->frm.cf_flips, ts->fbg.n, ts->fbg.cf_flips, ratio(cs->nfound + ts->nfound, cs->ncases + ts->ncases),
           psnr(ts->learned.sse, ts->learned.npx), psnr(ts->classical.sse, ts->classical.npx),
           ratio(ts->rep.right, ts->rep.n), cs->learned.img_s_cpu, cs->rep.img_s_cpu);
    printf("\"truth_inpaint_psnr\": %.3f, \"truth_inpaint_psnr_classical\": %.3f, \"truth_inpaint_gone\": %.4f, "
           "\"truth_replace_bg_acc\": %.4f, \"truth_flip_agree_remove\": %.4f, \"truth_flip_agree_replace\": %.4f, "
           "\"truth_flip_recall_remove\": %s, \"truth_flip_recall_replace\": %s, \"flip_agree_replace_dilated\": %.4f, "
           "\"flip_recall_replace_dilated\": %s, \"threads\": %d, "
           "\"masks\": \"segmenter (truth_*: world truth, dilated 1 px)\"}\n",
           psnr(ct->learned.sse, ct->learned.npx), psnr(ct->classical.sse, ct->classical.npx),
           ratio(ct->gone + tt->gone, ct->gone_n + tt->gone_n), ratio(ct->rep.right, ct->rep.n),
           ratio(tt->frm.agree, tt->frm.n), ratio(tt->fbg.agree, tt->fbg.n), jratio(b3, sizeof b3, tt->frm.caught, tt->frm.cf_flips),
           jratio(b4, sizeof b4, tt->fbg.caught, tt->fbg.cf_flips), ratio(ts->fbg_dilated.agree, ts->fbg_dilated.n),
           jratio(b5, sizeof b5, ts->fbg_dilated.caught, ts->fbg_dilated.cf_flips), threads);
}

/* ---- main ------------------------------------------------------------------------------------------ */
typedef struct args {
    const char *corpus, *task, *run, *segmenter, *model, *work, *sheet, *failures;
    int limit, nplates, threads, judge_n;
} args;

static int parse_args(int argc, char **argv, args *a) {
    *a = (args){"build/bench-data/edit-corpus", "build/bench-data/edit-task", NULL, NULL, NULL,
                "build/bench-data/edit-work", NULL, NULL, 500, 1000, 1, 4000};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return 2;
        i++;
        if (!strcmp(k, "--corpus")) a->corpus = v;
        else if (!strcmp(k, "--task")) a->task = v;
        else if (!strcmp(k, "--run")) a->run = v;
        else if (!strcmp(k, "--segmenter")) a->segmenter = v;
        else if (!strcmp(k, "--model")) a->model = v;
        else if (!strcmp(k, "--work")) a->work = v;
        else if (!strcmp(k, "--sheet")) a->sheet = v;
        else if (!strcmp(k, "--failures")) a->failures = v;
        else if (!strcmp(k, "--limit")) a->limit = atoi(v);
        else if (!strcmp(k, "--plates")) a->nplates = atoi(v);
        else if (!strcmp(k, "--threads")) a->threads = atoi(v);
        else return 2;
    }
    if (a->limit < 1 || a->nplates < 1) { fprintf(stderr, "bench edit: --limit and --plates must be positive\n"); return 2; }
    return 0;
}

static void open_models(bench *b, const args *a) {
    memset(b, 0, sizeof *b);
    b->threads = a->threads;
    b->nplates = a->nplates;
    b->work = a->work;
    static char inpaint_path[4096], seg_path[4096];  /* the shipped models' paths, alive for the run */
    b->model = a->model ? a->model : aspire_inpaint_default_model(NULL, inpaint_path, sizeof inpaint_path);
    const char *segpath = a->segmenter ? a->segmenter : aspire_segmenter_default_model(NULL, seg_path, sizeof seg_path);
    if (aspire_inpainter_new_learned(b->model, a->threads, 64, &b->learned)) die(b->model);
    if (aspire_inpainter_new_classical(0, &b->classical)) die("telea");
    if (aspire_segmenter_open(&b->seg, segpath, a->threads)) die(segpath);
    if (a->run) {
        aspire_ctx_options eo = {.threads = a->threads};
        if (aspire_classifier_open(&b->cls, a->run, &eo)) die(a->run);
    }
    aspire_mkdir_p(a->work);
    printf("bench edit: threads %d, inpainter %s, segmenter %s, classifier %s; masks: the segmenter's (dilated as "
           "detection dilates), the world's true masks as the comparison row\n",
           a->threads, b->model, segpath, a->run ? a->run : "(none: no flip agreement)");
}

int main(int argc, char **argv) {
    args a;
    if (parse_args(argc, argv, &a)) {
        fprintf(stderr, "usage: %s [--corpus DIR] [--task DIR] [--run RUNDIR] [--segmenter FILE] [--model FILE] "
                        "[--work DIR] [--sheet PNG] [--failures PNG] [--limit N] [--plates N] [--threads N]\n", argv[0]);
        return 2;
    }
    aspire_set_threads(a.threads);
    bench b;
    open_models(&b, &a);
    train_judge(&b.judge, a.corpus, a.judge_n);
    char truth[4096];
    snprintf(truth, sizeof truth, "%s_truth", a.task);
    set sets[2] = {{"corpus", a.corpus, a.corpus, NULL, 0}, {"task", a.task, truth, NULL, 0}};
    set_result res[2][2];
    memset(res, 0, sizeof res);
    aspire_classifier *cls = b.cls;
    for (int k = 0; k < 2; k++) {
        load_set(&sets[k], a.limit);
        b.cls = k == 1 ? cls : NULL;  /* the classifier was trained on the task dataset */
        for (int mode = MODE_SEG; mode <= MODE_TRUTH; mode++) {
            char plates[4096];
            build_plates(&b, &sets[k], mode, plates, sizeof plates);
            aspire_replacer *rep = NULL;
            if (aspire_replacer_new_plates(plates, -1, &rep)) die(plates);
            int doc = mode == MODE_SEG && (cls ? k == 1 : k == 0);
            res[k][mode] = eval_set(&b, &sets[k], mode, rep, doc ? a.sheet : NULL, doc ? a.failures : NULL);
            aspire_replacer_free(rep);
        }
        free_set(&sets[k]);
    }
    print_json(res, a.threads);
    aspire_logreg_destroy(&b.judge);
    aspire_classifier_free(cls);
    aspire_segmenter_free(b.seg);
    aspire_inpainter_free(b.learned);
    aspire_inpainter_free(b.classical);
    return 0;
}
