/* test_reliability.c — the `aspire` program used carelessly or hostilely (issue 15's defects, each
 * fixed with a check here that failed before the fix): --help on stdout, negative --threads and
 * --seed refused, world preview refusing what world task refuses, a loop of symbolic links named
 * as such, world task/corpus never overwriting silently and never leaving half a dataset (an
 * error, a file-size limit standing in for a full disk, kill -9), and `pretrain captioner`
 * checking its options before making its corpus and removing that corpus on every exit path.
 * Runs the built program, ASPIRE_BIN. */
#include "aspire/extract.h"
#include "aspire/fileio.h"
#include "aspire/world.h"

#include "test.h"
#include "testdir.h"

#include <errno.h>
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
    aspire_free(out_s, 0);
    aspire_free(err_s, 0);
    testdir_remove(dir);
    return TEST_REPORT();
}
