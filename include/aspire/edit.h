/* edit.h — the editing stages behind `aspire edit`: remove (inpaint a mask away), replace (turn the
 * background into another) and plates (build the replacer's plate bank from a dataset). Each stage
 * takes a single image or a whole folder; the CLI only parses options into these structs.
 *
 * Masks are PNG files read with aspire_inpaint_mask_load (first channel nonzero = in the region),
 * of the image's size. In folder mode, the mask of IMAGES/a/b.png is MASKS/a/b.png (the image's
 * path relative to its folder, with the extension replaced by .png); the output goes to
 * OUT/a/b.png. */
#ifndef ASPIRE_EDIT_H
#define ASPIRE_EDIT_H

#include "aspire/common.h"

typedef struct aspire_edit_remove_opts {
    const char *image;     /* an image file or a folder of images (PNG/JPEG, searched recursively) */
    const char *mask;      /* the mask PNG, or the folder of masks */
    const char *out;       /* the output PNG, or the output folder */
    const char *model;     /* learned inpainter file; NULL = the shipped one, or Telea if there is none */
    const char *models_dir;/* where the shipped models are, NULL = the checkout's models/ */
    int classical;         /* 1: Telea's method even if a model exists [0] */
    int dilate;            /* dilate the mask by this many pixels first [0] */
    int threads;           /* [0 = all cores] */
    int progress;          /* progress bar on stderr in folder mode [1] */
} aspire_edit_remove_opts;

typedef struct aspire_edit_replace_opts {
    const char *image;     /* an image file or a folder */
    const char *mask;      /* the foreground mask PNG (bird + every object), or the folder of masks */
    const char *alt;       /* the alternative background phrase ("lake", "forest", "water") */
    const char *background;/* the image's own background phrase, if known (NULL) */
    const char *plates;    /* the plate bank folder (aspire edit plates) */
    const char *out;       /* the output PNG, or the output folder */
    int seam;              /* feathered seam width at 64 px (< 0 = default 1, 0 = none) */
    int progress;          /* [1] */
} aspire_edit_replace_opts;

typedef struct aspire_edit_plates_opts {
    const char *data;      /* dataset folder in Waterbirds layout (metadata.csv, images) */
    const char *captions;  /* captions CSV (path,caption); NULL = caption with the built-in captioner */
    const char *captioner; /* captioner model (NULL = the shipped one) */
    const char *masks;     /* folder of object masks (one PNG per image, as in folder mode above);
                            * NULL = the segmenter finds the objects (union of its masks of "bird"
                            * and of every foreground phrase the extractor reads) */
    const char *segmenter; /* segmenter model when masks is NULL (NULL = the shipped one) */
    int captioned_only;    /* with captions: rows the captions CSV lacks are skipped, not refused [0] */
    const char *classes;   /* class names in order of y ["landbird,waterbird"] */
    const char *out;       /* plate bank folder to write */
    const char *model;     /* inpainter model (NULL = shipped, Telea if none) */
    const char *models_dir;/* where the shipped models are (captioner, inpainter), NULL = the checkout's models/ */
    int classical;         /* [0] */
    int split;             /* images of this split (0 train, 1 val, 2 test, -1 all) [0] */
    int limit;             /* at most this many plates (0 = no limit) [0] */
    int dilate;            /* dilate the object masks by this many pixels at 64 px [1] */
    int threads;           /* [0] */
    int progress;          /* [1] */
} aspire_edit_plates_opts;

ASPIRE_API void aspire_edit_remove_opts_default(aspire_edit_remove_opts *o);
ASPIRE_API void aspire_edit_replace_opts_default(aspire_edit_replace_opts *o);
ASPIRE_API void aspire_edit_plates_opts_default(aspire_edit_plates_opts *o);

/* Each returns ASPIRE_OK or a status with a one-line message naming the file at fault. */
ASPIRE_API int aspire_edit_remove_run(const aspire_edit_remove_opts *o);
ASPIRE_API int aspire_edit_replace_run(const aspire_edit_replace_opts *o);
/* Writes OUT/plates.csv (file,phrase,kind,source) and OUT/plates/<img_id>.png: for every image of
 * the split whose caption names a background (the extractor's `background`), the image with its
 * objects (the mask) inpainted away. */
ASPIRE_API int aspire_edit_plates_run(const aspire_edit_plates_opts *o);

#endif
