/* model.c — DFR's last-layer replacement. */
#include "train/train_model.h"

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
