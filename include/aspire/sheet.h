/* sheet.h — contact sheets: a grid of labelled RGB tiles written as one PNG (benchmarks and reports:
 * "image | mask | removed | counterfactual | replaced" rows). Labels are drawn with a tiny built-in
 * 3×5 bitmap font (upper-case letters, digits and a little punctuation; lower case is drawn as upper
 * case, anything else as a blank), scaled up by an integer factor. */
#ifndef ASPIRE_SHEET_H
#define ASPIRE_SHEET_H

#include "aspire/common.h"
#include "aspire/image.h"

typedef struct aspire_sheet aspire_sheet;

/* A sheet of `cols` columns of tile×tile cells (tiles are resized to it: nearest neighbour when
 * growing by an integer factor, so pixels stay visible, area otherwise), with an optional header
 * line per column and a label under each tile. `scale` sizes the text (1 = 3×5 px letters; 0 picks
 * 1 for tiles under 96 px, else 2). Rows are added as tiles come. */
ASPIRE_API int aspire_sheet_new(aspire_sheet **out, int cols, int tile, int scale);
ASPIRE_API void aspire_sheet_free(aspire_sheet *s);  /* accepts NULL */
/* The header over column `col` (copied; NULL clears it). */
ASPIRE_API int aspire_sheet_header(aspire_sheet *s, int col, const char *text);
/* Appends a tile at the next cell (row-major), with a label under it (may be NULL). img may be
 * grey, RGB or RGBA (alpha dropped). The tile is copied. */
ASPIRE_API int aspire_sheet_add(aspire_sheet *s, const aspire_image *img, const char *label);
/* Appends a mask as a tile: nonzero white, zero black (w*h bytes). */
ASPIRE_API int aspire_sheet_add_mask(aspire_sheet *s, const uint8_t *mask, int w, int h, const char *label);
/* Appends an empty (dark grey) cell. */
ASPIRE_API int aspire_sheet_skip(aspire_sheet *s);
/* Draws the sheet into a new RGB image *out (caller-owned struct; aspire_image_destroy). */
ASPIRE_API int aspire_sheet_render(const aspire_sheet *s, aspire_image *out);
/* Renders and writes the PNG atomically. */
ASPIRE_API int aspire_sheet_save(const aspire_sheet *s, const char *path);
/* Draws text into an RGB image with its top-left corner at (x, y), `scale` px per font pixel;
 * clipped to the image. Returns the width drawn in pixels. */
ASPIRE_API int aspire_sheet_text(aspire_image *img, int x, int y, const char *text, int scale, const uint8_t rgb[3]);

#endif
