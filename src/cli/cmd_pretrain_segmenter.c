/* cmd_pretrain_segmenter.c — `aspire pretrain segmenter`: trains the built-in segmenter (a U-Net
 * over the world's concepts) on the world corpus's instance masks (made in a temporary folder
 * unless --corpus names one) and writes its model file with config, phrase vocabulary, thresholds
 * and recipe in the metadata. Checkpoints to OUT.ckpt; --resume continues from there. */
#include "cli/cli.h"

#include "aspire/fileio.h"
#include "aspire/rundir.h"
#include "aspire/segmenter.h"
#include "aspire/world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define CMD "pretrain segmenter"

/* Loads the corpus's pretraining split, making the corpus in a temporary folder when dir is NULL. */
static int load_corpus(aspire_seg_corpus *c, const char *dir, int64_t seed, int limit, int size, int quiet) {
    char tmpdir[] = "/tmp/aspire-segcorpus-XXXXXX";
    if (!dir) {
        if (!mkdtemp(tmpdir)) return cli_fail(CMD, "cannot make a temporary folder in /tmp");
        aspire_world_corpus_opts co;
        aspire_world_corpus_opts_default(&co);
        co.out = tmpdir;
        co.seed = (uint64_t)seed;
        co.size = size;
        co.progress = !quiet;
        if (!quiet) fprintf(stderr, CMD ": making the world corpus in %s\n", tmpdir);
        int rc = aspire_world_corpus_write(&co);
        if (!rc) rc = aspire_seg_corpus_load(c, tmpdir, 0, limit, size);
        (void)aspire_remove_tree(tmpdir);
        return rc ? cli_fail(CMD, NULL) : 0;
    }
    return aspire_seg_corpus_load(c, dir, 0, limit, size) ? cli_fail(CMD, NULL) : 0;
}

int cmd_pretrain_segmenter(int argc, char **argv) {
    aspire_segnet_train_opts o;
    aspire_segnet_train_opts_default(&o);
    const char *corpus = NULL, *out = "models/segmenter.safetensors", *widths = NULL;
    int64_t seed = 0, corpus_seed = 0;
    int threads = 0, quiet = 0, limit = 0;
    const cli_opt opts[] = {
        {"--corpus", CLI_STR, &corpus, "world corpus folder (default: make one in a temporary folder)"},
        {"--out", CLI_STR, &out, "model file to write"},
        {"--steps", CLI_INT, &o.steps, "optimizer steps"},
        {"--schedule-steps", CLI_INT, &o.schedule_steps, "length of the cosine schedule (0 = --steps; more: a run cut short)"},
        {"--batch", CLI_INT, &o.batch, "images per step"},
        {"--lr", CLI_FLOAT, &o.lr, "peak AdamW learning rate"},
        {"--min-lr", CLI_FLOAT, &o.min_lr, "final learning rate of the cosine decay"},
        {"--warmup", CLI_INT, &o.warmup, "linear warm-up steps"},
        {"--weight-decay", CLI_FLOAT, &o.weight_decay, "AdamW decoupled weight decay"},
        {"--fg-weight", CLI_FLOAT, &o.fg_weight, "loss weight of object pixels (background 1)"},
        {"--flip", CLI_INT, &o.flip, "random horizontal flips (0/1)"},
        {"--val", CLI_INT, &o.val, "corpus images held out (the last ones) to tune the thresholds"},
        {"--limit", CLI_INT, &limit, "use at most this many corpus images (0 = all)"},
        {"--seed", CLI_I64, &seed, "random seed (initialisation, batches, flips)"},
        {"--corpus-seed", CLI_I64, &corpus_seed, "seed of the corpus made when --corpus is not given"},
        {"--size", CLI_INT, &o.cfg.image_size, "input side in pixels"},
        {"--widths", CLI_STR, &widths, "channels per level, comma-separated, finest first (default 16,24,48,64)"},
        {"--checkpoint-every", CLI_INT, &o.checkpoint_every, "write OUT.ckpt (+ .optim) every N steps (0 = never)"},
        {"--resume", CLI_FLAG, &o.resume, "continue from OUT.ckpt if it exists"},
        {"--threads", CLI_INT, &threads, "threads (0 = all cores)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress line"},
    };
    int rc = cli_parse(CMD,
                       "Trains the built-in segmenter (a U-Net labelling each pixel with one of the world's birds and\n"
                       "objects) on the world corpus's instance masks, tunes its presence thresholds on held-out\n"
                       "images, and writes the model file with config, phrase vocabulary, thresholds and recipe.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    int nw = widths ? cli_parse_ints(widths, o.cfg.widths, ASPIRE_SEGNET_MAX_LEVELS, 1024) : o.cfg.nlevels;
    if (nw < 1) {
        fprintf(stderr, "aspire " CMD ": --widths wants 1 to %d positive integers, comma-separated\n", ASPIRE_SEGNET_MAX_LEVELS);
        return 2;
    }
    o.cfg.nlevels = nw;
    o.seed = (uint64_t)seed;
    o.progress = !quiet;
    aspire_set_threads(threads);
    double t0 = aspire_now();
    char *dir = aspire_strdup(out);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash) { *slash = 0; if (*dir) rc = aspire_mkdir_p(dir); }
    aspire_strfree(dir);
    if (rc) return cli_fail(CMD, NULL);
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    if (o.checkpoint_every > 0 || o.resume) o.checkpoint = ckpt;
    aspire_seg_corpus c;
    if ((rc = load_corpus(&c, corpus, corpus_seed, limit, o.cfg.image_size, quiet))) return rc;
    if (!quiet) fprintf(stderr, CMD ": %d images, %d steps of %d\n", c.n, o.steps, o.batch);
    aspire_segnet *net = NULL;
    char *recipe = NULL;
    rc = aspire_segnet_train(&net, &c, &o, &recipe);
    aspire_seg_corpus_destroy(&c);
    if (rc) return cli_fail(CMD, NULL);
    rc = aspire_segnet_save(net, out, recipe);
    if (!rc) {
        printf("wrote %s (%lld parameters) in %.1f min\n%s\n", out, (long long)aspire_params_numel(aspire_segnet_params(net), 0),
               (aspire_now() - t0) / 60.0, recipe);
        if (o.checkpoint) {
            char op[4200];
            snprintf(op, sizeof op, "%s.optim", ckpt);
            remove(ckpt);
            remove(op);
        }
    }
    aspire_strfree(recipe);
    aspire_segnet_free(net);
    return rc ? cli_fail(CMD, NULL) : 0;
}
