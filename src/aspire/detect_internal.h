/* detect_internal.h — what the discovery files (detect.c, flips.c) share and nothing else sees. */
#ifndef ASPIRE_DETECT_INTERNAL_H
#define ASPIRE_DETECT_INTERNAL_H

/* Removes the temporary files and folders that a killed writer left in `dir` (not below it):
 * entries ".NAME.tmp.PID..." (fileio's atomic writes) and ".selected.tmp.PID" /
 * ".selected.old.PID" (detect's folder swap) whose process PID no longer runs, and the
 * ".selected.*" ones of this process. A missing folder is not an error. */
void detect_remove_dead_temps(const char *dir);

/* ---- full mode (detect_models.c, detect_full.c) ------------------------------------------- */

typedef struct aspire_classifier aspire_classifier;

/* What the built-in models of full mode are made from. */
typedef struct detect_full_models_spec {
    aspire_classifier *classifier;   /* borrowed: the run's classifier */
    const char *segmenter;           /* model file, NULL = the shipped one */
    const char *inpainter;           /* model file, NULL = the shipped one, else Telea */
    const char *plates;              /* plate bank folder (plates.csv) */
    int dilate;                      /* mask dilation radius, -1 = scaled to the image (mask.h) */
    int threads;                     /* 0 = all cores */
    int votes;                       /* replacements per background pair (aspire_detect_models.votes) */
    int seam;                        /* the replacer's seam, -1 = its default */
} detect_full_models_spec;

typedef struct detect_full_models detect_full_models;

/* Opens the segmenter, inpainter and replacer and fills *m with the callbacks over them. */
int detect_full_models_open(const detect_full_models_spec *spec, detect_full_models **out, aspire_detect_models *m);
const char *detect_full_models_inpainter(const detect_full_models *fm);
void detect_full_models_free(detect_full_models *fm);

/* Full mode (--data, --run): hold-out, captions, extraction, plates, edits and flips, then
 * aspire_detect_finish and the contact sheet. */
int detect_full_run(const aspire_detect_opts *o);

#endif
