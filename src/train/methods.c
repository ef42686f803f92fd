/* methods.c — the methods' names and selection rules, per-example losses from logits, the epoch
 * samplers, and the per-batch arithmetic of GroupDRO and LfF. */
#include "train/train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[ASPIRE_METHOD_COUNT] = {
    [ASPIRE_METHOD_ERM] = "erm",           [ASPIRE_METHOD_JTT] = "jtt",
    [ASPIRE_METHOD_LFF] = "lff",           [ASPIRE_METHOD_GROUPDRO] = "groupdro",
    [ASPIRE_METHOD_REWEIGHT] = "reweight", [ASPIRE_METHOD_SUBSAMPLE] = "subsample",
    [ASPIRE_METHOD_DFR] = "dfr",
};

const char *aspire_method_name(aspire_method m) {
    ASPIRE_ASSERT(m >= 0 && m < ASPIRE_METHOD_COUNT);
    return method_names[m];
}

int aspire_method_parse(const char *name, aspire_method *out) {
    for (int m = 0; m < ASPIRE_METHOD_COUNT; m++)
        if (strcmp(name, method_names[m]) == 0) { *out = (aspire_method)m; return ASPIRE_OK; }
    return aspire_error(ASPIRE_ERR_ARG, "unknown method '%s' (erm, jtt, lff, groupdro, reweight, subsample, dfr)",
                        name);
}

int aspire_method_uses_groups(aspire_method m) {
    return m == ASPIRE_METHOD_GROUPDRO || m == ASPIRE_METHOD_REWEIGHT || m == ASPIRE_METHOD_SUBSAMPLE ||
           m == ASPIRE_METHOD_DFR;
}

aspire_select_rule aspire_method_select_rule(aspire_method m) {
    return aspire_method_uses_groups(m) ? ASPIRE_SELECT_WORST_GROUP : ASPIRE_SELECT_WORST_CLASS;
}

void tr_rows_ce(const float *logits, int64_t n, int k, const int32_t *y, float *loss, int32_t *pred, float *p_y) {
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * (size_t)k;
        int best = 0;
        for (int c = 1; c < k; c++) if (z[c] > z[best]) best = c;
        double s = 0;
        for (int c = 0; c < k; c++) s += exp((double)z[c] - z[best]);
        double lse = z[best] + log(s);
        if (loss) loss[i] = (float)(lse - z[y[i]]);
        if (pred) pred[i] = best;
        if (p_y) p_y[i] = (float)exp(z[y[i]] - lse);
    }
}

/* ---- samplers ------------------------------------------------------------------------------- */
void tr_order_shuffle(int64_t *out, int64_t n, aspire_rng *r) {
    for (int64_t i = 0; i < n; i++) out[i] = i;
    aspire_rng_shuffle(r, out, n);
}

int tr_order_weighted(int64_t *out, int64_t count, const double *w, int64_t n, aspire_rng *r) {
    double *cum = aspire_malloc((size_t)n * sizeof(double));
    if (!cum) return aspire_error(ASPIRE_ERR_NOMEM, "sampler: out of memory");
    double s = 0;
    for (int64_t i = 0; i < n; i++) { ASPIRE_ASSERT(w[i] >= 0); s += w[i]; cum[i] = s; }
    ASPIRE_ASSERT(s > 0, "(sampling weights sum to 0)");
    for (int64_t k = 0; k < count; k++) {
        double u = aspire_rng_uniform(r) * s;
        int64_t lo = 0, hi = n - 1;  /* first i with cum[i] > u */
        while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            if (cum[mid] > u) hi = mid; else lo = mid + 1;
        }
        while (lo > 0 && w[lo] == 0) lo--;  /* u landed exactly on a boundary: never pick weight 0 */
        out[k] = lo;
    }
    aspire_free(cum, (size_t)n * sizeof(double));
    return ASPIRE_OK;
}

void tr_order_cycle(int64_t *out, int64_t count, const int64_t *subset, int64_t m, aspire_rng *r) {
    ASPIRE_ASSERT(m >= 1);
    int64_t *tmp = aspire_malloc((size_t)m * sizeof(int64_t));
    ASPIRE_ASSERT(tmp != NULL, "(out of memory)");
    for (int64_t k = 0; k < count; k += m) {
        /* a fresh shuffle of the subset; the last round keeps only what still fits */
        memcpy(tmp, subset, (size_t)m * sizeof(int64_t));
        aspire_rng_shuffle(r, tmp, m);
        memcpy(out + k, tmp, (size_t)(count - k < m ? count - k : m) * sizeof(int64_t));
    }
    aspire_free(tmp, (size_t)m * sizeof(int64_t));
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t tr_subsample_groups(int64_t *out, const int32_t *group, int64_t n, int G, aspire_rng *r) {
    int64_t *cnt = aspire_calloc((size_t)G, sizeof(int64_t));
    int64_t *tmp = aspire_malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    ASPIRE_ASSERT(cnt && tmp, "(out of memory)");
    for (int64_t i = 0; i < n; i++) if (group[i] >= 0) cnt[group[i]]++;
    int64_t ming = -1;
    for (int q = 0; q < G; q++) if (cnt[q] && (ming < 0 || cnt[q] < ming)) ming = cnt[q];
    int64_t m = 0;
    for (int q = 0; q < G && ming > 0; q++) {
        int64_t k = 0;
        for (int64_t i = 0; i < n; i++) if (group[i] == q) tmp[k++] = i;
        if (!k) continue;  /* an empty group is ignored, not balanced to */
        aspire_rng_shuffle(r, tmp, k);
        memcpy(out + m, tmp, (size_t)ming * sizeof(int64_t));
        m += ming;
    }
    qsort(out, (size_t)m, sizeof(int64_t), cmp_i64);
    aspire_free(cnt, (size_t)G * sizeof(int64_t));
    aspire_free(tmp, (size_t)(n ? n : 1) * sizeof(int64_t));
    return m;
}

void tr_group_balance_weights(double *w, const int32_t *group, int64_t n, int G) {
    int64_t *cnt = aspire_calloc((size_t)G, sizeof(int64_t));
    ASPIRE_ASSERT(cnt != NULL, "(out of memory)");
    int64_t grouped = 0;
    int present = 0;
    for (int64_t i = 0; i < n; i++) if (group[i] >= 0) { cnt[group[i]]++; grouped++; }
    for (int q = 0; q < G; q++) present += cnt[q] > 0;
    /* each present group gets the same total weight grouped / present */
    for (int64_t i = 0; i < n; i++)
        w[i] = group[i] >= 0 ? (double)grouped / ((double)present * (double)cnt[group[i]]) : 1.0;
    aspire_free(cnt, (size_t)G * sizeof(int64_t));
}

/* ---- GroupDRO ------------------------------------------------------------------------------- */
void tr_dro_step(tr_dro *d, const float *loss, const int32_t *g, int64_t n, float *w, double *robust) {
    double sum[64] = {0};
    int64_t cnt[64] = {0};
    ASPIRE_ASSERT(d->G <= 64);
    for (int64_t i = 0; i < n; i++) {
        ASPIRE_ASSERT(g[i] >= 0 && g[i] < d->G);
        sum[g[i]] += loss[i];
        cnt[g[i]]++;
    }
    double z = 0;
    for (int q = 0; q < d->G; q++) {
        double L = cnt[q] ? sum[q] / (double)cnt[q] : 0.0;
        if (d->adj > 0 && d->count && d->count[q] > 0) L += d->adj / sqrt((double)d->count[q]);
        d->q[q] *= exp(d->eta * L);
        z += d->q[q];
    }
    double rob = 0;
    for (int q = 0; q < d->G; q++) {
        d->q[q] /= z;
        if (cnt[q]) rob += d->q[q] * sum[q] / (double)cnt[q];
    }
    for (int64_t i = 0; i < n; i++) w[i] = (float)(d->q[g[i]] / (double)cnt[g[i]]);
    if (robust) *robust = rob;
}

/* ---- LfF ------------------------------------------------------------------------------------ */
void tr_lff_step(tr_lff *s, const int64_t *idx, int64_t n, const float *loss_b, const float *loss_d,
                 const float *p_b, float *w_b, float *w_d) {
    for (int64_t k = 0; k < n; k++) {
        int64_t i = idx[k];
        /* LfF's EMA: the first update takes the loss as it is */
        s->ema_b[i] = (float)(s->alpha * s->ema_b[i] + (1.0 - s->alpha * s->seen[i]) * loss_b[k]);
        s->ema_d[i] = (float)(s->alpha * s->ema_d[i] + (1.0 - s->alpha * s->seen[i]) * loss_d[k]);
        s->seen[i] = 1;
    }
    double maxb[64] = {0}, maxd[64] = {0};
    ASPIRE_ASSERT(s->K <= 64);
    for (int64_t i = 0; i < s->n; i++) {
        int c = s->y[i];
        if (s->ema_b[i] > maxb[c]) maxb[c] = s->ema_b[i];
        if (s->ema_d[i] > maxd[c]) maxd[c] = s->ema_d[i];
    }
    for (int64_t k = 0; k < n; k++) {
        int64_t i = idx[k];
        int c = s->y[i];
        double lb = maxb[c] > 0 ? s->ema_b[i] / maxb[c] : 0, ld = maxd[c] > 0 ? s->ema_d[i] / maxd[c] : 0;
        w_d[k] = (float)(lb / (lb + ld + 1e-8));
        w_b[k] = (float)(s->q * pow(p_b[k], s->q));
    }
}
