/* mask.c — binary masks (0/255 bytes, h × w): area, box, square dilation, nearest resize, union,
 * IoU and PNG files. See mask.h for the conventions. */
#include "aspire/mask.h"

#include "aspire/image.h"

#include <math.h>
#include <string.h>

int64_t aspire_mask_area(const uint8_t *m, int w, int h) {
    int64_t n = 0, total = (int64_t)w * h;
    for (int64_t i = 0; i < total; i++) n += m[i] != 0;
    return n;
}

int64_t aspire_mask_box(const uint8_t *m, int w, int h, aspire_box *box) {
    int x0 = w, y0 = h, x1 = 0, y1 = 0;
    int64_t n = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (m[(size_t)y * w + x]) {
                n++;
                if (x < x0) x0 = x;
                if (x + 1 > x1) x1 = x + 1;
                if (y < y0) y0 = y;
                if (y + 1 > y1) y1 = y + 1;
            }
    if (n == 0) x0 = y0 = x1 = y1 = 0;
    box->x0 = x0; box->y0 = y0; box->x1 = x1; box->y1 = y1;
    return n;
}

/* One separable pass: out[i] = any of in[i - r .. i + r] along rows (horizontal) or columns. A
 * running count of inside pixels in the window keeps it O(w h) for any r. */
static void dilate_pass(uint8_t *dst, const uint8_t *src, int w, int h, int r, int horizontal) {
    int len = horizontal ? w : h, lines = horizontal ? h : w;
    size_t step = horizontal ? 1 : (size_t)w, stride = horizontal ? (size_t)w : 1;
    for (int l = 0; l < lines; l++) {
        const uint8_t *s = src + (size_t)l * stride;
        uint8_t *d = dst + (size_t)l * stride;
        int count = 0;
        for (int i = 0; i < r && i < len; i++) count += s[i * step] != 0;
        for (int i = 0; i < len; i++) {
            if (i + r < len) count += s[(size_t)(i + r) * step] != 0;
            if (i - r - 1 >= 0) count -= s[(size_t)(i - r - 1) * step] != 0;
            d[i * step] = count ? ASPIRE_MASK_ON : 0;
        }
    }
}

int aspire_mask_dilate(uint8_t *m, int w, int h, int r) {
    size_t n = (size_t)w * h;
    if (r <= 0) {
        for (size_t i = 0; i < n; i++) m[i] = m[i] ? ASPIRE_MASK_ON : 0;
        return ASPIRE_OK;
    }
    uint8_t *tmp = aspire_malloc(n ? n : 1);
    if (!tmp) return ASPIRE_ERR_NOMEM;
    dilate_pass(tmp, m, w, h, r, 1);
    dilate_pass(m, tmp, w, h, r, 0);
    aspire_free(tmp, n ? n : 1);
    return ASPIRE_OK;
}

int aspire_mask_default_radius(int w, int h) {
    int side = w > h ? w : h;
    int r = (int)lround(5.0 * side / 512.0);
    return r < 1 ? 1 : r;
}

void aspire_mask_resize(uint8_t *dst, int dw, int dh, const uint8_t *src, int sw, int sh) {
    for (int y = 0; y < dh; y++) {
        int sy = (int)(((double)y + 0.5) * sh / dh);
        if (sy >= sh) sy = sh - 1;
        for (int x = 0; x < dw; x++) {
            int sx = (int)(((double)x + 0.5) * sw / dw);
            if (sx >= sw) sx = sw - 1;
            dst[(size_t)y * dw + x] = src[(size_t)sy * sw + sx] ? ASPIRE_MASK_ON : 0;
        }
    }
}

void aspire_mask_union(uint8_t *dst, const uint8_t *src, int w, int h) {
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++) dst[i] = (dst[i] || src[i]) ? ASPIRE_MASK_ON : 0;
}

double aspire_mask_iou(const uint8_t *a, const uint8_t *b, int w, int h) {
    int64_t inter = 0, uni = 0, n = (int64_t)w * h;
    for (int64_t i = 0; i < n; i++) {
        inter += a[i] && b[i];
        uni += a[i] || b[i];
    }
    return uni ? (double)inter / (double)uni : 1.0;
}

int aspire_mask_save_png(const uint8_t *m, int w, int h, const char *path) {
    return aspire_mask_save_png_ex(m, w, h, path, 0);
}

int aspire_mask_save_png_ex(const uint8_t *m, int w, int h, const char *path, int flags) {
    aspire_image img;
    int rc = aspire_image_init(&img, w, h, 1);
    if (rc) return rc;
    for (size_t i = 0; i < (size_t)w * h; i++) img.data[i] = m[i] ? ASPIRE_MASK_ON : 0;
    rc = aspire_image_save_png_ex(&img, path, flags);
    aspire_image_destroy(&img);
    return rc;
}

int aspire_mask_load_png(uint8_t **m, int *w, int *h, const char *path) {
    *m = NULL;
    *w = *h = 0;
    aspire_image img;
    int rc = aspire_image_load(&img, path, 1);
    if (rc) return rc;
    size_t n = (size_t)img.w * img.h;
    *m = aspire_malloc(n ? n : 1);
    if (!*m) { aspire_image_destroy(&img); return ASPIRE_ERR_NOMEM; }
    for (size_t i = 0; i < n; i++) (*m)[i] = img.data[i] >= 128 ? ASPIRE_MASK_ON : 0;
    *w = img.w;
    *h = img.h;
    aspire_image_destroy(&img);
    return ASPIRE_OK;
}
