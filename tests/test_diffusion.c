/* test_diffusion.c — the generator's diffusion process: the cosine schedule and the DDIM timesteps
 * and update against hand-computed values, and a tiny model that overfits one image and samples
 * it back through DDIM (with and without guidance). */
#include "aspire/fileio.h"
#include "aspire/generator.h"
#include "aspire/safetensors.h"
#include "test.h"
#include "testdir.h"

#include <math.h>
#include <string.h>

static void test_schedule(void) {
    /* f(s) = cos²((s/T + 0.008)/1.008 · π/2); ᾱ(t) = f(t+1)/f(0) while no β is clipped */
    CHECK_CLOSE(aspire_diffusion_alpha_bar(1000, 0), 0.999958715775178, 1e-12);
    CHECK_CLOSE(aspire_diffusion_alpha_bar(1000, 499), 0.4938435904406382, 1e-12);
    /* the last steps are clipped to β = 0.999 */
    CHECK_CLOSE(aspire_diffusion_alpha_bar(1000, 998), 2.4287669070348544e-06, 1e-9);
    CHECK_CLOSE(aspire_diffusion_alpha_bar(1000, 999), 2.4287669070348567e-09, 1e-9);
    for (int t = 1; t < 1000; t++) CHECK(aspire_diffusion_alpha_bar(1000, t) < aspire_diffusion_alpha_bar(1000, t - 1));
    int ts[4];
    aspire_diffusion_timesteps(1000, 4, ts);
    CHECK(ts[0] == 750 && ts[1] == 500 && ts[2] == 250 && ts[3] == 0);
    int one;
    aspire_diffusion_timesteps(1000, 1, &one);
    CHECK(one == 0);
}

static void test_ddim_step(void) {
    /* ab 0.5 -> 0.8, x 0.5, v 0.2: x0 = √.5(.5 − .2) = .212132, ε = (.5 − √.5 x0)/√.5 = .494975,
     * x' = √.8 x0 + √.2 ε = .189737 + .221359 = .411096 */
    float x[2] = {0.5f, 3.0f}, v[2] = {0.2f, -3.0f};
    aspire_ddim_step(x, v, NULL, 2, 0.5, 0.8, 0.0);
    CHECK_CLOSE(x[0], 0.4110961, 1e-6);
    /* x0 = √.5 · 6 clipped to 1; ε = (3 − √.5)/√.5; x' = √.8 + √.2 ε */
    CHECK_CLOSE(x[1], sqrt(0.8) + sqrt(0.2) * (3.0 - sqrt(0.5)) / sqrt(0.5), 1e-6);
    /* the final step (ᾱ_prev = 1) returns x0 */
    float y = 0.5f, w = 0.2f;
    aspire_ddim_step(&y, &w, NULL, 1, 0.5, 1.0, 1.0);
    CHECK_CLOSE(y, 0.2121320, 1e-6);
    /* η = 1: σ = √((1−.8)/(1−.5)) √(1 − .5/.8) = .387298; x' = √.8 x0 + √(.2 − σ²) ε + σ z */
    float a = 0.5f, b = 0.2f, z = 1.0f;
    aspire_ddim_step(&a, &b, &z, 1, 0.5, 0.8, 1.0);
    double sigma = sqrt(0.2 / 0.5) * sqrt(1.0 - 0.5 / 0.8);
    CHECK_CLOSE(a, sqrt(0.8) * 0.2121320 + sqrt(0.2 - sigma * sigma) * 0.4949747 + sigma, 1e-6);
}

/* An 8×8 picture: a red square on blue, as bytes. */
static void picture(uint8_t *px) {
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) {
            int in = x >= 2 && x < 6 && y >= 3 && y < 7;
            uint8_t *p = px + (y * 8 + x) * 3;
            p[0] = in ? 230 : 20;
            p[1] = 30;
            p[2] = in ? 20 : 220;
        }
}

static aspire_generator_config tiny_config(void) {
    aspire_generator_config c = aspire_generator_default_config();
    c.image_size = 8;
    c.out_size = 8;
    c.patch = 1;
    c.widths[0] = 16;
    c.widths[1] = 16;
    c.groups = 4;
    c.heads = 1;
    c.d_time = 16;
    c.d_text = 16;
    c.text_layers = 1;
    c.text_heads = 1;
    c.max_len = 6;
    c.timesteps = 100;
    return c;
}

static void test_overfit_one_image(void) {
    uint8_t px[8 * 8 * 3];
    picture(px);
    char *caps[2] = {"a red square", "a red square"};
    aspire_generator_train_opts o;
    aspire_generator_train_opts_default(&o);
    o.cfg = tiny_config();
    o.steps = 400;
    o.batch = 8;
    o.lr = 3e-3f;
    o.min_lr = 3e-4f;
    o.warmup = 20;
    o.ema = 0.0f;
    o.min_count = 1;
    o.progress = 0;
    aspire_set_threads(1);
    aspire_generator *g = NULL;
    int steps = 0;
    CHECK(aspire_generator_train(&g, px, 1, caps, 2, &o, &steps, NULL) == ASPIRE_OK);
    if (!g) return;
    CHECK(steps == 400);
    aspire_ctx *ctx = NULL;
    CHECK(aspire_ctx_new(&ctx, &(aspire_ctx_options){.threads = 1}) == ASPIRE_OK);
    int32_t ids[2 * 6];
    CHECK(aspire_generator_encode(g, "a red square", ids) == ASPIRE_OK);
    memcpy(ids + 6, ids, sizeof(int32_t) * 6);
    uint64_t seeds[2] = {1, 2};
    float out[2 * 8 * 8 * 3];
    aspire_sample_opts so;
    aspire_sample_opts_default(&so);
    for (int guided = 0; guided < 2; guided++) {
        so.scale = guided ? 2.0f : 1.0f;
        CHECK(aspire_generator_sample(ctx, g, ids, 2, seeds, &so, out) == ASPIRE_OK);
        double err = 0.0;
        for (int n = 0; n < 2; n++)
            for (int i = 0; i < 8 * 8 * 3; i++) {
                double d = out[n * 192 + i] - (px[i] / 127.5 - 1.0);
                err += d * d / (2 * 192);
            }
        fprintf(stderr, "    samples vs the image: mean squared error %.5f (guidance scale %.0f)\n", err, (double)so.scale);
        CHECK_MSG(err < 0.02, "mean squared error of the samples %.4f (guidance %d)", err, guided);
    }
    aspire_ctx_free(ctx);
    aspire_generator_free(g);
}

/* Whether two safetensors files hold the same tensors, bit for bit, and the same "step". */
static int same_tensors(const char *a, const char *b) {
    aspire_safetensors *x = NULL, *y = NULL;
    int same = aspire_safetensors_open(&x, a) == ASPIRE_OK && aspire_safetensors_open(&y, b) == ASPIRE_OK &&
               aspire_safetensors_count(x) == aspire_safetensors_count(y) &&
               strcmp(aspire_safetensors_meta(x, "step"), aspire_safetensors_meta(y, "step")) == 0;
    for (int i = 0; same && i < aspire_safetensors_count(x); i++) {
        const aspire_st_tensor *t = aspire_safetensors_at(x, i), *u = aspire_safetensors_find(y, t->name);
        same = u && u->nbytes == t->nbytes && memcmp(u->data, t->data, t->nbytes) == 0;
    }
    aspire_safetensors_free(x);
    aspire_safetensors_free(y);
    return same;
}

/* 6 steps in one go and 3 + 3 through a checkpoint write the same checkpoint tensors (the files
 * differ only in the recorded training minutes). */
static void test_resume_exact(void) {
    uint8_t px[2 * 8 * 8 * 3];
    picture(px);
    for (int i = 0; i < 192; i++) px[192 + i] = (uint8_t)(255 - px[i]);
    char *caps[2] = {"a red square", "a blue square"};
    char dir[256], a[512], b[512];
    testdir_make(dir, sizeof dir);
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    aspire_generator_train_opts o;
    aspire_generator_train_opts_default(&o);
    o.cfg = tiny_config();
    o.steps = 6;
    o.batch = 3;
    o.warmup = 2;
    o.min_count = 1;
    o.progress = 0;
    o.checkpoint_every = 0;
    aspire_generator *g = NULL;
    int steps = 0;
    o.checkpoint = a;
    CHECK(aspire_generator_train(&g, px, 2, caps, 1, &o, &steps, NULL) == ASPIRE_OK && steps == 6);
    aspire_generator_free(g);
    o.checkpoint = b;
    o.stop_at = 3;
    CHECK(aspire_generator_train(&g, px, 2, caps, 1, &o, &steps, NULL) == ASPIRE_OK && steps == 3);
    aspire_generator_free(g);
    o.stop_at = 0;
    o.resume = 1;
    CHECK(aspire_generator_train(&g, px, 2, caps, 1, &o, &steps, NULL) == ASPIRE_OK && steps == 6);
    aspire_generator_free(g);
    const char *suffix[3] = {"", ".ema", ".optim"};
    for (int i = 0; i < 3; i++) {
        char fa[600], fb[600];
        snprintf(fa, sizeof fa, "%s%s", a, suffix[i]);
        snprintf(fb, sizeof fb, "%s%s", b, suffix[i]);
        CHECK_MSG(same_tensors(fa, fb), "checkpoint%s differs after resuming", suffix[i]);
    }
    testdir_remove(dir);
}

int main(void) {
    RUN(test_schedule);
    RUN(test_ddim_step);
    RUN(test_overfit_one_image);
    RUN(test_resume_exact);
    return TEST_REPORT();
}
