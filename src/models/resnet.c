/* resnet.c — the ResNet family on the engine (see include/aspire/resnet.h): the reference network
 * (3×3 stem, basic blocks) and torchvision's ResNet-18/50 (7×7 stem + max pool; basic or
 * bottleneck blocks with the stride on the 3×3 conv), with torchvision's tensor names. Each block
 * ends in one fused node: batch norm + residual add + ReLU (engine/fused.h); in eval mode without a
 * tape, batch norms are folded into the convolutions. */
#include "aspire/resnet.h"
#include "engine/fused.h"
#include "engine/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BN_MOMENTUM 0.1f
#define BN_EPS 1e-5f

typedef struct rn_bn {
    aspire_tensor *w, *b, *rm, *rv; /* (C) each: gamma, beta, running mean, running variance */
} rn_bn;

typedef struct rn_block {
    int nconv;               /* 2 (basic) or 3 (bottleneck) */
    int stride;
    aspire_tensor *conv[3];  /* (O, I, KH, KW) */
    rn_bn bn[3];
    aspire_tensor *ds_conv;  /* projection shortcut (O, I, 1, 1), or NULL for identity */
    rn_bn ds_bn;
} rn_block;

struct aspire_resnet {
    aspire_resnet_config cfg;
    aspire_params *params;
    aspire_tensor *conv1;    /* stem (W0, in, K, K) */
    rn_bn bn1;
    rn_block *blocks;
    int nblocks;
    int feat;                /* channels after the last stage */
    aspire_tensor *fc_w;     /* (classes, feat) */
    aspire_tensor *fc_b;     /* (classes) */
};

aspire_resnet_config aspire_resnet_reference_config(int num_classes) {
    aspire_resnet_config c = {.block = ASPIRE_BLOCK_BASIC, .stem = ASPIRE_STEM_3X3, .stem_width = 16, .nstages = 4,
                              .widths = {16, 32, 64, 128}, .blocks = {2, 2, 2, 2}, .in_channels = 3,
                              .num_classes = num_classes};
    return c;
}

aspire_resnet_config aspire_resnet18_config(int num_classes) {
    aspire_resnet_config c = {.block = ASPIRE_BLOCK_BASIC, .stem = ASPIRE_STEM_IMAGENET, .stem_width = 64, .nstages = 4,
                              .widths = {64, 128, 256, 512}, .blocks = {2, 2, 2, 2}, .in_channels = 3,
                              .num_classes = num_classes};
    return c;
}

aspire_resnet_config aspire_resnet50_config(int num_classes) {
    aspire_resnet_config c = {.block = ASPIRE_BLOCK_BOTTLENECK, .stem = ASPIRE_STEM_IMAGENET, .stem_width = 64,
                              .nstages = 4, .widths = {64, 128, 256, 512}, .blocks = {3, 4, 6, 3}, .in_channels = 3,
                              .num_classes = num_classes};
    return c;
}

/* ---- construction --------------------------------------------------------------------------- */
static aspire_tensor *add_conv(aspire_params *p, const char *name, int o, int i, int k, aspire_rng *rng) {
    aspire_tensor *t = aspire_params_add(p, name, 4, (int64_t[]){o, i, k, k}, 1);
    /* torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu") */
    if (t) aspire_init_kaiming(t, (int64_t)o * k * k, rng);
    return t;
}

static int add_bn(aspire_params *p, const char *prefix, int c, rn_bn *bn) {
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    bn->w = aspire_params_add(p, name, 1, (int64_t[]){c}, 1);
    snprintf(name, sizeof name, "%s.bias", prefix);
    bn->b = aspire_params_add(p, name, 1, (int64_t[]){c}, 1);
    snprintf(name, sizeof name, "%s.running_mean", prefix);
    bn->rm = aspire_params_add(p, name, 1, (int64_t[]){c}, 0);
    snprintf(name, sizeof name, "%s.running_var", prefix);
    bn->rv = aspire_params_add(p, name, 1, (int64_t[]){c}, 0);
    if (!bn->w || !bn->b || !bn->rm || !bn->rv) return ASPIRE_ERR_NOMEM;
    aspire_init_fill(bn->w, 1.0f);
    aspire_init_fill(bn->rv, 1.0f);
    return ASPIRE_OK;
}

static int check_config(const aspire_resnet_config *c) {
    if (c->block != ASPIRE_BLOCK_BASIC && c->block != ASPIRE_BLOCK_BOTTLENECK)
        return aspire_error(ASPIRE_ERR_ARG, "resnet: unknown block kind %d", (int)c->block);
    if (c->stem != ASPIRE_STEM_3X3 && c->stem != ASPIRE_STEM_IMAGENET)
        return aspire_error(ASPIRE_ERR_ARG, "resnet: unknown stem kind %d", (int)c->stem);
    if (c->nstages < 1 || c->nstages > 4)
        return aspire_error(ASPIRE_ERR_ARG, "resnet: nstages is %d, must be 1 to 4", c->nstages);
    if (c->stem_width < 1 || c->in_channels < 1 || c->num_classes < 1)
        return aspire_error(ASPIRE_ERR_ARG, "resnet: stem_width %d, in_channels %d, num_classes %d must be positive",
                            c->stem_width, c->in_channels, c->num_classes);
    for (int s = 0; s < c->nstages; s++)
        if (c->widths[s] < 1 || c->blocks[s] < 1)
            return aspire_error(ASPIRE_ERR_ARG, "resnet: stage %d has width %d and %d blocks", s + 1, c->widths[s],
                                c->blocks[s]);
    return ASPIRE_OK;
}

int aspire_resnet_new(aspire_resnet **out, const aspire_resnet_config *cfg, uint64_t seed) {
    *out = NULL;
    int rc = check_config(cfg);
    if (rc != ASPIRE_OK) return rc;
    aspire_resnet *net = aspire_calloc(1, sizeof *net);
    if (!net) return ASPIRE_ERR_NOMEM;
    net->cfg = *cfg;
    net->params = aspire_params_new();
    int nb = 0;
    for (int s = 0; s < cfg->nstages; s++) nb += cfg->blocks[s];
    net->blocks = aspire_calloc((size_t)nb, sizeof(rn_block));
    net->nblocks = nb;
    if (!net->params || !net->blocks) goto oom;
    aspire_rng rng;
    aspire_rng_seed(&rng, seed);
    aspire_params *p = net->params;
    int k = cfg->stem == ASPIRE_STEM_3X3 ? 3 : 7;
    if (!(net->conv1 = add_conv(p, "conv1.weight", cfg->stem_width, cfg->in_channels, k, &rng))) goto oom;
    if (add_bn(p, "bn1", cfg->stem_width, &net->bn1)) goto oom;
    const int expansion = cfg->block == ASPIRE_BLOCK_BOTTLENECK ? 4 : 1;
    int cin = cfg->stem_width, bi = 0;
    char name[96];
    for (int s = 0; s < cfg->nstages; s++) {
        const int width = cfg->widths[s], cout = width * expansion;
        for (int j = 0; j < cfg->blocks[s]; j++, bi++) {
            rn_block *b = &net->blocks[bi];
            b->stride = (j == 0 && s > 0) ? 2 : 1;
            b->nconv = expansion == 4 ? 3 : 2;
            /* basic: 3x3 (cin -> w), 3x3 (w -> w); bottleneck: 1x1 (cin -> w), 3x3 (w -> w), 1x1 (w -> 4w) */
            const int ks[3] = {expansion == 4 ? 1 : 3, 3, 1};
            const int ins[3] = {cin, width, width};
            const int outs[3] = {width, expansion == 4 ? width : cout, cout};
            for (int c = 0; c < b->nconv; c++) {
                snprintf(name, sizeof name, "layer%d.%d.conv%d.weight", s + 1, j, c + 1);
                if (!(b->conv[c] = add_conv(p, name, outs[c], ins[c], ks[c], &rng))) goto oom;
                snprintf(name, sizeof name, "layer%d.%d.bn%d", s + 1, j, c + 1);
                if (add_bn(p, name, outs[c], &b->bn[c])) goto oom;
            }
            if (b->stride != 1 || cin != cout) {
                snprintf(name, sizeof name, "layer%d.%d.downsample.0.weight", s + 1, j);
                if (!(b->ds_conv = add_conv(p, name, cout, cin, 1, &rng))) goto oom;
                snprintf(name, sizeof name, "layer%d.%d.downsample.1", s + 1, j);
                if (add_bn(p, name, cout, &b->ds_bn)) goto oom;
            }
            cin = cout;
        }
    }
    net->feat = cin;
    net->fc_w = aspire_params_add(p, "fc.weight", 2, (int64_t[]){cfg->num_classes, cin}, 1);
    net->fc_b = aspire_params_add(p, "fc.bias", 1, (int64_t[]){cfg->num_classes}, 1);
    if (!net->fc_w || !net->fc_b) goto oom;
    /* PyTorch's nn.Linear default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias */
    float bound = 1.0f / sqrtf((float)cin);
    aspire_init_uniform(net->fc_w, -bound, bound, &rng);
    aspire_init_uniform(net->fc_b, -bound, bound, &rng);
    *out = net;
    return ASPIRE_OK;
oom:
    aspire_resnet_free(net);
    return aspire_error(ASPIRE_ERR_NOMEM, "resnet: out of memory building the network");
}

void aspire_resnet_free(aspire_resnet *net) {
    if (!net) return;
    aspire_params_free(net->params);
    aspire_free(net->blocks, sizeof(rn_block) * (size_t)net->nblocks);
    aspire_free(net, sizeof *net);
}

aspire_params *aspire_resnet_params(aspire_resnet *net) { return net->params; }
const aspire_resnet_config *aspire_resnet_get_config(const aspire_resnet *net) { return &net->cfg; }
int aspire_resnet_feature_dim(const aspire_resnet *net) { return net->feat; }

/* ---- forward ------------------------------------------------------------------------------- */
static aspire_conv_params conv_params(const aspire_tensor *w, int stride) {
    int pad = (int)(w->shape[2] / 2);
    return (aspire_conv_params){stride, stride, pad, pad, 1, 1};
}

/* act(bn(conv(x)) + residual). In eval mode without a tape the batch norm is folded into the
 * convolution (one pass); otherwise a convolution node and a fused batch-norm node. On oneDNN,
 * activations stay in its blocked nChw16c layout from convolution to convolution (no reorders
 * around the Winograd kernels); global pooling returns plain features. */
static aspire_tensor *conv_bn(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *w, int stride, const rn_bn *b,
                              aspire_tensor *residual, int relu) {
    aspire_conv_params p = conv_params(w, stride);
    int layout = !aspire_ctx_reference(ctx) && w->shape[0] % 16 == 0 ? ASPIRE_LAYOUT_NCHW16C : ASPIRE_LAYOUT_PLAIN;
    if (residual) layout = residual->layout; /* the sum is elementwise: same layout */
    if (!aspire_ctx_training(ctx) && !aspire_ctx_recording(ctx))
        return aspire_conv_bn_eval(ctx, x, w, p, b->w, b->b, b->rm, b->rv, BN_EPS, residual, relu, layout);
    return aspire_batchnorm_act(ctx, aspire_conv2d_ex(ctx, x, w, NULL, p, layout), b->w, b->b, b->rm, b->rv, BN_MOMENTUM,
                                BN_EPS, residual, relu);
}

static aspire_tensor *block_forward(aspire_ctx *ctx, const rn_block *b, aspire_tensor *x) {
    aspire_tensor *sc = x;
    if (b->ds_conv) sc = conv_bn(ctx, x, b->ds_conv, b->stride, &b->ds_bn, NULL, 0);
    aspire_tensor *h = x;
    for (int c = 0; c < b->nconv; c++) {
        /* the stride sits on the first conv of a basic block and on the 3x3 (second) of a bottleneck */
        int stride = (c == (b->nconv == 3 ? 1 : 0)) ? b->stride : 1;
        int last = c == b->nconv - 1;
        h = conv_bn(ctx, h, b->conv[c], stride, &b->bn[c], last ? sc : NULL, 1);
    }
    return h;
}

aspire_tensor *aspire_resnet_forward(aspire_ctx *ctx, aspire_resnet *net, aspire_tensor *x, aspire_tensor **features) {
    if (features) *features = NULL;
    if (!x) return NULL;
    char buf[64];
    ASPIRE_ASSERT(x->ndim == 4 && x->shape[3] == net->cfg.in_channels, "(resnet: input %s must be (N, H, W, %d))",
                  aspire_shape_str(x, buf, sizeof buf), net->cfg.in_channels);
    aspire_tensor *h;
    if (net->cfg.stem == ASPIRE_STEM_3X3) {
        h = conv_bn(ctx, x, net->conv1, 1, &net->bn1, NULL, 1);
    } else {
        h = conv_bn(ctx, x, net->conv1, 2, &net->bn1, NULL, 1);
        h = aspire_maxpool2d(ctx, h, 3, 2, 1);
    }
    for (int i = 0; i < net->nblocks; i++) h = block_forward(ctx, &net->blocks[i], h);
    aspire_tensor *f = aspire_global_avgpool(ctx, h);
    if (features) *features = f;
    return aspire_linear(ctx, f, net->fc_w, net->fc_b);
}

double aspire_resnet_flops(const aspire_resnet *net, int h, int w) {
    const aspire_resnet_config *c = &net->cfg;
    double total = 0;
    int64_t H = h, W = w;
    /* a conv's output size: (H + 2p - k) / s + 1 with p = k / 2 */
#define OUT(n, k, s) (((n) + 2 * ((k) / 2) - (k)) / (s) + 1)
    int k = c->stem == ASPIRE_STEM_3X3 ? 3 : 7, s = c->stem == ASPIRE_STEM_3X3 ? 1 : 2;
    H = OUT(H, k, s);
    W = OUT(W, k, s);
    total += 2.0 * k * k * c->in_channels * c->stem_width * (double)(H * W);
    if (c->stem == ASPIRE_STEM_IMAGENET) { H = (H + 2 - 3) / 2 + 1; W = (W + 2 - 3) / 2 + 1; }
    for (int i = 0; i < net->nblocks; i++) {
        const rn_block *b = &net->blocks[i];
        int64_t bh = H, bw = W;
        for (int j = 0; j < b->nconv; j++) {
            const aspire_tensor *t = b->conv[j];
            int kk = (int)t->shape[2], st = (j == (b->nconv == 3 ? 1 : 0)) ? b->stride : 1;
            bh = OUT(bh, kk, st);
            bw = OUT(bw, kk, st);
            total += 2.0 * (double)(t->shape[1] * kk * kk * t->shape[0]) * (double)(bh * bw);
        }
        if (b->ds_conv) total += 2.0 * (double)(b->ds_conv->shape[0] * b->ds_conv->shape[1]) * (double)(bh * bw);
        H = bh;
        W = bw;
    }
#undef OUT
    total += 2.0 * net->feat * c->num_classes;
    return total;
}
