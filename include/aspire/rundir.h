/* rundir.h — the rules every output folder of aspire follows, in one place:
 *   - a run folder is owned by one process at a time (an advisory lock, flock(2), on a lock file
 *     inside it; a second process is refused with one line naming the folder and the holder);
 *   - temporary files a crash left behind (the atomic writer's ".NAME.tmp.PID.N", fileio.h) are
 *     removed when their writer is gone;
 *   - a folder that is produced as a whole (a dataset) is built in a temporary sibling folder and
 *     renamed over its final name at the end, so that it is either complete or absent;
 *   - a scratch folder (a corpus made for one command) is removed on every exit path, even kill -9.
 * Stages that write run folders (train, detect, generate, run) use these instead of their own. */
#ifndef ASPIRE_RUNDIR_H
#define ASPIRE_RUNDIR_H

#include "aspire/common.h"

/* The lock file's name inside a locked folder. It stays after the lock is released (deleting it
 * would let two processes lock two different files); its content names the last holder. */
#define ASPIRE_RUNDIR_LOCK_FILE ".aspire.lock"

typedef struct aspire_rundir_lock aspire_rundir_lock;

/* Creates `dir` if needed (mkdir -p) and takes its lock without waiting. `what` (may be NULL)
 * describes the holder in the lock file and in the message another process gets, e.g.
 * "aspire train". Returns ASPIRE_OK, ASPIRE_ERR_IO (cannot create or lock; a folder held by
 * another process gives "runs/a: in use by another process (pid 4242: aspire train); wait for it
 * to finish or use another folder") or ASPIRE_ERR_NOMEM. Once the lock is held, the temporary
 * files that crashed writers left in the folder are removed (aspire_rundir_clean_stale). The lock
 * is released by
 * aspire_rundir_unlock or when the process ends in any way (the kernel drops it). It is not
 * inherited across exec. */
ASPIRE_API int aspire_rundir_lock_take(aspire_rundir_lock **out, const char *dir, const char *what);
/* Releases the lock and frees it; accepts NULL. */
ASPIRE_API void aspire_rundir_unlock(aspire_rundir_lock *lock);

/* Removes the temporary files and folders in `dir` (not below) that a crashed writer left: names
 * ".NAME.tmp.PID.N" (fileio.h's atomic writer, aspire_dir_build) whose PID is not a running
 * process. Those of running processes are kept (they may be being written). Returns the number
 * removed (>= 0) or a negative status if the folder cannot be read. */
ASPIRE_API int aspire_rundir_clean_stale(const char *dir);

/* A folder written as a whole: everything goes into a temporary sibling folder
 * (".NAME.tmp.PID.N" beside `target`), and commit renames it over `target`. */
typedef struct aspire_dir_build aspire_dir_build;

/* Refuses (ASPIRE_ERR_ARG, naming the folder and --force) a `target` that exists and is not an
 * empty folder, unless `force`; removes stale temporary siblings of `target` left by a crash;
 * creates the parent folders and the temporary folder. Nothing is changed at `target` until
 * commit. */
ASPIRE_API int aspire_dir_build_begin(aspire_dir_build **out, const char *target, int force);
/* Where to write: the temporary folder. */
ASPIRE_API const char *aspire_dir_build_path(const aspire_dir_build *b);
/* Flushes the temporary folder's file system to disk (syncfs), then puts it at `target`: a
 * rename over a missing or empty folder; with force, an existing `target` is first renamed aside
 * and removed after the swap. On failure the temporary folder is removed and `target` is left as
 * it was. Always frees b. */
ASPIRE_API int aspire_dir_build_commit(aspire_dir_build *b);
/* Removes the temporary folder and frees b; accepts NULL. */
ASPIRE_API void aspire_dir_build_abort(aspire_dir_build *b);

/* A scratch folder removed on every exit path: by aspire_tmpdir_free, and, should the process end
 * without it (an error path that forgot it, Ctrl-C, kill -9, a crash), by a small watcher process
 * that waits for the end of its parent and then removes the folder. `parent` NULL means $TMPDIR,
 * else /tmp; the folder is PARENT/PREFIX-XXXXXX. */
typedef struct aspire_tmpdir aspire_tmpdir;
ASPIRE_API int aspire_tmpdir_make(aspire_tmpdir **out, const char *parent, const char *prefix);
ASPIRE_API const char *aspire_tmpdir_path(const aspire_tmpdir *t);
/* Removes the folder and everything in it, lets the watcher go, frees t; accepts NULL. */
ASPIRE_API void aspire_tmpdir_free(aspire_tmpdir *t);

/* Removes a file or a folder with everything in it (no symlink is followed). ASPIRE_OK also when
 * nothing is there. */
ASPIRE_API int aspire_remove_tree(const char *path);

#endif
