/* ops_dense.c — speed of the dense ops on the ResNet's hot path: add and relu forward and backward
 * on a (64, 64, 64, 16) activation (the reference net's first stage at batch 64), against a memcpy
 * of the same size as the memory-bandwidth yardstick; and linear through oneDNN's sgemm and the
 * reference loop. Prints medians; the last line is one JSON object.
 *   usage: ops_dense [threads] */
#include "aspire/engine.h"
#include "engine/internal.h"
#include "engine/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPS 21

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return t[n / 2];
}

/* Median seconds of add (x + y) or relu (x) into `run`'s arena, after one untimed call; -1 on
 * failure. */
static double time_forward(aspire_ctx *run, aspire_tensor *x, aspire_tensor *y, int add) {
    double t[REPS];
    for (int r = 0; r < REPS + 1; r++) {
        aspire_ctx_reset(run);
        double t0 = aspire_now();
        aspire_tensor *s = add ? aspire_add(run, x, y) : aspire_relu(run, x);
        if (r) t[r - 1] = aspire_now() - t0;
        if (!s) { fprintf(stderr, "ops_dense: %s\n", aspire_errmsg()); return -1; }
    }
    return median(t, REPS);
}

/* Backward of relu and add through hand-made nodes, the inputs' gradients assigned (first write)
 * each time: median seconds of each. */
static void time_backward(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *y, aspire_tensor *g, double *t_relu_b,
                          double *t_add_b) {
    double t[REPS];
    aspire_tensor *out = aspire_relu(ctx, x);
    out->grad = g->data;
    out->grad_valid = 1;
    x->requires_grad = y->requires_grad = 1;
    x->grad = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)x->numel);
    y->grad = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)y->numel);
    memset(x->grad, 0, sizeof(float) * (size_t)x->numel);
    memset(y->grad, 0, sizeof(float) * (size_t)y->numel);
    aspire_node node = {.op = ASPIRE_OP_RELU, .nin = 1, .out = out, .in = {x}};
    for (int r = 0; r < REPS; r++) {
        x->grad_valid = 0;
        double t0 = aspire_now();
        aspire_bwd_relu(ctx, &node);
        t[r] = aspire_now() - t0;
    }
    *t_relu_b = median(t, REPS);
    node = (aspire_node){.op = ASPIRE_OP_ADD, .nin = 2, .out = out, .in = {x, y}};
    for (int r = 0; r < REPS; r++) {
        x->grad_valid = y->grad_valid = 0;
        double t0 = aspire_now();
        aspire_bwd_add(ctx, &node);
        t[r] = aspire_now() - t0;
    }
    *t_add_b = median(t, REPS);
}

/* GFLOP/s of linear (4096, 512) x (512, 512)^T on oneDNN (ref 0) or the reference path; -1 on
 * failure. */
static double linear_gflops(int threads, int ref, aspire_rng *rng) {
    double t[REPS];
    aspire_ctx *c2;
    aspire_ctx_options o2 = {.threads = threads, .seed = 1, .reference = ref};
    if (aspire_ctx_new(&c2, &o2) != ASPIRE_OK) return -1;
    aspire_ctx_set_recording(c2, 0);
    aspire_tensor *a = aspire_tensor_new(c2, 2, (int64_t[]){4096, 512});
    aspire_tensor *w = aspire_tensor_new(c2, 2, (int64_t[]){512, 512});
    aspire_init_normal(a, 0, 1, rng);
    aspire_init_normal(w, 0, 1, rng);
    int reps = ref ? 3 : REPS;
    for (int r = 0; r < reps; r++) {
        double t0 = aspire_now();
        aspire_tensor *yy = aspire_linear(c2, a, w, NULL);
        t[r] = aspire_now() - t0;
        if (!yy) { aspire_ctx_free(c2); return -1; }
    }
    aspire_ctx_free(c2);
    return 2.0 * 4096 * 512 * 512 / median(t, reps) / 1e9;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    aspire_ctx *ctx;
    aspire_set_threads(threads);
    aspire_ctx_options o = {.threads = threads, .seed = 1};
    if (aspire_ctx_new(&ctx, &o) != ASPIRE_OK) { fprintf(stderr, "ops_dense: %s\n", aspire_errmsg()); return 1; }
    aspire_ctx_set_recording(ctx, 0);
    int64_t shape[4] = {64, 64, 64, 16};
    aspire_tensor *x = aspire_tensor_new(ctx, 4, shape), *y = aspire_tensor_new(ctx, 4, shape);
    aspire_tensor *g = aspire_tensor_new(ctx, 4, shape), *dst = aspire_tensor_new(ctx, 4, shape);
    aspire_rng rng;
    aspire_rng_seed(&rng, 3);
    for (int64_t i = 0; i < x->numel; i++) {
        x->data[i] = aspire_rng_normal(&rng);
        y->data[i] = aspire_rng_normal(&rng);
        g->data[i] = aspire_rng_normal(&rng);
    }
    double n = (double)x->numel, t[REPS];

    /* memcpy: read n, write n (dst is written once first, so no page faults are timed) */
    memset(dst->data, 0, sizeof(float) * (size_t)dst->numel);
    for (int r = 0; r < REPS; r++) {
        double t0 = aspire_now();
        memcpy(dst->data, x->data, sizeof(float) * (size_t)x->numel);
        t[r] = aspire_now() - t0;
    }
    double t_copy = median(t, REPS);

    /* forward ops allocate their outputs from a second context, reset each time (its memory is
     * reused, so no page faults are timed); the inputs live in the first */
    aspire_ctx *run;
    if (aspire_ctx_new(&run, &o) != ASPIRE_OK) return 1;
    aspire_ctx_set_recording(run, 0);
    double t_add = time_forward(run, x, y, 1), t_relu = time_forward(run, x, y, 0);
    aspire_ctx_free(run);
    if (t_add < 0 || t_relu < 0) return 1;

    double t_relu_b, t_add_b;
    time_backward(ctx, x, y, g, &t_relu_b, &t_add_b);

    /* linear (4096, 512) x (512, 512)^T, oneDNN and reference */
    double gf[2];
    for (int ref = 0; ref < 2; ref++)
        if ((gf[ref] = linear_gflops(threads, ref, &rng)) < 0) return 1;

    double gb = 1e-9 * sizeof(float) * n;  /* GB per pass over one tensor */
    printf("threads %d, tensor (64, 64, 64, 16) = %.0f floats, medians of %d\n", aspire_get_threads(), n, REPS);
    printf("memcpy        %7.2f ms  %6.1f GB/s (read + write)\n", 1e3 * t_copy, 2 * gb / t_copy);
    printf("add fwd       %7.2f ms  %6.1f GB/s (2 reads + write)\n", 1e3 * t_add, 3 * gb / t_add);
    printf("add bwd       %7.2f ms  %6.1f GB/s (read + 2 writes)\n", 1e3 * t_add_b, 3 * gb / t_add_b);
    printf("relu fwd      %7.2f ms  %6.1f GB/s (read + write)\n", 1e3 * t_relu, 2 * gb / t_relu);
    printf("relu bwd      %7.2f ms  %6.1f GB/s (2 reads + write)\n", 1e3 * t_relu_b, 3 * gb / t_relu_b);
    printf("linear 4096x512x512: oneDNN %.1f GFLOP/s, reference %.1f GFLOP/s\n", gf[0], gf[1]);
    printf("{\"bench\":\"ops_dense\",\"threads\":%d,\"memcpy_ms\":%.3f,\"add_fwd_ms\":%.3f,\"add_bwd_ms\":%.3f,"
           "\"relu_fwd_ms\":%.3f,\"relu_bwd_ms\":%.3f,\"linear_dnnl_gflops\":%.1f,\"linear_ref_gflops\":%.1f}\n",
           aspire_get_threads(), 1e3 * t_copy, 1e3 * t_add, 1e3 * t_add_b, 1e3 * t_relu, 1e3 * t_relu_b, gf[0], gf[1]);
    aspire_ctx_free(ctx);
    return 0;
}
