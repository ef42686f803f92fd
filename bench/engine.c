/* engine.c — throughput of the engine on the reference network (DESIGN.md §3): training steps
 * (forward, cross-entropy, backward, SGD with momentum 0.9 and weight decay 1e-4) and inference
 * (eval mode, no tape) on random 64×64 images, batch 64, 2 threads by default. Prints images/s,
 * achieved GFLOP/s (forward FLOPs from aspire_resnet_flops; a training step counts as 3× the
 * forward) and the fraction of the machine's fp32 peak, peak RSS, and with ASPIRE_PROFILE=1 a
 * per-op profile on stderr. The last line is one JSON object.
 *
 *   bench/engine [--iters N] [--warmup N] [--threads N] [--batch N] [--size N] [--peak GFLOPS]
 *                [--measure-peak]
 *
 * The peak defaults to 320 GFLOP/s, what dnnl_sgemm reaches at 2048³ on the project's 2-core
 * machine (DESIGN.md); --measure-peak measures it here instead (a few seconds). */
#include "aspire/engine.h"
#include "aspire/optim.h"
#include "aspire/resnet.h"
#include "engine/internal.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct opts {
    int iters, warmup, threads, batch, size, measure_peak;
    double peak;
} opts;

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){.iters = 20, .warmup = 3, .threads = 2, .batch = 64, .size = 64, .peak = 320.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int *iv = NULL;
        if (!strcmp(a, "--iters")) iv = &o->iters;
        else if (!strcmp(a, "--warmup")) iv = &o->warmup;
        else if (!strcmp(a, "--threads")) iv = &o->threads;
        else if (!strcmp(a, "--batch")) iv = &o->batch;
        else if (!strcmp(a, "--size")) iv = &o->size;
        else if (!strcmp(a, "--measure-peak")) { o->measure_peak = 1; continue; }
        else if (!strcmp(a, "--peak") && i + 1 < argc) { o->peak = atof(argv[++i]); continue; }
        else {
            fprintf(stderr, "usage: %s [--iters N] [--warmup N] [--threads N] [--batch N] [--size N] [--peak GFLOPS] "
                            "[--measure-peak]\n", argv[0]);
            return -1;
        }
        if (i + 1 >= argc || (*iv = atoi(argv[++i])) < 0) {
            fprintf(stderr, "%s: %s needs a non-negative number\n", argv[0], a);
            return -1;
        }
    }
    if (o->iters < 1 || o->batch < 1 || o->size < 8) {
        fprintf(stderr, "%s: --iters and --batch must be >= 1, --size >= 8\n", argv[0]);
        return -1;
    }
    return 0;
}

/* dnnl_sgemm at 2048³: the machine's practical fp32 peak, GFLOP/s (best of 5). */
static double measure_peak(void) {
    const int n = 2048;
    float *a = aspire_malloc_aligned(sizeof(float) * (size_t)n * n), *b = aspire_malloc_aligned(sizeof(float) * (size_t)n * n),
          *c = aspire_malloc_aligned(sizeof(float) * (size_t)n * n);
    if (!a || !b || !c) return 0;
    for (size_t i = 0; i < (size_t)n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
    double best = 0;
    for (int r = 0; r < 6; r++) {
        double t = aspire_now();
        dnnl_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double g = 2.0 * n * (double)n * n / (aspire_now() - t) / 1e9;
        if (r > 0 && g > best) best = g;
    }
    aspire_free_aligned(a);
    aspire_free_aligned(b);
    aspire_free_aligned(c);
    return best;
}

/* CPU seconds used by the process (all threads): a load-independent cost where wall time is not. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void discard_profile(aspire_ctx *ctx) {
    FILE *f = fopen("/dev/null", "w");
    if (f) {
        aspire_prof_report(ctx, f);
        fclose(f);
    }
}

/* The engine's settings from the environment, as the aspire program maps them. */
static aspire_ctx_options env_options(int threads) {
    const char *wino = getenv("ASPIRE_WINOGRAD"), *bn = getenv("ASPIRE_BN"), *ref = getenv("ASPIRE_REFERENCE");
    aspire_ctx_options co = {.threads = threads, .seed = 1};
    co.reference = ref && atoi(ref) == 1;
    co.no_winograd = wino && atoi(wino) == 0;
    co.bn_kernel = !bn ? ASPIRE_BN_DEFAULT : strcmp(bn, "fast") == 0 ? ASPIRE_BN_FAST : strcmp(bn, "onednn") == 0 ? ASPIRE_BN_ONEDNN : ASPIRE_BN_DEFAULT;
    co.profile = getenv("ASPIRE_PROFILE") && atoi(getenv("ASPIRE_PROFILE")) == 1;
    return co;
}

/* What one batch costs: the network, its optimiser, the fixed random batch. */
typedef struct job {
    const opts *o;
    aspire_ctx *ctx;
    aspire_resnet *net;
    aspire_optim *opt;
    float *input;
    int32_t *targets;
    int profile;
} job;

/* warmup + iters steps (training: forward, loss, backward, update; else a forward pass), the
 * last iters timed: wall and CPU seconds, the last loss. 1 on failure. */
static int time_steps(job *j, int training, double *wall, double *cpu, double *loss_v) {
    const opts *o = j->o;
    const int64_t shape[4] = {o->batch, o->size, o->size, 3};
    aspire_ctx_set_training(j->ctx, training);
    aspire_ctx_set_recording(j->ctx, training);
    double t0 = 0, c0 = 0;
    for (int it = 0; it < o->warmup + o->iters; it++) {
        if (it == o->warmup) {
            if (j->profile) discard_profile(j->ctx); /* the warm-up's share, primitive creation included */
            t0 = aspire_now();
            c0 = cpu_now();
        }
        if (training) aspire_params_zero_grad(aspire_resnet_params(j->net));
        aspire_tensor *x = aspire_tensor_from(j->ctx, 4, shape, j->input);
        aspire_tensor *out = aspire_resnet_forward(j->ctx, j->net, x, NULL);
        if (training) {
            aspire_tensor *loss = aspire_cross_entropy(j->ctx, out, j->targets, NULL, ASPIRE_REDUCE_MEAN);
            if (!loss || aspire_backward(j->ctx, loss) != ASPIRE_OK) {
                fprintf(stderr, "engine: training step failed: %s\n", aspire_errmsg());
                return 1;
            }
            *loss_v = loss->data[0];
            aspire_optim_step(j->opt);
        } else if (!out) {
            fprintf(stderr, "engine: inference failed: %s\n", aspire_errmsg());
            return 1;
        }
        aspire_ctx_reset(j->ctx);
    }
    *wall = aspire_now() - t0;
    *cpu = cpu_now() - c0;
    if (j->profile) {
        fprintf(stderr, "per-op profile, %s (%d timed + %d warm-up %s):\n", training ? "training" : "inference", o->iters,
                o->warmup, training ? "steps" : "batches");
        aspire_prof_report(j->ctx, stderr);
    }
    return 0;
}

typedef struct timing { double t_train, c_train, t_infer, c_infer, loss; size_t arena; } timing;

static void print_results(const opts *o, const timing *tm, double flops) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double rss_mib = (double)ru.ru_maxrss / 1024.0;
    const double train_img = o->iters * (double)o->batch / tm->t_train, infer_img = o->iters * (double)o->batch / tm->t_infer;
    const double train_gf = train_img * 3.0 * flops / 1e9, infer_gf = infer_img * flops / 1e9;
    printf("reference network, batch %d, %dx%d, %d threads, %.4f GFLOP/img forward\n", o->batch, o->size, o->size,
           o->threads, flops / 1e9);
    printf("training:  %8.1f img/s  %6.1f GFLOP/s (3x forward)  %5.1f%% of %.0f GFLOP/s peak  (last loss %.4f)\n",
           train_img, train_gf, 100.0 * train_gf / o->peak, o->peak, tm->loss);
    printf("inference: %8.1f img/s  %6.1f GFLOP/s               %5.1f%% of %.0f GFLOP/s peak\n", infer_img, infer_gf,
           100.0 * infer_gf / o->peak, o->peak);
    printf("peak RSS %.1f MiB (arena peak %.1f MiB); CPU time per batch: training %.1f ms, inference %.1f ms "
           "(wall %.1f / %.1f ms)\n", rss_mib, (double)tm->arena / 1048576.0, 1e3 * tm->c_train / o->iters,
           1e3 * tm->c_infer / o->iters, 1e3 * tm->t_train / o->iters, 1e3 * tm->t_infer / o->iters);
    printf("{\"train_img_s\": %.2f, \"infer_img_s\": %.2f, \"train_gflops\": %.1f, \"infer_gflops\": %.1f, "
           "\"peak_gflops\": %.1f, \"peak_measured\": %s, \"train_peak_frac\": %.3f, \"infer_peak_frac\": %.3f, "
           "\"peak_rss_mib\": %.1f, \"train_cpu_ms\": %.1f, \"infer_cpu_ms\": %.1f, \"threads\": %d, \"batch\": %d, "
           "\"size\": %d}\n",
           train_img, infer_img, train_gf, infer_gf, o->peak, o->measure_peak ? "true" : "false", train_gf / o->peak,
           infer_gf / o->peak, rss_mib, 1e3 * tm->c_train / o->iters, 1e3 * tm->c_infer / o->iters, o->threads, o->batch,
           o->size);
}

int main(int argc, char **argv) {
    opts o;
    if (parse(argc, argv, &o)) return 2;
    aspire_set_threads(o.threads);
    if (o.measure_peak) o.peak = measure_peak();
    aspire_resnet_config cfg = aspire_resnet_reference_config(2);
    aspire_ctx_options co = env_options(o.threads);
    job j = {&o, NULL, NULL, NULL, NULL, NULL, co.profile};
    aspire_sgd_options so = {.lr = 0.01f, .momentum = 0.9f, .weight_decay = 1e-4f};
    if (aspire_resnet_new(&j.net, &cfg, 1) != ASPIRE_OK || aspire_ctx_new(&j.ctx, &co) != ASPIRE_OK ||
        aspire_optim_new_sgd(&j.opt, aspire_resnet_params(j.net), &so) != ASPIRE_OK) {
        fprintf(stderr, "engine: %s\n", aspire_errmsg());
        return 1;
    }
    const int64_t nin = (int64_t)o.batch * o.size * o.size * 3;
    j.input = aspire_malloc_aligned(sizeof(float) * (size_t)nin);
    j.targets = aspire_malloc(sizeof(int32_t) * (size_t)o.batch);
    aspire_rng rng;
    aspire_rng_seed(&rng, 0);
    for (int64_t i = 0; i < nin; i++) j.input[i] = aspire_rng_normal(&rng);
    for (int i = 0; i < o.batch; i++) j.targets[i] = (int32_t)aspire_rng_below(&rng, 2);
    const double flops = aspire_resnet_flops(j.net, o.size, o.size); /* forward, per image */
    timing tm = {0};
    if (time_steps(&j, 1, &tm.t_train, &tm.c_train, &tm.loss)) return 1;
    tm.arena = aspire_ctx_arena_peak(j.ctx);
    double unused = 0;
    if (time_steps(&j, 0, &tm.t_infer, &tm.c_infer, &unused)) return 1;
    print_results(&o, &tm, flops);
    aspire_optim_free(j.opt);
    aspire_free_aligned(j.input);
    aspire_free(j.targets, 0);
    aspire_ctx_free(j.ctx);
    aspire_resnet_free(j.net);
    return 0;
}
