/* metrics.h — accuracy per group (class × spurious attribute, e.g. landbird on water), the two
 * conventions of "average accuracy", worst-group and worst-class accuracy, and the model-selection
 * rules of the robust-training literature.
 *
 * A group is (y, place) with id y * nplaces + place, as Waterbirds numbers them (0 landbird/land,
 * 1 landbird/water, 2 waterbird/land, 3 waterbird/water). Examples whose place is unknown (< 0,
 * e.g. images added with --extra) count towards their class but towards no group. */
#ifndef ASPIRE_METRICS_H
#define ASPIRE_METRICS_H

#include "aspire/common.h"

#include <stdio.h>

/* An accumulator of (label, place, prediction) triples. Caller-owned: _init / _destroy. */
typedef struct aspire_metrics {
    int nclasses;            /* K */
    int nplaces;             /* P: values of the spurious attribute */
    int64_t *group_n;        /* (K * P) examples per group */
    int64_t *group_correct;  /* (K * P) correctly classified per group */
    int64_t *class_n;        /* (K) examples per class, placeless ones included */
    int64_t *class_correct;  /* (K) */
} aspire_metrics;

/* Allocates zeroed counters for K classes and P places (K, P >= 1). */
ASPIRE_API int aspire_metrics_init(aspire_metrics *m, int nclasses, int nplaces);
/* Frees the counters; accepts a zeroed or already-destroyed struct. */
ASPIRE_API void aspire_metrics_destroy(aspire_metrics *m);
ASPIRE_API void aspire_metrics_reset(aspire_metrics *m);
/* Counts one example. y in [0, K), pred any int (a prediction outside [0, K) is simply wrong),
 * place in [0, P) or < 0 for unknown. Out-of-range y or place >= P abort (contract). */
ASPIRE_API void aspire_metrics_add(aspire_metrics *m, int y, int place, int pred);
/* Counts n examples; place may be NULL (all unknown). */
ASPIRE_API void aspire_metrics_add_batch(aspire_metrics *m, int64_t n, const int32_t *y, const int32_t *place,
                                         const int32_t *pred);

/* Figures derived from the counters; accuracies are fractions in [0, 1], NaN where undefined
 * (no examples, or no training proportions given). Empty groups and classes are skipped by the
 * minimum and the averages. */
typedef struct aspire_metrics_summary {
    int64_t n;               /* examples counted */
    double mean;             /* plain accuracy over the examples of the split ("average accuracy"
                                as SubpopBench reports it) */
    double group_mean;       /* unweighted mean of the group accuracies */
    double weighted_mean;    /* group accuracies weighted by the training split's group
                                proportions (the "average accuracy" of Sagawa et al. and DFR on
                                Waterbirds, where test groups are not distributed as in training) */
    double worst_group;      /* minimum group accuracy */
    int worst_group_id;      /* its group id, -1 if none */
    double worst_class;      /* minimum class accuracy */
    int worst_class_id;      /* -1 if none */
} aspire_metrics_summary;

/* train_group_n: (K * P) group sizes of the training split for weighted_mean, or NULL. */
ASPIRE_API aspire_metrics_summary aspire_metrics_summarize(const aspire_metrics *m, const int64_t *train_group_n);
ASPIRE_API double aspire_metrics_group_acc(const aspire_metrics *m, int group); /* NaN if empty */
ASPIRE_API double aspire_metrics_class_acc(const aspire_metrics *m, int y);     /* NaN if empty */

/* Prints the table: one row per group (y, place, n, accuracy), then mean, group mean, weighted
 * mean, worst group and worst class, each labelled with its convention. class_names and
 * place_names (K and P strings) may be NULL for numbers. */
ASPIRE_API void aspire_metrics_print(FILE *f, const aspire_metrics *m, const aspire_metrics_summary *s,
                                     const char *const *class_names, const char *const *place_names);
/* One JSON object {"n", "mean", "group_mean", "weighted_mean", "worst_group", "worst_class",
 * "groups": [{"y", "place", "n", "acc"}...], "classes": [{"y", "n", "acc"}...]}; NaN is written
 * as null. Returns a new string (free with aspire_strfree) or NULL on OOM. */
ASPIRE_API char *aspire_metrics_to_json(const aspire_metrics *m, const aspire_metrics_summary *s);

/* ---- model selection ------------------------------------------------------------------------
 * SubpopBench's rule: a method that may use group labels selects its checkpoint by worst-group
 * validation accuracy; one that may not (ERM, JTT, LfF) by worst-class validation accuracy. */
typedef enum aspire_select_rule {
    ASPIRE_SELECT_WORST_GROUP = 0,
    ASPIRE_SELECT_WORST_CLASS = 1,
} aspire_select_rule;

ASPIRE_API const char *aspire_select_rule_name(aspire_select_rule r); /* "worst_group" / "worst_class" */
/* Parses a name from aspire_select_rule_name; ASPIRE_ERR_ARG for anything else. */
ASPIRE_API int aspire_select_rule_parse(const char *name, aspire_select_rule *out);
/* The score a rule maximises (NaN counts as -1, below every real score). */
ASPIRE_API double aspire_select_score(const aspire_metrics_summary *s, aspire_select_rule r);
/* Whether a candidate beats the incumbent: higher score, ties broken by higher plain mean; an
 * exact tie keeps the incumbent (the earlier epoch). best may be NULL (no incumbent yet). */
ASPIRE_API int aspire_select_better(const aspire_metrics_summary *cand, const aspire_metrics_summary *best,
                                    aspire_select_rule r);

#endif
