/* test_resnet18_torch.c — our ResNet-18 against torchvision's (tests/fixtures/resnet18, written by
 * scripts/make_fixture_resnet18.py with Debian's python3-torch 1.13 and python3-torchvision 0.14):
 * the same tensor names and shapes as torchvision's state_dict, and the same logits and pooled
 * features in eval mode and logits in training mode (batch statistics), from weights both sides
 * compute bit for bit from the tensors' names. Tolerance: float32 sums in a different order over
 * 18 layers (oneDNN vs PyTorch's kernels), 2e-4 relative to the largest logit. */
#include "aspire/resnet.h"
#include "aspire/safetensors.h"
#include "test.h"

#include <string.h>

#define FIXTURE ASPIRE_SOURCE_DIR "/tests/fixtures/resnet18/torchvision_resnet18.safetensors"

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* u(name, i) = (splitmix64(fnv1a(name) + i) >> 40) / 2^24 - 0.5, exact in float32 */
static float uniform(uint64_t h, int64_t i) {
    uint64_t z = h + (uint64_t)i + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(z >> 40) / 16777216.0f - 0.5f;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The script's value(name, shape), in the same float32 operations. */
static void fill(aspire_tensor *t) {
    uint64_t h = fnv1a(t->name);
    float scale = 0;
    if (t->ndim >= 2) {
        int64_t fan_in = 1;
        for (int d = 1; d < t->ndim; d++) fan_in *= t->shape[d];
        scale = sqrtf(24.0f / (float)fan_in);
    }
    for (int64_t i = 0; i < t->numel; i++) {
        float u = uniform(h, i), v;
        if (t->ndim >= 2) v = u * scale;
        else if (ends_with(t->name, "running_var")) v = 1.0f + u * 0.5f;
        else if (ends_with(t->name, "running_mean") || ends_with(t->name, "bias")) v = u * 0.25f;
        else v = 1.0f + u * 0.25f;
        t->data[i] = v;
    }
}

/* our weights are (O, I, KH, KW) like PyTorch's, so a name's flat index means the same value */
static void test_names_and_logits(void) {
    aspire_safetensors *fx = NULL;
    CHECK_MSG(aspire_safetensors_open(&fx, FIXTURE) == ASPIRE_OK, "%s", aspire_errmsg());
    if (!fx) return;
    aspire_resnet_config cfg = aspire_resnet18_config(10);
    aspire_resnet *net = NULL;
    CHECK(aspire_resnet_new(&net, &cfg, 1) == ASPIRE_OK);
    aspire_params *p = aspire_resnet_params(net);
    /* names and shapes: exactly torchvision's state_dict (without num_batches_tracked) */
    const char *list = aspire_safetensors_meta(fx, "params");
    CHECK(list != NULL);
    int listed = 0;
    char *copy = strdup(list ? list : ""), *save = NULL;
    for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        char *colon = strchr(tok, ':');
        *colon = 0;
        listed++;
        aspire_tensor *t = aspire_params_find(p, tok);
        CHECK_MSG(t != NULL, "no tensor '%s' in our ResNet-18", tok);
        if (!t) continue;
        char shape[64] = "";
        for (int d = 0; d < t->ndim; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? "x" : "", (long long)t->shape[d]);
        CHECK_MSG(strcmp(shape, colon + 1) == 0, "%s: ours %s, torchvision %s", tok, shape, colon + 1);
    }
    free(copy);
    CHECK_MSG(listed == aspire_params_count(p), "torchvision has %d tensors, ours %d", listed, aspire_params_count(p));
    CHECK(listed == 102);
    CHECK(aspire_resnet_feature_dim(net) == 512);
    for (int i = 0; i < aspire_params_count(p); i++) fill(aspire_params_at(p, i));

    static float input[4 * 32 * 32 * 3], ref_eval[40], ref_train[40], ref_feat[4 * 512];
    CHECK(aspire_safetensors_read_f32(fx, "input", 4, (int64_t[]){4, 32, 32, 3}, 0, input, 4 * 32 * 32 * 3, NULL) == 0);
    CHECK(aspire_safetensors_read_f32(fx, "logits_eval", 2, (int64_t[]){4, 10}, 0, ref_eval, 40, NULL) == 0);
    CHECK(aspire_safetensors_read_f32(fx, "logits_train", 2, (int64_t[]){4, 10}, 0, ref_train, 40, NULL) == 0);
    CHECK(aspire_safetensors_read_f32(fx, "features_eval", 2, (int64_t[]){4, 512}, 0, ref_feat, 4 * 512, NULL) == 0);

    for (int reference = 0; reference <= 1; reference++) {  /* oneDNN, then the plain C paths */
        aspire_ctx *ctx;
        aspire_ctx_options o = {.threads = 2, .seed = 1, .reference = reference};
        CHECK(aspire_ctx_new(&ctx, &o) == ASPIRE_OK);
        aspire_ctx_set_recording(ctx, 0);
        for (int training = 0; training <= 1; training++) {
            aspire_ctx_set_training(ctx, training);
            aspire_tensor *x = aspire_tensor_from(ctx, 4, (int64_t[]){4, 32, 32, 3}, input), *f = NULL;
            aspire_tensor *y = aspire_resnet_forward(ctx, net, x, &f);
            CHECK(y && y->ndim == 2 && y->shape[0] == 4 && y->shape[1] == 10);
            if (!y) continue;
            const float *ref = training ? ref_train : ref_eval;
            double mx = 0, err = 0;
            for (int i = 0; i < 40; i++) {
                mx = fmax(mx, fabs(ref[i]));
                err = fmax(err, fabs(y->data[i] - ref[i]));
            }
            CHECK_MSG(err <= 2e-4 * mx, "%s path, %s mode: max |logit - torch| = %g (largest logit %g)",
                      reference ? "reference" : "oneDNN", training ? "training" : "eval", err, mx);
            if (!training && f) {
                double fe = 0, fm = 0;
                for (int i = 0; i < 4 * 512; i++) {
                    fm = fmax(fm, fabs(ref_feat[i]));
                    fe = fmax(fe, fabs(f->data[i] - ref_feat[i]));
                }
                CHECK_MSG(fe <= 2e-4 * fm, "features: max error %g (largest %g)", fe, fm);
            }
            aspire_ctx_reset(ctx);
        }
        aspire_ctx_free(ctx);
        /* training mode updated the running statistics: restore them for the next path */
        for (int i = 0; i < aspire_params_count(p); i++) fill(aspire_params_at(p, i));
    }
    aspire_resnet_free(net);
    aspire_safetensors_free(fx);
}

int main(void) {
    RUN(test_names_and_logits);
    return TEST_REPORT();
}
