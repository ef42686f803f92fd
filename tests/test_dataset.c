/* test_dataset.c — the dataset loader on small folders made here: Waterbirds layout (extra
 * columns, images of several sizes and formats resized on load), groups for 2 and 3 places, the
 * extra layout, append and subset, errors naming metadata file and line, batches, and the loader
 * (order, shuffling, weighted sampling, flips, crops; same results for any thread count). */
#include "aspire/dataset.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "test.h"
#include "testdir.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static char dir[256];
#define HAS(s) (strstr(aspire_errmsg(), (s)) != NULL)

static char *P(const char *a, const char *b) {
    static char buf[4][600];
    static int k;
    k = (k + 1) & 3;
    if (b) snprintf(buf[k], sizeof buf[k], "%s/%s/%s", dir, a, b);
    else snprintf(buf[k], sizeof buf[k], "%s/%s", dir, a);
    return buf[k];
}

/* A w×h image whose pixels encode (seed, x, y) smoothly enough for JPEG. */
static void make_image(aspire_image *im, int w, int h, int seed) {
    aspire_image_init(im, w, h, 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = im->data + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(seed * 37 + x * 5);
            p[1] = (uint8_t)(seed * 11 + y * 7);
            p[2] = (uint8_t)(128 + seed * 3 + x - y);
        }
}

typedef struct row { int y, split, place; const char *species; } row;

/* Writes folder `name` with one image per row (PNG, or JPEG for every 5th; sizes vary) and a
 * metadata.csv in Waterbirds layout with species and place_filename columns. */
static void make_dataset(const char *name, const row *rows, int n) {
    aspire_mkdir_p(P(name, "imgs"));
    char *csv = malloc(100000);
    size_t k = (size_t)sprintf(csv, "img_id,img_filename,y,split,place,species,place_filename\r\n");
    for (int i = 0; i < n; i++) {
        int w = i % 3 == 0 ? 16 : i % 3 == 1 ? 40 : 9, h = i % 3 == 2 ? 13 : w;
        aspire_image im;
        make_image(&im, w, h, i);
        char fn[64];
        snprintf(fn, sizeof fn, "imgs/%03d.%s", i, i % 5 == 4 ? "jpg" : "png");
        if (i % 5 == 4) aspire_image_save_jpeg_ex(&im, P(name, fn), 95, ASPIRE_ATOMIC_NOSYNC);
        else aspire_image_save_png_ex(&im, P(name, fn), ASPIRE_ATOMIC_NOSYNC);
        aspire_image_destroy(&im);
        k += (size_t)sprintf(csv + k, "%d,%s,%d,%d,%d,\"%s\",/p/%d.jpg\r\n", 100 + i, fn, rows[i].y, rows[i].split, rows[i].place,
                             rows[i].species, i);
    }
    testdir_write(P(name, "metadata.csv"), csv, k);
    free(csv);
}

static const row base_rows[] = {
    {0, 0, 0, "owl"}, {1, 0, 1, "duck"}, {1, 0, 1, "swan, mute"}, {0, 1, 0, "eagle"}, {1, 2, 0, "duck"},
    {0, 0, 1, "parrot"}, {1, 0, 0, "goose"}, {0, 2, 1, "owl"}, {1, 1, 1, "swan"}, {0, 0, 0, "turkey"},
    {1, 0, 1, "penguin"}, {0, 0, 0, "owl"},
};
#define NBASE 12

static void test_load_waterbirds(void) {
    make_dataset("wb", base_rows, NBASE);
    aspire_dataset *ds;
    aspire_dataset_options o = {.split = ASPIRE_SPLIT_TRAIN, .size = 24};
    int rc = aspire_dataset_load(&ds, P("wb", NULL), &o);
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    if (rc) return;
    int want[NBASE], nw = 0;
    for (int i = 0; i < NBASE; i++)
        if (base_rows[i].split == 0) want[nw++] = i;
    CHECK(aspire_dataset_count(ds) == nw);
    CHECK(aspire_dataset_size(ds) == 24 && aspire_dataset_channels(ds) == 3);
    const aspire_dataset_index *dix = aspire_dataset_get_index(ds);  /* alive as long as the dataset */
    CHECK(dix && aspire_dataset_index_rows(dix) == NBASE && aspire_dataset_index_count(dix, ASPIRE_SPLIT_TRAIN) == nw);
    CHECK(aspire_dataset_places(ds)[1] == aspire_dataset_place(ds, 1));
    CHECK(aspire_dataset_n_classes(ds) == 2 && aspire_dataset_n_places(ds) == 2 && aspire_dataset_n_groups(ds) == 4);
    int ok = 1;
    for (int k = 0; k < nw; k++) {
        const row *r = &base_rows[want[k]];
        ok &= aspire_dataset_label(ds, k) == r->y && aspire_dataset_place(ds, k) == r->place;
        ok &= aspire_dataset_group(ds, k) == 2 * r->y + r->place && aspire_dataset_groups(ds)[k] == 2 * r->y + r->place;
        ok &= aspire_dataset_img_id(ds, k) == 100 + want[k] && aspire_dataset_split(ds, k) == 0;
        ok &= strcmp(aspire_dataset_field(ds, k, "species"), r->species) == 0;
        char fn[64], origin[700], wo[700];
        snprintf(fn, sizeof fn, "imgs/%03d.%s", want[k], want[k] % 5 == 4 ? "jpg" : "png");
        ok &= strcmp(aspire_dataset_filename(ds, k), fn) == 0;
        snprintf(wo, sizeof wo, "%s:%d", P("wb", "metadata.csv"), want[k] + 2);
        ok &= strcmp(aspire_dataset_origin(ds, k, origin, sizeof origin), wo) == 0;
        /* pixels: the file decoded and resized like aspire_image_resize(AUTO) does it */
        aspire_image im, rs;
        aspire_image_load(&im, P("wb", fn), 3);
        aspire_image_resize(&rs, &im, 24, 24, ASPIRE_RESIZE_AUTO);
        ok &= memcmp(rs.data, aspire_dataset_pixels(ds, k), 24 * 24 * 3) == 0;
        aspire_image_destroy(&im);
        aspire_image_destroy(&rs);
    }
    CHECK(ok);
    CHECK(aspire_dataset_field(ds, 0, "no_such_column") == NULL);
    CHECK(strcmp(aspire_dataset_field(ds, 1, "place_filename"), "/p/1.jpg") == 0);
    int64_t counts[4];
    aspire_dataset_group_counts(ds, counts);
    CHECK(counts[0] == 3 && counts[1] == 1 && counts[2] == 1 && counts[3] == 3);
    CHECK(strcmp(aspire_dataset_dir(ds), P("wb", NULL)) == 0);
    aspire_dataset_free(ds);
    aspire_dataset_free(NULL);
    /* the other splits, all rows, grey */
    int sizes[3] = {0, 0, 0};
    for (int i = 0; i < NBASE; i++) sizes[base_rows[i].split]++;
    for (int s = -1; s <= 2; s++) {
        o.split = s;
        o.channels = s == 2 ? 1 : 3;
        CHECK(aspire_dataset_load(&ds, P("wb", NULL), &o) == ASPIRE_OK);
        CHECK(aspire_dataset_count(ds) == (s < 0 ? NBASE : sizes[s]));
        CHECK(aspire_dataset_channels(ds) == o.channels);
        aspire_dataset_free(ds);
    }
    /* defaults: NULL options = train split at 64 px */
    CHECK(aspire_dataset_load(&ds, P("wb", NULL), NULL) == ASPIRE_OK);
    CHECK(aspire_dataset_size(ds) == 64 && aspire_dataset_count(ds) == nw);
    aspire_dataset_free(ds);
}

static void test_places_generalised(void) {
    row r[6] = {{0, 0, 0, "a"}, {1, 0, 2, "b"}, {2, 0, 1, "c"}, {1, 0, 0, "d"}, {0, 1, 2, "e"}, {2, 0, 2, "f"}};
    make_dataset("three", r, 6);
    aspire_dataset *ds;
    aspire_dataset_options o = {.size = 8};
    CHECK(aspire_dataset_load(&ds, P("three", NULL), &o) == ASPIRE_OK);
    if (!ds) return;
    CHECK(aspire_dataset_n_classes(ds) == 3 && aspire_dataset_n_places(ds) == 3 && aspire_dataset_n_groups(ds) == 9);
    CHECK(aspire_dataset_group(ds, 1) == 1 * 3 + 2 && aspire_dataset_group(ds, 2) == 2 * 3 + 1);
    aspire_dataset_free(ds);
    /* forcing more places than appear is allowed; fewer is an error naming the file */
    o.n_places = 4;
    CHECK(aspire_dataset_load(&ds, P("three", NULL), &o) == ASPIRE_OK);
    CHECK(ds && aspire_dataset_group(ds, 1) == 1 * 4 + 2);
    aspire_dataset_free(ds);
    o.n_places = 2;
    CHECK(aspire_dataset_load(&ds, P("three", NULL), &o) == ASPIRE_ERR_FORMAT);
    CHECK_MSG(HAS("three/metadata.csv") && HAS("place 2"), "%s", aspire_errmsg());
}

/* Writes metadata.csv of folder wb with `text`, loads, expects failure mentioning `a` and `b`. */
static void bad_metadata(const char *text, int status, const char *a, const char *b) {
    testdir_write(P("wb", "metadata.csv"), text, strlen(text));
    aspire_dataset *ds = (aspire_dataset *)1;
    aspire_dataset_options o = {.split = ASPIRE_SPLIT_TRAIN, .size = 8};
    int rc = aspire_dataset_load(&ds, P("wb", NULL), &o);
    CHECK_MSG(rc == status && ds == NULL, "rc %d for:\n%s", rc, text);
    CHECK_MSG(HAS(a) && (!b || HAS(b)), "expected '%s' / '%s', got: %s", a, b ? b : "", aspire_errmsg());
    if (rc == ASPIRE_OK) aspire_dataset_free(ds);
}

static void test_errors(void) {
    const char *h = "img_id,img_filename,y,split,place\n";
    char t[2000];
    bad_metadata("img_id,img_filename,y,split\n1,imgs/000.png,0,0\n", ASPIRE_ERR_NOTFOUND, "wb/metadata.csv:1: missing column 'place'", NULL);
    bad_metadata("img_filename,y,split,place\nimgs/000.png,0,0,0\n", ASPIRE_ERR_NOTFOUND, "missing column 'img_id'", NULL);
    bad_metadata("img_id,img_filename,label,split,place\n1,imgs/000.png,0,0,0\n", ASPIRE_ERR_NOTFOUND, "missing column 'y'", "label");
    snprintf(t, sizeof t, "%s1,imgs/000.png,0,0,0\n2,imgs/001.png,bird,0,1\n", h);
    bad_metadata(t, ASPIRE_ERR_FORMAT, "wb/metadata.csv:3: column 'y': expected an integer, found 'bird'", NULL);
    snprintf(t, sizeof t, "%s1,imgs/000.png,0,0,0\n2,imgs/001.png,1.0,0,1\n", h);
    bad_metadata(t, ASPIRE_ERR_FORMAT, "wb/metadata.csv:3: column 'y'", "'1.0'");
    snprintf(t, sizeof t, "%s1,imgs/000.png,0,0,0\n2,imgs/001.png,-1,0,1\n", h);
    bad_metadata(t, ASPIRE_ERR_FORMAT, "wb/metadata.csv:3: column 'y': label -1 is out of range", NULL);
    /* a bad row in another split is found too */
    snprintf(t, sizeof t, "%s1,imgs/000.png,0,0,0\n\n2,imgs/001.png,1,3,1\n", h);
    bad_metadata(t, ASPIRE_ERR_FORMAT, "wb/metadata.csv:4: column 'split': unknown split code 3", NULL);
    snprintf(t, sizeof t, "%s1,imgs/000.png,0,0,0\n2,imgs/001.png,1,val,1\n", h);
    bad_metadata(t, ASPIRE_ERR_FORMAT, "wb/metadata.csv:3: column 'split'", "'val'");
    snprintf(t, sizeof t, "%s1,imgs/000.png,0,0,x\n", h);
    bad_metadata(t, ASPIRE_ERR_FORMAT, "wb/metadata.csv:2: column 'place'", NULL);
    snprintf(t, sizeof t, "%s1,imgs/000.png,0,0\n", h);
    bad_metadata(t, ASPIRE_ERR_FORMAT, "wb/metadata.csv:2: expected 5 fields, found 4", NULL);
    snprintf(t, sizeof t, "%s1,,0,0,0\n", h);
    bad_metadata(t, ASPIRE_ERR_FORMAT, "wb/metadata.csv:2: column 'img_filename' is empty", NULL);
    /* missing and corrupt images: the first failing row is reported, for any thread count */
    char *png;
    size_t n;
    aspire_read_file(P("wb", "imgs/000.png"), &png, &n);
    testdir_write(P("wb", "imgs/cut.png"), png, n / 2);
    aspire_free(png, n + 1);
    testdir_write(P("wb", "imgs/text.png"), "not an image", 12);
    char big[4000];
    size_t k = (size_t)snprintf(big, sizeof big, "%s", h);
    for (int i = 0; i < 40; i++) /* the good PNGs (every 5th image is a JPEG) */
        k += (size_t)snprintf(big + k, sizeof big - k, "%d,imgs/%03d.png,0,0,0\n", i, i % 12 % 5 == 4 ? 0 : i % 12);
    k += (size_t)snprintf(big + k, sizeof big - k, "50,imgs/cut.png,0,0,0\n51,imgs/gone.png,0,0,0\n52,imgs/text.png,0,0,0\n");
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        bad_metadata(big, ASPIRE_ERR_FORMAT, "wb/metadata.csv:42: ", "imgs/cut.png: corrupt or truncated PNG");
    }
    snprintf(t, sizeof t, "%s1,imgs/000.png,0,0,0\n2,imgs/gone.png,0,0,0\n3,imgs/text.png,0,0,0\n", h);
    bad_metadata(t, ASPIRE_ERR_NOTFOUND, "wb/metadata.csv:3: ", "imgs/gone.png: cannot open");
    snprintf(t, sizeof t, "%s1,imgs/000.png,0,0,0\n3,imgs/text.png,0,0,0\n", h);
    bad_metadata(t, ASPIRE_ERR_FORMAT, "wb/metadata.csv:3: ", "not a PNG or JPEG");
    /* images of other splits are not decoded, so a broken one there does not matter */
    snprintf(t, sizeof t, "%s1,imgs/000.png,0,0,0\n2,imgs/gone.png,0,2,0\n", h);
    testdir_write(P("wb", "metadata.csv"), t, strlen(t));
    aspire_dataset *ds;
    aspire_dataset_options o = {.size = 8};
    CHECK(aspire_dataset_load(&ds, P("wb", NULL), &o) == ASPIRE_OK);
    aspire_dataset_free(ds);
    /* no metadata at all; bad options */
    CHECK(aspire_dataset_load(&ds, P("nowhere", NULL), &o) == ASPIRE_ERR_NOTFOUND && HAS("nowhere/metadata.csv"));
    o.channels = 2;
    CHECK(aspire_dataset_load(&ds, P("wb", NULL), &o) == ASPIRE_ERR_ARG);
    make_dataset("wb", base_rows, NBASE); /* restore */
}

/* The index: names from a class_name column, from classes.txt, or the defaults; each malformed
 * case named by file, line and column; 15 classes (no fixed limit); counts, groups and the join
 * of a caption's path to its row. */
/* Folder ix with this metadata.csv and classes.txt (NULL: none), opened; the status. */
static int open_ix(aspire_dataset_index **ix, const char *meta, const char *classes_txt) {
    testdir_write(P("ix", "metadata.csv"), meta, strlen(meta));
    if (classes_txt) testdir_write(P("ix", "classes.txt"), classes_txt, strlen(classes_txt));
    else remove(P("ix", "classes.txt"));
    return aspire_dataset_index_open(ix, P("ix", NULL), NULL);
}

static void index_fails(const char *meta, const char *classes_txt, const char *a) {
    aspire_dataset_index *ix = (aspire_dataset_index *)1;
    CHECK(open_ix(&ix, meta, classes_txt) == ASPIRE_ERR_FORMAT && ix == NULL);
    CHECK_MSG(HAS(a), "expected '%s', got: %s", a, aspire_errmsg());
}

static aspire_dataset_index *index_of(const char *meta, const char *classes_txt) {
    aspire_dataset_index *ix = NULL;
    CHECK_MSG(open_ix(&ix, meta, classes_txt) == ASPIRE_OK, "%s", aspire_errmsg());
    return ix;
}

static void test_index(void) {
    aspire_mkdir_p(P("ix", NULL));
    const char *h = "img_id,img_filename,y,split,place,class_name\n";
    char t[4000];
    /* names from the column, counts and groups */
    snprintf(t, sizeof t, "%s1,a/1.png,1,0,1,duck\n2,a/2.png,0,0,0,owl\n3,b/2.png,1,2,0,duck\n4,c.png,0,1,1,owl\n", h);
    aspire_dataset_index *ix = index_of(t, NULL);
    if (!ix) return;
    CHECK(aspire_dataset_index_rows(ix) == 4 && aspire_dataset_index_n_classes(ix) == 2 && aspire_dataset_index_n_places(ix) == 2);
    CHECK(strcmp(aspire_dataset_index_class_name(ix, 0), "owl") == 0 && strcmp(aspire_dataset_index_class_names(ix)[1], "duck") == 0);
    CHECK(strcmp(aspire_dataset_index_place_name(ix, 1), "water") == 0 && aspire_dataset_index_class_name(ix, 2) == NULL);
    CHECK(aspire_dataset_index_count(ix, ASPIRE_SPLIT_TRAIN) == 2 && aspire_dataset_index_count(ix, ASPIRE_SPLIT_ALL) == 4);
    int64_t g[4];
    aspire_dataset_index_group_counts(ix, ASPIRE_SPLIT_TRAIN, g);
    CHECK(g[0] == 1 && g[1] == 0 && g[2] == 0 && g[3] == 1);
    CHECK(aspire_dataset_index_group(ix, 2) == 2 && aspire_dataset_index_line(ix, 2) == 4 && aspire_dataset_index_img_id(ix, 3) == 4);
    CHECK(strcmp(aspire_dataset_index_field(ix, 0, "class_name"), "duck") == 0 && !aspire_dataset_index_field(ix, 0, "nope"));
    CHECK(aspire_dataset_index_label(ix, 0) == 1 && aspire_dataset_index_place(ix, 3) == 1 && aspire_dataset_index_split(ix, 2) == 2);
    CHECK(strcmp(aspire_dataset_index_filename(ix, 3), "c.png") == 0 && strstr(aspire_dataset_index_path(ix), "ix/metadata.csv"));
    CHECK(strstr(aspire_dataset_index_dir(ix), "/ix") && aspire_dataset_index_layout(ix) == ASPIRE_LAYOUT_WATERBIRDS);
    CHECK(aspire_dataset_index_has_column(ix, "class_name") && !aspire_dataset_index_has_column(ix, "species"));
    CHECK(aspire_dataset_index_require(ix, "img_id") == ASPIRE_OK);
    CHECK(aspire_dataset_index_require(ix, "species") == ASPIRE_ERR_NOTFOUND && HAS("ix/metadata.csv:1: missing column 'species'"));
    /* the join: img_filename, DIR/img_filename, any path ending in /img_filename */
    int64_t found = -1;
    CHECK(aspire_dataset_index_find(ix, "a/2.png", &found) == ASPIRE_OK && found == 1);
    char full[700];
    snprintf(full, sizeof full, "%s/b/2.png", P("ix", NULL));
    CHECK(aspire_dataset_index_find(ix, full, &found) == ASPIRE_OK && found == 2);
    CHECK(aspire_dataset_index_find(ix, "/elsewhere/c.png", &found) == ASPIRE_OK && found == 3);
    CHECK(aspire_dataset_index_find(ix, "d.png", &found) == ASPIRE_ERR_NOTFOUND && found == -1 && HAS("ix/metadata.csv"));
    aspire_dataset_index_free(ix);
    int split = 9;
    CHECK(aspire_split_parse("val", &split) == ASPIRE_OK && split == ASPIRE_SPLIT_VAL && strcmp(aspire_split_name(split), "val") == 0);
    CHECK(aspire_split_parse("all", &split) == ASPIRE_OK && split == ASPIRE_SPLIT_ALL);
    CHECK(aspire_split_parse("validation", &split) == ASPIRE_ERR_ARG && HAS("validation"));
    /* two rows with one img_filename: found at the first join, naming both lines */
    snprintf(t, sizeof t, "%s1,a/1.png,1,0,1,duck\n2,a/1.png,0,0,0,owl\n", h);
    ix = index_of(t, NULL);
    CHECK(ix && aspire_dataset_index_find(ix, "a/1.png", &found) == ASPIRE_ERR_FORMAT);
    CHECK_MSG(HAS("ix/metadata.csv:3: column 'img_filename'") && HAS("line 2"), "%s", aspire_errmsg());
    aspire_dataset_index_free(ix);
    /* 15 classes named by classes.txt (Hard ImageNet's count); without names, "class K" */
    size_t k = (size_t)snprintf(t, sizeof t, "img_id,img_filename,y,split,place\n");
    for (int i = 0; i < 30; i++) k += (size_t)snprintf(t + k, sizeof t - k, "%d,%d.png,%d,%d,%d\n", i, i, i % 15, i % 3, i % 2);
    ix = index_of(t, "c0\nc1\nc2\nc3\nc4\nc5\nc6\nc7\nc8\nc9\nc10\nc11\nc12\nc13\r\n  dugong  \n");
    CHECK(ix && aspire_dataset_index_n_classes(ix) == 15 && aspire_dataset_index_n_groups(ix) == 30);
    CHECK(ix && strcmp(aspire_dataset_index_class_name(ix, 13), "c13") == 0 && strcmp(aspire_dataset_index_class_name(ix, 14), "dugong") == 0);
    aspire_dataset_index_free(ix);
    ix = index_of(t, NULL);
    CHECK(ix && strcmp(aspire_dataset_index_class_name(ix, 14), "class 14") == 0 && strcmp(aspire_dataset_index_place_name(ix, 0), "land") == 0);
    aspire_dataset_index_free(ix);
    /* malformed: each named by file, line and column */
    index_fails(t, "a\nb\n", "ix/classes.txt: 2 class names for the 15 classes");
    index_fails(t, "a\n\nb\n", "ix/classes.txt:2: empty class name");
    snprintf(t, sizeof t, "%s1,a/1.png,1,0,1,duck\n2,a/2.png,1,0,0,swan\n", h);
    index_fails(t, NULL, "ix/metadata.csv:3: column 'class_name': 'swan', but line 2 names the same value 'duck'");
    snprintf(t, sizeof t, "%s1,a/1.png,1,0,1,\n", h);
    index_fails(t, NULL, "ix/metadata.csv:2: column 'class_name' is empty");
    snprintf(t, sizeof t, "%s1,a/1.png,1,0,-2,duck\n", h);
    index_fails(t, NULL, "ix/metadata.csv:2: column 'place': place -2 is out of range");
    snprintf(t, sizeof t, "%s1,a/1.png,70000,0,0,duck\n", h);
    index_fails(t, NULL, "ix/metadata.csv:2: column 'y': label 70000 is out of range");
    snprintf(t, sizeof t, "%sx,a/1.png,1,0,0,duck\n", h);
    index_fails(t, NULL, "ix/metadata.csv:2: column 'img_id': expected an integer, found 'x'");
    snprintf(t, sizeof t, "img_id,img_filename,y,split,place,place_name\n1,a.png,0,0,0,sea\n2,b.png,0,0,0,lake\n");
    index_fails(t, NULL, "ix/metadata.csv:3: column 'place_name': 'lake', but line 2");
}

static void test_extra_append_subset(void) {
    aspire_mkdir_p(P("extra", "gen"));
    char csv[1000];
    size_t k = (size_t)sprintf(csv, "img_filename,y\n");
    for (int i = 0; i < 5; i++) {
        aspire_image im;
        make_image(&im, 24, 24, 50 + i);
        char fn[32];
        snprintf(fn, sizeof fn, "gen/%d.png", i);
        aspire_image_save_png_ex(&im, P("extra", fn), ASPIRE_ATOMIC_NOSYNC);
        aspire_image_destroy(&im);
        k += (size_t)sprintf(csv + k, "%s,%d\n", fn, i % 2);
    }
    testdir_write(P("extra", "metadata.csv"), csv, k);
    aspire_dataset *ex, *ds;
    aspire_dataset_options o = {.layout = ASPIRE_LAYOUT_EXTRA, .size = 24, .split = ASPIRE_SPLIT_VAL /* ignored */};
    CHECK(aspire_dataset_load(&ex, P("extra", NULL), &o) == ASPIRE_OK);
    if (!ex) return;
    CHECK(aspire_dataset_count(ex) == 5 && aspire_dataset_n_groups(ex) == 0 && aspire_dataset_n_places(ex) == 0);
    CHECK(aspire_dataset_group(ex, 3) == -1 && aspire_dataset_place(ex, 3) == -1 && aspire_dataset_label(ex, 3) == 1);
    CHECK(aspire_dataset_img_id(ex, 4) == 5 && aspire_dataset_split(ex, 4) == 0);
    /* the Waterbirds layout refuses the same folder */
    o.layout = ASPIRE_LAYOUT_WATERBIRDS;
    CHECK(aspire_dataset_load(&ds, P("extra", NULL), &o) == ASPIRE_ERR_NOTFOUND && HAS("missing column 'img_id'"));
    o.split = ASPIRE_SPLIT_TRAIN;
    CHECK(aspire_dataset_load(&ds, P("wb", NULL), &o) == ASPIRE_OK);
    if (!ds) { aspire_dataset_free(ex); return; }
    int64_t n0 = aspire_dataset_count(ds);
    CHECK(aspire_dataset_append(ds, ex) == ASPIRE_OK);
    CHECK(aspire_dataset_count(ds) == n0 + 5 && aspire_dataset_n_groups(ds) == 4);
    CHECK(aspire_dataset_group(ds, n0 + 1) == -1 && aspire_dataset_label(ds, n0 + 1) == 1);
    CHECK(aspire_dataset_group(ds, 0) == 0);
    CHECK(aspire_dataset_field(ds, n0, "species") == NULL && aspire_dataset_field(ds, 0, "species") != NULL);
    CHECK(strcmp(aspire_dataset_filename(ds, n0 + 2), "gen/2.png") == 0);
    CHECK(memcmp(aspire_dataset_pixels(ds, n0 + 2), aspire_dataset_pixels(ex, 2), 24 * 24 * 3) == 0);
    char origin[700];
    CHECK(strstr(aspire_dataset_origin(ds, n0 + 2, origin, sizeof origin), "extra/metadata.csv:4") != NULL);
    aspire_dataset_free(ex); /* sources are shared: ds stays valid */
    CHECK(strcmp(aspire_dataset_field(ds, n0 + 2, "img_filename"), "gen/2.png") == 0);
    int64_t idx[3] = {n0 + 4, 0, 2};
    aspire_dataset *sub;
    CHECK(aspire_dataset_subset(&sub, ds, idx, 3) == ASPIRE_OK);
    CHECK(aspire_dataset_count(sub) == 3 && aspire_dataset_label(sub, 0) == 0 && aspire_dataset_group(sub, 0) == -1);
    CHECK(aspire_dataset_img_id(sub, 2) == aspire_dataset_img_id(ds, 2));
    CHECK(memcmp(aspire_dataset_pixels(sub, 1), aspire_dataset_pixels(ds, 0), 24 * 24 * 3) == 0);
    aspire_dataset_free(ds);
    CHECK(strcmp(aspire_dataset_field(sub, 1, "species"), "owl") == 0);
    aspire_dataset_free(sub);
    /* size mismatch */
    o.size = 16;
    CHECK(aspire_dataset_load(&ds, P("wb", NULL), &o) == ASPIRE_OK);
    o.size = 24;
    o.layout = ASPIRE_LAYOUT_EXTRA;
    CHECK(aspire_dataset_load(&ex, P("extra", NULL), &o) == ASPIRE_OK);
    CHECK(aspire_dataset_append(ds, ex) == ASPIRE_ERR_ARG);
    aspire_dataset_free(ds);
    aspire_dataset_free(ex);
}

static aspire_dataset *load_wb(int size) {
    aspire_dataset *ds = NULL;
    aspire_dataset_options o = {.split = ASPIRE_SPLIT_ALL, .size = size};
    CHECK(aspire_dataset_load(&ds, P("wb", NULL), &o) == ASPIRE_OK);
    return ds;
}

static void test_fill(void) {
    aspire_dataset *ds = load_wb(16);
    if (!ds) return;
    aspire_batch b;
    CHECK(aspire_batch_init(&b, 4, 16, 3) == ASPIRE_OK);
    int64_t idx[3] = {5, 0, 11};
    aspire_dataset_fill(ds, idx, 3, &b, NULL, NULL);
    CHECK(b.n == 3 && b.index[0] == 5 && b.y[2] == base_rows[11].y && b.group[0] == 2 * base_rows[5].y + base_rows[5].place);
    int ok = 1;
    float lut[256], lut2[256];
    aspire_pixel_lut(lut, 0.5f, 0.25f);  /* the one normaliser: (x / 255 - 0.5) / 0.25 within a rounding */
    for (int v = 0; v < 256; v++) ok &= fabsf(lut[v] - ((float)v / 255.0f - 0.5f) / 0.25f) <= 2.5e-7f;
    CHECK(ok && lut[0] == -2.0f && lut[255] == 2.0f);
    for (int k = 0; k < 3; k++) {
        const uint8_t *p = aspire_dataset_pixels(ds, idx[k]);
        for (int j = 0; j < 16 * 16 * 3; j++) ok &= b.x[k * 768 + j] == lut[p[j]];
    }
    CHECK(ok);
    const float mean[3] = {0.1f, 0.2f, 0.3f}, sd[3] = {1, 2, 4};
    aspire_dataset_fill(ds, idx, 1, &b, mean, sd);
    aspire_pixel_lut(lut2, 0.3f, 4.0f);
    CHECK(b.n == 1 && b.x[2] == lut2[aspire_dataset_pixels(ds, 5)[2]]);
    /* the batcher's flips mirror each row */
    float *x = malloc(sizeof(float) * 16 * 16 * 3);
    const uint8_t flip[1] = {1};
    aspire_dataset_to_float(ds, idx, 1, flip, x, NULL, NULL);
    const uint8_t *p5 = aspire_dataset_pixels(ds, 5);
    CHECK(x[0] == lut[p5[15 * 3]] && x[3 * 15 + 2] == lut[p5[2]] && x[16 * 3 + 1] == lut[p5[16 * 3 + 15 * 3 + 1]]);
    free(x);
    aspire_batch_destroy(&b);
    aspire_batch_destroy(&b);
    aspire_dataset_free(ds);
}

/* Runs one epoch, recording the index order; returns the number of batches. */
static int run_epoch(aspire_loader *ld, aspire_batch *b, int64_t *order, int64_t *n) {
    int nb = 0;
    *n = 0;
    while (aspire_loader_next(ld, b) == 1) {
        for (int k = 0; k < b->n; k++) order[(*n)++] = b->index[k];
        nb++;
    }
    return nb;
}

static void test_loader_order(void) {
    aspire_dataset *ds = load_wb(8);
    if (!ds) return;
    aspire_batch b;
    aspire_batch_init(&b, 5, 8, 3);
    aspire_loader *ld;
    aspire_loader_options lo = {.batch_size = 5};
    CHECK(aspire_loader_new(&ld, ds, &lo) == ASPIRE_OK);
    CHECK(aspire_loader_batches(ld) == 3);
    int64_t order[64], n;
    CHECK(run_epoch(ld, &b, order, &n) == 3 && n == 12);
    int seq = 1;
    for (int i = 0; i < 12; i++) seq &= order[i] == i;
    CHECK(seq);
    CHECK(aspire_loader_epoch(ld) == 1 && b.n == 0);
    aspire_loader_free(ld);
    /* drop_last */
    lo.drop_last = 1;
    CHECK(aspire_loader_new(&ld, ds, &lo) == ASPIRE_OK);
    CHECK(aspire_loader_batches(ld) == 2 && run_epoch(ld, &b, order, &n) == 2 && n == 10);
    aspire_loader_free(ld);
    /* shuffle: a permutation each epoch, different across epochs, reproducible by seed and epoch */
    lo.drop_last = 0;
    lo.shuffle = 1;
    lo.seed = 7;
    CHECK(aspire_loader_new(&ld, ds, &lo) == ASPIRE_OK);
    int64_t e0[64], e1[64], again[64], n0, n1;
    run_epoch(ld, &b, e0, &n0);
    run_epoch(ld, &b, e1, &n1);
    int seen[12] = {0}, same01 = 1;
    for (int i = 0; i < 12; i++) { seen[e0[i]]++; same01 &= e0[i] == e1[i]; }
    int perm = 1;
    for (int i = 0; i < 12; i++) perm &= seen[i] == 1;
    CHECK(n0 == 12 && perm && !same01);
    aspire_loader_set_epoch(ld, 1);
    run_epoch(ld, &b, again, &n);
    CHECK(memcmp(again, e1, sizeof(int64_t) * 12) == 0);
    aspire_loader_free(ld);
    CHECK(aspire_loader_new(&ld, ds, &lo) == ASPIRE_OK);
    run_epoch(ld, &b, again, &n);
    CHECK(memcmp(again, e0, sizeof(int64_t) * 12) == 0);
    aspire_loader_free(ld);
    lo.seed = 8;
    CHECK(aspire_loader_new(&ld, ds, &lo) == ASPIRE_OK);
    run_epoch(ld, &b, again, &n);
    CHECK(memcmp(again, e0, sizeof(int64_t) * 12) != 0);
    aspire_loader_free(ld);
    /* bad options */
    lo.batch_size = 0;
    CHECK(aspire_loader_new(&ld, ds, &lo) == ASPIRE_ERR_ARG && ld == NULL);
    aspire_batch_destroy(&b);
    aspire_dataset_free(ds);
}

static void test_loader_weighted(void) {
    aspire_dataset *ds = load_wb(8);
    if (!ds) return;
    /* group-balanced weights: 1 / group size */
    int64_t counts[4];
    aspire_dataset_group_counts(ds, counts);
    float w[12];
    for (int i = 0; i < 12; i++) w[i] = 1.0f / (float)counts[aspire_dataset_group(ds, i)];
    w[3] = 0; /* never drawn */
    aspire_loader_options lo = {.batch_size = 50, .weights = w, .num_samples = 20000, .seed = 3};
    aspire_loader *ld;
    CHECK(aspire_loader_new(&ld, ds, &lo) == ASPIRE_OK);
    aspire_batch b;
    aspire_batch_init(&b, 50, 8, 3);
    int64_t per_group[4] = {0}, hits3 = 0, total = 0;
    while (aspire_loader_next(ld, &b) == 1)
        for (int k = 0; k < b.n; k++) { per_group[b.group[k]]++; hits3 += b.index[k] == 3; total++; }
    CHECK(total == 20000 && hits3 == 0);
    /* the group of example 3 lost one member's weight: expected shares are proportional */
    double wsum[4] = {0}, wt = 0;
    for (int i = 0; i < 12; i++) { wsum[aspire_dataset_group(ds, i)] += w[i]; wt += w[i]; }
    for (int g = 0; g < 4; g++) {
        double expect = 20000.0 * wsum[g] / wt, sd = sqrt(expect);
        CHECK_MSG(fabs((double)per_group[g] - expect) < 5 * sd, "group %d: %lld draws, expected %.0f", g, (long long)per_group[g], expect);
    }
    /* weights are validated; new weights apply from the next epoch */
    w[0] = -1;
    CHECK(aspire_loader_set_weights(ld, w) == ASPIRE_ERR_ARG);
    float only[12] = {0};
    only[7] = 2.0f;
    CHECK(aspire_loader_set_weights(ld, only) == ASPIRE_OK);
    int all7 = 1;
    while (aspire_loader_next(ld, &b) == 1)
        for (int k = 0; k < b.n; k++) all7 &= b.index[k] == 7;
    CHECK(all7);
    float zeros[12] = {0};
    CHECK(aspire_loader_set_weights(ld, zeros) == ASPIRE_ERR_ARG);
    CHECK(aspire_loader_set_weights(ld, NULL) == ASPIRE_OK);
    aspire_loader_free(ld);
    aspire_batch_destroy(&b);
    aspire_dataset_free(ds);
}

/* Whether x (a 16x16 batch example) is the 2x bilinear upscale of some 8x8 window of src, within
 * rounding to bytes. */
static int crop_matches_window(const uint8_t *src, const float *x) {
    const int S = 16, per = S * S * 3;
    int found = 0;
    for (int y0 = 0; y0 <= 8 && !found; y0++)
        for (int x0 = 0; x0 <= 8 && !found; x0++) {
            aspire_image win, up;
            aspire_image_init(&win, 8, 8, 3);
            for (int y = 0; y < 8; y++) memcpy(win.data + y * 24, src + ((y0 + y) * S + x0) * 3, 24);
            aspire_image_resize(&up, &win, S, S, ASPIRE_RESIZE_BILINEAR);
            int ok = 1;
            for (int j = 0; j < per && ok; j++) ok = fabsf(x[j] - ((float)up.data[j] / 255.0f - 0.5f) / 0.25f) <= 0.51f / 255 / 0.25f;
            found = ok;
            aspire_image_destroy(&win);
            aspire_image_destroy(&up);
        }
    return found;
}

static void test_augmentation(void) {
    aspire_dataset *ds = load_wb(16);
    if (!ds) return;
    const int S = 16, per = S * S * 3;
    aspire_batch b, b2, ref;
    aspire_batch_init(&b, 12, S, 3);
    aspire_batch_init(&b2, 12, S, 3);
    aspire_batch_init(&ref, 12, S, 3);
    int64_t all[12];
    for (int i = 0; i < 12; i++) all[i] = i;
    aspire_dataset_fill(ds, all, 12, &ref, NULL, NULL);
    /* flips: each example is itself or its mirror; over epochs both happen */
    aspire_loader_options lo = {.batch_size = 12, .hflip = 1, .seed = 5};
    aspire_loader *ld;
    CHECK(aspire_loader_new(&ld, ds, &lo) == ASPIRE_OK);
    int flipped = 0, plain = 0, other = 0;
    for (int e = 0; e < 10; e++) {
        CHECK(aspire_loader_next(ld, &b) == 1);
        for (int k = 0; k < 12; k++) {
            const float *x = b.x + k * per, *r = ref.x + b.index[k] * per;
            int same = memcmp(x, r, sizeof(float) * per) == 0, mirror = 1;
            for (int y = 0; y < S && mirror; y++)
                for (int xx = 0; xx < S; xx++)
                    for (int c = 0; c < 3; c++) mirror &= x[(y * S + xx) * 3 + c] == r[(y * S + S - 1 - xx) * 3 + c];
            flipped += mirror && !same;
            plain += same;
            other += !same && !mirror;
        }
        CHECK(aspire_loader_next(ld, &b) == 0);
    }
    CHECK_MSG(other == 0 && flipped > 30 && plain > 30, "flipped %d plain %d other %d", flipped, plain, other);
    aspire_loader_free(ld);
    /* an identity crop (scale 1, ratio 1) changes nothing */
    aspire_loader_options id = {.batch_size = 12, .crop = 1, .crop_scale = {1, 1}, .crop_ratio = {1, 1}};
    CHECK(aspire_loader_new(&ld, ds, &id) == ASPIRE_OK);
    CHECK(aspire_loader_next(ld, &b) == 1 && memcmp(b.x, ref.x, sizeof(float) * 12 * per) == 0);
    aspire_loader_free(ld);
    /* quarter-area square crops are 8x8 windows upscaled 2x bilinearly: each output matches the
     * bilinear resize of some 8x8 window of its source (within rounding to bytes) */
    aspire_loader_options q = {.batch_size = 12, .crop = 1, .crop_scale = {0.25f, 0.25f}, .crop_ratio = {1, 1}, .seed = 9};
    CHECK(aspire_loader_new(&ld, ds, &q) == ASPIRE_OK);
    CHECK(aspire_loader_next(ld, &b) == 1);
    int matched = 0;
    for (int k = 0; k < 12; k++) matched += crop_matches_window(aspire_dataset_pixels(ds, b.index[k]), b.x + k * per);
    CHECK_MSG(matched == 12, "%d of 12 crops matched a window", matched);
    aspire_loader_free(ld);
    /* crops + flips + shuffling: identical batches with 1 and 2 threads */
    aspire_loader_options full = {.batch_size = 12, .shuffle = 1, .hflip = 1, .crop = 1, .seed = 11};
    omp_set_num_threads(1);
    CHECK(aspire_loader_new(&ld, ds, &full) == ASPIRE_OK);
    aspire_loader_set_epoch(ld, 3);
    CHECK(aspire_loader_next(ld, &b) == 1);
    aspire_loader_free(ld);
    omp_set_num_threads(2);
    CHECK(aspire_loader_new(&ld, ds, &full) == ASPIRE_OK);
    aspire_loader_set_epoch(ld, 3);
    CHECK(aspire_loader_next(ld, &b2) == 1);
    CHECK(memcmp(b.x, b2.x, sizeof(float) * 12 * per) == 0 && memcmp(b.index, b2.index, sizeof(int64_t) * 12) == 0);
    CHECK(memcmp(b.x, ref.x, sizeof(float) * 12 * per) != 0);
    float lo_v = 1e9f, hi_v = -1e9f;
    for (int j = 0; j < 12 * per; j++) { lo_v = fminf(lo_v, b.x[j]); hi_v = fmaxf(hi_v, b.x[j]); }
    CHECK(lo_v >= -2.0f && hi_v <= 2.0f);
    aspire_loader_free(ld);
    aspire_loader_free(NULL);
    aspire_batch_destroy(&b);
    aspire_batch_destroy(&b2);
    aspire_batch_destroy(&ref);
    aspire_dataset_free(ds);
}

/* Allocation failures at every point of a load (one thread: the budget is not atomic). */
static void test_out_of_memory(void) {
    omp_set_num_threads(1);
    int ok = 0, nomem = 0, other = 0;
    for (long b = 0; b < 400 && ok < 3; b++) {
        alloc_budget = b;
        aspire_set_allocator(failing_alloc, NULL);
        aspire_dataset *ds;
        aspire_dataset_options o = {.split = ASPIRE_SPLIT_ALL, .size = 8};
        int rc = aspire_dataset_load(&ds, P("wb", NULL), &o);
        aspire_loader *ld = NULL;
        aspire_loader_options lo = {.batch_size = 4, .crop = 1};
        if (rc == ASPIRE_OK) rc = aspire_loader_new(&ld, ds, &lo);
        aspire_set_allocator(NULL, NULL);
        if (rc == ASPIRE_OK) ok += aspire_dataset_count(ds) == NBASE;
        else if (rc == ASPIRE_ERR_NOMEM) nomem++;
        else { other++; fprintf(stderr, "    %s\n", aspire_errmsg()); }
        aspire_loader_free(ld);
        if (rc == ASPIRE_OK || ld) aspire_dataset_free(ds);
        else if (rc != ASPIRE_OK && ds) aspire_dataset_free(ds);
    }
    omp_set_num_threads(2);
    CHECK(ok > 0 && nomem > 0 && other == 0);
}

int main(void) {
    testdir_make(dir, sizeof dir);
    RUN(test_load_waterbirds);
    RUN(test_places_generalised);
    RUN(test_errors);
    RUN(test_index);
    RUN(test_extra_append_subset);
    RUN(test_fill);
    RUN(test_loader_order);
    RUN(test_loader_weighted);
    RUN(test_augmentation);
    RUN(test_out_of_memory);
    testdir_remove(dir);
    return TEST_REPORT();
}
