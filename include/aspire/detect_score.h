/* detect_score.h — scoring discovery against the benchmark world's oracle (make bench-detect,
 * bench/detect.c; docs/DETECT.md "The discovery bench"). Pure functions, no I/O and no world
 * rendering: the bench renders the world's counterfactuals and classifies them, these functions
 * map detect's phrases onto the world's features, find the top feature of each side, correlate
 * the two rankings and count the per-image flags. Only benchmarks use this; no stage does.
 *
 * The world's features of one class: the background by kind (an image on land set to water, an
 * image on water set to land) and each context object category (sailboat, tree, …). The bird
 * itself is no feature (detect never removes the class's own object). */
#ifndef ASPIRE_DETECT_SCORE_H
#define ASPIRE_DETECT_SCORE_H

#include "aspire/common.h"
#include "aspire/detect.h"
#include "aspire/record.h"
#include "aspire/world.h"

/* Feature indices: the two background kinds (index = the world's place: 0 land, 1 water), then the
 * context objects in the world's catalogue order. */
#define ASPIRE_DSCORE_BG_LAND 0
#define ASPIRE_DSCORE_BG_WATER 1
#define ASPIRE_DSCORE_NFEATURES (2 + ASPIRE_WORLD_NEMOJI - ASPIRE_WORLD_FIRST_OBJECT)
#define ASPIRE_DSCORE_NONE (-1)   /* a phrase that names nothing of the world */
#define ASPIRE_DSCORE_BIRD (-2)   /* a phrase that names a bird (no feature) */

/* The feature of a context object (emoji index), ASPIRE_DSCORE_BIRD for a bird, NONE out of range. */
ASPIRE_API int aspire_dscore_object_feature(int emoji);
/* "bg:land", "bg:water", "sailboat", …; "-" for NONE, "bird" for BIRD. */
ASPIRE_API const char *aspire_dscore_feature_name(int f);

/* The feature a phrase of detect names. Background phrases: a world background name ("lake",
 * "forests") → the background of its kind. Foreground phrases: an object's name or one of the
 * world captions' synonyms ("boat", "sailing boat" → sailboat; "seashell" → shell; "pine tree",
 * "evergreen tree" → pine; "flower" → sunflower), else the phrase's last word ("red balloon" →
 * balloon); a bird's name or "bird" → ASPIRE_DSCORE_BIRD. Phrases are compared as
 * aspire_detect_phrase_key does, and plurals are read through WordNet's lemma when it is there.
 * "tree" names the tree, or the pine when `present` (NULL or ASPIRE_DSCORE_NFEATURES flags of the
 * image's scene) has a pine and no tree: the world's captions call a pine a tree too.
 * Returns a feature index, ASPIRE_DSCORE_BIRD or ASPIRE_DSCORE_NONE. */
ASPIRE_API int aspire_dscore_map_phrase(aspire_feature_kind kind, const char *phrase, const int *present);

/* Spearman's rank correlation of a[0..n) and b[0..n): Pearson's correlation of their ranks, tied
 * values sharing their average rank (O(n^2): meant for the dozen features of a class). NAN when
 * n < 2, when either side is constant (undefined) or when out of memory. */
ASPIRE_API double aspire_spearman(const double *a, const double *b, int n);

/* Detect's side of one class, from its ranking: score[f] (ASPIRE_DSCORE_NFEATURES entries) = the
 * largest, over the class's clusters, of the sum of flips/occ of the cluster's phrases that map to
 * f (a cluster that maps wholly to f scores its own score); 0 where nothing maps. *top = the
 * feature of the #1 cluster's name (its phrase with the most flips) when that cluster has flips,
 * else ASPIRE_DSCORE_NONE (a class without flips has no #1). */
ASPIRE_API void aspire_dscore_detect_side(const aspire_class_ranking *cr, double *score, int *top);

/* The oracle's #1 feature of one class: of the features with count[f] >= min_count, the one with the
 * highest flip rate flips[f] / count[f] (ties: more flips, then the lower index). *rate receives its
 * rate. Returns the feature, or ASPIRE_DSCORE_NONE when no feature has min_count images. */
ASPIRE_API int aspire_dscore_oracle_top(const int *flips, const int *count, int min_count, double *rate);

/* The rank correlation of one class: Spearman over the features with count[f] >= min_count of the
 * oracle's flip rate flips[f] / count[f] against detect's score det[f]. *n_used receives how many
 * features took part. NAN when undefined (fewer than 2 features, or a constant side). */
ASPIRE_API double aspire_dscore_rank_corr(const int *flips, const int *count, const double *det, int min_count,
                                          int *n_used);

/* Detect's per-image flags: flag[f] = 1 (ASPIRE_DSCORE_NFEATURES entries, zeroed first) for
 *   bg_feature (the image's own background kind) when a background replacement changed the
 *   prediction (an entry of pred_alt_background other than rec->cls);
 *   every feature a flagged foreground phrase (wp_foreground) maps to, with `present` (the scene's
 *   features, for "tree") as aspire_dscore_map_phrase takes it.
 * Returns how many flagged phrases mapped to no feature (bird or nothing of the world). */
ASPIRE_API int aspire_dscore_image_flags(const aspire_record *rec, int bg_feature, const int *present, int *flag);

/* Per-image flag counts against the oracle's flips. */
typedef struct aspire_dscore_counts {
    long tp;  /* detect flagged it and the counterfactual flipped */
    long fp;  /* detect flagged it, the counterfactual did not flip (or the feature is not in the scene) */
    long fn;  /* the counterfactual flipped, detect did not flag it */
    long tn;
} aspire_dscore_counts;

/* Adds one (image, feature) unit: detect's flag against the oracle's flip. */
ASPIRE_API void aspire_dscore_count(aspire_dscore_counts *c, int flagged, int flipped);
/* tp / (tp + fp) and tp / (tp + fn); NAN when the denominator is 0. */
ASPIRE_API double aspire_dscore_precision(const aspire_dscore_counts *c);
ASPIRE_API double aspire_dscore_recall(const aspire_dscore_counts *c);

#endif
