/* test_cli.c — the `aspire` program on bad input: unknown commands and options, missing and
 * malformed values, missing or unwritable paths, malformed metadata.csv and captions.csv. Each
 * failure must exit non-zero with one line on stderr naming the culprit (the file and line, or
 * the option), and leave what was there before as it was, with no temporary files behind.
 * (The extractor's own bad input and its successful runs are in test_extract.c; the world's
 * images in test_world.c.) Runs the built program, ASPIRE_BIN, through the shell. */
#include "aspire/fileio.h"

#include "test.h"
#include "testdir.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char dir[256];
static char out_txt[320], err_txt[320];

/* dir/name, in one of four rotating buffers (copy it to keep it) */
static const char *P(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    if (s && n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = 0;
    fclose(f);
    return s;
}

static void put(const char *name, const char *text) { CHECK(testdir_write(P(name), text, strlen(text)) == 0); }

static int count_char(const char *s, char c) {
    int n = 0;
    for (; s && *s; s++) n += *s == c;
    return n;
}

static char *last_err; /* stderr of the last run */

/* Runs `aspire ARGS` (ARGS a printf format; the caller quotes paths) with stdout and stderr in
 * files; returns the exit code (-1 if it did not exit normally). */
static int aspire(const char *fmt, ...) {
    char args[2048], cmd[3072];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s' </dev/null", ASPIRE_BIN, args, out_txt, err_txt);
    int st = system(cmd);
    free(last_err);
    last_err = slurp(err_txt);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The last run failed with `code` and exactly one line on stderr holding `a` (and `b`). */
#define FAILS(code, a, b)                                                                              \
    CHECK_MSG(rc == (code) && last_err && count_char(last_err, '\n') == 1 && strstr(last_err, a) &&    \
                  (!(b) || strstr(last_err, (b) ? (b) : "")),                                           \
              "rc %d (want %d), want one line with '%s'%s%s, got:\n%s", rc, code, a, (b) ? " and " : "", \
              (b) ? (b) : "", last_err ? last_err : "(none)")

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Regular files under a folder (recursively); -1 if it cannot be read. */
static int nfiles;
static int count_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)path; (void)ftw;
    if (flag == FTW_F && S_ISREG(sb->st_mode)) nfiles++;
    return 0;
}
static int count_files(const char *root) {
    nfiles = 0;
    return nftw(root, count_cb, 16, FTW_PHYS) == 0 ? nfiles : -1;
}

/* No ".name.tmp.pid.n" left by an atomic write in the test folder. */
static int temporaries(void) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void test_commands_and_options(void) {
    int rc = aspire("");
    CHECK(rc == 2);
    char *usage = slurp(out_txt);
    CHECK_MSG(usage && strstr(usage, "usage: aspire COMMAND") && strstr(usage, "world") && strstr(usage, "extract"),
              "%s", usage ? usage : "");
    free(usage);
    CHECK(aspire("help") == 0);
    CHECK(aspire("--help") == 0);
    rc = aspire("bogus");
    FAILS(2, "unknown command 'bogus'", NULL);
    rc = aspire("help bogus");
    FAILS(2, "no command 'bogus'", NULL);
    rc = aspire("help extract");  /* usage asked for is output: stdout */
    char *help = slurp(out_txt);
    CHECK(rc == 0 && help && strstr(help, "--captions"));
    free(help);
    rc = aspire("version");
    char *v = slurp(out_txt);
    CHECK_MSG(rc == 0 && v && strncmp(v, "aspire ", 7) == 0, "%s", v ? v : "");
    free(v);

    /* a result that cannot be written is a failure */
    int st = system("'" ASPIRE_BIN "' extract --text 'a duck on a lake' >/dev/full 2>/dev/null");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);

    rc = aspire("version --bogus");
    FAILS(2, "unknown option '--bogus'", NULL);
    rc = aspire("version extra");
    FAILS(2, "unexpected argument 'extra'", NULL);
    rc = aspire("world task --out");
    FAILS(2, "--out needs a value", NULL);
    /* a tiny dataset in the test folder, should the option be taken after all */
    char x[600];
    snprintf(x, sizeof x, "--out '%s' --train 2 --val 0 --test 0 --size 16 --counterfactuals 0 --quiet", P("x"));
    rc = aspire("world task %s --seed abc", x);
    FAILS(2, "--seed expects a number", "'abc'");
    rc = aspire("world task %s --seed=", x);
    FAILS(2, "--seed expects a number", "''");
    rc = aspire("world task %s --size 12x", x);
    FAILS(2, "--size expects a number", "'12x'");
    rc = aspire("world task %s --size 99999999999", x);
    FAILS(2, "--size expects a number", NULL);
    rc = aspire("world task %s --quiet=1", x);
    FAILS(2, "--quiet takes no value", NULL);
    rc = aspire("extract --text 'a duck' --class ''");
    FAILS(2, "--class expects a number", NULL);
    CHECK(!exists(P("x"))); /* nothing was written for a usage error */
}

static void test_world(void) {
    put("afile", "not a folder\n");
    const char *small = "--train 4 --val 2 --test 2 --size 16 --counterfactuals 0 --no-masks --quiet";

    int rc = aspire("world");
    CHECK(rc == 2 && last_err && strstr(last_err, "usage: aspire world SUBCOMMAND"));
    rc = aspire("world bogus");
    CHECK(rc == 2 && last_err && strstr(last_err, "unknown subcommand 'bogus'"));
    rc = aspire("world task %s", small);
    FAILS(2, "--out is required", NULL);

    /* an output below a plain file */
    rc = aspire("world task --out '%s' %s", P("afile/ds"), small);
    FAILS(1, "afile", "not a folder");
    rc = aspire("world corpus --out '%s' --pretrain 2 --test 0 --size 16 --counterfactuals 0 --quiet", P("afile/c"));
    FAILS(1, "afile", "not a folder");
    rc = aspire("world preview --out '%s' --size 16 --cols 1", P("afile/p.png"));
    FAILS(1, "afile/p.png", NULL);
    rc = aspire("world preview --out '%s' --size 16 --cols 1", P("no/such/folder/p.png"));
    FAILS(1, "no/such/folder/p.png", NULL);
    char *f = slurp(P("afile"));
    CHECK(f && strcmp(f, "not a folder\n") == 0);
    free(f);

    /* values out of range are refused before anything is written */
    rc = aspire("world task --out '%s' %s --size 0", P("ds"), small);
    FAILS(1, "aspire world task: image size 0", NULL);
    CHECK(strstr(last_err, "world task: world task") == NULL); /* the command's name once */
    rc = aspire("world task --out '%s' %s --rho-bg 1.5", P("ds"), small);
    FAILS(1, "rho_bg", NULL);
    rc = aspire("world task --out '%s' %s --spurious bogus", P("ds"), small);
    FAILS(1, "'bogus'", NULL);
    rc = aspire("world task --out '%s' %s --font '%s'", P("ds"), small, P("afile"));
    FAILS(1, "afile", "font");
    CHECK(!exists(P("ds")) && !exists(P("ds_truth")));

    /* a good dataset, then failures over it: it is left as it was */
    rc = aspire("world task --out '%s' %s", P("ds"), small);
    CHECK_MSG(rc == 0, "%s", last_err ? last_err : "");
    char *meta = slurp(P("ds/metadata.csv"));
    CHECK(meta && count_char(meta, '\n') == 9);
    int files = count_files(P("ds"));
    CHECK(files == 9); /* metadata.csv and 8 images */
    rc = aspire("world task --out '%s' %s --font '%s'", P("ds"), small, P("afile"));
    FAILS(1, "font", NULL);
    rc = aspire("world task --out '%s' %s --size 7", P("ds"), small);
    FAILS(1, "size", NULL);
    char *meta2 = slurp(P("ds/metadata.csv"));
    CHECK(meta && meta2 && strcmp(meta, meta2) == 0);
    CHECK(count_files(P("ds")) == files);
    free(meta);
    free(meta2);

    /* a second run over the dataset is refused without --force; a forced run that fails keeps the
     * older dataset whole (the new one is built beside it and renamed into place only at the end) */
    rc = aspire("world task --out '%s' %s --seed 1 --train 5", P("ds"), small);
    FAILS(1, "not empty", "--force");
    rc = aspire("world task --out '%s' --truth '%s' %s --seed 1 --train 5 --force", P("ds"), P("afile/t"), small);
    FAILS(1, "afile", "not a folder");
    CHECK(exists(P("ds/metadata.csv")) && count_files(P("ds")) == files);

    /* a truth folder that cannot be made: no dataset appears, not even its empty species folders */
    rc = aspire("world task --out '%s' --truth '%s' %s", P("ds2"), P("afile"), small);
    FAILS(1, "afile", "not a folder");
    CHECK(!exists(P("ds2")));

    /* a preview over an existing file: a failure keeps the old one */
    put("p.png", "old");
    rc = aspire("world preview --out '%s' --size 0", P("p.png"));
    FAILS(1, "size", NULL);
    f = slurp(P("p.png"));
    CHECK(f && strcmp(f, "old") == 0);
    free(f);
    rc = aspire("world preview --out '%s'", dir); /* the output names a folder */
    FAILS(1, dir, "folder");
    CHECK(temporaries() == 0);
}

static void test_extract(void) {
    CHECK(mkdir(P("data"), 0777) == 0 && mkdir(P("m"), 0777) == 0);
    put("data/metadata.csv", "img_id,img_filename,y\n1,a/1.png,0\n2,b/2.png,1\n");
    put("caps.csv", "path,caption\na/1.png,an owl in a forest\nb/2.png,a duck on a lake\n");
    char out[512];
    snprintf(out, sizeof out, "%s", P("out.jsonl"));
    int rc = aspire("extract --quiet --captions '%s' --data '%s' --out '%s'", P("caps.csv"), P("data"), out);
    CHECK_MSG(rc == 0, "%s", last_err ? last_err : "");
    char *good = slurp(out);
    CHECK(good && count_char(good, '\n') == 2);

#define EXTRACT(caps, data, o) \
    aspire("extract --quiet --captions '%s' --data '%s' --out '%s'", P(caps), P(data), o)
    /* usage */
    rc = aspire("extract --captions '%s' --data '%s'", P("caps.csv"), P("data"));
    FAILS(2, "--out", NULL);
    rc = aspire("extract --quiet --captions '%s' --data '%s' --out '%s' --classes 'a,,b'", P("caps.csv"), P("data"), out);
    FAILS(2, "--classes", NULL);
    rc = aspire("extract --text 'a duck' --class 2");
    FAILS(2, "--class 2 out of range", NULL);

    /* missing inputs, unwritable outputs */
    rc = EXTRACT("nope.csv", "data", out);
    FAILS(1, "nope.csv", NULL);
    rc = EXTRACT("caps.csv", "nodata", out);
    FAILS(1, "nodata/metadata.csv", NULL);
    rc = EXTRACT("caps.csv", "data", P("afile/out.jsonl"));
    FAILS(1, "afile/out.jsonl", NULL);
    rc = EXTRACT("caps.csv", "data", P("no/such/out.jsonl"));
    FAILS(1, "no/such/out.jsonl", NULL);
    rc = EXTRACT("caps.csv", "data", P("data"));
    FAILS(1, "data", "folder");

    /* malformed captions.csv */
    put("bad.csv", "");
    rc = EXTRACT("bad.csv", "data", out);
    FAILS(1, "bad.csv", "empty");
    put("bad.csv", "path,caption\na/1.png,\"an owl\nb/2.png,a duck\n");
    rc = EXTRACT("bad.csv", "data", out);
    FAILS(1, "bad.csv:", "never closed");
    put("bad.csv", "path,caption\na/1.png,an owl\nb/2.png,a duck,on a lake\n");
    rc = EXTRACT("bad.csv", "data", out);
    FAILS(1, "bad.csv:3", "fields");
    put("bad.csv", "path\na/1.png\n");
    rc = EXTRACT("bad.csv", "data", out);
    FAILS(1, "bad.csv:1", "'caption'");

    /* malformed metadata.csv */
    put("m/metadata.csv", "img_id,img_filename\n1,a/1.png\n");
    rc = EXTRACT("caps.csv", "m", out);
    FAILS(1, "m/metadata.csv:1", "'y'");
    put("m/metadata.csv", "img_id,img_filename,y\n1,a/1.png,0\n2,b/2.png,one\n");
    rc = EXTRACT("caps.csv", "m", out);
    FAILS(1, "m/metadata.csv:3", "'one'");
    put("m/metadata.csv", "img_id,img_filename,y\n1,a/1.png,0\n2,,1\n");
    rc = EXTRACT("caps.csv", "m", out);
    FAILS(1, "m/metadata.csv:3", "img_filename");
    put("m/metadata.csv", "img_id,img_filename,y\n1,a/1.png,0\n2,b/2.png,1\n3,a/1.png,1\n");
    rc = EXTRACT("caps.csv", "m", out);
    FAILS(1, "m/metadata.csv:4", "line 2");
    put("m/metadata.csv", "img_id,img_filename,y\n1,a/1.png,0\n");
    rc = EXTRACT("caps.csv", "m", out);
    FAILS(1, "caps.csv:3", "b/2.png");
#undef EXTRACT

    /* every failure left the first output as it was, and no temporary file */
    char *after = slurp(out);
    CHECK_MSG(good && after && strcmp(good, after) == 0, "before:\n%safter:\n%s", good ? good : "", after ? after : "");
    free(good);
    free(after);
    CHECK(temporaries() == 0);
}

int main(void) {
    testdir_make(dir, sizeof dir);
    snprintf(out_txt, sizeof out_txt, "%s/stdout.txt", dir);
    snprintf(err_txt, sizeof err_txt, "%s/stderr.txt", dir);
    RUN(test_commands_and_options);
    RUN(test_world);
    RUN(test_extract);
    free(last_err);
    testdir_remove(dir);
    return TEST_REPORT();
}
