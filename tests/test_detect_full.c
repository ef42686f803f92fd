/* test_detect_full.c — `aspire detect` in full mode (--data, --run) on a tiny dataset (16 × 16 px
 * images), a tiny fresh classifier and a tiny fresh segmenter: every output is written, an
 * interrupted run (marker, records, edits, flips and the plate bank partly deleted) run again ends
 * with the same bytes, a re-run reuses captions and extraction, and a missing run folder or weights
 * file is named in the error. The shipped inpainter is used when it exists (else Telea): both are
 * deterministic, so the test holds either way. */
#include "aspire/classifier.h"
#include "aspire/detect.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/segmenter.h"
#include "test.h"
#include "testdir.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N_IMG 16

static const char *const CAPTIONS[4] = {
    "a sparrow and a tree in a forest", "a sparrow in a field",
    "a duck and a boat on a lake", "a duck on the ocean"};

/* A 16 × 16 image: a green (land) or blue (water) ground, a brown square bird, sometimes an object. */
static void make_image(const char *path, int water, int k) {
    aspire_image img;
    CHECK(aspire_image_init(&img, 16, 16, 3) == ASPIRE_OK);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) {
            uint8_t *p = img.data + (y * 16 + x) * 3;
            p[0] = water ? 30 : 60;
            p[1] = water ? 90 : 150 + (uint8_t)(k * 3);
            p[2] = water ? 200 : 40;
            int bird = x >= 5 + k % 3 && x < 10 + k % 3 && y >= 6 && y < 11;
            if (bird) { p[0] = 140; p[1] = 90; p[2] = 40; }
            if (k % 2 == 0 && x >= 12 && y < 4) { p[0] = 240; p[1] = 240; p[2] = 240; }
        }
    CHECK(aspire_image_save_png(&img, path) == ASPIRE_OK);
    aspire_image_destroy(&img);
}

/* data/: metadata.csv (img_id,img_filename,y,split,place) and the images; captions.csv; a weights
 * file of a fresh 2-class classifier at 16 px; a fresh tiny segmenter. */
static void make_inputs(const char *dir) {
    char path[512], meta[4096] = "img_id,img_filename,y,split,place\n", caps[4096] = "path,caption\n";
    snprintf(path, sizeof path, "%s/data/img", dir);
    CHECK(aspire_mkdir_p(path) == ASPIRE_OK);
    for (int i = 0; i < N_IMG; i++) {
        int y = i % 2, split = i < 12 ? 0 : 1;
        snprintf(path, sizeof path, "%s/data/img/%02d.png", dir, i);
        make_image(path, y, i);
        snprintf(meta + strlen(meta), sizeof meta - strlen(meta), "%d,img/%02d.png,%d,%d,%d\n", i + 1, i, y, split, y);
        snprintf(caps + strlen(caps), sizeof caps - strlen(caps), "img/%02d.png,%s\n", i, CAPTIONS[y * 2 + (i / 2) % 2]);
    }
    snprintf(path, sizeof path, "%s/data/metadata.csv", dir);
    CHECK(testdir_write(path, meta, strlen(meta)) == 0);
    snprintf(path, sizeof path, "%s/captions.csv", dir);
    CHECK(testdir_write(path, caps, strlen(caps)) == 0);
    aspire_classifier *c = NULL;
    aspire_classifier_spec spec = {.arch = "reference", .num_classes = 2, .image_size = 16, .seed = 3};
    aspire_ctx_options eo = {.threads = 1};
    CHECK(aspire_classifier_new(&c, &spec, &eo) == ASPIRE_OK);
    snprintf(path, sizeof path, "%s/weights.safetensors", dir);
    CHECK(aspire_classifier_save(c, path, 0, NULL, 0) == ASPIRE_OK);
    aspire_classifier_free(c);
    aspire_segnet_config cfg = aspire_segnet_default_config();
    cfg.image_size = 16;
    cfg.nlevels = 2;
    cfg.widths[0] = 4;
    cfg.widths[1] = 8;
    aspire_segnet_vocab vocab = aspire_segnet_world_vocab();
    aspire_segnet *net = NULL;
    CHECK(aspire_segnet_new(&net, &cfg, &vocab, 5) == ASPIRE_OK);
    snprintf(path, sizeof path, "%s/seg.safetensors", dir);
    CHECK(aspire_segnet_save(net, path, "test: fresh weights") == ASPIRE_OK);
    aspire_segnet_free(net);
}

static void full_opts(aspire_detect_opts *o, const char *dir, char bufs[6][512]) {
    aspire_detect_opts_init(o);
    snprintf(bufs[0], 512, "%s/data", dir);
    snprintf(bufs[1], 512, "%s/weights.safetensors", dir);
    snprintf(bufs[2], 512, "%s/det", dir);
    snprintf(bufs[3], 512, "%s/captions.csv", dir);
    snprintf(bufs[4], 512, "%s/seg.safetensors", dir);
    o->data = bufs[0];
    o->run = bufs[1];
    o->out = bufs[2];
    o->captions = bufs[3];
    o->segmenter = bufs[4];
    o->holdout_frac = 1.0;
    o->threads = 1;
    o->quiet = 1;
}

/* ---- a digest of every file under a folder (names and bytes), independent of the walk order ---- */

static uint64_t g_sum, g_files;

static uint64_t fnv(const void *p, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++) { h ^= ((const unsigned char *)p)[i]; h *= 1099511628211ull; }
    return h;
}

static int digest_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)ftw;
    if (flag != FTW_F) return 0;
    char *buf;
    size_t n;
    if (aspire_read_file(path, &buf, &n)) return 1;
    uint64_t h = fnv(path, strlen(path), 1469598103934665603ull);
    g_sum += fnv(buf, n, h);   /* a sum: the order of the walk does not matter */
    g_files++;
    aspire_free(buf, n + 1);
    return 0;
}

static uint64_t digest(const char *dir, uint64_t *files) {
    g_sum = g_files = 0;
    CHECK(nftw(dir, digest_cb, 16, FTW_PHYS) == 0);
    *files = g_files;
    return g_sum;
}

static int exists_in(const char *dir, const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return aspire_file_exists(p);
}

/* Which scenes detections.jsonl uses as alternates: bits forest 1, field 2, lake 4, ocean 8. */
static unsigned count_alternates(const char *out) {
    char p[1024], *txt;
    size_t n;
    snprintf(p, sizeof p, "%s/detections.jsonl", out);
    if (aspire_read_file(p, &txt, &n) != ASPIRE_OK) return 0x100;
    static const char *const scene[4] = {"forest", "field", "lake", "ocean"};
    unsigned bits = 0;
    for (int s = 0; s < 4; s++) {
        char key[96];
        snprintf(key, sizeof key, "\"alternate_background\":[\"%s\"]", scene[s]);
        if (strstr(txt, key)) bits |= 1u << s;
    }
    aspire_free(txt, n + 1);
    return bits;
}

/* How many different alternates detections.jsonl holds (one background per record here). */
static int distinct_alternates(const char *out) {
    char p[1024], *txt, seen[8][64];
    size_t n;
    int nseen = 0;
    snprintf(p, sizeof p, "%s/detections.jsonl", out);
    if (aspire_read_file(p, &txt, &n) != ASPIRE_OK) return -1;
    static const char key[] = "\"alternate_background\":[\"";
    for (const char *q = strstr(txt, key); q; q = strstr(q + 1, key)) {
        const char *v = q + strlen(key), *e = strchr(v, '"');
        if (!e || e - v >= 64) break;
        int dup = 0;
        for (int i = 0; i < nseen; i++) dup |= strncmp(seen[i], v, (size_t)(e - v)) == 0 && seen[i][e - v] == 0;
        if (!dup && nseen < 8) { memcpy(seen[nseen], v, (size_t)(e - v)); seen[nseen++][e - v] = 0; }
    }
    aspire_free(txt, n + 1);
    return nseen;
}

/* --alternatives image: drawn per image from the plates of the other kind: both land scenes
 * serve the six waterbirds, no water scene does; the settings file keeps it from mixing. */
static void test_alternatives_per_image(void) {
    char dir[256], b[6][512];
    testdir_make(dir, sizeof dir);
    make_inputs(dir);
    aspire_detect_opts o;
    full_opts(&o, dir, b);
    o.alternatives = ASPIRE_DETECT_ALT_IMAGE;
    CHECK_MSG(aspire_detect_run(&o) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK_MSG(count_alternates(o.out) == 0x3, "alternates used: %#x", count_alternates(o.out));
    o.alternatives = ASPIRE_DETECT_ALT_CLASS;
    CHECK(aspire_detect_run(&o) == ASPIRE_ERR_ARG);
    CHECK(strstr(aspire_errmsg(), "alternatives image") != NULL);
    o.alternatives = 7;
    CHECK(aspire_detect_run(&o) == ASPIRE_ERR_ARG);
    testdir_remove(dir);
}

static void test_outputs_and_resume(void) {
    char dir[256], b[6][512], p[1024];
    testdir_make(dir, sizeof dir);
    make_inputs(dir);
    aspire_detect_opts o;
    full_opts(&o, dir, b);
    CHECK_MSG(aspire_detect_run(&o) == ASPIRE_OK, "%s", aspire_errmsg());
    static const char *const outs[] = {"captions.csv", "extracted.jsonl", "detections.jsonl", "features.json",
                                       "features.svg", "selected/metadata.csv", "plates/plates.csv", ASPIRE_DETECT_DONE};
    for (int i = 0; i < 8; i++) CHECK_MSG(exists_in(o.out, outs[i]), "missing %s", outs[i]);
    /* the fresh classifier gets only the waterbirds right, so the hold-out is the six training
     * waterbirds (lake, ocean); by default (one alternative per class) all six go to one land scene */
    CHECK_MSG(distinct_alternates(o.out) == 1, "%d distinct alternates", distinct_alternates(o.out));
    uint64_t files, files2;
    uint64_t h = digest(o.out, &files);
    /* interrupted: the marker, the records, one image's flips, the plate bank's list gone */
    static const char *const gone[] = {ASPIRE_DETECT_DONE, "detections.jsonl", "flips/0.json", "plates/plates.csv",
                                       "extracted.jsonl"};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", o.out, gone[i]);
        remove(p);
    }
    CHECK_MSG(aspire_detect_run(&o) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(digest(o.out, &files2) == h);
    CHECK(files2 == files);
    /* a finished run again: nothing changes; the captions of DETDIR are reused without --captions */
    o.captions = NULL;
    CHECK_MSG(aspire_detect_run(&o) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(digest(o.out, &files2) == h);
    /* other edit options on the same folder are refused, naming the file; nothing is touched */
    CHECK(o.votes == 3 && o.seam == 0 && o.min_occ == 5);   /* the defaults */
    o.votes = 1;
    CHECK(aspire_detect_run(&o) == ASPIRE_ERR_ARG);
    CHECK_MSG(strstr(aspire_errmsg(), "edits.settings") && strstr(aspire_errmsg(), "votes 3"), "%s", aspire_errmsg());
    CHECK(digest(o.out, &files2) == h);
    o.votes = 0;
    CHECK(aspire_detect_run(&o) == ASPIRE_ERR_ARG);
    o.votes = 3;
    testdir_remove(dir);
}

static void test_missing_run(void) {
    char dir[256], b[6][512];
    testdir_make(dir, sizeof dir);
    make_inputs(dir);
    aspire_detect_opts o;
    full_opts(&o, dir, b);
    char run[512];
    snprintf(run, sizeof run, "%s/no-such-run", dir);
    o.run = run;
    CHECK(aspire_detect_run(&o) != ASPIRE_OK);
    CHECK_MSG(strstr(aspire_errmsg(), "no-such-run") != NULL, "%s", aspire_errmsg());
    snprintf(run, sizeof run, "%s/emptyrun", dir);   /* a run folder without its weights */
    CHECK(aspire_mkdir_p(run) == ASPIRE_OK);
    o.run = run;
    CHECK(aspire_detect_run(&o) != ASPIRE_OK);
    CHECK_MSG(strstr(aspire_errmsg(), "emptyrun") != NULL, "%s", aspire_errmsg());
    o.run = b[1];
    char seg[512];
    snprintf(seg, sizeof seg, "%s/no-such-segmenter.safetensors", dir);
    o.segmenter = seg;
    CHECK(aspire_detect_run(&o) != ASPIRE_OK);
    CHECK_MSG(strstr(aspire_errmsg(), "no-such-segmenter") != NULL, "%s", aspire_errmsg());
    testdir_remove(dir);
}

int main(void) {
    RUN(test_outputs_and_resume);
    RUN(test_alternatives_per_image);
    RUN(test_missing_run);
    return TEST_REPORT();
}
