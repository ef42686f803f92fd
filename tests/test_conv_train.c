/* test_conv_train.c — a small convolutional net (conv, batch norm, ReLU, max pool, fused batch
 * norm + ReLU, global average pool, linear) learns a separable toy image problem: horizontal
 * versus vertical stripes with random phase, colour and noise. Plain SGD with momentum written
 * here. It must reach 100% training accuracy and >= 95% on fresh images in eval mode (running
 * batch-norm statistics), on both engine paths. */
#include "aspire/engine.h"
#include "engine/fused.h"
#include "test.h"

#include <string.h>

#define S 12 /* image side */

/* x (n, S, S, 3), labels[n]: 0 = horizontal stripes, 1 = vertical. */
static void make_images(float *x, int32_t *labels, int n, aspire_rng *rng) {
    for (int i = 0; i < n; i++) {
        int label = (int)aspire_rng_below(rng, 2), period = 2 + (int)aspire_rng_below(rng, 3);
        int phase = (int)aspire_rng_below(rng, period);
        float color[3];
        for (int c = 0; c < 3; c++) color[c] = 0.3f + 0.7f * (float)aspire_rng_uniform(rng);
        for (int yy = 0; yy < S; yy++)
            for (int xx = 0; xx < S; xx++) {
                int on = ((label ? xx : yy) + phase) % period == 0;
                for (int c = 0; c < 3; c++)
                    x[((i * S + yy) * S + xx) * 3 + c] = (on ? color[c] : 0.0f) + 0.15f * aspire_rng_normal(rng);
            }
        labels[i] = label;
    }
}

typedef struct net {
    aspire_params *p;
    aspire_tensor *w1, *g1, *b1, *m1, *v1, *w2, *g2, *b2, *m2, *v2, *fw, *fb;
} net;

static void net_init(net *n, aspire_rng *rng) {
    n->p = aspire_params_new();
    n->w1 = aspire_params_add(n->p, "w1", 4, (int64_t[]){8, 3, 3, 3}, 1);
    n->g1 = aspire_params_add(n->p, "g1", 1, (int64_t[]){8}, 1);
    n->b1 = aspire_params_add(n->p, "b1", 1, (int64_t[]){8}, 1);
    n->m1 = aspire_params_add(n->p, "m1", 1, (int64_t[]){8}, 0);
    n->v1 = aspire_params_add(n->p, "v1", 1, (int64_t[]){8}, 0);
    n->w2 = aspire_params_add(n->p, "w2", 4, (int64_t[]){16, 8, 3, 3}, 1);
    n->g2 = aspire_params_add(n->p, "g2", 1, (int64_t[]){16}, 1);
    n->b2 = aspire_params_add(n->p, "b2", 1, (int64_t[]){16}, 1);
    n->m2 = aspire_params_add(n->p, "m2", 1, (int64_t[]){16}, 0);
    n->v2 = aspire_params_add(n->p, "v2", 1, (int64_t[]){16}, 0);
    n->fw = aspire_params_add(n->p, "fw", 2, (int64_t[]){2, 16}, 1);
    n->fb = aspire_params_add(n->p, "fb", 1, (int64_t[]){2}, 1);
    aspire_init_kaiming(n->w1, 27, rng);
    aspire_init_kaiming(n->w2, 72, rng);
    aspire_init_uniform(n->fw, -0.25f, 0.25f, rng);
    aspire_init_fill(n->g1, 1);
    aspire_init_fill(n->g2, 1);
    aspire_init_fill(n->v1, 1);
    aspire_init_fill(n->v2, 1);
}

static aspire_tensor *net_forward(aspire_ctx *ctx, net *n, aspire_tensor *x) {
    aspire_conv_params p = {1, 1, 1, 1, 1, 1};
    aspire_tensor *h = aspire_conv2d(ctx, x, n->w1, NULL, p);
    h = aspire_relu(ctx, aspire_batchnorm(ctx, h, n->g1, n->b1, n->m1, n->v1, 0.1f, 1e-5f));
    h = aspire_maxpool2d(ctx, h, 2, 2, 0);
    h = aspire_conv2d(ctx, h, n->w2, NULL, p);
    h = aspire_batchnorm_act(ctx, h, n->g2, n->b2, n->m2, n->v2, 0.1f, 1e-5f, NULL, 1);
    return aspire_linear(ctx, aspire_global_avgpool(ctx, h), n->fw, n->fb);
}

static double accuracy(const aspire_tensor *logits, const int32_t *labels) {
    int ok = 0;
    for (int64_t i = 0; i < logits->shape[0]; i++)
        ok += (logits->data[2 * i + 1] > logits->data[2 * i]) == (labels[i] == 1);
    return (double)ok / (double)logits->shape[0];
}

static void train_once(int reference) {
    const int ntrain = 64, ntest = 64, batch = 32, steps = 80;
    aspire_rng rng;
    aspire_rng_seed(&rng, 11);
    float *xtr = malloc(sizeof(float) * ntrain * S * S * 3), *xte = malloc(sizeof(float) * ntest * S * S * 3);
    int32_t ytr[64], yte[64];
    make_images(xtr, ytr, ntrain, &rng);
    make_images(xte, yte, ntest, &rng);
    net n;
    net_init(&n, &rng);
    aspire_ctx *ctx;
    aspire_ctx_options o = {.seed = 3, .reference = reference};
    CHECK(aspire_ctx_new(&ctx, &o) == ASPIRE_OK);
    /* momentum buffers */
    int np = aspire_params_count(n.p);
    float **mom = calloc((size_t)np, sizeof(float *));
    for (int i = 0; i < np; i++) mom[i] = calloc((size_t)aspire_params_at(n.p, i)->numel, sizeof(float));
    double last_loss = 0;
    for (int step = 0; step < steps; step++) {
        int off = (step * batch) % ntrain;
        aspire_ctx_set_training(ctx, 1);
        aspire_params_zero_grad(n.p);
        aspire_tensor *x = aspire_tensor_from(ctx, 4, (int64_t[]){batch, S, S, 3}, xtr + (size_t)off * S * S * 3);
        aspire_tensor *loss = aspire_cross_entropy(ctx, net_forward(ctx, &n, x), ytr + off, NULL, ASPIRE_REDUCE_MEAN);
        CHECK(aspire_backward(ctx, loss) == ASPIRE_OK);
        if (!loss) break;
        last_loss = loss->data[0];
        for (int i = 0; i < np; i++) {
            aspire_tensor *t = aspire_params_at(n.p, i);
            if (!aspire_params_trainable(n.p, i) || !t->grad_valid) continue;
            for (int64_t j = 0; j < t->numel; j++) {
                mom[i][j] = 0.9f * mom[i][j] + t->grad[j];
                t->data[j] -= 0.05f * mom[i][j];
            }
        }
        aspire_ctx_reset(ctx);
    }
    CHECK_MSG(last_loss < 0.1, "%s: final training loss %.4f", reference ? "reference" : "oneDNN", last_loss);
    aspire_ctx_set_training(ctx, 0);
    aspire_ctx_set_recording(ctx, 0);
    aspire_tensor *ltr = net_forward(ctx, &n, aspire_tensor_from(ctx, 4, (int64_t[]){ntrain, S, S, 3}, xtr));
    aspire_tensor *lte = net_forward(ctx, &n, aspire_tensor_from(ctx, 4, (int64_t[]){ntest, S, S, 3}, xte));
    CHECK(ltr && lte);
    if (ltr && lte) {
        double atr = accuracy(ltr, ytr), ate = accuracy(lte, yte);
        CHECK_MSG(atr == 1.0, "%s: training accuracy %.3f", reference ? "reference" : "oneDNN", atr);
        CHECK_MSG(ate >= 0.95, "%s: test accuracy %.3f", reference ? "reference" : "oneDNN", ate);
    }
    for (int i = 0; i < np; i++) free(mom[i]);
    free(mom);
    free(xtr);
    free(xte);
    aspire_params_free(n.p);
    aspire_ctx_free(ctx);
}

static void test_train_onednn(void) { train_once(0); }
static void test_train_reference(void) { train_once(1); }

int main(void) {
    RUN(test_train_onednn);
    RUN(test_train_reference);
    return TEST_REPORT();
}
