/* diffusion.c — the generator's diffusion process: the cosine noise schedule, the v-prediction
 * training loss, and DDIM sampling with classifier-free guidance (conditional and unconditional
 * passes batched together). */
#include "models/generator_internal.h"

#include <math.h>
#include <string.h>

static double cosine_f(int T, double s) {
    double a = ((s / T) + 0.008) / 1.008 * (M_PI / 2.0);
    return cos(a) * cos(a);
}

double aspire_diffusion_alpha_bar(int T, int t) {
    ASPIRE_ASSERT(T >= 1 && t >= 0 && t < T);
    double ab = 1.0, f_prev = cosine_f(T, 0.0);
    for (int i = 0; i <= t; i++) {
        double f = cosine_f(T, i + 1.0);
        double beta = 1.0 - f / f_prev;
        if (beta > 0.999) beta = 0.999;
        ab *= 1.0 - beta;
        f_prev = f;
    }
    return ab;
}

void aspire_diffusion_timesteps(int T, int steps, int *ts) {
    ASPIRE_ASSERT(steps >= 1 && steps <= T);
    for (int i = 0; i < steps; i++) ts[i] = (int)((int64_t)(steps - 1 - i) * T / steps);
}

void aspire_ddim_step(float *x, const float *v, const float *z, int64_t n, double ab, double ab_prev, double eta) {
    const double sa = sqrt(ab), s1 = sqrt(1.0 - ab), sp = sqrt(ab_prev);
    double sigma = 0.0;
    if (eta > 0.0 && ab_prev < 1.0) sigma = eta * sqrt((1.0 - ab_prev) / (1.0 - ab)) * sqrt(1.0 - ab / ab_prev);
    double dir = 1.0 - ab_prev - sigma * sigma;
    dir = dir > 0.0 ? sqrt(dir) : 0.0;
    for (int64_t i = 0; i < n; i++) {
        double x0 = sa * x[i] - s1 * v[i];
        x0 = x0 < -1.0 ? -1.0 : x0 > 1.0 ? 1.0 : x0;
        double eps = (x[i] - sa * x0) / s1;
        double nx = sp * x0 + dir * eps;
        if (sigma > 0.0 && z) nx += sigma * z[i];
        x[i] = (float)nx;
    }
}

void aspire_sample_opts_default(aspire_sample_opts *o) {
    o->steps = 25;
    o->scale = 3.0f;
    o->eta = 0.0f;
    o->strength = 1.0f;
    o->negative = NULL;
}

aspire_tensor *aspire_generator_loss(aspire_ctx *ctx, aspire_generator *g, aspire_tensor *x0, const int32_t *ids,
                                     aspire_rng *rng) {
    return aspire_generator_loss_range(ctx, g, x0, ids, rng, 0, g->cfg.timesteps);
}

aspire_tensor *aspire_generator_loss_range(aspire_ctx *ctx, aspire_generator *g, aspire_tensor *x0, const int32_t *ids,
                                           aspire_rng *rng, int t_lo, int t_hi) {
    const int T = g->cfg.timesteps;
    if (!x0 || t_lo < 0 || t_hi > T || t_lo >= t_hi) return NULL;
    const int N = (int)x0->shape[0];
    const int64_t per = x0->numel / N;
    int *t = aspire_ctx_alloc(ctx, sizeof(int) * (size_t)N);
    aspire_tensor *xt = aspire_tensor_new(ctx, x0->ndim, x0->shape);
    aspire_tensor *target = aspire_tensor_new(ctx, x0->ndim, x0->shape);
    if (!t || !xt || !target) return NULL;
    for (int n = 0; n < N; n++) {
        t[n] = t_lo + (int)aspire_rng_below(rng, t_hi - t_lo);
        const double ab = aspire_diffusion_alpha_bar(T, t[n]);
        const float sa = (float)sqrt(ab), s1 = (float)sqrt(1.0 - ab);
        for (int64_t i = n * per; i < (n + 1) * per; i++) {
            float e = aspire_rng_normal(rng);
            xt->data[i] = sa * x0->data[i] + s1 * e;
            target->data[i] = sa * e - s1 * x0->data[i];
        }
    }
    aspire_tensor *text = aspire_generator_text(ctx, g, ids, N);
    return aspire_mse(ctx, aspire_generator_denoise(ctx, g, xt, t, text), target, ASPIRE_REDUCE_MEAN);
}

/* ---- sampling ---------------------------------------------------------------------------------- */
typedef struct sampler {
    int N, B;             /* images; denoiser batch (2N with guidance, else N) */
    int64_t per;          /* floats per image */
    float *text;          /* (B, L, d_text) text features: unconditional rows first */
    int64_t text_n;
    aspire_rng *rngs;     /* (N) one stream per image */
    float *z;             /* (per) noise scratch */
} sampler;

static void sampler_destroy(sampler *s) {
    aspire_free(s->text, 0);
    aspire_free(s->rngs, 0);
    aspire_free(s->z, 0);
}

/* Encodes the prompts once (plus the empty prompt for guidance) and seeds the per-image streams. */
static int sampler_init(sampler *s, aspire_ctx *ctx, aspire_generator *g, const int32_t *ids, int N,
                        const uint64_t *seeds, int guided, const char *negative) {
    const int L = g->cfg.max_len;
    memset(s, 0, sizeof *s);
    s->N = N;
    s->B = guided ? 2 * N : N;
    s->per = (int64_t)g->cfg.image_size * g->cfg.image_size * 3;
    int32_t *all = aspire_ctx_alloc(ctx, sizeof(int32_t) * (size_t)s->B * L);
    s->rngs = aspire_malloc(sizeof(aspire_rng) * (size_t)N);
    s->z = aspire_malloc(sizeof(float) * (size_t)s->per);
    if (!all || !s->rngs || !s->z) return ASPIRE_ERR_NOMEM;
    int rc = ASPIRE_OK;
    if (guided) rc = aspire_generator_encode(g, negative ? negative : "", all);   /* the guidance's other prompt */
    if (rc) return rc;
    for (int n = 1; n < N && guided; n++) memcpy(all + (size_t)n * L, all, sizeof(int32_t) * (size_t)L);
    memcpy(all + (size_t)(s->B - N) * L, ids, sizeof(int32_t) * (size_t)N * L);
    aspire_tensor *text = aspire_generator_text(ctx, g, all, s->B);
    if (!text) return ASPIRE_ERR_NOMEM;
    s->text_n = text->numel;
    if (!(s->text = aspire_malloc(sizeof(float) * (size_t)text->numel))) return ASPIRE_ERR_NOMEM;
    memcpy(s->text, text->data, sizeof(float) * (size_t)text->numel);
    for (int n = 0; n < N; n++) aspire_rng_seed(&s->rngs[n], seeds[n]);
    return ASPIRE_OK;
}

/* One guided denoiser evaluation at timestep t: v (N, per) from x (N, per). */
static int guided_v(aspire_ctx *ctx, aspire_generator *g, const sampler *s, const float *x, int t, float scale,
                    float *v) {
    const aspire_generator_config *c = &g->cfg;
    const int N = s->N, B = s->B, S = c->image_size;
    aspire_ctx_reset(ctx);
    aspire_tensor *xin = aspire_tensor_new(ctx, 4, (int64_t[]){B, S, S, 3});
    aspire_tensor *text = aspire_tensor_from(ctx, 3, (int64_t[]){B, c->max_len, c->d_text}, s->text);
    int *tt = aspire_ctx_alloc(ctx, sizeof(int) * (size_t)B);
    if (!xin || !text || !tt) return ASPIRE_ERR_NOMEM;
    for (int b = 0; b < B; b++) {
        tt[b] = t;
        memcpy(xin->data + (size_t)b * s->per, x + (size_t)(b % N) * s->per, sizeof(float) * (size_t)s->per);
    }
    aspire_tensor *out = aspire_generator_denoise(ctx, g, xin, tt, text);
    if (!out) return ASPIRE_ERR_BACKEND;
    const float *vc = out->data + (size_t)(B - N) * s->per;
    for (int64_t i = 0; i < (int64_t)N * s->per; i++)
        v[i] = B == N ? vc[i] : out->data[i] + scale * (vc[i] - out->data[i]);
    return ASPIRE_OK;
}

/* The first DDIM step to run for a start image noised to `strength` (1 = pure noise: step 0):
 * the first timestep at or below strength·(T − 1). */
static int first_step(const int *ts, int steps, int T, float strength) {
    if (strength >= 1.0f) return 0;
    const double t0 = (double)strength * (T - 1);
    int i = 0;
    while (i + 1 < steps && ts[i] > t0) i++;
    return i;
}

/* x_T from pure noise, or the start images noised to the first timestep (SDEdit). */
static void start_noise(sampler *s, const float *init, double ab, float *out) {
    const double sa = sqrt(ab), s1 = sqrt(1.0 - ab);
    for (int n = 0; n < s->N; n++)
        for (int64_t i = 0; i < s->per; i++) {
            const size_t k = (size_t)n * s->per + i;
            const float z = aspire_rng_normal(&s->rngs[n]);
            out[k] = init ? (float)(sa * init[k] + s1 * z) : z;
        }
}

static int sample_run(aspire_ctx *ctx, aspire_generator *g, const int32_t *ids, int N, const uint64_t *seeds,
                      const aspire_sample_opts *o, const float *init, float *out) {
    const int T = g->cfg.timesteps;
    sampler s;
    int rc = sampler_init(&s, ctx, g, ids, N, seeds, o->scale != 1.0f, o->negative);
    int *ts = aspire_malloc(sizeof(int) * (size_t)o->steps);
    float *v = aspire_malloc(sizeof(float) * (size_t)N * (size_t)s.per);
    int i0 = 0;
    if (!rc && (!ts || !v)) rc = ASPIRE_ERR_NOMEM;
    if (!rc) {
        aspire_diffusion_timesteps(T, o->steps, ts);
        i0 = init ? first_step(ts, o->steps, T, o->strength) : 0;
        start_noise(&s, init, aspire_diffusion_alpha_bar(T, ts[i0]), out);
    }
    for (int i = i0; !rc && i < o->steps; i++) {
        rc = guided_v(ctx, g, &s, out, ts[i], o->scale, v);
        double ab = aspire_diffusion_alpha_bar(T, ts[i]);
        double ab_prev = i + 1 < o->steps ? aspire_diffusion_alpha_bar(T, ts[i + 1]) : 1.0;
        for (int n = 0; !rc && n < N; n++) {
            int noisy = o->eta > 0.0f && i + 1 < o->steps;
            for (int64_t j = 0; noisy && j < s.per; j++) s.z[j] = aspire_rng_normal(&s.rngs[n]);
            aspire_ddim_step(out + (size_t)n * s.per, v + (size_t)n * s.per, noisy ? s.z : NULL, s.per, ab, ab_prev,
                             o->eta);
        }
    }
    aspire_free(ts, 0);
    aspire_free(v, 0);
    sampler_destroy(&s);
    return rc;
}

static int sample_common(aspire_ctx *ctx, aspire_generator *g, const int32_t *ids, int N, const uint64_t *seeds,
                         const aspire_sample_opts *o, const float *init, float *out) {
    const int T = g->cfg.timesteps;
    if (o->steps < 1 || o->steps > T || o->eta < 0.0f || !isfinite(o->scale))
        return aspire_error(ASPIRE_ERR_ARG, "sampling: steps must be in 1..%d, eta >= 0, scale finite", T);
    if (init && !(o->strength > 0.0f && o->strength <= 1.0f))
        return aspire_error(ASPIRE_ERR_ARG, "sampling: strength must be in (0, 1]");
    const int training = aspire_ctx_training(ctx), recording = aspire_ctx_recording(ctx);
    aspire_ctx_set_training(ctx, 0);
    aspire_ctx_set_recording(ctx, 0);
    aspire_ctx_reset(ctx);
    int rc = sample_run(ctx, g, ids, N, seeds, o, init, out);
    aspire_ctx_reset(ctx);
    aspire_ctx_set_training(ctx, training);
    aspire_ctx_set_recording(ctx, recording);
    return rc;
}

int aspire_generator_sample(aspire_ctx *ctx, aspire_generator *g, const int32_t *ids, int N, const uint64_t *seeds,
                            const aspire_sample_opts *o, float *out) {
    return sample_common(ctx, g, ids, N, seeds, o, NULL, out);
}

int aspire_generator_sample_from(aspire_ctx *ctx, aspire_generator *g, const int32_t *ids, int N,
                                 const uint64_t *seeds, const aspire_sample_opts *o, const float *init, float *out) {
    if (!init) return aspire_error(ASPIRE_ERR_ARG, "sampling: no start images");
    return sample_common(ctx, g, ids, N, seeds, o, init, out);
}
