/* gemm.c — the engine's one matrix product: oneDNN's row-major dnnl_sgemm, or a plain C reference
 * loop when the context asks for reference paths. Linear, matmul and attention go through here,
 * and the tests hold the two paths against each other. Also the deterministic reductions that the
 * dense ops share. */
#include "engine/dense.h"
#include "engine/onednn_glue.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>

/* The reference: C[i, :] is computed by one thread, k in order, so it is deterministic for any
 * thread count. Float accumulation, like the optimised path. */
static void gemm_ref(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                     const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
#pragma omp parallel for schedule(static) if (M * N * K > 65536 && M > 1)
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (!tb) {
            if (beta == 0.0f) {
                for (int64_t j = 0; j < N; j++) c[j] = 0.0f;
            } else if (beta != 1.0f) {
                for (int64_t j = 0; j < N; j++) c[j] *= beta;
            }
            for (int64_t k = 0; k < K; k++) {
                float a = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);
                const float *b = B + k * ldb;
                for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
            }
        } else {
            for (int64_t j = 0; j < N; j++) {
                const float *b = B + j * ldb;
                float s = 0.0f;
                if (ta)
                    for (int64_t k = 0; k < K; k++) s += A[k * lda + i] * b[k];
                else
                    for (int64_t k = 0; k < K; k++) s += A[i * lda + k] * b[k];
                c[j] = (beta == 0.0f ? 0.0f : beta * c[j]) + alpha * s;
            }
        }
    }
}

int aspire_gemm(aspire_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return ASPIRE_OK;
    if (K <= 0) {  /* an empty sum: C = beta * C */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return ASPIRE_OK;
    }
    if (!ctx || aspire_ctx_reference(ctx)) {
        gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return ASPIRE_OK;
    }
    /* oneDNN reads C when beta != 0 only; with beta == 0 it overwrites (NaN garbage included).
     * A small product runs on one thread: waking the pool costs more than it saves (a 64x128 by
     * 128x2 classifier head took 12 ms per call on two threads of a loaded machine). */
    int prev = aspire_threads_limit(M * N * K);
    dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    aspire_threads_restore(prev);
    if (st != dnnl_success)
        return aspire_error(ASPIRE_ERR_BACKEND, "dnnl_sgemm(%c%c, M=%lld, N=%lld, K=%lld) failed with status %d",
                            ta ? 'T' : 'N', tb ? 'T' : 'N', (long long)M, (long long)N, (long long)K, (int)st);
    return ASPIRE_OK;
}

void aspire_gemm_bwd(aspire_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (aspire_gemm(ctx, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) != ASPIRE_OK)
        gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- deterministic reductions -------------------------------------------------------------- */
#define SUM_BLOCK 4096

static double dot_range(const float *x, const float *y, int64_t lo, int64_t hi) {
    double s = 0;
    if (y)
        for (int64_t i = lo; i < hi; i++) s += (double)x[i] * y[i];
    else
        for (int64_t i = lo; i < hi; i++) s += x[i];
    return s;
}

double aspire_dot_det(const float *x, const float *y, int64_t n) {
    int64_t nb = (n + SUM_BLOCK - 1) / SUM_BLOCK;
    if (nb <= 1) return dot_range(x, y, 0, n);
    double part[64], total = 0;
    /* Fixed blocks of SUM_BLOCK elements, summed in groups of 64 blocks, each group in order. */
    for (int64_t g0 = 0; g0 < nb; g0 += 64) {
        int64_t g1 = g0 + 64 < nb ? g0 + 64 : nb;
#pragma omp parallel for schedule(static) if (n > ASPIRE_PAR_MIN)
        for (int64_t b = g0; b < g1; b++) {
            int64_t lo = b * SUM_BLOCK, hi = lo + SUM_BLOCK < n ? lo + SUM_BLOCK : n;
            part[b - g0] = dot_range(x, y, lo, hi);
        }
        for (int64_t b = g0; b < g1; b++) total += part[b - g0];
    }
    return total;
}

/* Sums rows [r0, r1) of columns [c0, c0 + w) (w <= 64) into s, in row order. */
static void colsum_block(double *s, const float *a, const float *b, int64_t cols, int64_t r0, int64_t r1,
                         int64_t c0, int64_t w) {
    for (int64_t r = r0; r < r1; r++) {
        const float *ar = a + r * cols + c0;
        if (b) {
            const float *br = b + r * cols + c0;
            for (int64_t c = 0; c < w; c++) s[c] += (double)ar[c] * br[c];
        } else {
            for (int64_t c = 0; c < w; c++) s[c] += ar[c];
        }
    }
}

#define COLSUM_ROWS 512  /* rows per partial sum when the columns are too few to split */

void aspire_colsum(float *out, const float *a, const float *b, int64_t rows, int64_t cols, float scale, int acc) {
    if (cols == 1) {
        float s = (float)(scale * aspire_dot_det(a, b, rows));
        out[0] = acc ? out[0] + s : s;
        return;
    }
    int64_t nblk = (cols + 63) / 64, nchunk = (rows + COLSUM_ROWS - 1) / COLSUM_ROWS;
    if (nblk == 1 && nchunk > 1 && rows * cols > ASPIRE_PAR_MIN) {
        /* Few columns, many rows (a bias over a big batch): partial sums over fixed chunks of rows,
         * in parallel, then added in chunk order, so the result does not depend on the threads. */
        double *part = aspire_malloc(sizeof(double) * 64 * (size_t)nchunk);
        if (part) {
#pragma omp parallel for schedule(static)
            for (int64_t k = 0; k < nchunk; k++) {
                double *s = part + 64 * k;
                for (int64_t c = 0; c < cols; c++) s[c] = 0;
                int64_t r0 = k * COLSUM_ROWS, r1 = r0 + COLSUM_ROWS < rows ? r0 + COLSUM_ROWS : rows;
                colsum_block(s, a, b, cols, r0, r1, 0, cols);
            }
            for (int64_t c = 0; c < cols; c++) {
                double t = 0;
                for (int64_t k = 0; k < nchunk; k++) t += part[64 * k + c];
                float v = (float)(scale * t);
                out[c] = acc ? out[c] + v : v;
            }
            aspire_free(part, sizeof(double) * 64 * (size_t)nchunk);
            return;
        }  /* out of memory for the partials: the serial path below needs none */
    }
    /* Columns in blocks of 64, one block per task; each block keeps double accumulators. */
#pragma omp parallel for schedule(static) if (rows * cols > ASPIRE_PAR_MIN && nblk > 1)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t c0 = blk * 64, c1 = c0 + 64 < cols ? c0 + 64 : cols, w = c1 - c0;
        double s[64] = {0};
        colsum_block(s, a, b, cols, 0, rows, c0, w);
        for (int64_t c = 0; c < w; c++) {
            float v = (float)(scale * s[c]);
            out[c0 + c] = acc ? out[c0 + c] + v : v;
        }
    }
}

void aspire_check_broadcast(const char *op, const aspire_tensor *x, const aspire_tensor *y) {
    int ok = y->numel == 1 || y->ndim <= x->ndim;
    for (int i = 0; ok && y->numel != 1 && i < y->ndim; i++)
        if (y->shape[i] != x->shape[x->ndim - y->ndim + i]) ok = 0;
    if (!ok) {
        char a[96], b[96];
        aspire_abort(__FILE__, __LINE__, "%s: y %s does not match x %s (same shape, or x's trailing dims)", op,
                     aspire_shape_str(y, b, sizeof b), aspire_shape_str(x, a, sizeof a));
    }
}

/* ---- batches of products ------------------------------------------------------------------- */
/* Products up to this many multiply-adds run one per thread; above it, one at a time. */
#define BGEMM_SMALL (1 << 18)

int aspire_bgemm_run(aspire_ctx *ctx, const aspire_bgemm *g, int64_t nb, int bwd) {
    if (nb <= 0) return ASPIRE_OK;
    int64_t work = g->M * g->N * g->K;
    /* a batch worth less than ASPIRE_PAR_MIN multiply-adds is not worth waking threads for */
    int parallel = nb > 1 && g->sC != 0 && work <= BGEMM_SMALL && nb * work >= ASPIRE_PAR_MIN &&
                   aspire_get_threads() > 1;
    if (!parallel) {
        for (int64_t i = 0; i < nb; i++) {
            float beta = g->sC == 0 && i > 0 ? 1.0f : g->beta;
            const float *A = g->A + i * g->sA, *B = g->B + i * g->sB;
            float *C = g->C + i * g->sC;
            if (bwd) {
                aspire_gemm_bwd(ctx, g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, g->lda, B, g->ldb, beta, C, g->ldc);
            } else {
                int rc = aspire_gemm(ctx, g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, g->lda, B, g->ldb, beta, C, g->ldc);
                if (rc != ASPIRE_OK) return rc;
            }
        }
        return ASPIRE_OK;
    }
    /* oneDNN runs a product single-threaded when called inside a parallel region. */
    int failed = 0;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nb; i++) {
        const float *A = g->A + i * g->sA, *B = g->B + i * g->sB;
        float *C = g->C + i * g->sC;
        if (bwd) {
            aspire_gemm_bwd(ctx, g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, g->lda, B, g->ldb, g->beta, C, g->ldc);
        } else if (aspire_gemm(ctx, g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, g->lda, B, g->ldb, g->beta, C,
                               g->ldc) != ASPIRE_OK) {
#pragma omp atomic write
            failed = 1;
        }
    }
    if (failed) return aspire_error(ASPIRE_ERR_BACKEND, "dnnl_sgemm failed in a batch of %lld products", (long long)nb);
    return ASPIRE_OK;
}
