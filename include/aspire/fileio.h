/* fileio.h — files written atomically (temporary file in the same folder, fsync, rename), whole-file
 * reads, and folders. A writer that fails or is aborted leaves the old file untouched. */
#ifndef ASPIRE_FILEIO_H
#define ASPIRE_FILEIO_H

#include "aspire/common.h"

#include <stdio.h>

typedef struct aspire_atomic_file {
    FILE *fp;          /* write through this */
    char *path;        /* final path */
    char *tmp_path;    /* temporary path beside it */
    int flags;         /* ASPIRE_ATOMIC_* */
} aspire_atomic_file;

/* Skip the fsyncs (of the file and of its folder). The write stays all-or-nothing for a process
 * that crashes or is killed (rename is atomic), but not necessarily across a power loss until the
 * data reaches the disk. For writing thousands of small files (an fsync costs ~7 ms here): write
 * them with this flag, then call aspire_sync_fs() once before recording the work as done. */
#define ASPIRE_ATOMIC_NOSYNC 1

/* Opens a temporary file beside `path` (".<name>.tmp.<pid>.<n>", never shared between writers) for
 * writing through af->fp. On failure af is zeroed (aspire_atomic_abort on it is a no-op). */
ASPIRE_API int aspire_atomic_open(aspire_atomic_file *af, const char *path);
/* The same with ASPIRE_ATOMIC_* flags. */
ASPIRE_API int aspire_atomic_open_ex(aspire_atomic_file *af, const char *path, int flags);
/* Flushes, fsyncs, closes and renames over `path` (then fsyncs the folder). On any failure the
 * temporary file is removed and the old file is untouched. Always releases af. */
ASPIRE_API int aspire_atomic_commit(aspire_atomic_file *af);
/* Closes and removes the temporary file; accepts an af that was never opened (zeroed). */
ASPIRE_API void aspire_atomic_abort(aspire_atomic_file *af);

ASPIRE_API int aspire_write_file_atomic(const char *path, const void *data, size_t n);
/* Flushes everything written to the filesystem that holds `path` to disk (syncfs). */
ASPIRE_API int aspire_sync_fs(const char *path);
/* Reads a whole file into a new buffer (NUL-terminated, *n excludes the NUL); free with aspire_free(buf, n + 1).
 * A stream that is not a regular file (a pipe, a device such as /dev/zero) is read up to
 * ASPIRE_READ_STREAM_MAX bytes; a longer one is refused (ASPIRE_ERR_FORMAT). */
ASPIRE_API int aspire_read_file(const char *path, char **buf, size_t *n);
#define ASPIRE_READ_STREAM_MAX ((size_t)1 << 30)
/* The same, refusing anything longer than max bytes (ASPIRE_ERR_FORMAT, naming the file and the
 * limit) before reading a regular file and as soon as a stream passes it; max 0 = as
 * aspire_read_file. For inputs whose size a caller can bound (an image, a metadata file). */
ASPIRE_API int aspire_read_file_max(const char *path, char **buf, size_t *n, size_t max);
/* mkdir -p. */
ASPIRE_API int aspire_mkdir_p(const char *path);
/* 1 if something (file or folder) exists at path, else 0. A path that cannot be resolved for
 * another reason than absence (a loop of symbolic links, no permission) gives 1, so that the
 * caller's open reports that reason rather than "no such file". */
ASPIRE_API int aspire_file_exists(const char *path);
/* Joins a folder and a name into a new string ("dir/name"); an absolute name or an empty dir gives
 * a copy of name. NULL on OOM. Free with aspire_strfree. */
ASPIRE_API char *aspire_path_join(const char *dir, const char *name);
/* Where a shipped model file is: models_dir/file when models_dir is given (the program passes
 * $ASPIRE_MODELS), else models/file if it exists (a checkout's root), else the source tree's
 * models/file. Written into buf (n bytes); returns buf. Reads no environment variable. */
ASPIRE_API const char *aspire_model_path(const char *models_dir, const char *file, char *buf, size_t n);

#endif
