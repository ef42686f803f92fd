/* image.h — 8-bit images in memory, PNG and JPEG files, resizing, and conversion to the engine's
 * float layout. Pixels are interleaved rows (HWC), c = 1 (grey), 3 (RGB) or 4 (RGBA); 2 (grey + alpha) is
 * accepted where noted. Channel conversion follows PIL's convert(): alpha is dropped without
 * compositing, grey is ITU-R 601 luma. */
#ifndef ASPIRE_IMAGE_H
#define ASPIRE_IMAGE_H

#include "aspire/common.h"

typedef struct aspire_image {
    int w, h, c;
    uint8_t *data;  /* h * w * c bytes, owned by the image */
} aspire_image;

/* Allocates a zero-filled w×h×c image into *img (caller-owned struct). */
ASPIRE_API int aspire_image_init(aspire_image *img, int w, int h, int c);
/* Frees the pixels; accepts a zeroed or already-destroyed image. */
ASPIRE_API void aspire_image_destroy(aspire_image *img);

/* Reads a PNG or JPEG (decided by the file's first bytes, not its name) and converts it to
 * `channels` (1, 3 or 4; 0 keeps the file's own). A missing, truncated or corrupt file is refused
 * with a message naming it; never crashes. On failure *img is left zeroed. */
ASPIRE_API int aspire_image_load(aspire_image *img, const char *path, int channels);
/* The same from a buffer holding a file's bytes; `name` (may be NULL) names it in messages. */
ASPIRE_API int aspire_image_decode(aspire_image *img, const void *data, size_t n, int channels, const char *name);
/* Writes atomically (temporary file, fsync, rename). JPEG drops alpha (grey + alpha keeps grey). */
ASPIRE_API int aspire_image_save_png(const aspire_image *img, const char *path);
ASPIRE_API int aspire_image_save_jpeg(const aspire_image *img, const char *path, int quality);
/* The same with ASPIRE_ATOMIC_* flags (fileio.h): ASPIRE_ATOMIC_NOSYNC for folders of thousands of
 * images, followed by one aspire_sync_fs(). */
ASPIRE_API int aspire_image_save_png_ex(const aspire_image *img, const char *path, int flags);
ASPIRE_API int aspire_image_save_jpeg_ex(const aspire_image *img, const char *path, int quality, int flags);

typedef enum aspire_resize_mode {
    ASPIRE_RESIZE_BILINEAR = 0, /* torch's upsample_bilinear2d, align_corners = false (no antialias) */
    ASPIRE_RESIZE_AREA = 1,     /* each output pixel averages the source area it covers */
    ASPIRE_RESIZE_AUTO = 2      /* per axis: area where shrinking, bilinear where growing */
} aspire_resize_mode;
/* Resizes src into a new image *dst of w×h (same channels; caller destroys it). Bilinear samples
 * at pixel centres (align_corners = false); area averages the covered source pixels with
 * fractional weights at the borders (best for shrinking). Results are rounded to nearest. */
ASPIRE_API int aspire_image_resize(aspire_image *dst, const aspire_image *src, int w, int h, aspire_resize_mode mode);

/* The library's one pixel normaliser: lut[v] = (v / 255 - mean) / std for the bytes v = 0..255,
 * computed in float32 as v * (1 / (255 std)) - mean / std (for mean 0.5, std 0.25: v / 63.75 - 2,
 * the network input training has always used). Classifiers, the captioner and the dataset
 * batches all normalise through it. */
ASPIRE_API void aspire_pixel_lut(float lut[256], float mean, float std);

/* Writes the image as floats in HWC order into dst (h*w*c floats): (x / 255 - mean[ch]) / std[ch]
 * through aspire_pixel_lut. mean and std have c entries, or are NULL for 0 and 1. */
ASPIRE_API void aspire_image_to_float(const aspire_image *img, float *dst, const float *mean, const float *std);
/* The inverse, clamping to [0, 255]. */
ASPIRE_API void aspire_image_from_float(aspire_image *img, const float *src, const float *mean, const float *std);

#endif
