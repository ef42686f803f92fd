/* model.c — classifiers by name for training, and DFR's last-layer replacement. */
#include "train/train_model.h"
#include "train/train_data.h"
#include "train/train_internal.h"

#include "aspire/fileio.h"
#include "aspire/progress.h"

#include <math.h>
#include <string.h>

int tr_model_check_arch(const char *arch) {
    if (arch && (strcmp(arch, "reference") == 0 || strcmp(arch, "resnet18") == 0 || strcmp(arch, "resnet50") == 0))
        return ASPIRE_OK;
    return aspire_error(ASPIRE_ERR_ARG, "unknown --arch '%s' (reference, resnet18 or resnet50)", arch ? arch : "");
}

/* An init that is neither name is a weights file. */
static int init_is_file(const char *init) {
    return init && strcmp(init, "torchvision") != 0 && strcmp(init, "pytorch") != 0;
}

int tr_model_check_init(const char *init) {
    if (!init || !*init)
        return aspire_error(ASPIRE_ERR_ARG, "unknown --init '' (torchvision, pytorch or a .safetensors weights file)");
    if (init_is_file(init) && !aspire_file_exists(init))
        return aspire_error(ASPIRE_ERR_NOTFOUND, "--init %s: no such weights file (or use torchvision or pytorch)", init);
    return ASPIRE_OK;
}

int tr_model_new(aspire_resnet **out, const char *arch, int num_classes, uint64_t seed, const char *init) {
    *out = NULL;
    int rc = tr_model_check_arch(arch);
    if (!rc && init) rc = tr_model_check_init(init);
    if (rc) return rc;
    aspire_resnet_config c = strcmp(arch, "resnet18") == 0   ? aspire_resnet18_config(num_classes)
                             : strcmp(arch, "resnet50") == 0 ? aspire_resnet50_config(num_classes)
                                                             : aspire_resnet_reference_config(num_classes);
    rc = aspire_resnet_new(out, &c, seed);
    if (rc || !init || strcmp(init, "torchvision") == 0) return rc;
    if (init_is_file(init)) {
        /* pretrained weights (torchvision names); a head of another class count stays as initialised */
        rc = aspire_params_load_partial(aspire_resnet_params(*out), init, "fc.");
        if (rc) {
            aspire_error_prefix(rc, "--init");
            aspire_resnet_free(*out);
            *out = NULL;
        }
        return rc;
    }
    /* PyTorch's defaults: Conv2d and Linear weights kaiming_uniform_(a = sqrt(5)), i.e. uniform
     * in ±1/sqrt(fan_in); Linear bias uniform in ±1/sqrt(fan_in); batch norm as it is (1, 0) */
    aspire_rng rng;
    aspire_rng_seed(&rng, seed ^ 0x5EEDull);
    aspire_params *p = aspire_resnet_params(*out);
    for (int i = 0; i < aspire_params_count(p); i++) {
        aspire_tensor *t = aspire_params_at(p, i);
        if (t->ndim < 2) continue;
        int64_t fan_in = 1;
        for (int d = 1; d < t->ndim; d++) fan_in *= t->shape[d];
        float bound = 1.0f / sqrtf((float)fan_in);
        aspire_init_uniform(t, -bound, bound, &rng);
        if (strcmp(t->name, "fc.weight") == 0) {
            aspire_tensor *b = aspire_params_find(p, "fc.bias");
            if (b) aspire_init_uniform(b, -bound, bound, &rng);
        }
    }
    return ASPIRE_OK;
}

int tr_model_set_head(aspire_resnet *net, const aspire_logreg *lr) {
    aspire_params *p = aspire_resnet_params(net);
    aspire_tensor *w = aspire_params_find(p, "fc.weight"), *b = aspire_params_find(p, "fc.bias");
    if (!w || !b) return aspire_error(ASPIRE_ERR_NOTFOUND, "the classifier has no fc.weight / fc.bias to replace");
    const int K = lr->nclasses, D = lr->dim;
    if (w->ndim != 2 || w->shape[0] != K || w->shape[1] != D || b->numel != K)
        return aspire_error(ASPIRE_ERR_SHAPE, "fc.weight is not (%d, %d) as the fitted last layer", K, D);
    for (int k = 0; k < K; k++) {
        const double *src = NULL;
        double bias = 0;
        if (lr->nout == 1) {
            if (k == 1) { src = lr->w; bias = lr->b[0]; }
        } else {
            src = lr->w + (size_t)k * (size_t)D;
            bias = lr->b[k];
        }
        for (int j = 0; j < D; j++) w->data[(size_t)k * (size_t)D + (size_t)j] = src ? (float)src[j] : 0.0f;
        b->data[k] = (float)bias;
    }
    return ASPIRE_OK;
}

int tr_predict(aspire_ctx *ctx, aspire_resnet *net, const tr_images *im, int K, int32_t *pred, float *feats,
               const char *progress_label) {
    enum { B = 256 };
    const int S = im->S, D = aspire_resnet_feature_dim(net);
    int64_t idx[B];
    int training = aspire_ctx_training(ctx), recording = aspire_ctx_recording(ctx);
    aspire_ctx_set_training(ctx, 0);
    aspire_ctx_set_recording(ctx, 0);
    aspire_progress pg;
    aspire_progress_init(&pg, progress_label ? progress_label : "predict", im->n, "img");
    if (!progress_label) pg.quiet = 1;
    int rc = ASPIRE_OK;
    for (int64_t b0 = 0; b0 < im->n; b0 += B) {
        int64_t n = im->n - b0 < B ? im->n - b0 : B;
        for (int64_t k = 0; k < n; k++) idx[k] = b0 + k;
        aspire_ctx_reset(ctx);
        aspire_tensor *x = aspire_tensor_new(ctx, 4, (int64_t[]){n, S, S, 3});
        if (!x) { rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory for a batch of %lld images", (long long)n); break; }
        tr_fill_batch(x->data, im, idx, n, NULL);
        aspire_tensor *f = NULL;
        aspire_tensor *logits = aspire_resnet_forward(ctx, net, x, feats ? &f : NULL);
        if (!logits || (feats && !f)) { rc = aspire_error_prefix(ASPIRE_ERR_BACKEND, "forward pass"); break; }
        tr_rows_ce(logits->data, n, K, im->y + b0, NULL, pred + b0, NULL);
        if (feats) memcpy(feats + (size_t)b0 * (size_t)D, f->data, (size_t)n * (size_t)D * sizeof(float));
        aspire_progress_update(&pg, b0 + n, NULL);
    }
    if (!rc) aspire_progress_finish(&pg, NULL);
    aspire_ctx_reset(ctx);
    aspire_ctx_set_training(ctx, training);
    aspire_ctx_set_recording(ctx, recording);
    return rc;
}
