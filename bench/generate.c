/* generate.c — quality and speed of the built-in generator (`make bench-generate`), scored by an
 * oracle the bench trains on the world corpus (a small CNN tagging species and background at the
 * generator's 32 px resolution; used only to score):
 *   prompt fidelity  "a photo of a {species} {on|in} a {background}" for every species × background:
 *                    the oracle's species and background accuracy on the samples (and the background
 *                    kind, water or land);
 *   world-FID        Fréchet distance between the oracle's penultimate features of the samples and
 *                    of as many real test images, beside the distance between two disjoint real sets
 *                    of that size (the floor);
 *   textual inversion personalize one token on 35 test images of waterbirds whose backgrounds are
 *                    80 % land, 20 % water; samples of "a photo of a <waterbird>": share whose
 *                    species is a waterbird, and 1 − the largest gap between the samples' and the
 *                    set's background-kind shares;
 *   speeds           personalization seconds per class, generation images/s (sampling and
 *                    conversion to 64 px images, PNG writing excluded), the model's recorded
 *                    pretraining time.
 * Writes a contact sheet (one row per background, one column per species, then the learned
 * token's samples) to --sheet. The last line is one JSON object.
 *
 *   build/bench/generate --corpus DIR [--model FILE] [--per-prompt N] [--ti-samples N]
 *                        [--oracle FILE] [--oracle-epochs N] [--oracle-only] [--score DIR] [--sheet PNG] [--threads N]
 *                        [--scale S] [--steps N] [--no-ti] [--ti-steps N] [--ti-lr LR] [--ti-t-min F] [--ti-t-max F] [--ti-init WORD] [--ti-negative PROMPT]
 * --oracle-only trains (or loads) the oracle and reports its own accuracy on the real test images;
 * --score DIR (repeatable) tags an extra-images folder instead: per class, its waterbird and land shares. */
#include "aspire/captioner.h"
#include "aspire/dataset.h"
#include "aspire/fileio.h"
#include "aspire/generator.h"
#include "aspire/optim.h"
#include "aspire/personalize.h"
#include "aspire/progress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define NSP 11
#define NBG 8
#define S 32
#define PX (S * S * 3)
#define FEAT 64
static const char *const species[NSP] = {"duck", "swan", "flamingo", "penguin", "goose", "rooster",
                                         "turkey", "peacock", "parrot", "eagle", "owl"};
static const char *const backgrounds[NBG] = {"lake", "ocean", "river", "pond", "forest", "field", "desert", "meadow"};
#define NWATERBIRDS 5   /* species[0..4] */
#define NWATER 4        /* backgrounds[0..3] */

/* CPU seconds this process has used (all threads): speeds per CPU second stay meaningful on a
 * machine whose cores are shared with other work. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int index_of(const char *const *names, int n, const char *s) {
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

/* ---- the oracle ------------------------------------------------------------------------------- */
typedef struct oracle {
    aspire_params *p;
    aspire_tensor *w[3], *b[3], *fw, *fb, *sw, *sb, *bw, *bb;
} oracle;

static int oracle_new(oracle *o, uint64_t seed) {
    memset(o, 0, sizeof *o);
    if (!(o->p = aspire_params_new())) return ASPIRE_ERR_NOMEM;
    aspire_rng rng;
    aspire_rng_seed(&rng, seed);
    const int ch[4] = {3, 32, 64, 128};
    char name[32];
    for (int l = 0; l < 3; l++) {
        snprintf(name, sizeof name, "conv%d.weight", l);
        o->w[l] = aspire_params_add(o->p, name, 4, (int64_t[]){ch[l + 1], ch[l], 3, 3}, 1);
        snprintf(name, sizeof name, "conv%d.bias", l);
        o->b[l] = aspire_params_add(o->p, name, 1, (int64_t[]){ch[l + 1]}, 1);
        if (!o->w[l] || !o->b[l]) return ASPIRE_ERR_NOMEM;
        aspire_init_kaiming(o->w[l], (int64_t)ch[l] * 9, &rng);
    }
    struct { aspire_tensor **w, **b; const char *n; int out, in; } fc[3] = {
        {&o->fw, &o->fb, "feat", FEAT, 128}, {&o->sw, &o->sb, "species", NSP, FEAT}, {&o->bw, &o->bb, "bg", NBG, FEAT}};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s.weight", fc[i].n);
        *fc[i].w = aspire_params_add(o->p, name, 2, (int64_t[]){fc[i].out, fc[i].in}, 1);
        snprintf(name, sizeof name, "%s.bias", fc[i].n);
        *fc[i].b = aspire_params_add(o->p, name, 1, (int64_t[]){fc[i].out}, 1);
        if (!*fc[i].w || !*fc[i].b) return ASPIRE_ERR_NOMEM;
        aspire_init_kaiming(*fc[i].w, fc[i].in, &rng);
    }
    return ASPIRE_OK;
}

/* x (N, 32, 32, 3) normalised -> features (N, FEAT); logits through *sp, *bg. */
static aspire_tensor *oracle_forward(aspire_ctx *ctx, const oracle *o, aspire_tensor *x, aspire_tensor **sp,
                                     aspire_tensor **bg) {
    aspire_tensor *h = x;
    for (int l = 0; l < 3; l++) {
        h = aspire_relu(ctx, aspire_conv2d(ctx, h, o->w[l], o->b[l], (aspire_conv_params){1, 1, 1, 1, 1, 1}));
        h = aspire_maxpool2d(ctx, h, 2, 2, 0);
    }
    aspire_tensor *f = aspire_relu(ctx, aspire_linear(ctx, aspire_global_avgpool(ctx, h), o->fw, o->fb));
    *sp = aspire_linear(ctx, f, o->sw, o->sb);
    *bg = aspire_linear(ctx, f, o->bw, o->bb);
    return f;
}

/* Bytes (n, 32, 32, 3) from index list -> normalised tensor, flipped where flips[i]. */
static aspire_tensor *oracle_input(aspire_ctx *ctx, const uint8_t *px, const int *idx, int n, const uint8_t *flips) {
    aspire_tensor *x = aspire_tensor_new(ctx, 4, (int64_t[]){n, S, S, 3});
    if (!x) return NULL;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = px + (size_t)(idx ? idx[i] : i) * PX;
        for (int y = 0; y < S; y++)
            for (int xx = 0; xx < S; xx++)
                for (int c = 0; c < 3; c++)
                    x->data[(size_t)i * PX + (y * S + xx) * 3 + c] =
                        ((float)src[(y * S + (flips && flips[i] ? S - 1 - xx : xx)) * 3 + c] / 255.0f - 0.5f) / 0.25f;
    }
    return x;
}

typedef struct labelled {
    int n;
    const uint8_t *px;   /* (n, 32, 32, 3) */
    int *sp, *bg;        /* (n) indices, -1 unknown */
} labelled;

static int oracle_train(const oracle *o, const labelled *d, int epochs, uint64_t seed) {
    const int B = 64, steps = epochs * (d->n / B);
    aspire_ctx *ctx = NULL;
    aspire_optim *opt = NULL;
    int rc = aspire_ctx_new(&ctx, &(aspire_ctx_options){.threads = 0, .seed = seed});
    aspire_adamw_options ao = aspire_adamw_defaults(2e-3f);
    if (!rc) rc = aspire_optim_new_adamw(&opt, o->p, &ao);
    aspire_schedule sched = {.kind = ASPIRE_SCHEDULE_COSINE, .lr = 2e-3f, .warmup_steps = 100, .total_steps = steps,
                             .min_lr = 2e-5f};
    aspire_rng rng;
    aspire_rng_seed(&rng, seed);
    aspire_progress pg;
    aspire_progress_init(&pg, "oracle", steps, "step");
    int idx[64], ys[64], yb[64];
    uint8_t flips[64];
    for (int s = 0; s < steps && !rc; s++) {
        aspire_ctx_reset(ctx);
        for (int i = 0; i < B; i++) {
            idx[i] = (int)aspire_rng_below(&rng, d->n);
            flips[i] = (uint8_t)aspire_rng_below(&rng, 2);
            ys[i] = d->sp[idx[i]];
            yb[i] = d->bg[idx[i]];
        }
        aspire_tensor *sp, *bg;
        oracle_forward(ctx, o, oracle_input(ctx, d->px, idx, B, flips), &sp, &bg);
        aspire_tensor *loss = aspire_add(ctx, aspire_cross_entropy(ctx, sp, ys, NULL, ASPIRE_REDUCE_MEAN),
                                         aspire_cross_entropy(ctx, bg, yb, NULL, ASPIRE_REDUCE_MEAN));
        if (!loss) { rc = ASPIRE_ERR_BACKEND; break; }
        aspire_params_zero_grad(o->p);
        if ((rc = aspire_backward(ctx, loss))) break;
        aspire_optim_set_lr(opt, aspire_schedule_lr(&sched, s));
        aspire_optim_step(opt);
        aspire_progress_update(&pg, s + 1, "loss %.3f", (double)loss->data[0]);
    }
    aspire_progress_finish(&pg, NULL);
    aspire_optim_free(opt);
    aspire_ctx_free(ctx);
    return rc;
}

/* Predictions and features of n images (bytes, 32 px). */
static int oracle_predict(const oracle *o, const uint8_t *px, int n, int *sp, int *bg, float *feat) {
    aspire_ctx *ctx = NULL;
    int rc = aspire_ctx_new(&ctx, &(aspire_ctx_options){.threads = 0});
    if (rc) return rc;
    aspire_ctx_set_recording(ctx, 0);
    for (int i0 = 0; i0 < n && !rc; i0 += 128) {
        int m = n - i0 < 128 ? n - i0 : 128;
        aspire_ctx_reset(ctx);
        aspire_tensor *ls, *lb;
        aspire_tensor *f = oracle_forward(ctx, o, oracle_input(ctx, px + (size_t)i0 * PX, NULL, m, NULL), &ls, &lb);
        if (!f) { rc = ASPIRE_ERR_BACKEND; break; }
        for (int i = 0; i < m; i++) {
            int a = 0, b = 0;
            for (int k = 1; k < NSP; k++) if (ls->data[i * NSP + k] > ls->data[i * NSP + a]) a = k;
            for (int k = 1; k < NBG; k++) if (lb->data[i * NBG + k] > lb->data[i * NBG + b]) b = k;
            if (sp) sp[i0 + i] = a;
            if (bg) bg[i0 + i] = b;
            if (feat) memcpy(feat + (size_t)(i0 + i) * FEAT, f->data + (size_t)i * FEAT, sizeof(float) * FEAT);
        }
    }
    aspire_ctx_free(ctx);
    return rc;
}

/* ---- Fréchet distance ------------------------------------------------------------------------- */
/* Eigenvalues (into w) and eigenvectors (columns of v) of the symmetric n×n matrix a (destroyed). */
static void jacobi_eigen(double *a, int n, double *w, double *v) {
    for (int i = 0; i < n * n; i++) v[i] = i % (n + 1) == 0;
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0.0;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
        if (off < 1e-22) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                if (fabs(a[p * n + q]) < 1e-300) continue;
                double th = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q]);
                double t = (th >= 0 ? 1.0 : -1.0) / (fabs(th) + sqrt(th * th + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) {
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) {
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < n; k++) {
                    double vkp = v[k * n + p], vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < n; i++) w[i] = a[i * n + i];
}

static void mean_cov(const float *f, int n, double *mu, double *cov) {
    for (int j = 0; j < FEAT; j++) {
        mu[j] = 0;
        for (int i = 0; i < n; i++) mu[j] += f[(size_t)i * FEAT + j] / n;
    }
    for (int a = 0; a < FEAT; a++)
        for (int b = 0; b < FEAT; b++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += (f[(size_t)i * FEAT + a] - mu[a]) * (f[(size_t)i * FEAT + b] - mu[b]);
            cov[a * FEAT + b] = s / (n > 1 ? n - 1 : 1);
        }
}

/* ||μ1 − μ2||² + tr(Σ1) + tr(Σ2) − 2 tr((Σ1^½ Σ2 Σ1^½)^½). */
static double frechet(const float *f1, int n1, const float *f2, int n2) {
    enum { D = FEAT };
    static double mu1[D], mu2[D], c1[D * D], c2[D * D], v[D * D], w[D], r[D * D], t[D * D], m[D * D];
    mean_cov(f1, n1, mu1, c1);
    mean_cov(f2, n2, mu2, c2);
    double d = 0, tr = 0;
    for (int j = 0; j < D; j++) d += (mu1[j] - mu2[j]) * (mu1[j] - mu2[j]), tr += c1[j * D + j] + c2[j * D + j];
    memcpy(t, c1, sizeof c1);
    jacobi_eigen(t, D, w, v);
    for (int a = 0; a < D; a++)  /* r = V diag(√w) Vᵀ */
        for (int b = 0; b < D; b++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += v[a * D + k] * sqrt(w[k] > 0 ? w[k] : 0) * v[b * D + k];
            r[a * D + b] = s;
        }
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += r[a * D + k] * c2[k * D + b];
            t[a * D + b] = s;
        }
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += t[a * D + k] * r[k * D + b];
            m[a * D + b] = s;
        }
    jacobi_eigen(m, D, w, v);
    double root = 0;
    for (int k = 0; k < D; k++) root += sqrt(w[k] > 0 ? w[k] : 0);
    return d + tr - 2 * root;
}

/* ---- sampling ---------------------------------------------------------------------------------- */
/* Samples m images for each of np prompts (prompt-major) into bytes (np·m, 32, 32, 3); keeps the 64 px
 * image of every prompt's first sample in first[p] (may be NULL). Returns images per wall second
 * and per CPU second through rate[0], rate[1]. */
static int sample_prompts(aspire_generator *g, const aspire_sample_opts *so, const char *const *prompts, int np,
                          int m, uint64_t seed, uint8_t *out, aspire_image *first, double *rate) {
    const int L = aspire_generator_get_config(g)->max_len, B = 16, total = np * m;
    aspire_ctx *ctx = NULL;
    int rc = aspire_ctx_new(&ctx, &(aspire_ctx_options){.threads = 0});
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)B * L);
    uint64_t seeds[16];
    float *x = malloc(sizeof(float) * (size_t)B * PX);
    if (!rc && (!ids || !x)) rc = ASPIRE_ERR_NOMEM;
    aspire_progress pg;
    aspire_progress_init(&pg, "sample", total, "img");
    double t0 = aspire_now(), c0 = cpu_now();
    for (int i0 = 0; i0 < total && !rc; i0 += B) {
        int n = total - i0 < B ? total - i0 : B;
        for (int b = 0; b < n && !rc; b++) {
            rc = aspire_generator_encode(g, prompts[(i0 + b) / m], ids + (size_t)b * L);
            seeds[b] = seed * 1000003ULL + (uint64_t)(i0 + b);
        }
        if (!rc) rc = aspire_generator_sample(ctx, g, ids, n, seeds, so, x);
        for (int b = 0; b < n && !rc; b++) {
            aspire_image img = {0};
            rc = aspire_generator_to_image(g, x + (size_t)b * PX, &img);  /* part of the timed work */
            for (int j = 0; j < PX; j++) {
                float v = (x[(size_t)b * PX + j] + 1.0f) * 127.5f;
                out[(size_t)(i0 + b) * PX + j] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : lrintf(v));
            }
            if (first && (i0 + b) % m == 0) first[(i0 + b) / m] = img;
            else aspire_image_destroy(&img);
        }
        aspire_progress_update(&pg, i0 + n, NULL);
    }
    rate[0] = total / (aspire_now() - t0);
    rate[1] = total / (cpu_now() - c0);
    aspire_progress_finish(&pg, NULL);
    free(ids);
    free(x);
    aspire_ctx_free(ctx);
    return rc;
}

/* ---- textual inversion ------------------------------------------------------------------------ */
/* Copies 35 test images of waterbirds (28 on land, 7 on water) into dir with a metadata.csv; their
 * corpus indices go to chosen[]. */
static int ti_folder(const aspire_caption_corpus *c, const char *corpus, const char *dir, int *chosen) {
    int nl = 0, nw = 0, k = 0, rc = ASPIRE_OK;
    char path[4096], line[256];
    snprintf(path, sizeof path, "%s/metadata.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return aspire_error(ASPIRE_ERR_IO, "%s: cannot write", path);
    fprintf(f, "img_filename,y\n");
    for (int i = 0; i < c->n && k < 35 && !rc; i++) {
        int sp = index_of(species, NSP, c->facts[i].species), bg = index_of(backgrounds, NBG, c->facts[i].background);
        if (sp < 0 || sp >= NWATERBIRDS || bg < 0) continue;
        int water = bg < NWATER;
        if ((water && nw == 7) || (!water && nl == 28)) continue;
        nw += water;
        nl += !water;
        char *data = NULL;
        size_t n = 0;
        snprintf(path, sizeof path, "%s/%s", corpus, c->paths[i]);
        rc = aspire_read_file(path, &data, &n);
        snprintf(line, sizeof line, "ti%02d.png", k);
        snprintf(path, sizeof path, "%s/%s", dir, line);
        if (!rc) rc = aspire_write_file_atomic(path, data, n);
        aspire_free(data, 0);
        fprintf(f, "%s,0\n", line);
        chosen[k++] = i;
    }
    fclose(f);
    if (!rc && k < 35) rc = aspire_error(ASPIRE_ERR_ARG, "the test split has too few waterbird images (%d)", k);
    return rc;
}

/* ---- contact sheet ------------------------------------------------------------------------------ */
static int save_sheet(const char *path, aspire_image *cells, int rows, int cols) {
    const int C = 64, G = 2;
    aspire_image sheet = {0};
    int rc = aspire_image_init(&sheet, cols * (C + G) + G, rows * (C + G) + G, 3);
    if (rc) return rc;
    memset(sheet.data, 255, (size_t)sheet.w * sheet.h * 3);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            const aspire_image *im = &cells[r * cols + c];
            if (!im->data) continue;
            for (int y = 0; y < C && y < im->h; y++)
                memcpy(sheet.data + ((size_t)(G + r * (C + G) + y) * sheet.w + G + c * (C + G)) * 3,
                       im->data + (size_t)y * im->w * 3, (size_t)(im->w < C ? im->w : C) * 3);
        }
    rc = aspire_image_save_png(&sheet, path);
    aspire_image_destroy(&sheet);
    return rc;
}

/* ---- the bench ---------------------------------------------------------------------------------- */
typedef struct bench_opts {
    const char *corpus, *model, *oracle, *sheet;
    int per_prompt, ti_samples, oracle_epochs, ti_steps, threads, oracle_only, no_ti;
    const char *score[8];  /* --score DIR (repeatable): extra-images folders to tag instead of sampling */
    int nscore;
    float ti_lr;           /* textual inversion's learning rate (0: personalize's default) */
    float ti_t_min;        /* textual inversion's lowest timestep as a fraction of T (personalize's --t-min;
                            * < 0: personalize's default) */
    float ti_t_max;        /* and its highest (personalize's --t-max; < 0: its default) */
    const char *ti_init;   /* its initializer word (NULL: personalize's default) */
    const char *ti_negative; /* the learned token's samples: the guidance's other prompt (NULL: empty) */
    aspire_sample_opts sample;
} bench_opts;

static int load_labelled(const char *corpus, int split, aspire_caption_corpus *c, labelled *d) {
    int rc = aspire_caption_corpus_load(c, corpus, split, 0, S);
    if (rc) return rc;
    d->n = c->n;
    d->px = c->pixels;
    d->sp = malloc(sizeof(int) * (size_t)c->n);
    d->bg = malloc(sizeof(int) * (size_t)c->n);
    if (!d->sp || !d->bg) return ASPIRE_ERR_NOMEM;
    for (int i = 0; i < c->n; i++) {
        d->sp[i] = index_of(species, NSP, c->facts[i].species);
        d->bg[i] = index_of(backgrounds, NBG, c->facts[i].background);
        if (d->sp[i] < 0 || d->bg[i] < 0)
            return aspire_error(ASPIRE_ERR_FORMAT, "%s: image %s has an unknown species or background", corpus,
                                c->paths[i]);
    }
    return ASPIRE_OK;
}

/* Loads the oracle from its file, or trains it on the pretraining split and saves it there. */
static int get_oracle(const bench_opts *b, oracle *o) {
    int rc = oracle_new(o, 1);
    if (!rc && aspire_file_exists(b->oracle)) return aspire_params_load(o->p, b->oracle);
    aspire_caption_corpus tr;
    labelled d = {0};
    if (!rc) rc = load_labelled(b->corpus, 0, &tr, &d);
    double t0 = aspire_now();
    if (!rc) rc = oracle_train(o, &d, b->oracle_epochs, 1);
    if (!rc) fprintf(stderr, "oracle: trained in %.1f min\n", (aspire_now() - t0) / 60.0);
    if (!rc) rc = aspire_params_save(o->p, b->oracle, NULL, 0);
    free(d.sp);
    free(d.bg);
    aspire_caption_corpus_destroy(&tr);
    return rc;
}

static double share(const int *v, int n, int lo, int hi) {
    int k = 0;
    for (int i = 0; i < n; i++) k += v[i] >= lo && v[i] < hi;
    return n ? (double)k / n : 0.0;
}

typedef struct results {
    double oracle_sp, oracle_bg, sp, bg, kind, fid, floor, ti_class, ti_land, ti_match, ti_s, ti_cpu_s, img_s[2],
        pre_min;
    int nsamples;
} results;

/* Prompt fidelity and world-FID; fills the first 8 rows of the sheet. */
static int prompt_fidelity(const bench_opts *b, aspire_generator *g, const oracle *o, const labelled *test,
                           aspire_image *cells, results *r) {
    static char text[NSP * NBG][128];
    const char *prompts[NSP * NBG];
    int ysp[NSP * NBG], ybg[NSP * NBG];
    for (int bg = 0; bg < NBG; bg++)
        for (int sp = 0; sp < NSP; sp++) {
            int p = bg * NSP + sp;
            snprintf(text[p], sizeof text[p], "a photo of %s %s %s a %s", strchr("aeiou", species[sp][0]) ? "an" : "a",
                     species[sp], bg < NWATER ? "on" : "in", backgrounds[bg]);
            prompts[p] = text[p];
            ysp[p] = sp;
            ybg[p] = bg;
        }
    const int m = b->per_prompt, n = NSP * NBG * m;
    uint8_t *px = malloc((size_t)n * PX);
    int *psp = malloc(sizeof(int) * (size_t)n), *pbg = malloc(sizeof(int) * (size_t)n);
    float *fs = malloc(sizeof(float) * (size_t)n * FEAT), *fr = malloc(sizeof(float) * (size_t)2 * n * FEAT);
    int rc = px && psp && pbg && fs && fr ? ASPIRE_OK : ASPIRE_ERR_NOMEM;
    if (!rc && test->n < 2 * n) rc = aspire_error(ASPIRE_ERR_ARG, "FID wants %d real test images, have %d", 2 * n, test->n);
    if (!rc) rc = sample_prompts(g, &b->sample, prompts, NSP * NBG, m, 1, px, cells, r->img_s);
    if (!rc) rc = oracle_predict(o, px, n, psp, pbg, fs);
    if (!rc) rc = oracle_predict(o, test->px, 2 * n, NULL, NULL, fr);
    int csp = 0, cbg = 0, ckind = 0;
    for (int i = 0; !rc && i < n; i++) {
        int p = i / m;
        csp += psp[i] == ysp[p];
        cbg += pbg[i] == ybg[p];
        ckind += (pbg[i] < NWATER) == (ybg[p] < NWATER);
    }
    r->nsamples = n;
    r->sp = (double)csp / n;
    r->bg = (double)cbg / n;
    r->kind = (double)ckind / n;
    if (!rc) {
        r->fid = frechet(fs, n, fr, n);
        r->floor = frechet(fr + (size_t)n * FEAT, n, fr, n);
    }
    free(px);
    free(psp);
    free(pbg);
    free(fs);
    free(fr);
    return rc;
}

/* Personalizes <waterbird> on 35 test images and scores its samples; fills sheet rows 8 and 9. */
static int textual_inversion(const bench_opts *b, aspire_generator *g, const oracle *o, const aspire_caption_corpus *tc,
                             aspire_image *cells, results *r) {
    char dir[] = "/tmp/aspire-bench-ti-XXXXXX", emb[256], path[4096];
    if (!mkdtemp(dir)) return aspire_error(ASPIRE_ERR_IO, "cannot make a temporary folder");
    snprintf(emb, sizeof emb, "%s/embeds.safetensors", dir);
    int chosen[35];
    int rc = ti_folder(tc, b->corpus, dir, chosen);
    for (int k = 0; k < NSP && !rc; k++) {
        snprintf(path, sizeof path, "%s/%s", b->corpus, tc->paths[chosen[k]]);
        rc = aspire_image_load(&cells[9 * NSP + k], path, 3);
    }
    aspire_personalize_opts po;
    aspire_personalize_opts_default(&po);
    po.images = dir;
    po.out = emb;
    po.model = b->model;
    po.classes = "waterbird";
    po.steps = b->ti_steps;
    if (b->ti_lr > 0) po.lr = b->ti_lr;
    if (b->ti_t_min >= 0.0f) po.t_min = b->ti_t_min;
    if (b->ti_t_max >= 0.0f) po.t_max = b->ti_t_max;
    if (b->ti_init) po.init = b->ti_init;
    po.threads = b->threads;
    double t0 = aspire_now(), c0 = cpu_now();
    if (!rc) rc = aspire_personalize_run(&po, NULL);
    r->ti_s = aspire_now() - t0;
    r->ti_cpu_s = cpu_now() - c0;
    if (!rc) rc = aspire_generator_embeds_load(g, emb, NULL, NULL);
    const int n = b->ti_samples;
    const char **prompts = malloc(sizeof(char *) * (size_t)n);
    uint8_t *px = malloc((size_t)n * PX);
    int *sp = malloc(sizeof(int) * (size_t)n), *bg = malloc(sizeof(int) * (size_t)n);
    aspire_image *firsts = calloc((size_t)n, sizeof *firsts);
    if (!rc && (!prompts || !px || !sp || !bg || !firsts)) rc = ASPIRE_ERR_NOMEM;
    for (int i = 0; !rc && i < n; i++) prompts[i] = "a photo of a <waterbird>";
    double rate[2] = {0, 0};
    aspire_sample_opts so = b->sample;
    so.negative = b->ti_negative;
    if (!rc) rc = sample_prompts(g, &so, prompts, n, 1, 2, px, firsts, rate);
    if (!rc) rc = oracle_predict(o, px, n, sp, bg, NULL);
    if (!rc) {
        r->ti_class = share(sp, n, 0, NWATERBIRDS);
        r->ti_land = share(bg, n, NWATER, NBG);
        r->ti_match = 1.0 - fabs(r->ti_land - 28.0 / 35.0);
    }
    for (int i = 0; firsts && i < n; i++) {
        if (i < NSP) cells[8 * NSP + i] = firsts[i];
        else aspire_image_destroy(&firsts[i]);
    }
    free(firsts);
    free(prompts);
    free(px);
    free(sp);
    free(bg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "generate: could not remove %s\n", dir);
    return rc;
}

/* --score: the oracle's reading of an extra-images folder (metadata.csv img_filename,y; images of any
 * size, area-resized to 32 px), per class y: how many images, the share whose species is a waterbird
 * and the share on land. Shows what a folder of generated (or edited) images teaches a classifier:
 * waterbirds on land and landbirds on water are the groups ERM lacks. */
static int score_folder(const oracle *o, const char *dir) {
    aspire_dataset *ds = NULL;
    aspire_dataset_options dopt = {.split = ASPIRE_SPLIT_ALL, .size = S, .channels = 3, .layout = ASPIRE_LAYOUT_EXTRA};
    int rc = aspire_dataset_load(&ds, dir, &dopt);
    const int n = rc ? 0 : (int)aspire_dataset_count(ds), K = rc ? 0 : aspire_dataset_n_classes(ds);
    uint8_t *px = malloc((size_t)(n + 1) * PX);
    int *sp = malloc(sizeof(int) * (size_t)(n + 1)), *bg = malloc(sizeof(int) * (size_t)(n + 1));
    if (!rc && (!px || !sp || !bg)) rc = ASPIRE_ERR_NOMEM;
    for (int i = 0; i < n && !rc; i++) memcpy(px + (size_t)i * PX, aspire_dataset_pixels(ds, i), PX);
    if (!rc) rc = oracle_predict(o, px, n, sp, bg, NULL);
    for (int k = 0; k < K && !rc; k++) {
        int m = 0, w = 0, l = 0;
        for (int i = 0; i < n; i++)
            if (aspire_dataset_label(ds, i) == k) m++, w += sp[i] < NWATERBIRDS, l += bg[i] >= NWATER;
        printf("score  %s  y=%d  images %4d  waterbird %5.1f %%  land %5.1f %%\n", dir, k, m, m ? 100.0 * w / m : 0,
               m ? 100.0 * l / m : 0);
    }
    free(px);
    free(sp);
    free(bg);
    aspire_dataset_free(ds);
    return rc;
}

/* The pretraining minutes the recipe records ("12.3 min in all", else this run's "12.3 min;"), or -1. */
static double recipe_minutes(const char *recipe) {
    const char *p = recipe ? strstr(recipe, " min in all") : NULL;
    if (!p && recipe) p = strstr(recipe, " min;");
    if (!p && recipe) p = strstr(recipe, " min)");
    if (!p) return -1;
    while (p > recipe && (p[-1] == '.' || (p[-1] >= '0' && p[-1] <= '9'))) p--;
    return atof(p);
}

static int parse_args(int argc, char **argv, bench_opts *b) {
    *b = (bench_opts){.oracle = "build/bench-data/generate-oracle.safetensors", .sheet = "docs/generator-samples.png",
                      .per_prompt = 4, .ti_samples = 60, .oracle_epochs = 3, .ti_steps = 300, .ti_t_min = -1.0f,
                      .ti_t_max = -1.0f};
    aspire_sample_opts_default(&b->sample);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--oracle-only")) { b->oracle_only = 1; continue; }
        if (!strcmp(a, "--no-ti")) { b->no_ti = 1; continue; }
        if (i + 1 >= argc) return 2;
        if (!strcmp(a, "--corpus")) b->corpus = argv[++i];
        else if (!strcmp(a, "--model")) b->model = argv[++i];
        else if (!strcmp(a, "--oracle")) b->oracle = argv[++i];
        else if (!strcmp(a, "--sheet")) b->sheet = argv[++i];
        else if (!strcmp(a, "--per-prompt")) b->per_prompt = atoi(argv[++i]);
        else if (!strcmp(a, "--ti-samples")) b->ti_samples = atoi(argv[++i]);
        else if (!strcmp(a, "--ti-steps")) b->ti_steps = atoi(argv[++i]);
        else if (!strcmp(a, "--ti-lr")) b->ti_lr = (float)atof(argv[++i]);
        else if (!strcmp(a, "--ti-t-min")) b->ti_t_min = (float)atof(argv[++i]);
        else if (!strcmp(a, "--ti-t-max")) b->ti_t_max = (float)atof(argv[++i]);
        else if (!strcmp(a, "--ti-init")) b->ti_init = argv[++i];
        else if (!strcmp(a, "--score")) {
            if (b->nscore == 8) return 2;
            b->score[b->nscore++] = argv[++i];
        } else if (!strcmp(a, "--oracle-epochs")) b->oracle_epochs = atoi(argv[++i]);
        else if (!strcmp(a, "--threads")) b->threads = atoi(argv[++i]);
        else if (!strcmp(a, "--scale")) b->sample.scale = (float)atof(argv[++i]);
        else if (!strcmp(a, "--steps")) b->sample.steps = atoi(argv[++i]);
        else if (!strcmp(a, "--ti-negative")) b->ti_negative = argv[++i];
        else return 2;
    }
    if (!b->corpus || b->per_prompt < 1 || b->ti_samples < NSP || b->oracle_epochs < 1 || b->ti_steps < 1) return 2;
    static char model_buf[4096];
    if (!b->model) b->model = aspire_generator_default_model(getenv("ASPIRE_MODELS"), model_buf, sizeof model_buf);
    return 0;
}

static void report(const bench_opts *b, const aspire_generator *g, const char *recipe, const results *r) {
    printf("model       %s (%lld parameters, %.3f GFLOP per denoiser pass)\nrecipe      %s\n", b->model,
           (long long)aspire_params_numel(aspire_generator_params((aspire_generator *)g), 0),
           aspire_generator_flops(g) / 1e9, recipe);
    printf("oracle      species %.4f  background %.4f on the real test images\n", r->oracle_sp, r->oracle_bg);
    printf("fidelity    %d samples (%d per prompt, %d DDIM steps, guidance %g): species %.4f  background %.4f  "
           "kind %.4f\n", r->nsamples, b->per_prompt, b->sample.steps, (double)b->sample.scale, r->sp, r->bg, r->kind);
    printf("world-FID   %.3f  (real-vs-real floor %.3f, ratio %.2f)\n", r->fid, r->floor,
           r->floor > 0 ? r->fid / r->floor : 0.0);
    printf("inversion   class %.4f  land share %.4f (set 0.8000)  match %.4f  %.1f s per class (%.1f CPU s)\n",
           r->ti_class, r->ti_land, r->ti_match, r->ti_s, r->ti_cpu_s);
    printf("speed       %.2f images/s wall, %.2f images per CPU second (%d threads); pretraining %.1f min (recipe)\n",
           r->img_s[0], r->img_s[1], aspire_get_threads(), r->pre_min);
    printf("{\"species_acc\": %.4f, \"bg_acc\": %.4f, \"bg_kind_acc\": %.4f, \"fid\": %.3f, \"fid_floor\": %.3f, "
           "\"ti_class_acc\": %.4f, \"ti_bg_match\": %.4f, \"pretrain_min\": %.1f, \"personalize_s_per_class\": %.1f, "
           "\"generate_img_s\": %.2f, \"generate_img_per_cpu_s\": %.2f, \"personalize_cpu_s_per_class\": %.1f, "
           "\"oracle_species_acc\": %.4f, \"oracle_bg_acc\": %.4f, \"samples\": %d, \"threads\": %d}\n",
           r->sp, r->bg, r->kind, r->fid, r->floor, r->ti_class, r->ti_match, r->pre_min, r->ti_s, r->img_s[0],
           r->img_s[1], r->ti_cpu_s, r->oracle_sp, r->oracle_bg, r->nsamples, aspire_get_threads());
}

int main(int argc, char **argv) {
    bench_opts b;
    if (parse_args(argc, argv, &b)) {
        fprintf(stderr, "usage: %s --corpus DIR [--model FILE] [--per-prompt N] [--ti-samples N] [--ti-steps N] "
                        "[--oracle FILE] [--oracle-epochs N] [--oracle-only] [--score DIR] [--sheet PNG] [--threads N] [--scale S] [--steps N] "
                        "[--no-ti] [--ti-lr LR] [--ti-t-min F] [--ti-t-max F] [--ti-init WORD] [--ti-negative PROMPT]\n", argv[0]);
        return 2;
    }
    aspire_set_threads(b.threads);
    aspire_generator *g = NULL;
    char *recipe = NULL;
    oracle o = {0};
    aspire_caption_corpus tc = {0};
    labelled test = {0};
    results r = {0};
    aspire_image cells[10 * NSP] = {0};
    int rc = b.oracle_only || b.nscore ? ASPIRE_OK : aspire_generator_load(&g, b.model, &recipe);
    int *sp = NULL, *bg = NULL;
    if (!rc && !b.nscore) rc = load_labelled(b.corpus, 2, &tc, &test);
    if (!rc) rc = get_oracle(&b, &o);
    if (b.nscore) {   /* tag folders only */
        for (int i = 0; i < b.nscore && !rc; i++) rc = score_folder(&o, b.score[i]);
        if (rc) fprintf(stderr, "generate: %s\n", aspire_errmsg());
        goto done;
    }
    sp = malloc(sizeof(int) * (size_t)(test.n + 1));
    bg = malloc(sizeof(int) * (size_t)(test.n + 1));
    if (!rc) rc = oracle_predict(&o, test.px, test.n, sp, bg, NULL);
    for (int i = 0; !rc && i < test.n; i++) r.oracle_sp += (sp[i] == test.sp[i]) / (double)test.n;
    for (int i = 0; !rc && i < test.n; i++) r.oracle_bg += (bg[i] == test.bg[i]) / (double)test.n;
    if (!rc && b.oracle_only) {
        printf("oracle      species %.4f  background %.4f on the %d real test images at %d px\n", r.oracle_sp,
               r.oracle_bg, test.n, S);
        printf("{\"oracle_species_acc\": %.4f, \"oracle_bg_acc\": %.4f}\n", r.oracle_sp, r.oracle_bg);
        goto done;
    }
    if (!rc) rc = prompt_fidelity(&b, g, &o, &test, cells, &r);
    if (!rc && !b.no_ti) rc = textual_inversion(&b, g, &o, &tc, cells, &r);
    if (!rc && b.sheet) rc = save_sheet(b.sheet, cells, 10, NSP);
    r.pre_min = recipe_minutes(recipe);
    if (!rc) report(&b, g, recipe, &r);
    else fprintf(stderr, "generate: %s\n", aspire_errmsg());
done:
    for (int i = 0; i < 10 * NSP; i++) aspire_image_destroy(&cells[i]);
    free(sp);
    free(bg);
    free(test.sp);
    free(test.bg);
    aspire_caption_corpus_destroy(&tc);
    aspire_params_free(o.p);
    aspire_strfree(recipe);
    aspire_generator_free(g);
    return rc ? 1 : 0;
}
