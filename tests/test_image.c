/* test_image.c — PNG/JPEG decoding against PIL's pixels (fixtures from
 * tests/fixtures/make_image_fixtures.py), round trips, resizing against torch, float conversion,
 * and robustness: every truncation and many byte flips of valid files are refused or decoded,
 * never a crash, and refusals name the file. */
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "test.h"
#include "testdir.h"

#include <cjson/cJSON.h>
#include <string.h>

static char dir[256];
#define FIX ASPIRE_SOURCE_DIR "/tests/fixtures/images/"

static int read_fix(const char *name, char **buf, size_t *n) { return aspire_read_file(name, buf, n); }

static void compare_with(const char *img_path, const char *raw_path, int channels, int *ok_count) {
    aspire_image im;
    int rc = aspire_image_load(&im, img_path, channels);
    CHECK_MSG(rc == ASPIRE_OK, "%s: %s", img_path, aspire_errmsg());
    if (rc) return;
    char *raw;
    size_t n;
    CHECK(read_fix(raw_path, &raw, &n) == ASPIRE_OK);
    CHECK_MSG(n == (size_t)im.w * im.h * im.c, "%s: %zu bytes vs %dx%dx%d", raw_path, n, im.w, im.h, im.c);
    if (n == (size_t)im.w * im.h * im.c) {
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += (uint8_t)raw[i] != im.data[i];
        CHECK_MSG(bad == 0, "%s as %d channels: %zu of %zu bytes differ from PIL", img_path, channels, bad, n);
        if (bad == 0) (*ok_count)++;
    }
    aspire_free(raw, n + 1);
    aspire_image_destroy(&im);
}

static void test_decode_matches_pil(void) {
    static const struct { const char *file, *stem; int native_c; } fx[] = {
        {"rgb.png", "rgb", 3},           {"rgba.png", "rgba", 4},         {"grey.png", "grey", 1},
        {"greyalpha.png", "greyalpha", 4}, {"palette.png", "palette", 4}, {"onebit.png", "onebit", 1},
        {"interlaced.png", "interlaced", 3}, {"rgb16.png", "rgb16", 3},   {"rgb.jpg", "rgb_jpg", 3},
        {"progressive.jpg", "progressive_jpg", 3}, {"grey.jpg", "grey_jpg", 1}, {"cmyk.jpg", "cmyk_jpg", 3},
    };
    int ok = 0;
    for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) {
        char img[512], raw[512];
        snprintf(img, sizeof img, FIX "%s", fx[i].file);
        static const struct { int c; const char *ext; } modes[] = {{3, "rgb"}, {4, "rgba"}, {1, "l"}};
        for (int m = 0; m < 3; m++) {
            snprintf(raw, sizeof raw, FIX "%s.%s", fx[i].stem, modes[m].ext);
            compare_with(img, raw, modes[m].c, &ok);
        }
        aspire_image im;
        CHECK(aspire_image_load(&im, img, 0) == ASPIRE_OK);
        CHECK_MSG(im.c == fx[i].native_c, "%s: native channels %d, expected %d", fx[i].file, im.c, fx[i].native_c);
        aspire_image_destroy(&im);
    }
    CHECK(ok == 36);
}

static void fill_random(aspire_image *im, uint32_t seed) {
    size_t n = (size_t)im->w * im->h * im->c;
    for (size_t i = 0; i < n; i++) { seed = seed * 1664525u + 1013904223u; im->data[i] = (uint8_t)(seed >> 24); }
}

static void test_png_round_trip(void) {
    for (int c = 1; c <= 4; c++) {
        aspire_image a, b;
        CHECK(aspire_image_init(&a, 37, 23, c) == ASPIRE_OK);
        fill_random(&a, 7u + (uint32_t)c);
        char path[512];
        snprintf(path, sizeof path, "%s/rt%d.png", dir, c);
        CHECK((c & 1 ? aspire_image_save_png(&a, path) : aspire_image_save_png_ex(&a, path, ASPIRE_ATOMIC_NOSYNC)) == ASPIRE_OK);
        CHECK(aspire_image_load(&b, path, c == 2 ? 0 : c) == ASPIRE_OK);
        if (c == 2) {
            /* grey + alpha comes back as RGBA */
            CHECK(b.c == 4 && b.w == 37 && b.h == 23);
            int same = 1;
            for (int i = 0; i < 37 * 23; i++)
                same &= b.data[4 * i] == a.data[2 * i] && b.data[4 * i + 2] == a.data[2 * i] &&
                        b.data[4 * i + 3] == a.data[2 * i + 1];
            CHECK(same);
        } else {
            CHECK(b.w == 37 && b.h == 23 && b.c == c);
            CHECK(memcmp(a.data, b.data, (size_t)37 * 23 * c) == 0);
        }
        aspire_image_destroy(&a);
        aspire_image_destroy(&b);
    }
}

static void test_jpeg_round_trip(void) {
    /* A smooth image survives JPEG at quality 95 within a few levels (lossy: approximate). */
    aspire_image a, b;
    CHECK(aspire_image_init(&a, 48, 32, 3) == ASPIRE_OK);
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 48; x++) {
            uint8_t *p = a.data + (y * 48 + x) * 3;
            p[0] = (uint8_t)(x * 5); p[1] = (uint8_t)(y * 7); p[2] = (uint8_t)(128 + (x - y));
        }
    char path[512];
    snprintf(path, sizeof path, "%s/rt.jpg", dir);
    CHECK(aspire_image_save_jpeg(&a, path, 95) == ASPIRE_OK);
    CHECK(aspire_image_load(&b, path, 3) == ASPIRE_OK);
    CHECK(b.w == 48 && b.h == 32 && b.c == 3);
    double err = 0;
    for (int i = 0; i < 48 * 32 * 3; i++) err += fabs((double)a.data[i] - b.data[i]);
    CHECK_MSG(err / (48 * 32 * 3) < 2.0, "mean abs error %.2f", err / (48 * 32 * 3));
    aspire_image_destroy(&b);
    /* RGBA saves as RGB; grey as grey */
    aspire_image g;
    CHECK(aspire_image_init(&g, 16, 16, 4) == ASPIRE_OK);
    fill_random(&g, 3);
    CHECK(aspire_image_save_jpeg(&g, path, 80) == ASPIRE_OK);
    CHECK(aspire_image_load(&b, path, 0) == ASPIRE_OK && b.c == 3);
    aspire_image_destroy(&b);
    aspire_image_destroy(&g);
    CHECK(aspire_image_init(&g, 16, 16, 1) == ASPIRE_OK);
    CHECK(aspire_image_save_jpeg_ex(&g, path, 80, ASPIRE_ATOMIC_NOSYNC) == ASPIRE_OK);
    CHECK(aspire_image_load(&b, path, 0) == ASPIRE_OK && b.c == 1);
    aspire_image_destroy(&b);
    aspire_image_destroy(&g);
    aspire_image_destroy(&a);
    /* a save into a missing folder fails cleanly */
    CHECK(aspire_image_init(&a, 4, 4, 3) == ASPIRE_OK);
    snprintf(path, sizeof path, "%s/no/such/x.png", dir);
    CHECK(aspire_image_save_png(&a, path) == ASPIRE_ERR_IO);
    CHECK_MSG(strstr(aspire_errmsg(), "no/such/x.png") != NULL, "%s", aspire_errmsg());
    snprintf(path, sizeof path, "%s/no/such/x.jpg", dir);
    CHECK(aspire_image_save_jpeg(&a, path, 90) == ASPIRE_ERR_IO);
    aspire_image_destroy(&a);
}

/* Every truncation of a valid file is refused with a message naming it. */
static void truncations(const char *file) {
    char *buf;
    size_t n;
    CHECK(aspire_read_file(file, &buf, &n) == ASPIRE_OK);
    int refused = 0, named = 0;
    for (size_t len = 0; len < n; len++) {
        aspire_image im;
        int rc = aspire_image_decode(&im, buf, len, 3, "cut-file.img");
        refused += rc == ASPIRE_ERR_FORMAT && im.data == NULL;
        named += strstr(aspire_errmsg(), "cut-file.img") != NULL;
        if (rc == ASPIRE_OK) {
            fprintf(stderr, "    %s cut at %zu of %zu bytes was accepted\n", file, len, n);
            aspire_image_destroy(&im);
        }
    }
    CHECK_MSG(refused == (int)n, "%s: %d of %zu truncations refused", file, refused, n);
    CHECK(named == (int)n);
    aspire_image im;
    CHECK(aspire_image_decode(&im, buf, n, 3, "whole") == ASPIRE_OK);
    aspire_image_destroy(&im);
    aspire_free(buf, n + 1);
}

/* Byte flips anywhere: either an error naming the file or a well-formed image. */
static void flips(const char *file) {
    char *buf;
    size_t n;
    CHECK(aspire_read_file(file, &buf, &n) == ASPIRE_OK);
    int refused = 0, accepted = 0, bad = 0;
    static const uint8_t masks[] = {0xff, 0x01, 0x80};
    for (int m = 0; m < 3; m++)
        for (size_t i = 0; i < n; i++) {
            buf[i] ^= (char)masks[m];
            aspire_image im;
            int rc = aspire_image_decode(&im, buf, n, 0, "flipped.img");
            if (rc == ASPIRE_OK) {
                accepted++;
                bad += !(im.data && im.w > 0 && im.h > 0 && im.c >= 1 && im.c <= 4);
                aspire_image_destroy(&im);
            } else {
                refused++;
                bad += !(strstr(aspire_errmsg(), "flipped.img") && im.data == NULL);
            }
            buf[i] ^= (char)masks[m];
        }
    CHECK_MSG(bad == 0, "%s: %d malformed outcomes", file, bad);
    CHECK(refused > 0);
    fprintf(stderr, "    %s: %d flips refused, %d decoded\n", file, refused, accepted);
    aspire_free(buf, n + 1);
}

static void test_corrupt_files(void) {
    const char *files[] = {FIX "rgb.png", FIX "palette.png", FIX "interlaced.png", FIX "rgb16.png",
                           FIX "rgb.jpg", FIX "progressive.jpg", FIX "grey.jpg", FIX "cmyk.jpg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        truncations(files[i]);
        flips(files[i]);
    }
    /* on disk: a truncated file, a missing file, a text file */
    char *buf;
    size_t n;
    CHECK(aspire_read_file(FIX "rgb.png", &buf, &n) == ASPIRE_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/cut.png", dir);
    CHECK(testdir_write(path, buf, n / 2) == 0);
    aspire_free(buf, n + 1);
    aspire_image im;
    CHECK(aspire_image_load(&im, path, 3) == ASPIRE_ERR_FORMAT);
    CHECK_MSG(strstr(aspire_errmsg(), path) && strstr(aspire_errmsg(), "PNG"), "%s", aspire_errmsg());
    snprintf(path, sizeof path, "%s/missing.png", dir);
    CHECK(aspire_image_load(&im, path, 3) == ASPIRE_ERR_NOTFOUND);
    CHECK_MSG(strstr(aspire_errmsg(), path) != NULL, "%s", aspire_errmsg());
    snprintf(path, sizeof path, "%s/text.png", dir);
    CHECK(testdir_write(path, "hello, world\n", 13) == 0);
    CHECK(aspire_image_load(&im, path, 3) == ASPIRE_ERR_FORMAT);
    CHECK_MSG(strstr(aspire_errmsg(), path) && strstr(aspire_errmsg(), "not a PNG or JPEG"), "%s", aspire_errmsg());
    snprintf(path, sizeof path, "%s/empty.png", dir);
    CHECK(testdir_write(path, "", 0) == 0);
    CHECK(aspire_image_load(&im, path, 3) == ASPIRE_ERR_FORMAT);
    CHECK_MSG(strstr(aspire_errmsg(), "empty"), "%s", aspire_errmsg());
    /* junk bytes between segments (before EOI) are tolerated, like PIL: same pixels */
    CHECK(aspire_read_file(FIX "rgb.jpg", &buf, &n) == ASPIRE_OK);
    char *junk = malloc(n + 3);
    memcpy(junk, buf, n - 2);
    memcpy(junk + n - 2, "\x00\x11\x22", 3);
    memcpy(junk + n + 1, buf + n - 2, 2);
    aspire_image a, b;
    CHECK(aspire_image_decode(&a, buf, n, 3, "rgb.jpg") == ASPIRE_OK);
    CHECK_MSG(aspire_image_decode(&b, junk, n + 3, 3, "junk.jpg") == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(b.data && a.w == b.w && memcmp(a.data, b.data, (size_t)a.w * a.h * 3) == 0);
    aspire_image_destroy(&a);
    aspire_image_destroy(&b);
    free(junk);
    aspire_free(buf, n + 1);
    /* a PNG header claiming a gigantic image is refused before any big allocation */
    static const uint8_t huge[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                   0, 1, 0, 0, 0, 1, 0, 0, 8, 2, 0, 0, 0, 0x65, 0xd4, 0x91, 0xd1};
    CHECK(aspire_image_decode(&im, huge, sizeof huge, 3, "huge.png") == ASPIRE_ERR_FORMAT);
}

/* ---- resize ---- */

static void test_resize_against_torch(void) {
    char *js;
    size_t n;
    CHECK(aspire_read_file(FIX "resize.json", &js, &n) == ASPIRE_OK);
    cJSON *root = cJSON_Parse(js);
    aspire_free(js, n + 1);
    CHECK(root != NULL);
    aspire_image src, crop;
    CHECK(aspire_image_load(&src, FIX "rgb.png", 3) == ASPIRE_OK);
    /* the area references are of the top-left 12x9 pixels */
    CHECK(aspire_image_init(&crop, 12, 9, 3) == ASPIRE_OK);
    for (int y = 0; y < 9; y++) memcpy(crop.data + y * 12 * 3, src.data + y * src.w * 3, 12 * 3);
    int cases = 0;
    for (cJSON *e = root ? root->child : NULL; e; e = e->next) {
        int w, h;
        char mode[16];
        CHECK(sscanf(e->string, "%15[a-z]_%dx%d", mode, &w, &h) == 3);
        int area = strcmp(mode, "area") == 0;
        aspire_image out;
        CHECK(aspire_image_resize(&out, area ? &crop : &src, w, h, area ? ASPIRE_RESIZE_AREA : ASPIRE_RESIZE_BILINEAR) == 0);
        CHECK(cJSON_GetArraySize(e) == w * h * 3);
        double worst = 0;
        int i = 0;
        for (cJSON *v = e->child; v && i < w * h * 3; v = v->next, i++) {
            double d = fabs(v->valuedouble - out.data[i]);
            if (d > worst) worst = d;
        }
        /* ours is rounded to bytes: within half a level (+ float slack) of torch's floats */
        CHECK_MSG(worst <= 0.5 + 2e-3, "%s: worst difference %.4f", e->string, worst);
        aspire_image_destroy(&out);
        cases++;
    }
    CHECK(cases == 8);
    cJSON_Delete(root);
    aspire_image_destroy(&crop);
    aspire_image_destroy(&src);
}

static void test_resize_properties(void) {
    aspire_image a, b;
    CHECK(aspire_image_init(&a, 50, 30, 3) == ASPIRE_OK);
    memset(a.data, 77, 50 * 30 * 3);
    aspire_resize_mode modes[] = {ASPIRE_RESIZE_BILINEAR, ASPIRE_RESIZE_AREA, ASPIRE_RESIZE_AUTO};
    int sizes[][2] = {{7, 5}, {64, 64}, {17, 90}, {50, 30}, {1, 1}};
    for (int m = 0; m < 3; m++)
        for (int s = 0; s < 5; s++) {
            CHECK(aspire_image_resize(&b, &a, sizes[s][0], sizes[s][1], modes[m]) == ASPIRE_OK);
            int all = 1;
            for (int i = 0; i < b.w * b.h * 3; i++) all &= b.data[i] == 77;
            CHECK_MSG(all, "constant image not preserved (mode %d, %dx%d)", m, sizes[s][0], sizes[s][1]);
            aspire_image_destroy(&b);
        }
    /* area keeps the mean (fractional weights): 50x30 -> 7x5 covers each source pixel exactly
     * once in total, so the output mean equals the input mean up to rounding */
    fill_random(&a, 11);
    CHECK(aspire_image_resize(&b, &a, 7, 5, ASPIRE_RESIZE_AREA) == ASPIRE_OK);
    for (int ch = 0; ch < 3; ch++) {
        double sa = 0, sb = 0;
        for (int i = 0; i < 50 * 30; i++) sa += a.data[3 * i + ch];
        for (int i = 0; i < 35; i++) sb += b.data[3 * i + ch];
        CHECK_MSG(fabs(sb / 35 - sa / 1500) <= 0.5, "channel %d: means %.3f vs %.3f", ch, sb / 35, sa / 1500);
    }
    aspire_image_destroy(&b);
    /* integer factor: area is the block mean */
    CHECK(aspire_image_resize(&b, &a, 25, 10, ASPIRE_RESIZE_AREA) == ASPIRE_OK);
    int ok = 1;
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 25; x++)
            for (int ch = 0; ch < 3; ch++) {
                int s = 0;
                for (int dy = 0; dy < 3; dy++)
                    for (int dx = 0; dx < 2; dx++) s += a.data[((3 * y + dy) * 50 + 2 * x + dx) * 3 + ch];
                ok &= abs((int)b.data[(y * 25 + x) * 3 + ch] - (int)floor(s / 6.0 + 0.5)) <= 1;
            }
    CHECK(ok);
    aspire_image_destroy(&b);
    /* AUTO: shrinking matches AREA, growing matches BILINEAR */
    aspire_image c;
    CHECK(aspire_image_resize(&b, &a, 20, 12, ASPIRE_RESIZE_AUTO) == ASPIRE_OK);
    CHECK(aspire_image_resize(&c, &a, 20, 12, ASPIRE_RESIZE_AREA) == ASPIRE_OK);
    CHECK(memcmp(b.data, c.data, 20 * 12 * 3) == 0);
    aspire_image_destroy(&b);
    aspire_image_destroy(&c);
    CHECK(aspire_image_resize(&b, &a, 80, 40, ASPIRE_RESIZE_AUTO) == ASPIRE_OK);
    CHECK(aspire_image_resize(&c, &a, 80, 40, ASPIRE_RESIZE_BILINEAR) == ASPIRE_OK);
    CHECK(memcmp(b.data, c.data, 80 * 40 * 3) == 0);
    aspire_image_destroy(&b);
    aspire_image_destroy(&c);
    /* same size is a copy */
    CHECK(aspire_image_resize(&b, &a, 50, 30, ASPIRE_RESIZE_BILINEAR) == ASPIRE_OK);
    CHECK(memcmp(a.data, b.data, 50 * 30 * 3) == 0);
    aspire_image_destroy(&b);
    aspire_image_destroy(&a);
}

static void test_float_conversion(void) {
    aspire_image a, b;
    CHECK(aspire_image_init(&a, 16, 16, 3) == ASPIRE_OK);
    for (int i = 0; i < 16 * 16 * 3; i++) a.data[i] = (uint8_t)i;
    float *f = malloc(sizeof(float) * 16 * 16 * 3);
    const float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.25f, 0.25f, 0.25f};
    aspire_image_to_float(&a, f, mean, std);
    CHECK(f[0] == (0.0f / 255.0f - 0.5f) / 0.25f);
    CHECK_CLOSE(f[255], 2.0, 1e-6);
    CHECK_CLOSE(f[128], (128 / 255.0 - 0.5) / 0.25, 1e-6);
    CHECK(aspire_image_init(&b, 16, 16, 3) == ASPIRE_OK);
    aspire_image_from_float(&b, f, mean, std);
    CHECK(memcmp(a.data, b.data, 16 * 16 * 3) == 0);
    aspire_image_to_float(&a, f, NULL, NULL);
    CHECK(f[255] == 1.0f && f[0] == 0.0f);
    f[0] = -3.0f; f[1] = 7.0f;
    aspire_image_from_float(&b, f, NULL, NULL);
    CHECK(b.data[0] == 0 && b.data[1] == 255 && b.data[2] == 2);
    free(f);
    aspire_image_destroy(&a);
    aspire_image_destroy(&b);
    aspire_image_destroy(&b); /* twice is fine */
    aspire_image_destroy(NULL);
}

int main(void) {
    testdir_make(dir, sizeof dir);
    RUN(test_decode_matches_pil);
    RUN(test_png_round_trip);
    RUN(test_jpeg_round_trip);
    RUN(test_corrupt_files);
    RUN(test_resize_against_torch);
    RUN(test_resize_properties);
    RUN(test_float_conversion);
    testdir_remove(dir);
    return TEST_REPORT();
}
