/* test_optim.c — SGD and AdamW against PyTorch's steps, the optimizer state as a parameter set,
 * the learning-rate schedules at known steps, and a small MLP trained end to end through the tape
 * (which must reach ~100% on a separable problem, bit-identically on a second run). */
#include "aspire/engine.h"
#include "aspire/optim.h"
#include "test.h"
#include "testdir.h"

#include <string.h>

/* ---- against PyTorch ----------------------------------------------------------------------- */
/* Four steps on w (2, 3) and b (3) with the gradients below; b has no gradient on the third step
 * (grad_valid 0 here, a zero tensor in PyTorch). A non-trainable buffer rides along and must not
 * change. The expected values were printed by PyTorch 1.13 (python3-torch, CPU) with:
 *
 *   w = torch.tensor(W0, requires_grad=True); b = torch.tensor(B0, requires_grad=True)
 *   opt = torch.optim.SGD([w, b], lr=0.1, momentum=0.9, weight_decay=0.1)   # etc., see below
 *   for t in range(4):
 *       w.grad = torch.tensor(GW[t]); b.grad = torch.tensor(GB[t]) if GB[t] else torch.zeros(3)
 *       opt.step()
 *   print(', '.join('%.9g' % x for x in w.detach().flatten().tolist() + b.detach().tolist()))
 */
static const float W0[6] = {0.5f, -0.3f, 0.8f, 0.1f, 0.2f, -0.7f};
static const float B0[3] = {0.05f, -0.1f, 0.3f};
static const float GW[4][6] = {{0.1f, -0.2f, 0.3f, -0.4f, 0.5f, -0.6f},
                               {-0.3f, 0.1f, 0.2f, 0.05f, -0.25f, 0.4f},
                               {0.2f, 0.2f, -0.1f, 0.3f, -0.1f, 0.0f},
                               {0.0f, -0.5f, 0.25f, 0.1f, 0.1f, -0.2f}};
static const float GB[4][3] = {{0.2f, -0.1f, 0.05f}, {0.1f, 0.3f, -0.2f}, {0, 0, 0}, {-0.05f, 0.0f, 0.15f}};

typedef struct case_ {
    const char *name;
    int adamw;
    aspire_sgd_options sgd;
    aspire_adamw_options adam;
    float want[9];
} case_;

static const case_ cases[] = {
    {.name = "sgd lr=0.1", .sgd = {.lr = 0.1f},
     .want = {0.50000006f, -0.25999999f, 0.735000014f, 0.0950000063f, 0.175000012f, -0.660000026f, 0.0250000004f, -0.120000005f, 0.300000012f}},
    {.name = "sgd lr=0.1 momentum=0.9 weight_decay=0.1", .sgd = {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.1f},
     .want = {0.464313418f, -0.220801517f, 0.568688989f, 0.144998908f, 0.0904163197f, -0.523548245f, -0.043162059f, -0.13775894f, 0.294961572f}},
    {.name = "sgd lr=0.1 momentum=0.9 weight_decay=0.1 nesterov", .sgd = {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.1f, .nesterov = 1},
     .want = {0.448661685f, -0.178553566f, 0.501251876f, 0.128050923f, 0.0728527158f, -0.479202747f, -0.0576472916f, -0.149357677f, 0.283351123f}},
    {.name = "sgd lr=0.1 momentum=0.8 dampening=0.3 weight_decay=0.05", .sgd = {.lr = 0.1f, .momentum = 0.8f, .dampening = 0.3f, .weight_decay = 0.05f},
     .want = {0.480137259f, -0.238799408f, 0.647060871f, 0.160433218f, 0.0952925235f, -0.555517375f, -0.0236099046f, -0.11844901f, 0.298994988f}},
    {.name = "adamw lr=0.01 betas=(0.9, 0.999) eps=1e-8 weight_decay=0.01", .adamw = 1, .adam = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f},
     .want = {0.49440217f, -0.286110848f, 0.767474353f, 0.114063993f, 0.184623823f, -0.684724152f, 0.0189679414f, -0.101852827f, 0.299243778f}},
    {.name = "adamw lr=0.05 betas=(0.8, 0.95) eps=1e-6 weight_decay=0.1", .adamw = 1, .adam = {.lr = 0.05f, .beta1 = 0.8f, .beta2 = 0.95f, .eps = 1e-6f, .weight_decay = 0.1f},
     .want = {0.463599741f, -0.23071821f, 0.628800213f, 0.156449333f, 0.12796694f, -0.617652595f, -0.0971017852f, -0.110586837f, 0.290308744f}},
};

static aspire_params *make_params(void) {
    aspire_params *p = aspire_params_new();
    aspire_tensor *w = aspire_params_add(p, "fc.weight", 2, (int64_t[]){2, 3}, 1);
    aspire_tensor *rm = aspire_params_add(p, "bn.running_mean", 1, (int64_t[]){3}, 0);
    aspire_tensor *b = aspire_params_add(p, "fc.bias", 1, (int64_t[]){3}, 1);
    memcpy(w->data, W0, sizeof W0);
    memcpy(b->data, B0, sizeof B0);
    for (int i = 0; i < 3; i++) rm->data[i] = 7.0f;
    return p;
}

static aspire_optim *make_optim(const case_ *c, aspire_params *p) {
    aspire_optim *o = NULL;
    int rc = c->adamw ? aspire_optim_new_adamw(&o, p, &c->adam) : aspire_optim_new_sgd(&o, p, &c->sgd);
    CHECK(rc == ASPIRE_OK);
    return o;
}

/* steps t0..t1-1 of the fixed gradient sequence */
static void run_steps(aspire_optim *o, aspire_params *p, int t0, int t1) {
    aspire_tensor *w = aspire_params_find(p, "fc.weight"), *b = aspire_params_find(p, "fc.bias");
    for (int t = t0; t < t1; t++) {
        aspire_params_zero_grad(p);
        memcpy(w->grad, GW[t], sizeof GW[t]);
        w->grad_valid = 1;
        if (t != 2) {
            memcpy(b->grad, GB[t], sizeof GB[t]);
            b->grad_valid = 1;
        } else {
            for (int i = 0; i < 3; i++) b->grad[i] = 1e6f;  /* stale garbage: must be ignored */
        }
        aspire_optim_step(o);
    }
}

static void test_against_pytorch(void) {
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const case_ *c = &cases[ci];
        aspire_params *p = make_params();
        aspire_optim *o = make_optim(c, p);
        run_steps(o, p, 0, 4);
        CHECK(aspire_optim_steps(o) == 4);
        aspire_tensor *w = aspire_params_find(p, "fc.weight"), *b = aspire_params_find(p, "fc.bias");
        double worst = 0;
        for (int i = 0; i < 6; i++) worst = fmax(worst, fabs(w->data[i] - c->want[i]));
        for (int i = 0; i < 3; i++) worst = fmax(worst, fabs(b->data[i] - c->want[6 + i]));
        /* float32 on both sides; the order of a few roundings differs: 1e-6 absolute is ~10 ulp here */
        CHECK_MSG(worst <= 1e-6, "%s: off PyTorch by %g", c->name, worst);
        CHECK(aspire_params_find(p, "bn.running_mean")->data[0] == 7.0f);
        aspire_optim_free(o);
        aspire_params_free(p);
    }
}

/* The state set: names and shapes, and a copy of it carried to a fresh optimizer continues the
 * run exactly as the original does (what a checkpoint save/load round trip must give). */
static void test_state(void) {
    for (size_t ci = 1; ci < sizeof cases / sizeof cases[0]; ci++) {
        const case_ *c = &cases[ci];
        aspire_params *pa = make_params(), *pb = make_params();
        aspire_optim *a = make_optim(c, pa), *b = make_optim(c, pb);
        aspire_params *sa = aspire_optim_state(a), *sb = aspire_optim_state(b);
        CHECK(aspire_params_find(sa, "step") != NULL && aspire_params_find(sa, "step")->numel == 1);
        if (c->adamw) {
            CHECK(aspire_params_count(sa) == 5);
            CHECK(aspire_params_find(sa, "adam_m.fc.weight") && aspire_params_find(sa, "adam_v.fc.bias"));
            CHECK(aspire_params_find(sa, "adam_v.fc.weight")->numel == 6);
        } else {
            CHECK(aspire_params_count(sa) == 3);
            CHECK(aspire_params_find(sa, "momentum.fc.weight")->ndim == 2);
            CHECK(aspire_params_find(sa, "momentum.bn.running_mean") == NULL);  /* buffers have no state */
        }
        for (int i = 0; i < aspire_params_count(sa); i++) CHECK(!aspire_params_trainable(sa, i));
        run_steps(a, pa, 0, 2);
        /* "checkpoint": parameters and optimizer state of a into b */
        for (int i = 0; i < aspire_params_count(pa); i++)
            memcpy(aspire_params_at(pb, i)->data, aspire_params_at(pa, i)->data,
                   sizeof(float) * (size_t)aspire_params_at(pa, i)->numel);
        for (int i = 0; i < aspire_params_count(sa); i++) {
            aspire_tensor *ta = aspire_params_at(sa, i), *tb = aspire_params_find(sb, ta->name);
            CHECK(tb != NULL);
            if (tb) memcpy(tb->data, ta->data, sizeof(float) * (size_t)ta->numel);
        }
        CHECK(aspire_optim_steps(b) == 2);
        run_steps(a, pa, 2, 4);
        run_steps(b, pb, 2, 4);
        aspire_tensor *wa = aspire_params_find(pa, "fc.weight"), *wb = aspire_params_find(pb, "fc.weight");
        CHECK(memcmp(wa->data, wb->data, sizeof(float) * 6) == 0);
        CHECK(fabs(wa->data[0] - c->want[0]) <= 1e-6);
        aspire_optim_free(a);
        aspire_optim_free(b);
        aspire_params_free(pa);
        aspire_params_free(pb);
    }
}

/* A real checkpoint: parameters and optimizer state through safetensors files (aspire_params_save
 * and aspire_params_load), restored into a fresh optimizer that then continues bit-identically. */
static void test_checkpoint_files(void) {
    char dir[256], pp[300], sp[300];
    testdir_make(dir, sizeof dir);
    snprintf(pp, sizeof pp, "%s/model.safetensors", dir);
    snprintf(sp, sizeof sp, "%s/optim.safetensors", dir);
    for (int ci = 1; ci < 6; ci += 4) {  /* SGD with momentum, AdamW */
        const case_ *c = &cases[ci];
        aspire_params *pa = make_params(), *pb = make_params();
        aspire_optim *a = make_optim(c, pa), *b = make_optim(c, pb);
        run_steps(a, pa, 0, 2);
        CHECK(aspire_params_save(pa, pp, NULL, 0) == ASPIRE_OK);
        CHECK(aspire_params_save(aspire_optim_state(a), sp, NULL, 0) == ASPIRE_OK);
        CHECK(aspire_params_load(pb, pp) == ASPIRE_OK);
        CHECK_MSG(aspire_params_load(aspire_optim_state(b), sp) == ASPIRE_OK, "%s", aspire_errmsg());
        CHECK(aspire_optim_steps(b) == 2);
        run_steps(a, pa, 2, 4);
        run_steps(b, pb, 2, 4);
        for (int i = 0; i < aspire_params_count(pa); i++)
            CHECK(memcmp(aspire_params_at(pa, i)->data, aspire_params_at(pb, i)->data,
                         sizeof(float) * (size_t)aspire_params_at(pa, i)->numel) == 0);
        /* the state of one optimizer kind does not load into the other's */
        aspire_optim *other = make_optim(&cases[ci == 1 ? 5 : 1], pb);
        CHECK(aspire_params_load(aspire_optim_state(other), sp) != ASPIRE_OK);
        aspire_optim_free(other);
        aspire_optim_free(a);
        aspire_optim_free(b);
        aspire_params_free(pa);
        aspire_params_free(pb);
    }
    testdir_remove(dir);
}

static void test_bad_options(void) {
    aspire_params *p = make_params();
    aspire_optim *o = (aspire_optim *)1;
    aspire_sgd_options s = {.lr = 0.1f, .nesterov = 1};
    CHECK(aspire_optim_new_sgd(&o, p, &s) == ASPIRE_ERR_ARG && o == NULL);
    CHECK(strstr(aspire_errmsg(), "Nesterov") != NULL);
    aspire_adamw_options a = aspire_adamw_defaults(1e-3f);
    CHECK(a.beta1 == 0.9f && a.beta2 == 0.999f && a.eps == 1e-8f && a.weight_decay == 0.01f);
    a.beta2 = 1.0f;
    CHECK(aspire_optim_new_adamw(&o, p, &a) == ASPIRE_ERR_ARG);
    a.beta2 = 0.999f;
    a.lr = -1;
    CHECK(aspire_optim_new_adamw(&o, p, &a) == ASPIRE_ERR_ARG);
    aspire_optim_free(NULL);
    aspire_params_free(p);
}

/* ---- schedules ----------------------------------------------------------------------------- */
static void test_schedules(void) {
    aspire_schedule c = {.kind = ASPIRE_SCHEDULE_CONSTANT, .lr = 0.1f};
    CHECK(aspire_schedule_lr(&c, 0) == 0.1f && aspire_schedule_lr(&c, 12345) == 0.1f);
    c.warmup_steps = 4;  /* 0.025, 0.05, 0.075, 0.1, then 0.1 */
    CHECK_CLOSE(aspire_schedule_lr(&c, 0), 0.025, 1e-7);
    CHECK_CLOSE(aspire_schedule_lr(&c, 2), 0.075, 1e-7);
    CHECK_CLOSE(aspire_schedule_lr(&c, 3), 0.1, 1e-7);
    CHECK_CLOSE(aspire_schedule_lr(&c, 100), 0.1, 1e-7);

    aspire_schedule s = {.kind = ASPIRE_SCHEDULE_STEP, .lr = 1.0f, .step_size = 30, .gamma = 0.1f};
    CHECK_CLOSE(aspire_schedule_lr(&s, 0), 1.0, 1e-7);
    CHECK_CLOSE(aspire_schedule_lr(&s, 29), 1.0, 1e-7);
    CHECK_CLOSE(aspire_schedule_lr(&s, 30), 0.1, 1e-7);
    CHECK_CLOSE(aspire_schedule_lr(&s, 65), 0.01, 1e-7);
    s.warmup_steps = 10;  /* the decay counts from the end of the warm-up */
    CHECK_CLOSE(aspire_schedule_lr(&s, 4), 0.5, 1e-7);
    CHECK_CLOSE(aspire_schedule_lr(&s, 39), 1.0, 1e-7);
    CHECK_CLOSE(aspire_schedule_lr(&s, 40), 0.1, 1e-7);

    /* cosine from 1 to 0.1 over 100 steps: t = 50 is halfway, (1 + 0.1) / 2; t = 25 gives
     * 0.1 + 0.9 (1 + cos(pi/4)) / 2 = 0.1 + 0.45 (1 + 0.70710678) = 0.868198052 */
    aspire_schedule k = {.kind = ASPIRE_SCHEDULE_COSINE, .lr = 1.0f, .total_steps = 100, .min_lr = 0.1f};
    CHECK_CLOSE(aspire_schedule_lr(&k, 0), 1.0, 1e-7);
    CHECK_CLOSE(aspire_schedule_lr(&k, 25), 0.868198052, 1e-6);
    CHECK_CLOSE(aspire_schedule_lr(&k, 50), 0.55, 1e-6);
    CHECK_CLOSE(aspire_schedule_lr(&k, 100), 0.1, 1e-7);
    CHECK_CLOSE(aspire_schedule_lr(&k, 500), 0.1, 1e-7);
    k.warmup_steps = 20;  /* 20 warm-up steps, then cosine over the remaining 80 */
    CHECK_CLOSE(aspire_schedule_lr(&k, 9), 0.5, 1e-7);
    CHECK_CLOSE(aspire_schedule_lr(&k, 20), 1.0, 1e-7);
    CHECK_CLOSE(aspire_schedule_lr(&k, 60), 0.55, 1e-6);
    CHECK_CLOSE(aspire_schedule_lr(&k, 100), 0.1, 1e-7);
}

/* ---- a tiny MLP, end to end ---------------------------------------------------------------- */
/* XOR of Gaussian blobs: centres (+-1, +-1), sd 0.25, label 1 when the signs agree. A 2-32-32-2
 * ReLU network with dropout must fit it (a linear model cannot: it scores ~50%). */
#define NTRAIN 256
#define NTEST 512

static void make_xor(float *x, int32_t *y, int n, uint64_t seed) {
    aspire_rng r;
    aspire_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        int sx = aspire_rng_below(&r, 2) ? 1 : -1, sy = aspire_rng_below(&r, 2) ? 1 : -1;
        x[2 * i] = (float)sx + 0.25f * aspire_rng_normal(&r);
        x[2 * i + 1] = (float)sy + 0.25f * aspire_rng_normal(&r);
        y[i] = sx == sy;
    }
}

static aspire_tensor *mlp(aspire_ctx *ctx, aspire_params *p, aspire_tensor *x) {
    aspire_tensor *h = aspire_relu(ctx, aspire_linear(ctx, x, aspire_params_find(p, "l1.weight"), aspire_params_find(p, "l1.bias")));
    h = aspire_dropout(ctx, h, 0.1f);
    h = aspire_relu(ctx, aspire_linear(ctx, h, aspire_params_find(p, "l2.weight"), aspire_params_find(p, "l2.bias")));
    return aspire_linear(ctx, h, aspire_params_find(p, "l3.weight"), aspire_params_find(p, "l3.bias"));
}

/* Trains with the given optimizer kind; returns test accuracy; *params_out receives a copy of the
 * final parameters (n floats) for the determinism check. */
static double train_mlp(int adamw, float *params_out, int64_t *n_out) {
    aspire_ctx *ctx;
    aspire_ctx_options opt = {.threads = 2, .seed = 11};
    CHECK(aspire_ctx_new(&ctx, &opt) == ASPIRE_OK);
    aspire_params *p = aspire_params_new();
    int64_t dims[4] = {2, 32, 32, 2};
    aspire_rng init;
    aspire_rng_seed(&init, 5);
    for (int l = 0; l < 3; l++) {
        char name[32];
        snprintf(name, sizeof name, "l%d.weight", l + 1);
        aspire_tensor *w = aspire_params_add(p, name, 2, (int64_t[]){dims[l + 1], dims[l]}, 1);
        aspire_init_kaiming(w, dims[l], &init);
        snprintf(name, sizeof name, "l%d.bias", l + 1);
        aspire_params_add(p, name, 1, (int64_t[]){dims[l + 1]}, 1);
    }
    float xtr[2 * NTRAIN], xte[2 * NTEST];
    int32_t ytr[NTRAIN], yte[NTEST];
    make_xor(xtr, ytr, NTRAIN, 1);
    make_xor(xte, yte, NTEST, 2);
    aspire_optim *o = NULL;
    int steps = 300;
    aspire_schedule sched = {.kind = ASPIRE_SCHEDULE_COSINE, .lr = adamw ? 0.01f : 0.1f, .warmup_steps = 20,
                             .total_steps = steps, .min_lr = 0.0f};
    if (adamw) {
        aspire_adamw_options a = aspire_adamw_defaults(sched.lr);
        CHECK(aspire_optim_new_adamw(&o, p, &a) == ASPIRE_OK);
    } else {
        aspire_sgd_options s = {.lr = sched.lr, .momentum = 0.9f, .weight_decay = 1e-4f};
        CHECK(aspire_optim_new_sgd(&o, p, &s) == ASPIRE_OK);
    }
    float first_loss = 0, last_loss = 0;
    for (int step = 0; step < steps; step++) {
        aspire_ctx_reset(ctx);
        aspire_ctx_set_training(ctx, 1);
        aspire_params_zero_grad(p);
        /* minibatches of 64 in a fixed rotation */
        int b0 = (step * 64) % NTRAIN;
        aspire_tensor *x = aspire_tensor_from(ctx, 2, (int64_t[]){64, 2}, xtr + 2 * b0);
        aspire_tensor *loss = aspire_cross_entropy(ctx, mlp(ctx, p, x), ytr + b0, NULL, ASPIRE_REDUCE_MEAN);
        CHECK(aspire_backward(ctx, loss) == ASPIRE_OK);
        aspire_optim_set_lr(o, aspire_schedule_lr(&sched, aspire_optim_steps(o)));
        aspire_optim_step(o);
        if (step == 0) first_loss = loss->data[0];
        last_loss = loss->data[0];
    }
    aspire_ctx_reset(ctx);
    aspire_ctx_set_training(ctx, 0);
    aspire_ctx_set_recording(ctx, 0);
    aspire_tensor *x = aspire_tensor_from(ctx, 2, (int64_t[]){NTEST, 2}, xte);
    aspire_tensor *logits = mlp(ctx, p, x);
    int correct = 0;
    for (int i = 0; i < NTEST; i++) correct += (logits->data[2 * i + 1] > logits->data[2 * i]) == (yte[i] == 1);
    CHECK_MSG(last_loss < 0.1f * first_loss, "loss %g -> %g", (double)first_loss, (double)last_loss);
    int64_t n = 0;
    for (int i = 0; i < aspire_params_count(p); i++) {
        aspire_tensor *t = aspire_params_at(p, i);
        memcpy(params_out + n, t->data, sizeof(float) * (size_t)t->numel);
        n += t->numel;
    }
    *n_out = n;
    aspire_optim_free(o);
    aspire_params_free(p);
    aspire_ctx_free(ctx);
    return (double)correct / NTEST;
}

static void test_mlp(void) {
    static float p1[2000], p2[2000];
    for (int adamw = 0; adamw < 2; adamw++) {
        int64_t n1, n2;
        double acc = train_mlp(adamw, p1, &n1);
        CHECK_MSG(acc >= 0.99, "%s: test accuracy %.3f", adamw ? "adamw" : "sgd", acc);
        double acc2 = train_mlp(adamw, p2, &n2);
        CHECK(n1 == n2 && n1 == 2 * 32 + 32 + 32 * 32 + 32 + 32 * 2 + 2);
        CHECK_MSG(memcmp(p1, p2, sizeof(float) * (size_t)n1) == 0 && acc == acc2,
                  "%s: a second run with the same seed differs", adamw ? "adamw" : "sgd");
    }
}

int main(void) {
    RUN(test_against_pytorch);
    RUN(test_state);
    RUN(test_checkpoint_files);
    RUN(test_bad_options);
    RUN(test_schedules);
    RUN(test_mlp);
    return TEST_REPORT();
}
