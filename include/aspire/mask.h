/* mask.h — binary masks: what the segmenter produces and the inpainter consumes.
 *
 * A mask is a plain h × w array of uint8_t, row-major (pixel (x, y) at m[y * w + x]), with no
 * header: the caller keeps w and h. Convention: **0 = outside, 255 = inside**. Every function here
 * writes exactly 0 or 255, and reads any nonzero byte as inside (so a 0/1 array is accepted as
 * input too). A mask PNG is an 8-bit grey image with the same bytes.
 *
 * Boxes are half-open pixel ranges [x0, x1) × [y0, y1), as the world's scene graphs write them; an
 * empty mask has the empty box {0, 0, 0, 0}. */
#ifndef ASPIRE_MASK_H
#define ASPIRE_MASK_H

#include "aspire/common.h"

#define ASPIRE_MASK_ON 255

typedef struct aspire_box {
    int x0, y0, x1, y1;  /* [x0, x1) × [y0, y1); x1 == x0 for an empty box */
} aspire_box;

/* Pixels inside (nonzero). */
ASPIRE_API int64_t aspire_mask_area(const uint8_t *m, int w, int h);
/* The tightest box around the inside pixels; returns the area (0: *box = {0, 0, 0, 0}). */
ASPIRE_API int64_t aspire_mask_box(const uint8_t *m, int w, int h, aspire_box *box);
/* Dilates by a (2r + 1) × (2r + 1) square (Chebyshev radius r): a pixel is inside when any pixel
 * within r of it is. In place; r <= 0 only normalises the mask to 0/255. ASPIRE_ERR_NOMEM. */
ASPIRE_API int aspire_mask_dilate(uint8_t *m, int w, int h, int r);
/* The default dilation radius for an image of side max(w, h): the reference's 10 × 10 kernel at
 * 512 px reaches 5 px, scaled with the side: round(5 · side / 512), at least 1 (1 at 64 px). */
ASPIRE_API int aspire_mask_default_radius(int w, int h);
/* dst (dw × dh, caller-allocated) = src (sw × sh) resized by nearest neighbour (pixel centres). */
ASPIRE_API void aspire_mask_resize(uint8_t *dst, int dw, int dh, const uint8_t *src, int sw, int sh);
/* dst |= src (same size): dst becomes the union, 0/255. */
ASPIRE_API void aspire_mask_union(uint8_t *dst, const uint8_t *src, int w, int h);
/* Intersection over union of two masks of the same size; 1 when both are empty. */
ASPIRE_API double aspire_mask_iou(const uint8_t *a, const uint8_t *b, int w, int h);
/* Writes the mask as an 8-bit grey PNG (0/255), atomically. */
ASPIRE_API int aspire_mask_save_png(const uint8_t *m, int w, int h, const char *path);
/* The same with ASPIRE_ATOMIC_* flags (fileio.h), e.g. ASPIRE_ATOMIC_NOSYNC for folders. */
ASPIRE_API int aspire_mask_save_png_ex(const uint8_t *m, int w, int h, const char *path, int flags);
/* Reads a PNG or JPEG as a mask: grey (colour images converted to luma), thresholded at 128 to
 * 0/255. *m is new (free with aspire_free(*m, 0)); a missing or corrupt file is refused
 * naming it. */
ASPIRE_API int aspire_mask_load_png(uint8_t **m, int *w, int *h, const char *path);

#endif
