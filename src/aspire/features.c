/* features.c — the ranking as files: features.json (every cluster of every class) and
 * features.svg (the top features per class as bars of their score, backgrounds in another colour). */
#include "aspire/detect.h"
#include "aspire/report.h"

#include <stdio.h>
#include <string.h>

static cJSON *cluster_json(const aspire_cluster *cl) {
    cJSON *f = cJSON_CreateObject();
    if (!f) return NULL;
    cJSON_AddNumberToObject(f, "rank", cl->rank);
    cJSON_AddStringToObject(f, "kind", aspire_feature_kind_name(cl->kind));
    cJSON_AddStringToObject(f, "name", cl->name);
    cJSON_AddNumberToObject(f, "score", cl->score);
    cJSON_AddNumberToObject(f, "flips", cl->flips);
    cJSON_AddNumberToObject(f, "occurrences", cl->occ);
    cJSON *ps = cJSON_AddArrayToObject(f, "phrases");
    for (int i = 0; ps && i < cl->n_phrases; i++) {
        cJSON *p = cJSON_CreateObject();
        if (!p) { cJSON_Delete(f); return NULL; }
        cJSON_AddItemToArray(ps, p);
        cJSON_AddStringToObject(p, "phrase", cl->phrases[i].phrase);
        cJSON_AddNumberToObject(p, "flips", cl->phrases[i].flips);
        if (!cJSON_AddNumberToObject(p, "occurrences", cl->phrases[i].occ)) { cJSON_Delete(f); return NULL; }
    }
    if (!ps || !cJSON_GetObjectItemCaseSensitive(f, "occurrences")) { cJSON_Delete(f); return NULL; }
    return f;
}

static cJSON *class_json(const aspire_class_ranking *cr) {
    cJSON *c = cJSON_CreateObject();
    if (!c) return NULL;
    cJSON_AddNumberToObject(c, "class", cr->cls);
    cJSON_AddStringToObject(c, "label", cr->label);
    cJSON_AddNumberToObject(c, "images", cr->n_images);
    cJSON_AddNumberToObject(c, "flipped_images", cr->n_flipped_images);
    cJSON_AddNumberToObject(c, "flips", cr->n_flips);
    cJSON_AddBoolToObject(c, "no_flips", cr->n_flips == 0);
    cJSON *fs = cJSON_AddArrayToObject(c, "features");
    for (int k = 0; fs && k < cr->n_clusters; k++) {
        cJSON *f = cluster_json(&cr->clusters[k]);
        if (!f) { cJSON_Delete(c); return NULL; }
        cJSON_AddItemToArray(fs, f);
    }
    if (!fs || !cJSON_GetObjectItemCaseSensitive(c, "no_flips")) { cJSON_Delete(c); return NULL; }
    return c;
}

cJSON *aspire_ranking_to_json(const aspire_ranking *rk) {
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = root ? cJSON_AddArrayToObject(root, "classes") : NULL;
    if (!arr) { cJSON_Delete(root); return NULL; }
    for (int c = 0; c < rk->n_classes; c++) {
        cJSON *o = class_json(&rk->classes[c]);
        if (!o) { cJSON_Delete(root); return NULL; }
        cJSON_AddItemToArray(arr, o);
    }
    return root;
}

/* ---- the picture -------------------------------------------------------------------------- */

static const char *const kind_colors[2] = {"#3b6fb6", "#e07b28"};   /* foreground, background */
static const char *const kind_names[2] = {"foreground object", "background"};

/* One class's panel at y, a full-width bar worth `max` (one scale for every class, so that a weak
 * class's bars do not look as long as a strong one's); *h receives its height. */
static int class_panel(aspire_svg *s, const aspire_class_ranking *cr, int top, double max, double y, double *h) {
    int nb = 0;
    while (nb < cr->n_clusters && nb < top && cr->clusters[nb].flips > 0) nb++;
    aspire_bar *bars = aspire_calloc((size_t)nb + 1, sizeof *bars);
    char (*labels)[160] = aspire_calloc((size_t)nb + 1, sizeof *labels);
    char (*values)[64] = aspire_calloc((size_t)nb + 1, sizeof *values);
    int rc = bars && labels && values ? ASPIRE_OK : ASPIRE_ERR_NOMEM;
    for (int i = 0; i < nb && !rc; i++) {
        const aspire_cluster *cl = &cr->clusters[i];
        if (cl->n_phrases > 1) snprintf(labels[i], sizeof labels[i], "%.120s (+%d)", cl->name, cl->n_phrases - 1);
        else snprintf(labels[i], sizeof labels[i], "%.150s", cl->name);
        snprintf(values[i], sizeof values[i], "%.3f  (%d/%d)", cl->score, cl->flips, cl->occ);
        bars[i] = (aspire_bar){labels[i], cl->score, (int)cl->kind, values[i]};
    }
    char title[256], name[128] = "";
    if (strncmp(cr->label, "class ", 6) != 0) snprintf(name, sizeof name, ": %.100s", cr->label);
    snprintf(title, sizeof title, "class %d%s (%d of %d images flipped by an edit)", cr->cls, name,
             cr->n_flipped_images, cr->n_images);
    aspire_barchart chart = {title, bars, nb, kind_colors, 2, max, NULL};
    chart.empty_note = cr->n_images ? "no flips: no edit changed a correct prediction of this class"
                                    : "no hold-out images of this class";
    if (!rc) rc = aspire_svg_hbars(s, 16, y, aspire_svg_width(s) - 32, &chart, h);
    aspire_free(bars, 0);
    aspire_free(labels, 0);
    aspire_free(values, 0);
    return rc;
}

int aspire_ranking_svg(const aspire_ranking *rk, int top, char **svg, size_t *n) {
    *svg = NULL;
    *n = 0;
    aspire_svg *s;
    int rc = aspire_svg_new(&s, 760);
    if (rc) return rc;
    double y = 8, h = 0;
    rc = aspire_svg_text(s, 16, y + 16, 15, "start", 1, "#111", "Spurious features per class");
    if (!rc)
        rc = aspire_svg_text(s, 16, y + 34, 11, "start", 0, "#555",
                             "score = sum over a feature's phrases of flips / occurrences; in brackets: flips / occurrences");
    y += 44;
    if (!rc) rc = aspire_svg_legend(s, 16, y, kind_names, kind_colors, 2, &h);
    y += h + 12;
    double max = 0;
    for (int c = 0; c < rk->n_classes; c++)
        for (int i = 0; i < rk->classes[c].n_clusters; i++)
            if (rk->classes[c].clusters[i].score > max) max = rk->classes[c].clusters[i].score;
    for (int c = 0; c < rk->n_classes && !rc; c++) {
        rc = class_panel(s, &rk->classes[c], top > 0 ? top : 10, max, y, &h);
        y += h + 14;
    }
    if (!rc) rc = aspire_svg_render(s, svg, n);
    aspire_svg_free(s);
    return rc;
}
