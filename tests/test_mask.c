/* test_mask.c — binary masks: area and box, square dilation against hand-computed values, nearest
 * resize, union and IoU, and the PNG round trip with a missing file named in the error. */
#include "aspire/mask.h"

#include "test.h"
#include "testdir.h"

#include <string.h>

static void test_area_box(void) {
    uint8_t m[5 * 4] = {0};
    aspire_box b = {9, 9, 9, 9};
    CHECK(aspire_mask_box(m, 5, 4, &b) == 0);
    CHECK(b.x0 == 0 && b.y0 == 0 && b.x1 == 0 && b.y1 == 0);
    m[1 * 5 + 2] = 255;
    m[3 * 5 + 4] = 1;  /* any nonzero byte is inside */
    CHECK(aspire_mask_area(m, 5, 4) == 2);
    CHECK(aspire_mask_box(m, 5, 4, &b) == 2);
    CHECK(b.x0 == 2 && b.y0 == 1 && b.x1 == 5 && b.y1 == 4);
}

static void test_dilate(void) {
    /* one pixel at (2, 2) of 6x5, radius 1 -> the 3x3 block x 1..3, y 1..3 */
    uint8_t m[6 * 5] = {0};
    m[2 * 6 + 2] = 255;
    CHECK(aspire_mask_dilate(m, 6, 5, 1) == ASPIRE_OK);
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 6; x++) {
            int want = x >= 1 && x <= 3 && y >= 1 && y <= 3;
            CHECK_MSG(m[y * 6 + x] == (want ? 255 : 0), "(%d,%d) = %d", x, y, m[y * 6 + x]);
        }
    /* a corner pixel with radius 2 is clipped at the border: x 0..2, y 0..2 */
    uint8_t c[4 * 4] = {0};
    c[0] = 7;
    CHECK(aspire_mask_dilate(c, 4, 4, 2) == ASPIRE_OK);
    CHECK(aspire_mask_area(c, 4, 4) == 9);
    CHECK(c[2 * 4 + 2] == 255 && c[3 * 4 + 3] == 0 && c[0 * 4 + 3] == 0);
    /* radius 0 only normalises to 0/255 */
    uint8_t z[3] = {0, 1, 200};
    CHECK(aspire_mask_dilate(z, 3, 1, 0) == ASPIRE_OK);
    CHECK(z[0] == 0 && z[1] == 255 && z[2] == 255);
    /* two pixels 3 apart on a row merge at radius 1: 1 0 0 1 -> all four and their neighbours */
    uint8_t r[8] = {0, 255, 0, 0, 255, 0, 0, 0};
    CHECK(aspire_mask_dilate(r, 8, 1, 1) == ASPIRE_OK);
    const uint8_t want[8] = {255, 255, 255, 255, 255, 255, 0, 0};
    CHECK(memcmp(r, want, 8) == 0);
    CHECK(aspire_mask_default_radius(64, 64) == 1);
    CHECK(aspire_mask_default_radius(512, 300) == 5);
    CHECK(aspire_mask_default_radius(224, 224) == 2);
    CHECK(aspire_mask_default_radius(8, 8) == 1);
}

static void test_resize_union_iou(void) {
    uint8_t s[2 * 2] = {255, 0, 0, 255}, d[4 * 4];
    aspire_mask_resize(d, 4, 4, s, 2, 2);
    CHECK(d[0] == 255 && d[1] == 255 && d[2] == 0 && d[5] == 255 && d[10] == 255 && d[15] == 255 && d[3] == 0);
    CHECK(aspire_mask_area(d, 4, 4) == 8);
    uint8_t back[2 * 2];
    aspire_mask_resize(back, 2, 2, d, 4, 4);
    CHECK(memcmp(back, s, 4) == 0);
    uint8_t a[4] = {255, 0, 0, 0}, b[4] = {255, 255, 0, 0};
    CHECK_CLOSE(aspire_mask_iou(a, b, 2, 2), 0.5, 1e-12);
    uint8_t e1[4] = {0}, e2[4] = {0};
    CHECK_CLOSE(aspire_mask_iou(e1, e2, 2, 2), 1.0, 1e-12);
    aspire_mask_union(a, b, 2, 2);
    CHECK(a[0] == 255 && a[1] == 255 && a[2] == 0 && a[3] == 0);
}

static void test_png(void) {
    char dir[256], path[512];
    testdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.png", dir);
    uint8_t m[7 * 3];
    for (int i = 0; i < 21; i++) m[i] = (i % 3 == 0) ? 1 : 0;
    CHECK(aspire_mask_save_png(m, 7, 3, path) == ASPIRE_OK);
    uint8_t *r = NULL;
    int w = 0, h = 0;
    CHECK(aspire_mask_load_png(&r, &w, &h, path) == ASPIRE_OK);
    CHECK(w == 7 && h == 3 && r);
    for (int i = 0; r && i < 21; i++) CHECK(r[i] == (i % 3 == 0 ? 255 : 0));
    aspire_free(r, 0);
    snprintf(path, sizeof path, "%s/missing.png", dir);
    CHECK(aspire_mask_load_png(&r, &w, &h, path) != ASPIRE_OK);
    CHECK(r == NULL && strstr(aspire_errmsg(), "missing.png") != NULL);
    snprintf(path, sizeof path, "%s/bad.png", dir);
    CHECK(testdir_write(path, "not a png", 9) == 0);
    CHECK(aspire_mask_load_png(&r, &w, &h, path) != ASPIRE_OK);
    CHECK(strstr(aspire_errmsg(), "bad.png") != NULL);
    testdir_remove(dir);
}

int main(void) {
    RUN(test_area_box);
    RUN(test_dilate);
    RUN(test_resize_union_iou);
    RUN(test_png);
    return TEST_REPORT();
}
