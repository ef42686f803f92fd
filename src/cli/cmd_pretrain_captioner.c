/* cmd_pretrain_captioner.c — `aspire pretrain captioner`: trains the built-in captioner on the world
 * corpus (made in a temporary folder unless --corpus names one) and writes its model file, with
 * the vocabulary, config and recipe in the metadata. Every option is checked before the corpus is
 * made, and the temporary corpus is removed on every exit path, kill -9 included (rundir.h). */
#include "cli/cli.h"

#include "aspire/captioner.h"
#include "aspire/fileio.h"
#include "aspire/rundir.h"
#include "aspire/world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

int cmd_pretrain_captioner(int argc, char **argv) {
    aspire_captioner_train_opts o;
    aspire_captioner_train_opts_default(&o);
    const char *corpus = NULL, *out = "models/captioner.safetensors", *widths = NULL;
    uint64_t seed = 0, corpus_seed = 0;
    int threads = 0, quiet = 0, limit = 0;
    double minutes = 0.0;
    char widths_help[128];  /* the default shape's widths, from the library's default config */
    int k = snprintf(widths_help, sizeof widths_help, "encoder widths per stage, comma-separated, stem first (default ");
    for (int s = 0; s < o.cfg.nstages && k < (int)sizeof widths_help; s++)
        k += snprintf(widths_help + k, sizeof widths_help - (size_t)k, "%s%d", s ? "," : "", o.cfg.widths[s]);
    if (k < (int)sizeof widths_help) snprintf(widths_help + k, sizeof widths_help - (size_t)k, ")");
    const cli_opt opts[] = {
        {"--corpus", CLI_STR, &corpus, "world corpus folder (default: make one in a temporary folder)"},
        {"--out", CLI_STR, &out, "model file to write"},
        {"--steps", CLI_INT, &o.steps, "optimizer steps"},
        {"--batch", CLI_INT, &o.batch, "images per step"},
        {"--lr", CLI_FLOAT, &o.lr, "peak AdamW learning rate"},
        {"--min-lr", CLI_FLOAT, &o.min_lr, "final learning rate of the cosine decay"},
        {"--warmup", CLI_INT, &o.warmup, "linear warm-up steps"},
        {"--weight-decay", CLI_FLOAT, &o.weight_decay, "AdamW decoupled weight decay"},
        {"--clip", CLI_FLOAT, &o.clip, "gradient-norm clip (0 = none)"},
        {"--aux", CLI_FLOAT, &o.aux, "weight of the auxiliary scene-tagging loss (0 = captions only)"},
        {"--min-count", CLI_INT, &o.min_count, "words seen fewer times become <unk>"},
        {"--limit", CLI_INT, &limit, "use at most this many corpus images (0 = all)"},
        {"--minutes", CLI_DOUBLE, &minutes, "stop early after this many minutes of training (0 = never)"},
        {"--seed", CLI_U64, &seed, "random seed (initialisation, batches, flips)"},
        {"--corpus-seed", CLI_U64, &corpus_seed, "seed of the corpus made when --corpus is not given"},
        {"--size", CLI_INT, &o.cfg.image_size, "input side in pixels"},
        {"--stem-stride", CLI_INT, &o.cfg.stem_stride, "stride of the stem conv (1 or 2)"},
        {"--batchnorm", CLI_INT, &o.cfg.batchnorm, "1: batch norm after each conv; 0: conv bias only"},
        {"--widths", CLI_STR, &widths, widths_help},
        {"--d-model", CLI_INT, &o.cfg.d_model, "decoder width"},
        {"--layers", CLI_INT, &o.cfg.n_layers, "decoder blocks"},
        {"--heads", CLI_INT, &o.cfg.n_heads, "attention heads"},
        {"--ff", CLI_INT, &o.cfg.d_ff, "decoder MLP width"},
        {"--max-len", CLI_INT, &o.cfg.max_len, "tokens per caption, <bos> and <eos> included"},
        {"--checkpoint-every", CLI_INT, &o.checkpoint_every, "also write the model to OUT.ckpt every N steps (0 = never)"},
        {"--threads", CLI_INT, &threads, "threads (0 = all cores)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress line"},
    };
    int rc = cli_parse("pretrain captioner",
                       "Trains the built-in captioner (conv encoder + transformer decoder) on the world corpus with\n"
                       "teacher forcing and writes the model file with its vocabulary, config and recipe.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    int nw = widths ? cli_parse_ints(widths, o.cfg.widths, ASPIRE_CAPTIONER_MAX_STAGES, 4096) : o.cfg.nstages;
    if (nw < 1) {
        fprintf(stderr, "aspire pretrain captioner: --widths wants 1 to %d positive integers, comma-separated\n",
                ASPIRE_CAPTIONER_MAX_STAGES);
        return 2;
    }
    o.cfg.nstages = nw;
    o.seed = seed;
    o.max_minutes = minutes;
    o.progress = !quiet;
    if (aspire_captioner_train_check(&o)) return cli_fail("pretrain captioner", NULL);
    aspire_set_threads(threads);
    double t0 = aspire_now();
    /* the output's folder first, so that a bad --out fails before the training */
    char *dir = aspire_strdup(out);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash) { *slash = 0; if (*dir) rc = aspire_mkdir_p(dir); }
    aspire_strfree(dir);
    if (rc) return cli_fail("pretrain captioner", NULL);
    char ckpt[4096];
    if (o.checkpoint_every > 0) {
        snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
        o.checkpoint = ckpt;
    }

    /* The corpus, when made here, lives in $TMPDIR (else /tmp) only until it is loaded; its watcher
     * removes it should this process end first (Ctrl-C, kill -9). It is built in a folder inside the
     * scratch folder, so that the writer's temporary sibling is inside it too. */
    aspire_tmpdir *tmp = NULL;
    char *made = NULL;
    if (!corpus) {
        if (aspire_tmpdir_make(&tmp, NULL, "aspire-corpus")) return cli_fail("pretrain captioner", NULL);
        if (!(made = aspire_path_join(aspire_tmpdir_path(tmp), "corpus"))) {
            aspire_tmpdir_free(tmp);
            return cli_fail("pretrain captioner", NULL);
        }
        corpus = made;
        aspire_world_corpus_opts co;
        aspire_world_corpus_opts_default(&co);
        co.out = corpus;
        co.seed = corpus_seed;
        co.size = o.cfg.image_size;
        co.progress = !quiet;
        if (!quiet) fprintf(stderr, "pretrain captioner: making the world corpus in %s\n", corpus);
        if (aspire_world_corpus_write(&co)) {
            cli_fail("pretrain captioner", NULL);
            aspire_strfree(made);
            aspire_tmpdir_free(tmp);
            return 1;
        }
    }
    aspire_caption_corpus c;
    rc = aspire_caption_corpus_load(&c, corpus, 0, limit, o.cfg.image_size);
    aspire_strfree(made);
    aspire_tmpdir_free(tmp);
    if (rc) return cli_fail("pretrain captioner", NULL);
    if (!quiet)
        fprintf(stderr, "pretrain captioner: %d images, %d captions each, %d steps of %d\n", c.n, c.ncap, o.steps,
                o.batch);
    aspire_captioner *cap = NULL;
    char *recipe = NULL;
    rc = aspire_captioner_train(&cap, &c, &o, &recipe);
    aspire_caption_corpus_destroy(&c);
    if (rc) return cli_fail("pretrain captioner", NULL);
    rc = aspire_captioner_save(cap, out, recipe);
    if (!rc)
        printf("wrote %s (%lld parameters, %d words) in %.1f min\n", out,
               (long long)aspire_params_numel(aspire_captioner_params(cap), 0),
               aspire_vocab_size(aspire_captioner_vocab(cap)), (aspire_now() - t0) / 60.0);
    aspire_strfree(recipe);
    aspire_captioner_free(cap);
    return rc ? cli_fail("pretrain captioner", NULL) : 0;
}
