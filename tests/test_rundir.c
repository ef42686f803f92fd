/* test_rundir.c — run-folder rules (include/aspire/rundir.h): the lock between two processes (and
 * its release when the holder dies), removal of a crash's temporary files, folders built in a
 * temporary sibling and renamed into place, and scratch folders removed after kill -9. */
#include "test.h"
#include "testdir.h"

#include "aspire/fileio.h"
#include "aspire/rundir.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[256];

static int exit_code(pid_t pid) {
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* In a child: 0 if the lock on dir is refused with a message naming dir and `holder`, 1 if it was
 * granted, 2 if refused with another message. */
static int child_try_lock(const char *dir, const char *holder) {
    pid_t pid = fork();
    if (pid == 0) {
        aspire_rundir_lock *l = NULL;
        int rc = aspire_rundir_lock_take(&l, dir, "second");
        if (rc == ASPIRE_OK) _exit(1);
        const char *m = aspire_errmsg();
        _exit(strstr(m, dir) && strstr(m, holder) && strstr(m, "in use") ? 0 : 2);
    }
    return exit_code(pid);
}

static void test_lock_two_processes(void) {
    char dir[300], holder[64];
    snprintf(dir, sizeof dir, "%s/run", root);
    snprintf(holder, sizeof holder, "pid %ld: aspire test", (long)getpid());
    aspire_rundir_lock *l = NULL;
    CHECK(aspire_rundir_lock_take(&l, dir, "aspire test") == ASPIRE_OK);
    CHECK(l != NULL);
    CHECK(child_try_lock(dir, holder) == 0);    /* refused, naming the folder and our pid */
    aspire_rundir_unlock(l);
    CHECK(child_try_lock(dir, holder) == 1);    /* free again */

    /* a holder that dies without unlocking (kill -9) releases the lock with it */
    pid_t pid = fork();
    if (pid == 0) {
        aspire_rundir_lock *c = NULL;
        if (aspire_rundir_lock_take(&c, dir, "doomed")) _exit(3);
        raise(SIGKILL);
    }
    CHECK(exit_code(pid) == 128 + SIGKILL);
    CHECK(aspire_rundir_lock_take(&l, dir, "third") == ASPIRE_OK);
    aspire_rundir_unlock(l);
    aspire_rundir_unlock(NULL);
}

static void touch(const char *dir, const char *name) {
    char *p = aspire_path_join(dir, name);
    CHECK(aspire_write_file_atomic(p, "x", 1) == ASPIRE_OK);
    aspire_strfree(p);
}

static int exists_in(const char *dir, const char *name) {
    char *p = aspire_path_join(dir, name);
    int e = aspire_file_exists(p);
    aspire_strfree(p);
    return e;
}

static void test_clean_stale(void) {
    char dir[300], name[128];
    snprintf(dir, sizeof dir, "%s/stale", root);
    CHECK(aspire_mkdir_p(dir) == ASPIRE_OK);
    pid_t dead = fork();  /* a pid that is certainly not running any more */
    if (dead == 0) _exit(0);
    exit_code(dead);
    snprintf(name, sizeof name, ".checkpoint.safetensors.tmp.%ld.0", (long)dead);
    touch(dir, name);
    snprintf(name, sizeof name, ".train.json.tmp.%ld.7", (long)getpid());  /* ours: being written */
    touch(dir, name);
    touch(dir, "train.json");
    touch(dir, ".x.tmp.abc");
    char sub[512];
    snprintf(sub, sizeof sub, "%s/.data.tmp.%ld.3", dir, (long)dead);  /* a folder build */
    CHECK(aspire_mkdir_p(sub) == ASPIRE_OK);
    touch(sub, "inside.png");
    CHECK(aspire_rundir_clean_stale(dir) == 2);
    CHECK(testdir_count(dir) == 3);
    CHECK(exists_in(dir, "train.json") && exists_in(dir, ".x.tmp.abc"));
    snprintf(name, sizeof name, ".train.json.tmp.%ld.7", (long)getpid());
    CHECK(exists_in(dir, name));
    CHECK(aspire_rundir_clean_stale("/nonexistent/folder") < 0);
}

static void test_dir_build(void) {
    char target[300];
    snprintf(target, sizeof target, "%s/parent/dataset", root);
    aspire_dir_build *b = NULL;
    CHECK(aspire_dir_build_begin(&b, target, 0) == ASPIRE_OK);
    touch(aspire_dir_build_path(b), "metadata.csv");
    CHECK(!aspire_file_exists(target));  /* nothing visible before the commit */
    CHECK(aspire_dir_build_commit(b) == ASPIRE_OK);
    CHECK(exists_in(target, "metadata.csv"));
    char parent[300];
    snprintf(parent, sizeof parent, "%s/parent", root);
    CHECK(testdir_count(parent) == 1);  /* no temporary sibling left */

    /* a non-empty target is refused without force, naming it and --force */
    CHECK(aspire_dir_build_begin(&b, target, 0) == ASPIRE_ERR_ARG);
    CHECK(strstr(aspire_errmsg(), target) && strstr(aspire_errmsg(), "--force"));
    CHECK(b == NULL);
    /* abort leaves the old folder as it was */
    CHECK(aspire_dir_build_begin(&b, target, 1) == ASPIRE_OK);
    touch(aspire_dir_build_path(b), "half.png");
    aspire_dir_build_abort(b);
    CHECK(exists_in(target, "metadata.csv") && !exists_in(target, "half.png"));
    CHECK(testdir_count(parent) == 1);
    /* with force the old contents are replaced as a whole */
    CHECK(aspire_dir_build_begin(&b, target, 1) == ASPIRE_OK);
    touch(aspire_dir_build_path(b), "new.csv");
    CHECK(aspire_dir_build_commit(b) == ASPIRE_OK);
    CHECK(exists_in(target, "new.csv") && !exists_in(target, "metadata.csv"));
    CHECK(testdir_count(parent) == 1);
    /* an existing empty folder (mktemp -d) is fine */
    char empty[300];
    snprintf(empty, sizeof empty, "%s/empty/", root);
    CHECK(aspire_mkdir_p(empty) == ASPIRE_OK);
    CHECK(aspire_dir_build_begin(&b, empty, 0) == ASPIRE_OK);
    touch(aspire_dir_build_path(b), "a");
    CHECK(aspire_dir_build_commit(b) == ASPIRE_OK);
    CHECK(exists_in(empty, "a"));
    aspire_dir_build_abort(NULL);
}

static void wait_gone(const char *path, double seconds) {
    for (int i = 0; i < (int)(seconds * 100) && aspire_file_exists(path); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void test_tmpdir(void) {
    aspire_tmpdir *t = NULL;
    CHECK(aspire_tmpdir_make(&t, root, "corpus") == ASPIRE_OK);
    char path[300];
    snprintf(path, sizeof path, "%s", aspire_tmpdir_path(t));
    CHECK(strncmp(path, root, strlen(root)) == 0);
    touch(path, "img.png");
    aspire_tmpdir_free(t);
    CHECK(!aspire_file_exists(path));
    aspire_tmpdir_free(NULL);

    /* the owner killed with SIGKILL: the watcher removes the folder */
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        aspire_tmpdir *c = NULL;
        if (aspire_tmpdir_make(&c, root, "killed")) _exit(3);
        touch(aspire_tmpdir_path(c), "img.png");
        char sub[300];
        snprintf(sub, sizeof sub, "%s/masks", aspire_tmpdir_path(c));
        aspire_mkdir_p(sub);
        touch(sub, "m.png");
        if (write(p[1], aspire_tmpdir_path(c), strlen(aspire_tmpdir_path(c)) + 1) < 0) _exit(4);
        raise(SIGKILL);
    }
    close(p[1]);
    char got[300] = {0};
    CHECK(read(p[0], got, sizeof got - 1) > 0);
    close(p[0]);
    CHECK(exit_code(pid) == 128 + SIGKILL);
    CHECK(got[0] != 0);
    wait_gone(got, 10.0);
    CHECK_MSG(got[0] && !aspire_file_exists(got), "%s left behind", got);
}

/* Issue 15, defect 1 (in part): reading /dev/zero grew the buffer until the kernel killed the
 * process. Streams are now capped; a caller can cap any file. */
static void test_read_caps(void) {
    char *buf = NULL;
    size_t n = 0;
    CHECK(aspire_read_file_max("/dev/zero", &buf, &n, 1 << 20) == ASPIRE_ERR_FORMAT);
    CHECK(buf == NULL && strstr(aspire_errmsg(), "/dev/zero") && strstr(aspire_errmsg(), "1048576"));
    char p[300];
    snprintf(p, sizeof p, "%s/ten", root);
    CHECK(testdir_write(p, "0123456789", 10) == 0);
    CHECK(aspire_read_file_max(p, &buf, &n, 9) == ASPIRE_ERR_FORMAT && buf == NULL);
    CHECK(aspire_read_file_max(p, &buf, &n, 10) == ASPIRE_OK && n == 10 && buf && memcmp(buf, "0123456789", 10) == 0);
    aspire_free(buf, n + 1);
}

int main(void) {
    testdir_make(root, sizeof root);
    RUN(test_lock_two_processes);
    RUN(test_clean_stale);
    RUN(test_dir_build);
    RUN(test_tmpdir);
    RUN(test_read_caps);
    testdir_remove(root);
    return TEST_REPORT();
}
