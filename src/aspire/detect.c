/* detect.c — the discovery stage (aspire_detect_run): from per-image records with their flips to
 * DETDIR: detections.jsonl, features.json, features.svg, selected/ (extra-images layout) and the
 * completion marker, written last. Every output is a function of the inputs and options and is
 * written atomically, so an interrupted run, run again, gives the same bytes.
 *
 * The edits and flips themselves are src/aspire/flips.c; full mode (the models, the hold-out,
 * captions and extraction) is src/aspire/detect_full.c. */
#include "aspire/detect.h"
#include "aspire/csv.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/jsonl.h"

#include "aspire/detect_internal.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void aspire_detect_opts_init(aspire_detect_opts *o) {
    memset(o, 0, sizeof *o);
    o->holdout_frac = 0.2;
    o->similarity = 0.7;
    o->min_occ = 5;
    o->max_per_class = 35;
    o->top_quota = 15;
    o->next_quota = 10;
    o->svg_top = 10;
    o->dilate = -1;
    o->votes = 3;
    o->seam = 0;
    o->sheet_rows = 4;
}

/* ---- where the models go ------------------------------------------------------------------ */

/* Full mode (--data, --run) is src/aspire/detect_full.c: the run's classifier on the training split
 * → aspire_detect_holdout; captions and extraction of the hold-out (reused when given or already
 * in DETDIR); the plate bank from the dataset's own training images; the built-in models behind
 * aspire_detect_models (src/aspire/detect_models.c); aspire_detect_flips; aspire_detect_finish
 * with edits = DETDIR/edits; the contact sheet flips.png. */

/* ---- the marker --------------------------------------------------------------------------- */

static uint64_t fnv1a(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 1099511628211ull; }
    return h;
}

/* A hash of the records as detections.jsonl will hold them (0 with *ok = 0 when out of memory). */
static uint64_t records_hash(const aspire_records *rs, int *ok) {
    uint64_t h = 1469598103934665603ull;
    *ok = 1;
    for (int64_t i = 0; i < rs->n && *ok; i++) {
        cJSON *o = aspire_record_to_json(&rs->items[i]);
        char *s = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        if (!s) { *ok = 0; break; }
        h = fnv1a(s, strlen(s), h);
        h = fnv1a("\n", 1, h);
        cJSON_free(s);
    }
    return h;
}

/* The marker's content: the options and the records' hash, then (when given) the counts; compact
 * JSON in a new string (cJSON_free). */
static char *marker_text(const aspire_detect_opts *o, uint64_t records_h, const aspire_detect_selection *sel,
                         const aspire_ranking *rk) {
    cJSON *m = cJSON_CreateObject();
    if (!m) return NULL;
    char hash[32];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)records_h);
    cJSON_AddStringToObject(m, "stage", "detect");
    cJSON *c = cJSON_AddObjectToObject(m, "config");
    if (c) {
        if (o->records) cJSON_AddStringToObject(c, "records", o->records);
        cJSON_AddStringToObject(c, "records_fnv1a", hash);
        cJSON_AddStringToObject(c, "edits", o->edits);
        cJSON_AddNumberToObject(c, "seed", (double)o->seed);
        cJSON_AddNumberToObject(c, "similarity", o->similarity);
        cJSON_AddNumberToObject(c, "min_occurrences", o->min_occ);
        cJSON_AddNumberToObject(c, "n_classes", o->n_classes);
        cJSON_AddNumberToObject(c, "max_per_class", o->max_per_class);
        cJSON_AddNumberToObject(c, "top_quota", o->top_quota);
        cJSON_AddNumberToObject(c, "next_quota", o->next_quota);
        cJSON_AddNumberToObject(c, "svg_top", o->svg_top);
    }
    if (sel && rk) {
        cJSON_AddNumberToObject(m, "classes", rk->n_classes);
        cJSON_AddNumberToObject(m, "selected", (double)sel->n);
    }
    char *s = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    return s;
}

/* 1 when DETDIR's marker holds the config `want` (marker_text without counts; the counts that
 * follow it in the marker are not compared). */
static int marker_matches(const char *path, const char *want) {
    char *buf;
    size_t n;
    if (!aspire_file_exists(path) || aspire_read_file(path, &buf, &n)) { aspire_error_clear(); return 0; }
    size_t k = strlen(want) - 1;   /* without its closing brace */
    int same = n > k && memcmp(buf, want, k) == 0 && (buf[k] == ',' || buf[k] == '}');
    aspire_free(buf, n + 1);
    return same;
}

/* ---- selected/ ---------------------------------------------------------------------------- */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

/* The PID in a temporary name ".NAME.tmp.PID..." or ".NAME.old.PID", or 0 when it is none. */
static long temp_pid(const char *name) {
    if (name[0] != '.') return 0;
    const char *p = strstr(name, ".tmp.");
    if (!p) p = strstr(name, ".old.");
    if (!p || p == name) return 0;
    char *end;
    long pid = strtol(p + 5, &end, 10);
    return pid > 0 && (*end == 0 || *end == '.') ? pid : 0;
}

void detect_remove_dead_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = temp_pid(e->d_name);
        if (!pid) continue;
        int ours = pid == (long)getpid() && strncmp(e->d_name, ".selected.", 10) == 0;
        int dead = pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        if (!ours && !dead) continue;
        char *p = aspire_path_join(dir, e->d_name);
        if (p) nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        aspire_strfree(p);
    }
    closedir(d);
}

/* The path of a flagged edit in `edits` (.png, else .jpg, else .jpeg, as the reference saves
 * them) into buf; 0 when found, else an error naming the record and the file. */
static int find_edit(const char *edits, const aspire_record *r, const char *records_path, aspire_feature_kind kind,
                     const char *phrase, char *buf, size_t n) {
    static const char *const exts[] = {"png", "jpg", "jpeg"};
    char name[1024];
    for (int e = 0; e < 3; e++) {
        aspire_edit_filename(name, sizeof name, r->row, kind, phrase, exts[e]);
        snprintf(buf, n, "%s/%s", edits, name);
        if (aspire_file_exists(buf)) return ASPIRE_OK;
    }
    aspire_edit_filename(name, sizeof name, r->row, kind, phrase, "png");
    return aspire_error(ASPIRE_ERR_NOTFOUND, "%s:%d: field 'wp_%s': the flagged edit '%s' has no image %s (or .jpg) in %s",
                        records_path, r->line, aspire_feature_kind_name(kind), phrase, name, edits);
}

/* Every flagged edit of every record must have its image. */
static int check_edits(const aspire_detect_opts *o, const aspire_records *rs) {
    char path[4096];
    for (int64_t i = 0; i < rs->n; i++) {
        const aspire_record *r = &rs->items[i];
        const aspire_strlist *fl[2] = {&r->wp_foreground, &r->wp_background};
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < fl[k]->n; j++) {
                int rc = find_edit(o->edits, r, o->records ? o->records : "records", (aspire_feature_kind)k,
                                   fl[k]->s[j], path, sizeof path);
                if (rc) return rc;
            }
    }
    return ASPIRE_OK;
}

static int copy_file(const char *from, const char *to) {
    char *buf;
    size_t n;
    int rc = aspire_read_file(from, &buf, &n);
    if (rc) return rc;
    aspire_atomic_file af;
    rc = aspire_atomic_open_ex(&af, to, ASPIRE_ATOMIC_NOSYNC);
    if (!rc) {
        if (n && fwrite(buf, 1, n, af.fp) != n) {
            aspire_atomic_abort(&af);
            rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot write", to);
        } else {
            rc = aspire_atomic_commit(&af);
        }
    }
    aspire_free(buf, n + 1);
    return rc;
}

/* Copies the chosen edits into `dir` and writes its metadata.csv (img_filename, y, and where each
 * image came from: img_id, kind, phrase, cluster_rank). */
static int fill_selected(const char *dir, const aspire_detect_opts *o, const aspire_records *rs,
                         const aspire_detect_selection *sel) {
    static const char *const header[] = {"img_filename", "y", "img_id", "kind", "phrase", "cluster_rank"};
    char *meta = aspire_path_join(dir, "metadata.csv");
    if (!meta) return ASPIRE_ERR_NOMEM;
    aspire_csv_writer *w;
    int rc = aspire_csv_writer_open(&w, meta, 6, header);
    aspire_strfree(meta);
    if (rc) return rc;
    for (int64_t i = 0; i < sel->n && !rc; i++) {
        const aspire_detect_selected *s = &sel->items[i];
        const aspire_record *r = &rs->items[s->record];
        char src[4096], y[16], rank[16];
        if ((rc = find_edit(o->edits, r, o->records ? o->records : "records", s->kind, s->phrase, src, sizeof src))) break;
        const char *base = strrchr(src, '/') + 1;
        char *dst = aspire_path_join(dir, base);
        rc = dst ? copy_file(src, dst) : ASPIRE_ERR_NOMEM;
        aspire_strfree(dst);
        if (rc) break;
        snprintf(y, sizeof y, "%d", s->cls);
        snprintf(rank, sizeof rank, "%d", s->cluster_rank);
        const char *row[6] = {base, y, r->img_id, aspire_feature_kind_name(s->kind), s->phrase, rank};
        rc = aspire_csv_writer_row(w, row);
    }
    if (rc) { aspire_csv_writer_abort(w); return rc; }
    return aspire_csv_writer_commit(w);
}

/* Builds DETDIR/selected in a temporary sibling and renames it into place. */
static int write_selected(const aspire_detect_opts *o, const aspire_records *rs, const aspire_detect_selection *sel) {
    char tmp[4096], old[4096], final[4096];
    snprintf(tmp, sizeof tmp, "%s/.selected.tmp.%ld", o->out, (long)getpid());
    snprintf(old, sizeof old, "%s/.selected.old.%ld", o->out, (long)getpid());
    snprintf(final, sizeof final, "%s/selected", o->out);
    int rc = aspire_mkdir_p(tmp);
    if (!rc) rc = fill_selected(tmp, o, rs, sel);
    if (!rc) rc = aspire_sync_fs(tmp);
    if (!rc && aspire_file_exists(final) && rename(final, old) != 0)
        rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot move the old folder aside", final);
    if (!rc && rename(tmp, final) != 0) {
        rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot rename %s into place", final, tmp);
        if (aspire_file_exists(old)) rename(old, final);   /* keep the old folder rather than none */
    }
    detect_remove_dead_temps(o->out);
    return rc;
}

/* ---- the stage ---------------------------------------------------------------------------- */

/* Writes text plus a newline to path atomically. */
static int write_text_nl(const char *path, const char *text) {
    aspire_atomic_file af;
    int rc = aspire_atomic_open(&af, path);
    if (rc) return rc;
    if (fputs(text, af.fp) < 0 || fputc('\n', af.fp) < 0) {
        aspire_atomic_abort(&af);
        return aspire_error(ASPIRE_ERR_IO, "%s: cannot write", path);
    }
    return aspire_atomic_commit(&af);
}

static int write_json(const char *path, cJSON *o) {
    char *s = o ? cJSON_Print(o) : NULL;
    if (!s) return aspire_error(ASPIRE_ERR_NOMEM, "%s: out of memory", path);
    int rc = write_text_nl(path, s);
    cJSON_free(s);
    return rc;
}

static int write_outputs(const aspire_detect_opts *o, const aspire_records *rs, const aspire_ranking *rk,
                         const aspire_detect_selection *sel) {
    char path[4096];
    snprintf(path, sizeof path, "%s/detections.jsonl", o->out);
    int rc = aspire_records_write(path, rs);
    if (rc) return rc;
    cJSON *j = aspire_ranking_to_json(rk);
    snprintf(path, sizeof path, "%s/features.json", o->out);
    rc = write_json(path, j);
    cJSON_Delete(j);
    if (rc) return rc;
    char *svg;
    size_t n;
    if ((rc = aspire_ranking_svg(rk, o->svg_top, &svg, &n))) return rc;
    snprintf(path, sizeof path, "%s/features.svg", o->out);
    rc = aspire_write_file_atomic(path, svg, n);
    aspire_free(svg, n + 1);
    if (rc) return rc;
    return write_selected(o, rs, sel);
}

static void summary(const aspire_detect_opts *o, const aspire_ranking *rk, const aspire_detect_selection *sel) {
    if (o->quiet) return;
    for (int c = 0; c < rk->n_classes; c++) {
        const aspire_class_ranking *cr = &rk->classes[c];
        int nsel = 0;
        for (int64_t i = 0; i < sel->n; i++) nsel += sel->items[i].cls == c;
        if (cr->n_flips == 0) {
            fprintf(stderr, "detect: class %d (%s): %d images, no flips (no spurious feature found)\n", c, cr->label,
                    cr->n_images);
            continue;
        }
        const aspire_cluster *t = &cr->clusters[0];
        fprintf(stderr, "detect: class %d (%s): %d images, %d flagged edits; #1 %s '%s' score %.3f (%d/%d); "
                        "%d images selected\n", c, cr->label, cr->n_images, cr->n_flips,
                aspire_feature_kind_name(t->kind), t->name, t->score, t->flips, t->occ, nsel);
    }
}

int aspire_detect_finish(const aspire_detect_opts *o, const aspire_records *rs) {
    if (!o->out || !*o->out || !o->edits) return aspire_error(ASPIRE_ERR_ARG, "detect: no output folder or edits folder");
    char marker[4096];
    snprintf(marker, sizeof marker, "%s/" ASPIRE_DETECT_DONE, o->out);
    int ok;
    uint64_t h = records_hash(rs, &ok);
    char *config = ok ? marker_text(o, h, NULL, NULL) : NULL;
    if (!config) return aspire_error(ASPIRE_ERR_NOMEM, "detect: out of memory");
    int same = marker_matches(marker, config);
    cJSON_free(config);
    if (same) {
        if (!o->quiet) fprintf(stderr, "detect: %s is complete (same records and options); nothing to do\n", o->out);
        return ASPIRE_OK;
    }
    int rc = aspire_mkdir_p(o->out);
    if (rc) return rc;
    if (remove(marker) != 0 && aspire_file_exists(marker))
        return aspire_error(ASPIRE_ERR_IO, "%s: cannot remove the old marker", marker);
    detect_remove_dead_temps(o->out);
    aspire_ranking rk = {0};
    aspire_detect_selection sel = {0};
    aspire_detect_rank_opts ro;
    aspire_detect_rank_opts_init(&ro);
    ro.similarity = o->similarity;
    ro.n_classes = o->n_classes;
    ro.min_occ = o->min_occ;
    aspire_detect_select_opts so = {o->max_per_class, o->top_quota, o->next_quota, o->seed};
    if (!(rc = check_edits(o, rs)) && !(rc = aspire_detect_rank(rs, &ro, &rk)) &&
        !(rc = aspire_detect_select(rs, &rk, &so, &sel)) && !(rc = write_outputs(o, rs, &rk, &sel)) &&
        !(rc = aspire_sync_fs(o->out))) {
        char *done = marker_text(o, h, &sel, &rk);
        rc = done ? write_text_nl(marker, done) : aspire_error(ASPIRE_ERR_NOMEM, "detect: out of memory");
        cJSON_free(done);
        if (!rc) summary(o, &rk, &sel);
    }
    aspire_detect_selection_destroy(&sel);
    aspire_ranking_destroy(&rk);
    return rc;
}

int aspire_detect_run(const aspire_detect_opts *o) {
    if (!o->out || !*o->out) return aspire_error(ASPIRE_ERR_ARG, "detect: no output folder");
    int records_mode = o->records || o->edits, full_mode = o->data || o->run;
    if (records_mode == full_mode)
        return aspire_error(ASPIRE_ERR_ARG, "detect: give either --records and --edits, or --data and --run");
    if (records_mode && (!o->records || !o->edits))
        return aspire_error(ASPIRE_ERR_ARG, "detect: --records needs --edits (the folder of the flagged edits) and back");
    if (full_mode) return detect_full_run(o);
    aspire_records rs;
    int rc = aspire_records_read(o->records, ASPIRE_RECORD_DETECTION, &rs);
    if (rc) return rc;
    rc = aspire_detect_finish(o, &rs);
    aspire_records_destroy(&rs);
    return rc;
}
