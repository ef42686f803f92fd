/* svg.c — self-contained SVG documents built in memory (aspire/report.h): a few primitives, a
 * horizontal bar chart and a legend. Coordinates are printed with one decimal, so that the same
 * drawing gives the same bytes. */
#include "aspire/report.h"
#include "aspire/fileio.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct aspire_svg {
    char *buf;       /* the elements drawn so far */
    size_t n, cap;
    double width;
    double bottom;   /* the lowest y drawn */
};

int aspire_svg_new(aspire_svg **out, double width) {
    *out = NULL;
    aspire_svg *s = aspire_calloc(1, sizeof *s);
    if (!s) return ASPIRE_ERR_NOMEM;
    s->width = width > 0 ? width : 640;
    *out = s;
    return ASPIRE_OK;
}

void aspire_svg_free(aspire_svg *s) {
    if (!s) return;
    aspire_free(s->buf, s->cap);
    aspire_free(s, sizeof *s);
}

double aspire_svg_width(const aspire_svg *s) { return s->width; }

static int reserve(aspire_svg *s, size_t more) {
    if (s->n + more + 1 <= s->cap) return ASPIRE_OK;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->n + more + 1) cap *= 2;
    char *p = aspire_realloc(s->buf, s->cap, cap);
    if (!p) return ASPIRE_ERR_NOMEM;
    s->buf = p;
    s->cap = cap;
    return ASPIRE_OK;
}

static int append(aspire_svg *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int append(aspire_svg *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || reserve(s, (size_t)k)) return ASPIRE_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(s->buf + s->n, s->cap - s->n, fmt, ap);
    va_end(ap);
    s->n += (size_t)k;
    return ASPIRE_OK;
}

/* Appends text with &, <, >, " and ' escaped and control bytes dropped. */
static int append_escaped(aspire_svg *s, const char *t) {
    int rc = ASPIRE_OK;
    for (; *t && !rc; t++) {
        unsigned char c = (unsigned char)*t;
        switch (c) {
        case '&': rc = append(s, "&amp;"); break;
        case '<': rc = append(s, "&lt;"); break;
        case '>': rc = append(s, "&gt;"); break;
        case '"': rc = append(s, "&quot;"); break;
        case '\'': rc = append(s, "&apos;"); break;
        default: rc = c < 0x20 || c == 0x7f ? ASPIRE_OK : append(s, "%c", (char)c);
        }
    }
    return rc;
}

static void extend(aspire_svg *s, double y) {
    if (y > s->bottom) s->bottom = y;
}

int aspire_svg_rect(aspire_svg *s, double x, double y, double w, double h, const char *fill) {
    extend(s, y + h);
    return append(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x, y, w, h, fill);
}

int aspire_svg_text(aspire_svg *s, double x, double y, double size, const char *anchor, int bold, const char *fill,
                    const char *text) {
    extend(s, y + size * 0.3);
    int rc = append(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" text-anchor=\"%s\"%s fill=\"%s\">", x, y,
                    size, anchor ? anchor : "start", bold ? " font-weight=\"bold\"" : "", fill ? fill : "#222");
    if (!rc) rc = append_escaped(s, text);
    if (!rc) rc = append(s, "</text>\n");
    return rc;
}

/* A label cut to at most `max` characters (UTF-8 aware), with "…" when cut. */
static void clip_label(const char *in, char *out, size_t n, int max) {
    int chars = 0;
    size_t k = 0;
    const char *p = in;
    for (; *p && chars < max; chars++) {
        size_t len = 1;
        while (((unsigned char)p[len] & 0xc0) == 0x80) len++;
        if (k + len + 4 > n) break;
        memcpy(out + k, p, len);
        k += len;
        p += len;
    }
    if (*p && k + 4 <= n) { memcpy(out + k, "\xe2\x80\xa6", 3); k += 3; }
    out[k] = 0;
}

enum { BAR_H = 16, BAR_GAP = 5, TITLE_H = 22, FONT = 11 };

int aspire_svg_hbars(aspire_svg *s, double x, double y, double width, const aspire_barchart *c, double *height) {
    double y0 = y, label_w = width * 0.34, value_w = 96, bar_w = width - label_w - value_w - 8;
    int rc = ASPIRE_OK;
    if (c->title) {
        rc = aspire_svg_text(s, x, y + 14, 13, "start", 1, "#111", c->title);
        y += TITLE_H;
    }
    if (!rc && c->n_bars == 0) {
        rc = aspire_svg_text(s, x + 8, y + 12, FONT, "start", 0, "#666", c->empty_note ? c->empty_note : "(nothing)");
        y += BAR_H + BAR_GAP;
    }
    double max = c->max_value;
    for (int i = 0; i < c->n_bars && max <= 0; i++)
        if (c->bars[i].value > max) max = c->bars[i].value;
    for (int i = 0; i < c->n_bars && !rc; i++) {
        const aspire_bar *b = &c->bars[i];
        char label[256], val[64];
        clip_label(b->label ? b->label : "", label, sizeof label, (int)(label_w / 6.2));
        snprintf(val, sizeof val, "%.3f", b->value);
        double w = max > 0 && b->value > 0 ? bar_w * (b->value > max ? 1 : b->value / max) : 0;
        const char *col = b->series >= 0 && b->series < c->n_series ? c->series_colors[b->series] : "#888";
        rc = aspire_svg_text(s, x + label_w - 6, y + BAR_H - 4, FONT, "end", 0, "#222", label);
        if (!rc) rc = aspire_svg_rect(s, x + label_w, y, w > 0 && w < 1 ? 1 : w, BAR_H, col);
        if (!rc) rc = aspire_svg_text(s, x + label_w + w + 4, y + BAR_H - 4, FONT, "start", 0, "#222",
                                      b->value_text ? b->value_text : val);
        y += BAR_H + BAR_GAP;
    }
    if (height) *height = y - y0;
    return rc;
}

int aspire_svg_legend(aspire_svg *s, double x, double y, const char *const *names, const char *const *colors, int n,
                      double *height) {
    int rc = ASPIRE_OK;
    double cx = x;
    for (int i = 0; i < n && !rc; i++) {
        rc = aspire_svg_rect(s, cx, y, 12, 12, colors[i]);
        if (!rc) rc = aspire_svg_text(s, cx + 17, y + 10, FONT, "start", 0, "#222", names[i]);
        cx += 17 + 7.0 * (double)strlen(names[i]) + 18;
    }
    if (height) *height = 16;
    return rc;
}

int aspire_svg_render(const aspire_svg *s, char **out, size_t *n) {
    *out = NULL;
    *n = 0;
    double h = s->bottom + 10;
    const char *head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                       "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                       "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Verdana, sans-serif\">\n"
                       "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n";
    int k = snprintf(NULL, 0, head, s->width, h, s->width, h, s->width, h);
    size_t total = (size_t)k + s->n + 7;
    char *d = aspire_malloc(total + 1);
    if (!d) return ASPIRE_ERR_NOMEM;
    snprintf(d, total + 1, head, s->width, h, s->width, h, s->width, h);
    if (s->n) memcpy(d + k, s->buf, s->n);
    memcpy(d + k + s->n, "</svg>\n", 8);
    *out = d;
    *n = total;
    return ASPIRE_OK;
}

int aspire_svg_save(const aspire_svg *s, const char *path) {
    char *doc;
    size_t n;
    int rc = aspire_svg_render(s, &doc, &n);
    if (rc) return rc;
    rc = aspire_write_file_atomic(path, doc, n);
    aspire_free(doc, n + 1);
    return rc;
}
