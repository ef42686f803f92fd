/* logreg.c — L1-regularised logistic regression (proximal Newton + coordinate descent, as
 * liblinear's newGLMNET), feature standardisation, and DFR's tune-then-average last-layer fit. */
#include "aspire/logreg.h"
#include "aspire/rng.h"

#include <math.h>
#include <string.h>

int aspire_logreg_init(aspire_logreg *m, int dim, int nclasses) {
    ASPIRE_ASSERT(dim >= 1 && nclasses >= 2);
    memset(m, 0, sizeof *m);
    m->dim = dim;
    m->nclasses = nclasses;
    m->nout = nclasses == 2 ? 1 : nclasses;
    m->w = aspire_calloc((size_t)m->nout * (size_t)dim, sizeof(double));
    m->b = aspire_calloc((size_t)m->nout, sizeof(double));
    if (!m->w || !m->b) {
        aspire_logreg_destroy(m);
        return aspire_error(ASPIRE_ERR_NOMEM, "logreg: out of memory");
    }
    return ASPIRE_OK;
}

void aspire_logreg_destroy(aspire_logreg *m) {
    if (!m) return;
    aspire_free(m->w, (size_t)m->nout * (size_t)m->dim * sizeof(double));
    aspire_free(m->b, (size_t)m->nout * sizeof(double));
    memset(m, 0, sizeof *m);
}

/* log(1 + exp(-v)), stable for either sign */
static double logloss(double v) { return v > 0 ? log1p(exp(-v)) : -v + log1p(exp(v)); }
static double sigmoid(double v) {
    if (v >= 0) return 1.0 / (1.0 + exp(-v));
    double e = exp(v);
    return e / (1.0 + e);
}
static double soft(double v, double a) { return v > a ? v - a : v < -a ? v + a : 0.0; }

/* One binary problem: min λ||w||_1 + Σ s_i log(1 + exp(-t_i (w·x_i + b))), λ = 1/C (the
 * liblinear objective divided by C). */
typedef struct bin_problem {
    const double *xc;  /* (D, n) X column-major, so a coordinate's column is contiguous */
    const double *t;   /* (n) ±1 */
    const double *s;   /* (n) example weights */
    int64_t n;
    int D;
    double lambda;
} bin_problem;

typedef struct bin_work {
    double *z, *q, *h, *znew;  /* (n) each: margins, model step in margin space, curvature, trial */
    double *g, *hjj, *dw;      /* (D) each: gradient, diagonal curvature, step */
} bin_work;

static double objective(const bin_problem *P, const double *z, const double *w, double beta, const double *q,
                        const double *dw) {
    double f = 0, l1 = 0;
    for (int64_t i = 0; i < P->n; i++) f += P->s[i] * logloss(P->t[i] * (z[i] + beta * (q ? q[i] : 0)));
    for (int j = 0; j < P->D; j++) l1 += fabs(w[j] + beta * (dw ? dw[j] : 0));
    return f + P->lambda * l1;
}

/* Gradient of the smooth part into g (D) and *gb (r is scratch (n)); returns the largest KKT
 * violation of the whole objective. */
static double gradient(const bin_problem *P, const double *z, const double *w, double *g, double *gb, double *r) {
    const int64_t n = P->n;
    double sb = 0;
    for (int64_t i = 0; i < n; i++) {
        r[i] = -P->t[i] * P->s[i] * (1.0 - sigmoid(P->t[i] * z[i]));  /* d loss / d z_i */
        sb += r[i];
    }
    double viol = fabs(sb);
    for (int j = 0; j < P->D; j++) {
        const double *xj = P->xc + (size_t)j * (size_t)n;
        double acc = 0;
        for (int64_t i = 0; i < n; i++) acc += r[i] * xj[i];
        g[j] = acc;
        double v = w[j] > 0 ? fabs(acc + P->lambda) : w[j] < 0 ? fabs(acc - P->lambda) : fmax(0.0, fabs(acc) - P->lambda);
        if (v > viol) viol = v;
    }
    *gb = sb;
    return viol;
}

static int fit_binary(const bin_problem *P, double *w, double *b, const bin_work *W, double tol, int max_iter) {
    const int64_t n = P->n;
    const int D = P->D;
    double *z = W->z, *q = W->q, *h = W->h, *g = W->g, *hjj = W->hjj, *dw = W->dw;
    /* the stopping threshold is relative to the violation at w = 0, b = 0 (floored so that a
     * problem whose optimum is nearly 0 still stops) */
    double stot = 0, gb;
    for (int64_t i = 0; i < n; i++) { z[i] = 0; stot += P->s[i]; }
    memset(dw, 0, (size_t)D * sizeof(double));
    double viol0 = gradient(P, z, dw, g, &gb, h);
    double thresh = tol * fmax(viol0, 1e-3 * stot);
    for (int64_t i = 0; i < n; i++) {
        double v = *b;
        for (int j = 0; j < D; j++) v += w[j] * P->xc[(size_t)j * (size_t)n + (size_t)i];
        z[i] = v;
    }
    double F = objective(P, z, w, 0, NULL, NULL);
    int it;
    for (it = 0; it < max_iter; it++) {
        if (gradient(P, z, w, g, &gb, h) <= thresh) break;
        double hb = 0;
        for (int64_t i = 0; i < n; i++) {
            double p = sigmoid(P->t[i] * z[i]);
            h[i] = fmax(P->s[i] * p * (1.0 - p), 1e-12);
            hb += h[i];
            q[i] = 0;
        }
        for (int j = 0; j < D; j++) {
            const double *xj = P->xc + (size_t)j * (size_t)n;
            double acc = 0;
            for (int64_t i = 0; i < n; i++) acc += h[i] * xj[i] * xj[i];
            hjj[j] = fmax(acc, 1e-12);
            dw[j] = 0;
        }
        double db = 0;
        /* coordinate descent on the quadratic model. Coordinates at zero whose gradient is well
         * inside [-λ, λ] are skipped (shrinking); the KKT check above still covers them. */
        double first = -1;
        for (int sweep = 0; sweep < 100; sweep++) {
            double mx = 0;
            for (int j = 0; j < D; j++) {
                if (w[j] == 0 && dw[j] == 0 && fabs(g[j]) < 0.9 * P->lambda) continue;
                const double *xj = P->xc + (size_t)j * (size_t)n;
                double gq = g[j];
                for (int64_t i = 0; i < n; i++) gq += h[i] * xj[i] * q[i];
                double u = w[j] + dw[j];
                double d = soft(u - gq / hjj[j], P->lambda / hjj[j]) - u;
                if (d != 0) {
                    dw[j] += d;
                    for (int64_t i = 0; i < n; i++) q[i] += d * xj[i];
                    if (hjj[j] * d * d > mx) mx = hjj[j] * d * d;
                }
            }
            double gq = gb;
            for (int64_t i = 0; i < n; i++) gq += h[i] * q[i];
            double d = -gq / hb;
            db += d;
            for (int64_t i = 0; i < n; i++) q[i] += d;
            if (hb * d * d > mx) mx = hb * d * d;
            if (first < 0) first = mx;
            if (mx <= 1e-6 * first || mx <= 1e-24) break;
        }
        /* Armijo line search on the full objective */
        double delta = gb * db, l1 = 0, l1n = 0;
        for (int j = 0; j < D; j++) {
            delta += g[j] * dw[j];
            l1 += fabs(w[j]);
            l1n += fabs(w[j] + dw[j]);
        }
        delta += P->lambda * (l1n - l1);
        if (!(delta < 0)) break;  /* no descent left at this precision */
        double beta = 1;
        int accepted = 0;
        for (int ls = 0; ls < 40; ls++) {
            double Fn = objective(P, z, w, beta, q, dw);
            if (Fn - F <= 0.01 * beta * delta) { F = Fn; accepted = 1; break; }
            beta *= 0.5;
        }
        if (!accepted) break;
        for (int j = 0; j < D; j++) w[j] += beta * dw[j];
        *b += beta * db;
        for (int64_t i = 0; i < n; i++) z[i] += beta * q[i];
    }
    return it;
}

int aspire_logreg_fit(aspire_logreg *m, const float *x, const int32_t *y, const float *sw, int64_t n,
                      const aspire_logreg_options *opt, int *iters) {
    if (n <= 0) return aspire_error(ASPIRE_ERR_ARG, "logreg: no examples to fit");
    if (!(opt->C > 0)) return aspire_error(ASPIRE_ERR_ARG, "logreg: C must be > 0 (got %g)", opt->C);
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= m->nclasses)
            return aspire_error(ASPIRE_ERR_ARG, "logreg: example %lld has label %d, outside [0, %d)", (long long)i,
                                y[i], m->nclasses);
    const int D = m->dim;
    /* one block: X column-major (D·n), t, s, z, q, h, znew (n each), g, hjj, dw (D each) */
    size_t nn = (size_t)n, nd = nn * (size_t)D, total = nd + 6 * nn + 3 * (size_t)D;
    double *blk = aspire_malloc(total * sizeof(double));
    if (!blk) return aspire_error(ASPIRE_ERR_NOMEM, "logreg: out of memory for %lld × %d features", (long long)n, D);
    double *xc = blk, *t = xc + nd, *s = t + nn;
    bin_work W = {s + nn, s + 2 * nn, s + 3 * nn, s + 4 * nn, s + 5 * nn, s + 5 * nn + D, s + 5 * nn + 2 * (size_t)D};
    for (int64_t i = 0; i < n; i++) {
        s[i] = sw ? sw[i] : 1.0;
        for (int j = 0; j < D; j++) xc[(size_t)j * nn + (size_t)i] = x[(size_t)i * (size_t)D + (size_t)j];
    }
    bin_problem P = {xc, t, s, n, D, 1.0 / opt->C};
    double tol = opt->tol > 0 ? opt->tol : 1e-6;
    int max_iter = opt->max_iter > 0 ? opt->max_iter : 200, used = 0;
    for (int k = 0; k < m->nout; k++) {
        int pos = m->nout == 1 ? 1 : k;
        for (int64_t i = 0; i < n; i++) t[i] = y[i] == pos ? 1.0 : -1.0;
        int it = fit_binary(&P, m->w + (size_t)k * (size_t)D, &m->b[k], &W, tol, max_iter);
        if (it > used) used = it;
    }
    if (iters) *iters = used;
    aspire_free(blk, total * sizeof(double));
    return ASPIRE_OK;
}

void aspire_logreg_decision(const aspire_logreg *m, const float *x, int64_t n, double *out) {
    for (int64_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * (size_t)m->dim;
        for (int k = 0; k < m->nout; k++) {
            const double *wk = m->w + (size_t)k * (size_t)m->dim;
            double v = m->b[k];
            for (int j = 0; j < m->dim; j++) v += wk[j] * xi[j];
            out[(size_t)i * (size_t)m->nout + (size_t)k] = v;
        }
    }
}

void aspire_logreg_predict(const aspire_logreg *m, const float *x, int64_t n, int32_t *pred) {
    for (int64_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * (size_t)m->dim;
        int best = 0;
        double bestv = -INFINITY;
        for (int k = 0; k < m->nout; k++) {
            const double *wk = m->w + (size_t)k * (size_t)m->dim;
            double v = m->b[k];
            for (int j = 0; j < m->dim; j++) v += wk[j] * xi[j];
            if (v > bestv) { bestv = v; best = k; }
        }
        pred[i] = m->nout == 1 ? (bestv > 0) : best;
    }
}

double aspire_logreg_kkt(const aspire_logreg *m, const float *x, const int32_t *y, const float *sw, int64_t n,
                         double C) {
    double worst = 0, lambda = 1.0 / C;
    const int D = m->dim;
    double *g = aspire_malloc((size_t)D * sizeof(double));
    ASPIRE_ASSERT(g != NULL, "(out of memory)");
    for (int k = 0; k < m->nout; k++) {
        int pos = m->nout == 1 ? 1 : k;
        const double *w = m->w + (size_t)k * (size_t)D;
        double gb = 0;
        memset(g, 0, (size_t)D * sizeof(double));
        for (int64_t i = 0; i < n; i++) {
            const float *xi = x + (size_t)i * (size_t)D;
            double z = m->b[k];
            for (int j = 0; j < D; j++) z += w[j] * xi[j];
            double t = y[i] == pos ? 1.0 : -1.0, s = sw ? sw[i] : 1.0;
            double r = -t * s * (1.0 - sigmoid(t * z));
            gb += r;
            for (int j = 0; j < D; j++) g[j] += r * xi[j];
        }
        if (fabs(gb) > worst) worst = fabs(gb);
        for (int j = 0; j < D; j++) {
            double v = w[j] > 0 ? fabs(g[j] + lambda) : w[j] < 0 ? fabs(g[j] - lambda) : fmax(0.0, fabs(g[j]) - lambda);
            if (v > worst) worst = v;
        }
    }
    aspire_free(g, (size_t)D * sizeof(double));
    return worst;
}

/* ---- standardisation ------------------------------------------------------------------------ */
int aspire_standardizer_fit(aspire_standardizer *s, const float *x, int64_t n, int dim) {
    ASPIRE_ASSERT(n >= 1 && dim >= 1);
    memset(s, 0, sizeof *s);
    s->dim = dim;
    s->mean = aspire_calloc((size_t)dim, sizeof(double));
    s->scale = aspire_calloc((size_t)dim, sizeof(double));
    if (!s->mean || !s->scale) {
        aspire_standardizer_destroy(s);
        return aspire_error(ASPIRE_ERR_NOMEM, "standardizer: out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < dim; j++) s->mean[j] += x[(size_t)i * (size_t)dim + (size_t)j];
    for (int j = 0; j < dim; j++) s->mean[j] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < dim; j++) {
            double d = x[(size_t)i * (size_t)dim + (size_t)j] - s->mean[j];
            s->scale[j] += d * d;
        }
    for (int j = 0; j < dim; j++) {
        double sd = sqrt(s->scale[j] / (double)n);
        s->scale[j] = sd > 0 ? sd : 1.0;
    }
    return ASPIRE_OK;
}

void aspire_standardizer_destroy(aspire_standardizer *s) {
    if (!s) return;
    aspire_free(s->mean, (size_t)s->dim * sizeof(double));
    aspire_free(s->scale, (size_t)s->dim * sizeof(double));
    memset(s, 0, sizeof *s);
}

void aspire_standardizer_apply(const aspire_standardizer *s, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < s->dim; j++) {
            float *v = &x[(size_t)i * (size_t)s->dim + (size_t)j];
            *v = (float)((*v - s->mean[j]) / s->scale[j]);
        }
}

void aspire_standardizer_fold(const aspire_standardizer *s, aspire_logreg *m) {
    ASPIRE_ASSERT(s->dim == m->dim);
    for (int k = 0; k < m->nout; k++) {
        double *w = m->w + (size_t)k * (size_t)m->dim;
        for (int j = 0; j < m->dim; j++) {
            w[j] /= s->scale[j];
            m->b[k] -= w[j] * s->mean[j];
        }
    }
}

/* ---- DFR ------------------------------------------------------------------------------------ */
static const double default_grid[] = {1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01};

static const double default_w_grid[] = {1.0, 0.5, 0.25, 0.0};

typedef struct dfr_set {
    float *x;    /* (cap, D) */
    int32_t *y;  /* (cap) */
    float *w;    /* (cap) sample weights */
    int64_t n, cap;
} dfr_set;

static int set_reserve(dfr_set *s, int64_t cap, int D) {
    s->x = aspire_malloc((size_t)cap * (size_t)D * sizeof(float));
    s->y = aspire_malloc((size_t)cap * sizeof(int32_t));
    s->w = aspire_malloc((size_t)cap * sizeof(float));
    s->n = 0;
    s->cap = cap;
    return s->x && s->y && s->w ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "dfr: out of memory");
}

static void set_free(dfr_set *s, int D) {
    aspire_free(s->x, (size_t)s->cap * (size_t)D * sizeof(float));
    aspire_free(s->y, (size_t)s->cap * sizeof(int32_t));
    aspire_free(s->w, (size_t)s->cap * sizeof(float));
    memset(s, 0, sizeof *s);
}

static void set_push(dfr_set *s, const float *row, int32_t y, float w, int D) {
    ASPIRE_ASSERT(s->n < s->cap);
    memcpy(s->x + (size_t)s->n * (size_t)D, row, (size_t)D * sizeof(float));
    s->w[s->n] = w;
    s->y[s->n++] = y;
}

static void set_copy(dfr_set *dst, const dfr_set *src, int D) {
    ASPIRE_ASSERT(dst->cap >= src->n);
    memcpy(dst->x, src->x, (size_t)src->n * (size_t)D * sizeof(float));
    memcpy(dst->y, src->y, (size_t)src->n * sizeof(int32_t));
    memcpy(dst->w, src->w, (size_t)src->n * sizeof(float));
    dst->n = src->n;
}

/* Appends to out a group-balanced subsample of the examples idx[0, m) (every non-empty group cut
 * to the smallest non-empty group's size, *group_n, members chosen at random), weight 1 each. */
static int push_balanced(dfr_set *out, const int64_t *idx, int64_t m, const float *x, const int32_t *y,
                         const int32_t *g, int ngroups, int64_t *group_n, int D, aspire_rng *rng) {
    size_t cb = (size_t)ngroups * sizeof(int64_t), sb = ((size_t)ngroups + 1) * sizeof(int64_t);
    size_t mb = (size_t)(m > 0 ? m : 1) * sizeof(int64_t);
    int64_t *cnt = aspire_calloc((size_t)ngroups, sizeof(int64_t));
    int64_t *start = aspire_calloc((size_t)ngroups + 1, sizeof(int64_t));
    int64_t *members = aspire_malloc(mb);
    int rc = cnt && start && members ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "dfr: out of memory");
    if (!rc) {
        for (int64_t k = 0; k < m; k++) cnt[g[idx[k]]]++;
        int64_t ming = -1;
        for (int q = 0; q < ngroups; q++) {
            start[q + 1] = start[q] + cnt[q];
            if (cnt[q] && (ming < 0 || cnt[q] < ming)) ming = cnt[q];
            cnt[q] = 0;
        }
        for (int64_t k = 0; k < m; k++) {
            int q = g[idx[k]];
            members[start[q] + cnt[q]++] = idx[k];
        }
        for (int q = 0; q < ngroups; q++) {
            if (!cnt[q]) continue;
            aspire_rng_shuffle(rng, members + start[q], cnt[q]);
            for (int64_t k = 0; k < ming; k++) {
                int64_t i = members[start[q] + k];
                set_push(out, x + (size_t)i * (size_t)D, y[i], 1.0f, D);
            }
        }
        *group_n = ming > 0 ? ming : 0;
    }
    aspire_free(cnt, cb);
    aspire_free(start, sb);
    aspire_free(members, mb);
    return rc;
}

/* Appends the extra examples, those of each class weighing together wx times one balanced group
 * of group_n examples (wx = 0: none appended). ne_class[c]: the extra examples of class c. */
static void push_extra(dfr_set *out, const float *xe, const int32_t *ye, int64_t ne, const int64_t *ne_class,
                       double wx, int64_t group_n, int D) {
    for (int64_t k = 0; k < ne && wx > 0 && group_n > 0; k++)
        set_push(out, xe + (size_t)k * (size_t)D, ye[k], (float)(wx * (double)group_n / (double)ne_class[ye[k]]), D);
}

/* Worst-group accuracy of pred[k] for the examples idx[k], k < m (0 if no group is present). */
static double worst_group_acc(const int32_t *pred, const int32_t *y, const int32_t *g, const int64_t *idx, int64_t m,
                              int ngroups) {
    double worst = 1.0;
    int any = 0;
    for (int q = 0; q < ngroups; q++) {
        int64_t n = 0, c = 0;
        for (int64_t k = 0; k < m; k++)
            if (g[idx[k]] == q) { n++; c += pred[k] == y[idx[k]]; }
        if (n) { any = 1; if ((double)c / (double)n < worst) worst = (double)c / (double)n; }
    }
    return any ? worst : 0.0;
}

/* Standardises set on itself (in place), fits m at C from its current weights, and folds the
 * standardisation into m so that it takes raw features. */
static int fit_standardised(aspire_logreg *m, dfr_set *set, int D, double C, double tol) {
    aspire_standardizer st;
    int rc = aspire_standardizer_fit(&st, set->x, set->n, D);
    if (rc) return rc;
    aspire_standardizer_apply(&st, set->x, set->n);
    aspire_logreg_options o = {C, tol, 200};
    rc = aspire_logreg_fit(m, set->x, set->y, set->w, set->n, &o, NULL);
    if (!rc) aspire_standardizer_fold(&st, m);
    aspire_standardizer_destroy(&st);
    return rc;
}

static void logreg_zero(aspire_logreg *m) {
    memset(m->w, 0, (size_t)m->nout * (size_t)m->dim * sizeof(double));
    memset(m->b, 0, (size_t)m->nout * sizeof(double));
}

int aspire_dfr_fit(aspire_logreg *out, aspire_dfr_report *report, const aspire_dfr_options *opt, const float *x,
                   const int32_t *y, const int32_t *g, int64_t n, int ngroups, const float *xe, const int32_t *ye,
                   int64_t ne, int dim, int nclasses) {
    const double *grid = opt->c_grid ? opt->c_grid : default_grid;
    int nc = opt->c_grid ? opt->nc : (int)(sizeof default_grid / sizeof default_grid[0]);
    ASPIRE_ASSERT(nc >= 1 && nc <= 16, "(1 to 16 values of C)");
    /* without extra examples their weight does not matter: one value, the fit as before */
    const double *wgrid = opt->w_grid ? opt->w_grid : default_w_grid;
    int nw = opt->w_grid ? opt->nw : (int)(sizeof default_w_grid / sizeof default_w_grid[0]);
    ASPIRE_ASSERT(nw >= 1 && nw <= ASPIRE_DFR_MAX_W, "(1 to 8 extra weights)");
    if (ne == 0) nw = 1;
    int splits = opt->tune_splits > 0 ? opt->tune_splits : 3;
    int retrains = opt->retrains > 0 ? opt->retrains : 10;
    double tol = opt->tol > 0 ? opt->tol : 1e-6;
    memset(out, 0, sizeof *out);
    if (n < 4) return aspire_error(ASPIRE_ERR_ARG, "dfr: %lld validation examples are too few", (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (g[i] < 0 || g[i] >= ngroups || y[i] < 0 || y[i] >= nclasses)
            return aspire_error(ASPIRE_ERR_ARG, "dfr: validation example %lld has group %d / label %d out of range",
                                (long long)i, g[i], y[i]);
    for (int64_t k = 0; k < ne; k++)
        if (ye[k] < 0 || ye[k] >= nclasses)
            return aspire_error(ASPIRE_ERR_ARG, "dfr: extra example %lld has label %d out of range", (long long)k, ye[k]);
    for (int w = 0; w < nw; w++)
        if (!(wgrid[w] >= 0 && wgrid[w] <= 1e6))
            return aspire_error(ASPIRE_ERR_ARG, "dfr: extra weight %g out of range [0, 1e6]", wgrid[w]);
    aspire_rng rng;
    aspire_rng_seed(&rng, opt->seed ^ 0xDF5ull);
    double score[ASPIRE_DFR_MAX_W][16] = {{0}};
    size_t ib = (size_t)n * sizeof(int64_t), pb = (size_t)n * sizeof(int32_t), hb = (size_t)n * (size_t)dim * sizeof(float);
    size_t cb = (size_t)nclasses * sizeof(int64_t);
    int64_t *idx = aspire_malloc(ib), *ne_class = aspire_calloc((size_t)nclasses, sizeof(int64_t));
    int32_t *pred = aspire_malloc(pb);
    float *held = aspire_malloc(hb);
    dfr_set set = {0}, base = {0};
    aspire_logreg m = {0};
    int rc = idx && pred && held && ne_class ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "dfr: out of memory");
    for (int64_t k = 0; !rc && k < ne; k++) ne_class[ye[k]]++;
    if (!rc) rc = set_reserve(&set, n + ne, dim);
    if (!rc) rc = set_reserve(&base, n + ne, dim);
    if (!rc) rc = aspire_logreg_init(&m, dim, nclasses);
    /* tuning on random halves: every (extra weight, C) on the same balanced subsample */
    for (int sp = 0; !rc && sp < splits; sp++) {
        for (int64_t i = 0; i < n; i++) idx[i] = i;
        aspire_rng_shuffle(&rng, idx, n);
        int64_t half = n / 2;  /* held-out half idx[0, half), training half idx[half, n) */
        for (int64_t k = 0; k < half; k++)
            memcpy(held + (size_t)k * (size_t)dim, x + (size_t)idx[k] * (size_t)dim, (size_t)dim * sizeof(float));
        base.n = 0;
        int64_t group_n = 0;
        rc = push_balanced(&base, idx + half, n - half, x, y, g, ngroups, &group_n, dim, &rng);
        for (int w = 0; !rc && w < nw; w++)
            for (int c = 0; !rc && c < nc; c++) {
                set_copy(&set, &base, dim);
                push_extra(&set, xe, ye, ne, ne_class, wgrid[w], group_n, dim);
                logreg_zero(&m);
                rc = fit_standardised(&m, &set, dim, grid[c], tol);
                if (rc) break;
                aspire_logreg_predict(&m, held, half, pred);
                score[w][c] += worst_group_acc(pred, y, g, idx, half, ngroups) / splits;
            }
    }
    /* the best (weight, C); ties: the earlier weight, then the earlier C */
    int bw = 0, best = 0;
    for (int w = 0; w < nw; w++)
        for (int c = 0; c < nc; c++)
            if (score[w][c] > score[bw][best]) { bw = w; best = c; }
    /* final: average of `retrains` fits on balanced subsamples of the whole validation set */
    if (!rc) rc = aspire_logreg_init(out, dim, nclasses);
    int64_t bal_n = 0;
    for (int r = 0; !rc && r < retrains; r++) {
        for (int64_t i = 0; i < n; i++) idx[i] = i;
        set.n = 0;
        int64_t group_n = 0;
        rc = push_balanced(&set, idx, n, x, y, g, ngroups, &group_n, dim, &rng);
        if (rc) break;
        push_extra(&set, xe, ye, ne, ne_class, wgrid[bw], group_n, dim);
        bal_n = set.n;
        logreg_zero(&m);
        rc = fit_standardised(&m, &set, dim, grid[best], tol);
        for (int k = 0; !rc && k < m.nout; k++) {
            out->b[k] += m.b[k] / retrains;
            for (int j = 0; j < dim; j++)
                out->w[(size_t)k * (size_t)dim + (size_t)j] += m.w[(size_t)k * (size_t)dim + (size_t)j] / retrains;
        }
    }
    if (rc) aspire_logreg_destroy(out);
    if (!rc && report) {
        memset(report, 0, sizeof *report);
        report->c = grid[best];
        report->nc = nc;
        for (int c = 0; c < nc; c++) { report->c_grid[c] = grid[c]; report->tune_worst[c] = score[bw][c]; }
        report->balanced_n = bal_n;
        report->extra_weight = wgrid[bw];
        report->nw = ne ? nw : 0;
        for (int w = 0; w < report->nw; w++) {
            report->w_grid[w] = wgrid[w];
            double top = 0;
            for (int c = 0; c < nc; c++) if (score[w][c] > top) top = score[w][c];
            report->tune_worst_w[w] = top;
        }
    }
    aspire_logreg_destroy(&m);
    set_free(&set, dim);
    set_free(&base, dim);
    aspire_free(idx, ib);
    aspire_free(ne_class, cb);
    aspire_free(pred, pb);
    aspire_free(held, hb);
    return rc;
}
