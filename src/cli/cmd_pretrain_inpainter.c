/* cmd_pretrain_inpainter.c — `aspire pretrain inpainter`: trains the learned inpainter on examples
 * the world makes on the fly (object-shaped holes, exact remove-counterfactuals as targets) and
 * writes its model file with config and recipe in the metadata. */
#include "cli/cli.h"

#include "aspire/fileio.h"
#include "aspire/inpaint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int make_parent(const char *out) {
    char *dir = aspire_strdup(out);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    int rc = dir ? ASPIRE_OK : ASPIRE_ERR_NOMEM;
    if (slash) { *slash = 0; if (*dir) rc = aspire_mkdir_p(dir); }
    aspire_strfree(dir);
    return rc;
}

int cmd_pretrain_inpainter(int argc, char **argv) {
    aspire_inpaint_train_opts o;
    aspire_inpaint_train_opts_default(&o);
    const char *out = "models/inpainter.safetensors", *enc = NULL, *dec = NULL;
    int64_t seed = 0;
    int threads = 0, quiet = 0, resume = 0;
    double minutes = 0.0;
    const cli_opt opts[] = {
        {"--out", CLI_STR, &out, "model file to write"},
        {"--steps", CLI_INT, &o.steps, "optimizer steps"},
        {"--batch", CLI_INT, &o.batch, "examples per step"},
        {"--lr", CLI_FLOAT, &o.lr, "peak AdamW learning rate"},
        {"--min-lr", CLI_FLOAT, &o.min_lr, "final learning rate of the cosine decay"},
        {"--warmup", CLI_INT, &o.warmup, "linear warm-up steps"},
        {"--weight-decay", CLI_FLOAT, &o.weight_decay, "AdamW decoupled weight decay"},
        {"--p-all", CLI_FLOAT, &o.p_all, "share of examples whose hole is every object (background plates)"},
        {"--max-objects", CLI_INT, &o.max_objects, "context objects per scene: uniform in 0..N"},
        {"--size", CLI_INT, &o.cfg.image_size, "model input side in pixels"},
        {"--levels", CLI_INT, &o.cfg.levels, "U-Net levels"},
        {"--enc", CLI_STR, &enc, "encoder channels per level, comma-separated (default 16,32,64,96)"},
        {"--dec", CLI_STR, &dec, "decoder channels per level but the last (default 16,24,48)"},
        {"--minutes", CLI_DOUBLE, &minutes, "stop after this many minutes (0 = never); the learning rate anneals by then"},
        {"--seed", CLI_I64, &seed, "random seed (initialisation and the examples)"},
        {"--checkpoint-every", CLI_INT, &o.checkpoint_every, "write OUT.ckpt (+ .opt) every N steps (0 = never)"},
        {"--resume", CLI_FLAG, &resume, "continue from OUT.ckpt if it exists"},
        {"--font", CLI_STR, &o.font, "the world's emoji font (default: the system's Noto Color Emoji)"},
        {"--threads", CLI_INT, &threads, "threads (0 = all cores)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress line"},
    };
    int rc = cli_parse("pretrain inpainter",
                       "Trains the built-in inpainter (a small U-Net) on the world: holes shaped like its objects,\n"
                       "targets the exact remove-counterfactuals; writes the model file with config and recipe.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if ((enc && cli_parse_ints(enc, o.cfg.enc, ASPIRE_INPAINT_MAX_LEVELS, 1024) != o.cfg.levels) ||
        (dec && cli_parse_ints(dec, o.cfg.dec, ASPIRE_INPAINT_MAX_LEVELS, 1024) != o.cfg.levels - 1)) {
        fprintf(stderr, "aspire pretrain inpainter: --enc wants --levels (%d) and --dec --levels - 1 positive integers\n",
                o.cfg.levels);
        return 2;
    }
    o.seed = (uint64_t)seed;
    o.max_minutes = minutes;
    o.progress = !quiet;
    o.resume = resume;
    aspire_set_threads(threads);
    double t0 = aspire_now();
    if (make_parent(out)) return cli_fail("pretrain inpainter", NULL);  /* a bad --out fails before training */
    char ckpt[4096];
    if (o.checkpoint_every > 0 || resume) {
        snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
        o.checkpoint = ckpt;
    }
    aspire_inpaint_model *m = NULL;
    char *recipe = NULL;
    rc = aspire_inpaint_train(&m, &o, &recipe);
    if (rc) return cli_fail("pretrain inpainter", NULL);
    rc = aspire_inpaint_model_save(m, out, recipe);
    if (!rc)
        printf("wrote %s (%lld parameters) in %.1f min\n", out,
               (long long)aspire_params_numel(aspire_inpaint_model_params(m), 0), (aspire_now() - t0) / 60.0);
    aspire_strfree(recipe);
    aspire_inpaint_model_free(m);
    return rc ? cli_fail("pretrain inpainter", NULL) : 0;
}
