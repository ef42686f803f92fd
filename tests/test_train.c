/* test_train.c — `aspire train` and `aspire eval` end to end on tiny generated datasets in
 * Waterbirds layout (16×16 images: a coloured square whose colour is the class, on a background
 * whose colour is the place): the run files, resume equivalence, --extra joining the training
 * set, every method running, learning on an easy set, evaluation (library and CLI JSON), and
 * refusals of bad input. */
#include "aspire/image.h"
#include "aspire/rng.h"
#include "aspire/safetensors.h"
#include "aspire/train.h"
#include "test.h"
#include "testdir.h"

#include <cjson/cJSON.h>
#include <string.h>
#include <sys/wait.h>

enum { S = 16 };

static void paint(aspire_image *im, int y, int place, aspire_rng *r) {
    static const uint8_t bg[2][3] = {{120, 100, 60}, {40, 80, 200}}, fg[2][3] = {{230, 200, 40}, {250, 250, 250}};
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) {
            int in = i >= 5 && i < 11 && j >= 5 && j < 11;
            for (int c = 0; c < 3; c++) {
                int v = (in ? fg[y][c] : bg[place][c]) + (int)(aspire_rng_normal(r) * 12);
                im->data[(i * S + j) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
}

/* A dataset: ntr training images with place = y for a fraction rho, balanced val and test. */
static void make_dataset(const char *dir, int ntr, int nval, int nte, double rho, uint64_t seed) {
    char path[512];
    snprintf(path, sizeof path, "%s/imgs", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/metadata.csv", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "img_id,img_filename,y,split,place\n");
    aspire_rng r;
    aspire_rng_seed(&r, seed);
    aspire_image im;
    aspire_image_init(&im, S, S, 3);
    int id = 0;
    const int n[3] = {ntr, nval, nte};
    for (int sp = 0; sp < 3; sp++)
        for (int k = 0; k < n[sp]; k++, id++) {
            int y = k & 1;
            int place = sp == 0 ? (aspire_rng_uniform(&r) < rho ? y : 1 - y) : (k >> 1) & 1;
            paint(&im, y, place, &r);
            snprintf(path, sizeof path, "%s/imgs/%d.png", dir, id);
            aspire_image_save_png(&im, path);
            fprintf(f, "%d,imgs/%d.png,%d,%d,%d\n", id, id, y, sp, place);
        }
    fclose(f);
    aspire_image_destroy(&im);
}

static void make_extra(const char *dir, int n) {
    char path[512];
    snprintf(path, sizeof path, "%s/metadata.csv", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "img_filename,y\n");
    aspire_rng r;
    aspire_rng_seed(&r, 99);
    aspire_image im;
    aspire_image_init(&im, S, S, 3);
    for (int k = 0; k < n; k++) {
        paint(&im, k & 1, 1 - (k & 1), &r);  /* counter-correlated backgrounds */
        snprintf(path, sizeof path, "%s/e%d.png", dir, k);
        aspire_image_save_png(&im, path);
        fprintf(f, "e%d.png,%d\n", k, k & 1);
    }
    fclose(f);
    aspire_image_destroy(&im);
}

static char data_dir[300], extra_dir[300], easy_dir[300], runs[300];

static aspire_train_config tiny(const char *out, aspire_method m, int epochs) {
    aspire_train_config c = aspire_train_config_default();
    c.data_dir = data_dir;
    c.out_dir = out;
    c.method = m;
    c.image_size = S;
    c.epochs = epochs;
    c.batch = 8;
    c.lr = 0.05;
    c.threads = 1;  /* tiny batches: one thread is fastest, and immune to a busy machine */
    c.progress = 0;
    c.jtt_epochs = 1;
    c.dfr_retrains = 2;
    return c;
}

static char *run_dir(const char *name) {
    static char buf[8][512];
    static int k;
    char *b = buf[k++ & 7];
    snprintf(b, 512, "%s/%s", runs, name);
    return b;
}

static int exists(const char *dir, const char *name) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static cJSON *read_json(const char *dir, const char *name) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return cJSON_Parse(buf);
}

static int count_lines(const char *dir, const char *name) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

static void test_erm_run_files(void) {
    const char *out = run_dir("erm");
    aspire_train_config c = tiny(out, ASPIRE_METHOD_ERM, 2);
    int rc = aspire_train_run(&c);
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(exists(out, "train.json") && exists(out, "checkpoint.safetensors") && exists(out, "best.safetensors"));
    CHECK(exists(out, "log.csv") && exists(out, "curve.svg"));
    CHECK(count_lines(out, "log.csv") == 3);  /* header + 2 epochs */
    cJSON *j = read_json(out, "train.json");
    CHECK(j != NULL);
    if (j) {
        cJSON *conf = cJSON_GetObjectItem(j, "config"), *res = cJSON_GetObjectItem(j, "result");
        CHECK(strcmp(cJSON_GetObjectItem(conf, "method")->valuestring, "erm") == 0);
        CHECK(cJSON_GetObjectItem(conf, "epochs")->valueint == 2);
        CHECK(strcmp(cJSON_GetObjectItem(j, "selection")->valuestring, "worst_class") == 0);
        CHECK(res != NULL);
        if (res) {
            int e = cJSON_GetObjectItem(res, "selected_epoch")->valueint;
            CHECK(e == 0 || e == 1);
        }
        CHECK(strstr(cJSON_GetObjectItem(j, "command")->valuestring, "--method erm") != NULL);
        CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "dataset"), "training_pool")->valueint == 48);
        cJSON_Delete(j);
    }
    /* the config reads back as written */
    aspire_train_config back;
    aspire_train_strings st;
    CHECK(aspire_train_config_load(out, &back, &st) == ASPIRE_OK);
    CHECK(back.epochs == 2 && back.batch == 8 && back.image_size == S && back.method == ASPIRE_METHOD_ERM);
    CHECK(back.lr == 0.05 && back.seed == 0 && back.extra_dir == NULL && strcmp(back.data_dir, data_dir) == 0);
    aspire_train_config_strings_free(&st);
    /* best.safetensors is a plain weights file with its architecture */
    aspire_safetensors *sf = NULL;
    char p[600];
    snprintf(p, sizeof p, "%s/best.safetensors", out);
    CHECK(aspire_safetensors_open(&sf, p) == ASPIRE_OK);
    if (sf) {
        CHECK(aspire_safetensors_find(sf, "fc.weight") != NULL);
        CHECK(strcmp(aspire_safetensors_meta(sf, "arch"), "reference") == 0);
        CHECK(strcmp(aspire_safetensors_meta(sf, "selection"), "worst_class") == 0);
        aspire_safetensors_free(sf);
    }
    FILE *f = fopen((snprintf(p, sizeof p, "%s/curve.svg", out), p), "r");
    char head[8] = {0};
    if (f) { CHECK(fread(head, 1, 4, f) == 4); fclose(f); }
    CHECK(strncmp(head, "<svg", 4) == 0);
    /* the same folder again without --resume is refused; a finished run resumes to nothing */
    CHECK(aspire_train_run(&c) == ASPIRE_ERR_ARG);
    CHECK(strstr(aspire_errmsg(), "--resume") != NULL);
    c.resume = 1;
    CHECK(aspire_train_run(&c) == ASPIRE_OK);
}

/* tensors of two safetensors files are bitwise equal */
static int same_tensors(const char *a, const char *b) {
    aspire_safetensors *x = NULL, *y = NULL;
    if (aspire_safetensors_open(&x, a) || aspire_safetensors_open(&y, b)) return 0;
    int same = aspire_safetensors_count(x) == aspire_safetensors_count(y);
    for (int i = 0; same && i < aspire_safetensors_count(x); i++) {
        const aspire_st_tensor *t = aspire_safetensors_at(x, i), *u = aspire_safetensors_find(y, t->name);
        same = u && u->nbytes == t->nbytes && memcmp(u->data, t->data, t->nbytes) == 0;
        if (!same) fprintf(stderr, "  tensor %s differs\n", t->name);
    }
    aspire_safetensors_free(x);
    aspire_safetensors_free(y);
    return same;
}

static void resume_case(aspire_method m, const char *name) {
    char a[400], b[400];
    snprintf(a, sizeof a, "%s/resume_%s_a", runs, name);
    snprintf(b, sizeof b, "%s/resume_%s_b", runs, name);
    aspire_train_config ca = tiny(a, m, 3), cb = tiny(b, m, 3);
    ca.extra_dir = cb.extra_dir = extra_dir;
    CHECK_MSG(aspire_train_run(&ca) == ASPIRE_OK, "%s", aspire_errmsg());
    cb.stop_after = 1;
    cb.resume = 1;  /* --resume on a folder without a run starts it */
    CHECK_MSG(aspire_train_run(&cb) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(count_lines(b, "log.csv") == 2);
    cJSON *j = read_json(b, "train.json");
    CHECK(j && !cJSON_GetObjectItem(j, "result"));  /* not finished */
    cJSON_Delete(j);
    aspire_train_config r = {0};
    r.out_dir = b;
    r.resume = 1;
    CHECK_MSG(aspire_train_run(&r) == ASPIRE_OK, "%s", aspire_errmsg());
    char pa[500], pb[500];
    snprintf(pa, sizeof pa, "%s/checkpoint.safetensors", a);
    snprintf(pb, sizeof pb, "%s/checkpoint.safetensors", b);
    CHECK_MSG(same_tensors(pa, pb), "%s: the resumed run's final state differs from the straight run's", name);
    snprintf(pa, sizeof pa, "%s/best.safetensors", a);
    snprintf(pb, sizeof pb, "%s/best.safetensors", b);
    CHECK(same_tensors(pa, pb));
    int total = 3 + (m == ASPIRE_METHOD_JTT ? 1 : 0);
    CHECK(count_lines(b, "log.csv") == total + 1);
}

/* train.json's command survives a shell: paths with a space and a quote come back as one argument
 * each, byte for byte. */
static void test_command_quoting(void) {
    char odd_data[600], odd_out[600];
    snprintf(odd_data, sizeof odd_data, "%s/my data's", runs);
    snprintf(odd_out, sizeof odd_out, "%s/run \"q\" $HOME", runs);
    CHECK(symlink(data_dir, odd_data) == 0);
    aspire_train_config c = tiny(odd_out, ASPIRE_METHOD_ERM, 1);
    c.data_dir = odd_data;
    int rc = aspire_train_run(&c);
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    cJSON *j = read_json(odd_out, "train.json");
    CHECK(j != NULL);
    if (!j) return;
    const char *cmd = cJSON_GetObjectItem(j, "command")->valuestring;
    CHECK(strncmp(cmd, "aspire train ", 13) == 0);
    /* let the shell split it: printf prints one argument a line */
    char sh[4096];
    snprintf(sh, sizeof sh, "printf '%%s\\n' %s", cmd + 13);
    FILE *p = popen(sh, "r");
    CHECK(p != NULL);
    int seen_data = 0, seen_out = 0;
    char line[1024], prev[1024] = "";
    while (p && fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        if (strcmp(prev, "--data") == 0) seen_data = strcmp(line, odd_data) == 0;
        if (strcmp(prev, "--out") == 0) seen_out = strcmp(line, odd_out) == 0;
        snprintf(prev, sizeof prev, "%s", line);
    }
    CHECK(p && pclose(p) == 0);
    CHECK_MSG(seen_data && seen_out, "command: %s", cmd);
    cJSON_Delete(j);
}

/* --init FILE starts a run; once a checkpoint holds every weight, --resume no longer needs the
 * file (it may have moved), while a fresh run from the missing file is refused naming it. */
static void test_resume_without_init_file(void) {
    char init[600], src[600], out[600], out2[600];
    snprintf(src, sizeof src, "%s/best.safetensors", run_dir("erm"));  /* from test_erm_run_files */
    snprintf(init, sizeof init, "%s/init.safetensors", runs);
    snprintf(out, sizeof out, "%s/from_init", runs);
    snprintf(out2, sizeof out2, "%s/from_init2", runs);
    CHECK(link(src, init) == 0);
    aspire_train_config c = tiny(out, ASPIRE_METHOD_ERM, 2);
    c.init = init;
    c.stop_after = 1;
    CHECK_MSG(aspire_train_run(&c) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(unlink(init) == 0);
    aspire_train_config r = {0};
    r.out_dir = out;
    r.resume = 1;
    CHECK_MSG(aspire_train_run(&r) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(count_lines(out, "log.csv") == 3);
    cJSON *j = read_json(out, "train.json");
    CHECK(j && cJSON_GetObjectItem(j, "result"));  /* finished */
    cJSON_Delete(j);
    aspire_train_config f = tiny(out2, ASPIRE_METHOD_ERM, 1);
    f.init = init;
    CHECK(aspire_train_run(&f) != ASPIRE_OK);
    CHECK(strstr(aspire_errmsg(), "init.safetensors") != NULL);
}

static void test_resume_equivalence(void) {
    resume_case(ASPIRE_METHOD_ERM, "erm");
    resume_case(ASPIRE_METHOD_GROUPDRO, "groupdro");  /* group weights in the checkpoint */
    resume_case(ASPIRE_METHOD_LFF, "lff");            /* two models and per-example averages */
    resume_case(ASPIRE_METHOD_JTT, "jtt");            /* the stop falls at the end of stage 1 */
}

static void test_methods_and_extra(void) {
    for (int m = 0; m < ASPIRE_METHOD_COUNT; m++) {
        char name[64];
        snprintf(name, sizeof name, "m_%s", aspire_method_name((aspire_method)m));
        const char *out = run_dir(name);
        aspire_train_config c = tiny(out, (aspire_method)m, 1);
        c.extra_dir = extra_dir;
        int rc = aspire_train_run(&c);
        CHECK_MSG(rc == ASPIRE_OK, "%s: %s", name, aspire_errmsg());
        CHECK(exists(out, "best.safetensors"));
        cJSON *j = read_json(out, "train.json");
        CHECK(j != NULL);
        if (!j) continue;
        cJSON *ds = cJSON_GetObjectItem(j, "dataset"), *res = cJSON_GetObjectItem(j, "result");
        CHECK(cJSON_GetObjectItem(ds, "extra")->valueint == 8);
        CHECK(cJSON_GetObjectItem(ds, "training_pool")->valueint == 48 + 8);
        int groups = cJSON_GetObjectItem(ds, "groups")->valueint;
        /* extra images form one more group per class only for the methods that need groups */
        CHECK(groups == (aspire_method_uses_groups((aspire_method)m) ? 6 : 4));
        const char *sel = cJSON_GetObjectItem(j, "selection")->valuestring;
        CHECK(strcmp(sel, aspire_select_rule_name(aspire_method_select_rule((aspire_method)m))) == 0);
        if (m == ASPIRE_METHOD_JTT) {
            int errs = cJSON_GetObjectItem(res, "jtt_error_set")->valueint;
            CHECK(errs >= 0 && errs <= 48);  /* found among the training images only */
            CHECK(exists(out, "stage1_last.safetensors"));
        }
        if (m == ASPIRE_METHOD_SUBSAMPLE) {
            int n = cJSON_GetObjectItem(res, "subsample_size")->valueint;
            CHECK(n > 0 && n % 6 == 0);  /* 4 groups + 2 extra groups, equal sizes */
        }
        if (m == ASPIRE_METHOD_DFR) {
            cJSON *d = read_json(out, "dfr.json");
            CHECK(d && cJSON_GetObjectItem(d, "extra_images")->valueint == 8);
            /* balanced validation (16 images: 4 per group) plus the 8 extra images */
            CHECK(d && cJSON_GetObjectItem(d, "retraining_set_size")->valueint == 16 + 8);
            cJSON_Delete(d);
            CHECK(exists(out, "stage1_best.safetensors"));
        }
        cJSON_Delete(j);
    }
    /* DFR on another run's backbone */
    aspire_train_config c = tiny(run_dir("dfr_base"), ASPIRE_METHOD_DFR, 1);
    c.base_run = run_dir("m_erm");
    CHECK_MSG(aspire_train_run(&c) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(!exists(c.out_dir, "stage1_best.safetensors") && exists(c.out_dir, "best.safetensors"));
}

static void test_learns_easy(void) {
    aspire_train_config c = tiny(run_dir("easy"), ASPIRE_METHOD_ERM, 4);
    c.data_dir = easy_dir;
    c.batch = 16;
    CHECK_MSG(aspire_train_run(&c) == ASPIRE_OK, "%s", aspire_errmsg());
    aspire_eval_options o = {c.out_dir, "test", "best", NULL, 1, 0, {0}, 0};
    aspire_eval_result r;
    CHECK_MSG(aspire_train_evaluate(&o, &r) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK_MSG(r.summary.mean >= 0.9, "test accuracy %.3f on an easy set", r.summary.mean);
    aspire_eval_result_destroy(&r);
}

static void test_eval(void) {
    const char *out = run_dir("erm");
    aspire_eval_options o = {out, "test", "best", NULL, 1, 0, {0}, 0};
    aspire_eval_result r;
    CHECK_MSG(aspire_train_evaluate(&o, &r) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(r.summary.n == 16);
    int64_t n = 0;
    for (int g = 0; g < 4; g++) { CHECK(r.metrics.group_n[g] == 4); n += r.metrics.group_n[g]; }
    CHECK(n == 16);
    CHECK(!isnan(r.summary.weighted_mean));
    CHECK(r.method == ASPIRE_METHOD_ERM && r.rule == ASPIRE_SELECT_WORST_CLASS);
    CHECK(strcmp(r.class_names[1], "waterbird") == 0);
    aspire_eval_result_destroy(&r);
    o.checkpoint = "last";
    CHECK(aspire_train_evaluate(&o, &r) == ASPIRE_OK && r.epoch == 1);
    aspire_eval_result_destroy(&r);
    o.split = "dev";
    CHECK(aspire_train_evaluate(&o, &r) == ASPIRE_ERR_ARG);
    /* the CLI's JSON */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s eval --run %s --split test --json --threads 1", ASPIRE_BIN, out);
    FILE *p = popen(cmd, "r");
    static char buf[8192];
    size_t len = p ? fread(buf, 1, sizeof buf - 1, p) : 0;
    buf[len] = 0;
    CHECK(p && pclose(p) == 0);
    cJSON *j = cJSON_Parse(buf);
    CHECK_MSG(j != NULL, "not JSON: %s", buf);
    if (j) {
        const char *keys[] = {"mean", "worst_group", "worst_class", "weighted_mean"};
        for (int k = 0; k < 4; k++) {
            cJSON *v = cJSON_GetObjectItem(j, keys[k]);
            CHECK(cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1);
        }
        cJSON *g = cJSON_GetObjectItem(j, "groups");
        CHECK(cJSON_GetArraySize(g) == 4);
        cJSON *g0 = cJSON_GetArrayItem(g, 0);
        CHECK(g0 && cJSON_GetObjectItem(g0, "y") && cJSON_GetObjectItem(g0, "place") && cJSON_GetObjectItem(g0, "n") &&
              cJSON_GetObjectItem(g0, "acc"));
        CHECK(strcmp(cJSON_GetObjectItem(j, "selection")->valuestring, "worst_class") == 0);
        cJSON_Delete(j);
    }
    /* and the table */
    snprintf(cmd, sizeof cmd, "%s eval --run %s --split val --threads 1 --quiet", ASPIRE_BIN, out);
    p = popen(cmd, "r");
    len = p ? fread(buf, 1, sizeof buf - 1, p) : 0;
    buf[len] = 0;
    CHECK(p && pclose(p) == 0);
    CHECK(strstr(buf, "worst-group accuracy") && strstr(buf, "weighted mean") && strstr(buf, "worst-class validation"));
    /* --data naming images outside its folder: refused, unless allowed (the run was trained without) */
    char other[400], line[256], path[600];
    snprintf(other, sizeof other, "%s/outside_data", runs);
    mkdir(other, 0755);
    snprintf(path, sizeof path, "%s/metadata.csv", data_dir);
    FILE *in = fopen(path, "r");
    snprintf(path, sizeof path, "%s/metadata.csv", other);
    FILE *mo = fopen(path, "w");
    CHECK(in && mo);
    for (int ln = 0; in && mo && fgets(line, sizeof line, in); ln++) {
        char *c1 = strchr(line, ',');
        if (ln == 0 || !c1) { fputs(line, mo); continue; }
        *c1 = 0;   /* img_id, then an absolute path to the same image in data_dir */
        fprintf(mo, "%s,%s/%s", line, data_dir, c1 + 1);
    }
    if (in) fclose(in);
    if (mo) fclose(mo);
    o.split = "test";
    o.checkpoint = "best";
    o.data_dir = other;
    CHECK(aspire_train_evaluate(&o, &r) != ASPIRE_OK && strstr(aspire_errmsg(), "outside"));
    o.allow_outside_paths = 1;
    CHECK_MSG(aspire_train_evaluate(&o, &r) == ASPIRE_OK && r.summary.n == 16, "%s", aspire_errmsg());
    aspire_eval_result_destroy(&r);
    snprintf(cmd, sizeof cmd, "%s eval --run %s --data %s --allow-outside-paths --threads 1 --quiet >/dev/null", ASPIRE_BIN, out,
             other);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s eval --run %s --data %s --threads 1 --quiet >/dev/null 2>&1", ASPIRE_BIN, out, other);
    CHECK(system(cmd) != 0);
}

static void test_cli_train(void) {
    char cmd[2048];
    const char *out = run_dir("cli_reweight");
    snprintf(cmd, sizeof cmd,
             "%s train --data %s --extra %s --out %s --method reweight --size 16 --epochs 1 --batch 8 --threads 1 --quiet",
             ASPIRE_BIN, data_dir, extra_dir, out);
    CHECK(system(cmd) == 0);
    CHECK(exists(out, "best.safetensors") && exists(out, "train.json"));
    cJSON *j = read_json(out, "train.json");
    cJSON *conf = j ? cJSON_GetObjectItem(j, "config") : NULL;
    CHECK(conf && strcmp(cJSON_GetObjectItem(conf, "method")->valuestring, "reweight") == 0);
    CHECK(conf && strcmp(cJSON_GetObjectItem(conf, "extra_dir")->valuestring, extra_dir) == 0);
    cJSON_Delete(j);
    /* usage errors: exit code 2 for a bad option, 1 for a missing --out or an unknown method */
    snprintf(cmd, sizeof cmd, "%s train --data %s --epochs x 2>/dev/null", ASPIRE_BIN, data_dir);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "%s train --data %s 2>/dev/null", ASPIRE_BIN, data_dir);
    CHECK(WEXITSTATUS(system(cmd)) == 1);
    snprintf(cmd, sizeof cmd, "%s train --data %s --out %s --method magic 2>/dev/null", ASPIRE_BIN, data_dir, run_dir("x"));
    CHECK(WEXITSTATUS(system(cmd)) == 1);
}

static void test_bad_input(void) {
    char bad[400];
    snprintf(bad, sizeof bad, "%s/bad", runs);
    mkdir(bad, 0755);
    char p[500];
    snprintf(p, sizeof p, "%s/metadata.csv", bad);
    const char *t1 = "img_id,img_filename,y,split\n0,a.png,0,0\n";
    testdir_write(p, t1, strlen(t1));
    aspire_train_config c = tiny(run_dir("bad_run"), ASPIRE_METHOD_ERM, 1);
    c.data_dir = bad;
    int rc = aspire_train_run(&c);
    CHECK_MSG(rc == ASPIRE_ERR_NOTFOUND || rc == ASPIRE_ERR_FORMAT, "rc %d: %s", rc, aspire_errmsg());
    CHECK_MSG(strstr(aspire_errmsg(), "metadata.csv") && strstr(aspire_errmsg(), "place"), "%s", aspire_errmsg());
    /* a missing image names the file and the line of metadata.csv */
    const char *t2 = "img_id,img_filename,y,split,place\n0,nothere.png,0,0,0\n0,nothere.png,1,1,1\n";
    testdir_write(p, t2, strlen(t2));
    c.out_dir = run_dir("bad_run2");
    CHECK(aspire_train_run(&c) != ASPIRE_OK);
    CHECK_MSG(strstr(aspire_errmsg(), "nothere.png") && strstr(aspire_errmsg(), "metadata.csv:2"), "%s", aspire_errmsg());
    c = tiny(run_dir("bad_run3"), ASPIRE_METHOD_ERM, 0);
    CHECK(aspire_train_run(&c) == ASPIRE_ERR_ARG);
    c = tiny(run_dir("bad_run4"), ASPIRE_METHOD_ERM, 1);
    c.base_run = run_dir("erm");
    CHECK(aspire_train_run(&c) == ASPIRE_ERR_ARG);  /* --base is for dfr */
    aspire_eval_options o = {run_dir("nothing"), "test", "best", NULL, 1, 0, {0}, 0};
    aspire_eval_result r;
    CHECK(aspire_train_evaluate(&o, &r) != ASPIRE_OK);
    CHECK(strstr(aspire_errmsg(), "train.json") != NULL);
}

int main(void) {
    char root[256];
    testdir_make(root, sizeof root);
    snprintf(data_dir, sizeof data_dir, "%s/data", root);
    snprintf(extra_dir, sizeof extra_dir, "%s/extra", root);
    snprintf(easy_dir, sizeof easy_dir, "%s/easy", root);
    snprintf(runs, sizeof runs, "%s/runs", root);
    mkdir(data_dir, 0755);
    mkdir(extra_dir, 0755);
    mkdir(easy_dir, 0755);
    mkdir(runs, 0755);
    make_dataset(data_dir, 48, 16, 16, 0.8, 1);
    make_extra(extra_dir, 8);
    make_dataset(easy_dir, 192, 32, 64, 0.5, 2);
    RUN(test_erm_run_files);
    RUN(test_command_quoting);
    RUN(test_resume_equivalence);
    RUN(test_resume_without_init_file);
    RUN(test_methods_and_extra);
    RUN(test_learns_easy);
    RUN(test_eval);
    RUN(test_cli_train);
    RUN(test_bad_input);
    if (!test_failures) testdir_remove(root);
    else fprintf(stderr, "kept %s for inspection\n", root);
    return TEST_REPORT();
}
