/* testdir.h — temporary folders for tests: testdir_make() creates a fresh folder under $TMPDIR
 * (or /tmp), testdir_remove() deletes it with everything in it, testdir_count() counts entries. */
#ifndef ASPIRE_TESTDIR_H
#define ASPIRE_TESTDIR_H

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fills buf (at least 256 bytes) with a new folder's path; aborts if it cannot be made. */
static inline char *testdir_make(char *buf, size_t n) {
    const char *base = getenv("TMPDIR");
    snprintf(buf, n, "%s/aspire-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(buf)) { perror("mkdtemp"); abort(); }
    return buf;
}

static inline int testdir_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static inline void testdir_remove(const char *dir) { nftw(dir, testdir_rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

/* Entries in a folder, not counting . and .. (-1 if it cannot be read). */
static inline int testdir_count(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Writes n bytes to path (plain, non-atomic: tests use it to make inputs). Returns 0 on success. */
static inline int testdir_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

#endif
