/* fileio.c — atomic file writes (a temporary file beside the target, fsync, rename, fsync of the
 * folder), whole-file reads, mkdir -p and path joining. Every failure names the path and the
 * system's reason. */
#include "aspire/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static atomic_uint tmp_counter;

/* The folder part of `path` ("." when it has none) as a new string. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return aspire_strdup(".");
    if (slash == path) return aspire_strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = aspire_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = 0;
    return d;
}

static void fsync_dir(const char *path) {
    char *dir = dir_of(path);
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);  /* best effort: some filesystems refuse fsync on folders */
        close(fd);
    }
    aspire_strfree(dir);
}

static void af_release(aspire_atomic_file *af) {
    aspire_strfree(af->path);
    aspire_strfree(af->tmp_path);
    af->path = af->tmp_path = NULL;
    af->fp = NULL;
    af->flags = 0;
}

int aspire_atomic_open(aspire_atomic_file *af, const char *path) { return aspire_atomic_open_ex(af, path, 0); }

int aspire_atomic_open_ex(aspire_atomic_file *af, const char *path, int flags) {
    memset(af, 0, sizeof *af);
    if (!path || !*path) return aspire_error(ASPIRE_ERR_ARG, "atomic write: empty path");
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base) return aspire_error(ASPIRE_ERR_ARG, "%s: is a folder, not a file name", path);
    struct stat st;  /* the rename would refuse it only at the commit, after all the work */
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return aspire_error(ASPIRE_ERR_IO, "%s: is a folder, not a file", path);
    size_t dlen = (size_t)(base - path), n = strlen(path) + 64;
    char *tmp = aspire_malloc(n);
    af->path = aspire_strdup(path);
    if (!tmp || !af->path) { aspire_free(tmp, n); af_release(af); return ASPIRE_ERR_NOMEM; }
    int fd = -1;
    /* O_EXCL with a per-process counter: several writers (threads, processes) never share a
     * temporary file; the kernel applies the umask as for any new file. */
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        unsigned k = atomic_fetch_add(&tmp_counter, 1u);
        snprintf(tmp, n, "%.*s.%s.tmp.%ld.%u", (int)dlen, path, base, (long)getpid(), k);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int e = errno;
        aspire_free(tmp, n);
        af_release(af);
        return aspire_error(ASPIRE_ERR_IO, "%s: cannot create a temporary file beside it: %s", path, strerror(e));
    }
    af->tmp_path = aspire_strdup(tmp);
    if (!af->tmp_path) unlink(tmp);
    aspire_free(tmp, n);
    if (!af->tmp_path) { close(fd); af_release(af); return ASPIRE_ERR_NOMEM; }
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        int e = errno;
        close(fd);
        unlink(af->tmp_path);
        af_release(af);
        return aspire_error(ASPIRE_ERR_IO, "%s: cannot open a stream: %s", path, strerror(e));
    }
    af->flags = flags;
    return ASPIRE_OK;
}

int aspire_atomic_commit(aspire_atomic_file *af) {
    ASPIRE_ASSERT(af->fp != NULL, "(atomic file not open)");
    int rc = ASPIRE_OK;
    const char *what = NULL;
    int e = 0;
    if (ferror(af->fp)) { what = "write failed"; e = EIO; }
    else if (fflush(af->fp) != 0) { what = "write failed"; e = errno; }
    else if (!(af->flags & ASPIRE_ATOMIC_NOSYNC) && fsync(fileno(af->fp)) != 0) { what = "fsync failed"; e = errno; }
    if (fclose(af->fp) != 0 && !what) { what = "close failed"; e = errno; }
    af->fp = NULL;
    if (!what && rename(af->tmp_path, af->path) != 0) { what = "rename failed"; e = errno; }
    if (what) {
        rc = aspire_error(ASPIRE_ERR_IO, "%s: %s: %s (old contents kept)", af->path, what, strerror(e));
        unlink(af->tmp_path);
    } else if (!(af->flags & ASPIRE_ATOMIC_NOSYNC)) {
        fsync_dir(af->path);
    }
    af_release(af);
    return rc;
}

void aspire_atomic_abort(aspire_atomic_file *af) {
    if (!af) return;
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) unlink(af->tmp_path);
    af_release(af);
}

int aspire_write_file_atomic(const char *path, const void *data, size_t n) {
    aspire_atomic_file af;
    int rc = aspire_atomic_open(&af, path);
    if (rc) return rc;
    if (n && fwrite(data, 1, n, af.fp) != n) {
        int e = errno;
        aspire_atomic_abort(&af);
        return aspire_error(ASPIRE_ERR_IO, "%s: write failed: %s (old contents kept)", path, strerror(e));
    }
    return aspire_atomic_commit(&af);
}

int aspire_sync_fs(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return aspire_error(ASPIRE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int rc = syncfs(fd);
    int e = errno;
    close(fd);
    if (rc != 0) return aspire_error(ASPIRE_ERR_IO, "%s: syncfs failed: %s", path, strerror(e));
    return ASPIRE_OK;
}

int aspire_read_file(const char *path, char **buf, size_t *n) {
    return aspire_read_file_max(path, buf, n, 0);
}

static int too_long(const char *path, size_t max) {
    return aspire_error(ASPIRE_ERR_FORMAT, "%s: longer than %zu bytes; refused", path, max);
}

/* max 0: a regular file of any size, a stream (pipe, device) up to ASPIRE_READ_STREAM_MAX. */
int aspire_read_file_max(const char *path, char **buf, size_t *n, size_t max) {
    *buf = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP) return aspire_error(ASPIRE_ERR_IO, "%s: cannot open: a loop of symbolic links", path);
        return aspire_error(e == ENOENT ? ASPIRE_ERR_NOTFOUND : ASPIRE_ERR_IO, "%s: cannot open: %s", path,
                            strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return aspire_error(ASPIRE_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) { close(fd); return aspire_error(ASPIRE_ERR_IO, "%s: is a folder, not a file", path); }
    if (max == 0) max = S_ISREG(st.st_mode) ? SIZE_MAX - 1 : ASPIRE_READ_STREAM_MAX;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) { close(fd); return too_long(path, max); }
    /* Regular files are read in one allocation; pipes and the like grow the buffer as they go, up
     * to max (/dev/zero would otherwise take every byte of memory). */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536, len = 0;
    char *b = aspire_malloc(cap);
    if (!b) { close(fd); return ASPIRE_ERR_NOMEM; }
    for (;;) {
        if (len + 1 == cap) {
            size_t ncap = cap * 2;
            char *nb = aspire_realloc(b, cap, ncap);
            if (!nb) { aspire_free(b, cap); close(fd); return ASPIRE_ERR_NOMEM; }
            b = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, b + len, cap - 1 - len);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            aspire_free(b, cap);
            close(fd);
            return aspire_error(ASPIRE_ERR_IO, "%s: read failed: %s", path, strerror(e));
        }
        if (r == 0) break;
        len += (size_t)r;
        if (len > max) { aspire_free(b, cap); close(fd); return too_long(path, max); }
    }
    close(fd);
    if (cap != len + 1) { /* shrink so that the documented aspire_free(buf, n + 1) matches */
        char *nb = aspire_realloc(b, cap, len + 1);
        if (!nb) { aspire_free(b, cap); return ASPIRE_ERR_NOMEM; }
        b = nb;
    }
    b[len] = 0;
    *buf = b;
    *n = len;
    return ASPIRE_OK;
}

int aspire_mkdir_p(const char *path) {
    if (!path || !*path) return aspire_error(ASPIRE_ERR_ARG, "mkdir: empty path");
    char *p = aspire_strdup(path);
    if (!p) return ASPIRE_ERR_NOMEM;
    int rc = ASPIRE_OK;
    size_t n = strlen(p);
    for (size_t i = 1; i <= n && rc == ASPIRE_OK; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char saved = p[i];
        p[i] = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot create folder %s: %s", path, p, strerror(errno));
        } else {
            struct stat st;
            if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
                rc = aspire_error(ASPIRE_ERR_IO, "%s: %s exists and is not a folder", path, p);
        }
        p[i] = saved;
        while (p[i] == '/' && p[i + 1] == '/') i++;
    }
    aspire_strfree(p);
    return rc;
}

int aspire_file_exists(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0) return 1;
    /* Something is there that cannot be reached (a symbolic link loop, a folder without search
     * permission): it is not "missing", and the caller's open will name the real reason. */
    return errno != ENOENT && errno != ENOTDIR;
}

char *aspire_path_join(const char *dir, const char *name) {
    if (!dir || !*dir || name[0] == '/') return aspire_strdup(name);
    size_t dl = strlen(dir), nl = strlen(name);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    int sep = dir[dl - 1] != '/';
    char *s = aspire_malloc(dl + (size_t)sep + nl + 1);
    if (!s) return NULL;
    memcpy(s, dir, dl);
    if (sep) s[dl] = '/';
    memcpy(s + dl + sep, name, nl + 1);
    return s;
}

const char *aspire_model_path(const char *models_dir, const char *file, char *buf, size_t n) {
    if (models_dir && *models_dir) snprintf(buf, n, "%s/%s", models_dir, file);
    else {
        snprintf(buf, n, "models/%s", file);
#ifdef ASPIRE_SOURCE_DIR
        if (!aspire_file_exists(buf)) snprintf(buf, n, "%s/models/%s", ASPIRE_SOURCE_DIR, file);
#endif
    }
    return buf;
}
