/* detect.h — discovery (DESIGN.md §1 steps 2, 5–7; REFERENCE.md §2, §5–§7): which background and
 * which objects a classifier leans on for each class, ranked, and the edited images that show each
 * class without them.
 *
 * The pieces, each usable alone:
 *   - aspire_detect_holdout: the hold-out (correctly classified images, a share of each class);
 *   - aspire_detect_rank: per class, flips and occurrences of every phrase, phrases clustered, clusters
 *     scored and ranked (background and foreground together, each marked);
 *   - aspire_detect_select: the "non-spurious" edited images (at most 35 per class);
 *   - aspire_detect_flip_one / aspire_detect_flips: the edits and flips over a table of models
 *     (aspire_detect_models), resumable per image;
 *   - aspire_detect_finish / aspire_detect_run: the stage, writing DETDIR (docs/DETECT.md), from
 *     records that already hold the flips (`records` + `edits`), or in full mode from a dataset and
 *     a trained run (`data` + `run`: hold-out, captions, extraction, plate bank, edits and flips
 *     with the built-in models, src/aspire/detect_full.c).
 * Everything is deterministic: the same inputs and seed give the same bytes. */
#ifndef ASPIRE_DETECT_H
#define ASPIRE_DETECT_H

#include "aspire/common.h"
#include "aspire/image.h"
#include "aspire/record.h"

#include <cjson/cJSON.h>

/* ---- hold-out ----------------------------------------------------------------------------- */

/* The hold-out: of the images whose prediction equals their label, ceil(frac x their number) per
 * class, drawn with `seed` (the draw of a class does not depend on the other classes). labels[i]
 * and preds[i] for i in [0, n); labels must lie in [0, n_classes) (a prediction outside counts as
 * wrong). On success *idx (new array, aspire_free(*idx, *n_idx * sizeof(int64_t))) holds the chosen
 * indices in increasing order. Returns ASPIRE_OK, ASPIRE_ERR_ARG (frac outside (0, 1], a label out
 * of range) or ASPIRE_ERR_NOMEM. */
ASPIRE_API int aspire_detect_holdout(const int *labels, const int *preds, int64_t n, int n_classes, double frac,
                                     uint64_t seed, int64_t **idx, int64_t *n_idx);

/* ---- ranking ------------------------------------------------------------------------------ */

typedef enum aspire_feature_kind {
    ASPIRE_FEATURE_FOREGROUND = 0,   /* an object, removed by inpainting */
    ASPIRE_FEATURE_BACKGROUND = 1,   /* the background, replaced by the alternative */
} aspire_feature_kind;

/* "foreground" / "background" (as in features.json), and the tag of edit file names: "fg" / "bg". */
ASPIRE_API const char *aspire_feature_kind_name(aspire_feature_kind k);
ASPIRE_API const char *aspire_feature_kind_tag(aspire_feature_kind k);

/* A phrase's key, as the ranking compares phrases: ASCII lower case, '-', '_' and blanks read as one
 * space, trimmed ("Sail-Boat " → "sail boat"). Writes into out[0..n) (truncated, terminated). */
ASPIRE_API void aspire_detect_phrase_key(const char *phrase, char *out, size_t n);

/* One phrase of a class, normalised (lower case, '-' read as a space, single spaces). */
typedef struct aspire_phrase_stat {
    char *phrase;
    int flips;   /* images of the class whose edit of this phrase flipped the prediction */
    int occ;     /* images of the class that name this phrase (in foreground, resp. background) */
} aspire_phrase_stat;

/* A cluster of phrases of one kind that name the same thing. */
typedef struct aspire_cluster {
    aspire_feature_kind kind;
    aspire_phrase_stat *phrases;  /* n_phrases, by flips, then occurrences (both descending), then bytes */
    int n_phrases;
    const char *name;             /* phrases[0].phrase */
    int flips, occ;               /* sums over the phrases */
    double score;                 /* sum over the phrases of flips / occ */
    int rank;                     /* 1 = the most spurious feature of the class */
} aspire_cluster;

typedef struct aspire_class_ranking {
    int cls;
    char *label;                  /* the class's label from its records, else "class N" */
    int n_images;                 /* records of the class */
    int n_flipped_images;         /* records with at least one flagged edit */
    int n_flips;                  /* flagged edits */
    aspire_cluster *clusters;     /* n_clusters, in rank order (score, flips descending, then name,
                                   * then kind, foreground first); clusters without flips come last;
                                   * with min_occ > 1, those seen less often after those seen enough */
    int n_clusters;
} aspire_class_ranking;

/* Owned by the caller (aspire_ranking_destroy). */
typedef struct aspire_ranking {
    aspire_class_ranking *classes;  /* by class index */
    int n_classes;
} aspire_ranking;

typedef struct aspire_detect_rank_opts {
    double similarity;   /* bag-of-words cosine of the lemmas at which two phrases join: 0.7 */
    int n_classes;       /* report classes 0..n_classes-1 even without records; 0 = 1 + the largest class */
    /* lemmatiser: the phrase's base form into out[0..n); NULL = aspire_wordnet_lemma (extract.h) */
    int (*lemma)(const char *phrase, char *out, size_t n);
    /* aspire's addition: a cluster seen on fewer hold-out images than this ranks after every
     * cluster seen on at least this many (flips/occ of 1 of 2 images outranks 38 of 135 otherwise);
     * 1 (the default) = the reference's order */
    int min_occ;
} aspire_detect_rank_opts;

ASPIRE_API void aspire_detect_rank_opts_init(aspire_detect_rank_opts *o);

/* Ranks the features of every class from records that hold the flips (has_flips; a record without
 * them is ASPIRE_ERR_ARG naming its line). Per class, for every background and foreground phrase:
 * flips(f) and occ(f); phrases of one kind are clustered greedily (in the order flips, occ
 * descending, then bytes: a phrase joins the first cluster holding a phrase whose lemma's
 * bag-of-words cosine with its own is >= similarity, else starts one); score = sum of flips/occ.
 * A class with no flips is reported with its clusters at score 0. opt may be NULL (defaults).
 * *out is overwritten. Returns ASPIRE_OK, ASPIRE_ERR_ARG, ASPIRE_ERR_NOTFOUND (no WordNet) or
 * ASPIRE_ERR_NOMEM. */
ASPIRE_API int aspire_detect_rank(const aspire_records *rs, const aspire_detect_rank_opts *opt, aspire_ranking *out);
ASPIRE_API void aspire_ranking_destroy(aspire_ranking *rk);

/* features.json's content: {"classes": [{"class", "label", "images", "flipped_images", "flips",
 * "no_flips", "features": [{"rank", "kind", "name", "score", "flips", "occurrences", "phrases":
 * [{"phrase", "flips", "occurrences"}]}]}]}. NULL when out of memory. */
ASPIRE_API cJSON *aspire_ranking_to_json(const aspire_ranking *rk);
/* features.svg: per class, its top `top` features as horizontal bars of their score, background
 * bars in another colour, with a legend; a class without flips says so. A self-contained SVG
 * document in a new string (*svg, aspire_free(*svg, *n + 1)). */
ASPIRE_API int aspire_ranking_svg(const aspire_ranking *rk, int top, char **svg, size_t *n);

/* ---- selection ---------------------------------------------------------------------------- */

/* The name of an edit file: "{row}_{fg|bg}_{phrase}.{ext}" with the phrase's spaces as '-' (as the
 * reference names them) and '/', '\\' and control bytes as '_'. Returns the length (snprintf's). */
ASPIRE_API int aspire_edit_filename(char *buf, size_t n, int64_t row, aspire_feature_kind kind, const char *phrase,
                                    const char *ext);

typedef struct aspire_detect_selected {
    int64_t record;       /* index into the records */
    int64_t row;          /* the record's row (of its edit file) */
    int cls;
    aspire_feature_kind kind;
    const char *phrase;   /* the flagged phrase as the record writes it (borrowed from the records) */
    int cluster_rank;     /* rank of its cluster in the class */
} aspire_detect_selected;

typedef struct aspire_detect_selection {
    aspire_detect_selected *items;   /* by class, then cluster rank, then row */
    int64_t n;
} aspire_detect_selection;

typedef struct aspire_detect_select_opts {
    int max_per_class;   /* 35 */
    int top_quota;       /* from the top cluster: 15 */
    int next_quota;      /* from each next cluster: 10 */
    uint64_t seed;       /* 0 */
} aspire_detect_select_opts;

ASPIRE_API void aspire_detect_select_opts_init(aspire_detect_select_opts *o);

/* The non-spurious images of every class: walking the class's flagged clusters in rank order, up
 * to top_quota flagged edits of the first and next_quota of each next one, until max_per_class;
 * where a cluster has more, a draw with `seed` (per class and cluster) picks them. Everything is
 * keyed by record and row, never by position among the flipped images. rs and rk must be the
 * records and their ranking; items borrow phrases from rs. opt may be NULL. Returns ASPIRE_OK,
 * ASPIRE_ERR_ARG (a non-positive quota) or ASPIRE_ERR_NOMEM. */
ASPIRE_API int aspire_detect_select(const aspire_records *rs, const aspire_ranking *rk,
                                    const aspire_detect_select_opts *opt, aspire_detect_selection *out);
ASPIRE_API void aspire_detect_selection_destroy(aspire_detect_selection *s);

/* ---- edits and flips ---------------------------------------------------------------------- */

#define ASPIRE_DETECT_MAX_VOTES 15  /* replacements per background pair at most */
/* Alternative backgrounds in full mode: one scene of the other kind per class (the extractor's
 * proposal), or one drawn per image from the plates of the other kind. */
enum { ASPIRE_DETECT_ALT_CLASS = 0, ASPIRE_DETECT_ALT_IMAGE = 1 };

/* The models discovery calls (DESIGN.md §5), as a table so that the built-in models and real ones
 * plug in alike; the stage never knows which answered. Each returns ASPIRE_OK or a status with
 * aspire_error's message, and must be deterministic (same input, same output). Images are 8-bit
 * RGB (c = 3); masks are img->w * img->h bytes, 0 or 255. `ctx` is passed through. */
typedef struct aspire_detect_models {
    void *ctx;
    /* the trained classifier's prediction (argmax), preprocessed as in training */
    int (*classify)(void *ctx, const aspire_image *img, int *pred);
    /* grounding + segmentation: the union of the masks of every instance of `phrase` (lower
     * case); all zero when the phrase is not found */
    int (*segment)(void *ctx, const aspire_image *img, const char *phrase, uint8_t *mask);
    /* optional (NULL: none): grows the mask in place, as the reference dilates (10 x 10 at 224-512 px) */
    int (*dilate)(void *ctx, uint8_t *mask, int w, int h);
    /* object removal: *out (initialised by the callee) is img with the masked pixels filled */
    int (*inpaint)(void *ctx, const aspire_image *img, const uint8_t *mask, aspire_image *out);
    /* background replacement ("turn the background of {background} into {alternate}"): *out is
     * initialised by the callee, the objects kept */
    int (*replace_background)(void *ctx, const aspire_image *img, const char *background, const char *alternate,
                              aspire_image *out);
    /* optional (NULL: none): called once per hold-out image before its edits, with the image and its
     * record (foreground phrases, file name), e.g. to segment every phrase once and to keep the
     * foreground that replace_background must not touch */
    int (*begin)(void *ctx, const aspire_image *img, const aspire_record *rec);
    /* optional (NULL or votes <= 1: one replacement per pair): the sample-th of `votes` different
     * replacements (sample 0 is replace_background's); a pair's prediction is then the class most
     * of them get (ties: the original prediction), so that a flip does not hang on one scene */
    int (*replace_background_sample)(void *ctx, const aspire_image *img, const char *background,
                                     const char *alternate, int sample, aspire_image *out);
    int votes;
} aspire_detect_models;

/* Edits one hold-out image and classifies every edit (REFERENCE.md §5, §6). rec holds the
 * extraction (foreground, background, alternate_background) and its row; its flip fields are
 * replaced. The original prediction must equal rec->cls (else ASPIRE_ERR_ARG: not a hold-out
 * image). Then
 *   each (background[j], alternate[j]) pair: replace, classify, append the prediction to
 *     pred_alt_background; a prediction other than the original flags the pair (wp_background,
 *     wp_alternate_background) and saves the edit as edits_dir/{row}_bg_{background}.png;
 *   each foreground phrase: segment, dilate; an empty mask is skipped (nothing found); inpaint,
 *     classify; a flip flags the phrase (wp_foreground, its prediction in pred_rmv_foreground)
 *     and saves edits_dir/{row}_fg_{phrase}.png.
 * Edits are written atomically without fsync (the caller syncs once). Returns ASPIRE_OK or the
 * first failing status (rec's flip fields are then unspecified). */
ASPIRE_API int aspire_detect_flip_one(const aspire_detect_models *m, const aspire_image *img, aspire_record *rec,
                                      const char *edits_dir);

/* Runs aspire_detect_flip_one over every record, resumably: the image is image_dir/img_filename
 * (img_filename as is when absolute), the edits go to work_dir/edits/, and each finished image's
 * record to work_dir/flips/{row}.json (atomic); a record whose file is already there is read back
 * instead of edited again, so an interrupted run, run again, ends with the same records and edits.
 * A progress line on stderr unless quiet. On success every record has its flips. */
ASPIRE_API int aspire_detect_flips(const aspire_detect_models *m, aspire_records *rs, const char *image_dir,
                                   const char *work_dir, int quiet);

/* ---- the stage ---------------------------------------------------------------------------- */

typedef struct aspire_detect_opts {
    const char *out;          /* DETDIR (required) */
    /* records-in mode: detection records with the flips, and the folder of the flagged edits */
    const char *records;
    const char *edits;
    /* full mode: dataset (Waterbirds layout) and trained run folder (or weights file) */
    const char *data;
    const char *run;
    double holdout_frac;      /* 0.2 */
    const char *captions;     /* full mode: captions CSV (path,caption) to reuse; NULL = caption */
    const char *extracted;    /* full mode: extraction JSON lines to reuse; NULL = extract */
    const char *segmenter;    /* full mode: segmenter model (NULL = the shipped one) */
    const char *inpainter;    /* full mode: inpainter model (NULL = the shipped one, else Telea) */
    int dilate;               /* full mode: mask dilation radius in px, -1 = scaled (1 px at 64, 5 at 512) */
    int votes;                /* full mode: background replacements per pair, each on another plate; the
                               * pair's prediction is their majority: 3 (1 = the reference's one edit) */
    int seam;                 /* full mode: feathered seam of a replacement in px at 64 px: 0 = none
                               * (-1 = the replacer's default, 1) */
    int alternatives;         /* full mode: ASPIRE_DETECT_ALT_CLASS (default) or _IMAGE (docs/DETECT.md) */
    int threads;              /* full mode: 0 = all cores */
    int sheet_rows;           /* full mode: rows per class in flips.png: 4 */
    uint64_t seed;            /* 0 */
    double similarity;        /* 0.7 */
    int min_occ;              /* clusters on fewer images rank after the rest (aspire_detect_rank_opts): 5
                               * (1 = the reference's order) */
    int n_classes;            /* 0 = from the records */
    int max_per_class, top_quota, next_quota;   /* 35, 15, 10 */
    int svg_top;              /* bars per class in features.svg: 10 */
    int quiet;                /* no summary on stderr */
} aspire_detect_opts;

ASPIRE_API void aspire_detect_opts_init(aspire_detect_opts *o);

/* Runs discovery into o->out: detections.jsonl (the records), features.json, features.svg,
 * selected/ (metadata.csv img_filename,y + the chosen edit images), and detect.done last. Every file
 * is written atomically and is a function of the inputs and options only, so a run interrupted at
 * any point and run again gives the same bytes; a finished run with the same options is left as
 * it is. Errors name the file and line at fault. Full mode (data + run) also writes captions.csv,
 * extracted.jsonl, plates/, edits/, flips/ and flips.png (the contact sheet of flipped edits). */
ASPIRE_API int aspire_detect_run(const aspire_detect_opts *o);

/* Everything after the flips: from records that hold them (has_flips) and o->edits, the folder of
 * their flagged edits, writes o->out as aspire_detect_run does (o->records may be NULL; it only
 * names the records in messages and in the marker). Used by aspire_detect_run, and by full mode
 * after aspire_detect_flips. */
ASPIRE_API int aspire_detect_finish(const aspire_detect_opts *o, const aspire_records *rs);

/* The name of the completion marker inside DETDIR. */
#define ASPIRE_DETECT_DONE "detect.done"

#endif
