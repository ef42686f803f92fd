/* cmd_segment.c — `aspire segment`: grounds a phrase in an image (or every image of a folder) with
 * the built-in segmenter and writes the mask PNG(s) (0/255 grey, the image's size), printing the
 * box and area or "absent". */
#define _XOPEN_SOURCE 700
#include "cli/cli.h"
#include "cli/cli_env.h"

#include "aspire/fileio.h"
#include "aspire/progress.h"
#include "aspire/segmenter.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define CMD "segment"
#define BATCH 64

typedef struct seg_args {
    const char *image, *images, *phrase, *out, *model;
    int dilate, box, threads, quiet;
} seg_args;

/* ---- folder listing (nftw has no user pointer: one listing at a time) ---------------------- */
static struct { char **paths; int n, cap; size_t root; int failed; } listing;

static int is_image_name(const char *p) {
    const char *dot = strrchr(p, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0);
}

static int list_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)ftw;
    if (flag != FTW_F || !is_image_name(path)) return 0;
    if (listing.n == listing.cap) {
        int nc = listing.cap ? listing.cap * 2 : 256;
        char **p = aspire_realloc(listing.paths, (size_t)listing.cap * sizeof *p, (size_t)nc * sizeof *p);
        if (!p) { listing.failed = 1; return 1; }
        listing.paths = p;
        listing.cap = nc;
    }
    const char *rel = path + listing.root;
    while (*rel == '/') rel++;
    if (!(listing.paths[listing.n] = aspire_strdup(rel))) { listing.failed = 1; return 1; }
    listing.n++;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void listing_free(void) {
    for (int i = 0; i < listing.n; i++) aspire_strfree(listing.paths[i]);
    aspire_free(listing.paths, 0);
    memset(&listing, 0, sizeof listing);
}

/* ---- output ------------------------------------------------------------------------------------ */

/* --box: the mask becomes its filled bounding box. */
static void fill_box(aspire_segment *s) {
    if (!s->present) return;
    for (int y = 0; y < s->h; y++)
        for (int x = 0; x < s->w; x++)
            s->mask[(size_t)y * s->w + x] =
                (x >= s->box.x0 && x < s->box.x1 && y >= s->box.y0 && y < s->box.y1) ? ASPIRE_MASK_ON : 0;
    s->area = (int64_t)(s->box.x1 - s->box.x0) * (s->box.y1 - s->box.y0);
}

static void print_result(const char *name, const aspire_segment *s) {
    if (s->present)
        printf("%s: box %d %d %d %d (x0 y0 x1 y1), area %lld px of %dx%d, score %.3f\n", name, s->box.x0, s->box.y0,
               s->box.x1, s->box.y1, (long long)s->area, s->w, s->h, (double)s->score);
    else
        printf("%s: absent (score %.3f)\n", name, (double)s->score);
}

static int one_image(aspire_segmenter *seg, const seg_args *a) {
    aspire_image img;
    if (aspire_image_load(&img, a->image, 3)) return cli_fail(CMD, NULL);
    aspire_segment s;
    int rc = aspire_segmenter_segment(seg, &img, 1, a->phrase, a->dilate, &s);
    aspire_image_destroy(&img);
    if (!rc && a->box) fill_box(&s);
    if (!rc) rc = aspire_mask_save_png(s.mask, s.w, s.h, a->out);
    if (!rc) print_result(a->image, &s);
    aspire_segment_destroy(&s);
    return rc ? cli_fail(CMD, NULL) : 0;
}

/* masks/<rel path with .png>, folders made as needed. */
static char *mask_path(const char *outdir, const char *rel) {
    char *p = aspire_path_join(outdir, rel);
    if (!p) return NULL;
    char *dot = strrchr(p, '.');
    if (dot && strlen(dot) >= 4) strcpy(dot, ".png");
    char *slash = strrchr(p, '/');
    if (slash) {
        *slash = 0;
        int rc = aspire_mkdir_p(p);
        *slash = '/';
        if (rc) { aspire_strfree(p); return NULL; }
    }
    return p;
}

static int write_batch(const seg_args *a, aspire_segment *s, int start, int nb, FILE *csv, int *found) {
    for (int i = 0; i < nb; i++) {
        if (a->box) fill_box(&s[i]);
        char *mp = mask_path(a->out, listing.paths[start + i]);
        if (!mp) return ASPIRE_ERR_IO;
        int rc = aspire_mask_save_png_ex(s[i].mask, s[i].w, s[i].h, mp, ASPIRE_ATOMIC_NOSYNC);
        aspire_strfree(mp);
        if (rc) return rc;
        *found += s[i].present;
        fprintf(csv, "%s,%d,%d,%d,%d,%d,%lld,%.4f\n", listing.paths[start + i], s[i].present, s[i].box.x0, s[i].box.y0,
                s[i].box.x1, s[i].box.y1, (long long)s[i].area, (double)s[i].score);
    }
    return ASPIRE_OK;
}

static int folder_batch(aspire_segmenter *seg, const seg_args *a, int start, int nb, FILE *csv, int *found) {
    aspire_image imgs[BATCH];
    aspire_segment s[BATCH];
    memset(imgs, 0, sizeof imgs);
    memset(s, 0, sizeof s);
    int rc = ASPIRE_OK;
    for (int i = 0; i < nb && !rc; i++) {
        char *p = aspire_path_join(a->images, listing.paths[start + i]);
        rc = p ? aspire_image_load(&imgs[i], p, 3) : ASPIRE_ERR_NOMEM;
        aspire_strfree(p);
    }
    if (!rc) rc = aspire_segmenter_segment(seg, imgs, nb, a->phrase, a->dilate, s);
    if (!rc) rc = write_batch(a, s, start, nb, csv, found);
    for (int i = 0; i < nb; i++) { aspire_image_destroy(&imgs[i]); aspire_segment_destroy(&s[i]); }
    return rc;
}

static int folder(aspire_segmenter *seg, const seg_args *a) {
    memset(&listing, 0, sizeof listing);
    listing.root = strlen(a->images);
    if (nftw(a->images, list_entry, 16, FTW_PHYS) != 0 || listing.failed) {
        listing_free();
        return cli_fail(CMD, listing.failed ? "out of memory listing the folder" : "cannot read the --images folder");
    }
    if (listing.n == 0) { listing_free(); fprintf(stderr, "aspire " CMD ": %s: no PNG or JPEG image\n", a->images); return 1; }
    qsort(listing.paths, (size_t)listing.n, sizeof *listing.paths, cmp_str);
    int rc = aspire_mkdir_p(a->out);
    char *csvp = rc ? NULL : aspire_path_join(a->out, "segments.csv");
    aspire_atomic_file af = {0};
    if (!rc) rc = csvp ? aspire_atomic_open(&af, csvp) : ASPIRE_ERR_NOMEM;
    if (!rc) fprintf(af.fp, "img,present,x0,y0,x1,y1,area,score\n");
    aspire_progress pg;
    aspire_progress_init(&pg, "segment", listing.n, "img");
    if (a->quiet) pg.quiet = 1;
    int found = 0;
    for (int start = 0; !rc && start < listing.n; start += BATCH) {
        int nb = listing.n - start < BATCH ? listing.n - start : BATCH;
        rc = folder_batch(seg, a, start, nb, af.fp, &found);
        aspire_progress_update(&pg, start + nb, "%d with '%s'", found, a->phrase);
    }
    if (!rc) rc = aspire_sync_fs(a->out);
    if (!rc) rc = aspire_atomic_commit(&af);
    else aspire_atomic_abort(&af);
    if (!rc) aspire_progress_finish(&pg, "%d of %d images hold '%s'", found, listing.n, a->phrase);
    if (!rc) printf("%d of %d images: '%s' present; masks and %s written\n", found, listing.n, a->phrase, csvp);
    aspire_strfree(csvp);
    listing_free();
    return rc ? cli_fail(CMD, NULL) : 0;
}

int cmd_segment(int argc, char **argv) {
    seg_args a = {NULL, NULL, NULL, NULL, NULL, -1, 0, 0, 0};
    const cli_opt opts[] = {
        {"--image", CLI_STR, &a.image, "input image (PNG or JPEG, any size)"},
        {"--images", CLI_STR, &a.images, "or a folder: every PNG/JPEG under it (masks mirror its layout)"},
        {"--phrase", CLI_STR, &a.phrase, "what to find: \"sailboat\", \"a boat\", \"the two trees\", \"bird\""},
        {"--out", CLI_STR, &a.out, "mask PNG to write (with --images: a folder, plus segments.csv)"},
        {"--dilate", CLI_INT, &a.dilate, "dilation radius in px (-1 = 5 px per 512 px of side, at least 1; 0 = none)"},
        {"--box", CLI_FLAG, &a.box, "write the filled bounding box instead of the pixel mask"},
        {"--model", CLI_STR, &a.model, "segmenter model file (default: the shipped models/segmenter.safetensors)"},
        {"--threads", CLI_INT, &a.threads, "threads (0 = all cores)"},
        {"--quiet", CLI_FLAG, &a.quiet, "no progress line"},
    };
    int rc = cli_parse(CMD,
                       "Finds a phrase in an image with the built-in segmenter and writes its mask (grey PNG, 0/255,\n"
                       "the image's size, every instance the phrase names); prints the box and area, or \"absent\".",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!a.phrase || !a.out || (!a.image == !a.images)) {
        fprintf(stderr, "aspire " CMD ": needs --phrase, --out and one of --image or --images (aspire segment --help)\n");
        return 2;
    }
    char model[4096];
    if (!a.model) a.model = aspire_segmenter_default_model(cli_models_dir(), model, sizeof model);
    aspire_segmenter *seg = NULL;
    if (aspire_segmenter_open(&seg, a.model, a.threads)) return cli_fail(CMD, NULL);
    char *meaning = NULL;
    rc = aspire_segmenter_resolve(seg, a.phrase, &meaning);
    if (rc) { aspire_segmenter_free(seg); return cli_fail(CMD, NULL); }
    if (!a.quiet) fprintf(stderr, "aspire " CMD ": '%s' read as %s\n", a.phrase, meaning);
    aspire_strfree(meaning);
    rc = a.image ? one_image(seg, &a) : folder(seg, &a);
    aspire_segmenter_free(seg);
    return rc;
}
