/* stage_caption.h — the caption stage: a dataset's images captioned with the built-in captioner
 * (captioner.h) into captions.csv (path,caption: the reference implementation's format, path =
 * img_filename relative to the dataset folder), written atomically, so that the file exists only
 * once it is complete. */
#ifndef ASPIRE_STAGE_CAPTION_H
#define ASPIRE_STAGE_CAPTION_H

#include "aspire/engine.h"

typedef struct aspire_caption_options {
    const char *data_dir;      /* dataset folder: metadata.csv with img_filename (and split), images beside it */
    int split;                 /* ASPIRE_SPLIT_* (ASPIRE_SPLIT_ALL: every row) */
    const char *out;           /* the CSV to write */
    const char *model;         /* captioner model file; NULL = the shipped one (aspire_captioner_default_model) */
    const char *models_dir;    /* where the shipped models are, NULL = the checkout's models/ */
    int beam;                  /* beam width, 1 = greedy (the reference's decoding); 0 = 1 */
    int batch;                 /* images per batch; 0 = 64 */
    int threads;               /* 0 = all cores */
    aspire_ctx_options engine; /* engine settings (its threads: the field above) */
    int progress;              /* a progress line on stderr */
    int64_t *written;          /* if not NULL, receives the number of captions written */
} aspire_caption_options;

/* Captions the rows of the split, in metadata.csv's order. Errors name the metadata file and line
 * of an image that cannot be read, or the model file. */
ASPIRE_API int aspire_caption_run(const aspire_caption_options *o);

#endif
