/* pipeline.c — `aspire run`'s driver (aspire_pipeline_run): walks the stage table (stages.c),
 * decides per stage whether it is complete with the same key, must be run again (and why), or
 * resumes; marks each stage's folder "running" first and "complete" last (stage.json); prints one
 * progress line per stage (stage k of n, elapsed, the run's ETA); on a failing stage stops with one
 * line naming it and still writes the report from what exists. */
#include "aspire/fileio.h"
#include "aspire/generator.h"
#include "aspire/progress.h"
#include "aspire/rundir.h"
#include "pipeline_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void aspire_pipeline_opts_default(aspire_pipeline_opts *o) {
    memset(o, 0, sizeof *o);
    o->methods = "erm";
    o->strength = 0.5f;   /* SDEdit from the selected edits: measured against text-only generation (BENCHMARKS.md) */
    o->progress = 1;
}

int aspire_pipeline_n_stages(void) { return pl_n_stages; }

const char *aspire_pipeline_stage_name(int i) { return i >= 0 && i < pl_n_stages ? pl_stages[i].name : NULL; }

int aspire_pipeline_stage_find(const char *name) {
    for (int i = 0; name && i < pl_n_stages; i++)
        if (strcmp(pl_stages[i].name, name) == 0) return i;
    return -1;
}

static int parse_methods(pl_ctx *c, const char *list) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list ? list : "erm");
    c->n_methods = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        aspire_method m;
        if (aspire_method_parse(t, &m))
            return aspire_error(ASPIRE_ERR_ARG, "--methods: unknown method '%s' (erm, jtt, lff, groupdro, reweight, "
                                                "subsample, dfr)", t);
        for (int i = 0; i < c->n_methods; i++)
            if (c->methods[i] == m) return aspire_error(ASPIRE_ERR_ARG, "--methods: '%s' given twice", t);
        if (c->n_methods == PL_MAX_METHODS) return aspire_error(ASPIRE_ERR_ARG, "--methods: at most 8");
        c->methods[c->n_methods++] = m;
    }
    return c->n_methods ? ASPIRE_OK : aspire_error(ASPIRE_ERR_ARG, "--methods: empty list");
}

static void iso_time(double t, char *buf, size_t n) {
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The hash of one input: the dataset's metadata.csv, the generator file, or a stage's key (an
 * input stage must be complete). */
static int input_hash(const pl_ctx *c, const char *name, char hex[17]) {
    if (strcmp(name, "data") == 0) {
        char *p = pl_path(c->o->data, "metadata.csv", NULL);
        int rc = p ? pl_hash_file(p, hex) : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
        aspire_strfree(p);
        return rc;
    }
    if (strcmp(name, "generator") == 0) {
        if (!aspire_file_exists(c->generator)) { snprintf(hex, 17, "missing"); return ASPIRE_OK; }
        return pl_hash_file(c->generator, hex);
    }
    char *p = pl_path(c->rundir, name, "stage.json");
    cJSON *j = p ? pl_read_json(p) : NULL;
    aspire_strfree(p);
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(j, "status"));
    const char *key = cJSON_GetStringValue(cJSON_GetObjectItem(j, "key"));
    int rc = st && key && strcmp(st, "complete") == 0 ? ASPIRE_OK
             : aspire_error(ASPIRE_ERR_ARG, "its input stage %s is not complete", name);
    if (!rc) snprintf(hex, 17, "%s", key);
    cJSON_Delete(j);
    return rc;
}

/* The stage's record: options, input hashes and key (FNV-1a over the canonical text of both). */
static cJSON *stage_record(const pl_ctx *c, const pl_stage *s) {
    cJSON *j = cJSON_CreateObject(), *opts = cJSON_AddObjectToObject(j, "options");
    cJSON *ins = cJSON_AddObjectToObject(j, "inputs");
    if (!opts || !ins || s->options(c, opts)) { cJSON_Delete(j); return NULL; }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s->inputs);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char hex[17];
        if (input_hash(c, t, hex)) { cJSON_Delete(j); return NULL; }
        cJSON_AddStringToObject(ins, t, hex);
    }
    char *a = cJSON_PrintUnformatted(opts), *b = cJSON_PrintUnformatted(ins);
    uint64_t h = pl_fnv1a(pl_fnv1a(PL_FNV_INIT, a ? a : "", a ? strlen(a) : 0), b ? b : "", b ? strlen(b) : 0);
    cJSON_free(a);
    cJSON_free(b);
    snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
    cJSON_AddStringToObject(j, "stage", s->name);
    cJSON_AddStringToObject(j, "key", buf);
    return j;
}

/* Why the recorded stage differs from the new record: the first option or input that changed. */
static void change_reason(const cJSON *old, const cJSON *now, char *why, size_t n) {
    static const char *const parts[2] = {"options", "inputs"};
    for (int k = 0; k < 2; k++) {
        const cJSON *a = cJSON_GetObjectItem(old, parts[k]), *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(now, parts[k])) {
            const cJSON *o = cJSON_GetObjectItem(a, e->string);
            if (o && cJSON_Compare(o, e, 1)) continue;
            char *x = o ? cJSON_PrintUnformatted(o) : NULL, *y = cJSON_PrintUnformatted(e);
            if (k == 0) snprintf(why, n, "option %s changed (%s -> %s)", e->string, x ? x : "unset", y ? y : "?");
            else snprintf(why, n, "input %s changed", e->string);
            cJSON_free(x);
            cJSON_free(y);
            return;
        }
    }
    snprintf(why, n, "its options or inputs changed");
}

typedef enum { ACT_SKIP, ACT_FRESH, ACT_RESUME } pl_action;

/* Decides what to do with stage s given its record `now`; why gets the reason when it runs. */
static pl_action decide(const pl_ctx *c, const char *dir, const cJSON *now, int force, char *why, size_t n) {
    char *p = pl_path(dir, "stage.json", NULL);
    cJSON *old = p && aspire_file_exists(p) ? pl_read_json(p) : NULL;
    aspire_strfree(p);
    aspire_error_clear();
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(old, "status"));
    const char *ok = cJSON_GetStringValue(cJSON_GetObjectItem(old, "key"));
    int same = ok && strcmp(ok, cJSON_GetStringValue(cJSON_GetObjectItem(now, "key"))) == 0;
    pl_action a = ACT_FRESH;
    if (force) snprintf(why, n, "%s", c->o->only ? "--only" : "--from");
    else if (!old) snprintf(why, n, "not run yet");
    else if (!same) change_reason(old, now, why, n);
    else if (st && strcmp(st, "complete") == 0) a = ACT_SKIP;
    else { snprintf(why, n, "interrupted or failed before: resuming"); a = ACT_RESUME; }
    cJSON_Delete(old);
    return a;
}

static int write_record(const char *dir, cJSON *rec, const char *status, double t0, double t1) {
    char ts[32], *p = pl_path(dir, "stage.json", NULL);
    if (!p) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    cJSON_DeleteItemFromObject(rec, "status");
    cJSON_DeleteItemFromObject(rec, "start");
    cJSON_DeleteItemFromObject(rec, "end");
    cJSON_DeleteItemFromObject(rec, "seconds");
    cJSON_AddStringToObject(rec, "status", status);
    iso_time(t0, ts, sizeof ts);
    cJSON_AddStringToObject(rec, "start", ts);
    if (t1 > 0) {
        iso_time(t1, ts, sizeof ts);
        cJSON_AddStringToObject(rec, "end", ts);
        cJSON_AddNumberToObject(rec, "seconds", t1 - t0);
    }
    int rc = pl_write_json(p, rec);
    aspire_strfree(p);
    return rc;
}

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The run's progress line before stage k: elapsed time and an ETA from the stages' weights. */
static void progress_line(const pl_ctx *c, int k, double t0, double w_done, const char *what) {
    FILE *log = c->o->log ? c->o->log : c->o->progress ? stderr : NULL;
    if (!log) return;
    double w_all = 0, el = wall_now() - t0;
    for (int i = 0; i < pl_n_stages; i++) w_all += pl_stages[i].weight;
    char a[32], b[32];
    aspire_progress_fmt_time(el, a, sizeof a);
    if (w_done > 0 && el > 1) aspire_progress_fmt_time(el / w_done * (w_all - w_done), b, sizeof b);
    else snprintf(b, sizeof b, "?");
    fprintf(log, "[stage %d/%d] %s: %s (run %s elapsed, ETA %s)\n", k + 1, pl_n_stages, pl_stages[k].name, what,
            a, b);
}

/* Runs stage k when needed. *ran is set when it ran in this call. */
static int run_stage(pl_ctx *c, int k, int force, double t0, double w_done, int *ran) {
    const pl_stage *s = &pl_stages[k];
    char *dir = pl_path(c->rundir, s->name, NULL);
    cJSON *rec = dir ? stage_record(c, s) : NULL;
    int rc = rec ? ASPIRE_OK : dir ? aspire_errstatus() : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    char why[256] = "";
    pl_action a = rc ? ACT_SKIP : decide(c, dir, rec, force, why, sizeof why);
    *ran = 0;
    if (!rc && a == ACT_SKIP) progress_line(c, k, t0, w_done, "complete, skipped");
    if (!rc && a != ACT_SKIP) {
        char what[300];
        snprintf(what, sizeof what, "running (%s)", why);
        progress_line(c, k, t0, w_done, what);
        if (a == ACT_FRESH && !s->parts) rc = aspire_remove_tree(dir);
        if (!rc) rc = aspire_mkdir_p(dir);
        double ts = wall_now();
        if (!rc) rc = write_record(dir, rec, "running", ts, 0);
        c->record = rec;
        if (!rc) rc = s->run(c, dir);
        c->record = NULL;
        if (!rc) rc = aspire_sync_fs(dir);
        if (!rc) rc = write_record(dir, rec, "complete", ts, wall_now());
        *ran = 1;
    }
    if (rc) aspire_error_prefix(rc, "stage %s", s->name);
    cJSON_Delete(rec);
    aspire_strfree(dir);
    return rc;
}

/* RUNDIR/run.json: the dataset, the options and the commands that repeat the run. */
static int write_run_json(const pl_ctx *c) {
    const aspire_pipeline_opts *o = c->o;
    char cmd[2048];
    int n = snprintf(cmd, sizeof cmd, "aspire run --data %s --out %s --methods %s --seed %llu --threads %d", o->data,
                     o->out, o->methods ? o->methods : "erm", (unsigned long long)o->seed, o->threads);
    if (o->epochs > 0) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --epochs %d", o->epochs);
    if (o->image_size > 0) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --size %d", o->image_size);
    if (o->batch > 0) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --batch %d", o->batch);
    if (o->limit_train > 0) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --limit-train %lld", (long long)o->limit_train);
    if (o->personalize_steps > 0) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --personalize-steps %d", o->personalize_steps);
    if (o->generate_n > 0) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --generate-n %d", o->generate_n);
    n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --strength %g", (double)o->strength);
    if (o->guidance > 0) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --guidance %g", (double)o->guidance);
    if (o->ablations) snprintf(cmd + n, sizeof cmd - (size_t)n, " --ablations");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "data", o->data);
    cJSON_AddStringToObject(j, "methods", o->methods ? o->methods : "erm");
    cJSON_AddStringToObject(j, "repeat", cmd);
    if (o->command) cJSON_AddStringToObject(j, "command", o->command);
    char *p = pl_path(c->rundir, "run.json", NULL);
    int rc = j && p ? pl_write_json(p, j) : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    aspire_strfree(p);
    cJSON_Delete(j);
    return rc;
}

static int check_opts(const aspire_pipeline_opts *o, int *from, int *only) {
    if (!o->data) return aspire_error(ASPIRE_ERR_ARG, "--data DIR is required");
    if (!o->out) return aspire_error(ASPIRE_ERR_ARG, "--out RUNDIR is required");
    *from = o->from ? aspire_pipeline_stage_find(o->from) : -1;
    *only = o->only ? aspire_pipeline_stage_find(o->only) : -1;
    if (o->from && *from < 0) return aspire_error(ASPIRE_ERR_ARG, "--from: no stage '%s'", o->from);
    if (o->only && *only < 0) return aspire_error(ASPIRE_ERR_ARG, "--only: no stage '%s'", o->only);
    if (o->from && o->only) return aspire_error(ASPIRE_ERR_ARG, "--from and --only exclude each other");
    if (!(o->strength >= 0.0f && o->strength <= 1.0f))
        return aspire_error(ASPIRE_ERR_ARG, "--strength %g: expected 0 (from the prompt alone) to 1", (double)o->strength);
    if (!(o->guidance >= 0.0f && o->guidance <= 100.0f))
        return aspire_error(ASPIRE_ERR_ARG, "--guidance %g: expected a scale from 0 to 100 (0 = the default, %g)",
                            (double)o->guidance, (double)PL_RUN_GUIDANCE);
    return ASPIRE_OK;
}

static int run_stages(pl_ctx *c, int from, int only) {
    double t0 = wall_now(), w_done = 0;
    int rc = ASPIRE_OK;
    for (int k = 0; !rc && k < pl_n_stages; k++) {
        if (only >= 0 && k != only) continue;
        int ran = 0;
        rc = run_stage(c, k, (from >= 0 && k >= from) || k == only, t0, w_done, &ran);
        if (ran) w_done += pl_stages[k].weight;
    }
    return rc;
}

int aspire_pipeline_run(const aspire_pipeline_opts *o) {
    int from = -1, only = -1;
    int rc = check_opts(o, &from, &only);
    if (rc) return rc;
    pl_ctx c = {.o = o, .rundir = o->out};
    if ((rc = parse_methods(&c, o->methods))) return rc;
    if (o->generator) snprintf(c.generator, sizeof c.generator, "%s", o->generator);
    else aspire_generator_default_model(NULL, c.generator, sizeof c.generator);
    aspire_rundir_lock *lock = NULL;
    if ((rc = aspire_rundir_lock_take(&lock, o->out, "aspire run"))) return rc;
    rc = write_run_json(&c);
    if (!rc) rc = run_stages(&c, from, only);
    if (rc) {
        /* the report still shows what exists; the stage's error stays the one reported */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", aspire_errmsg());
        if (aspire_report_html(o->out) == ASPIRE_OK && o->progress)
            fprintf(stderr, "aspire run: the report of the stages complete so far: %s/report.html\n", o->out);
        aspire_error(rc, "%s", msg);
    }
    aspire_rundir_unlock(lock);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The parts of a parts stage (folders holding part.json), sorted by name: one line each with its
 * status and, once trained, its training minutes. */
static void status_parts(const char *dir, FILE *f) {
    DIR *d = opendir(dir);
    if (!d) return;
    char *names[64];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < 64;) {
        char *pj = e->d_name[0] != '.' ? pl_path(dir, e->d_name, "part.json") : NULL;
        if (pj && aspire_file_exists(pj) && (names[n] = aspire_strdup(e->d_name)) != NULL) n++;
        aspire_strfree(pj);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (int i = 0; i < n; i++) {
        char *pj = pl_path(dir, names[i], "part.json"), *tj = pl_path(dir, names[i], "train.json");
        cJSON *p = pj ? pl_read_json(pj) : NULL, *t = tj && aspire_file_exists(tj) ? pl_read_json(tj) : NULL;
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(p, "status"));
        const cJSON *min = cJSON_GetObjectItem(cJSON_GetObjectItem(t, "result"), "minutes");
        char tm[32] = "-";
        if (cJSON_IsNumber(min)) aspire_progress_fmt_time(min->valuedouble * 60, tm, sizeof tm);
        fprintf(f, "       %-16s %-22s %s\n", names[i], st && strcmp(st, "complete") == 0 ? "complete" : "running or interrupted", tm);
        cJSON_Delete(p);
        cJSON_Delete(t);
        aspire_strfree(pj);
        aspire_strfree(tj);
        aspire_strfree(names[i]);
    }
    aspire_error_clear();
}

int aspire_pipeline_status(const char *rundir, FILE *f) {
    char *rj = pl_path(rundir, "run.json", NULL);
    int any = rj && aspire_file_exists(rj);
    aspire_strfree(rj);
    if (!any) return aspire_error(ASPIRE_ERR_NOTFOUND, "%s: no aspire run here (no run.json)", rundir);
    fprintf(f, "%-4s %-12s %-22s %-22s %s\n", "#", "stage", "status", "started", "time");
    for (int k = 0; k < pl_n_stages; k++) {
        char *p = pl_path(rundir, pl_stages[k].name, "stage.json");
        cJSON *j = p && aspire_file_exists(p) ? pl_read_json(p) : NULL;
        aspire_strfree(p);
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(j, "status"));
        const char *start = cJSON_GetStringValue(cJSON_GetObjectItem(j, "start"));
        const cJSON *sec = cJSON_GetObjectItem(j, "seconds");
        char t[32] = "-";
        if (cJSON_IsNumber(sec)) aspire_progress_fmt_time(sec->valuedouble, t, sizeof t);
        const char *what = !st ? "not run" : strcmp(st, "complete") == 0 ? "complete" : "running or interrupted";
        fprintf(f, "%-4d %-12s %-22s %-22s %s\n", k + 1, pl_stages[k].name, what, start ? start : "-", t);
        cJSON_Delete(j);
        char *dir = pl_stages[k].parts && st ? pl_path(rundir, pl_stages[k].name, NULL) : NULL;
        if (dir) status_parts(dir, f);
        aspire_strfree(dir);
    }
    aspire_error_clear();
    return ASPIRE_OK;
}
