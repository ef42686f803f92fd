/* imagefile.c — reading one image file that a dataset's metadata.csv names, as a careless or
 * hostile metadata file cannot abuse it: only regular files (a FIFO would block the loader for
 * ever, a device such as /dev/zero would never end), at most ASPIRE_DATASET_IMAGE_MAX bytes, and,
 * unless the caller allows it, only inside the dataset folder (no absolute path, no "..", no
 * symbolic link that resolves outside). */
#include "data/data_internal.h"

#include "aspire/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUTSIDE_HINT "(allow_outside_paths, aspire's --allow-outside-paths, reads it anyway)"

/* A path with a ".." component ("..", "../x", "a/../../x", "a/.."). */
static int has_dotdot(const char *p) {
    for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == 0 || s[2] == '/')) return 1;
    return 0;
}

int ds_image_name_check(const char *name, int allow_outside) {
    if (allow_outside) return ASPIRE_OK;
    if (name[0] == '/')
        return aspire_error(ASPIRE_ERR_FORMAT, "column 'img_filename': '%s' is an absolute path; images must be inside the dataset folder " OUTSIDE_HINT, name);
    if (has_dotdot(name))
        return aspire_error(ASPIRE_ERR_FORMAT, "column 'img_filename': '%s' leaves the dataset folder (..) " OUTSIDE_HINT, name);
    return ASPIRE_OK;
}

static const char *kind_name(mode_t m) {
    return S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket"
         : S_ISDIR(m) ? "a folder" : "not a regular file";
}

/* The file an open descriptor reads, resolved (symbolic links followed), into buf. */
static int fd_real_path(int fd, const char *path, char *buf, size_t n) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, buf, n - 1);
    if (k > 0 && (size_t)k < n - 1) { buf[k] = 0; return 1; }
    char *r = realpath(path, NULL);  /* no /proc: resolve the name instead */
    if (!r) return 0;
    snprintf(buf, n, "%s", r);
    free(r);
    return 1;
}

/* Reads a regular file's st_size bytes from fd into a new buffer (NUL-terminated). */
static int read_all(int fd, const char *path, size_t size, char **buf, size_t *n) {
    char *b = aspire_malloc(size + 1);
    if (!b) return ASPIRE_ERR_NOMEM;
    size_t len = 0;
    while (len < size) {
        ssize_t r = read(fd, b + len, size - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { int e = errno; aspire_free(b, size + 1); return aspire_error(ASPIRE_ERR_IO, "%s: read failed: %s", path, strerror(e)); }
        if (r == 0) break;  /* it shrank while being read: what is there is decoded (and refused if cut) */
        len += (size_t)r;
    }
    b[len] = 0;
    if (len != size) {
        char *nb = aspire_realloc(b, size + 1, len + 1);
        if (!nb) { aspire_free(b, size + 1); return ASPIRE_ERR_NOMEM; }
        b = nb;
    }
    *buf = b;
    *n = len;
    return ASPIRE_OK;
}

/* Checks the open file: regular, not too large, inside dir_real unless allowed. */
static int check_open(int fd, const char *path, const char *name, const char *dir_real, int allow_outside, struct stat *st) {
    if (fstat(fd, st) != 0) return aspire_error(ASPIRE_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st->st_mode)) return aspire_error(ASPIRE_ERR_FORMAT, "%s is %s, not an image file; refused", path, kind_name(st->st_mode));
    if ((uint64_t)st->st_size > ASPIRE_DATASET_IMAGE_MAX)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: %lld bytes, more than an image may have (%d MiB); refused", path,
                            (long long)st->st_size, (int)(ASPIRE_DATASET_IMAGE_MAX >> 20));
    if (allow_outside || !dir_real) return ASPIRE_OK;
    char real[PATH_MAX];
    if (!fd_real_path(fd, path, real, sizeof real))
        return aspire_error(ASPIRE_ERR_IO, "%s: cannot resolve the path to check that it is inside the dataset folder", path);
    size_t dl = strlen(dir_real);
    int inside = strncmp(real, dir_real, dl) == 0 && (real[dl] == '/' || (dl == 1 && dir_real[0] == '/'));
    if (!inside)
        return aspire_error(ASPIRE_ERR_FORMAT, "column 'img_filename': '%s' resolves to '%s', outside the dataset folder %s " OUTSIDE_HINT,
                            name, real, dir_real);
    return ASPIRE_OK;
}

int ds_image_read(const char *path, const char *name, const char *dir_real, int allow_outside, char **buf, size_t *n) {
    *buf = NULL;
    *n = 0;
    int rc = ds_image_name_check(name, allow_outside);
    if (rc) return rc;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below) */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return aspire_error(e == ENOENT ? ASPIRE_ERR_NOTFOUND : ASPIRE_ERR_IO, "%s: cannot open: %s", path,
                            e == ELOOP ? "a loop of symbolic links" : strerror(e));
    }
    struct stat st;
    rc = check_open(fd, path, name, dir_real, allow_outside, &st);
    if (!rc) rc = read_all(fd, path, (size_t)st.st_size, buf, n);
    close(fd);
    return rc;
}

int ds_dir_real(const char *dir, char **out) {
    *out = realpath(dir && *dir ? dir : ".", NULL);
    if (*out) return ASPIRE_OK;
    return aspire_error(errno == ENOENT ? ASPIRE_ERR_NOTFOUND : ASPIRE_ERR_IO, "%s: cannot resolve the dataset folder: %s", dir,
                        strerror(errno));
}

int ds_regular_or_absent(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return ASPIRE_OK;  /* absent or unreachable: the reader says why */
    if (S_ISREG(st.st_mode)) return ASPIRE_OK;
    return aspire_error(ASPIRE_ERR_FORMAT, "%s is %s, not a file to read; refused", path, kind_name(st.st_mode));
}
