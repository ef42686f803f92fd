/* dense.h — helpers shared by the dense op families (shape, elementwise, dense, softmax, norm,
 * attention, losses): the GEMM entry point (oneDNN's sgemm or the plain C reference), gradient
 * destinations that assign or accumulate in one pass, and deterministic reductions. Private to
 * src/engine. */
#ifndef ASPIRE_ENGINE_DENSE_H
#define ASPIRE_ENGINE_DENSE_H

#include "engine/internal.h"

/* Below this many elements a loop runs on one thread: forking costs more than it saves. */
#define ASPIRE_PAR_MIN 32768

/* C = alpha * op(A) * op(B) + beta * C, row-major; op(A) is (M, K), op(B) is (K, N), C is (M, N).
 * ta/tb: 1 when A/B is stored transposed. With beta == 0, C is not read (may hold garbage).
 * Runs oneDNN's dnnl_sgemm, or the plain C reference loop when aspire_ctx_reference(ctx) (or
 * when ctx is NULL). Returns ASPIRE_OK, or ASPIRE_ERR_BACKEND with the message set. */
int aspire_gemm(aspire_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* The same, for backward passes, which cannot return a status: if oneDNN fails, the result is
 * computed with the reference loop instead (same numbers up to rounding), so a gradient is never
 * left half-written. */
void aspire_gemm_bwd(aspire_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                     int64_t ldc);

/* A batch of nb products with fixed strides between consecutive A, B, C matrices (sA, sB, sC
 * elements; a stride of 0 shares that matrix across the batch). With sC == 0 the products are
 * summed into the one C (beta applies to the first). Small products run in parallel over the
 * batch, one thread per product (each computed the same way whatever the thread count); large
 * ones one after another, each using every thread. bwd: as aspire_gemm_bwd (never fails). */
typedef struct aspire_bgemm {
    int ta, tb;
    int64_t M, N, K;
    const float *A; int64_t lda, sA;
    const float *B; int64_t ldb, sB;
    float alpha, beta;
    float *C; int64_t ldc, sC;
} aspire_bgemm;
int aspire_bgemm_run(aspire_ctx *ctx, const aspire_bgemm *g, int64_t nb, int bwd);

/* Where a backward writes d(t) in one pass: t->grad itself. *acc = 1 when t already holds a
 * gradient this step (the kernel must add), 0 when it does not (the kernel assigns; t->grad is
 * then marked valid). NULL only on OOM. No aspire_grad_end is needed. */
static inline float *aspire_grad_dst(aspire_ctx *ctx, aspire_tensor *t, int *acc) {
    if (t->grad_valid) { *acc = 1; return t->grad; }
    return aspire_grad_begin(ctx, t, acc);
}

/* sum_i x[i] * (y ? y[i] : 1) over [0, n) in double, in fixed-size blocks combined in order: the
 * result does not depend on the number of threads. */
double aspire_dot_det(const float *x, const float *y, int64_t n);

/* Column sums: out[c] = (acc ? out[c] : 0) + scale * sum_r a[r*cols + c] * (b ? b[r*cols + c] : 1),
 * accumulated in double; each column is summed in row order by one thread (or, for one column,
 * by aspire_dot_det), so the result is deterministic. */
void aspire_colsum(float *out, const float *a, const float *b, int64_t rows, int64_t cols, float scale, int acc);

/* Aborts (a shape contract violation) unless y may be combined with x elementwise: same shape,
 * y's shape equal to x's trailing dims, or y a single element. */
void aspire_check_broadcast(const char *op, const aspire_tensor *x, const aspire_tensor *y);

/* Row-wise softmax (want_log = 0) or log-softmax (1) of x (rows, n) into y, max-subtracted; a row
 * that is all -inf gives zeros (log: -inf). Backward: dx (+)= d/dx given g = dL/dy and y. */
void aspire_softmax_rows(float *y, const float *x, int64_t rows, int64_t n, int want_log);
void aspire_softmax_rows_bwd(float *dx, const float *g, const float *y, int64_t rows, int64_t n, int want_log,
                             int acc);

#endif
