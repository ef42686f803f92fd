/* gradcheck.h — checks an op's backward against central finite differences.
 *
 * The op under test is a function that builds an output tensor from input tensors on a context.
 * The scalar probed is L = sum_i out_i * r_i with fixed random weights r, accumulated in double
 * precision, so that every output element's gradient path is exercised. Analytic gradients come
 * from aspire_backward on L (built with aspire_mul and aspire_sum, so those ops must exist);
 * numeric ones from (L(x + e) - L(x - e)) / 2e in double, per input element (or a random sample
 * of at most `max_probe` elements of large inputs). */
#ifndef ASPIRE_GRADCHECK_H
#define ASPIRE_GRADCHECK_H

#include "aspire/engine.h"
#include "test.h"

#include <string.h>

typedef aspire_tensor *(*gc_fn)(aspire_ctx *ctx, aspire_tensor **in, void *ud);

/* in_data[k] holds in_shapes[k] floats; grad_mask[k] says whether input k gets a gradient.
 * Returns the worst relative error seen; records a CHECK failure if it exceeds tol. */
static double gradcheck(const char *what, gc_fn fn, void *ud, int nin, float **in_data, const int *ndims,
                        const int64_t (*shapes)[ASPIRE_MAX_DIMS], const int *grad_mask, double eps, double tol,
                        int max_probe) {
    aspire_ctx *ctx;
    aspire_ctx_options o = {.threads = 0, .seed = 7};
    if (aspire_ctx_new(&ctx, &o) != ASPIRE_OK) { CHECK(0); return 1e9; }
    aspire_ctx_set_training(ctx, 1);
    /* analytic */
    aspire_tensor *in[8];
    for (int k = 0; k < nin; k++) {
        in[k] = aspire_tensor_from(ctx, ndims[k], shapes[k], in_data[k]);
        in[k]->requires_grad = (uint8_t)grad_mask[k];
    }
    aspire_tensor *out = fn(ctx, in, ud);
    CHECK_MSG(out != NULL, "%s: forward failed: %s", what, aspire_errmsg());
    if (!out) { aspire_ctx_free(ctx); return 1e9; }
    int64_t nout = out->numel;
    float *r = malloc(sizeof(float) * (size_t)nout);
    aspire_rng rng;
    aspire_rng_seed(&rng, 99);
    for (int64_t i = 0; i < nout; i++) r[i] = aspire_rng_normal(&rng);
    aspire_tensor *rt = aspire_tensor_from(ctx, out->ndim, out->shape, r);
    aspire_tensor *loss = aspire_sum(ctx, aspire_mul(ctx, out, rt));
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
            float keep = in_data[k][i];
            for (int side = 0; side < 2; side++) {
                aspire_ctx_reset(ctx);
                in_data[k][i] = keep + (float)(side ? -eps : eps);
                aspire_tensor *tin[8];
                for (int j = 0; j < nin; j++) tin[j] = aspire_tensor_from(ctx, ndims[j], shapes[j], in_data[j]);
                aspire_rng_seed(aspire_ctx_rng(ctx), 7);
                aspire_tensor *o2 = fn(ctx, tin, ud);
                double l = 0;
                for (int64_t q = 0; q < nout; q++) l += (double)o2->data[q] * r[q];
                if (side) lm = l; else lp = l;
            }
            in_data[k][i] = keep;
            double num = (lp - lm) / (2 * eps), ana = ga[k][i];
            double err = fabs(num - ana) / fmax(gmax, 1e-3);
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
