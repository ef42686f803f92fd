/* segment.c — the built-in segmenter's quality and speed on the world corpus's test part, with the
 * instance masks and scene graphs as ground truth (used here only to score). For every test image
 * and every phrase of a fixed list (each concept's name, "bird", "tree"), the phrase is present when
 * the image holds one of the concepts it names; its true mask is the union of their pixels
 * (undilated). Reported: mIoU over the present pairs (a missed phrase counts IoU 0), broken down by
 * species name, "bird", each context object and "tree", and by the true mask's size; detection
 * recall (present pairs found with IoU >= 0.5); rejection (absent pairs called absent); masks per
 * second through aspire_segmenter_segment (in-memory images, batches of --batch, no dilation). The
 * last line is one JSON object. --sheet writes a contact sheet (image | mask overlays).
 *
 *   build/bench/segment [--corpus DIR] [--model FILE] [--limit N] [--batch N] [--threads N] [--sheet PNG]
 *
 * Without --corpus it writes the default world corpus (seed 0) to a temporary folder first. */
#include "aspire/segmenter.h"
#include "aspire/world.h"

#include <ftw.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

#define NSIZE 3
static const char *size_names[NSIZE] = {"small (< 64 px)", "medium (64-255 px)", "large (>= 256 px)"};

typedef struct tally { double iou; int n, hit; } tally;

typedef struct phrase_row {
    const char *phrase;
    uint64_t set;
    int kind;        /* 0 species, 1 "bird", 2 context object, 3 "tree" */
    tally present;
    int absent, rejected;
} phrase_row;

typedef struct bench_totals {
    tally all, by_size[NSIZE];
    int absent, rejected;
    long long masks;
    double seconds, cpu_seconds;  /* wall clock, and this process's CPU time, inside the segment calls */
} bench_totals;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static void add(tally *t, double iou, int hit) { t->iou += iou; t->n++; t->hit += hit; }
static double mean(const tally *t) { return t->n ? t->iou / t->n : 0; }

/* Scores one phrase's masks for images [start, start + n). */
static void score(const aspire_seg_corpus *c, int start, int n, phrase_row *row, const aspire_segment *s,
                  bench_totals *tot, uint8_t *truth) {
    const int S = c->size, S2 = S * S;
    for (int i = 0; i < n; i++) {
        const uint8_t *lb = c->labels + (size_t)(start + i) * S2;
        int area = 0;
        for (int p = 0; p < S2; p++) area += (truth[p] = (lb[p] && (row->set >> (lb[p] - 1) & 1)) ? 255 : 0) != 0;
        if (!area) {
            row->absent++;
            row->rejected += !s[i].present;
            tot->absent++;
            tot->rejected += !s[i].present;
            continue;
        }
        double iou = s[i].present ? aspire_mask_iou(s[i].mask, truth, S, S) : 0.0;
        int hit = s[i].present && iou >= 0.5;
        add(&row->present, iou, hit);
        add(&tot->all, iou, hit);
        add(&tot->by_size[area < 64 ? 0 : area < 256 ? 1 : 2], iou, hit);
    }
}

static int run_phrase(aspire_segmenter *seg, const aspire_seg_corpus *c, int batch, phrase_row *row, bench_totals *tot) {
    const int S = c->size;
    aspire_image *imgs = calloc((size_t)batch, sizeof *imgs);
    aspire_segment *s = calloc((size_t)batch, sizeof *s);
    uint8_t *truth = malloc((size_t)S * S);
    int rc = imgs && s && truth ? ASPIRE_OK : ASPIRE_ERR_NOMEM;
    for (int start = 0; !rc && start < c->n; start += batch) {
        int nb = c->n - start < batch ? c->n - start : batch;
        for (int i = 0; i < nb; i++) {
            imgs[i].w = imgs[i].h = S;
            imgs[i].c = 3;
            imgs[i].data = c->pixels + (size_t)(start + i) * S * S * 3;  /* borrowed, never destroyed */
        }
        double t0 = aspire_now(), c0 = cpu_now();
        rc = aspire_segmenter_segment(seg, imgs, nb, row->phrase, 0, s);
        tot->seconds += aspire_now() - t0;
        tot->cpu_seconds += cpu_now() - c0;
        tot->masks += nb;
        if (!rc) score(c, start, nb, row, s, tot, truth);
        for (int i = 0; i < nb; i++) aspire_segment_destroy(&s[i]);
    }
    free(imgs);
    free(s);
    free(truth);
    return rc;
}

static void report(const phrase_row *rows, int nrows, const bench_totals *tot, int threads, const char *model) {
    static const char *kinds[] = {"species", "group", "object", "group"};
    printf("%-15s %-8s %7s %7s %7s %9s\n", "phrase", "kind", "present", "mIoU", "recall", "rejection");
    tally kind_t[3] = {{0, 0, 0}};
    for (int r = 0; r < nrows; r++) {
        const phrase_row *p = &rows[r];
        printf("%-15s %-8s %7d %7.4f %7.4f %9.4f\n", p->phrase, kinds[p->kind], p->present.n, mean(&p->present),
               p->present.n ? (double)p->present.hit / p->present.n : 0, p->absent ? (double)p->rejected / p->absent : 0);
        tally *k = &kind_t[p->kind == 0 ? 0 : p->kind == 2 ? 2 : 1];
        if (p->kind != 3) { k->iou += p->present.iou; k->n += p->present.n; k->hit += p->present.hit; }
    }
    printf("\nby kind:  species mIoU %.4f (%d)   \"bird\" mIoU %.4f (%d)   objects mIoU %.4f (%d)\n", mean(&kind_t[0]),
           kind_t[0].n, mean(&kind_t[1]), kind_t[1].n, mean(&kind_t[2]), kind_t[2].n);
    printf("by size of the true mask at 64x64:\n");
    for (int k = 0; k < NSIZE; k++)
        printf("  %-20s %6d pairs  mIoU %.4f  recall %.4f\n", size_names[k], tot->by_size[k].n, mean(&tot->by_size[k]),
               tot->by_size[k].n ? (double)tot->by_size[k].hit / tot->by_size[k].n : 0);
    double recall = tot->all.n ? (double)tot->all.hit / tot->all.n : 0;
    double reject = tot->absent ? (double)tot->rejected / tot->absent : 0;
    double mps = tot->seconds > 0 ? tot->masks / tot->seconds : 0;
    double cps = tot->cpu_seconds > 0 ? tot->masks / tot->cpu_seconds : 0;
    printf("\nall: %d present pairs mIoU %.4f, recall@0.5 %.4f; %d absent pairs rejected %.4f\n", tot->all.n,
           mean(&tot->all), recall, tot->absent, reject);
    printf("speed: %lld masks in %.2f s wall = %.1f masks/s; %.2f s of CPU = %.1f masks per CPU-second (%d threads)\n",
           tot->masks, tot->seconds, mps, tot->cpu_seconds, cps, threads);
    printf("{\"seg_miou\": %.4f, \"seg_recall\": %.4f, \"seg_reject\": %.4f, \"seg_masks_s\": %.1f, "
           "\"seg_miou_species\": %.4f, \"seg_miou_bird\": %.4f, \"seg_miou_objects\": %.4f, \"seg_miou_small\": %.4f, "
           "\"seg_miou_medium\": %.4f, \"seg_miou_large\": %.4f, \"seg_masks_cpu_s\": %.1f, \"present_pairs\": %d, "
           "\"absent_pairs\": %d, \"threads\": %d, \"model\": \"%s\"}\n",
           mean(&tot->all), recall, reject, mps, mean(&kind_t[0]), mean(&kind_t[1]), mean(&kind_t[2]),
           mean(&tot->by_size[0]), mean(&tot->by_size[1]), mean(&tot->by_size[2]), cps, tot->all.n, tot->absent, threads,
           model);
}

/* ---- the contact sheet: per row an image, then the masks of four phrases over it (red tint, box
 * in yellow), each labelled with the phrase and its IoU or "absent" ---- */
#define ZOOM 2
#define LABEL_H 26
#define NCOLS 5

static void put_text(aspire_image *img, int x, int y, const char *text) {
    static char quads[32000];
    char copy[48];
    snprintf(copy, sizeof copy, "%s", text);
    int nq = stb_easy_font_print(0, 0, copy, NULL, quads, sizeof quads);
    for (int q = 0; q < nq; q++) {
        const float *a = (const float *)(quads + q * 64), *b = (const float *)(quads + q * 64 + 32);
        for (int yy = y + (int)a[1]; yy < y + (int)b[1] && yy < img->h; yy++)
            for (int xx = x + (int)a[0]; xx < x + (int)b[0] && xx < img->w; xx++)
                if (xx >= 0 && yy >= 0) memset(img->data + ((size_t)yy * img->w + xx) * 3, 20, 3);
    }
}

/* Draws image i (zoomed) at (ox, oy), tinted where mask is set, with the box outlined. */
static void put_tile(aspire_image *sheet, const aspire_seg_corpus *c, int i, const aspire_segment *s, int ox, int oy) {
    const int S = c->size;
    const uint8_t *px = c->pixels + (size_t)i * S * S * 3;
    for (int y = 0; y < S * ZOOM; y++)
        for (int x = 0; x < S * ZOOM; x++) {
            int sx = x / ZOOM, sy = y / ZOOM;
            const uint8_t *p = px + ((size_t)sy * S + sx) * 3;
            uint8_t *d = sheet->data + ((size_t)(oy + y) * sheet->w + ox + x) * 3;
            int in = s && s->present && s->mask[sy * S + sx];
            int inx = s && sx >= s->box.x0 && sx < s->box.x1, iny = s && sy >= s->box.y0 && sy < s->box.y1;
            int edge = s && s->present && (((sx == s->box.x0 || sx == s->box.x1 - 1) && iny) ||
                                           ((sy == s->box.y0 || sy == s->box.y1 - 1) && inx));
            d[0] = in ? (uint8_t)((p[0] + 255) / 2) : p[0];
            d[1] = in ? (uint8_t)(p[1] / 2) : p[1];
            d[2] = in ? (uint8_t)(p[2] / 2) : p[2];
            if (edge && (x % ZOOM == 0 || y % ZOOM == 0)) { d[0] = 255; d[1] = 230; d[2] = 0; }
        }
}

/* The four phrases of image i: its species, "bird", an object it holds (else "tree"), and an object
 * it lacks. */
static void sheet_phrases(const aspire_seg_corpus *c, int i, const char **ph, uint64_t *sets) {
    uint64_t pres = c->present[i];
    int species = 0, obj = -1, miss = -1;
    for (int e = 0; e < ASPIRE_WORLD_NEMOJI; e++) {
        if ((pres >> e & 1) && e < ASPIRE_WORLD_NBIRDS) species = e;
        if ((pres >> e & 1) && e >= ASPIRE_WORLD_NBIRDS && obj < 0) obj = e;
        if (!(pres >> e & 1) && e >= ASPIRE_WORLD_NBIRDS && (miss < 0 || e == ASPIRE_WORLD_SAILBOAT)) miss = e;
    }
    ph[0] = aspire_world_emoji_name(species); sets[0] = UINT64_C(1) << species;
    ph[1] = "bird"; sets[1] = (UINT64_C(1) << ASPIRE_WORLD_NBIRDS) - 1;
    if (obj >= 0) { ph[2] = aspire_world_emoji_name(obj); sets[2] = UINT64_C(1) << obj; }
    else { ph[2] = "tree"; sets[2] = (UINT64_C(1) << ASPIRE_WORLD_PINE) | (UINT64_C(1) << ASPIRE_WORLD_TREE); }
    ph[3] = aspire_world_emoji_name(miss); sets[3] = UINT64_C(1) << miss;
}

static int sheet_row(aspire_segmenter *seg, const aspire_seg_corpus *c, int i, aspire_image *sheet, int oy) {
    const int S = c->size, tile = S * ZOOM + 4;
    aspire_image img = {S, S, 3, c->pixels + (size_t)i * S * S * 3};
    const char *ph[4];
    uint64_t sets[4];
    sheet_phrases(c, i, ph, sets);
    put_tile(sheet, c, i, NULL, 2, oy);
    put_text(sheet, 4, oy + S * ZOOM + 3, "image");
    uint8_t truth[64 * 64];
    for (int k = 0; k < 4; k++) {
        aspire_segment s;
        int rc = aspire_segmenter_segment(seg, &img, 1, ph[k], 0, &s);
        if (rc) return rc;
        for (int p = 0; p < S * S; p++) {
            uint8_t l = c->labels[(size_t)i * S * S + p];
            truth[p] = l && (sets[k] >> (l - 1) & 1) ? 255 : 0;
        }
        char label[64];
        if (s.present) snprintf(label, sizeof label, "%s: IoU %.2f", ph[k], aspire_mask_iou(s.mask, truth, S, S));
        else snprintf(label, sizeof label, "%s: absent", ph[k]);
        put_tile(sheet, c, i, &s, 2 + (k + 1) * tile, oy);
        put_text(sheet, 4 + (k + 1) * tile, oy + S * ZOOM + 3, label);
        aspire_segment_destroy(&s);
    }
    return ASPIRE_OK;
}

static int segbench_sheet(aspire_segmenter *seg, const aspire_seg_corpus *c, const char *path) {
    if (c->size > 64) return aspire_error(ASPIRE_ERR_ARG, "sheet: images of %d px (64 at most)", c->size);
    const int rows = 6, tile = c->size * ZOOM + 4, row_h = c->size * ZOOM + LABEL_H;
    aspire_image sheet;
    int rc = aspire_image_init(&sheet, NCOLS * tile + 2, rows * row_h + 4, 3);
    if (rc) return rc;
    memset(sheet.data, 245, (size_t)sheet.w * sheet.h * 3);
    for (int i = 0, r = 0; !rc && i < c->n && r < rows; i++) {
        int nobj = 0;
        for (int e = 0; e < ASPIRE_WORLD_NEMOJI; e++) nobj += (int)(c->present[i] >> e & 1);
        if (nobj < 2 + (r % 2)) continue;  /* scenes with objects, some with two */
        rc = sheet_row(seg, c, i, &sheet, 2 + r * row_h);
        r++;
    }
    if (!rc) rc = aspire_image_save_png(&sheet, path);
    aspire_image_destroy(&sheet);
    return rc;
}

static int make_rows(const aspire_segnet *net, phrase_row *rows) {
    int n = 0;
    for (int e = 0; e < ASPIRE_WORLD_NEMOJI; e++) {
        rows[n].phrase = e == ASPIRE_WORLD_TREE ? "deciduous tree" : aspire_world_emoji_name(e);
        rows[n].set = UINT64_C(1) << e;
        rows[n++].kind = e < ASPIRE_WORLD_NBIRDS ? 0 : 2;
        if (e == ASPIRE_WORLD_NBIRDS - 1) { rows[n].phrase = "bird"; rows[n].set = (UINT64_C(1) << ASPIRE_WORLD_NBIRDS) - 1; rows[n++].kind = 1; }
    }
    rows[n].phrase = "tree";
    rows[n].set = (UINT64_C(1) << ASPIRE_WORLD_PINE) | (UINT64_C(1) << ASPIRE_WORLD_TREE);
    rows[n++].kind = 3;
    /* the model must read each phrase as the set scored here */
    for (int r = 0; r < n; r++) {
        uint64_t set = 0;
        if (aspire_segnet_resolve(net, rows[r].phrase, &set, NULL, 0)) return -1;
        if (set != rows[r].set) {
            aspire_error(ASPIRE_ERR_FORMAT, "the model reads '%s' as another set of concepts", rows[r].phrase);
            return -1;
        }
    }
    return n;
}

int main(int argc, char **argv) {
    const char *corpus = NULL, *model = NULL, *sheet = NULL;
    int limit = 0, batch = 64, threads = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--corpus") && v) corpus = argv[++i];
        else if (!strcmp(a, "--model") && v) model = argv[++i];
        else if (!strcmp(a, "--sheet") && v) sheet = argv[++i];
        else if (!strcmp(a, "--limit") && v) limit = atoi(argv[++i]);
        else if (!strcmp(a, "--batch") && v) batch = atoi(argv[++i]);
        else if (!strcmp(a, "--threads") && v) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--corpus DIR] [--model FILE] [--limit N] [--batch N] [--threads N] [--sheet PNG]\n",
                    argv[0]);
            return 2;
        }
    }
    if (batch < 1) { fprintf(stderr, "segment: bad --batch\n"); return 2; }
    aspire_set_threads(threads);
    char model_buf[4096];
    if (!model) model = aspire_segmenter_default_model(getenv("ASPIRE_MODELS"), model_buf, sizeof model_buf);
    aspire_segnet *net = NULL;  /* owned by seg once that is made */
    aspire_segmenter *seg = NULL;
    if (aspire_segnet_load(&net, model, NULL) || aspire_segmenter_from_segnet(&seg, net, threads)) {
        fprintf(stderr, "segment: %s\n", aspire_errmsg());
        return 1;
    }
    char tmpdir[] = "/tmp/aspire-bench-segcorpus-XXXXXX";
    int made_tmp = 0, rc = 0;
    if (!corpus) {
        if (!mkdtemp(tmpdir)) { fprintf(stderr, "segment: cannot make a temporary folder\n"); return 1; }
        made_tmp = 1;
        aspire_world_corpus_opts co;
        aspire_world_corpus_opts_default(&co);
        co.out = corpus = tmpdir;
        co.progress = 0;
        rc = aspire_world_corpus_write(&co);
    }
    aspire_seg_corpus c;
    memset(&c, 0, sizeof c);
    if (!rc) rc = aspire_seg_corpus_load(&c, corpus, 2, limit, 64);
    if (made_tmp) nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    phrase_row rows[ASPIRE_WORLD_NEMOJI + 2];
    memset(rows, 0, sizeof rows);
    int nrows = rc ? 0 : make_rows(net, rows);
    if (nrows < 0) rc = 1;
    if (rc) { fprintf(stderr, "segment: %s\n", aspire_errmsg()); aspire_segmenter_free(seg); return 1; }
    fprintf(stderr, "segment: %d test images of %s, %d phrases, model %s, %d thread(s)\n", c.n, corpus, nrows, model, threads);
    bench_totals tot;
    memset(&tot, 0, sizeof tot);
    for (int r = 0; !rc && r < nrows; r++) rc = run_phrase(seg, &c, batch, &rows[r], &tot);
    if (!rc && sheet) rc = segbench_sheet(seg, &c, sheet);
    if (rc) fprintf(stderr, "segment: %s\n", aspire_errmsg());
    else report(rows, nrows, &tot, threads, model);
    aspire_seg_corpus_destroy(&c);
    aspire_segmenter_free(seg);
    return rc ? 1 : 0;
}
