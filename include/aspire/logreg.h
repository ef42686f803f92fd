/* logreg.h — L1-regularised logistic regression on feature vectors, feature standardisation, and
 * Deep Feature Reweighting's last-layer retraining built on them (Kirichenko et al., "Last Layer
 * Re-Training is Sufficient for Robustness to Spurious Correlations"; REFERENCE.md §10).
 *
 * The objective is liblinear's L1R_LR, the one scikit-learn's LogisticRegression(penalty="l1",
 * solver="liblinear", C=C) minimises:  ||w||_1 + C · Σ_i s_i · log(1 + exp(-t_i (w·x_i + b)))
 * with t_i = ±1 and per-example weights s_i (1 by default). One difference, on purpose: the
 * intercept b is not penalised (liblinear penalises it as an extra feature of value 1). Two
 * classes fit one weight vector (class 1 positive); K > 2 classes fit K one-vs-rest problems and
 * predict the argmax of their decision values, as liblinear does. The solver is proximal Newton
 * with coordinate descent on each quadratic model and an Armijo line search (newGLMNET's scheme),
 * run to a relative KKT residual of `tol`. */
#ifndef ASPIRE_LOGREG_H
#define ASPIRE_LOGREG_H

#include "aspire/common.h"

/* A fitted linear classifier. Caller-owned: _init / _destroy. */
typedef struct aspire_logreg {
    int dim;        /* D: features */
    int nclasses;   /* K >= 2 */
    int nout;       /* 1 for K = 2, else K */
    double *w;      /* (nout, D) */
    double *b;      /* (nout) */
} aspire_logreg;

ASPIRE_API int aspire_logreg_init(aspire_logreg *m, int dim, int nclasses); /* zero weights */
ASPIRE_API void aspire_logreg_destroy(aspire_logreg *m);                    /* NULL / zeroed ok */

typedef struct aspire_logreg_options {
    double C;        /* inverse regularisation strength (> 0) */
    double tol;      /* stop when the KKT residual is below tol × its value at w = 0 (default 1e-6) */
    int max_iter;    /* Newton iterations at most (default 200) */
} aspire_logreg_options;

/* Fits m (its dim and nclasses fixed by _init) to x (n, D) row-major, labels y[n] in [0, K),
 * weights sw[n] >= 0 or NULL. Starts from m's current weights (warm start). Returns ASPIRE_OK, or
 * ASPIRE_ERR_ARG for n = 0, a label out of range or C <= 0. Not converging within max_iter is not
 * an error: the last iterate is kept. *iters (may be NULL) receives the Newton iterations used. */
ASPIRE_API int aspire_logreg_fit(aspire_logreg *m, const float *x, const int32_t *y, const float *sw, int64_t n,
                                 const aspire_logreg_options *opt, int *iters);
/* Decision values: (n, nout) into out: for K = 2 the score of class 1. */
ASPIRE_API void aspire_logreg_decision(const aspire_logreg *m, const float *x, int64_t n, double *out);
/* Predicted classes into pred[n]. */
ASPIRE_API void aspire_logreg_predict(const aspire_logreg *m, const float *x, int64_t n, int32_t *pred);
/* The largest KKT violation of the objective at m's weights (0 at the optimum); for tests. */
ASPIRE_API double aspire_logreg_kkt(const aspire_logreg *m, const float *x, const int32_t *y, const float *sw,
                                    int64_t n, double C);

/* ---- standardisation ------------------------------------------------------------------------ */
typedef struct aspire_standardizer {
    int dim;
    double *mean;   /* (D) */
    double *scale;  /* (D) standard deviation (population), 1 where it is 0 */
} aspire_standardizer;

/* Fits mean and standard deviation of x (n, D), n >= 1. Caller-owned; _destroy frees. */
ASPIRE_API int aspire_standardizer_fit(aspire_standardizer *s, const float *x, int64_t n, int dim);
ASPIRE_API void aspire_standardizer_destroy(aspire_standardizer *s);
/* x (n, D) in place: (x - mean) / scale. */
ASPIRE_API void aspire_standardizer_apply(const aspire_standardizer *s, float *x, int64_t n);
/* Rewrites m (fitted on standardised features) so that it takes raw features and decides the same. */
ASPIRE_API void aspire_standardizer_fold(const aspire_standardizer *s, aspire_logreg *m);

/* ---- DFR ------------------------------------------------------------------------------------
 * Tuning: `tune_splits` times, the validation set is shuffled and halved; the first half is
 * group-balanced (every group subsampled to the smallest one's size), the extra examples are
 * appended, features are standardised on that set, and one model per C is fitted; C is chosen
 * by the worst-group accuracy on the other half, averaged over the splits (first C of the grid
 * wins ties). Final fit, as DFR's code does it: `retrains` models, each on a fresh group-balanced
 * subsample of the whole validation set plus the extra examples, standardised on its own set,
 * folded back to raw features and averaged (weights and intercepts). Empty groups are ignored
 * when balancing. Extra examples (ASPIRE's images) join every fit with a weight: those of a class
 * weigh together w times one balanced group; w is tuned with C on the held-out halves from
 * `w_grid` (default {1, .5, .25, 0}: 0 leaves them out where they do not help the validation
 * split's worst group). */
#define ASPIRE_DFR_MAX_W 8
typedef struct aspire_dfr_options {
    const double *c_grid;  /* NULL: {1, .7, .3, .1, .07, .03, .01} */
    int nc;
    int tune_splits;       /* 0: 3 */
    int retrains;          /* 0: 10 (the paper's count) */
    uint64_t seed;
    double tol;            /* 0: 1e-6 */
    const double *w_grid;  /* NULL: {1, .5, .25, 0}; weights of the extra examples (see above) */
    int nw;
} aspire_dfr_options;

typedef struct aspire_dfr_report {
    double c;              /* the chosen C */
    int nc;
    double c_grid[16];
    double tune_worst[16]; /* mean worst-group accuracy on the held-out halves per C */
    int64_t balanced_n;    /* examples per final retraining set (balanced validation + extra) */
    double extra_weight;   /* the chosen weight of the extra examples */
    int nw;                /* 0 without extra examples */
    double w_grid[ASPIRE_DFR_MAX_W];
    double tune_worst_w[ASPIRE_DFR_MAX_W]; /* per weight, the best mean worst-group accuracy over C */
} aspire_dfr_report;

/* x (n, D) features of the validation split with labels y[n] and group ids g[n] in [0, ngroups);
 * xe (ne, D), ye[ne] extra labelled examples without groups (may be NULL / 0). The averaged
 * classifier goes to out (initialised by this call; destroy it). report may be NULL. */
ASPIRE_API int aspire_dfr_fit(aspire_logreg *out, aspire_dfr_report *report, const aspire_dfr_options *opt,
                              const float *x, const int32_t *y, const int32_t *g, int64_t n, int ngroups,
                              const float *xe, const int32_t *ye, int64_t ne, int dim, int nclasses);

#endif
