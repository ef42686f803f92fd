/* edit.c — quality and speed of the editing models on the world, whose ground truth is used here
 * only to score (and, for now, as the masks: see MASKS below):
 *   - inpainter: PSNR inside the hole against the exact remove-counterfactual, learned vs classical
 *     (pooled over every hole pixel of every removal of the test images);
 *   - replacer: PSNR of the foreground pixels against the input; the share of results whose
 *     background a water/land classifier (logistic regression on 8×8 colour thumbnails plus colour
 *     statistics, trained here on the corpus's pretrain images) judges to be of the alternative's
 *     kind; the plate bank is built by `aspire edit plates`' stage from the set's own training
 *     images (captions by the shipped captioner, background phrases by the extractor);
 *   - images per second of each (in memory, no PNG decoding), at the thread count given.
 * On the corpus's test part and on a task dataset's test counterfactuals. Last line: one JSON object.
 *
 * MASKS: the world's true instance masks (label map), dilated by 1 px as the segmenter's will be
 * (10 px at 512 px); the segmenter's own masks replace them when it is merged.
 *
 *   build/bench/edit --corpus DIR --task DIR [--model FILE] [--limit N] [--plates N] [--threads N]
 *                    [--work DIR] [--sheet PNG] */
#include "aspire/edit.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/inpaint.h"
#include "aspire/logreg.h"
#include "aspire/replace.h"
#include "aspire/sheet.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RM 5
#define NFEAT (8 * 8 * 3 + 6)

typedef struct item {
    aspire_image img, bg_cf;
    uint8_t *labels;
    int kind;                         /* 1 water, 0 land */
    char bg_alt[32];                  /* the background counterfactual's background */
    int nrm, rm_k[MAX_RM];
    aspire_image rm_cf[MAX_RM];
} item;

typedef struct set {
    const char *name, *dir, *truth;
    item *it;
    int n;
} set;

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

/* MASKS: object k's instance mask (label k + 1), or every object's (k < 0), dilated by 1 px. */
static uint8_t *truth_mask(const item *it, int k) {
    int64_t n = (int64_t)it->img.w * it->img.h;
    uint8_t *m = aspire_malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) m[i] = k < 0 ? it->labels[i] != 0 : it->labels[i] == k + 1;
    aspire_mask_dilate(m, it->img.w, it->img.h, 1);
    return m;
}

/* ---- inpainting -------------------------------------------------------------------------------- */
typedef struct rm_case { int item, r; uint8_t *mask; } rm_case;

typedef struct inpaint_score { double sse, npx, img_s, img_s_cpu; int ncases; } inpaint_score;

static rm_case *make_cases(const set *s, int *ncases) {
    int n = 0;
    for (int i = 0; i < s->n; i++) n += s->it[i].nrm;
    rm_case *c = calloc((size_t)(n ? n : 1), sizeof *c);
    *ncases = 0;
    for (int i = 0; i < s->n; i++)
        for (int r = 0; r < s->it[i].nrm; r++) {
            uint8_t *m = truth_mask(&s->it[i], s->it[i].rm_k[r]);
            int64_t area = 0;
            for (int64_t p = 0; p < (int64_t)s->it[i].img.w * s->it[i].img.h; p++) area += m[p];
            if (!area) { aspire_free(m, 0); continue; }  /* an object hidden by others */
            c[(*ncases)++] = (rm_case){i, r, m};
        }
    return c;
}

/* Runs the inpainter over every case in batches of 64, timing the calls; scores the hole pixels.
 * keep (may be NULL) receives the results of the first nkeep cases. */
static inpaint_score run_inpaint(aspire_inpainter *inp, const set *s, const rm_case *c, int n, aspire_image *keep,
                                 int nkeep) {
    inpaint_score sc = {0};
    aspire_image imgs[64], outs[64];
    const uint8_t *masks[64];
    double t = 0.0, tc = 0.0;
    for (int i0 = 0; i0 < n; i0 += 64) {
        int nb = n - i0 < 64 ? n - i0 : 64;
        for (int b = 0; b < nb; b++) {
            imgs[b] = s->it[c[i0 + b].item].img;
            masks[b] = c[i0 + b].mask;
        }
        double t0 = aspire_now(), c0 = cpu_now();
        if (aspire_inpainter_run(inp, imgs, masks, nb, outs)) die("inpaint");
        t += aspire_now() - t0;
        tc += cpu_now() - c0;
        for (int b = 0; b < nb; b++) {
            const aspire_image *cf = &s->it[c[i0 + b].item].rm_cf[c[i0 + b].r];
            for (int64_t p = 0; p < (int64_t)cf->w * cf->h; p++)
                for (int ch = 0; masks[b][p] && ch < 3; ch++) {
                    double d = (double)outs[b].data[3 * p + ch] - cf->data[3 * p + ch];
                    sc.sse += d * d;
                    sc.npx += 1;
                }
            if (i0 + b < nkeep) keep[i0 + b] = outs[b];
            else aspire_image_destroy(&outs[b]);
        }
    }
    sc.ncases = n;
    sc.img_s = t > 0 ? n / t : 0;
    sc.img_s_cpu = tc > 0 ? n / tc : 0;
    return sc;
}

/* ---- the background classifier (water vs land) --------------------------------------------------- */
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
static void train_bgclf(aspire_logreg *m, const char *corpus, int limit) {
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
    if (aspire_standardizer_fit(&st, x, n, NFEAT) || aspire_logreg_init(m, NFEAT, 2)) die("bg classifier");
    aspire_standardizer_apply(&st, x, n);
    if (aspire_logreg_fit(m, x, y, NULL, n, &lo, NULL)) die("bg classifier");
    aspire_standardizer_fold(&st, m);
    aspire_standardizer_destroy(&st);
    printf("background classifier: logistic regression on %d features, trained on %d corpus pretrain images\n", NFEAT, n);
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
/* MASKS for the plate bank: every object of the first `limit` training images (split 0), written as
 * PNGs in the dataset's layout, then the plates stage over them. */
static void build_plates(const set *s, const char *work, int limit, const char *model, int threads, char *plates,
                         size_t cap) {
    char masks[4096];
    snprintf(masks, sizeof masks, "%s/%s-masks", work, s->name);
    snprintf(plates, cap, "%s/%s-plates", work, s->name);
    char *path = aspire_path_join(s->truth, "scenes.jsonl");
    char *buf = NULL;
    size_t nb = 0;
    if (aspire_read_file(path, &buf, &nb)) die(path);
    int n = 0;
    for (char *line = strtok(buf, "\n"); line && n < 2 * limit + 64; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        if (o && cJSON_GetNumberValue(cJSON_GetObjectItem(o, "split")) == 0) {
            char *mp = aspire_path_join(s->truth, cJSON_GetStringValue(cJSON_GetObjectItem(o, "mask")));
            char *out = aspire_path_join(masks, cJSON_GetStringValue(cJSON_GetObjectItem(o, "img_filename")));
            aspire_image m = {0};
            if (aspire_image_load(&m, mp, 1)) die(mp);
            for (int64_t p = 0; p < (int64_t)m.w * m.h; p++) m.data[p] = m.data[p] ? 255 : 0;
            char *slash = strrchr(out, '/');
            *slash = 0;
            aspire_mkdir_p(out);
            *slash = '/';
            if (aspire_image_save_png_ex(&m, out, ASPIRE_ATOMIC_NOSYNC)) die(out);
            aspire_image_destroy(&m);
            aspire_strfree(mp);
            aspire_strfree(out);
            n++;
        }
        cJSON_Delete(o);
    }
    aspire_free(buf, nb + 1);
    aspire_strfree(path);
    aspire_edit_plates_opts o;
    aspire_edit_plates_opts_default(&o);
    o.data = s->dir;
    o.masks = masks;
    o.out = plates;
    o.model = model;
    o.limit = limit;
    o.threads = threads;
    double t0 = aspire_now();
    if (aspire_edit_plates_run(&o)) die("edit plates");
    printf("%s: plate bank of up to %d plates from its training images in %.1f s: %s\n", s->name, limit,
           aspire_now() - t0, plates);
}

typedef struct replace_score { double fg_sse, fg_npx, img_s, img_s_cpu, cf_acc; int n, right; } replace_score;

/* keep (may be NULL): the results of the first nkeep items. */
static replace_score run_replace(aspire_replacer *r, const set *s, const aspire_logreg *clf, aspire_image *keep,
                                 int nkeep) {
    replace_score sc = {0};
    double t = 0.0, tc = 0.0;
    int cf_right = 0;
    for (int i = 0; i < s->n; i++) {
        const item *it = &s->it[i];
        if (!it->bg_cf.data) continue;
        uint8_t *fg = truth_mask(it, -1);
        aspire_image out;
        double t0 = aspire_now(), c0 = cpu_now();
        if (aspire_replacer_run(r, &it->img, fg, NULL, it->bg_alt, (uint64_t)i, &out)) die("replace");
        t += aspire_now() - t0;
        tc += cpu_now() - c0;
        for (int64_t p = 0; p < (int64_t)out.w * out.h; p++)
            for (int ch = 0; fg[p] && ch < 3; ch++) {
                double d = (double)out.data[3 * p + ch] - it->img.data[3 * p + ch];
                sc.fg_sse += d * d;
                sc.fg_npx += 1;
            }
        sc.right += bg_kind(clf, &out) == !it->kind;
        cf_right += bg_kind(clf, &it->bg_cf) == !it->kind;
        sc.n++;
        if (i < nkeep) keep[i] = out;
        else aspire_image_destroy(&out);
        aspire_free(fg, 0);
    }
    sc.img_s = t > 0 ? sc.n / t : 0;
    sc.img_s_cpu = tc > 0 ? sc.n / tc : 0;
    sc.cf_acc = sc.n ? (double)cf_right / sc.n : 0;
    return sc;
}

/* ---- the contact sheet --------------------------------------------------------------------------- */
static void write_sheet(const set *s, const rm_case *c, int n, aspire_image *learned, aspire_image *classical,
                        aspire_image *replaced, const char *path) {
    static const char *heads[] = {"IMAGE", "MASK", "LEARNED", "TELEA", "TRUE RM", "REPLACED", "TRUE BG"};
    aspire_sheet *sh = NULL;
    if (aspire_sheet_new(&sh, 7, 128, 2)) die("sheet");
    for (int k = 0; k < 7; k++) aspire_sheet_header(sh, k, heads[k]);
    for (int i = 0; i < n; i++) {
        const item *it = &s->it[c[i].item];
        aspire_sheet_add(sh, &it->img, NULL);
        aspire_sheet_add_mask(sh, c[i].mask, it->img.w, it->img.h, NULL);
        aspire_sheet_add(sh, &learned[i], NULL);
        aspire_sheet_add(sh, &classical[i], NULL);
        aspire_sheet_add(sh, &it->rm_cf[c[i].r], NULL);
        if (replaced[c[i].item].data) aspire_sheet_add(sh, &replaced[c[i].item], it->bg_alt);
        else aspire_sheet_skip(sh);
        if (it->bg_cf.data) aspire_sheet_add(sh, &it->bg_cf, NULL);
        else aspire_sheet_skip(sh);
    }
    if (aspire_sheet_save(sh, path)) die(path);
    aspire_sheet_free(sh);
    printf("contact sheet: %s (%d rows)\n", path, n);
}

/* ---- one set ------------------------------------------------------------------------------------- */
typedef struct set_result { inpaint_score learned, classical; replace_score rep; double clf_acc; } set_result;

#define SHEET_ROWS 8

static set_result eval_set(const set *s, aspire_inpainter *learned, aspire_inpainter *classical, aspire_replacer *rep,
                           const aspire_logreg *clf, const char *sheet) {
    set_result r = {0};
    int nc = 0;
    rm_case *c = make_cases(s, &nc);
    /* the sheet's rows: the first removal of each of the first items */
    aspire_image kl[SHEET_ROWS] = {{0}}, kc[SHEET_ROWS] = {{0}}, kr[64] = {{0}};
    rm_case rows[SHEET_ROWS];
    int nrows = 0;
    for (int i = 0; i < nc && nrows < SHEET_ROWS; i++)
        if (c[i].r == 0 && c[i].item < 64) rows[nrows++] = c[i];
    if (sheet) {
        run_inpaint(learned, s, rows, nrows, kl, nrows);
        run_inpaint(classical, s, rows, nrows, kc, nrows);
    }
    /* warm-up, right before the timed run: the engine's first calls in a process (kernel generation, the
     * arena's first growth) take seconds; two passes over the set settle them */
    for (int w = 0; w < 2; w++) run_inpaint(learned, s, c, nc, NULL, 0);
    r.learned = run_inpaint(learned, s, c, nc, NULL, 0);
    r.classical = run_inpaint(classical, s, c, nc, NULL, 0);
    r.rep = run_replace(rep, s, clf, kr, sheet ? 64 : 0);
    int right = 0;
    for (int i = 0; i < s->n; i++) right += bg_kind(clf, &s->it[i].img) == s->it[i].kind;
    r.clf_acc = s->n ? (double)right / s->n : 0;
    if (sheet) write_sheet(s, rows, nrows, kl, kc, kr, sheet);
    for (int i = 0; i < SHEET_ROWS; i++) { aspire_image_destroy(&kl[i]); aspire_image_destroy(&kc[i]); }
    for (int i = 0; i < 64; i++) aspire_image_destroy(&kr[i]);
    for (int i = 0; i < nc; i++) aspire_free(c[i].mask, 0);
    free(c);
    printf("%s inpaint: %d removals, hole PSNR learned %.2f dB, Telea %.2f dB; learned %.0f img/s (%.0f per CPU "
           "second), Telea %.0f img/s (%.0f per CPU second)\n",
           s->name, nc, psnr(r.learned.sse, r.learned.npx), psnr(r.classical.sse, r.classical.npx), r.learned.img_s,
           r.learned.img_s_cpu, r.classical.img_s, r.classical.img_s_cpu);
    printf("%s replace: %d images, foreground PSNR %s%.2f dB, background judged of the alternative's kind %.1f %% "
           "(the true background counterfactuals: %.1f %%; the inputs' own kind: %.1f %%), %.0f img/s (%.0f per CPU second)\n",
           s->name, r.rep.n, r.rep.fg_sse == 0 ? "(bit-exact, MSE 0, shown as) " : "", psnr(r.rep.fg_sse, r.rep.fg_npx),
           r.rep.n ? 100.0 * r.rep.right / r.rep.n : 0, 100.0 * r.rep.cf_acc, 100.0 * r.clf_acc, r.rep.img_s, r.rep.img_s_cpu);
    return r;
}

int main(int argc, char **argv) {
    const char *corpus = "build/bench-data/edit-corpus", *task = "build/bench-data/world-task", *model = NULL;
    const char *work = "build/bench-data/edit-work", *sheet = NULL;
    int limit = 500, nplates = 1000, threads = 1, clf_n = 4000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--corpus") && v) corpus = argv[++i];
        else if (!strcmp(a, "--task") && v) task = argv[++i];
        else if (!strcmp(a, "--model") && v) model = argv[++i];
        else if (!strcmp(a, "--work") && v) work = argv[++i];
        else if (!strcmp(a, "--sheet") && v) sheet = argv[++i];
        else if (!strcmp(a, "--limit") && v) limit = atoi(argv[++i]);
        else if (!strcmp(a, "--plates") && v) nplates = atoi(argv[++i]);
        else if (!strcmp(a, "--threads") && v) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--corpus DIR] [--task DIR] [--model FILE] [--work DIR] [--sheet PNG] "
                            "[--limit N] [--plates N] [--threads N]\n", argv[0]);
            return 2;
        }
    }
    if (limit < 1 || nplates < 1) { fprintf(stderr, "bench edit: --limit and --plates must be positive\n"); return 2; }
    aspire_set_threads(threads);
    char model_buf[4096];
    if (!model) model = aspire_inpaint_default_model(getenv("ASPIRE_MODELS"), model_buf, sizeof model_buf);
    aspire_inpainter *learned = NULL, *classical = NULL;
    if (aspire_inpainter_new_learned(model, threads, 64, &learned)) die(model);
    if (aspire_inpainter_new_classical(0, &classical)) die("telea");
    aspire_mkdir_p(work);
    printf("bench edit: threads %d, model %s; MASKS: the world's true instance masks dilated by 1 px (not yet the "
           "segmenter's)\n", threads, model);
    aspire_logreg clf;
    train_bgclf(&clf, corpus, clf_n);
    char truth[4096];
    snprintf(truth, sizeof truth, "%s_truth", task);
    set sets[2] = {{"corpus", corpus, corpus, NULL, 0}, {"task", task, truth, NULL, 0}};
    set_result res[2];
    for (int k = 0; k < 2; k++) {
        load_set(&sets[k], limit);
        char plates[4096];
        build_plates(&sets[k], work, nplates, model, threads, plates, sizeof plates);
        aspire_replacer *rep = NULL;
        if (aspire_replacer_new_plates(plates, -1, &rep)) die(plates);
        res[k] = eval_set(&sets[k], learned, classical, rep, &clf, k == 0 ? sheet : NULL);
        aspire_replacer_free(rep);
        free_set(&sets[k]);
    }
    printf("{\"inpaint_psnr\": %.3f, \"inpaint_psnr_classical\": %.3f, \"replace_fg_psnr\": %.3f, "
           "\"replace_bg_acc\": %.4f, \"inpaint_img_s\": %.1f, \"replace_img_s\": %.1f, \"inpaint_img_s_classical\": %.1f, "
           "\"task_inpaint_psnr\": %.3f, \"task_inpaint_psnr_classical\": %.3f, \"task_replace_fg_psnr\": %.3f, "
           "\"task_replace_bg_acc\": %.4f, \"inpaint_img_s_cpu\": %.1f, \"replace_img_s_cpu\": %.1f, \"threads\": %d, "
           "\"masks\": \"world truth, dilated 1 px\"}\n",
           psnr(res[0].learned.sse, res[0].learned.npx), psnr(res[0].classical.sse, res[0].classical.npx),
           psnr(res[0].rep.fg_sse, res[0].rep.fg_npx), res[0].rep.n ? (double)res[0].rep.right / res[0].rep.n : 0,
           res[0].learned.img_s, res[0].rep.img_s, res[0].classical.img_s, psnr(res[1].learned.sse, res[1].learned.npx),
           psnr(res[1].classical.sse, res[1].classical.npx), psnr(res[1].rep.fg_sse, res[1].rep.fg_npx),
           res[1].rep.n ? (double)res[1].rep.right / res[1].rep.n : 0, res[0].learned.img_s_cpu, res[0].rep.img_s_cpu,
           threads);
    aspire_logreg_destroy(&clf);
    aspire_inpainter_free(learned);
    aspire_inpainter_free(classical);
    return 0;
}
