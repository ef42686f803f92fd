/* cmd_pretrain_generator.c — `aspire pretrain generator`: trains the built-in text-to-image
 * diffusion model on the world corpus's captioned images (made in a temporary folder unless
 * --corpus names one) and writes its model file; checkpoints to OUT.ckpt and --resume continues
 * an interrupted run exactly. */
#include "cli/cli.h"

#include "aspire/captioner.h"
#include "aspire/fileio.h"
#include "aspire/rundir.h"
#include "aspire/generator.h"
#include "aspire/world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define CMD "pretrain generator"

/* Loads the corpus's pretraining split at the model's resolution, making a corpus first if needed. */
static int load_corpus(aspire_caption_corpus *c, const char *corpus, int limit, int size, int quiet) {
    char tmpdir[] = "/tmp/aspire-corpus-XXXXXX";
    int made_tmp = 0, rc = 0;
    if (!corpus) {
        if (!mkdtemp(tmpdir)) return aspire_error(ASPIRE_ERR_IO, "cannot make a temporary folder in /tmp");
        made_tmp = 1;
        corpus = tmpdir;
        aspire_world_corpus_opts co;
        aspire_world_corpus_opts_default(&co);
        co.out = tmpdir;
        co.progress = !quiet;
        if (!quiet) fprintf(stderr, CMD ": making the world corpus in %s\n", tmpdir);
        rc = aspire_world_corpus_write(&co);
    }
    if (!rc) rc = aspire_caption_corpus_load(c, corpus, 0, limit, size);
    if (made_tmp) (void)aspire_remove_tree(tmpdir);
    return rc;
}

/* Makes the folder of the output file, so that a bad --out fails before the training. */
static int make_parent(const char *out) {
    char *dir = aspire_strdup(out);
    if (!dir) return ASPIRE_ERR_NOMEM;
    char *slash = strrchr(dir, '/');
    int rc = ASPIRE_OK;
    if (slash) { *slash = 0; if (*dir) rc = aspire_mkdir_p(dir); }
    aspire_strfree(dir);
    return rc;
}

int cmd_pretrain_generator(int argc, char **argv) {
    aspire_generator_train_opts o;
    aspire_generator_train_opts_default(&o);
    const char *corpus = NULL, *out = "models/generator.safetensors", *widths = NULL;
    int64_t seed = 0;
    int threads = 0, quiet = 0, limit = 0, resume = 0;
    double minutes = 0.0;
    const cli_opt opts[] = {
        {"--corpus", CLI_STR, &corpus, "world corpus folder (default: make one in a temporary folder)"},
        {"--out", CLI_STR, &out, "model file to write (checkpoints go to OUT.ckpt, OUT.ckpt.ema, OUT.ckpt.optim)"},
        {"--steps", CLI_INT, &o.steps, "optimizer steps in all (a resumed run continues to this count)"},
        {"--batch", CLI_INT, &o.batch, "images per step"},
        {"--lr", CLI_FLOAT, &o.lr, "peak AdamW learning rate"},
        {"--min-lr", CLI_FLOAT, &o.min_lr, "final learning rate of the cosine decay"},
        {"--warmup", CLI_INT, &o.warmup, "linear warm-up steps"},
        {"--weight-decay", CLI_FLOAT, &o.weight_decay, "AdamW decoupled weight decay"},
        {"--clip", CLI_FLOAT, &o.clip, "gradient-norm clip (0 = none)"},
        {"--drop-caption", CLI_FLOAT, &o.drop_caption, "probability of the empty prompt (classifier-free guidance)"},
        {"--ema", CLI_FLOAT, &o.ema, "EMA decay of the weights written (0 = the raw weights)"},
        {"--min-count", CLI_INT, &o.min_count, "words seen fewer times become <unk>"},
        {"--limit", CLI_INT, &limit, "use at most this many corpus images (0 = all)"},
        {"--minutes", CLI_DOUBLE, &minutes, "stop this run after this many minutes, checkpoint and write (0 = never)"},
        {"--stop-at", CLI_INT, &o.stop_at, "stop this run after this many steps in all, checkpoint and write (0 = --steps)"},
        {"--seed", CLI_I64, &seed, "random seed (initialisation, batches, noise)"},
        {"--size", CLI_INT, &o.cfg.image_size, "the denoiser's resolution in pixels"},
        {"--out-size", CLI_INT, &o.cfg.out_size, "side of generated images in pixels"},
        {"--patch", CLI_INT, &o.cfg.patch, "stem patch size"},
        {"--widths", CLI_STR, &widths, "U-Net channels per resolution, comma-separated (default 48,96)"},
        {"--d-text", CLI_INT, &o.cfg.d_text, "text encoder width"},
        {"--text-layers", CLI_INT, &o.cfg.text_layers, "text encoder blocks"},
        {"--max-len", CLI_INT, &o.cfg.max_len, "tokens per prompt, <bos> and <eos> included"},
        {"--checkpoint-every", CLI_INT, &o.checkpoint_every, "write the checkpoint every N steps (0 = only at the end)"},
        {"--resume", CLI_FLAG, &resume, "continue from OUT.ckpt if it exists"},
        {"--threads", CLI_INT, &threads, "threads (0 = all cores)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress line"},
    };
    int rc = cli_parse(CMD,
                       "Trains the built-in text-to-image diffusion model (text encoder + U-Net, v-prediction DDPM with\n"
                       "caption dropout) on the world corpus and writes the model file with vocabulary, config, recipe.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (widths) {
        int nw = cli_parse_ints(widths, o.cfg.widths, ASPIRE_GENERATOR_MAX_LEVELS, 4096);
        if (nw < 1) {
            fprintf(stderr, "aspire " CMD ": --widths wants 1 to %d positive integers\n", ASPIRE_GENERATOR_MAX_LEVELS);
            return 2;
        }
        o.cfg.nlevels = nw;
    }
    o.seed = (uint64_t)seed;
    o.max_minutes = minutes;
    o.progress = !quiet;
    o.resume = resume;
    aspire_set_threads(threads);
    double t0 = aspire_now();
    if (make_parent(out)) return cli_fail(CMD, NULL);
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    o.checkpoint = ckpt;

    aspire_caption_corpus c;
    if (load_corpus(&c, corpus, limit, o.cfg.image_size, quiet)) return cli_fail(CMD, NULL);
    if (!quiet) fprintf(stderr, CMD ": %d images at %d px, %d steps of %d\n", c.n, c.size, o.steps, o.batch);
    aspire_generator *g = NULL;
    char *recipe = NULL;
    int steps = 0;
    rc = aspire_generator_train(&g, c.pixels, c.n, c.captions, c.ncap, &o, &steps, &recipe);
    aspire_caption_corpus_destroy(&c);
    if (rc) return cli_fail(CMD, NULL);
    rc = aspire_generator_save(g, out, recipe);
    if (!rc)
        printf("wrote %s (%lld parameters, %.3f GFLOP per denoiser pass, %d steps) in %.1f min\n", out,
               (long long)aspire_params_numel(aspire_generator_params(g), 0), aspire_generator_flops(g) / 1e9, steps,
               (aspire_now() - t0) / 60.0);
    aspire_strfree(recipe);
    aspire_generator_free(g);
    return rc ? cli_fail(CMD, NULL) : 0;
}
