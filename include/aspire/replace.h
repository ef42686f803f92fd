/* replace.h — the background replacer (aspire's counterpart of InstructPix2Pix's "turn the background
 * of {bg} into {alt}"): an RGB image, its foreground mask and an alternative background phrase in;
 * the same foreground on a background of the alternative's kind out.
 *
 * The foreground mask is `const uint8_t *fg`, h*w bytes, nonzero = foreground: the union of the
 * bird and every object the segmenter finds (given by the caller; see mask.h for the segmenter's
 * masks). The contract every backend shares, enforced by aspire_replacer_run: foreground pixels
 * come back bit-exact.
 *
 * The built-in backend composites onto a "plate": a background made from the dataset's own images
 * (aspire edit plates): for each image, the background phrase the extractor reads from its caption,
 * and the image with its objects inpainted away, tagged with that phrase. Replacing picks a plate
 * whose phrase is the alternative (or, failing that, one of the same kind — water or land — by the
 * extractor's WordNet module), resizes it to the image, pastes the foreground, and feathers a thin
 * seam just outside the foreground. No group labels, no ground truth of any world. */
#ifndef ASPIRE_REPLACE_H
#define ASPIRE_REPLACE_H

#include "aspire/common.h"
#include "aspire/extract.h"
#include "aspire/image.h"

/* ---- the plate bank -------------------------------------------------------------------------- */

/* A plate bank folder holds plates.csv (columns file,phrase,kind,source: the plate's PNG relative to
 * the folder, its background phrase, "water", "land" or "" by WordNet, and the image it came from)
 * and the PNGs. */
typedef struct aspire_plate_bank aspire_plate_bank;

/* Loads DIR/plates.csv and every plate image. Errors name the file and line (a missing column, an
 * empty phrase, an unreadable image). An empty bank is refused. */
ASPIRE_API int aspire_plate_bank_load(aspire_plate_bank **out, const char *dir);
ASPIRE_API void aspire_plate_bank_free(aspire_plate_bank *b);  /* accepts NULL */
ASPIRE_API int aspire_plate_bank_count(const aspire_plate_bank *b);
ASPIRE_API const char *aspire_plate_bank_phrase(const aspire_plate_bank *b, int i);
ASPIRE_API const aspire_image *aspire_plate_bank_image(const aspire_plate_bank *b, int i);

/* The kind of a background phrase by the extractor's contrast rule (WordNet for the built-in
 * backend, through aspire_extractor_alternates on the phrase alone): 1 = water ("lake", "ocean",
 * "sea", "water"), 0 = land ("forest", "desert", "land"), -1 = neither or unknown. */
ASPIRE_API int aspire_background_kind(aspire_extractor *ex, const char *phrase, int *kind);

/* ---- the replacer: backend table ------------------------------------------------------------- */

/* A backend. `impl` is owned by the replacer once aspire_replacer_new succeeds.
 *   replace  writes into *out (zeroed, caller-owned struct) a new RGB image of img's size: img with
 *            its background turned into `alt`. `background` is the image's own background phrase
 *            or NULL when unknown; `key` varies the choice between equally good backgrounds
 *            (callers pass e.g. a hash of the file name, so that a folder does not get one plate).
 *            The replacer copies the foreground pixels back afterwards.
 *   free     releases impl (may be NULL). */
typedef struct aspire_replacer_backend {
    const char *name;
    int (*replace)(void *impl, const aspire_image *img, const uint8_t *fg, const char *background, const char *alt,
                   uint64_t key, aspire_image *out);
    void (*free)(void *impl);
} aspire_replacer_backend;

typedef struct aspire_replacer aspire_replacer;

ASPIRE_API int aspire_replacer_new(const aspire_replacer_backend *backend, void *impl, aspire_replacer **out);
/* The plate-bank backend over the bank in `dir`. `seam` is the feathered band's width in pixels at
 * 64 px (scaled with the image side; 0 = no feathering, < 0 = the default 1). */
ASPIRE_API int aspire_replacer_new_plates(const char *dir, int seam, aspire_replacer **out);
ASPIRE_API void aspire_replacer_free(aspire_replacer *r);  /* accepts NULL */
ASPIRE_API const char *aspire_replacer_name(const aspire_replacer *r);

/* Replaces img's background (img any channel count; out is RGB). Foreground pixels of out equal
 * img's (as RGB) bit for bit. ASPIRE_ERR_NOTFOUND (message naming the phrase) when the backend has
 * nothing of the alternative's kind. */
ASPIRE_API int aspire_replacer_run(aspire_replacer *r, const aspire_image *img, const uint8_t *fg,
                                   const char *background, const char *alt, uint64_t key, aspire_image *out);

/* FNV-1a of a string: a convenient `key` from a file name. */
ASPIRE_API uint64_t aspire_replace_key(const char *s);

#endif
