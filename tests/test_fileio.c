/* test_fileio.c — atomic writes (commit, abort, failure keeps the old file, no temporary files
 * left behind), whole-file reads, mkdir -p and path joining. */
#include "aspire/fileio.h"
#include "test.h"
#include "testdir.h"

#include <string.h>
#include <sys/stat.h>

static char dir[256];

static char *P(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static int file_is(const char *path, const char *text) {
    char *b;
    size_t n;
    if (aspire_read_file(path, &b, &n) != ASPIRE_OK) return 0;
    int ok = n == strlen(text) && memcmp(b, text, n) == 0 && b[n] == 0;
    aspire_free(b, n + 1);
    return ok;
}

static void test_atomic_write_and_read(void) {
    CHECK(aspire_write_file_atomic(P("a.txt"), "hello", 5) == ASPIRE_OK);
    CHECK(file_is(P("a.txt"), "hello"));
    CHECK(aspire_write_file_atomic(P("a.txt"), "bye", 3) == ASPIRE_OK);
    CHECK(file_is(P("a.txt"), "bye"));
    CHECK(aspire_write_file_atomic(P("empty"), "", 0) == ASPIRE_OK);
    CHECK(file_is(P("empty"), ""));
    CHECK(testdir_count(dir) == 2); /* no temporary files left */
    /* relative path without a folder part */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(dir) == 0);
    CHECK(aspire_write_file_atomic("rel.txt", "r", 1) == ASPIRE_OK);
    CHECK(chdir(cwd) == 0);
    CHECK(file_is(P("rel.txt"), "r"));
    /* new files get ordinary permissions (umask applied), not mkstemp's 0600 */
    struct stat st;
    mode_t um = umask(022);
    umask(um);
    CHECK(stat(P("rel.txt"), &st) == 0 && (st.st_mode & 0777) == (0666 & ~um));
    /* a big file (crosses stdio buffers) */
    size_t big = 3u << 20;
    char *data = malloc(big);
    for (size_t i = 0; i < big; i++) data[i] = (char)(i * 31 + 7);
    CHECK(aspire_write_file_atomic(P("big.bin"), data, big) == ASPIRE_OK);
    char *back;
    size_t n;
    CHECK(aspire_read_file(P("big.bin"), &back, &n) == ASPIRE_OK);
    CHECK(n == big && memcmp(back, data, big) == 0);
    aspire_free(back, n + 1);
    free(data);
}

static void test_atomic_abort_keeps_old(void) {
    CHECK(aspire_write_file_atomic(P("keep.txt"), "old", 3) == ASPIRE_OK);
    int before = testdir_count(dir);
    aspire_atomic_file af;
    CHECK(aspire_atomic_open(&af, P("keep.txt")) == ASPIRE_OK);
    CHECK(af.fp != NULL && af.tmp_path != NULL);
    CHECK(testdir_count(dir) == before + 1); /* the temporary file sits beside the target */
    fputs("new contents half written", af.fp);
    aspire_atomic_abort(&af);
    CHECK(af.fp == NULL && af.path == NULL && af.tmp_path == NULL);
    CHECK(file_is(P("keep.txt"), "old"));
    CHECK(testdir_count(dir) == before);
    /* abort on a zeroed struct and on NULL is a no-op */
    aspire_atomic_file z;
    memset(&z, 0, sizeof z);
    aspire_atomic_abort(&z);
    aspire_atomic_abort(NULL);
    /* two writers at once get distinct temporary files; the last commit wins */
    aspire_atomic_file a1, a2;
    CHECK(aspire_atomic_open(&a1, P("keep.txt")) == ASPIRE_OK);
    CHECK(aspire_atomic_open(&a2, P("keep.txt")) == ASPIRE_OK);
    CHECK(strcmp(a1.tmp_path, a2.tmp_path) != 0);
    fputs("one", a1.fp);
    fputs("two", a2.fp);
    CHECK(aspire_atomic_commit(&a1) == ASPIRE_OK);
    CHECK(file_is(P("keep.txt"), "one"));
    CHECK(aspire_atomic_commit(&a2) == ASPIRE_OK);
    CHECK(file_is(P("keep.txt"), "two"));
    CHECK(testdir_count(dir) == before);
}

static void test_atomic_failures(void) {
    int before = testdir_count(dir);
    /* a write over a folder fails (at the open, before any work): the folder and its contents
     * survive, no temp remains */
    CHECK(aspire_mkdir_p(P("sub/inner")) == ASPIRE_OK);
    before = testdir_count(dir);
    int rc = aspire_write_file_atomic(P("sub"), "x", 1);
    CHECK(rc == ASPIRE_ERR_IO);
    CHECK_MSG(strstr(aspire_errmsg(), P("sub")) != NULL && strstr(aspire_errmsg(), "folder"), "%s", aspire_errmsg());
    aspire_atomic_file af0;
    CHECK(aspire_atomic_open(&af0, P("sub/inner")) == ASPIRE_ERR_IO);
    CHECK(af0.fp == NULL);
    CHECK(testdir_count(dir) == before);
    CHECK(testdir_count(P("sub")) == 1);
    /* the folder does not exist */
    rc = aspire_write_file_atomic(P("nope/x.txt"), "x", 1);
    CHECK(rc == ASPIRE_ERR_IO);
    CHECK_MSG(strstr(aspire_errmsg(), "nope/x.txt") != NULL, "%s", aspire_errmsg());
    /* a path that names a folder */
    CHECK(aspire_write_file_atomic(P("sub/"), "x", 1) == ASPIRE_ERR_ARG);
    CHECK(aspire_write_file_atomic("", "x", 1) == ASPIRE_ERR_ARG);
    /* a stream error before commit (reading from a write-only stream sets the error flag) */
    aspire_atomic_file af;
    CHECK(aspire_atomic_open(&af, P("err.txt")) == ASPIRE_OK);
    fputs("data", af.fp);
    (void)fgetc(af.fp);
    CHECK(aspire_atomic_commit(&af) == ASPIRE_ERR_IO);
    CHECK(!aspire_file_exists(P("err.txt")));
    CHECK(testdir_count(dir) == before);
}

static void test_nosync(void) {
    /* without fsync the write is still temporary-file-then-rename: visible only after commit */
    aspire_atomic_file af;
    CHECK(aspire_atomic_open_ex(&af, P("nosync.txt"), ASPIRE_ATOMIC_NOSYNC) == ASPIRE_OK);
    CHECK(af.flags == ASPIRE_ATOMIC_NOSYNC);
    fputs("fast", af.fp);
    CHECK(!aspire_file_exists(P("nosync.txt")));
    CHECK(aspire_atomic_commit(&af) == ASPIRE_OK);
    CHECK(file_is(P("nosync.txt"), "fast"));
    CHECK(aspire_sync_fs(dir) == ASPIRE_OK);
    CHECK(aspire_sync_fs(P("nope/none")) == ASPIRE_ERR_IO);
    CHECK(strstr(aspire_errmsg(), "nope/none") != NULL);
}

static void test_read_errors(void) {
    char *b = (char *)1;
    size_t n = 99;
    CHECK(aspire_read_file(P("missing.txt"), &b, &n) == ASPIRE_ERR_NOTFOUND);
    CHECK(b == NULL && n == 0);
    CHECK_MSG(strstr(aspire_errmsg(), "missing.txt") != NULL, "%s", aspire_errmsg());
    CHECK(aspire_read_file(dir, &b, &n) == ASPIRE_ERR_IO);
    CHECK_MSG(strstr(aspire_errmsg(), "folder") != NULL, "%s", aspire_errmsg());
}

static void test_mkdir_p(void) {
    CHECK(aspire_mkdir_p(P("m/a/b/c")) == ASPIRE_OK);
    CHECK(aspire_mkdir_p(P("m/a/b/c")) == ASPIRE_OK); /* existing is fine */
    CHECK(aspire_mkdir_p(P("m//x///y/")) == ASPIRE_OK);
    struct stat st;
    CHECK(stat(P("m/x/y"), &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(aspire_write_file_atomic(P("m/file"), "f", 1) == ASPIRE_OK);
    CHECK(aspire_mkdir_p(P("m/file/deeper")) == ASPIRE_ERR_IO);
    CHECK_MSG(strstr(aspire_errmsg(), "m/file") != NULL, "%s", aspire_errmsg());
    CHECK(aspire_file_exists(P("m/a/b")) == 1);
    CHECK(aspire_file_exists(P("m/zzz")) == 0);
}

static void test_path_join(void) {
    struct { const char *d, *n, *want; } cases[] = {
        {"data", "x.png", "data/x.png"}, {"data/", "x.png", "data/x.png"}, {"data//", "a/b", "data/a/b"},
        {"", "x", "x"}, {"/", "x", "/x"}, {"data", "/abs/x", "/abs/x"}, {".", "x", "./x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = aspire_path_join(cases[i].d, cases[i].n);
        CHECK_MSG(s && strcmp(s, cases[i].want) == 0, "join(%s, %s) = %s", cases[i].d, cases[i].n, s ? s : "NULL");
        aspire_strfree(s);
    }
    char *s = aspire_path_join(NULL, "y");
    CHECK(s && strcmp(s, "y") == 0);
    aspire_strfree(s);
}

/* Shipped model files: in the folder given, else models/ of the working folder when the file is
 * there, else the source tree's models/. */
static void test_model_path(void) {
    char buf[4096];
    CHECK(strcmp(aspire_model_path("/opt/m", "x.safetensors", buf, sizeof buf), "/opt/m/x.safetensors") == 0);
    const char *p = aspire_model_path(NULL, "no-such-model.safetensors", buf, sizeof buf);
    CHECK(p == buf && strstr(p, "models/no-such-model.safetensors") != NULL);
    CHECK(strcmp(aspire_model_path("", "y", buf, sizeof buf), "models/y") == 0 ||
          strstr(buf, "/models/y") != NULL);  /* "" is no folder */
}

int main(void) {
    testdir_make(dir, sizeof dir);
    RUN(test_atomic_write_and_read);
    RUN(test_atomic_abort_keeps_old);
    RUN(test_atomic_failures);
    RUN(test_nosync);
    RUN(test_read_errors);
    RUN(test_mkdir_p);
    RUN(test_path_join);
    RUN(test_model_path);
    testdir_remove(dir);
    return TEST_REPORT();
}
