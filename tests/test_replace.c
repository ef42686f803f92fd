/* test_replace.c — the background replacer: foreground pixels come back bit-exact, the plate is
 * chosen by phrase and else by WordNet kind, plate bank errors name the file; and contact sheets. */
#include "aspire/replace.h"
#include "aspire/sheet.h"

#include "test.h"
#include "testdir.h"

#include <string.h>
#include <sys/stat.h>

/* A bank of two plates: "lake" (all blue, water) and "forest" (all green, land). */
static void make_bank(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/plates", dir);
    mkdir(path, 0755);
    static const uint8_t colors[2][3] = {{20, 40, 200}, {30, 160, 40}};
    static const char *names[2] = {"plates/lake.png", "plates/forest.png"};
    for (int k = 0; k < 2; k++) {
        aspire_image p;
        aspire_image_init(&p, 32, 32, 3);
        for (int i = 0; i < 32 * 32; i++) memcpy(p.data + 3 * i, colors[k], 3);
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        CHECK(aspire_image_save_png(&p, path) == ASPIRE_OK);
        aspire_image_destroy(&p);
    }
    snprintf(path, sizeof path, "%s/plates.csv", dir);
    const char *csv = "file,phrase,kind,source\nplates/lake.png,lake,water,a.png\nplates/forest.png,forest,land,b.png\n";
    CHECK(testdir_write(path, csv, strlen(csv)) == 0);
}

/* A 48×40 image (red-ish gradient) with a square foreground. */
static void make_input(aspire_image *img, uint8_t *fg) {
    aspire_image_init(img, 48, 40, 3);
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 48; x++) {
            uint8_t *p = img->data + ((size_t)y * 48 + x) * 3;
            p[0] = (uint8_t)(100 + x);
            p[1] = (uint8_t)(y * 3);
            p[2] = 9;
            fg[y * 48 + x] = x >= 10 && x < 25 && y >= 12 && y < 30;
        }
}

static void test_keeps_foreground(void) {
    char dir[256];
    testdir_make(dir, sizeof dir);
    make_bank(dir);
    aspire_replacer *r = NULL;
    CHECK(aspire_replacer_new_plates(dir, -1, &r) == ASPIRE_OK);
    aspire_image img, out;
    uint8_t fg[48 * 40];
    make_input(&img, fg);
    /* exact phrase, then one only WordNet knows the kind of ("ocean" is water, "desert" land) */
    static const char *alts[] = {"forest", "lake", "ocean", "desert"};
    static const uint8_t want[] = {160, 40, 40, 160};  /* green channel of the chosen plate */
    for (int a = 0; a < 4; a++) {
        CHECK(aspire_replacer_run(r, &img, fg, NULL, alts[a], 7, &out) == ASPIRE_OK);
        int kept = 1;
        for (int i = 0; i < 48 * 40; i++)
            if (fg[i]) kept &= memcmp(out.data + 3 * i, img.data + 3 * i, 3) == 0;
        CHECK_MSG(kept, "alt %s", alts[a]);
        CHECK_MSG(out.data[1] == want[a] && out.data[3 * (48 * 40 - 1) + 1] == want[a], "alt %s: green %d", alts[a],
                  out.data[1]);
        /* the seam: a background pixel next to the foreground blends in some of the original */
        const uint8_t *seam = out.data + 3 * (20 * 48 + 9);
        CHECK(seam[0] > 30);
        aspire_image_destroy(&out);
    }
    /* a grey input comes back as RGB with the same foreground */
    aspire_image grey;
    aspire_image_init(&grey, 48, 40, 1);
    for (int i = 0; i < 48 * 40; i++) grey.data[i] = (uint8_t)i;
    CHECK(aspire_replacer_run(r, &grey, fg, "field", "lake", 1, &out) == ASPIRE_OK);
    CHECK(out.c == 3 && out.data[3 * (15 * 48 + 12)] == grey.data[15 * 48 + 12]);
    aspire_image_destroy(&out);
    aspire_image_destroy(&grey);
    /* nothing of the kind: "kitchen" is neither water nor land */
    CHECK(aspire_replacer_run(r, &img, fg, NULL, "kitchen", 1, &out) == ASPIRE_ERR_NOTFOUND);
    CHECK(strstr(aspire_errmsg(), "kitchen") != NULL);
    aspire_image_destroy(&img);
    aspire_replacer_free(r);
    testdir_remove(dir);
}

static void test_bank_errors(void) {
    char dir[256], path[512];
    testdir_make(dir, sizeof dir);
    aspire_plate_bank *b = NULL;
    CHECK(aspire_plate_bank_load(&b, dir) != ASPIRE_OK && strstr(aspire_errmsg(), "plates.csv"));
    snprintf(path, sizeof path, "%s/plates.csv", dir);
    const char *no_kind = "file,phrase\nx.png,lake\n";
    testdir_write(path, no_kind, strlen(no_kind));
    CHECK(aspire_plate_bank_load(&b, dir) != ASPIRE_OK && strstr(aspire_errmsg(), "kind") && strstr(aspire_errmsg(), path));
    const char *missing = "file,phrase,kind,source\nx.png,lake,water,a\n";
    testdir_write(path, missing, strlen(missing));
    CHECK(aspire_plate_bank_load(&b, dir) != ASPIRE_OK && strstr(aspire_errmsg(), "plates.csv:2"));
    const char *empty = "file,phrase,kind,source\n";
    testdir_write(path, empty, strlen(empty));
    CHECK(aspire_plate_bank_load(&b, dir) == ASPIRE_ERR_FORMAT && strstr(aspire_errmsg(), "no plates"));
    CHECK(b == NULL);
    testdir_remove(dir);
}

static void test_sheet(void) {
    aspire_sheet *s = NULL;
    CHECK(aspire_sheet_new(&s, 3, 32, 1) == ASPIRE_OK);
    CHECK(aspire_sheet_header(s, 1, "MASK") == ASPIRE_OK);
    CHECK(aspire_sheet_header(s, 3, "X") == ASPIRE_ERR_ARG);
    aspire_image img;
    aspire_image_init(&img, 16, 16, 3);
    memset(img.data, 200, 16 * 16 * 3);
    uint8_t mask[16 * 16] = {0};
    mask[0] = 1;
    CHECK(aspire_sheet_add(s, &img, "A1") == ASPIRE_OK);
    CHECK(aspire_sheet_add_mask(s, mask, 16, 16, NULL) == ASPIRE_OK);
    CHECK(aspire_sheet_skip(s) == ASPIRE_OK);
    CHECK(aspire_sheet_add(s, &img, NULL) == ASPIRE_OK);
    aspire_image out;
    CHECK(aspire_sheet_render(s, &out) == ASPIRE_OK);
    /* 3 columns of 32 + padding; a header line and two rows of tiles with labels */
    CHECK(out.w == 3 * 34 + 2);
    CHECK(out.h > 2 * 32 + 8);
    int bright = 0;  /* the header text is drawn */
    for (int x = 0; x < out.w; x++) bright += out.data[(size_t)(3 * out.w + x) * 3] > 200;
    CHECK(bright > 0);
    aspire_image_destroy(&out);
    aspire_image_destroy(&img);
    aspire_sheet_free(s);
    aspire_sheet_free(NULL);
}

int main(void) {
    RUN(test_keeps_foreground);
    RUN(test_bank_errors);
    RUN(test_sheet);
    return TEST_REPORT();
}
