/* image.c — PNG (libpng) and JPEG (libjpeg-turbo) decoding and encoding, channel conversion,
 * resizing (bilinear with align_corners = false, and exact area averaging) and conversion to and
 * from normalised floats. Decoders run behind setjmp error handlers on an in-memory copy of the
 * file, so a truncated or corrupt file becomes an error naming it, never a crash. */
#include "aspire/image.h"
#include "aspire/fileio.h"

#include <jpeglib.h>
#include <jerror.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

/* Decoded images larger than this are refused (a corrupt or hostile header must not make us
 * allocate gigabytes). 32768 px a side, 2^28 pixels. */
#define MAX_SIDE 32768
#define MAX_PIXELS ((size_t)1 << 28)

int aspire_image_init(aspire_image *img, int w, int h, int c) {
    memset(img, 0, sizeof *img);
    ASPIRE_ASSERT(w > 0 && h > 0 && (c == 1 || c == 2 || c == 3 || c == 4), "(w %d h %d c %d)", w, h, c);
    size_t n = (size_t)w * (size_t)h * (size_t)c;
    img->data = aspire_calloc(n, 1);
    if (!img->data) return ASPIRE_ERR_NOMEM;
    img->w = w;
    img->h = h;
    img->c = c;
    return ASPIRE_OK;
}

void aspire_image_destroy(aspire_image *img) {
    if (!img) return;
    if (img->data) aspire_free(img->data, (size_t)img->w * (size_t)img->h * (size_t)img->c);
    memset(img, 0, sizeof *img);
}

/* ---- channel conversion ---------------------------------------------------------------------- */

/* PIL's luma (ITU-R 601-2, fixed point as in its Convert.c), so grey images match PIL's "L". */
static inline uint8_t luma(const uint8_t *p) {
    return (uint8_t)(((uint32_t)p[0] * 19595u + (uint32_t)p[1] * 38470u + (uint32_t)p[2] * 7471u + 0x8000u) >> 16);
}

/* Converts src (sc channels) into dst (dc channels), n pixels. Alpha is dropped without
 * compositing and added as 255, as PIL's convert() does. sc in 1..4 (2 = grey + alpha). */
static void convert_channels(uint8_t *dst, int dc, const uint8_t *src, int sc, size_t n) {
    if (dc == sc) { memcpy(dst, src, n * (size_t)sc); return; }
    for (size_t i = 0; i < n; i++, src += sc, dst += dc) {
        uint8_t r, g, b, a;
        if (sc <= 2) { r = g = b = src[0]; a = sc == 2 ? src[1] : 255; }
        else { r = src[0]; g = src[1]; b = src[2]; a = sc == 4 ? src[3] : 255; }
        switch (dc) {
        case 1: dst[0] = sc <= 2 ? src[0] : luma(src); break;
        case 2: dst[0] = sc <= 2 ? src[0] : luma(src); dst[1] = a; break;
        case 3: dst[0] = r; dst[1] = g; dst[2] = b; break;
        default: dst[0] = r; dst[1] = g; dst[2] = b; dst[3] = a; break;
        }
    }
}

/* Takes ownership of pixels (w*h*sc bytes) and stores them in img as `want` channels
 * (0 keeps sc, except that grey + alpha becomes RGBA). */
static int finish_decode(aspire_image *img, uint8_t *pixels, int w, int h, int sc, int want) {
    size_t npx = (size_t)w * (size_t)h;
    int dc = want ? want : (sc == 2 ? 4 : sc);
    if (dc == sc) {
        img->w = w; img->h = h; img->c = sc; img->data = pixels;
        return ASPIRE_OK;
    }
    int rc = aspire_image_init(img, w, h, dc);
    if (rc == ASPIRE_OK) convert_channels(img->data, dc, pixels, sc, npx);
    aspire_free(pixels, npx * (size_t)sc);
    return rc;
}

static int check_dims(const char *name, size_t w, size_t h) {
    if (w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE || w * h > MAX_PIXELS)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: unsupported image size %zux%zu (corrupt header?)", name, w, h);
    return ASPIRE_OK;
}

/* ---- PNG ------------------------------------------------------------------------------------- */

typedef struct png_src {
    const uint8_t *p;
    size_t n, pos;
    int nomem;
    char msg[256];
} png_src;

static void png_read_cb(png_structp png, png_bytep out, size_t len) {
    png_src *s = png_get_io_ptr(png);
    if (len > s->n - s->pos) png_error(png, "file is truncated");
    memcpy(out, s->p + s->pos, len);
    s->pos += len;
}

static void png_error_cb(png_structp png, png_const_charp msg) {
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static int decode_png(aspire_image *img, const uint8_t *data, size_t n, int want, const char *name) {
    png_src src = {data, n, 0, 0, "unknown error"};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_error_cb, png_warning_cb);
    if (!png) return aspire_error(ASPIRE_ERR_NOMEM, "%s: out of memory creating the PNG decoder", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return aspire_error(ASPIRE_ERR_NOMEM, "%s: out of memory creating the PNG decoder", name);
    }
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    volatile size_t pix_bytes = 0, row_bytes = 0;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        aspire_free(pixels, pix_bytes);
        aspire_free(rows, row_bytes);
        if (src.nomem) return aspire_error(ASPIRE_ERR_NOMEM, "%s: out of memory decoding the PNG", name);
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: corrupt or truncated PNG (%s)", name, src.msg);
    }
    png_set_read_fn(png, &src, png_read_cb);
    png_set_user_limits(png, MAX_SIDE, MAX_SIDE);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((size_t)w * (size_t)h > MAX_PIXELS) png_error(png, "image too large");
    /* Everything to 8 bits per channel, palettes and tRNS to RGB(A); no gamma correction (as PIL). */
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int c = png_get_channels(png, info);
    if (c < 1 || c > 4 || png_get_rowbytes(png, info) != (size_t)w * (size_t)c) png_error(png, "unexpected pixel layout");
    pix_bytes = (size_t)w * h * (size_t)c;
    pixels = aspire_malloc(pix_bytes);
    row_bytes = sizeof(png_bytep) * h;
    rows = aspire_malloc(row_bytes);
    if (!pixels || !rows) { src.nomem = 1; png_error(png, "out of memory"); }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * w * (size_t)c;
    png_read_image(png, rows);
    png_read_end(png, NULL); /* also refuses a file cut off after the pixels */
    png_destroy_read_struct(&png, &info, NULL);
    aspire_free(rows, row_bytes);
    return finish_decode(img, pixels, (int)w, (int)h, c, want);
}

/* ---- JPEG ------------------------------------------------------------------------------------ */

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    int nomem;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_error_exit_cb(j_common_ptr cinfo) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    e->pub.format_message(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* Level -1 is a corrupt-data warning (premature end of file, bad Huffman code, lost sync): libjpeg
 * would go on and return a partly grey image; we refuse the file instead. The one exception is
 * "extraneous bytes before marker": junk between segments, common in files written by cameras and
 * editors, with the image data intact (PIL decodes those too). Levels >= 0 are trace messages. */
static void jpeg_emit_message_cb(j_common_ptr cinfo, int level) {
    if (level >= 0 || cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA) return;
    jpeg_err *e = (jpeg_err *)cinfo->err;
    e->pub.format_message(cinfo, e->msg);
    longjmp(e->jb, 1);
}

static void jpeg_output_message_cb(j_common_ptr cinfo) { (void)cinfo; }

static int decode_jpeg(aspire_image *img, const uint8_t *data, size_t n, int want, const char *name) {
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_error_exit_cb;
    err.pub.emit_message = jpeg_emit_message_cb;
    err.pub.output_message = jpeg_output_message_cb;
    snprintf(err.msg, sizeof err.msg, "unknown error");
    err.nomem = 0;
    uint8_t *volatile pixels = NULL;
    volatile size_t pix_bytes = 0;
    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&cinfo);
        aspire_free(pixels, pix_bytes);
        if (err.nomem) return aspire_error(ASPIRE_ERR_NOMEM, "%s: out of memory decoding the JPEG", name);
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: corrupt or truncated JPEG (%s)", name, err.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)n);
    jpeg_read_header(&cinfo, TRUE);
    if (check_dims(name, cinfo.image_width, cinfo.image_height) != ASPIRE_OK) {
        jpeg_destroy_decompress(&cinfo);
        return ASPIRE_ERR_FORMAT;
    }
    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK: case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; cmyk = 1; break;
    default: cinfo.out_color_space = JCS_RGB; break;
    }
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, c = cinfo.output_components;
    if ((cmyk && c != 4) || (!cmyk && c != 1 && c != 3)) {
        snprintf(err.msg, sizeof err.msg, "unexpected %d output components", c);
        longjmp(err.jb, 1);
    }
    pix_bytes = (size_t)w * (size_t)h * (size_t)c;
    pixels = aspire_malloc(pix_bytes);
    if (!pixels) { err.nomem = 1; longjmp(err.jb, 1); }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * (size_t)w * (size_t)c;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    int adobe_inverted = cmyk && cinfo.saw_Adobe_marker;
    jpeg_destroy_decompress(&cinfo);
    if (cmyk) {
        /* CMYK to RGB in place (4 -> 3 channels, then the buffer is treated as RGB + a spare
         * byte). Adobe files store inverted CMYK, where R = C * K / 255. */
        uint8_t *p = pixels;
        size_t npx = (size_t)w * (size_t)h;
        for (size_t i = 0; i < npx; i++, p += 4) {
            unsigned cc = p[0], mm = p[1], yy = p[2], kk = p[3];
            if (!adobe_inverted) { cc = 255 - cc; mm = 255 - mm; yy = 255 - yy; kk = 255 - kk; }
            p[0] = (uint8_t)((cc * kk + 127) / 255);
            p[1] = (uint8_t)((mm * kk + 127) / 255);
            p[2] = (uint8_t)((yy * kk + 127) / 255);
            p[3] = 255;
        }
        /* now RGBA with opaque alpha */
    }
    return finish_decode(img, pixels, w, h, c, want ? want : (cmyk ? 3 : 0));
}

/* ---- load / decode ------------------------------------------------------------------------- */

int aspire_image_decode(aspire_image *img, const void *data, size_t n, int channels, const char *name) {
    memset(img, 0, sizeof *img);
    ASPIRE_ASSERT(channels == 0 || channels == 1 || channels == 3 || channels == 4, "(channels %d)", channels);
    const uint8_t *p = data;
    if (!name) name = "<memory>";
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n == 0) return aspire_error(ASPIRE_ERR_FORMAT, "%s: file is empty", name);
    if (n >= 8 && memcmp(p, png_sig, 8) == 0) return decode_png(img, p, n, channels, name);
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) return decode_jpeg(img, p, n, channels, name);
    if (n < 8 && (memcmp(p, png_sig, n) == 0 || (n < 3 && p[0] == 0xff)))
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: file is truncated (%zu bytes)", name, n);
    return aspire_error(ASPIRE_ERR_FORMAT, "%s: not a PNG or JPEG file (unrecognised first bytes)", name);
}

int aspire_image_load(aspire_image *img, const char *path, int channels) {
    memset(img, 0, sizeof *img);
    char *buf;
    size_t n;
    int rc = aspire_read_file(path, &buf, &n);
    if (rc) return rc;
    rc = aspire_image_decode(img, buf, n, channels, path);
    aspire_free(buf, n + 1);
    return rc;
}

/* ---- save ------------------------------------------------------------------------------------ */

int aspire_image_save_png(const aspire_image *img, const char *path) { return aspire_image_save_png_ex(img, path, 0); }

int aspire_image_save_png_ex(const aspire_image *img, const char *path, int flags) {
    ASPIRE_ASSERT(img->data && img->w > 0 && img->h > 0);
    ASPIRE_ASSERT(img->c == 1 || img->c == 2 || img->c == 3 || img->c == 4, "(c %d)", img->c);
    aspire_atomic_file af;
    int rc = aspire_atomic_open_ex(&af, path, flags);
    if (rc) return rc;
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)img->w;
    pi.height = (png_uint_32)img->h;
    static const png_uint_32 fmt[5] = {0, PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB, PNG_FORMAT_RGBA};
    pi.format = fmt[img->c];
    if (!png_image_write_to_stdio(&pi, af.fp, 0, img->data, 0, NULL)) {
        rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot write PNG: %s", path, pi.message);
        png_image_free(&pi);
        aspire_atomic_abort(&af);
        return rc;
    }
    return aspire_atomic_commit(&af);
}

int aspire_image_save_jpeg(const aspire_image *img, const char *path, int quality) {
    return aspire_image_save_jpeg_ex(img, path, quality, 0);
}

int aspire_image_save_jpeg_ex(const aspire_image *img, const char *path, int quality, int flags) {
    ASPIRE_ASSERT(img->data && img->w > 0 && img->h > 0);
    ASPIRE_ASSERT(img->c >= 1 && img->c <= 4, "(c %d)", img->c);
    ASPIRE_ASSERT(quality >= 1 && quality <= 100, "(quality %d)", quality);
    /* JPEG has no alpha: grey + alpha keeps the grey, RGBA keeps RGB. */
    int oc = img->c <= 2 ? 1 : 3;
    uint8_t *conv = NULL;
    size_t npx = (size_t)img->w * (size_t)img->h;
    const uint8_t *px = img->data;
    if (oc != img->c) {
        conv = aspire_malloc(npx * (size_t)oc);
        if (!conv) return ASPIRE_ERR_NOMEM;
        convert_channels(conv, oc, img->data, img->c, npx);
        px = conv;
    }
    aspire_atomic_file af;
    int rc = aspire_atomic_open_ex(&af, path, flags);
    if (rc) { aspire_free(conv, npx * (size_t)oc); return rc; }
    struct jpeg_compress_struct cinfo;
    jpeg_err err;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_error_exit_cb;
    err.pub.output_message = jpeg_output_message_cb;
    if (setjmp(err.jb)) {
        jpeg_destroy_compress(&cinfo);
        aspire_atomic_abort(&af);
        aspire_free(conv, npx * (size_t)oc);
        return aspire_error(ASPIRE_ERR_IO, "%s: cannot write JPEG: %s", path, err.msg);
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, af.fp);
    cinfo.image_width = (JDIMENSION)img->w;
    cinfo.image_height = (JDIMENSION)img->h;
    cinfo.input_components = oc;
    cinfo.in_color_space = oc == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)cinfo.next_scanline * (size_t)img->w * (size_t)oc);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    aspire_free(conv, npx * (size_t)oc);
    return aspire_atomic_commit(&af);
}

/* ---- resize ---------------------------------------------------------------------------------- */

/* One axis of a separable resampler: output i reads count[i] source samples from start[i] with
 * weights w[i * maxtaps ...]. */
typedef struct axis_tab {
    int *start, *count;
    float *w;
    int n, maxtaps;
} axis_tab;

static void axis_free(axis_tab *t) {
    aspire_free(t->start, sizeof(int) * (size_t)t->n);
    aspire_free(t->count, sizeof(int) * (size_t)t->n);
    aspire_free(t->w, sizeof(float) * (size_t)t->n * (size_t)t->maxtaps);
    t->start = t->count = NULL;
    t->w = NULL;
}

static int axis_make(axis_tab *t, int src, int dst, aspire_resize_mode mode) {
    if (mode == ASPIRE_RESIZE_AUTO) mode = dst < src ? ASPIRE_RESIZE_AREA : ASPIRE_RESIZE_BILINEAR;
    double scale = (double)src / (double)dst;
    t->n = dst;
    t->maxtaps = mode == ASPIRE_RESIZE_BILINEAR ? 2 : (int)ceil(scale) + 2;
    t->start = aspire_malloc(sizeof(int) * (size_t)dst);
    t->count = aspire_malloc(sizeof(int) * (size_t)dst);
    t->w = aspire_calloc((size_t)dst * (size_t)t->maxtaps, sizeof(float));
    if (!t->start || !t->count || !t->w) { axis_free(t); return ASPIRE_ERR_NOMEM; }
    for (int i = 0; i < dst; i++) {
        float *w = t->w + (size_t)i * (size_t)t->maxtaps;
        if (mode == ASPIRE_RESIZE_BILINEAR) {
            /* Pixel centres: source coordinate of output centre i, clamped at the edges, exactly as
             * torch's upsample_bilinear2d (align_corners = false) computes it. */
            double s = ((double)i + 0.5) * scale - 0.5;
            if (s < 0) s = 0;
            int i0 = (int)s;
            if (i0 >= src - 1) { t->start[i] = src - 1; t->count[i] = 1; w[0] = 1.0f; continue; }
            double l = s - i0;
            t->start[i] = i0;
            t->count[i] = 2;
            w[0] = (float)(1.0 - l);
            w[1] = (float)l;
        } else {
            /* Output i covers [i*scale, (i+1)*scale) of the source; each source pixel weighs by the
             * length of its overlap with that interval. */
            double a = (double)i * scale, b = (double)(i + 1) * scale;
            int j0 = (int)floor(a), j1 = (int)ceil(b);
            if (j1 > src) j1 = src;
            if (j0 >= j1) j0 = j1 - 1;
            int k = 0;
            double tot = 0;
            for (int j = j0; j < j1 && k < t->maxtaps; j++) {
                double lo = j > a ? j : a, hi = j + 1 < b ? j + 1 : b;
                double ov = hi - lo;
                if (ov < 0) ov = 0;
                w[k++] = (float)ov;
                tot += ov;
            }
            for (int q = 0; q < k; q++) w[q] = (float)(w[q] / tot);
            t->start[i] = j0;
            t->count[i] = k;
        }
    }
    return ASPIRE_OK;
}

int aspire_image_resize(aspire_image *dst, const aspire_image *src, int w, int h, aspire_resize_mode mode) {
    memset(dst, 0, sizeof *dst);
    ASPIRE_ASSERT(src->data && src->w > 0 && src->h > 0);
    ASPIRE_ASSERT(w > 0 && h > 0, "(w %d h %d)", w, h);
    int c = src->c;
    int rc = aspire_image_init(dst, w, h, c);
    if (rc) return rc;
    if (w == src->w && h == src->h) { memcpy(dst->data, src->data, (size_t)w * (size_t)h * (size_t)c); return ASPIRE_OK; }
    axis_tab tx = {0}, ty = {0};
    size_t tmp_n = (size_t)src->h * (size_t)w * (size_t)c;
    float *tmp = NULL;
    if ((rc = axis_make(&tx, src->w, w, mode)) || (rc = axis_make(&ty, src->h, h, mode)) ||
        !(tmp = aspire_malloc(sizeof(float) * tmp_n))) {
        if (!rc) rc = ASPIRE_ERR_NOMEM;
        axis_free(&tx); axis_free(&ty);
        aspire_image_destroy(dst);
        return rc;
    }
    /* horizontal pass: (src->h, w, c) floats */
    for (int y = 0; y < src->h; y++) {
        const uint8_t *row = src->data + (size_t)y * (size_t)src->w * (size_t)c;
        float *out = tmp + (size_t)y * (size_t)w * (size_t)c;
        for (int x = 0; x < w; x++) {
            const float *wt = tx.w + (size_t)x * (size_t)tx.maxtaps;
            const uint8_t *p = row + (size_t)tx.start[x] * (size_t)c;
            for (int ch = 0; ch < c; ch++) {
                float acc = 0;
                for (int k = 0; k < tx.count[x]; k++) acc += wt[k] * (float)p[k * c + ch];
                out[x * c + ch] = acc;
            }
        }
    }
    /* vertical pass into bytes, rounded to nearest */
    size_t stride = (size_t)w * (size_t)c;
    for (int y = 0; y < h; y++) {
        const float *wt = ty.w + (size_t)y * (size_t)ty.maxtaps;
        const float *base = tmp + (size_t)ty.start[y] * stride;
        uint8_t *out = dst->data + (size_t)y * stride;
        for (size_t i = 0; i < stride; i++) {
            float acc = 0;
            for (int k = 0; k < ty.count[y]; k++) acc += wt[k] * base[(size_t)k * stride + i];
            acc += 0.5f;
            out[i] = acc <= 0 ? 0 : acc >= 255 ? 255 : (uint8_t)acc;
        }
    }
    aspire_free(tmp, sizeof(float) * tmp_n);
    axis_free(&tx);
    axis_free(&ty);
    return ASPIRE_OK;
}

/* ---- floats ---------------------------------------------------------------------------------- */

void aspire_pixel_lut(float lut[256], float mean, float std) {
    const float scale = 1.0f / (255.0f * std), bias = mean / std;
    for (int v = 0; v < 256; v++) lut[v] = (float)v * scale - bias;
}

void aspire_image_to_float(const aspire_image *img, float *dst, const float *mean, const float *std) {
    int c = img->c;
    float lut[4][256];
    for (int ch = 0; ch < c; ch++) aspire_pixel_lut(lut[ch], mean ? mean[ch] : 0.0f, std ? std[ch] : 1.0f);
    size_t n = (size_t)img->w * (size_t)img->h;
    const uint8_t *p = img->data;
    for (size_t i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) *dst++ = lut[ch][*p++];
}

void aspire_image_from_float(aspire_image *img, const float *src, const float *mean, const float *std) {
    int c = img->c;
    size_t n = (size_t)img->w * (size_t)img->h;
    uint8_t *p = img->data;
    for (size_t i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            float m = mean ? mean[ch] : 0.0f, s = std ? std[ch] : 1.0f;
            float v = (*src++ * s + m) * 255.0f + 0.5f;
            *p++ = !(v > 0) ? 0 : v >= 255 ? 255 : (uint8_t)v;
        }
}
