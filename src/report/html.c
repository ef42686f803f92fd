/* html.c — RUNDIR/report.html (aspire_report_html): one self-contained page from the files the
 * stages of `aspire run` wrote, and nothing else: the accuracy table of every method with and
 * without ASPIRE's images (evaluate/results.json, or train-erm's own evaluation while later stages
 * are missing), the ranked spurious features (detect/features.json, drawn with report.h's bars),
 * the selected edits (detect/selected/) and a flips contact sheet when detect wrote one, samples of
 * the generated images (generate/images/), the learning curves (each run's curve.svg, inlined),
 * the stages' times (stage.json) and the command that repeats the run (run.json). Images are data:
 * URIs, charts inline SVG; no external resource. */
#include "aspire/csv.h"
#include "aspire/fileio.h"
#include "aspire/report.h"
#include "pipeline/pipeline_internal.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void esc(FILE *f, const char *s) {
    for (; s && *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

static void base64(FILE *f, const unsigned char *d, size_t n) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        fputc(t[v >> 18 & 63], f);
        fputc(t[v >> 12 & 63], f);
        fputc(i + 1 < n ? t[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? t[v & 63] : '=', f);
    }
}

/* An <img> of a PNG file as a data: URI; nothing when the file is unreadable or not a PNG. */
static int img_tag(FILE *f, const char *path, const char *alt, const char *cls) {
    char *buf = NULL;
    size_t n = 0;
    if (aspire_read_file_max(path, &buf, &n, (size_t)16 << 20)) { aspire_error_clear(); return 0; }
    int png = n > 8 && memcmp(buf, "\x89PNG", 4) == 0;
    if (png) {
        fprintf(f, "<img class=\"%s\" alt=\"", cls);
        esc(f, alt);
        fputs("\" src=\"data:image/png;base64,", f);
        base64(f, (const unsigned char *)buf, n);
        fputs("\">", f);
    }
    aspire_free(buf, n + 1);
    return png;
}

/* An SVG file inlined (from its <svg element on). */
static int svg_inline(FILE *f, const char *path) {
    char *buf = NULL;
    size_t n = 0;
    if (aspire_read_file_max(path, &buf, &n, (size_t)8 << 20)) { aspire_error_clear(); return 0; }
    const char *s = strstr(buf, "<svg");
    if (s) fprintf(f, "<div class=\"chart\">%s</div>\n", s);
    aspire_free(buf, n + 1);
    return s != NULL;
}

static cJSON *read_opt(const char *rundir, const char *a, const char *b) {
    char *p = pl_path(rundir, a, b);
    cJSON *j = p && aspire_file_exists(p) ? pl_read_json(p) : NULL;
    aspire_strfree(p);
    aspire_error_clear();
    return j;
}

static int stage_complete(const char *rundir, const char *name) {
    cJSON *j = read_opt(rundir, name, "stage.json");
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(j, "status"));
    int ok = st && strcmp(st, "complete") == 0;
    cJSON_Delete(j);
    return ok;
}

static void missing(FILE *f, const char *stage) {
    fprintf(f, "<p class=\"missing\">Stage <b>%s</b> has not completed in this run folder: nothing to show yet.</p>\n",
            stage);
}

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f6f7f9;color:#222}"
    "main{max-width:1100px;margin:0 auto;padding:24px 32px 64px}"
    "h1{font-size:26px;margin:8px 0 4px}h2{font-size:19px;margin:36px 0 10px;border-bottom:2px solid #dde;padding-bottom:4px}"
    "h3{font-size:15px;margin:18px 0 6px}.sub{color:#667;margin:0 0 12px}"
    "table{border-collapse:collapse;background:#fff;margin:8px 0;font-size:13.5px}"
    "th,td{border:1px solid #d8dbe2;padding:5px 10px;text-align:right}th{background:#eef0f5}"
    "td.l,th.l{text-align:left}td.worst{background:#ffe1de;font-weight:700;color:#a40e00}"
    "tr.sum td{background:#fafbfc}.missing{color:#8a6d00;background:#fff8e0;padding:8px 12px;border-radius:4px}"
    ".note{color:#556;font-size:13px}.chart{background:#fff;display:inline-block;margin:6px 12px 6px 0;"
    "border:1px solid #e2e4ea}.gallery{display:flex;flex-wrap:wrap;gap:10px}"
    "figure{margin:0;background:#fff;border:1px solid #e2e4ea;padding:6px;text-align:center;font-size:11px;"
    "max-width:150px;overflow-wrap:anywhere}"
    "img.tile{width:128px;height:128px;image-rendering:pixelated;display:block}figure.pair{max-width:270px}.pair div{display:flex;gap:4px}img.sheet{max-width:100%;width:768px;image-rendering:pixelated}"
    "pre{background:#1f2430;color:#e6e6e6;padding:12px 14px;border-radius:4px;overflow-x:auto;font-size:13px}"
    "span.ok{color:#16794a;font-weight:600}span.no{color:#a40e00;font-weight:600}";

static void stages_section(FILE *f, const char *rundir) {
    fputs("<h2>Stages</h2>\n<table><tr><th class=\"l\">#</th><th class=\"l\">stage</th><th class=\"l\">status</th>"
          "<th class=\"l\">started (UTC)</th><th>time</th></tr>\n", f);
    for (int k = 0; k < pl_n_stages; k++) {
        cJSON *j = read_opt(rundir, pl_stages[k].name, "stage.json");
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(j, "status"));
        const char *start = cJSON_GetStringValue(cJSON_GetObjectItem(j, "start"));
        const cJSON *sec = cJSON_GetObjectItem(j, "seconds");
        int done = st && strcmp(st, "complete") == 0;
        fprintf(f, "<tr><td class=\"l\">%d</td><td class=\"l\">%s</td><td class=\"l\"><span class=\"%s\">%s</span></td>"
                   "<td class=\"l\">%s</td><td>",
                k + 1, pl_stages[k].name, done ? "ok" : "no", done ? "complete" : st ? "interrupted or failed" : "not run",
                start ? start : "&ndash;");
        if (cJSON_IsNumber(sec)) fprintf(f, "%.1f s", sec->valuedouble);
        else fputs("&ndash;", f);
        fputs("</td></tr>\n", f);
        cJSON_Delete(j);
    }
    fputs("</table>\n", f);
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void pct_cell(FILE *f, double v, int worst) {
    if (isnan(v)) fputs("<td>&ndash;</td>", f);
    else fprintf(f, "<td%s>%.1f</td>", worst ? " class=\"worst\"" : "", 100 * v);
}

/* The index of the worst group (lowest accuracy) of one run's "groups". */
static int worst_index(const cJSON *run) {
    int best = -1, i = 0;
    double lo = INFINITY;
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItem(run, "groups")) {
        double a = num(g, "acc");
        if (!isnan(a) && a < lo) { lo = a; best = i; }
        i++;
    }
    return best;
}

static void group_label(FILE *f, const cJSON *run, const cJSON *g) {
    int y = (int)num(g, "y"), p = (int)num(g, "place");
    const char *cn = cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(run, "class_names"), y));
    const char *pn = cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(run, "place_names"), p));
    fprintf(f, "<td class=\"l\">");
    if (cn) esc(f, cn); else fprintf(f, "class %d", y);
    fputs(" on ", f);
    if (pn) esc(f, pn); else fprintf(f, "place %d", p);
    fprintf(f, " (n=%d)</td>", (int)num(g, "n"));
}

static void results_table(FILE *f, const cJSON *runs) {
    const cJSON *first = cJSON_GetArrayItem(runs, 0), *r, *g;
    fputs("<table><tr><th class=\"l\">test group (class on place)</th>", f);
    cJSON_ArrayForEach(r, runs) {
        fputs("<th>", f);
        const char *label = cJSON_GetStringValue(cJSON_GetObjectItem(r, "label"));
        esc(f, label ? label : cJSON_GetStringValue(cJSON_GetObjectItem(r, "method")));
        fputs(!label && cJSON_IsTrue(cJSON_GetObjectItem(r, "aspire")) ? " + ASPIRE" : "", f);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    int gi = 0;
    cJSON_ArrayForEach(g, cJSON_GetObjectItem(first, "groups")) {
        fputs("<tr>", f);
        group_label(f, first, g);
        cJSON_ArrayForEach(r, runs) pct_cell(f, num(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "groups"), gi), "acc"),
                                             worst_index(r) == gi);
        fputs("</tr>\n", f);
        gi++;
    }
    static const char *const rows[][2] = {
        {"worst_group", "worst-group accuracy"},
        {"mean", "average accuracy, convention 1: plain accuracy over the test examples (SubpopBench)"},
        {"weighted_mean", "average accuracy, convention 2: group accuracies weighted by the training split's group "
                          "proportions (Sagawa et al., DFR)"},
        {"group_mean", "unweighted mean of the group accuracies"},
        {"worst_class", "worst-class accuracy"},
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        fprintf(f, "<tr class=\"sum\"><td class=\"l\">%s</td>", rows[k][1]);
        cJSON_ArrayForEach(r, runs) pct_cell(f, num(r, rows[k][0]), 0);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n<p class=\"note\">Accuracies in percent on the test split, each run's model selected on the "
          "validation split as its method's rule says; the worst group of each column is highlighted.", f);
    cJSON_ArrayForEach(r, runs) {
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(r, "method"));
        if (m && strcmp(m, "dfr") == 0 && cJSON_IsTrue(cJSON_GetObjectItem(r, "aspire"))) {
            fputs(" DFR refits the last layer of a kept backbone on the validation split: DFR alone keeps ERM's "
                  "model, DFR + ASPIRE keeps ERM + ASPIRE's and adds the generated images to its refitting set.", f);
            break;
        }
    }
    cJSON_ArrayForEach(r, runs) {   /* what each ablation's extra images are */
        const char *label = cJSON_GetStringValue(cJSON_GetObjectItem(r, "label")),
                   *what = cJSON_GetStringValue(cJSON_GetObjectItem(r, "ablation"));
        if (!label || !what) continue;
        fputc(' ', f);
        esc(f, label);
        fputs(": ", f);
        esc(f, what);
        fputc('.', f);
    }
    fputs("</p>\n", f);
}

/* evaluate/results.json once evaluate completed, else the ERM run's own test evaluation. */
static void results_section(FILE *f, const char *rundir) {
    fputs("<h2>Per-group accuracy, with and without ASPIRE</h2>\n", f);
    cJSON *res = stage_complete(rundir, "evaluate") ? read_opt(rundir, "evaluate", "results.json") : NULL;
    cJSON *runs = cJSON_GetObjectItem(res, "runs");
    cJSON *tmp = NULL;
    if (!cJSON_GetArraySize(runs) && stage_complete(rundir, "train-erm")) {
        cJSON *e = read_opt(rundir, "train-erm", "run/eval-test.json");
        if (e) {
            tmp = cJSON_CreateArray();
            cJSON_AddItemToArray(tmp, e);
            runs = tmp;
            fputs("<p class=\"missing\">Only the ERM classifier is trained so far: the runs with ASPIRE's images "
                  "appear once the evaluate stage completes.</p>\n", f);
        }
    }
    if (cJSON_GetArraySize(runs)) results_table(f, runs);
    else missing(f, "train-erm");
    cJSON_Delete(tmp);
    cJSON_Delete(res);
}

/* One class's top features as bars (foreground and background in two colours), a full-width bar
 * worth `max`: one scale for every class. */
static int class_chart(FILE *f, const cJSON *cls, double max) {
    static const char *const colors[2] = {"#4477aa", "#cc6677"};
    static const char *const names[2] = {"foreground object", "background"};
    aspire_bar bars[12];
    char texts[12][48];
    int n = 0;
    const cJSON *ft;
    cJSON_ArrayForEach(ft, cJSON_GetObjectItem(cls, "features")) {
        if (n == 12) break;
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(ft, "kind"));
        bars[n].label = cJSON_GetStringValue(cJSON_GetObjectItem(ft, "name"));
        bars[n].value = num(ft, "score");
        bars[n].series = kind && strstr(kind, "back") ? 1 : 0;
        snprintf(texts[n], sizeof texts[n], "%.2f (%d flips)", bars[n].value, (int)num(ft, "flips"));
        bars[n].value_text = texts[n];
        if (!bars[n].label || isnan(bars[n].value) || !(num(ft, "flips") > 0)) continue;  /* only what flipped */
        n++;
    }
    char title[160];
    const char *label = cJSON_GetStringValue(cJSON_GetObjectItem(cls, "label"));
    snprintf(title, sizeof title, "%s: %d of %d hold-out images flipped", label ? label : "?",
             (int)num(cls, "flipped_images"), (int)num(cls, "images"));
    aspire_barchart c = {.title = title, .bars = bars, .n_bars = n, .series_colors = colors, .n_series = 2,
                         .max_value = max, .empty_note = "no edit flipped this class's prediction"};
    aspire_svg *s = NULL;
    double h1 = 0, h2 = 0;
    char *txt = NULL;
    size_t len = 0;
    int rc = aspire_svg_new(&s, 520);
    if (!rc) rc = aspire_svg_legend(s, 10, 8, names, colors, 2, &h1);
    if (!rc) rc = aspire_svg_hbars(s, 10, 14 + h1, 500, &c, &h2);
    if (!rc) rc = aspire_svg_render(s, &txt, &len);
    const char *p = txt ? strstr(txt, "<svg") : NULL;
    if (p) fprintf(f, "<div class=\"chart\">%s</div>\n", p);
    if (txt) aspire_free(txt, len + 1);
    aspire_svg_free(s);
    return rc;
}

static void features_section(FILE *f, const char *rundir) {
    fputs("<h2>Spurious features per class (detect)</h2>\n", f);
    cJSON *j = stage_complete(rundir, "detect") ? read_opt(rundir, "detect", "features.json") : NULL;
    if (!j) { missing(f, "detect"); return; }
    fputs("<p class=\"note\">Score of a feature: the sum over its phrases of flips / occurrences among the class's "
          "hold-out images; red bars are backgrounds.</p>\n", f);
    const cJSON *cls, *ft;
    double max = 0;
    cJSON_ArrayForEach(cls, cJSON_GetObjectItem(j, "classes"))
        cJSON_ArrayForEach(ft, cJSON_GetObjectItem(cls, "features")) if (num(ft, "score") > max) max = num(ft, "score");
    cJSON_ArrayForEach(cls, cJSON_GetObjectItem(j, "classes")) class_chart(f, cls, max);
    cJSON_Delete(j);
}

/* Up to `max` images per class of a folder's metadata.csv (img_filename,y[,...]) as figures. */
static void folder_gallery(FILE *f, const char *dir, int max, int per_class) {
    char *meta = pl_path(dir, "metadata.csv", NULL), *buf = NULL;
    size_t n = 0;
    if (!meta || aspire_read_file_max(meta, &buf, &n, (size_t)64 << 20)) {
        aspire_error_clear();
        aspire_strfree(meta);
        return;
    }
    int count[64] = {0}, shown = 0;
    fputs("<div class=\"gallery\">\n", f);
    char *save = NULL;
    strtok_r(buf, "\n", &save);  /* header */
    for (char *line = strtok_r(NULL, "\n", &save); line && shown < max; line = strtok_r(NULL, "\n", &save)) {
        char *comma = strchr(line, ',');
        if (!comma) continue;
        *comma = 0;
        int y = atoi(comma + 1);
        if (y < 0 || y >= 64 || count[y] >= per_class) continue;
        char *img = pl_path(dir, line, NULL), cap[300];
        snprintf(cap, sizeof cap, "class %d: %s", y, line);
        fputs("<figure>", f);
        if (img && img_tag(f, img, cap, "tile")) { count[y]++; shown++; }
        fputs("<figcaption>", f);
        esc(f, cap);
        fputs("</figcaption></figure>\n", f);
        aspire_strfree(img);
    }
    if (!shown) fputs("<p class=\"note\">(no image in this folder)</p>", f);
    fputs("</div>\n", f);
    aspire_free(buf, n + 1);
    aspire_strfree(meta);
}

static void edits_section(FILE *f, const char *rundir) {
    fputs("<h2>Edits that flipped the classifier (detect)</h2>\n", f);
    if (!stage_complete(rundir, "detect")) { missing(f, "detect"); return; }
    static const char *const sheets[] = {"flips.png", "flips/sheet.png", "sheet.png"};
    for (size_t i = 0; i < sizeof sheets / sizeof sheets[0]; i++) {
        char *p = pl_path(rundir, "detect", sheets[i]);
        int ok = p && img_tag(f, p, "contact sheet: original | edit | prediction before -> after", "sheet");
        aspire_strfree(p);
        if (ok) break;
    }
    fputs("<h3>The selected edited images (the input of personalization)</h3>\n<p class=\"note\">File names read "
          "{row}_{fg|bg}_{phrase}: the object removed (fg) or the background replaced (bg).</p>\n", f);
    char *sel = pl_path(rundir, "detect", "selected");
    if (sel) folder_gallery(f, sel, 24, 12);
    aspire_strfree(sel);
}

/* Images generated from detect's edits (metadata.csv has a `start` column): up to `per_class` per
 * class beside the selected edit each one started from, so that what the generator changed shows.
 * Returns 0 (nothing written) when the folder has no start column. */
static int start_pairs(FILE *f, const char *rundir, const char *dir, int per_class) {
    char *meta = pl_path(dir, "metadata.csv", NULL), *sel = pl_path(rundir, "detect", "selected");
    aspire_csv *csv = NULL;
    int cs = -1, cf = -1, cy = -1;
    if (meta && sel && aspire_csv_read(&csv, meta) == ASPIRE_OK) {
        cs = aspire_csv_col(csv, "start");
        cf = aspire_csv_col(csv, "img_filename");
        cy = aspire_csv_col(csv, "y");
    }
    aspire_error_clear();
    if (cs >= 0 && cf >= 0 && cy >= 0) {
        fputs("<p class=\"note\">Each generated image (right) beside the selected edit it was generated from "
              "(left; SDEdit). From the second pass over a class's edits on, generation starts from the edit "
              "mirrored. With <code>--ablations</code>, ERM + start edits trains on the left ones alone.</p>\n"
              "<div class=\"gallery\">\n", f);
        int count[64] = {0};
        for (int64_t i = 0; i < aspire_csv_nrows(csv); i++) {
            const char *name = aspire_csv_field(csv, i, cf), *start = aspire_csv_field(csv, i, cs);
            const char *ys = aspire_csv_field(csv, i, cy);
            int y = ys ? atoi(ys) : -1;
            if (!name || !start || y < 0 || y >= 64 || count[y] >= per_class) continue;
            char *a = pl_path(sel, start, NULL), *b = pl_path(dir, name, NULL), cap[400];
            snprintf(cap, sizeof cap, "class %d: %s -> %s", y, start, name);
            fputs("<figure class=\"pair\"><div>", f);
            if (a && b && img_tag(f, a, start, "tile")) img_tag(f, b, name, "tile");
            fputs("</div><figcaption>", f);
            esc(f, cap);
            fputs("</figcaption></figure>\n", f);
            count[y]++;
            aspire_strfree(a);
            aspire_strfree(b);
        }
        fputs("</div>\n", f);
    }
    aspire_csv_free(csv);
    aspire_strfree(meta);
    aspire_strfree(sel);
    return cs >= 0 && cf >= 0 && cy >= 0;
}

static void generated_section(FILE *f, const char *rundir) {
    fputs("<h2>Generated images per class (personalize, generate)</h2>\n", f);
    if (!stage_complete(rundir, "generate")) { missing(f, "generate"); return; }
    char *dir = pl_path(rundir, "generate", "images");
    if (dir && !start_pairs(f, rundir, dir, 8)) folder_gallery(f, dir, 48, 8);   /* from the prompt alone */
    aspire_strfree(dir);
}

static void curve_of(FILE *f, const char *run_dir, const char *title) {
    char *p = pl_path(run_dir, "curve.svg", NULL);
    if (p && aspire_file_exists(p)) {
        fputs("<h3>", f);
        esc(f, title);
        fputs("</h3>\n", f);
        svg_inline(f, p);
    }
    aspire_strfree(p);
}

static void curves_section(FILE *f, const char *rundir) {
    fputs("<h2>Learning curves (train.h's log.csv of each run)</h2>\n", f);
    char *erm = pl_path(rundir, "train-erm", "run");
    if (!erm || !aspire_file_exists(erm)) missing(f, "train-erm");
    else curve_of(f, erm, "ERM (train-erm)");
    aspire_strfree(erm);
    char *re = pl_path(rundir, "retrain", NULL);
    DIR *d = re ? opendir(re) : NULL;
    struct dirent *e;
    char *names[32];
    int n = 0;
    while (d && (e = readdir(d)) && n < 32)
        if (e->d_name[0] != '.' && strcmp(e->d_name, "stage.json")) names[n++] = aspire_strdup(e->d_name);
    if (d) closedir(d);
    for (int i = 0; i < n; i++)  /* in name order: the page is the same on every file system */
        for (int k = i + 1; k < n; k++)
            if (names[k] && names[i] && strcmp(names[k], names[i]) < 0) { char *t = names[i]; names[i] = names[k]; names[k] = t; }
    for (int i = 0; i < n; i++) {
        char *p = names[i] ? pl_path(re, names[i], NULL) : NULL;
        if (p) curve_of(f, p, names[i]);
        aspire_strfree(p);
        aspire_strfree(names[i]);
    }
    aspire_strfree(re);
}

static void commands_section(FILE *f, const char *rundir) {
    fputs("<h2>Repeating this run</h2>\n", f);
    cJSON *j = read_opt(rundir, "run.json", NULL);
    const char *rep = cJSON_GetStringValue(cJSON_GetObjectItem(j, "repeat"));
    const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItem(j, "command"));
    fputs("<pre>", f);
    if (rep) esc(f, rep);
    else fputs("(run.json is missing)", f);
    fputs("</pre>\n", f);
    if (cmd && (!rep || strcmp(cmd, rep))) {
        fputs("<p class=\"note\">The command as given:</p><pre>", f);
        esc(f, cmd);
        fputs("</pre>\n", f);
    }
    fprintf(f, "<p class=\"note\">The same command continues an interrupted run; <code>aspire status %s</code> lists "
               "the stages. Same seed and threads give the same models.</p>\n", rundir);
    cJSON_Delete(j);
}

static void page(FILE *f, const char *rundir) {
    int done = 0, work = 0;   /* the stages before the report (this page is the report stage's work) */
    for (int k = 0; k < pl_n_stages; k++)
        if (strcmp(pl_stages[k].name, "report") != 0) {
            work++;
            done += stage_complete(rundir, pl_stages[k].name);
        }
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
               "<title>aspire run report</title><style>%s</style></head><body><main>\n"
               "<h1>ASPIRE run report</h1>\n<p class=\"sub\">",
            css);
    esc(f, rundir);
    fprintf(f, " &middot; %d of %d stages before this report complete &middot; aspire %s</p>\n", done, work,
            ASPIRE_VERSION);
    results_section(f, rundir);
    features_section(f, rundir);
    edits_section(f, rundir);
    generated_section(f, rundir);
    curves_section(f, rundir);
    stages_section(f, rundir);
    commands_section(f, rundir);
    fputs("</main></body></html>\n", f);
}

int aspire_report_html(const char *rundir) {
    char *path = pl_path(rundir, "report.html", NULL);
    if (!path) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    aspire_atomic_file af;
    int rc = aspire_atomic_open(&af, path);
    if (!rc) {
        page(af.fp, rundir);
        rc = aspire_atomic_commit(&af);
    }
    aspire_strfree(path);
    return rc;
}
