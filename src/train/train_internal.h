/* train_internal.h — the training module's private pieces: per-example losses from logits, the
 * epoch samplers, and the per-method state (GroupDRO's group weights, LfF's loss averages, JTT's
 * error set), each a plain function of arrays so that tests can check them without a network. */
#ifndef ASPIRE_TRAIN_INTERNAL_H
#define ASPIRE_TRAIN_INTERNAL_H

#include "aspire/rng.h"
#include "aspire/train.h"

/* logits (n, k) row-major, labels y[n] -> loss[n] = cross-entropy, pred[n] = argmax (first on
 * ties), p_y[n] = softmax probability of the label. Any output may be NULL. */
void tr_rows_ce(const float *logits, int64_t n, int k, const int32_t *y, float *loss, int32_t *pred, float *p_y);

/* ---- samplers -------------------------------------------------------------------------------
 * An epoch is `count` indices into the training pool. */
/* A random permutation of [0, n) (count = n). */
void tr_order_shuffle(int64_t *out, int64_t n, aspire_rng *r);
/* count draws with replacement, index i with probability w[i] / Σw (w >= 0, Σw > 0). */
int tr_order_weighted(int64_t *out, int64_t count, const double *w, int64_t n, aspire_rng *r);
/* count indices cycling through fresh shuffles of subset[0, m) (m >= 1). */
void tr_order_cycle(int64_t *out, int64_t count, const int64_t *subset, int64_t m, aspire_rng *r);
/* Group-balanced subset: every non-empty group (group[i] in [0, G), -1 ignored) cut at random to
 * the smallest non-empty group's size. Writes the chosen indices, sorted, to out; returns how many. */
int64_t tr_subsample_groups(int64_t *out, const int32_t *group, int64_t n, int G, aspire_rng *r);
/* Weights ∝ 1 / (size of the example's group), summing to n; examples with group -1 get the
 * average weight 1. */
void tr_group_balance_weights(double *w, const int32_t *group, int64_t n, int G);

/* ---- GroupDRO (Sagawa et al. 2020, their loss_computer's online update) ---------------------- */
typedef struct tr_dro {
    int G;
    double eta, adj;
    double *q;            /* (G) group weights, sum 1 */
    const int64_t *count; /* (G) training examples per group (for the adjustment) */
} tr_dro;
/* For one batch with per-example losses loss[n] and groups g[n]: each group's mean loss L_g (0 if
 * absent), q_g ∝ q_g · exp(η (L_g + C / sqrt(n_g))), then per-example weights w_i = q_{g_i} /
 * (batch count of g_i), so that Σ w_i loss_i = Σ_g q_g L_g, the robust loss (written to *robust). */
void tr_dro_step(tr_dro *d, const float *loss, const int32_t *g, int64_t n, float *w, double *robust);

/* ---- LfF (Nam et al. 2020, their training loop) -------------------------------------------- */
typedef struct tr_lff {
    int64_t n;          /* pool size */
    int K;
    double alpha, q;
    const int32_t *y;   /* (n) pool labels */
    float *ema_b, *ema_d;  /* (n) per-example loss averages of the biased / debiased model */
    float *seen;           /* (n) 1 once updated (float so it checkpoints as a tensor) */
} tr_lff;
/* For a batch (pool indices idx[n], losses of both models, biased model's label probability
 * p_b): updates the averages, then writes the biased model's GCE weights w_b = q · p_b^q and the
 * debiased model's relative-difficulty weights w_d = l_b / (l_b + l_d) with l = average / its
 * class maximum. */
void tr_lff_step(tr_lff *s, const int64_t *idx, int64_t n, const float *loss_b, const float *loss_d,
                 const float *p_b, float *w_b, float *w_d);

#endif
