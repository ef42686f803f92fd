/* aspire_table.c — the table of `make bench-aspire` (scripts/bench-aspire.sh): reads the evaluate stage of
 * several `aspire run` folders (one per seed, the same dataset and options) and prints, per method,
 * worst-group and mean accuracy without and with ASPIRE's images (mean ± sample standard deviation
 * over the runs), the ablations' rows when the runs made them, each run's stage times, and one
 * JSON object last:
 *   {"seeds": 3, "methods": {"erm": {"wga": .., "wga_sd": .., "wga_aspire": .., "wga_aspire_sd": ..,
 *    "mean": .., "mean_aspire": .., "weighted_mean": .., "weighted_mean_aspire": ..}, ..},
 *    "ablations": {"erm-plain": {"wga": .., "mean": ..}, ..}, "run_minutes": [..]}
 * A folder whose run has not completed is named on stderr and left out; a row present in fewer
 * runs than were read says how many it has (its "*_n" in the JSON).
 * Accuracies in percent; "mean" is plain accuracy over the test examples, "weighted_mean" the group
 * accuracies weighted by the training split's group proportions.
 *   usage: aspire_table RUNDIR... */
#include "aspire/fileio.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 16
#define MAX_ROWS 32

typedef struct row {
    char name[64], label[96];
    int n;
    double wga[MAX_RUNS], mean[MAX_RUNS], wmean[MAX_RUNS];
} row;

static double avg(const double *v, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += v[i];
    return n ? s / n : NAN;
}

static double sdev(const double *v, int n) {
    if (n < 2) return 0.0;
    double m = avg(v, n), s = 0.0;
    for (int i = 0; i < n; i++) s += (v[i] - m) * (v[i] - m);
    return sqrt(s / (n - 1));
}

static cJSON *read_json(const char *path) {
    char *buf = NULL;
    size_t n = 0;
    if (aspire_read_file(path, &buf, &n) != ASPIRE_OK) return NULL;
    cJSON *j = cJSON_Parse(buf);
    aspire_free(buf, n + 1);
    return j;
}

static row *find_row(row *rows, int *nrows, const char *name) {
    for (int i = 0; i < *nrows; i++)
        if (strcmp(rows[i].name, name) == 0) return &rows[i];
    if (*nrows == MAX_ROWS) return NULL;
    row *r = &rows[(*nrows)++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

/* Adds one run folder's results.json rows; its total stage time into *minutes. */
static int add_run(const char *dir, row *rows, int *nrows, double *minutes) {
    char path[4096];
    snprintf(path, sizeof path, "%s/evaluate/results.json", dir);
    cJSON *j = read_json(path);
    if (!j) {
        fprintf(stderr, "aspire_table: %s: missing or not JSON (the run has not completed): left out\n", path);
        return 1;
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "runs")) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(r, "name"));
        row *w = name ? find_row(rows, nrows, name) : NULL;
        if (!w || w->n == MAX_RUNS) continue;
        const char *label = cJSON_GetStringValue(cJSON_GetObjectItem(r, "label"));
        snprintf(w->label, sizeof w->label, "%s", label ? label : name);
        w->wga[w->n] = 100.0 * cJSON_GetNumberValue(cJSON_GetObjectItem(r, "worst_group"));
        w->mean[w->n] = 100.0 * cJSON_GetNumberValue(cJSON_GetObjectItem(r, "mean"));
        w->wmean[w->n] = 100.0 * cJSON_GetNumberValue(cJSON_GetObjectItem(r, "weighted_mean"));
        w->n++;
    }
    cJSON_Delete(j);
    static const char *const stages[] = {"train-erm", "detect", "personalize", "generate", "retrain", "evaluate", "report"};
    *minutes = 0.0;
    printf("%s:", dir);
    for (size_t s = 0; s < sizeof stages / sizeof stages[0]; s++) {
        snprintf(path, sizeof path, "%s/%s/stage.json", dir, stages[s]);
        cJSON *st = read_json(path);
        double sec = st ? cJSON_GetNumberValue(cJSON_GetObjectItem(st, "seconds")) : NAN;
        if (isfinite(sec)) *minutes += sec / 60.0;
        printf(" %s %.1f min", stages[s], sec / 60.0);
        cJSON_Delete(st);
    }
    printf("\n");
    return 0;
}

static int g_nruns;   /* values of the fullest row (the seeds, when each method ran once per seed):
                       * a row with fewer says how many it has */

static void pm(char *buf, size_t n, const double *v, int k) {
    if (k == g_nruns) snprintf(buf, n, "%.1f ± %.1f", avg(v, k), sdev(v, k));
    else snprintf(buf, n, "%.1f ± %.1f (%d run%s)", avg(v, k), sdev(v, k), k, k == 1 ? "" : "s");
}

static void print_table(const row *rows, int nrows, int nruns) {
    printf("\n| method | worst group | worst group + ASPIRE | mean | mean + ASPIRE | weighted mean | weighted mean + ASPIRE |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < nrows; i++) {
        const row *a = &rows[i];
        if (strchr(a->name, '-')) continue;   /* "<m>-aspire" and the ablations come with their method */
        char with[96];
        snprintf(with, sizeof with, "%s-aspire", a->name);
        const row *b = NULL;
        for (int k = 0; k < nrows; k++)
            if (strcmp(rows[k].name, with) == 0) b = &rows[k];
        char c[6][40];
        pm(c[0], 40, a->wga, a->n);
        pm(c[2], 40, a->mean, a->n);
        pm(c[4], 40, a->wmean, a->n);
        if (b) {
            pm(c[1], 40, b->wga, b->n);
            pm(c[3], 40, b->mean, b->n);
            pm(c[5], 40, b->wmean, b->n);
        } else {
            for (int k = 1; k < 6; k += 2) snprintf(c[k], 40, "—");
        }
        printf("| %s | %s | %s | %s | %s | %s | %s |\n", a->name, c[0], c[1], c[2], c[3], c[4], c[5]);
    }
    printf("\nERM with other extra images (ablations; ERM alone is the first row above):\n\n");
    printf("| extra images | worst group | mean | weighted mean |\n|---|---|---|---|\n");
    for (int i = 0; i < nrows; i++) {
        const row *a = &rows[i];
        if (!strstr(a->name, "erm-") || strcmp(a->name, "erm-aspire") == 0) continue;
        char c[3][40];
        pm(c[0], 40, a->wga, a->n);
        pm(c[1], 40, a->mean, a->n);
        pm(c[2], 40, a->wmean, a->n);
        printf("| %s | %s | %s | %s |\n", a->label, c[0], c[1], c[2]);
    }
    printf("\n%d run folders, %d seeds; accuracies in percent on the test split, mean ± sample standard deviation "
           "over the seeds.\n", nruns, g_nruns);
}

static void add_stats(cJSON *o, const char *key, const double *v, int n) {
    char k[64];
    snprintf(k, sizeof k, "%s_n", key);
    if (strstr(key, "wga")) cJSON_AddNumberToObject(o, k, n);
    cJSON_AddNumberToObject(o, key, round(avg(v, n) * 100.0) / 100.0);
    snprintf(k, sizeof k, "%s_sd", key);
    cJSON_AddNumberToObject(o, k, round(sdev(v, n) * 100.0) / 100.0);
}

static void print_json(const row *rows, int nrows, int nruns, const double *minutes) {
    cJSON *j = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(j, "methods"),
          *ab = cJSON_AddObjectToObject(j, "ablations");
    cJSON_AddNumberToObject(j, "seeds", g_nruns);
    cJSON_AddNumberToObject(j, "run_folders", nruns);
    for (int i = 0; i < nrows; i++) {
        const row *a = &rows[i];
        const char *dash = strchr(a->name, '-');
        if (dash && strcmp(dash, "-aspire") == 0) {
            char base[64];
            snprintf(base, sizeof base, "%.*s", (int)(dash - a->name), a->name);
            cJSON *o = cJSON_GetObjectItem(m, base);
            if (!o) o = cJSON_AddObjectToObject(m, base);
            add_stats(o, "wga_aspire", a->wga, a->n);
            add_stats(o, "mean_aspire", a->mean, a->n);
            add_stats(o, "weighted_mean_aspire", a->wmean, a->n);
        } else if (dash) {
            cJSON *o = cJSON_AddObjectToObject(ab, a->name);
            add_stats(o, "wga", a->wga, a->n);
            add_stats(o, "mean", a->mean, a->n);
            add_stats(o, "weighted_mean", a->wmean, a->n);
        } else {
            cJSON *o = cJSON_GetObjectItem(m, a->name);
            if (!o) o = cJSON_AddObjectToObject(m, a->name);
            add_stats(o, "wga", a->wga, a->n);
            add_stats(o, "mean", a->mean, a->n);
            add_stats(o, "weighted_mean", a->wmean, a->n);
        }
    }
    cJSON *rm = cJSON_AddArrayToObject(j, "run_minutes");
    for (int i = 0; i < nruns; i++) cJSON_AddItemToArray(rm, cJSON_CreateNumber(round(minutes[i] * 10.0) / 10.0));
    char *txt = cJSON_PrintUnformatted(j);
    printf("%s\n", txt ? txt : "{}");
    cJSON_free(txt);
    cJSON_Delete(j);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc - 1 > MAX_RUNS || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: aspire_table RUNDIR... (1 to %d completed `aspire run` folders)\n", MAX_RUNS);
        return 2;
    }
    row *rows = calloc(MAX_ROWS, sizeof *rows);
    double minutes[MAX_RUNS];
    int nrows = 0, nruns = 0;
    for (int i = 0; rows && i < argc - 1; i++) nruns += add_run(argv[i + 1], rows, &nrows, &minutes[nruns]) == 0;
    if (!rows || nruns == 0) {
        fprintf(stderr, "aspire_table: no completed run\n");
        free(rows);
        return 1;
    }
    g_nruns = 0;   /* sibling folders of one seed (other methods) add rows, not values */
    for (int i = 0; i < nrows; i++) if (rows[i].n > g_nruns) g_nruns = rows[i].n;
    print_table(rows, nrows, nruns);
    print_json(rows, nrows, nruns, minutes);
    free(rows);
    return 0;
}
