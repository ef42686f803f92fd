/* fuzz_image.c — PNG and JPEG decoding (src/io/image.c) on arbitrary bytes, then what the loaders
 * do with a decoded image: conversion to every channel count, resizing (each mode, shrinking and
 * growing) and conversion to floats. The first input byte picks the channels and the target size. */
#include "fuzz.h"

#include "aspire/image.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) { (void)argc; (void)argv; return 0; }

static void exercise(const aspire_image *img, uint8_t knob) {
    int tw = 1 + (knob & 31), th = 1 + ((knob >> 3) & 31);
    for (int mode = 0; mode < 3; mode++) {
        aspire_image r = {0};
        if (aspire_image_resize(&r, img, tw, th, (aspire_resize_mode)mode) == ASPIRE_OK) {
            if (r.w != tw || r.h != th || r.c != img->c) abort();
            float *f = malloc(sizeof(float) * (size_t)tw * th * (size_t)r.c);
            if (!f) abort();
            aspire_image_to_float(&r, f, NULL, NULL);
            aspire_image_from_float(&r, f, NULL, NULL);
            free(f);
        }
        aspire_image_destroy(&r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const int chans[4] = {0, 1, 3, 4};
    uint8_t knob = data[0];
    aspire_image img = {0};
    int rc = aspire_image_decode(&img, data + 1, size - 1, chans[knob & 3], "fuzz.img");
    if (rc != ASPIRE_OK) {
        if (img.data || img.w || img.h) abort();  /* a refusal leaves the image zeroed */
        return 0;
    }
    if (img.w < 1 || img.h < 1 || img.c < 1 || img.c > 4 || !img.data) abort();
    if ((knob & 3) && img.c != chans[knob & 3]) abort();
    exercise(&img, knob);
    aspire_image_destroy(&img);
    return 0;
}
