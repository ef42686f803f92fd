/* test_inpaint.c — the inpainter: Telea on constant images, the outside-the-mask guarantee for every
 * backend and image size, a tiny learned inpainter that overfits in seconds, model files, masks and
 * their errors, determinism, and pretraining on the world with --resume. */
#include "aspire/inpaint.h"
#include "aspire/fileio.h"
#include "aspire/optim.h"

#include "test.h"
#include "testdir.h"

#include <string.h>

static aspire_inpaint_config tiny_config(void) {
    aspire_inpaint_config c = {.image_size = 16, .levels = 2, .enc = {8, 8}, .dec = {8}};
    return c;
}

/* A textured w×h RGB image and a disc mask. */
static void make_case(aspire_image *img, uint8_t **mask, int w, int h) {
    aspire_image_init(img, w, h, 3);
    *mask = calloc((size_t)w * h, 1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->data + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 7 + y * 3);
            p[1] = (uint8_t)(200 - y * 5);
            p[2] = (uint8_t)((x ^ y) * 11);
            int dx = x - w / 2, dy = y - h / 3;
            (*mask)[(size_t)y * w + x] = dx * dx + dy * dy < (w * w) / 25;
        }
}

static void test_telea_constant(void) {
    aspire_image img, out;
    uint8_t *mask;
    make_case(&img, &mask, 40, 30);
    memset(img.data, 77, (size_t)40 * 30 * 3);
    CHECK(aspire_inpaint_telea(&img, mask, 0, &out) == ASPIRE_OK);
    int same = 1;
    for (size_t i = 0; i < (size_t)40 * 30 * 3; i++) same &= out.data[i] == 77;
    CHECK(same);
    aspire_image_destroy(&out);
    /* a mask over everything: nothing to propagate, mid grey */
    memset(mask, 1, (size_t)40 * 30);
    CHECK(aspire_inpaint_telea(&img, mask, 3, &out) == ASPIRE_OK);
    CHECK(out.data[0] == 128 && out.data[40 * 30 * 3 - 1] == 128);
    aspire_image_destroy(&out);
    aspire_image_destroy(&img);
    free(mask);
}

/* Telea continues a horizontal ramp through a hole far better than a flat fill would. */
static void test_telea_ramp(void) {
    aspire_image img, out;
    uint8_t *mask;
    make_case(&img, &mask, 32, 32);
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++)
            for (int c = 0; c < 3; c++) img.data[((size_t)y * 32 + x) * 3 + c] = (uint8_t)(x * 8);
    CHECK(aspire_inpaint_telea(&img, mask, 0, &out) == ASPIRE_OK);
    double err = 0;
    int n = 0;
    for (int i = 0; i < 32 * 32; i++)
        if (mask[i]) { err += fabs((double)out.data[3 * i] - img.data[3 * i]); n++; }
    CHECK(n > 0);
    CHECK_MSG(err / n < 6.0, "mean abs error %.2f in the hole", err / n);
    aspire_image again;  /* deterministic */
    CHECK(aspire_inpaint_telea(&img, mask, 0, &again) == ASPIRE_OK);
    CHECK(memcmp(out.data, again.data, (size_t)32 * 32 * 3) == 0);
    aspire_image_destroy(&again);
    aspire_image_destroy(&out);
    aspire_image_destroy(&img);
    free(mask);
}

static int outside_untouched(const aspire_image *a, const aspire_image *b, const uint8_t *mask) {
    for (int64_t i = 0; i < (int64_t)a->w * a->h; i++)
        if (!mask[i] && memcmp(a->data + 3 * i, b->data + 3 * i, 3) != 0) return 0;
    return 1;
}

static void test_outside_untouched(void) {
    aspire_inpaint_config cfg = tiny_config();
    aspire_inpaint_model *m = NULL;
    CHECK(aspire_inpaint_model_new(&m, &cfg, 1) == ASPIRE_OK);
    aspire_inpainter *backs[2] = {NULL, NULL};
    CHECK(aspire_inpainter_new_model(m, 1, 4, &backs[0]) == ASPIRE_OK);
    CHECK(aspire_inpainter_new_classical(0, &backs[1]) == ASPIRE_OK);
    static const int sizes[][2] = {{16, 16}, {50, 37}, {9, 12}};
    for (int b = 0; b < 2; b++)
        for (int s = 0; s < 3; s++) {
            aspire_image img, out;
            uint8_t *mask;
            make_case(&img, &mask, sizes[s][0], sizes[s][1]);
            const uint8_t *masks[1] = {mask};
            CHECK(aspire_inpainter_run(backs[b], &img, masks, 1, &out) == ASPIRE_OK);
            CHECK(out.w == img.w && out.h == img.h && out.c == 3);
            CHECK_MSG(outside_untouched(&img, &out, mask), "%s at %dx%d", aspire_inpainter_name(backs[b]), img.w, img.h);
            aspire_image_destroy(&out);
            aspire_image_destroy(&img);
            free(mask);
        }
    aspire_inpainter_free(backs[0]);
    aspire_inpainter_free(backs[1]);
}

/* The tiny U-Net learns to fill one fixed hole of one fixed image: the loss falls tenfold. */
static void test_learned_overfits(void) {
    aspire_inpaint_config cfg = tiny_config();
    aspire_inpaint_model *m = NULL;
    aspire_ctx *ctx = NULL;
    aspire_optim *opt = NULL;
    CHECK(aspire_inpaint_model_new(&m, &cfg, 3) == ASPIRE_OK);
    CHECK(aspire_ctx_new(&ctx, &(aspire_ctx_options){.threads = 1, .seed = 0}) == ASPIRE_OK);
    CHECK(aspire_optim_new_adamw(&opt, aspire_inpaint_model_params(m), &(aspire_adamw_options){5e-3f, 0.9f, 0.999f, 1e-8f, 0}) == ASPIRE_OK);
    aspire_image img;
    uint8_t *mask;
    make_case(&img, &mask, 16, 16);
    float x[16 * 16 * 4], y[16 * 16 * 3];
    aspire_inpaint_model_input(16, img.data, mask, x);
    for (int i = 0; i < 16 * 16 * 3; i++) y[i] = (img.data[i] / 255.0f - 0.5f) / 0.25f;
    float first = 0, last = 0;
    aspire_ctx_set_training(ctx, 1);
    for (int step = 0; step < 300; step++) {
        aspire_ctx_reset(ctx);
        aspire_tensor *xt = aspire_tensor_from(ctx, 4, (int64_t[]){1, 16, 16, 4}, x);
        aspire_tensor *yt = aspire_tensor_from(ctx, 4, (int64_t[]){1, 16, 16, 3}, y);
        aspire_tensor *loss = aspire_mse(ctx, aspire_inpaint_model_forward(ctx, m, xt), yt, ASPIRE_REDUCE_MEAN);
        aspire_params_zero_grad(aspire_inpaint_model_params(m));
        aspire_backward(ctx, loss);
        aspire_optim_step(opt);
        if (step == 0) first = loss->data[0];
        last = loss->data[0];
    }
    CHECK_MSG(last < first / 10, "loss %.5f -> %.5f", first, last);
    aspire_optim_free(opt);
    aspire_ctx_free(ctx);
    aspire_inpaint_model_free(m);
    aspire_image_destroy(&img);
    free(mask);
}

/* Runs a learned inpainter over the standard case (the inpainter takes m); returns the output. */
static aspire_image run_model(aspire_inpaint_model *m, int threads) {
    aspire_inpainter *inp = NULL;
    aspire_image img, out = {0};
    uint8_t *mask;
    make_case(&img, &mask, 24, 20);
    const uint8_t *masks[1] = {mask};
    CHECK(aspire_inpainter_new_model(m, threads, 0, &inp) == ASPIRE_OK);
    CHECK(aspire_inpainter_run(inp, &img, masks, 1, &out) == ASPIRE_OK);
    aspire_inpainter_free(inp);
    aspire_image_destroy(&img);
    free(mask);
    return out;
}

static void test_model_files(void) {
    char dir[256], path[512], bad[512];
    testdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/inp.safetensors", dir);
    aspire_inpaint_config cfg = tiny_config();
    aspire_inpaint_model *m = NULL, *m2 = NULL, *m3 = NULL;
    CHECK(aspire_inpaint_model_new(&m, &cfg, 5) == ASPIRE_OK);
    CHECK(aspire_inpaint_model_save(m, path, "test recipe") == ASPIRE_OK);
    char *recipe = NULL;
    CHECK(aspire_inpaint_model_load(&m2, path, &recipe) == ASPIRE_OK);
    CHECK(recipe && strcmp(recipe, "test recipe") == 0);
    aspire_strfree(recipe);
    CHECK(memcmp(aspire_inpaint_model_config(m2), &cfg, sizeof cfg) == 0);
    /* same seed and threads: the same bytes; a loaded copy too */
    CHECK(aspire_inpaint_model_new(&m3, &cfg, 5) == ASPIRE_OK);
    aspire_image a = run_model(m, 1), b = run_model(m2, 1), c = run_model(m3, 1);
    CHECK(a.data && b.data && c.data && memcmp(a.data, b.data, (size_t)24 * 20 * 3) == 0);
    CHECK(c.data && memcmp(a.data, c.data, (size_t)24 * 20 * 3) == 0);
    aspire_image_destroy(&a);
    aspire_image_destroy(&b);
    aspire_image_destroy(&c);
    /* errors name the file */
    snprintf(bad, sizeof bad, "%s/missing.safetensors", dir);
    CHECK(aspire_inpaint_model_load(&m3, bad, NULL) != ASPIRE_OK && strstr(aspire_errmsg(), bad));
    snprintf(bad, sizeof bad, "%s/junk.safetensors", dir);
    testdir_write(bad, "not a model", 11);
    CHECK(aspire_inpaint_model_load(&m3, bad, NULL) != ASPIRE_OK && strstr(aspire_errmsg(), bad));
    aspire_inpainter *inp = NULL;
    CHECK(aspire_inpainter_new_default(bad, 1, &inp) != ASPIRE_OK && inp == NULL);
    snprintf(bad, sizeof bad, "%s/absent.safetensors", dir);
    CHECK(aspire_inpainter_new_default(bad, 1, &inp) == ASPIRE_OK);  /* the fallback */
    CHECK(inp && strcmp(aspire_inpainter_name(inp), "telea") == 0);
    aspire_inpainter_free(inp);
    testdir_remove(dir);
}

static void test_masks(void) {
    char dir[256], path[512];
    testdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.png", dir);
    aspire_image m;
    aspire_image_init(&m, 5, 4, 1);
    m.data[6] = 255;
    CHECK(aspire_image_save_png(&m, path) == ASPIRE_OK);
    uint8_t *mask = NULL;
    int w = 0, h = 0;
    CHECK(aspire_inpaint_mask_load(path, 0, 0, &mask, &w, &h) == ASPIRE_OK);
    CHECK(w == 5 && h == 4 && mask[6] == 1 && mask[5] == 0);
    CHECK(aspire_mask_dilate(mask, 5, 4, 1) == ASPIRE_OK);
    CHECK(mask[0] && mask[12] && mask[3] == 0 && mask[15] == 0);  /* mask.h: 0/255 */
    uint8_t small[4];
    aspire_inpaint_mask_resize(mask, 5, 4, small, 2, 2);
    CHECK(small[0] == 1 && small[3] == 1);
    aspire_free(mask, 0);
    CHECK(aspire_inpaint_mask_load(path, 6, 4, &mask, NULL, NULL) == ASPIRE_ERR_ARG && strstr(aspire_errmsg(), path));
    snprintf(path, sizeof path, "%s/none.png", dir);
    CHECK(aspire_inpaint_mask_load(path, 0, 0, &mask, NULL, NULL) != ASPIRE_OK && strstr(aspire_errmsg(), path));
    aspire_image_destroy(&m);
    testdir_remove(dir);
}

/* A few steps of pretraining on the world; a resumed run ends with the same weights as a straight one. */
static void test_pretrain_resume(void) {
    char dir[256], ck[512];
    testdir_make(dir, sizeof dir);
    snprintf(ck, sizeof ck, "%s/ck.safetensors", dir);
    aspire_inpaint_train_opts o;
    aspire_inpaint_train_opts_default(&o);
    o.cfg = tiny_config();
    o.steps = 4;
    o.batch = 2;
    o.warmup = 1;
    o.progress = 0;
    aspire_set_threads(1);
    aspire_inpaint_model *straight = NULL, *resumed = NULL;
    char *recipe = NULL;
    int rc = aspire_inpaint_train(&straight, &o, &recipe);
    if (rc == ASPIRE_ERR_IO || rc == ASPIRE_ERR_FORMAT) {  /* no emoji font on this machine */
        fprintf(stderr, "  (skipped: %s)\n", aspire_errmsg());
        testdir_remove(dir);
        return;
    }
    CHECK(rc == ASPIRE_OK && recipe && strstr(recipe, "4 of 4 steps"));
    aspire_strfree(recipe);
    /* with a checkpoint after step 2 (the run goes on to 4), then resumed from it: steps 2 and 3 again */
    o.checkpoint = ck;
    o.checkpoint_every = 2;
    aspire_inpaint_model *tmp = NULL;
    CHECK(aspire_inpaint_train(&tmp, &o, NULL) == ASPIRE_OK);
    aspire_inpaint_model_free(tmp);
    o.resume = 1;
    recipe = NULL;
    CHECK(aspire_inpaint_train(&resumed, &o, &recipe) == ASPIRE_OK);
    CHECK(recipe && strstr(recipe, "resumed"));
    aspire_strfree(recipe);
    CHECK(aspire_file_exists(ck));
    aspire_params *a = aspire_inpaint_model_params(straight), *b = aspire_inpaint_model_params(resumed);
    int same = aspire_params_count(a) == aspire_params_count(b);
    for (int i = 0; same && i < aspire_params_count(a); i++)
        same = memcmp(aspire_params_at(a, i)->data, aspire_params_at(b, i)->data,
                      sizeof(float) * (size_t)aspire_params_at(a, i)->numel) == 0;
    CHECK(same);
    aspire_inpaint_model_free(straight);
    aspire_inpaint_model_free(resumed);
    testdir_remove(dir);
}

int main(void) {
    RUN(test_telea_constant);
    RUN(test_telea_ramp);
    RUN(test_outside_untouched);
    RUN(test_learned_overfits);
    RUN(test_model_files);
    RUN(test_masks);
    RUN(test_pretrain_resume);
    return TEST_REPORT();
}
