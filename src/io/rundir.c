/* rundir.c — run-folder locks (flock on a lock file), removal of a crash's temporary files, folders
 * built in a temporary sibling and renamed into place, and scratch folders that a watcher process
 * removes when their owner ends in any way. See include/aspire/rundir.h. */
#include "aspire/rundir.h"
#include "aspire/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_uint build_counter;

/* ---- lock ------------------------------------------------------------------------------------ */

struct aspire_rundir_lock {
    int fd;
};

/* The holder line of a lock file, printable characters only, into buf (empty if unreadable). */
static void read_holder(int fd, char *buf, size_t cap) {
    ssize_t n = pread(fd, buf, cap - 1, 0);
    if (n < 0) n = 0;
    buf[n] = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') { buf[i] = 0; break; }
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) buf[i] = '?';
    }
}

static int lock_refused(int fd, const char *dir, int e) {
    if (e != EWOULDBLOCK) return aspire_error(ASPIRE_ERR_IO, "%s: cannot lock the folder: %s", dir, strerror(e));
    char holder[256];
    read_holder(fd, holder, sizeof holder);
    return aspire_error(ASPIRE_ERR_IO, "%s: in use by another process (%s); wait for it to finish or use another folder",
                        dir, *holder ? holder : "pid unknown");
}

int aspire_rundir_lock_take(aspire_rundir_lock **out, const char *dir, const char *what) {
    *out = NULL;
    if (!dir || !*dir) return aspire_error(ASPIRE_ERR_ARG, "lock: empty folder name");
    int rc = aspire_mkdir_p(dir);
    if (rc) return rc;
    char *path = aspire_path_join(dir, ASPIRE_RUNDIR_LOCK_FILE);
    if (!path) return ASPIRE_ERR_NOMEM;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    int e = errno;
    aspire_strfree(path);
    if (fd < 0) return aspire_error(ASPIRE_ERR_IO, "%s: cannot open its lock file %s: %s", dir, ASPIRE_RUNDIR_LOCK_FILE, strerror(e));
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        rc = lock_refused(fd, dir, errno);
        close(fd);
        return rc;
    }
    aspire_rundir_lock *l = aspire_malloc(sizeof *l);
    if (!l) { close(fd); return ASPIRE_ERR_NOMEM; }
    l->fd = fd;
    (void)aspire_rundir_clean_stale(dir);  /* ours now: what dead writers left can go */
    char line[320];
    int n = snprintf(line, sizeof line, "pid %ld: %.250s\n", (long)getpid(), what && *what ? what : "aspire");
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    /* best effort: the lock holds whether or not the holder's name could be written */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)n, 0) < 0) (void)0;
    *out = l;
    return ASPIRE_OK;
}

void aspire_rundir_unlock(aspire_rundir_lock *lock) {
    if (!lock) return;
    close(lock->fd);  /* releases the flock */
    aspire_free(lock, sizeof *lock);
}

/* ---- stale temporary files ------------------------------------------------------------------- */

/* The writer's pid of a temporary name ".NAME.tmp.PID.N" (0 if the name is not one). */
static long tmp_name_pid(const char *name) {
    if (name[0] != '.') return 0;
    const char *tag = NULL;
    for (const char *p = strstr(name + 1, ".tmp."); p; p = strstr(p + 1, ".tmp.")) tag = p;
    if (!tag || tag == name) return 0;
    char *end;
    long pid = strtol(tag + 5, &end, 10);
    if (pid <= 0 || *end != '.' || !end[1]) return 0;
    for (const char *d = end + 1; *d; d++)
        if (*d < '0' || *d > '9') return 0;
    return pid;
}

static int pid_alive(long pid) { return pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH; }

/* Removes the stale temporary entries of dir whose names start with `prefix` (NULL: any). */
static int clean_stale_prefix(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return aspire_error(ASPIRE_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
    int removed = 0, rc = ASPIRE_OK;
    struct dirent *e;
    while ((e = readdir(d)) && rc == ASPIRE_OK) {
        if (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        long pid = tmp_name_pid(e->d_name);
        if (pid <= 0 || pid_alive(pid)) continue;
        char *p = aspire_path_join(dir, e->d_name);
        if (!p) { rc = ASPIRE_ERR_NOMEM; break; }
        if ((rc = aspire_remove_tree(p)) == ASPIRE_OK) removed++;
        aspire_strfree(p);
    }
    closedir(d);
    return rc ? rc : removed;
}

int aspire_rundir_clean_stale(const char *dir) { return clean_stale_prefix(dir, NULL); }

static int remove_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int aspire_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return ASPIRE_OK;
        return aspire_error(ASPIRE_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    }
    if (nftw(path, remove_cb, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return aspire_error(ASPIRE_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    return ASPIRE_OK;
}

/* ---- folders built as a whole ---------------------------------------------------------------- */

struct aspire_dir_build {
    char *target;   /* final name */
    char *tmp;      /* temporary sibling */
    char *parent;   /* folder of both */
    char *base;     /* target's last component */
    int force;
};

static void build_release(aspire_dir_build *b) {
    aspire_strfree(b->target);
    aspire_strfree(b->tmp);
    aspire_strfree(b->parent);
    aspire_strfree(b->base);
    aspire_free(b, sizeof *b);
}

/* 1 if `path` is a folder with no entries, 0 if it has some, -1 (errno set) if unreadable. */
static int dir_is_empty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
    closedir(d);
    return empty;
}

/* Whether `target` may be written: missing, an empty folder, or anything with force. */
static int check_target(const char *target, int force) {
    struct stat st;
    if (lstat(target, &st) != 0) {
        if (errno == ENOENT) return ASPIRE_OK;
        if (errno == ENOTDIR) return aspire_error(ASPIRE_ERR_IO, "%s: a part of its path is not a folder", target);
        return aspire_error(ASPIRE_ERR_IO, "%s: cannot use as output folder: %s", target, strerror(errno));
    }
    if (force) return ASPIRE_OK;
    if (!S_ISDIR(st.st_mode))
        return aspire_error(ASPIRE_ERR_ARG, "%s: exists and is not a folder (use --force to replace it)", target);
    int empty = dir_is_empty(target);
    if (empty < 0) return aspire_error(ASPIRE_ERR_IO, "%s: cannot read the folder: %s", target, strerror(errno));
    if (!empty) return aspire_error(ASPIRE_ERR_ARG, "%s: folder is not empty (use --force to replace it)", target);
    return ASPIRE_OK;
}

/* Splits target into parent folder and last component (trailing slashes ignored). */
static int split_target(aspire_dir_build *b, const char *target) {
    size_t n = strlen(target);
    while (n > 1 && target[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && target[s - 1] != '/') s--;
    b->base = aspire_malloc(n - s + 1);
    b->parent = s == 0 ? aspire_strdup(".") : aspire_malloc(s + 1);
    if (!b->base || !b->parent) return ASPIRE_ERR_NOMEM;
    memcpy(b->base, target + s, n - s);
    b->base[n - s] = 0;
    if (s > 0) { memcpy(b->parent, target, s); b->parent[s] = 0; }
    if (!*b->base || !strcmp(b->base, ".") || !strcmp(b->base, ".."))
        return aspire_error(ASPIRE_ERR_ARG, "%s: not a usable folder name", target);
    return ASPIRE_OK;
}

/* A new sibling ".BASE.tmp.PID.N" of b->target (created as a folder when mk). */
static char *sibling_name(const aspire_dir_build *b, int mk) {
    size_t n = strlen(b->parent) + strlen(b->base) + 64;
    char *p = aspire_malloc(n);
    if (!p) return NULL;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned k = atomic_fetch_add(&build_counter, 1u);
        snprintf(p, n, "%s/.%s.tmp.%ld.%u", b->parent, b->base, (long)getpid(), k);
        struct stat st;
        if (mk ? mkdir(p, 0777) == 0 : lstat(p, &st) != 0) return p;
        if (errno != EEXIST && mk) break;
    }
    aspire_error(ASPIRE_ERR_IO, "%s: cannot create a temporary folder beside it: %s", b->target, strerror(errno));
    aspire_free(p, n);
    return NULL;
}

int aspire_dir_build_begin(aspire_dir_build **out, const char *target, int force) {
    *out = NULL;
    if (!target || !*target) return aspire_error(ASPIRE_ERR_ARG, "no output folder");
    aspire_dir_build *b = aspire_calloc(1, sizeof *b);
    if (!b) return ASPIRE_ERR_NOMEM;
    b->force = force;
    int rc = (b->target = aspire_strdup(target)) ? split_target(b, target) : ASPIRE_ERR_NOMEM;
    if (!rc) rc = check_target(target, force);
    if (!rc) rc = aspire_mkdir_p(b->parent);
    if (!rc) {
        char prefix[300];
        snprintf(prefix, sizeof prefix, ".%s.tmp.", b->base);
        int removed = clean_stale_prefix(b->parent, prefix);
        if (removed < 0) rc = removed;
    }
    if (!rc && !(b->tmp = sibling_name(b, 1))) rc = ASPIRE_ERR_IO;
    if (rc) { build_release(b); return rc; }
    *out = b;
    return ASPIRE_OK;
}

const char *aspire_dir_build_path(const aspire_dir_build *b) { return b->tmp; }

/* With force: moves the old target aside, the new folder in, and removes the old one. */
static int swap_in(aspire_dir_build *b) {
    char *aside = sibling_name(b, 0);
    if (!aside) return ASPIRE_ERR_NOMEM;
    int rc = ASPIRE_OK;
    if (rename(b->target, aside) != 0) {
        rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot move the old contents aside: %s", b->target, strerror(errno));
    } else if (rename(b->tmp, b->target) != 0) {
        rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot rename the new folder into place: %s (old contents kept)",
                          b->target, strerror(errno));
        (void)rename(aside, b->target);
    } else {
        rc = aspire_remove_tree(aside);
    }
    aspire_strfree(aside);
    return rc;
}

int aspire_dir_build_commit(aspire_dir_build *b) {
    int rc = aspire_sync_fs(b->tmp);
    if (!rc && rename(b->tmp, b->target) != 0) {
        int e = errno;
        if (b->force && (e == ENOTEMPTY || e == EEXIST || e == ENOTDIR || e == EISDIR)) rc = swap_in(b);
        else if (e == ENOTEMPTY || e == EEXIST)
            rc = aspire_error(ASPIRE_ERR_IO, "%s: the folder was filled by someone else meanwhile; nothing written", b->target);
        else
            rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot rename the new folder into place: %s", b->target, strerror(e));
    }
    if (rc) (void)aspire_remove_tree(b->tmp);
    else {
        int fd = open(b->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) { (void)fsync(fd); close(fd); }  /* the rename itself, on disk */
    }
    build_release(b);
    return rc;
}

void aspire_dir_build_abort(aspire_dir_build *b) {
    if (!b) return;
    (void)aspire_remove_tree(b->tmp);
    build_release(b);
}

/* ---- scratch folders ------------------------------------------------------------------------- */

struct aspire_tmpdir {
    char *path;
    int wfd;        /* write end of the watcher's pipe: its closing (by us or the kernel) wakes it */
    pid_t watcher;
};

/* The watcher: deaf to the terminal's signals, holding no descriptor of its parent (a lock, a pipe
 * the parent's reader waits on), it waits for the pipe to close and removes the folder. */
static _Noreturn void watch(const char *path, int rfd) {
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_IGN);
    int null = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3 && null >= 0; fd++) dup2(null, fd);
    long maxfd = sysconf(_SC_OPEN_MAX);
    if (maxfd < 0 || maxfd > 65536) maxfd = 65536;
    for (int fd = 3; fd < maxfd; fd++)
        if (fd != rfd) close(fd);
    char c;
    while (read(rfd, &c, 1) != 0 && (errno == EINTR || errno == EAGAIN)) {}
    (void)aspire_remove_tree(path);
    _exit(0);
}

int aspire_tmpdir_make(aspire_tmpdir **out, const char *parent, const char *prefix) {
    *out = NULL;
    if (!parent || !*parent) parent = getenv("TMPDIR");
    if (!parent || !*parent) parent = "/tmp";
    aspire_tmpdir *t = aspire_calloc(1, sizeof *t);
    size_t n = strlen(parent) + strlen(prefix ? prefix : "aspire") + 16;
    char *path = aspire_malloc(n);
    if (!t || !path) { aspire_free(t, sizeof *t); aspire_free(path, n); return ASPIRE_ERR_NOMEM; }
    snprintf(path, n, "%s/%s-XXXXXX", parent, prefix ? prefix : "aspire");
    int p[2] = {-1, -1};
    if (!mkdtemp(path)) {
        int rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot make a temporary folder in %s: %s", path, parent, strerror(errno));
        aspire_free(path, n); aspire_free(t, sizeof *t);
        return rc;
    }
    t->path = path;
    t->wfd = -1;
    if (pipe2(p, O_CLOEXEC) != 0 || (t->watcher = fork()) < 0) {
        int rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot start its watcher: %s", path, strerror(errno));
        if (p[0] >= 0) { close(p[0]); close(p[1]); }
        t->watcher = 0;
        aspire_tmpdir_free(t);
        return rc;
    }
    if (t->watcher == 0) watch(path, p[0]);
    close(p[0]);
    t->wfd = p[1];
    *out = t;
    return ASPIRE_OK;
}

const char *aspire_tmpdir_path(const aspire_tmpdir *t) { return t->path; }

void aspire_tmpdir_free(aspire_tmpdir *t) {
    if (!t) return;
    (void)aspire_remove_tree(t->path);
    if (t->wfd >= 0) close(t->wfd);
    if (t->watcher > 0) while (waitpid(t->watcher, NULL, 0) < 0 && errno == EINTR) {}
    aspire_free(t->path, 0);
    aspire_free(t, sizeof *t);
}
