/* methods.c — the robust-training baselines on one dataset (by default the benchmark world's
 * task): each method trained for several seeds with the default recipe, then evaluated on the
 * test split; prints mean and worst-group test accuracy with their spread across seeds and the
 * wall time per run, writes the table into BENCHMARKS.md (between marker lines, replacing an
 * older table), and prints one JSON object last:
 *   {"methods": {"erm": {"mean": .., "mean_sd": .., "worst": .., "worst_sd": .., "minutes": ..}, ..}}
 * Finished runs are reused (a run folder with a result in train.json is not trained again) and
 * interrupted ones resumed, so an interrupted benchmark continues where it stopped. DFR reuses the ERM run of the same seed as
 * its backbone (--base); its minutes are that ERM run's plus its own.
 *   usage: methods --data DIR --runs DIR [--seeds 3] [--methods erm,jtt,...] [--epochs N]
 *                  [--threads N] [--md BENCHMARKS.md] */
#include "aspire/fileio.h"
#include "aspire/train.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SEEDS 10

typedef struct row {
    aspire_method m;
    int n;
    double mean[MAX_SEEDS], worst[MAX_SEEDS], minutes[MAX_SEEDS], wmean[MAX_SEEDS], cpu[MAX_SEEDS];
    int ncpu;  /* runs that recorded their CPU time */
} row;

static double avg(const double *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return n ? s / n : NAN;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* median of n values (v is not changed); NAN for none */
static double median(const double *v, int n) {
    if (n < 1) return NAN;
    double t[MAX_SEEDS];
    memcpy(t, v, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* sample standard deviation (n - 1); 0 for one value */
static double sd(const double *v, int n) {
    if (n < 2) return 0;
    double m = avg(v, n), s = 0;
    for (int i = 0; i < n; i++) s += (v[i] - m) * (v[i] - m);
    return sqrt(s / (n - 1));
}

/* train.json's result.<key> (minutes, cpu_minutes_this_call), or -1 if the run has not finished
 * or did not record it */
static double run_result(const char *dir, const char *key) {
    char *p = aspire_path_join(dir, "train.json");
    char *buf = NULL;
    size_t n = 0;
    double minutes = -1;
    if (p && aspire_read_file(p, &buf, &n) == ASPIRE_OK) {
        cJSON *j = cJSON_Parse(buf);
        cJSON *r = j ? cJSON_GetObjectItem(j, "result") : NULL;
        cJSON *mi = r ? cJSON_GetObjectItem(r, key) : NULL;
        if (cJSON_IsNumber(mi)) minutes = mi->valuedouble;
        cJSON_Delete(j);
        aspire_free(buf, n + 1);
    }
    aspire_strfree(p);
    return minutes;
}

/* Replaces the text between the marker lines in path (or appends the block). */
static int write_markdown(const char *path, const char *block) {
    static const char begin[] = "<!-- bench-methods:begin -->", end[] = "<!-- bench-methods:end -->";
    char *old = NULL;
    size_t n = 0;
    if (aspire_read_file(path, &old, &n) != ASPIRE_OK) { old = NULL; n = 0; }
    size_t cap = n + strlen(block) + 256;
    char *out = malloc(cap);
    if (!out) return -1;
    const char *b = old ? strstr(old, begin) : NULL, *e = b ? strstr(b, end) : NULL;
    if (b && e) {
        e += strlen(end);
        snprintf(out, cap, "%.*s%s\n%s%s%s", (int)(b - old), old, begin, block, end, e);
    } else {
        snprintf(out, cap, "%s%s%s\n%s%s\n", old ? old : "", old && n && old[n - 1] != '\n' ? "\n" : "", begin, block, end);
    }
    int rc = aspire_write_file_atomic(path, out, strlen(out));
    free(out);
    if (old) aspire_free(old, n + 1);
    return rc;
}

typedef struct opts {
    const char *data, *runs, *md, *list;
    int seeds, epochs, threads, epochs_used;
} opts;

/* The ERM backbone run of dfr's seed s (trained first when it is not finished); its minutes. */
static double dfr_base(const aspire_train_config *c, const char *base) {
    double base_minutes = run_result(base, "minutes");
    if (base_minutes >= 0) return base_minutes;
    aspire_train_config e = *c;
    e.method = ASPIRE_METHOD_ERM;
    e.out_dir = base;
    e.resume = 1;
    if (aspire_train_run(&e)) { fprintf(stderr, "methods: %s: %s\n", base, aspire_errmsg()); return -1; }
    return run_result(base, "minutes");
}

/* Method w->m with seed s: trained unless finished (train.json's result), evaluated on test. */
static int run_one(row *w, opts *o, int s) {
    aspire_method m = w->m;
    char dir[1024], base[1024];
    snprintf(dir, sizeof dir, "%s/%s_seed%d", o->runs, aspire_method_name(m), s);
    snprintf(base, sizeof base, "%s/erm_seed%d", o->runs, s);
    aspire_train_config c = aspire_train_config_default();
    c.data_dir = o->data;
    c.out_dir = dir;
    c.method = m;
    c.seed = (uint64_t)s;
    c.threads = o->threads;
    c.progress = 1;
    if (o->epochs > 0) c.epochs = o->epochs;
    o->epochs_used = c.epochs;
    double base_minutes = 0;
    if (m == ASPIRE_METHOD_DFR) {
        if ((base_minutes = dfr_base(&c, base)) < 0) return 1;
        c.base_run = base;
    }
    double minutes = run_result(dir, "minutes");
    if (minutes < 0) {
        c.resume = 1;  /* an interrupted run continues; an empty folder starts */
        fprintf(stderr, "== %s seed %d\n", aspire_method_name(m), s);
        if (aspire_train_run(&c)) { fprintf(stderr, "methods: %s: %s\n", dir, aspire_errmsg()); return 1; }
        minutes = run_result(dir, "minutes");
    }
    aspire_eval_options eo = {dir, "test", "best", NULL, o->threads, 0, {0}, 0};
    aspire_eval_result res;
    if (aspire_train_evaluate(&eo, &res)) { fprintf(stderr, "methods: %s: %s\n", dir, aspire_errmsg()); return 1; }
    int k = w->n++;
    w->mean[k] = res.summary.mean;
    w->wmean[k] = res.summary.weighted_mean;
    w->worst[k] = res.summary.worst_group;
    w->minutes[k] = minutes + base_minutes;
    double cpu = run_result(dir, "cpu_minutes_this_call"), bcpu = m == ASPIRE_METHOD_DFR ? run_result(base, "cpu_minutes_this_call") : 0;
    if (cpu >= 0 && bcpu >= 0) w->cpu[w->ncpu++] = cpu + bcpu;
    fprintf(stderr, "%s seed %d: test mean %.2f%%, worst group %.2f%% (%.1f min)\n", aspire_method_name(m), s,
            100 * res.summary.mean, 100 * res.summary.worst_group, minutes + base_minutes);
    aspire_eval_result_destroy(&res);
    return 0;
}

/* The Markdown table (printed, and into o->md when given), then the JSON line. */
static void report(const opts *o, const row *rows, int nrows) {
    char block[8192];
    size_t k = 0;
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d", localtime(&now));
    k += (size_t)snprintf(block + k, sizeof block - k,
                          "### Robust-training baselines (`make bench-methods`, %s)\n\n"
                          "Dataset `%s`; %d seed%s per method (0..%d), %d epochs, default recipe (reference ResNet, "
                          "64x64, SGD lr 0.05 momentum 0.9 wd 1e-4, batch 64, cosine, flips); model selected on "
                          "validation by worst-group accuracy (groupdro, reweight, subsample, dfr: they use group "
                          "labels) or worst-class accuracy (erm, jtt, lff). Test accuracy in %%, mean ± sample standard "
                          "deviation over seeds; *mean* is the plain accuracy over test images, *weighted* weights the "
                          "group accuracies by the training group proportions. Minutes: median wall time of one run "
                          "(dfr: its ERM backbone's run plus the last-layer retraining); CPU minutes: the CPU time "
                          "of the run's process, all threads, median (wall time above CPU time / threads means the "
                          "machine was shared).\n\n"
                          "| method | mean | weighted mean | worst group | minutes | CPU minutes |\n|---|---|---|---|---|---|\n",
                          date, o->data, o->seeds, o->seeds > 1 ? "s" : "", o->seeds - 1, o->epochs_used);
    for (int r = 0; r < nrows; r++) {
        const row *w = &rows[r];
        char cpu[32] = "-";
        if (w->ncpu) snprintf(cpu, sizeof cpu, "%.1f", median(w->cpu, w->ncpu));
        k += (size_t)snprintf(block + k, sizeof block - k, "| %s | %.1f ± %.1f | %.1f ± %.1f | %.1f ± %.1f | %.1f | %s |\n",
                              aspire_method_name(w->m), 100 * avg(w->mean, w->n), 100 * sd(w->mean, w->n),
                              100 * avg(w->wmean, w->n), 100 * sd(w->wmean, w->n), 100 * avg(w->worst, w->n),
                              100 * sd(w->worst, w->n), median(w->minutes, w->n), cpu);
    }
    printf("%s\n", block);
    if (o->md && write_markdown(o->md, block)) fprintf(stderr, "methods: %s: %s\n", o->md, aspire_errmsg());
    printf("{\"methods\": {");
    for (int r = 0; r < nrows; r++) {
        const row *w = &rows[r];
        printf("%s\"%s\": {\"mean\": %.4f, \"mean_sd\": %.4f, \"worst\": %.4f, \"worst_sd\": %.4f, \"minutes\": %.2f, "
               "\"cpu_minutes\": %.2f, \"seeds\": %d}",
               r ? ", " : "", aspire_method_name(w->m), avg(w->mean, w->n), sd(w->mean, w->n), avg(w->worst, w->n),
               sd(w->worst, w->n), median(w->minutes, w->n), w->ncpu ? median(w->cpu, w->ncpu) : -1.0, w->n);
    }
    printf("}, \"seeds\": %d, \"epochs\": %d}\n", o->seeds, o->epochs_used);
}

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){NULL, "build/bench-runs", NULL, "erm,jtt,lff,groupdro,reweight,subsample,dfr", 3, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "methods: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--runs")) o->runs = v;
        else if (!strcmp(a, "--md")) o->md = v;
        else if (!strcmp(a, "--methods")) o->list = v;
        else if (!strcmp(a, "--seeds")) o->seeds = atoi(v);
        else if (!strcmp(a, "--epochs")) o->epochs = atoi(v);
        else if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else { fprintf(stderr, "methods: unknown option %s\n", a); return 2; }
        i++;
    }
    if (!o->data || o->seeds < 1 || o->seeds > MAX_SEEDS) {
        fprintf(stderr, "usage: methods --data DIR [--runs DIR] [--seeds 1..%d] [--methods erm,...] [--epochs N] "
                        "[--threads N] [--md FILE]\n", MAX_SEEDS);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    opts o;
    if (parse(argc, argv, &o)) return 2;
    row rows[ASPIRE_METHOD_COUNT];
    int nrows = 0;
    char *names = strdup(o.list), *save = NULL;
    for (char *tok = strtok_r(names, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        aspire_method m;
        if (aspire_method_parse(tok, &m)) { fprintf(stderr, "methods: %s\n", aspire_errmsg()); return 2; }
        memset(&rows[nrows], 0, sizeof rows[nrows]);
        rows[nrows++].m = m;
    }
    free(names);
    aspire_mkdir_p(o.runs);
    for (int r = 0; r < nrows; r++)
        for (int s = 0; s < o.seeds; s++)
            if (run_one(&rows[r], &o, s)) return 1;
    report(&o, rows, nrows);
    return 0;
}
