/* curve.c — a run's per-epoch log: log.csv (written whole, atomically, each epoch; read back on
 * resume) and curve.svg, the learning curves (training loss; training and validation accuracies
 * with the selected epoch marked). */
#include "train/train_log.h"

#include "aspire/fileio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char header[] =
    "epoch,stage,lr,train_loss,train_acc,val_mean,val_worst_group,val_worst_class,score,images_per_s,seconds";

int tr_log_write_csv(const char *path, const tr_epoch_log *rows, int n) {
    aspire_atomic_file af = {0};
    int rc = aspire_atomic_open(&af, path);
    if (rc) return rc;
    fprintf(af.fp, "%s\n", header);
    for (int i = 0; i < n; i++) {
        const tr_epoch_log *r = &rows[i];
        fprintf(af.fp, "%d,%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.1f,%.2f\n", r->epoch, r->stage, r->lr, r->train_loss,
                r->train_acc, r->val_mean, r->val_worst_group, r->val_worst_class, r->score, r->images_per_s,
                r->seconds);
    }
    return aspire_atomic_commit(&af);
}

int tr_log_read_csv(const char *path, tr_epoch_log *rows, int cap, int *n) {
    char *buf = NULL;
    size_t len = 0;
    *n = 0;
    int rc = aspire_read_file(path, &buf, &len);
    if (rc) return rc;
    char *save = NULL, *line = strtok_r(buf, "\n", &save);
    int lineno = 1;
    if (!line || strncmp(line, "epoch,", 6) != 0) {
        aspire_free(buf, len + 1);
        return aspire_error(ASPIRE_ERR_FORMAT, "%s:1: not a training log (no 'epoch,...' header)", path);
    }
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        lineno++;
        if (*n >= cap) break;
        tr_epoch_log *r = &rows[*n];
        if (sscanf(line, "%d,%d,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &r->epoch, &r->stage, &r->lr, &r->train_loss,
                   &r->train_acc, &r->val_mean, &r->val_worst_group, &r->val_worst_class, &r->score,
                   &r->images_per_s, &r->seconds) != 11) {
            aspire_free(buf, len + 1);
            return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: expected 11 numbers", path, lineno);
        }
        (*n)++;
    }
    aspire_free(buf, len + 1);
    return ASPIRE_OK;
}

/* ---- SVG ------------------------------------------------------------------------------------ */
static void put_escaped(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

typedef struct panel { double x0, y0, w, h, ymin, ymax; int n; } panel;

static double px(const panel *p, double epoch) {
    return p->x0 + (p->n > 1 ? epoch / (p->n - 1) : 0.5) * p->w;
}
static double py(const panel *p, double v) {
    return p->y0 + p->h - (v - p->ymin) / (p->ymax - p->ymin) * p->h;
}

static void axes(FILE *f, const panel *p, const char *title, int percent) {
    fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='none' stroke='#888'/>\n", p->x0, p->y0,
            p->w, p->h);
    fprintf(f, "<text x='%.1f' y='%.1f' font-size='13' text-anchor='middle'>%s</text>\n", p->x0 + p->w / 2,
            p->y0 - 8, title);
    for (int k = 0; k <= 4; k++) {
        double v = p->ymin + (p->ymax - p->ymin) * k / 4, y = py(p, v);
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#eee'/>\n", p->x0, y, p->x0 + p->w, y);
        if (percent) fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='end'>%.0f%%</text>\n", p->x0 - 4, y + 3, 100 * v);
        else fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='end'>%.2f</text>\n", p->x0 - 4, y + 3, v);
    }
    int step = p->n > 10 ? (p->n + 9) / 10 : 1;
    for (int e = 0; e < p->n; e += step)
        fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='middle'>%d</text>\n", px(p, e),
                p->y0 + p->h + 13, e + 1);
    fprintf(f, "<text x='%.1f' y='%.1f' font-size='11' text-anchor='middle'>epoch</text>\n", p->x0 + p->w / 2,
            p->y0 + p->h + 28);
}

static void series(FILE *f, const panel *p, const tr_epoch_log *rows, int n, size_t off, const char *colour,
                   const char *label, int li, int inside_legend) {
    fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2' points='", colour);
    for (int i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&rows[i] + off);
        if (isnan(v)) continue;
        fprintf(f, "%.1f,%.1f ", px(p, i), py(p, v));
    }
    fprintf(f, "'/>\n");
    for (int i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&rows[i] + off);
        if (!isnan(v)) fprintf(f, "<circle cx='%.1f' cy='%.1f' r='2.5' fill='%s'/>\n", px(p, i), py(p, v), colour);
    }
    /* legend: right of the panel, or inside its top-right corner when another panel follows */
    double lx = inside_legend ? p->x0 + p->w - 95 : p->x0 + p->w + 12, ly = p->y0 + 12 + 16 * li;
    fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s' stroke-width='2'/>\n", lx, ly - 4, lx + 18,
            ly - 4, colour);
    fprintf(f, "<text x='%.1f' y='%.1f' font-size='11'>%s</text>\n", lx + 22, ly, label);
}

int tr_log_write_svg(const char *path, const tr_epoch_log *rows, int n, int selected, const char *title) {
    aspire_atomic_file af = {0};
    int rc = aspire_atomic_open(&af, path);
    if (rc) return rc;
    FILE *f = af.fp;
    const double W = 900, H = 330;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' font-family='sans-serif'>\n", W, H);
    fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
    fprintf(f, "<text x='%.0f' y='20' font-size='15' text-anchor='middle'>", W / 2);
    put_escaped(f, title);
    fprintf(f, "</text>\n");
    double lmax = 0;
    for (int i = 0; i < n; i++) if (rows[i].train_loss > lmax) lmax = rows[i].train_loss;
    if (!(lmax > 0)) lmax = 1;
    panel pl = {50, 50, 250, 230, 0, lmax * 1.05, n};
    panel pa = {400, 50, 320, 230, 0, 1, n};
    axes(f, &pl, "training loss", 0);
    axes(f, &pa, "accuracy", 1);
    if (selected >= 0 && selected < n) {
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#555' stroke-dasharray='4,3'/>\n",
                px(&pa, selected), pa.y0, px(&pa, selected), pa.y0 + pa.h);
        fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='middle'>selected</text>\n", px(&pa, selected),
                pa.y0 + pa.h - 4);
    }
    series(f, &pl, rows, n, offsetof(tr_epoch_log, train_loss), "#333", "train loss", 0, 1);
    series(f, &pa, rows, n, offsetof(tr_epoch_log, train_acc), "#999", "train", 0, 0);
    series(f, &pa, rows, n, offsetof(tr_epoch_log, val_mean), "#1f77b4", "val mean", 1, 0);
    series(f, &pa, rows, n, offsetof(tr_epoch_log, val_worst_class), "#2ca02c", "val worst class", 2, 0);
    series(f, &pa, rows, n, offsetof(tr_epoch_log, val_worst_group), "#d62728", "val worst group", 3, 0);
    fprintf(f, "</svg>\n");
    return aspire_atomic_commit(&af);
}
