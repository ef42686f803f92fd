/* test_reliability.c — the `aspire` program used carelessly or hostilely (issue 15's defects, each
 * fixed with a check here that failed before the fix): --help on stdout, negative --threads and
 * --seed refused, world preview refusing what world task refuses, a loop of symbolic links named
 * as such, world task/corpus never overwriting silently and never leaving half a dataset (an
 * error, a file-size limit standing in for a full disk, kill -9), and `pretrain captioner`
 * checking its options before making its corpus and removing that corpus on every exit path;
 * datasets that name FIFOs, devices or files outside their folder; non-finite and out-of-range
 * training options; train.json and checkpoint metadata checked when read back; a run that failed
 * in its first epoch started again; --resume with other options refused; a run's dataset known by
 * absolute path and fingerprint; a label typo named. Runs the built program, ASPIRE_BIN. */
#include "aspire/dataset.h"
#include "aspire/extract.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/train.h"
#include "aspire/world.h"

#include "test.h"
#include "testdir.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];
static char out_txt[320], err_txt[320];
static char *out_s, *err_s;  /* stdout and stderr of the last run */

static const char *P(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static char *slurp(const char *path) {
    char *buf = NULL;
    size_t n = 0;
    if (aspire_read_file(path, &buf, &n) != ASPIRE_OK) return NULL;
    return buf;  /* freed with aspire_free(buf, 0) */
}

static int lines(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* Runs `[ENV] aspire ARGS` through the shell, stdout and stderr into files; the exit code. */
static int aspire(const char *fmt, ...) {
    char args[2048], cmd[3072];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "TMPDIR='%s' '%s' %s >'%s' 2>'%s' </dev/null", dir, ASPIRE_BIN, args, out_txt, err_txt);
    int st = system(cmd);
    aspire_free(out_s, 0);
    aspire_free(err_s, 0);
    out_s = slurp(out_txt);
    err_s = slurp(err_txt);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The last run exited with `code` and one line on stderr holding `a`. */
#define FAILS(rc, code, a)                                                                            \
    CHECK_MSG((rc) == (code) && lines(err_s) == 1 && strstr(err_s, a), "rc %d (want %d), want '%s', got: %s", \
              rc, code, a, err_s ? err_s : "(none)")

/* Entries of the test folder whose names hold `part`. */
static int entries_with(const char *folder, const char *part) {
    DIR *d = opendir(folder);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strstr(e->d_name, part) != NULL;
    closedir(d);
    return n;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Defect 11: usage asked for with --help is output (stdout, exit 0), for every level of command. */
static void test_help_on_stdout(void) {
    const char *cmds[] = {"train --help", "world --help", "world task --help", "pretrain --help",
                          "pretrain captioner -h", "help extract", "eval --help"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        int rc = aspire("%s", cmds[i]);
        CHECK_MSG(rc == 0 && out_s && strstr(out_s, "usage: aspire") && err_s && !*err_s,
                  "%s: rc %d, stdout %.60s, stderr %.60s", cmds[i], rc, out_s ? out_s : "", err_s ? err_s : "");
    }
    int rc = aspire("world bogus");  /* a mistake still goes to stderr, exit 2 */
    CHECK(rc == 2 && err_s && strstr(err_s, "usage: aspire world") && out_s && !*out_s);
}

/* Defects 7 and 11: --seed -1 was stored as 18446744073709551615; --threads -1 was accepted. */
static void test_negative_numbers(void) {
    const char *small = "--train 2 --val 0 --test 0 --size 16 --counterfactuals 0 --quiet";
    int rc = aspire("world task --out '%s' %s --seed -1", P("s"), small);
    FAILS(rc, 2, "--seed expects a number from 0 to 18446744073709551615, got '-1'");
    rc = aspire("world task --out '%s' %s --threads -1", P("s"), small);
    FAILS(rc, 2, "--threads must not be negative");
    rc = aspire("train --data '%s' --out '%s' --seed -1", P("nodata"), P("run"));
    FAILS(rc, 2, "--seed must not be negative, got '-1'");
    rc = aspire("train --data '%s' --out '%s' --threads=-2", P("nodata"), P("run"));
    FAILS(rc, 2, "--threads must not be negative");
    rc = aspire("pretrain captioner --out '%s' --corpus-seed -3", P("m.safetensors"));
    FAILS(rc, 2, "--corpus-seed");
    rc = aspire("caption --data '%s' --threads -1", P("nodata"));
    FAILS(rc, 2, "--threads must not be negative");
    CHECK(!aspire_file_exists(P("s")) && !aspire_file_exists(P("run")));
    /* the whole unsigned range is a seed, stored faithfully */
    rc = aspire("world task --out '%s' %s --seed 18446744073709551615", P("s"), small);
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
    char *cfg = slurp(P("s_truth/config.json"));
    CHECK(cfg && strstr(cfg, "\"seed\":18446744073709551615"));
    aspire_free(cfg, 0);
}

/* Defect 11: the preview took style values that the dataset writers refuse (and aborted on some). */
static void test_preview_options(void) {
    const char *bad[] = {"--bird-min -1", "--object-scale 0", "--bird-min 5", "--jitter -3", "--flip 7"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = aspire("world preview --out '%s' --size 16 --cols 1 %s", P("p.png"), bad[i]);
        CHECK_MSG(rc == 1 && lines(err_s) == 1 && strstr(err_s, "must lie in"), "%s: rc %d: %s", bad[i], rc,
                  err_s ? err_s : "");
        int rc2 = aspire("world task --out '%s' --train 1 --val 0 --test 0 --size 16 --quiet %s", P("t"), bad[i]);
        CHECK(rc2 == 1);  /* the same values, the same verdict */
    }
    CHECK(!aspire_file_exists(P("p.png")) && !aspire_file_exists(P("t")));
}

/* Defect 11: a loop of symbolic links was reported as "no such file". */
static void test_symlink_loop(void) {
    CHECK(symlink("loop", P("loop")) == 0);
    CHECK(aspire_file_exists(P("loop")) == 1);
    char *buf = NULL;
    size_t n = 0;
    CHECK(aspire_read_file(P("loop"), &buf, &n) == ASPIRE_ERR_IO);
    CHECK(strstr(aspire_errmsg(), "loop of symbolic links") != NULL);
    CHECK(aspire_mkdir_p(P("d")) == 0 && testdir_write(P("d/metadata.csv"), "img_id,img_filename,y\n1,a.png,0\n", 32) == 0);
    int rc = aspire("extract --quiet --captions '%s' --data '%s' --out '%s'", P("loop"), P("d"), P("x.jsonl"));
    FAILS(rc, 1, "loop of symbolic links");
    CHECK(err_s && !strstr(err_s, "no such") && !strstr(err_s, "No such"));
    rc = aspire("caption --data '%s'", P("loop"));
    CHECK_MSG(rc == 1 && err_s && strstr(err_s, "symbolic links") && !strstr(err_s, "No such"), "%s", err_s ? err_s : "");
}

/* Defect 8: world task into a non-empty folder left the old images beside the new metadata. */
static void test_world_task_refuses_and_replaces(void) {
    const char *small = "--train 4 --val 2 --test 2 --size 16 --counterfactuals 0 --no-masks --quiet";
    CHECK(aspire_mkdir_p(P("ds/duck")) == 0 && testdir_write(P("ds/duck/old.png"), "old", 3) == 0);
    int rc = aspire("world task --out '%s' %s", P("ds"), small);
    FAILS(rc, 1, "folder is not empty (use --force to replace it)");
    CHECK(aspire_file_exists(P("ds/duck/old.png")) && !aspire_file_exists(P("ds/metadata.csv")));
    rc = aspire("world task --out '%s' %s --force", P("ds"), small);
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
    CHECK(aspire_file_exists(P("ds/metadata.csv")) && !aspire_file_exists(P("ds/duck/old.png")));
    rc = aspire("world task --out '%s' %s --seed 3", P("ds"), small);  /* a finished dataset too */
    FAILS(rc, 1, "not empty");
    rc = aspire("world corpus --out '%s' --pretrain 2 --test 0 --size 16 --quiet", P("ds"));
    FAILS(rc, 1, "not empty");
    CHECK(entries_with(dir, ".tmp.") == 0);
}

/* Defect 8: on a full disk the old run left 208 images and no metadata.csv. A file-size limit
 * (ulimit -f, SIGXFSZ ignored: writes fail with EFBIG) stands in for the full disk. */
static void test_world_task_full_disk(void) {
    const char *args = "--train 6 --val 0 --test 0 --size 96 --counterfactuals 0 --quiet --threads 1";
    char *before = slurp(P("ds/metadata.csv"));
    CHECK(before != NULL);
    int rc = aspire("world task --out '%s' %s --force --seed 9", P("ds"), args);  /* a first, whole one */
    CHECK(rc == 0);
    aspire_free(before, 0);
    before = slurp(P("ds/metadata.csv"));
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "ulimit -f 4; trap '' XFSZ; '%s' world task --out '%s' %s --force --seed 10 2>'%s'",
             ASPIRE_BIN, P("ds"), args, err_txt);
    int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    char *err = slurp(err_txt);
    CHECK_MSG(err && strstr(err, "too large"), "%s", err ? err : "");
    aspire_free(err, 0);
    char *after = slurp(P("ds/metadata.csv"));  /* the old dataset, whole */
    CHECK(before && after && strcmp(before, after) == 0);
    aspire_free(before, 0);
    aspire_free(after, 0);
    snprintf(cmd, sizeof cmd, "ulimit -f 4; trap '' XFSZ; '%s' world task --out '%s' %s 2>/dev/null", ASPIRE_BIN,
             P("fresh"), args);
    st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK(!aspire_file_exists(P("fresh")) && !aspire_file_exists(P("fresh_truth")));  /* nothing, not half */
    CHECK(entries_with(dir, ".tmp.") == 0);
}

/* Starts `aspire ARGS...` in the background with TMPDIR = the test folder; its pid. */
static pid_t spawn(char *const argv[]) {
    pid_t pid = fork();
    if (pid == 0) {
        setenv("TMPDIR", dir, 1);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) { dup2(null, 1); dup2(null, 2); }
        execv(ASPIRE_BIN, argv);
        _exit(127);
    }
    return pid;
}

static void kill_and_reap(pid_t pid) {
    kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
}

/* kill -9 in the middle of a dataset: nothing at the final name; the next run cleans up after it. */
static void test_world_task_killed(void) {
    char out[512];
    snprintf(out, sizeof out, "%s", P("killed"));
    char *argv[] = {"aspire", "world", "task", "--out", out, "--train", "20000", "--val", "0", "--test", "0",
                    "--size", "32", "--counterfactuals", "0", "--threads", "1", "--quiet", NULL};
    pid_t pid = spawn(argv);
    for (int i = 0; i < 500 && entries_with(dir, ".killed.tmp.") < 1; i++) sleep_ms(10);
    sleep_ms(300);  /* some images written */
    kill_and_reap(pid);
    CHECK(!aspire_file_exists(out));
    CHECK(entries_with(dir, ".killed.tmp.") >= 1);  /* the dead run's temporary folder */
    int rc = aspire("world task --out '%s' --train 2 --val 0 --test 0 --size 16 --quiet", out);
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
    CHECK(entries_with(dir, ".killed.tmp.") == 0);  /* removed by the next run */
}

/* Defect 9: --heads 3 was refused only after a minute of making the corpus; an interrupted
 * pretrain left its corpus in /tmp. */
static void test_pretrain_captioner_leftovers(void) {
    double t0 = aspire_now();
    int rc = aspire("pretrain captioner --out '%s' --heads 3 --threads 1 --quiet", P("cap.safetensors"));
    double secs = aspire_now() - t0;
    FAILS(rc, 1, "n_heads 3");
    CHECK_MSG(secs < 10.0, "took %.1f s", secs);
    CHECK(entries_with(dir, "aspire-corpus") == 0);
    rc = aspire("pretrain captioner --out '%s' --steps 0 --quiet", P("cap.safetensors"));
    FAILS(rc, 1, "steps");
    CHECK(entries_with(dir, "aspire-corpus") == 0);

    char out[512];
    snprintf(out, sizeof out, "%s", P("cap.safetensors"));
    int sigs[2] = {SIGKILL, SIGINT};
    for (int k = 0; k < 2; k++) {
        char *argv[] = {"aspire", "pretrain", "captioner", "--out", out, "--threads", "1", "--quiet", NULL};
        pid_t pid = spawn(argv);
        for (int i = 0; i < 1000 && entries_with(dir, "aspire-corpus") < 1; i++) sleep_ms(10);
        CHECK(entries_with(dir, "aspire-corpus") == 1);
        sleep_ms(200);
        kill(pid, sigs[k]);
        kill_and_reap(pid);
        for (int i = 0; i < 1000 && entries_with(dir, "aspire-corpus") > 0; i++) sleep_ms(10);
        CHECK_MSG(entries_with(dir, "aspire-corpus") == 0, "signal %d: corpus left behind", sigs[k]);
    }
    CHECK(!aspire_file_exists(out));
}

/* Defect 3: two `aspire train` on one --out both ran and mixed their files. Defect 9: temporary
 * files of a killed run stayed after a successful resume. */
static void test_train_lock(void) {
    char data[512], run[512], lockf[600], stale[600], mine[64];
    snprintf(data, sizeof data, "%s", P("tds"));
    snprintf(run, sizeof run, "%s", P("trun"));
    snprintf(lockf, sizeof lockf, "%s/.aspire.lock", run);
    int rc = aspire("world task --out '%s' --train 64 --val 16 --test 0 --size 16 --counterfactuals 0 --no-masks --quiet",
                    data);
    CHECK(rc == 0);
    char *argv[] = {"aspire", "train", "--data", data, "--out", run, "--size", "16", "--epochs", "300", "--batch", "8",
                    "--threads", "1", "--quiet", NULL};
    pid_t a = spawn(argv);
    snprintf(mine, sizeof mine, "pid %ld: aspire train", (long)a);
    char *holder = NULL;
    for (int i = 0; i < 1000 && !(holder && strstr(holder, mine)); i++) {
        aspire_free(holder, 0);
        sleep_ms(10);
        holder = slurp(lockf);
    }
    CHECK_MSG(holder && strstr(holder, mine), "lock file: %s", holder ? holder : "(none)");
    aspire_free(holder, 0);
    rc = aspire("train --data '%s' --out '%s' --size 16 --epochs 1 --batch 8 --threads 1 --quiet", data, run);
    FAILS(rc, 1, "in use by another process");
    CHECK(err_s && strstr(err_s, run) && strstr(err_s, mine));
    /* a temporary file of a writer that died, as kill -9 leaves it */
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    snprintf(stale, sizeof stale, "%s/.checkpoint.safetensors.tmp.%ld.0", run, (long)dead);
    CHECK(testdir_write(stale, "half", 4) == 0);
    kill_and_reap(a);
    rc = aspire("train --data '%s' --out '%s' --size 16 --epochs 300 --batch 8 --threads 1 --quiet --resume --stop-after 1",
                data, run);
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
    CHECK(!aspire_file_exists(stale));
}

/* Found by fuzz_world_scene: an object wholly outside the image (a scene file may place one at
 * x = 1.39) got a box starting past the image's edge, against "clipped to the image". */
static void test_box_of_object_outside(void) {
    const char *json = "{\"background\":\"desert\",\"bg_seed\":1,\"objects\":[{\"name\":\"owl\",\"role\":\"bird\","
                       "\"x\":1.39,\"y\":-2.5,\"w\":0.28,\"h\":0.38,\"flip\":0,\"hue\":0,\"sat\":1,\"val\":1}]}";
    aspire_world_scene s;
    CHECK(aspire_world_scene_from_json(&s, json) == ASPIRE_OK);
    int box[4];
    aspire_world_object_box(&s, 0, 16, box);
    for (int i = 0; i < 4; i++) CHECK_MSG(box[i] >= 0 && box[i] <= 16, "box[%d] = %d", i, box[i]);
    CHECK(box[0] <= box[2] && box[1] <= box[3]);
    /* and a colour factor of 1e999 (infinity) rendered NaN into a byte (UBSan); now refused */
    const char *inf = "{\"background\":\"desert\",\"bg_seed\":1,\"objects\":[{\"name\":\"owl\",\"role\":\"bird\","
                      "\"x\":0.3,\"y\":0.3,\"w\":0.28,\"h\":0.38,\"flip\":0,\"hue\":0,\"sat\":1,\"val\":1e999}]}";
    CHECK(aspire_world_scene_from_json(&s, inf) == ASPIRE_ERR_FORMAT && strstr(aspire_errmsg(), "\"val\""));
    const char *big = "{\"background\":\"desert\",\"bg_seed\":1,\"objects\":[{\"name\":\"owl\",\"role\":\"bird\","
                      "\"x\":0.3,\"y\":0.3,\"w\":0.28,\"h\":0.38,\"flip\":0,\"hue\":0,\"sat\":1e38,\"val\":1}]}";
    CHECK(aspire_world_scene_from_json(&s, big) == ASPIRE_ERR_FORMAT && strstr(aspire_errmsg(), "jitter"));
}

/* Found by fuzz_captions (LeakSanitizer): a word with several spellings in WordNet ("t-shirt":
 * t-shirt, tshirt) leaked the entries of the spellings not used. Leaks show under `make asan`. */
static void test_wordnet_variants(void) {
    const char *classes[] = {"landbird", "waterbird"};
    aspire_extractor *ex = NULL;
    CHECK(aspire_extractor_new_wordnet(classes, 2, &ex) == ASPIRE_OK);
    aspire_extraction e = {0};
    CHECK(aspire_extractor_extract(ex, "a duck in a t-shirt next to a sail-boat and an x-ray", 1, &e) == ASPIRE_OK);
    CHECK(e.n_foreground >= 1);
    aspire_extraction_destroy(&e);
    aspire_extractor_free(ex);
}

/* ---- datasets and training (defects 1, 2, 4, 5, 6, 10, 11) ------------------------------------ */
static char tds[512];  /* a small dataset made once: 16 training, 8 validation, 8 test images */

static void make_tds(void) {
    snprintf(tds, sizeof tds, "%s", P("tds2"));
    int rc = aspire("world task --out '%s' --train 16 --val 8 --test 8 --size 16 --counterfactuals 0 --no-masks --quiet", tds);
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
}

/* A Waterbirds-layout folder `name` with its own copy of one image (a.png) and metadata.csv rows
 * for the train and val splits; `odd` is the img_filename of one more training row. */
static const char *odd_dataset(const char *name, const char *odd) {
    static char d[512];
    snprintf(d, sizeof d, "%s", P(name));
    aspire_mkdir_p(d);
    char src[700], dst[700], meta[2048], *img = NULL;
    size_t n = 0;
    snprintf(src, sizeof src, "%s/swan/000001.png", tds);
    if (aspire_read_file(src, &img, &n)) {  /* the image names differ by seed: take the first file listed */
        char *m = slurp(P("tds2/metadata.csv"));
        char *line = m ? strchr(m, '\n') : NULL, *f = line ? strchr(line + 1, ',') : NULL;
        char file[256] = "";
        if (f) sscanf(f + 1, "%255[^,]", file);
        snprintf(src, sizeof src, "%s/%s", tds, file);
        aspire_free(m, 0);
        aspire_read_file(src, &img, &n);
    }
    snprintf(dst, sizeof dst, "%s/a.png", d);
    CHECK(img && testdir_write(dst, img, n) == 0);
    aspire_free(img, n + 1);
    snprintf(meta, sizeof meta, "img_id,img_filename,y,split,place\n1,a.png,0,0,0\n2,a.png,1,0,1\n3,%s,1,0,0\n4,a.png,0,1,0\n5,a.png,1,1,1\n", odd);
    snprintf(dst, sizeof dst, "%s/metadata.csv", d);
    CHECK(testdir_write(dst, meta, strlen(meta)) == 0);
    return d;
}

/* Loading `d` fails (within the alarm: a FIFO used to block for ever) naming line 4 and `what`. */
static void load_refused(const char *d, int allow, const char *what) {
    aspire_dataset_options o = {.split = ASPIRE_SPLIT_TRAIN, .size = 8, .allow_outside_paths = allow};
    aspire_dataset *ds = NULL;
    alarm(20);
    int rc = aspire_dataset_load(&ds, d, &o);
    alarm(0);
    CHECK_MSG(rc != ASPIRE_OK && ds == NULL && strstr(aspire_errmsg(), "metadata.csv:4:") && strstr(aspire_errmsg(), what),
              "rc %d, want '%s', got: %s", rc, what, aspire_errmsg());
    aspire_dataset_free(ds);
}

static int load_ok(const char *d, int allow) {
    aspire_dataset_options o = {.split = ASPIRE_SPLIT_TRAIN, .size = 8, .allow_outside_paths = allow};
    aspire_dataset *ds = NULL;
    int rc = aspire_dataset_load(&ds, d, &o);
    int n = rc ? -1 : (int)aspire_dataset_count(ds);
    aspire_dataset_free(ds);
    return n;
}

/* Defect 1: a FIFO named in metadata.csv hung the loader; /dev/zero took all memory; absolute and
 * ../ paths and symbolic links read files outside the dataset folder. */
static void test_dataset_files(void) {
    char outside[700], link[700], fifo[700];
    snprintf(outside, sizeof outside, "%s/a.png", odd_dataset("dsx", "a.png"));
    CHECK(load_ok(P("dsx"), 0) == 3);
    const char *d = odd_dataset("dsf", "f.png");
    snprintf(fifo, sizeof fifo, "%s/f.png", d);
    CHECK(mkfifo(fifo, 0600) == 0);
    load_refused(d, 0, "is a FIFO, not an image file");
    load_refused(d, 1, "is a FIFO");  /* also where outside paths are allowed */
    aspire_dataset_index *ix = NULL;  /* one image at a time (for stages that read them so) */
    CHECK(aspire_dataset_index_open(&ix, d, NULL) == ASPIRE_OK);
    aspire_image im;
    alarm(20);
    CHECK(ix && aspire_dataset_index_load_image(ix, 2, 3, 0, &im) == ASPIRE_ERR_FORMAT && strstr(aspire_errmsg(), "metadata.csv:4:") &&
          strstr(aspire_errmsg(), "FIFO"));
    alarm(0);
    CHECK(ix && aspire_dataset_index_load_image(ix, 0, 3, 0, &im) == ASPIRE_OK && im.w > 0);
    aspire_image_destroy(&im);
    aspire_dataset_index_free(ix);
    load_refused(odd_dataset("dsz", "/dev/zero"), 0, "'/dev/zero' is an absolute path");
    load_refused(odd_dataset("dsz", "/dev/zero"), 1, "a character device");
    load_refused(odd_dataset("dsa", outside), 0, "is an absolute path; images must be inside the dataset folder");
    CHECK(load_ok(P("dsa"), 1) == 3);
    load_refused(odd_dataset("dsd", "../dsx/a.png"), 0, "'../dsx/a.png' leaves the dataset folder");
    CHECK(load_ok(P("dsd"), 1) == 3);
    d = odd_dataset("dsl", "l.png");
    snprintf(link, sizeof link, "%s/l.png", d);
    CHECK(symlink(outside, link) == 0);
    load_refused(d, 0, "outside the dataset folder");
    CHECK(load_ok(d, 1) == 3);
    d = odd_dataset("dsi", "sub/l.png");  /* a link that stays inside is fine */
    snprintf(link, sizeof link, "%s/sub", d);
    aspire_mkdir_p(link);
    snprintf(link, sizeof link, "%s/sub/l.png", d);
    CHECK(symlink("../a.png", link) == 0);
    CHECK(load_ok(d, 0) == 3);
    /* the program: one line naming the row; --allow-outside-paths or the environment lets it read */
    d = odd_dataset("dsa", outside);
    int rc = aspire("train --data '%s' --out '%s' --size 8 --batch 2 --epochs 1 --quiet --threads 1", d, P("ra"));
    FAILS(rc, 1, "dsa/metadata.csv:4: column 'img_filename'");
    rc = aspire("train --data '%s' --out '%s' --size 8 --batch 2 --epochs 1 --quiet --threads 1 --allow-outside-paths", d, P("ra"));
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
    rc = aspire("eval --run '%s' --split val --quiet --threads 1", P("ra"));  /* the run remembers the choice */
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
    rc = aspire("train --data '%s' --out '%s' --size 8 --batch 2 --epochs 1 --quiet --threads 1", P("dsf"), P("rf"));
    FAILS(rc, 1, "is a FIFO");
    char env[700];
    snprintf(env, sizeof env, "ASPIRE_ALLOW_OUTSIDE_PATHS=1 '%s'", ASPIRE_BIN);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s train --data '%s' --out '%s' --size 8 --batch 2 --epochs 1 --quiet --threads 1 >/dev/null 2>&1", env,
             P("dsd"), P("rd"));
    CHECK(system(cmd) == 0);
}

/* Defect 2: --lr inf (and --wd, --momentum) ran to a "successful" run full of NaN. */
static void test_train_options(void) {
    const char *bad[][2] = {{"--lr inf", "--lr must be a finite number in (0, 10], got inf"},
                            {"--lr nan", "--lr must be a finite number"},
                            {"--lr 0", "--lr must be"},
                            {"--wd inf", "--wd must be a finite number in [0, 1], got inf"},
                            {"--momentum inf", "--momentum must be a finite number in [0, 1)"},
                            {"--momentum -0.5", "--momentum must be"},
                            {"--epochs 0", "--epochs must be a whole number from 1 to 1000, got 0"},
                            {"--batch 0", "--batch must be"},
                            {"--size 4", "--size must be a whole number from 8 to 1024"},
                            {"--method jtt --jtt-up inf", "--jtt-up must be"},
                            {"--method lff --lff-q 0", "--lff-q must be"},
                            {"--method groupdro --dro-eta nan", "--dro-eta must be"},
                            {"--dro-adj -1", "--dro-adj must be"},
                            {"--limit-train -5", "--limit-train must be"},
                            {"--stop-after -1", "--stop-after must be"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = aspire("train --data '%s' --out '%s' %s --quiet", tds, P("rbad"), bad[i][0]);
        FAILS(rc, 1, bad[i][1]);
    }
    CHECK(!aspire_file_exists(P("rbad")));
    /* legal but wild options that make the weights NaN within the first epoch: an error, no model */
    int rc = aspire("train --data '%s' --out '%s' --size 16 --epochs 5 --lr 10 --momentum 0.99 --wd 1 --batch 1 --threads 1 --quiet",
                    tds, P("rdiv"));
    FAILS(rc, 1, "diverged");
    CHECK(err_s && strstr(err_s, "try a smaller --lr"));
    CHECK(!aspire_file_exists(P("rdiv/best.safetensors")) && !aspire_file_exists(P("rdiv/checkpoint.safetensors")) &&
          !aspire_train_finished(P("rdiv")));
}

/* Rewrites a safetensors file with __metadata__[key] = value (key NULL: none) and, if nan, the
 * first float of tensor `nan` set to NaN. */
static void patch_checkpoint(const char *path, const char *key, const char *value, const char *nan) {
    char *buf = NULL;
    size_t n = 0;
    CHECK(aspire_read_file(path, &buf, &n) == 0 && n > 8);
    if (!buf) return;
    uint64_t hl = 0;
    memcpy(&hl, buf, 8);
    cJSON *h = cJSON_ParseWithLength(buf + 8, (size_t)hl);
    CHECK(h != NULL);
    cJSON *meta = cJSON_GetObjectItem(h, "__metadata__");
    if (key) {
        cJSON_DeleteItemFromObject(meta, key);
        cJSON_AddStringToObject(meta, key, value);
    }
    if (nan) {
        cJSON *t = cJSON_GetObjectItem(h, nan);
        CHECK(t != NULL);
        int64_t off = t ? (int64_t)cJSON_GetArrayItem(cJSON_GetObjectItem(t, "data_offsets"), 0)->valuedouble : 0;
        float v = NAN;
        memcpy(buf + 8 + hl + off, &v, 4);
    }
    char *txt = cJSON_PrintUnformatted(h);
    uint64_t nl = strlen(txt);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(&nl, 8, 1, f) == 1 && fwrite(txt, 1, nl, f) == nl && fwrite(buf + 8 + hl, 1, n - 8 - hl, f) == n - 8 - hl);
    if (f) fclose(f);
    cJSON_free(txt);
    cJSON_Delete(h);
    aspire_free(buf, n + 1);
}

/* Sets train.json's config field to a JSON value, as text (1e999 stays 1e999). */
static void patch_train_json(const char *run, const char *field, const char *json) {
    char path[700], key[64], out[65536];
    snprintf(path, sizeof path, "%s/train.json", run);
    snprintf(key, sizeof key, "\"%s\":\t", field);
    char *t = slurp(path), *at = t ? strstr(t, key) : NULL;
    CHECK(at != NULL);
    if (!at) { aspire_free(t, 0); return; }
    char *v = at + strlen(key), *end = v + strcspn(v, ",\n");
    int n = snprintf(out, sizeof out, "%.*s%s%s", (int)(v - t), t, json, end);
    CHECK(n > 0 && (size_t)n < sizeof out && testdir_write(path, out, (size_t)n) == 0);
    aspire_free(t, 0);
}

/* Defect 5: train.json and the checkpoint's metadata were trusted (image_size 0 aborted eval;
 * next_epoch 999 marked a run finished, NaN or -2e9 trained for ever, abc restarted silently). */
static void test_run_files_checked(void) {
    char run[512], ck[700], cp[700];
    snprintf(run, sizeof run, "%s", P("r5"));
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", run);
    snprintf(cp, sizeof cp, "%s/good.safetensors", P(""));
    int rc = aspire("train --data '%s' --out '%s' --size 16 --batch 8 --epochs 3 --stop-after 1 --quiet --threads 1", tds, run);
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
    char *good = NULL;
    size_t gn = 0;
    CHECK(aspire_read_file(ck, &good, &gn) == 0);
    const char *bad[][2] = {{"999", "'999'"}, {"nan", "'nan'"}, {"-2e9", "'-2e9'"}, {"1e300", "'1e300'"}, {"abc", "'abc'"}, {"1.5", "'1.5'"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(testdir_write(ck, good, gn) == 0);
        patch_checkpoint(ck, "next_epoch", bad[i][0], NULL);
        rc = aspire("train --out '%s' --resume --quiet --threads 1", run);
        FAILS(rc, 1, "checkpoint.safetensors: metadata 'next_epoch' is ");
        CHECK(err_s && strstr(err_s, bad[i][1]));
    }
    CHECK(testdir_write(ck, good, gn) == 0);
    patch_checkpoint(ck, "stage", "2", NULL);
    rc = aspire("train --out '%s' --resume --quiet --threads 1", run);
    FAILS(rc, 1, "metadata 'stage'");
    /* a NaN weight: stops the run naming the file and the weight (also a NaN --init file) */
    CHECK(testdir_write(ck, good, gn) == 0);
    patch_checkpoint(ck, NULL, NULL, "model.fc.weight");
    rc = aspire("train --out '%s' --resume --quiet --threads 1", run);
    FAILS(rc, 1, "checkpoint.safetensors: weight 'fc.weight' is nan (not finite)");
    CHECK(testdir_write(ck, good, gn) == 0);
    aspire_free(good, gn + 1);
    /* train.json read back as strictly as the command line */
    const char *fields[][3] = {{"image_size", "0", "config field 'image_size' must be a whole number from 8 to 1024, found 0"},
                               {"image_size", "4096", "'image_size' must be"},
                               {"image_size", "7", "'image_size' must be"},
                               {"lr", "null", "config field 'lr' is missing or not a number"},
                               {"lr", "1e999", "config field 'lr' is not a finite number"},
                               {"epochs", "-3", "'epochs' must be"},
                               {"momentum", "1", "'momentum' must be"},
                               {"limit_train", "-1", "'limit_train'"},
                               {"limit_train", "1e90", "'limit_train'"}};  /* found by fuzz_train_json: UB */
    char *tj = NULL;
    size_t tn = 0;
    char tjp[700];
    snprintf(tjp, sizeof tjp, "%s/train.json", run);
    CHECK(aspire_read_file(tjp, &tj, &tn) == 0);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        patch_train_json(run, fields[i][0], fields[i][1]);
        rc = aspire("eval --run '%s' --split val --quiet --threads 1", run);
        FAILS(rc, 1, fields[i][2]);
        CHECK(err_s && strstr(err_s, "r5/train.json"));
        rc = aspire("train --out '%s' --resume --quiet --threads 1", run);
        FAILS(rc, 1, fields[i][2]);
        CHECK(testdir_write(tjp, tj, tn) == 0);
    }
    aspire_free(tj, tn + 1);
    /* the selected model's own metadata, as aspire eval reads it */
    char bp[700], *best = NULL;
    size_t bn = 0;
    snprintf(bp, sizeof bp, "%s/best.safetensors", run);
    CHECK(aspire_read_file(bp, &best, &bn) == 0);
    const char *sizes[] = {"0", "4", "4096", "99999999999"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        patch_checkpoint(bp, "image_size", sizes[i], NULL);
        rc = aspire("eval --run '%s' --split val --quiet --threads 1", run);
        FAILS(rc, 1, "best.safetensors: metadata ");
        CHECK(testdir_write(bp, best, bn) == 0);
    }
    aspire_free(best, bn + 1);
    rc = aspire("eval --run '%s' --split val --quiet --threads 1", run);
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
    rc = aspire("train --out '%s' --resume --quiet --threads 1", run);  /* the untouched files still resume */
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
}

/* Defect 4: a run that failed before finishing an epoch blocked its folder ("already holds a
 * run") and --resume reused its bad config. Defect 11: --resume ignored options silently. */
static void test_restart_and_resume_options(void) {
    char run[512];
    snprintf(run, sizeof run, "%s", P("r4"));
    int rc = aspire("train --data '%s' --out '%s' --size 16 --batch 64 --epochs 1 --quiet --threads 1", tds, run);
    FAILS(rc, 1, "16 training images are fewer than one batch of 64");
    rc = aspire("train --out '%s' --resume --threads 1", run);  /* no --data: train.json's options, said so */
    CHECK(rc == 1 && err_s && strstr(err_s, "no epoch of this run finished; starting it again with the options of its train.json") &&
          strstr(err_s, "fewer than one batch of 64"));
    rc = aspire("train --data '%s' --out '%s' --size 16 --batch 8 --epochs 2 --stop-after 1 --threads 1", tds, run);
    CHECK_MSG(rc == 0 && strstr(err_s, "starting again with the options given"), "%s", err_s ? err_s : "");
    char *tj = slurp(P("r4/train.json"));
    CHECK(tj && strstr(tj, "\"batch\":\t8"));
    aspire_free(tj, 0);
    /* now an epoch has finished: a new run there is refused, --resume with other options too */
    rc = aspire("train --data '%s' --out '%s' --size 16 --batch 8 --epochs 1 --quiet --threads 1", tds, run);
    FAILS(rc, 1, "already holds a run");
    rc = aspire("train --data '%s' --out '%s' --size 16 --batch 8 --epochs 5 --resume --quiet --threads 1", tds, run);
    FAILS(rc, 1, "--resume: --epochs 5 differs from the run's 2");
    rc = aspire("train --out '%s' --lr 0.1 --resume --quiet --threads 1", run);
    FAILS(rc, 1, "--resume: --lr 0.1 differs from the run's 0.05");
    rc = aspire("train --out '%s' --method jtt --resume --quiet --threads 1", run);
    FAILS(rc, 1, "--resume: --method jtt differs from the run's erm");
    rc = aspire("train --out '%s' --data '%s' --resume --quiet --threads 1", run, P("dsx"));
    FAILS(rc, 1, "--resume: --data");
    /* a value with 17 significant digits is stored exactly (found by fuzz_train_json: cJSON dropped the
     * last bit), so repeating it resumes and the recorded command repeats it */
    char r17[512];
    snprintf(r17, sizeof r17, "%s", P("r17"));
    rc = aspire("train --data '%s' --out '%s' --size 16 --batch 8 --epochs 2 --stop-after 1 --momentum 0.91111111111111109 --quiet "
                "--threads 1", tds, r17);
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
    tj = slurp(P("r17/train.json"));
    CHECK(tj && strstr(tj, "--momentum 0.9111111111111111 ") && strstr(tj, "\"momentum\":\t0.9111111111111111,"));
    aspire_free(tj, 0);
    rc = aspire("train --data '%s' --out '%s' --size 16 --batch 8 --epochs 2 --momentum 0.91111111111111109 --resume --quiet --threads 1",
                tds, r17);
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
    /* the same options (the command that started it, repeated) resume */
    rc = aspire("train --data '%s/' --out '%s' --size 16 --batch 8 --epochs 2 --resume --quiet --threads 1", tds, run);
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
}

/* Defect 6: the dataset path was stored relative to where training ran, so `eval --run` from
 * elsewhere read another dataset; a changed metadata.csv went unnoticed. */
static void test_dataset_identity(void) {
    char cmd[3072];
    int rc = aspire("world task --out '%s' --train 16 --val 8 --test 8 --size 16 --counterfactuals 0 --no-masks --quiet --seed 3",
                    P("rel/ds"));
    CHECK(rc == 0);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' train --data ds --out run --size 16 --batch 8 --epochs 1 --quiet --threads 1 2>'%s'",
             P("rel"), ASPIRE_BIN, err_txt);
    CHECK(system(cmd) == 0);
    char *tj = slurp(P("rel/run/train.json"));
    char want[700];
    snprintf(want, sizeof want, "\"data_dir\":\t\"%s\"", P("rel/ds"));
    CHECK_MSG(tj && strstr(tj, want) && strstr(tj, "\"data_fingerprint\":\t\"fnv1a64:"), "%s", tj ? tj : "");
    aspire_free(tj, 0);
    rc = aspire("eval --run '%s' --quiet --threads 1", P("rel/run"));  /* from another folder: the same dataset */
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
    /* a changed metadata.csv: eval of the run's own dataset is refused, --data evaluates it anyway */
    char *m = slurp(P("rel/ds/metadata.csv"));
    CHECK(m != NULL);
    if (!m) return;
    char *last = strrchr(m, '\n');
    *last = 0;
    last = strrchr(m, '\n');
    last[1] = 0;  /* drop the last row */
    CHECK(testdir_write(P("rel/ds/metadata.csv"), m, strlen(m)) == 0);
    aspire_free(m, 0);
    rc = aspire("eval --run '%s' --quiet --threads 1", P("rel/run"));
    FAILS(rc, 1, "rel/ds/metadata.csv changed since the run in");
    CHECK(strstr(err_s, "--data"));
    rc = aspire("eval --run '%s' --data '%s' --quiet --threads 1", P("rel/run"), P("rel/ds"));
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
}

/* The extra images are part of a run's identity too: --resume with a changed --extra
 * metadata.csv is refused, naming the file; with it restored the run goes on. */
static void test_extra_identity(void) {
    char cmd[8192], ex[600];
    snprintf(ex, sizeof ex, "%s", P("rel/ex"));
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/0' '%s/1' && f='%s'/$(sed -n 2p '%s' | cut -d, -f2) && cp \"$f\" '%s/0/a.png' && "
             "cp \"$f\" '%s/1/b.png' && cp \"$f\" '%s/1/c.png'", ex, ex, P("rel/ds"), P("rel/ds/metadata.csv"), ex, ex, ex);
    CHECK(system(cmd) == 0);
    static const char full[] = "img_filename,y\n0/a.png,0\n1/b.png,1\n1/c.png,1\n", less[] = "img_filename,y\n0/a.png,0\n1/b.png,1\n";
    char meta[700];
    snprintf(meta, sizeof meta, "%s/metadata.csv", ex);
    CHECK(testdir_write(meta, full, strlen(full)) == 0);
    int rc = aspire("train --data '%s' --extra '%s' --out '%s' --size 16 --batch 8 --epochs 2 --stop-after 1 --quiet --threads 1",
                    P("rel/ds"), ex, P("rel/rx"));
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
    char *tj = slurp(P("rel/rx/train.json"));
    CHECK(tj && strstr(tj, "\"extra_fingerprint\":\t\"fnv1a64:"));
    aspire_free(tj, 0);
    CHECK(testdir_write(meta, less, strlen(less)) == 0);
    rc = aspire("train --out '%s' --resume --quiet --threads 1", P("rel/rx"));
    FAILS(rc, 1, "rel/ex/metadata.csv changed since the run in");
    CHECK(testdir_write(meta, full, strlen(full)) == 0);
    rc = aspire("train --out '%s' --resume --quiet --threads 1", P("rel/rx"));
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
}

/* Defect 10: one y = 7 made 8 classes and 16 groups; eval then blamed the weights file. */
static void test_label_typo(void) {
    const char *d = odd_dataset("dsy", "a.png");
    char meta[1024], path[700];
    snprintf(meta, sizeof meta, "img_id,img_filename,y,split,place\n1,a.png,0,0,0\n2,a.png,1,0,1\n3,a.png,7,0,0\n4,a.png,0,1,0\n");
    snprintf(path, sizeof path, "%s/metadata.csv", d);
    CHECK(testdir_write(path, meta, strlen(meta)) == 0);
    int rc = aspire("train --data '%s' --out '%s' --size 8 --batch 2 --epochs 1 --quiet", d, P("ry"));
    FAILS(rc, 1, "dsy/metadata.csv:4: column 'y': label 7 leaves class 2 without any image");
}

/* kill -9 at any point of `aspire train` (the delays fall before, inside and between epochs, on
 * either side of a checkpoint's rename), then `--resume` with the same command: the selected model
 * is the uninterrupted run's, byte for byte. */
static void test_train_killed_and_resumed(void) {
    char run[512], ref_run[512], best[700];
    snprintf(ref_run, sizeof ref_run, "%s", P("rk_ref"));
    const char *opts = "--size 16 --batch 4 --epochs 4 --threads 1 --quiet";
    int rc = aspire("train --data '%s' --out '%s' %s", tds, ref_run, opts);
    CHECK_MSG(rc == 0, "%s", err_s ? err_s : "");
    snprintf(best, sizeof best, "%s/best.safetensors", ref_run);
    size_t ref_n = 0;
    char *ref = NULL;
    CHECK(aspire_read_file(best, &ref, &ref_n) == 0);
    const int delays_ms[] = {5, 60, 200, 450, 700, 1000};
    for (size_t i = 0; i < sizeof delays_ms / sizeof delays_ms[0]; i++) {
        snprintf(run, sizeof run, "%s/rk%zu", dir, i);
        char *argv[] = {"aspire", "train", "--data", tds, "--out", run, "--size", "16", "--batch", "4", "--epochs", "4",
                        "--threads", "1", "--quiet", NULL};
        pid_t a = spawn(argv);
        sleep_ms(delays_ms[i]);
        kill_and_reap(a);
        rc = aspire("train --data '%s' --out '%s' %s --resume", tds, run, opts);
        CHECK_MSG(rc == 0, "killed after %d ms: %s", delays_ms[i], err_s ? err_s : "");
        snprintf(best, sizeof best, "%s/best.safetensors", run);
        char *got = NULL;
        size_t n = 0;
        CHECK_MSG(aspire_read_file(best, &got, &n) == 0 && n == ref_n && memcmp(got, ref, n) == 0,
                  "killed after %d ms: another model", delays_ms[i]);
        CHECK(entries_with(run, ".tmp.") == 0);
        aspire_free(got, n + 1);
    }
    aspire_free(ref, ref_n + 1);
}

int main(void) {
    testdir_make(dir, sizeof dir);
    snprintf(out_txt, sizeof out_txt, "%s/.out", dir);
    snprintf(err_txt, sizeof err_txt, "%s/.err", dir);
    RUN(test_box_of_object_outside);
    RUN(test_wordnet_variants);
    RUN(test_help_on_stdout);
    RUN(test_negative_numbers);
    RUN(test_preview_options);
    RUN(test_symlink_loop);
    RUN(test_world_task_refuses_and_replaces);
    RUN(test_world_task_full_disk);
    RUN(test_world_task_killed);
    RUN(test_pretrain_captioner_leftovers);
    RUN(test_train_lock);
    make_tds();
    RUN(test_dataset_files);
    RUN(test_train_options);
    RUN(test_run_files_checked);
    RUN(test_restart_and_resume_options);
    RUN(test_dataset_identity);
    RUN(test_extra_identity);
    RUN(test_label_typo);
    RUN(test_train_killed_and_resumed);
    aspire_free(out_s, 0);
    aspire_free(err_s, 0);
    testdir_remove(dir);
    return TEST_REPORT();
}
