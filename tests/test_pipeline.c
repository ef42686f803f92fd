/* test_pipeline.c — `aspire run`'s driver on a tiny dataset (16×16 images, one epoch): the stage
 * table's order, the completion markers, resuming after a simulated kill (a deleted marker, an
 * interrupted stage) with the same bytes, an option change re-running from its stage with the
 * reason logged, --only, the status listing, and the report (self-contained HTML, also from a
 * made-up detect output with features and selected images), and retrain, evaluate and report
 * on made-up detect and generate outputs. The generator is given as a missing file, so a run
 * stops at detect (nothing selected on this tiny set) or at personalize at the latest: checked. */
#include "pipeline/pipeline_internal.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/pipeline.h"
#include "aspire/rng.h"
#include "test.h"
#include "testdir.h"

#include <string.h>
#include <sys/stat.h>

enum { S = 16 };

/* Square colour = class, background colour = place; place = class for 90 % of training images. */
static void tiny_dataset(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/img", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/metadata.csv", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "img_id,img_filename,y,split,place\n");
    aspire_rng r;
    aspire_rng_seed(&r, 5);
    aspire_image im;
    aspire_image_init(&im, S, S, 3);
    static const int count[3] = {48, 16, 16};
    for (int sp = 0, id = 0; sp < 3; sp++)
        for (int k = 0; k < count[sp]; k++, id++) {
            int y = k & 1, place = sp ? (k >> 1) & 1 : (aspire_rng_uniform(&r) < 0.9 ? y : !y);
            for (int p = 0; p < S * S; p++) {
                int in = (p / S) % 12 > 3 && (p % S) % 12 > 3;
                im.data[p * 3 + 0] = (uint8_t)(in ? 200 * y + 30 : 90 + 100 * place);
                im.data[p * 3 + 1] = (uint8_t)(in ? 220 - 150 * y : 60);
                im.data[p * 3 + 2] = (uint8_t)(in ? 40 : 200 - 120 * place + (int)(aspire_rng_uniform(&r) * 20));
            }
            snprintf(path, sizeof path, "%s/img/%d.png", dir, id);
            aspire_image_save_png(&im, path);
            fprintf(f, "%d,img/%d.png,%d,%d,%d\n", id, id, y, sp, place);
        }
    fclose(f);
    aspire_image_destroy(&im);
}

static char root[300], data[400], out[400], logpath[400];

static aspire_pipeline_opts tiny_opts(FILE *log) {
    aspire_pipeline_opts o;
    aspire_pipeline_opts_default(&o);
    o.data = data;
    o.out = out;
    o.epochs = 1;
    o.image_size = S;
    o.batch = 8;
    o.threads = 1;
    o.progress = 0;
    o.generator = "/nonexistent/generator.safetensors";
    o.log = log;
    return o;
}

static char *slurp(const char *a, const char *b, size_t *n) {
    char path[700];
    snprintf(path, sizeof path, "%s%s%s", a, *b ? "/" : "", b);
    char *buf = NULL;
    size_t len = 0;
    if (aspire_read_file(path, &buf, &len)) return NULL;
    if (n) *n = len;
    return buf;
}

static int has(const char *dir, const char *file, const char *needle) {
    char *s = slurp(dir, file, NULL);
    int ok = s && strstr(s, needle) != NULL;
    aspire_strfree(s);
    return ok;
}

/* Runs the pipeline with its stage lines captured in *log_text (freed by the caller). */
static int run_logged(aspire_pipeline_opts *o, char **log_text) {
    FILE *log = fopen(logpath, "w");
    o->log = log;
    int rc = aspire_pipeline_run(o);
    fclose(log);
    *log_text = slurp(logpath, "", NULL);
    return rc;
}

static void test_stage_table(void) {
    static const char *const want[] = {"train-erm", "detect", "personalize", "generate", "retrain", "evaluate", "report"};
    CHECK(aspire_pipeline_n_stages() == 7);
    for (int i = 0; i < 7; i++) CHECK(strcmp(aspire_pipeline_stage_name(i), want[i]) == 0);
    CHECK(aspire_pipeline_stage_find("retrain") == 4 && aspire_pipeline_stage_find("nope") == -1);
    aspire_pipeline_opts o = tiny_opts(NULL);
    o.methods = "erm,nope";
    CHECK(aspire_pipeline_run(&o) == ASPIRE_ERR_ARG && strstr(aspire_errmsg(), "nope"));
    o.methods = "erm";
    o.only = "bogus";
    CHECK(aspire_pipeline_run(&o) == ASPIRE_ERR_ARG && strstr(aspire_errmsg(), "bogus"));
    o.only = NULL;
    o.strength = 1.5f;
    CHECK(aspire_pipeline_run(&o) == ASPIRE_ERR_ARG && strstr(aspire_errmsg(), "--strength 1.5"));
    o.strength = 0.5f;
    o.guidance = -1.0f;
    CHECK(aspire_pipeline_run(&o) == ASPIRE_ERR_ARG && strstr(aspire_errmsg(), "--guidance -1"));
}

/* The first run: train-erm completes, the run stops at the first stage that cannot do its work
 * (detect, or personalize: nothing selected or no generator model) with a message naming it; the
 * report renders anyway. */
static void test_first_run(void) {
    aspire_pipeline_opts o = tiny_opts(NULL);
    char *log = NULL;
    int rc = run_logged(&o, &log);
    CHECK(rc != ASPIRE_OK);
    CHECK_MSG(strncmp(aspire_errmsg(), "stage ", 6) == 0, "%s", aspire_errmsg());
    CHECK(log && strstr(log, "[stage 1/7] train-erm: running (not run yet)"));
    CHECK(has(out, "train-erm/stage.json", "\"status\":\t\"complete\""));
    CHECK(has(out, "train-erm/stage.json", "\"key\""));
    CHECK(has(out, "train-erm/run/eval-test.json", "worst_group"));
    CHECK(has(out, "run.json", "aspire run --data"));
    /* the failing stage is marked as started, never complete */
    CHECK(has(out, "detect/stage.json", "\"status\":\t\"running\"") ||
          has(out, "personalize/stage.json", "\"status\":\t\"running\""));
    CHECK(has(out, "report.html", "<!DOCTYPE html>"));
    aspire_strfree(log);
}

static int same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = slurp(out, a, &na), *y = b ? slurp(out, b, &nb) : NULL;
    int ok = x && y && na == nb && memcmp(x, y, na) == 0;
    aspire_strfree(x);
    aspire_strfree(y);
    return ok;
}

static void copy_out(const char *from, const char *to) {
    size_t n = 0;
    char *x = slurp(out, from, &n), path[700];
    snprintf(path, sizeof path, "%s/%s", out, to);
    CHECK(x && aspire_write_file_atomic(path, x, n) == ASPIRE_OK);
    aspire_strfree(x);
}

/* Killed runs: a missing marker re-runs the stage from scratch, an interrupted one ("running")
 * resumes; both end with the same model bytes. A complete stage is skipped. */
static void test_resume(void) {
    copy_out("train-erm/run/best.safetensors", "best.before");
    char path[700], *log = NULL;
    snprintf(path, sizeof path, "%s/train-erm/stage.json", out);
    remove(path);
    snprintf(path, sizeof path, "%s/train-erm/run/best.safetensors", out);
    remove(path);
    aspire_pipeline_opts o = tiny_opts(NULL);
    run_logged(&o, &log);
    CHECK(log && strstr(log, "train-erm: running (not run yet)"));
    CHECK(same_file("train-erm/run/best.safetensors", "best.before"));
    aspire_strfree(log);
    /* an interrupted stage: its marker says running */
    size_t n = 0;
    char *rec = slurp(out, "train-erm/stage.json", &n), *p = rec ? strstr(rec, "\"complete\"") : NULL;
    CHECK(p != NULL);
    if (p) memcpy(p, "\"running\" ", 10);
    snprintf(path, sizeof path, "%s/train-erm/stage.json", out);
    if (rec) aspire_write_file_atomic(path, rec, n);
    aspire_strfree(rec);
    run_logged(&o, &log);
    CHECK(log && strstr(log, "train-erm: running (interrupted or failed before: resuming)"));
    CHECK(same_file("train-erm/run/best.safetensors", "best.before"));
    aspire_strfree(log);
    run_logged(&o, &log);
    CHECK(log && strstr(log, "train-erm: complete, skipped"));
    aspire_strfree(log);
}

/* A changed option re-runs its stage, saying which option; --only runs one stage. */
static void test_change_and_only(void) {
    aspire_pipeline_opts o = tiny_opts(NULL);
    o.epochs = 2;
    char *log = NULL;
    run_logged(&o, &log);
    CHECK_MSG(log && strstr(log, "train-erm: running (option epochs changed (1 -> 2))"), "%s", log ? log : "");
    CHECK(has(out, "train-erm/stage.json", "\"epochs\":\t2"));
    /* the next stage's input changed with it: it runs again, saying so */
    CHECK_MSG(log && strstr(log, "detect: running (input train-erm changed)"), "%s", log ? log : "");
    aspire_strfree(log);
    o.epochs = 1;
    o.only = "train-erm";
    CHECK(run_logged(&o, &log) == ASPIRE_OK);
    CHECK(log && strstr(log, "train-erm: running (--only)") && !strstr(log, "detect"));
    CHECK(same_file("train-erm/run/best.safetensors", "best.before"));
    aspire_strfree(log);
    o.only = "report";
    CHECK(run_logged(&o, &log) != ASPIRE_OK);  /* its inputs (detect, ...) are not complete */
    CHECK_MSG(strstr(aspire_errmsg(), "stage report") && strstr(aspire_errmsg(), "not complete"), "%s",
              aspire_errmsg());
    aspire_strfree(log);
}

static void test_status(void) {
    FILE *f = fopen(logpath, "w");
    CHECK(aspire_pipeline_status(out, f) == ASPIRE_OK);
    fclose(f);
    char *s = slurp(logpath, "", NULL);
    CHECK(s && strstr(s, "train-erm") && strstr(s, "complete") && strstr(s, "running or interrupted"));
    CHECK(s && strstr(s, "report       not run"));
    aspire_strfree(s);
    CHECK(aspire_pipeline_status(root, NULL) == ASPIRE_ERR_NOTFOUND);
}

static void put(const char *dir, const char *name, const char *text) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *slash = strrchr(path, '/');
    *slash = 0;
    aspire_mkdir_p(path);
    *slash = '/';
    CHECK(aspire_write_file_atomic(path, text, strlen(text)) == ASPIRE_OK);
}

static void put_png(const char *dir, const char *name) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *slash = strrchr(path, '/');
    *slash = 0;
    aspire_mkdir_p(path);
    *slash = '/';
    aspire_image im;
    aspire_image_init(&im, 8, 8, 3);
    for (int i = 0; i < 8 * 8 * 3; i++) im.data[i] = (uint8_t)(i * 7);
    CHECK(aspire_image_save_png(&im, path) == ASPIRE_OK);
    aspire_image_destroy(&im);
}

/* No external resource: no http(s) URL except SVG's namespace, no stylesheet or script links. */
static int self_contained(const char *html) {
    const char *p = html;
    while ((p = strstr(p, "http")))
        if (strncmp(p, "http://www.w3.org/", 18) == 0) p += 4;
        else return 0;
    return !strstr(html, "<link") && !strstr(html, "<script") && !strstr(html, "url(") && !strstr(html, "@import");
}

/* The report from made-up outputs of detect and generate: the features chart, the galleries. */
static void test_report(void) {
    char *html = slurp(out, "report.html", NULL);
    CHECK(html && strstr(html, "<!DOCTYPE html>") && strstr(html, "</html>") && self_contained(html));
    CHECK(html && strstr(html, "Per-group accuracy") && strstr(html, "class=\"worst\"") &&
          strstr(html, "convention 1") && strstr(html, "convention 2") && strstr(html, "<svg"));
    aspire_strfree(html);
    char fake[400];
    snprintf(fake, sizeof fake, "%s/fake", root);
    put(fake, "run.json", "{\"repeat\": \"aspire run --data D --out R\"}");
    put(fake, "detect/stage.json", "{\"status\": \"complete\", \"seconds\": 1.5}");
    put(fake, "detect/features.json",
        "{\"classes\": [{\"class\": 0, \"label\": \"landbird\", \"images\": 10, \"flipped_images\": 4, \"features\": ["
        "{\"rank\": 1, \"kind\": \"background\", \"name\": \"forest\", \"score\": 0.8, \"flips\": 4},"
        "{\"rank\": 2, \"kind\": \"foreground\", \"name\": \"tree\", \"score\": 0.2, \"flips\": 1}]}]}");
    put(fake, "detect/selected/metadata.csv", "img_filename,y\n3_bg_forest.png,0\n");
    put_png(fake, "detect/selected/3_bg_forest.png");
    put(fake, "generate/stage.json", "{\"status\": \"complete\"}");
    put(fake, "generate/images/metadata.csv", "img_filename,y,prompt,seed\n1/0.png,1,a photo,7\n");
    put_png(fake, "generate/images/1/0.png");
    CHECK(aspire_report_html(fake) == ASPIRE_OK);
    html = slurp(fake, "report.html", NULL);
    CHECK(html && self_contained(html) && strstr(html, "forest") && strstr(html, "landbird"));
    int imgs = 0;
    for (const char *p = html; p && (p = strstr(p, "src=\"data:image/png;base64,iVBOR")); p++) imgs++;
    CHECK_MSG(imgs == 2, "%d inline images", imgs);
    CHECK(html && strstr(html, "has not completed") && strstr(html, "aspire run --data D --out R"));
    CHECK(html && !strstr(html, "beside the selected edit"));   /* from the prompt alone: no pairs */
    aspire_strfree(html);
    /* generated from the edits (a start column): each image also beside the edit it started from */
    put(fake, "generate/images/metadata.csv", "img_filename,y,prompt,seed,start\n1/0.png,1,a photo,7,3_bg_forest.png\n");
    CHECK(aspire_report_html(fake) == ASPIRE_OK);
    html = slurp(fake, "report.html", NULL);
    imgs = 0;
    for (const char *p = html; p && (p = strstr(p, "src=\"data:image/png;base64,iVBOR")); p++) imgs++;
    CHECK_MSG(imgs == 3, "%d inline images with the pairs (the selected edit, and the pair instead of the gallery)", imgs);
    CHECK(html && strstr(html, "beside the selected edit") && strstr(html, "class 1: 3_bg_forest.png -&gt; 1/0.png"));
    aspire_strfree(html);
}

/* The stages after generate on made-up detect and generate outputs (complete markers, a folder of
 * extra images): --only retrain trains ERM with the extra images, --only evaluate gathers both
 * runs, --only report shows the two columns. */
static void test_later_stages(void) {
    put(out, "detect/stage.json", "{\"status\": \"complete\", \"key\": \"made-up-detect\"}");
    put(out, "generate/stage.json", "{\"status\": \"complete\", \"key\": \"made-up-generate\"}");
    /* generate/images (ASPIRE's), generate/plain (the plain-prompt ablation), detect/selected */
    static const char *const folders[][2] = {{"generate", "images"}, {"generate", "plain"}, {"detect", "selected"}};
    for (int f = 0; f < 3; f++) {
        char csv[2048] = "img_filename,y\n", name[64], dir[500];
        for (int k = 0; k < 8; k++) {
            snprintf(name, sizeof name, "%s/%d/%d.png", folders[f][1], k & 1, k);
            snprintf(dir, sizeof dir, "%s/%s", out, folders[f][0]);
            put_png(dir, name);
            snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "%d/%d.png,%d\n", k & 1, k, k & 1);
        }
        snprintf(name, sizeof name, "%s/%s/metadata.csv", folders[f][0], folders[f][1]);
        put(out, name, csv);
    }
    /* the start-edits ablation's folder: each generated image's start edit under its name */
    char gen[500], sel[500], starts[500];
    snprintf(gen, sizeof gen, "%s/generate/images", out);
    snprintf(sel, sizeof sel, "%s/detect/selected", out);
    snprintf(starts, sizeof starts, "%s/generate/starts", out);
    CHECK(pl_write_starts(gen, sel, starts) == ASPIRE_OK);   /* no start column: no folder */
    struct stat sb;
    CHECK(stat(starts, &sb) != 0);
    char csv[2048] = "img_filename,y,prompt,start\n";
    for (int k = 0; k < 8; k++)
        snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "%d/%d.png,%d,a photo,%d/%d.png\n", k & 1, k, k & 1,
                 (k + 2) & 1, (k + 2) % 8);
    put(out, "generate/images/metadata.csv", csv);
    CHECK_MSG(pl_write_starts(gen, sel, starts) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(has(out, "generate/starts/metadata.csv", "img_filename,y\n0/0.png,0\n1/1.png,1\n"));
    for (int k = 0; k < 8; k++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "generate/starts/%d/%d.png", k & 1, k);
        snprintf(b, sizeof b, "detect/selected/%d/%d.png", (k + 2) & 1, (k + 2) % 8);
        size_t na = 0, nb = 0;
        char *da = slurp(out, a, &na), *db = slurp(out, b, &nb);
        CHECK_MSG(da && db && na == nb && memcmp(da, db, na) == 0, "%s is not a copy of %s", a, b);
        aspire_strfree(da);
        aspire_strfree(db);
    }
    char from[600], aside[600];   /* a start edit missing: the error names it */
    snprintf(from, sizeof from, "%s/1/3.png", sel);
    snprintf(aside, sizeof aside, "%s/aside.png", out);
    CHECK(rename(from, aside) == 0);
    CHECK(pl_write_starts(gen, sel, starts) != ASPIRE_OK && strstr(aspire_errmsg(), "selected/1/3.png"));
    CHECK(rename(aside, from) == 0);
    CHECK(pl_write_starts(gen, sel, starts) == ASPIRE_OK);
    aspire_pipeline_opts o = tiny_opts(NULL);
    o.ablations = 1;
    char *log = NULL;
    static const char *const stages[] = {"retrain", "evaluate", "report"};
    for (int i = 0; i < 3; i++) {
        o.only = stages[i];
        int rc = run_logged(&o, &log);
        CHECK_MSG(rc == ASPIRE_OK, "%s: %s", stages[i], aspire_errmsg());
        aspire_strfree(log);
    }
    CHECK(has(out, "retrain/erm-aspire/eval-test.json", "worst_group"));
    CHECK(has(out, "evaluate/results.json", "\"erm-aspire\""));
    /* the ablations: ERM with the plain-prompt images and with the selected edits, labelled */
    CHECK(has(out, "retrain/erm-plain/train.json", "generate/plain"));
    CHECK(has(out, "retrain/erm-edits/train.json", "detect/selected"));
    CHECK(has(out, "retrain/erm-starts/train.json", "generate/starts"));
    CHECK(has(out, "evaluate/results.json", "\"ablation\""));
    char *html = slurp(out, "report.html", NULL);
    CHECK(html && strstr(html, "<th>erm + ASPIRE</th>") && strstr(html, "<th>erm</th>") && self_contained(html));
    CHECK(html && strstr(html, "<th>ERM + plain prompts</th>") && strstr(html, "<th>ERM + selected edits</th>") &&
          strstr(html, "<th>ERM + start edits</th>"));
    /* each ablation's images said in words under the table */
    CHECK(html && strstr(html, "ERM + start edits: each generated image replaced by the selected edit it started from"));
    CHECK(html && strstr(html, "erm-aspire</h3>"));  /* its learning curve */
    aspire_strfree(html);
}

/* retrain is made of parts, each keyed on its own options and inputs: adding DFR to the methods
 * keeps the finished ERM + ASPIRE run byte for byte and trains only DFR's two (DFR + ASPIRE on
 * ERM + ASPIRE's backbone, DFR alone on train-erm's); an interrupted part resumes, a folder
 * without part.json is made again, and a changed training option redoes every part. */
static void test_retrain_parts(void) {
    copy_out("retrain/erm-aspire/train.json", "erm-aspire-train.before");
    copy_out("retrain/erm-aspire/best.safetensors", "erm-aspire-best.before");
    CHECK(has(out, "retrain/erm-aspire/part.json", "\"status\":\t\"complete\""));
    aspire_pipeline_opts o = tiny_opts(NULL);
    o.ablations = 1;
    o.methods = "erm,dfr";
    o.only = "retrain";
    char *log = NULL;
    CHECK_MSG(run_logged(&o, &log) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK_MSG(log && strstr(log, "retrain: erm-aspire: complete, kept") && strstr(log, "retrain: erm-plain: complete, kept") &&
                  strstr(log, "retrain: dfr: training") && strstr(log, "retrain: dfr-aspire: training"),
              "%s", log ? log : "");
    aspire_strfree(log);
    CHECK(same_file("retrain/erm-aspire/train.json", "erm-aspire-train.before"));
    CHECK(same_file("retrain/erm-aspire/best.safetensors", "erm-aspire-best.before"));
    CHECK(has(out, "retrain/dfr-aspire/train.json", "retrain/erm-aspire\""));   /* its base */
    CHECK(has(out, "retrain/dfr-aspire/train.json", "generate/images"));        /* its extra images */
    CHECK(has(out, "retrain/dfr/train.json", "train-erm/run\""));
    CHECK(has(out, "retrain/dfr-aspire/eval-test.json", "worst_group"));
    /* killed while training erm-edits: its part says running; a folder without part.json */
    size_t n = 0;
    char *rec = slurp(out, "retrain/erm-edits/part.json", &n), *p = rec ? strstr(rec, "\"complete\"") : NULL;
    CHECK(p != NULL);
    if (p) memcpy(p, "\"running\" ", 10);
    char path[700];
    snprintf(path, sizeof path, "%s/retrain/erm-edits/part.json", out);
    if (rec) aspire_write_file_atomic(path, rec, n);
    aspire_strfree(rec);
    snprintf(path, sizeof path, "%s/retrain/dfr/part.json", out);
    remove(path);
    CHECK(run_logged(&o, &log) == ASPIRE_OK);
    CHECK_MSG(log && strstr(log, "retrain: erm-edits: interrupted before: resuming") &&
                  strstr(log, "retrain: dfr: a run without part.json") && strstr(log, "retrain: dfr-aspire: complete, kept"),
              "%s", log ? log : "");
    aspire_strfree(log);
    CHECK(has(out, "retrain/erm-edits/part.json", "\"status\":\t\"complete\""));
    /* a new generator (generate's key changes): the parts with generated images train again, DFR
     * alone and the selected-edits ablation are kept, as is a part recorded by an older aspire
     * (which hashed every input of retrain into its key) whose own inputs did not change */
    copy_out("retrain/dfr/best.safetensors", "dfr-best.before");
    rec = slurp(out, "retrain/erm-edits/part.json", &n);
    p = rec ? strstr(rec, "\"inputs\":\t{") : NULL;
    char *kp = rec ? strstr(rec, "\"key\":\t\"") : NULL;
    CHECK(p && kp);
    if (p && kp) {
        char legacy[4096];
        memcpy(kp + 8, "0123456789abcdef", 16);
        snprintf(legacy, sizeof legacy, "%.*s\"generate\": \"made-up-generate\", %s", (int)(p - rec + 11), rec, p + 11);
        snprintf(path, sizeof path, "%s/retrain/erm-edits/part.json", out);
        aspire_write_file_atomic(path, legacy, strlen(legacy));
    }
    aspire_strfree(rec);
    put(out, "generate/stage.json", "{\"status\": \"complete\", \"key\": \"made-up-gen-two\"}");
    CHECK(run_logged(&o, &log) == ASPIRE_OK);
    CHECK_MSG(log && strstr(log, "retrain: erm-aspire: its options or inputs changed") &&
                  strstr(log, "retrain: dfr-aspire: its options or inputs changed") &&
                  strstr(log, "retrain: erm-plain: its options or inputs changed") &&
                  strstr(log, "retrain: dfr: complete, kept") && strstr(log, "retrain: erm-edits: complete, kept"),
              "%s", log ? log : "");
    aspire_strfree(log);
    CHECK(same_file("retrain/dfr/best.safetensors", "dfr-best.before"));
    CHECK(!has(out, "retrain/erm-edits/part.json", "0123456789abcdef") && !has(out, "retrain/erm-edits/part.json", "generate"));
    /* a training option changed: every part again */
    o.epochs = 2;
    CHECK(run_logged(&o, &log) == ASPIRE_OK);
    CHECK_MSG(log && strstr(log, "retrain: erm-aspire: its options or inputs changed") &&
                  strstr(log, "retrain: dfr-aspire: its options or inputs changed") && !strstr(log, "kept"),
              "%s", log ? log : "");
    aspire_strfree(log);
    CHECK(has(out, "retrain/erm-aspire/train.json", "--epochs 2"));
    /* the report says which backbone each DFR run keeps */
    static const char *const stages[] = {"evaluate", "report"};
    for (int i = 0; i < 2; i++) {
        o.only = stages[i];
        CHECK_MSG(run_logged(&o, &log) == ASPIRE_OK, "%s: %s", stages[i], aspire_errmsg());
        aspire_strfree(log);
    }
    CHECK(has(out, "report.html", "<th>dfr + ASPIRE</th>") && has(out, "report.html", "DFR + ASPIRE keeps ERM + ASPIRE"));
    /* kept in the working folder (CTest's: the build folder) for report_browser to render */
    size_t rn = 0;
    char *rep = slurp(out, "report.html", &rn);
    CHECK(rep && strstr(rep, "data:image/png;base64,") && aspire_write_file_atomic("test_pipeline_report.html", rep, rn) == ASPIRE_OK);
    aspire_strfree(rep);
    /* aspire status lists retrain's parts under it */
    FILE *st = fopen(logpath, "w");
    CHECK(st && aspire_pipeline_status(out, st) == ASPIRE_OK);
    if (st) fclose(st);
    char *text = slurp(logpath, "", NULL), *r = text ? strstr(text, "retrain") : NULL;
    CHECK_MSG(r && strstr(r, "\n       dfr-aspire       complete") && strstr(r, "\n       erm-edits        complete") &&
                  strstr(r, "evaluate") > strstr(r, "dfr-aspire"),
              "%s", text ? text : "");
    aspire_strfree(text);
    /* images generated from the prompt alone (no generate/starts): the start-edits ablation is left
     * out of the results, the others stay */
    char starts[600], aside[600];
    snprintf(starts, sizeof starts, "%s/generate/starts", out);
    snprintf(aside, sizeof aside, "%s/starts-aside", out);
    CHECK(has(out, "evaluate/results.json", "\"erm-starts\""));
    CHECK(rename(starts, aside) == 0);
    o.only = "evaluate";
    CHECK_MSG(run_logged(&o, &log) == ASPIRE_OK, "%s", aspire_errmsg());
    aspire_strfree(log);
    CHECK(!has(out, "evaluate/results.json", "\"erm-starts\"") && has(out, "evaluate/results.json", "\"erm-edits\""));
    CHECK(rename(aside, starts) == 0);
}

/* Detect selected nothing (no edit flipped the classifier): personalize learns no token and
 * generate writes no image, both complete, and the run goes on (retrain then trains without extra
 * images) instead of stopping. */
static void test_nothing_selected(void) {
    put(out, "detect/stage.json", "{\"status\": \"complete\", \"key\": \"made-up-empty-detect\"}");
    put(out, "detect/selected/metadata.csv", "img_filename,y\n");
    aspire_pipeline_opts o = tiny_opts(NULL);
    o.generator = "models/generator.safetensors";   /* never opened: nothing to personalize */
    char *log = NULL;
    static const char *const stages[] = {"personalize", "generate"};
    for (int i = 0; i < 2; i++) {
        o.only = stages[i];
        int rc = run_logged(&o, &log);
        CHECK_MSG(rc == ASPIRE_OK, "%s: %s", stages[i], aspire_errmsg());
        aspire_strfree(log);
    }
    CHECK(has(out, "personalize/stage.json", "\"status\":\t\"complete\""));
    CHECK(has(out, "generate/stage.json", "\"status\":\t\"complete\""));
    char path[700];
    snprintf(path, sizeof path, "%s/personalize/embeds.safetensors", out);
    CHECK(!aspire_file_exists(path));
    snprintf(path, sizeof path, "%s/generate/images/metadata.csv", out);
    CHECK(!aspire_file_exists(path));
    /* --guidance is one of generate's options (recorded, so a new scale generates again); without
     * it ASPIRE's default, 1.5, is recorded (it differs from the 3 the first keys were made with) */
    CHECK(has(out, "generate/stage.json", "\"guidance\":\t1.5"));
    /* the recipes' other settings enter the keys only once they differ from today's defaults */
    static const char *const pers[] = {"\"lr\"", "\"batch\"", "\"t_min\"", "\"t_max\"", "\"flip\""};
    static const char *const gen[] = {"\"steps\"", "\"eta\"", "\"batch\"", "\"detail\"", "\"template\""};
    for (int k = 0; k < 5; k++) {
        CHECK_MSG(!has(out, "personalize/stage.json", pers[k]), "personalize's key holds %s", pers[k]);
        CHECK_MSG(!has(out, "generate/stage.json", gen[k]), "generate's key holds %s", gen[k]);
    }
    o.guidance = 2.0f;
    CHECK_MSG(run_logged(&o, &log) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK_MSG(log && strstr(log, "generate: running"), "%s", log ? log : "");
    aspire_strfree(log);
    CHECK(has(out, "generate/stage.json", "\"guidance\":\t2"));
    CHECK(has(out, "run.json", "--guidance 2"));
}

int main(void) {
    testdir_make(root, sizeof root);
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(out, sizeof out, "%s/run", root);
    snprintf(logpath, sizeof logpath, "%s/log.txt", root);
    mkdir(data, 0755);
    tiny_dataset(data);
    RUN(test_stage_table);
    RUN(test_first_run);
    RUN(test_resume);
    RUN(test_change_and_only);
    RUN(test_status);
    RUN(test_report);
    RUN(test_later_stages);
    RUN(test_retrain_parts);
    RUN(test_nothing_selected);
    testdir_remove(root);
    return TEST_REPORT();
}
