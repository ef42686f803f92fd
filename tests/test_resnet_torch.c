/* test_resnet_torch.c — the reference network against PyTorch 1.13: same weights, same input,
 * eval-mode logits, training-mode logits, loss, parameter gradients and running statistics, from
 * tests/fixtures/resnet/reference_net.safetensors (written by scripts/make_fixture_resnet.py; the
 * weights are recomputed here from the names, see param_values). Both engine paths (oneDNN and the
 * C reference) are checked. Also: parameter names and shapes equal PyTorch's state_dict, the
 * ResNet-18/50 parameter counts equal torchvision's, and the FLOP count of the reference net. */
#include "aspire/engine.h"
#include "aspire/resnet.h"
#include "aspire/safetensors.h"
#include "engine/onednn_glue.h"
#include "test.h"

#include <string.h>

#define FIXTURE ASPIRE_SOURCE_DIR "/tests/fixtures/resnet/reference_net.safetensors"

/* ---- the fixture's parameter values (mirrors fill() and param_values() of the script) ------ */
static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static void fill(const char *name, float *out, int64_t n) {
    uint64_t x = fnv1a(name) | 1;
    for (int64_t i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t v = x * 2685821657736338717ull;
        out[i] = (float)(v >> 40) / 16777216.0f - 0.5f;
    }
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void param_values(const aspire_tensor *t) {
    float *v = t->data;
    fill(t->name, v, t->numel);
    if (ends_with(t->name, "running_var")) {
        for (int64_t i = 0; i < t->numel; i++) v[i] = 1.0f + v[i] * 0.5f;
    } else if (ends_with(t->name, "running_mean")) {
        for (int64_t i = 0; i < t->numel; i++) v[i] = v[i] * 0.25f;
    } else if (t->ndim == 1 && ends_with(t->name, ".weight") && strncmp(t->name, "fc", 2) != 0) {
        for (int64_t i = 0; i < t->numel; i++) v[i] = 1.0f + v[i] * 0.5f;
    } else if (ends_with(t->name, ".bias")) {
        for (int64_t i = 0; i < t->numel; i++) v[i] = v[i] * 0.25f;
    } else {
        int64_t fan_in = t->numel / t->shape[0];
        float scale = (float)(2.0 * sqrt(3.0 / (double)fan_in));
        for (int64_t i = 0; i < t->numel; i++) v[i] = v[i] * scale;
    }
}

/* ---- comparison ----------------------------------------------------------------------------- */
/* max |a - b| / max(1e-3, max |b|) over the tensor `name` of the fixture; checked against tol. */
static double compare(const aspire_safetensors *st, const char *name, const float *a, int64_t n, double tol,
                      const char *path) {
    const aspire_st_tensor *t = aspire_safetensors_find(st, name);
    CHECK_MSG(t && t->numel == n, "%s: fixture tensor %s missing or of %lld elements (want %lld)", path, name,
              t ? (long long)t->numel : -1LL, (long long)n);
    if (!t || t->numel != n) return 1e9;
    float *b = malloc(sizeof(float) * (size_t)n);
    aspire_st_tensor_to_f32(t, b);
    double mb = 1e-3, md = 0;
    for (int64_t i = 0; i < n; i++) {
        mb = fmax(mb, fabs(b[i]));
        md = fmax(md, fabs((double)a[i] - b[i]));
    }
    free(b);
    double rel = md / mb;
    if (getenv("ASPIRE_TEST_VERBOSE")) fprintf(stderr, "  %s %s: %.3g\n", path, name, rel);
    CHECK_MSG(rel <= tol, "%s: %s differs from PyTorch by %.3g (relative to its largest value) > %.3g", path, name, rel,
              tol);
    return rel;
}

/* The network's parameter names and shapes in PyTorch's state_dict order, as the fixture lists
 * them; fills the values from the fixture's recipe. */
static void check_names(const aspire_safetensors *st, aspire_params *ps) {
    size_t cap = 1 << 16, len = 0;
    char *names = calloc(cap, 1);
    for (int i = 0; i < aspire_params_count(ps); i++) {
        const aspire_tensor *t = aspire_params_at(ps, i);
        len += (size_t)snprintf(names + len, cap - len, "%s%s:", i ? ";" : "", t->name);
        for (int d = 0; d < t->ndim; d++) len += (size_t)snprintf(names + len, cap - len, d ? "x%lld" : "%lld", (long long)t->shape[d]);
        param_values(t);
    }
    const char *want = aspire_safetensors_meta(st, "params");
    CHECK_MSG(want && strcmp(names, want) == 0, "parameter names/shapes differ from PyTorch's state_dict:\n ours  %s\n torch %s",
              names, want ? want : "(none)");
    free(names);
}

/* reference: 1 for the C reference path; winograd: allow oneDNN's Winograd convolutions; bn_kernel: the
 * batch-norm kernel (ASPIRE_BN_*). */
static void check_against_torch(int reference, int winograd, int bn_kernel) {
    const char *path = reference ? "reference path" : winograd ? "oneDNN path (Winograd)" : "oneDNN path (direct)";
    /* batch-norm backward through 17 layers on a batch of 2 amplifies rounding: up to ~1.4e-5
     * relative seen (direct and Winograd convolutions alike) */
    const double gtol = 1e-4;
    aspire_safetensors *st = NULL;
    int rc = aspire_safetensors_open(&st, FIXTURE);
    CHECK_MSG(rc == ASPIRE_OK, "cannot open the fixture: %s", aspire_errmsg());
    if (rc != ASPIRE_OK) return;

    aspire_resnet_config cfg = aspire_resnet_reference_config(2);
    aspire_resnet *net = NULL;
    CHECK(aspire_resnet_new(&net, &cfg, 1) == ASPIRE_OK);
    aspire_params *ps = aspire_resnet_params(net);
    check_names(st, ps);

    aspire_ctx *ctx;
    aspire_ctx_options o = {.threads = 0, .seed = 1, .reference = reference, .no_winograd = !winograd, .bn_kernel = bn_kernel};
    CHECK(aspire_ctx_new(&ctx, &o) == ASPIRE_OK);
    float input[2 * 32 * 32 * 3], targets_f[2];
    CHECK(aspire_safetensors_read_f32(st, "input", 4, (int64_t[]){2, 32, 32, 3}, 0, input, 6144, NULL) == ASPIRE_OK);
    CHECK(aspire_safetensors_read_f32(st, "targets", 1, (int64_t[]){2}, 0, targets_f, 2, NULL) == ASPIRE_OK);
    int32_t targets[2] = {(int32_t)targets_f[0], (int32_t)targets_f[1]};

    /* eval mode, no tape */
    aspire_ctx_set_training(ctx, 0);
    aspire_ctx_set_recording(ctx, 0);
    aspire_tensor *x = aspire_tensor_from(ctx, 4, (int64_t[]){2, 32, 32, 3}, input);
    aspire_tensor *le = aspire_resnet_forward(ctx, net, x, NULL);
    CHECK_MSG(le != NULL, "eval forward failed: %s", aspire_errmsg());
    /* fp32 through 17 convolutions with different summation orders: ~1e-6 relative seen */
    if (le) compare(st, "logits_eval", le->data, le->numel, 1e-4, path);
    aspire_ctx_reset(ctx);

    /* training mode: batch statistics, loss, gradients, running statistics */
    aspire_ctx_set_training(ctx, 1);
    aspire_ctx_set_recording(ctx, 1);
    aspire_params_zero_grad(ps);
    x = aspire_tensor_from(ctx, 4, (int64_t[]){2, 32, 32, 3}, input);
    aspire_tensor *feat = NULL;
    aspire_tensor *lt = aspire_resnet_forward(ctx, net, x, &feat);
    aspire_tensor *loss = aspire_cross_entropy(ctx, lt, targets, NULL, ASPIRE_REDUCE_MEAN);
    CHECK_MSG(loss != NULL, "training forward failed: %s", aspire_errmsg());
    CHECK(feat && feat->ndim == 2 && feat->shape[1] == aspire_resnet_feature_dim(net));
    if (loss) {
        compare(st, "logits_train", lt->data, lt->numel, 1e-4, path);
        compare(st, "loss", loss->data, 1, 1e-5, path);
        CHECK(aspire_backward(ctx, loss) == ASPIRE_OK);
        const char *grads[] = {"conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer1.1.bn2.bias",
                               "layer2.0.downsample.0.weight", "layer3.1.bn1.weight", "layer4.1.bn2.weight", "fc.weight",
                               "fc.bias"};
        for (size_t i = 0; i < sizeof grads / sizeof grads[0]; i++) {
            aspire_tensor *p = aspire_params_find(ps, grads[i]);
            CHECK_MSG(p && p->grad_valid, "no gradient for %s", grads[i]);
            if (!p || !p->grad_valid) continue;
            char key[128];
            snprintf(key, sizeof key, "grad.%s", grads[i]);
            compare(st, key, p->grad, p->numel, gtol, path);
        }
        const char *bns[] = {"bn1", "layer2.0.downsample.1", "layer4.1.bn2"};
        for (size_t i = 0; i < sizeof bns / sizeof bns[0]; i++) {
            char key[128], pname[128];
            snprintf(pname, sizeof pname, "%s.running_mean", bns[i]);
            snprintf(key, sizeof key, "running_mean.%s", bns[i]);
            aspire_tensor *p = aspire_params_find(ps, pname);
            CHECK(p != NULL);
            if (p) compare(st, key, p->data, p->numel, 1e-5, path);
            snprintf(pname, sizeof pname, "%s.running_var", bns[i]);
            snprintf(key, sizeof key, "running_var.%s", bns[i]);
            p = aspire_params_find(ps, pname);
            CHECK(p != NULL);
            if (p) compare(st, key, p->data, p->numel, 1e-5, path);
        }
    }
    CHECK_MSG(aspire_dnnl_fallbacks(ctx) == 0, "%s: a oneDNN backward fell back to the reference", path);
    aspire_ctx_free(ctx);
    aspire_resnet_free(net);
    aspire_safetensors_free(st);
}

static void test_against_torch_onednn(void) {
    check_against_torch(0, 0, ASPIRE_BN_DEFAULT);
    check_against_torch(0, 1, ASPIRE_BN_DEFAULT);
    /* batch norm on oneDNN's primitive (selectable, not the default): with direct convolutions
     * only; behind Winograd ones its single-threaded statistics lose precision (see op_norm.c) */
    check_against_torch(0, 0, ASPIRE_BN_ONEDNN);
}
static void test_against_torch_reference(void) { check_against_torch(1, 0, ASPIRE_BN_DEFAULT); }

/* Parameter counts of torchvision's resnet18/resnet50 (trainable: weights and biases, batch-norm
 * gamma/beta) and of the anchor's reference network; FLOPs of the reference net as the anchor
 * counts them (0.2804 GFLOP at 64x64). */
static void test_family_shapes(void) {
    struct { aspire_resnet_config cfg; int64_t params; } cases[] = {
        {aspire_resnet_reference_config(2), 700434},
        {aspire_resnet18_config(1000), 11689512},
        {aspire_resnet50_config(1000), 25557032},
    };
    for (int i = 0; i < 3; i++) {
        aspire_resnet *net = NULL;
        CHECK(aspire_resnet_new(&net, &cases[i].cfg, 3) == ASPIRE_OK);
        if (!net) continue;
        CHECK_MSG(aspire_params_numel(aspire_resnet_params(net), 1) == cases[i].params, "config %d: %lld parameters, want %lld",
                  i, (long long)aspire_params_numel(aspire_resnet_params(net), 1), (long long)cases[i].params);
        if (i == 0) {
            CHECK_CLOSE(aspire_resnet_flops(net, 64, 64) / 1e9, 0.2804, 1e-3);
            CHECK(aspire_resnet_feature_dim(net) == 128);
        }
        if (i == 1) CHECK(aspire_params_find(aspire_resnet_params(net), "layer4.1.bn2.running_var") != NULL);
        if (i == 2) {
            CHECK(aspire_params_find(aspire_resnet_params(net), "layer4.2.conv3.weight") != NULL);
            CHECK(aspire_resnet_feature_dim(net) == 2048);
        }
        aspire_resnet_free(net);
    }
    aspire_resnet_config bad = aspire_resnet_reference_config(2);
    bad.nstages = 5;
    aspire_resnet *net = NULL;
    CHECK(aspire_resnet_new(&net, &bad, 1) == ASPIRE_ERR_ARG && net == NULL);
    CHECK(strstr(aspire_errmsg(), "nstages") != NULL);
}

/* ResNet-18 runs forward and backward on a small image (shapes only: values are PyTorch-checked
 * for the reference net above, which shares every op). */
static void test_resnet18_runs(void) {
    aspire_resnet_config cfg = aspire_resnet18_config(10);
    aspire_resnet *net = NULL;
    CHECK(aspire_resnet_new(&net, &cfg, 5) == ASPIRE_OK);
    aspire_ctx *ctx;
    CHECK(aspire_ctx_new(&ctx, NULL) == ASPIRE_OK);
    aspire_ctx_set_training(ctx, 1);
    aspire_tensor *x = aspire_tensor_zeros(ctx, 4, (int64_t[]){2, 64, 64, 3});
    for (int64_t i = 0; i < x->numel; i++) x->data[i] = (float)((i * 7919) % 255) / 255.0f;
    aspire_tensor *y = aspire_resnet_forward(ctx, net, x, NULL);
    CHECK(y && y->shape[0] == 2 && y->shape[1] == 10);
    aspire_tensor *loss = aspire_cross_entropy(ctx, y, (int32_t[]){3, 7}, NULL, ASPIRE_REDUCE_MEAN);
    CHECK(aspire_backward(ctx, loss) == ASPIRE_OK);
    aspire_tensor *w = aspire_params_find(aspire_resnet_params(net), "conv1.weight");
    CHECK(w && w->grad_valid);
    double s = 0;
    for (int64_t i = 0; w && i < w->numel; i++) s += fabs(w->grad[i]);
    CHECK(s > 0 && isfinite(s));
    aspire_ctx_free(ctx);
    aspire_resnet_free(net);
}

/* Same seed and thread count, same result: two fresh networks, one training step each, give
 * bitwise-equal logits, gradients and running statistics. */
static void test_determinism(void) {
    float *grads[2] = {0}, logit[2][4];
    int64_t total = 0;
    for (int run = 0; run < 2; run++) {
        aspire_resnet_config cfg = aspire_resnet_reference_config(2);
        aspire_resnet *net = NULL;
        CHECK(aspire_resnet_new(&net, &cfg, 11) == ASPIRE_OK);
        aspire_ctx *ctx;
        CHECK(aspire_ctx_new(&ctx, NULL) == ASPIRE_OK);
        aspire_ctx_set_training(ctx, 1);
        aspire_tensor *x = aspire_tensor_new(ctx, 4, (int64_t[]){2, 32, 32, 3});
        aspire_rng rng;
        aspire_rng_seed(&rng, 5);
        for (int64_t i = 0; i < x->numel; i++) x->data[i] = aspire_rng_normal(&rng);
        aspire_tensor *y = aspire_resnet_forward(ctx, net, x, NULL);
        CHECK(aspire_backward(ctx, aspire_cross_entropy(ctx, y, (int32_t[]){0, 1}, NULL, ASPIRE_REDUCE_MEAN)) == ASPIRE_OK);
        memcpy(logit[run], y->data, sizeof(float) * 4);
        aspire_params *ps = aspire_resnet_params(net);
        total = 0;
        for (int i = 0; i < aspire_params_count(ps); i++) total += aspire_params_at(ps, i)->numel;
        grads[run] = malloc(sizeof(float) * (size_t)total);
        int64_t off = 0;
        for (int i = 0; i < aspire_params_count(ps); i++) {
            aspire_tensor *t = aspire_params_at(ps, i);
            /* trainable: the gradient; buffers: the updated running statistics */
            memcpy(grads[run] + off, aspire_params_trainable(ps, i) ? t->grad : t->data, sizeof(float) * (size_t)t->numel);
            off += t->numel;
        }
        aspire_ctx_free(ctx);
        aspire_resnet_free(net);
    }
    CHECK(memcmp(logit[0], logit[1], sizeof logit[0]) == 0);
    CHECK(grads[0] && grads[1] && memcmp(grads[0], grads[1], sizeof(float) * (size_t)total) == 0);
    free(grads[0]);
    free(grads[1]);
}

int main(void) {
    RUN(test_against_torch_onednn);
    RUN(test_against_torch_reference);
    RUN(test_family_shapes);
    RUN(test_resnet18_runs);
    RUN(test_determinism);
    return TEST_REPORT();
}
