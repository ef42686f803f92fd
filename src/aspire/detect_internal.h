/* detect_internal.h — what the discovery files (detect.c, flips.c) share and nothing else sees. */
#ifndef ASPIRE_DETECT_INTERNAL_H
#define ASPIRE_DETECT_INTERNAL_H

/* Removes the temporary files and folders that a killed writer left in `dir` (not below it):
 * entries ".NAME.tmp.PID..." (fileio's atomic writes) and ".selected.tmp.PID" /
 * ".selected.old.PID" (detect's folder swap) whose process PID no longer runs, and the
 * ".selected.*" ones of this process. A missing folder is not an error. */
void detect_remove_dead_temps(const char *dir);

#endif
