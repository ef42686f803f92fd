/* segnet_tune.c — choosing the segmenter's decision thresholds on held-out corpus images: the pixel
 * threshold that gives the best mean IoU over the phrases present, then the least area and peak
 * probability that best separate present from absent phrases (mean of recall and rejection). The
 * phrases are every single concept plus the group words "bird" and "tree". */
#include "models/segnet_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NPIX 5
static const float pixel_grid[NPIX] = {0.3f, 0.4f, 0.5f, 0.6f, 0.7f};
static const float peak_grid[] = {0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 0.95f};
static const int area_grid[] = {1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32};
#define NPEAK ((int)(sizeof peak_grid / sizeof peak_grid[0]))
#define NAREA ((int)(sizeof area_grid / sizeof area_grid[0]))

typedef struct pair_stat {
    uint8_t present;
    float peak;
    int area[NPIX];
    float iou[NPIX];
} pair_stat;

/* Stats of one (image, set) from the image's softmax (S2 × K1) and labels. */
static void pair_eval(const float *sm, const uint8_t *lb, int S2, int K1, uint64_t set, pair_stat *ps) {
    int inter[NPIX] = {0}, uni[NPIX] = {0}, truth = 0;
    memset(ps, 0, sizeof *ps);
    for (int p = 0; p < S2; p++) {
        float v = 0;
        for (int c = 1; c < K1; c++)
            if (set >> (c - 1) & 1) v += sm[(size_t)p * K1 + c];
        int t = lb[p] && (set >> (lb[p] - 1) & 1);
        truth += t;
        ps->peak = v > ps->peak ? v : ps->peak;
        for (int k = 0; k < NPIX; k++) {
            int m = v >= pixel_grid[k];
            ps->area[k] += m;
            inter[k] += m && t;
            uni[k] += m || t;
        }
    }
    ps->present = truth > 0;
    for (int k = 0; k < NPIX; k++) ps->iou[k] = uni[k] ? (float)inter[k] / (float)uni[k] : 1.0f;
}

static void softmax_rows(float *z, int64_t rows, int K1) {
    for (int64_t r = 0; r < rows; r++) {
        float *v = z + r * K1, m = v[0], s = 0;
        for (int c = 1; c < K1; c++) m = v[c] > m ? v[c] : m;
        for (int c = 0; c < K1; c++) s += (v[c] = expf(v[c] - m));
        for (int c = 0; c < K1; c++) v[c] /= s;
    }
}

static int collect(aspire_segnet *net, const aspire_seg_corpus *c, int first, int n, int threads,
                   const uint64_t *sets, int nsets, pair_stat *st) {
    aspire_ctx *ctx = NULL;
    aspire_ctx_options co = {.threads = threads};
    int rc = aspire_ctx_new(&ctx, &co);
    aspire_ctx_set_training(ctx, 0);
    aspire_ctx_set_recording(ctx, 0);
    const int S = c->size, S2 = S * S, K1 = net->nconcepts + 1;
    for (int start = 0; !rc && start < n; start += 64) {
        int nb = n - start < 64 ? n - start : 64;
        aspire_ctx_reset(ctx);
        aspire_tensor *x = aspire_tensor_new(ctx, 4, (int64_t[]){nb, S, S, 3});
        if (!x) { rc = ASPIRE_ERR_NOMEM; break; }
        for (size_t i = 0; i < (size_t)nb * S2 * 3; i++)
            x->data[i] = ((float)c->pixels[(size_t)(first + start) * S2 * 3 + i] / 255.0f - 0.5f) / 0.25f;
        aspire_tensor *z = aspire_segnet_forward(ctx, net, x);
        if (!z) { rc = ASPIRE_ERR_BACKEND; break; }
        softmax_rows(z->data, (int64_t)nb * S2, K1);
        for (int i = 0; i < nb; i++)
            for (int s = 0; s < nsets; s++)
                pair_eval(z->data + (size_t)i * S2 * K1, c->labels + (size_t)(first + start + i) * S2, S2, K1, sets[s],
                          &st[(size_t)(start + i) * nsets + s]);
    }
    aspire_ctx_free(ctx);
    return rc;
}

static void choose(aspire_segnet *net, const pair_stat *st, size_t np, char *report, size_t cap) {
    double best_iou = -1;
    int kp = 2;
    for (int k = 0; k < NPIX; k++) {
        double sum = 0;
        size_t cnt = 0;
        for (size_t i = 0; i < np; i++)
            if (st[i].present) { sum += st[i].iou[k]; cnt++; }
        if (cnt && sum / (double)cnt > best_iou + 1e-9) { best_iou = sum / (double)cnt; kp = k; }
    }
    double best = -1, brec = 0, brej = 0;
    int ba = 0, bp = 0;
    for (int a = 0; a < NAREA; a++)
        for (int q = 0; q < NPEAK; q++) {
            size_t tp = 0, npos = 0, tn = 0, nneg = 0;
            for (size_t i = 0; i < np; i++) {
                int say = st[i].area[kp] >= area_grid[a] && st[i].peak >= peak_grid[q];
                if (st[i].present) { npos++; tp += say; } else { nneg++; tn += !say; }
            }
            double rec = npos ? (double)tp / npos : 1, rej = nneg ? (double)tn / nneg : 1;
            if ((rec + rej) / 2 > best + 1e-9) { best = (rec + rej) / 2; ba = a; bp = q; brec = rec; brej = rej; }
        }
    net->th.pixel = pixel_grid[kp];
    net->th.min_area = area_grid[ba];
    net->th.min_peak = peak_grid[bp];
    snprintf(report, cap,
             "thresholds tuned on the held-out images: pixel %.2f (mIoU %.4f), min area %d px, min peak %.2f "
             "(recall %.4f, rejection %.4f)",
             (double)net->th.pixel, best_iou, net->th.min_area, (double)net->th.min_peak, brec, brej);
}

int segnet_tune(aspire_segnet *net, const aspire_seg_corpus *c, int first, int n, int threads, char *report, size_t cap) {
    if (n <= 0) { snprintf(report, cap, "default thresholds (nothing held out)"); return ASPIRE_OK; }
    uint64_t sets[ASPIRE_SEGNET_MAX_CONCEPTS + 2];
    int nsets = 0;
    for (int k = 0; k < net->nconcepts; k++) sets[nsets++] = UINT64_C(1) << k;
    const char *groups[] = {"bird", "tree"};
    for (int g = 0; g < 2; g++) {
        uint64_t s = 0;
        if (aspire_segnet_resolve(net, groups[g], &s, NULL, 0) == ASPIRE_OK && (s & (s - 1))) sets[nsets++] = s;
    }
    aspire_error_clear();
    pair_stat *st = aspire_malloc((size_t)n * nsets * sizeof *st);
    if (!st) return ASPIRE_ERR_NOMEM;
    int rc = collect(net, c, first, n, threads, sets, nsets, st);
    if (!rc) choose(net, st, (size_t)n * nsets, report, cap);
    aspire_free(st, 0);
    return rc;
}
