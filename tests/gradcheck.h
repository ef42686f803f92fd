/* gradcheck.h — checks an op's backward against central finite differences.
 *
 * The op under test is a function that builds an output tensor from input tensors on a context.
 * It is applied twice to the same inputs, and the scalar probed is
 * L = sum_i out1_i * r1_i + sum_i out2_i * r2_i with fixed random weights r, accumulated in double
 * precision, so that every output element's gradient path is exercised and every input receives
 * two gradient contributions: the backward's first-write (assign) path and its accumulate path
 * are both checked. Analytic gradients come from aspire_backward on L (built with aspire_mul,
 * aspire_sum and aspire_add, so those ops must exist); numeric ones from (L(x + e) - L(x - e))
 * divided by the step float rounding actually left, in double, per input element (or a random
 * sample of at most `max_probe` elements of large inputs). The error is relative to the largest
 * analytic gradient of that input (at least 1e-3). Ops that draw random numbers (dropout) see
 * the same stream in every evaluation: the context's generator is reseeded before the two calls. */
#ifndef ASPIRE_GRADCHECK_H
#define ASPIRE_GRADCHECK_H

#include "aspire/engine.h"
#include "test.h"

#include <string.h>

typedef aspire_tensor *(*gc_fn)(aspire_ctx *ctx, aspire_tensor **in, void *ud);

/* L for the numeric side: both applications of fn, weighted by r (2 * nout values). */
static double gc_eval(aspire_ctx *ctx, gc_fn fn, void *ud, aspire_tensor **tin, const float *r, int64_t nout,
                      const char *what) {
    double l = 0;
    aspire_rng_seed(aspire_ctx_rng(ctx), 7);
    for (int rep = 0; rep < 2; rep++) {
        aspire_tensor *o = fn(ctx, tin, ud);
        if (!o) { fprintf(stderr, "%s: forward failed: %s\n", what, aspire_errmsg()); return NAN; }
        for (int64_t q = 0; q < nout; q++) l += (double)o->data[q] * r[rep * nout + q];
    }
    return l;
}

/* in_data[k] holds in_shapes[k] floats; grad_mask[k] says whether input k gets a gradient.
 * Returns the worst relative error seen; records a CHECK failure if it exceeds tol. */
/* The options of gradcheck's context (tests set the engine path and kernels here). */
static aspire_ctx_options gc_options = {.threads = 0, .seed = 7};

static double gradcheck(const char *what, gc_fn fn, void *ud, int nin, float **in_data, const int *ndims,
                        const int64_t (*shapes)[ASPIRE_MAX_DIMS], const int *grad_mask, double eps, double tol,
                        int max_probe) {
    aspire_ctx *ctx;
    if (aspire_ctx_new(&ctx, &gc_options) != ASPIRE_OK) { CHECK(0); return 1e9; }
    aspire_ctx_set_training(ctx, 1);
    /* analytic */
    aspire_tensor *in[8];
    for (int k = 0; k < nin; k++) {
        in[k] = aspire_tensor_from(ctx, ndims[k], shapes[k], in_data[k]);
        in[k]->requires_grad = (uint8_t)grad_mask[k];
    }
    aspire_rng_seed(aspire_ctx_rng(ctx), 7);
    aspire_tensor *out = fn(ctx, in, ud);
    aspire_tensor *out2 = out ? fn(ctx, in, ud) : NULL;
    CHECK_MSG(out && out2, "%s: forward failed: %s", what, aspire_errmsg());
    if (!out || !out2) { aspire_ctx_free(ctx); return 1e9; }
    int64_t nout = out->numel;
    float *r = malloc(sizeof(float) * (size_t)(2 * nout));
    aspire_rng rng;
    aspire_rng_seed(&rng, 99);
    for (int64_t i = 0; i < 2 * nout; i++) r[i] = aspire_rng_normal(&rng);
    aspire_tensor *rt = aspire_tensor_from(ctx, out->ndim, out->shape, r);
    aspire_tensor *rt2 = aspire_tensor_from(ctx, out->ndim, out->shape, r + nout);
    aspire_tensor *loss = aspire_add(ctx, aspire_sum(ctx, aspire_mul(ctx, out, rt)),
                                     aspire_sum(ctx, aspire_mul(ctx, out2, rt2)));
    int rc = aspire_backward(ctx, loss);
    CHECK_MSG(rc == ASPIRE_OK, "%s: backward failed: %s", what, aspire_errmsg());
    float *ga[8] = {0};
    for (int k = 0; k < nin; k++) {
        if (!grad_mask[k]) continue;
        ga[k] = calloc((size_t)in[k]->numel, sizeof(float));
        if (in[k]->grad_valid) memcpy(ga[k], in[k]->grad, sizeof(float) * (size_t)in[k]->numel);
    }
    double worst = 0;
    aspire_ctx_set_recording(ctx, 0);
    for (int k = 0; k < nin; k++) {
        if (!grad_mask[k]) continue;
        int64_t n = 1;
        for (int d = 0; d < ndims[k]; d++) n *= shapes[k][d];
        double gmax = 1e-6;
        for (int64_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(ga[k][i]));
        int64_t probes = n < max_probe ? n : max_probe;
        for (int64_t p = 0; p < probes; p++) {
            int64_t i = n <= max_probe ? p : aspire_rng_below(&rng, n);
            double lp = 0, lm = 0;
            /* The step actually taken is what float rounding leaves of keep +- eps. */
            float keep = in_data[k][i], xp = keep + (float)eps, xm = keep - (float)eps;
            for (int side = 0; side < 2; side++) {
                aspire_ctx_reset(ctx);
                in_data[k][i] = side ? xm : xp;
                aspire_tensor *tin[8];
                for (int j = 0; j < nin; j++) tin[j] = aspire_tensor_from(ctx, ndims[j], shapes[j], in_data[j]);
                double l = gc_eval(ctx, fn, ud, tin, r, nout, what);
                if (side) lm = l; else lp = l;
            }
            in_data[k][i] = keep;
            double num = (lp - lm) / ((double)xp - (double)xm), ana = ga[k][i];
            double err = fabs(num - ana) / fmax(gmax, 1e-3);
            if (isnan(err)) err = 1e9;  /* a NaN gradient (or a failed forward) is a failure */
            if (err > worst) worst = err;
            if (err > tol) {
                fprintf(stderr, "%s: input %d element %lld: analytic %.6g numeric %.6g (rel err %.3g)\n", what, k,
                        (long long)i, ana, num, err);
                break;
            }
        }
    }
    CHECK_MSG(worst <= tol, "%s: gradient relative error %.3g > %.3g", what, worst, tol);
    for (int k = 0; k < nin; k++) free(ga[k]);
    free(r);
    aspire_ctx_free(ctx);
    return worst;
}

#endif
