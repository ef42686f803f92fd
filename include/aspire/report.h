/* report.h — pictures for the stages' outputs and, later, the HTML report: a self-contained SVG
 * document built in memory (no external fonts, styles or images), with a horizontal bar chart
 * helper and a legend. The report reads only files the stages wrote; this module only draws. */
#ifndef ASPIRE_REPORT_H
#define ASPIRE_REPORT_H

#include "aspire/common.h"

typedef struct aspire_svg aspire_svg;

/* A new empty document `width` pixels wide; its height follows what is drawn. Free with
 * aspire_svg_free (NULL ok). */
ASPIRE_API int aspire_svg_new(aspire_svg **out, double width);
ASPIRE_API void aspire_svg_free(aspire_svg *s);
ASPIRE_API double aspire_svg_width(const aspire_svg *s);

/* Primitives. Colours are SVG colour strings ("#4477aa"); text is UTF-8 and is escaped.
 * anchor: "start", "middle" or "end"; bold: 0 or 1. Return ASPIRE_OK or ASPIRE_ERR_NOMEM. */
ASPIRE_API int aspire_svg_rect(aspire_svg *s, double x, double y, double w, double h, const char *fill);
ASPIRE_API int aspire_svg_text(aspire_svg *s, double x, double y, double size, const char *anchor, int bold,
                               const char *fill, const char *text);

/* One bar: its label, its value, its series (index into the chart's series colours), and an
 * optional text shown after the bar (NULL: the value with 3 decimals). */
typedef struct aspire_bar {
    const char *label;
    double value;
    int series;
    const char *value_text;
} aspire_bar;

typedef struct aspire_barchart {
    const char *title;                  /* NULL: none */
    const aspire_bar *bars;             /* drawn top to bottom */
    int n_bars;
    const char *const *series_colors;   /* n_series colours */
    int n_series;
    double max_value;                   /* value of a full-width bar; <= 0: the largest value */
    const char *empty_note;             /* shown instead of bars when n_bars is 0 */
} aspire_barchart;

/* Draws a horizontal bar chart with its top-left corner at (x, y), `width` wide (labels on the
 * left, bars, value texts on the right); *height receives the height used. */
ASPIRE_API int aspire_svg_hbars(aspire_svg *s, double x, double y, double width, const aspire_barchart *c,
                                double *height);
/* A one-row legend of coloured squares and names at (x, y); *height receives the height used. */
ASPIRE_API int aspire_svg_legend(aspire_svg *s, double x, double y, const char *const *names,
                                 const char *const *colors, int n, double *height);

/* The whole document (XML declaration, <svg> with width, height and viewBox, white background,
 * the elements) in a new string: *out, freed with aspire_free(*out, *n + 1). */
ASPIRE_API int aspire_svg_render(const aspire_svg *s, char **out, size_t *n);
/* Renders and writes the document to `path` atomically. */
ASPIRE_API int aspire_svg_save(const aspire_svg *s, const char *path);

#endif
