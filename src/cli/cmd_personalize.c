/* cmd_personalize.c — `aspire personalize`: textual inversion of the built-in generator on an
 * extra-images folder, one learned placeholder per class, written as learned embeddings. */
#include "cli/cli.h"
#include "cli/cli_env.h"

#include "aspire/personalize.h"

#include <stdio.h>

#define NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

int cmd_personalize(int argc, char **argv) {
    aspire_personalize_opts o;
    aspire_personalize_opts_default(&o);
    int64_t seed = 0;
    int threads = 0, quiet = 0, noflip = 0;
    const cli_opt opts[] = {
        {"--images", CLI_STR, &o.images, "extra-images folder (metadata.csv: img_filename,y)"},
        {"--out", CLI_STR, &o.out, "learned embeddings to write (safetensors keyed by placeholder)"},
        {"--model", CLI_STR, &o.model, "generator model file (default: the shipped models/generator.safetensors)"},
        {"--classes", CLI_STR, &o.classes, "class names, comma-separated, y order: placeholders <name> (default <class0>, ...)"},
        {"--init", CLI_STR, &o.init, "initializer word (default: the class name if known, else \"bird\")"},
        {"--steps", CLI_INT, &o.steps, "optimizer steps per class"},
        {"--batch", CLI_INT, &o.batch, "images per step"},
        {"--lr", CLI_FLOAT, &o.lr, "constant AdamW learning rate"},
        {"--t-min", CLI_FLOAT, &o.t_min, "train on timesteps t >= this fraction of T only (0.5: the noisier half, "
                                         "where layout and background are decided)"},
        {"--t-max", CLI_FLOAT, &o.t_max, "train on timesteps t < this fraction of T only (1 = up to the end)"},
        {"--no-flip", CLI_FLAG, &noflip, "no random horizontal flips"},
        {"--seed", CLI_I64, &seed, "random seed"},
        {"--threads", CLI_INT, &threads, "threads (0 = all cores)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress line"},
    };
    int rc = cli_parse("personalize",
                       "Textual inversion: learns one new token per class of an extra-images folder on the built-in\n"
                       "generator, everything else frozen, and writes the embeddings keyed by placeholder.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.images || !o.out) { fprintf(stderr, "aspire personalize: --images and --out are required\n"); return 2; }
    o.seed = (uint64_t)seed;
    o.flip = !noflip;
    o.progress = !quiet;
    o.threads = threads;
    o.models_dir = cli_models_dir();
    aspire_personalize_report r;
    if (aspire_personalize_run(&o, &r)) return cli_fail("personalize", NULL);
    for (int k = 0; k < r.nclasses; k++)
        if (!r.images[k]) printf("class %d: no images, no token\n", k);
        else printf("%s: %d images, from '%s', loss %.4f -> %.4f, %.1f s\n", r.token[k], r.images[k], r.init[k],
               (double)r.first_loss[k], (double)r.last_loss[k], r.seconds[k]);
    printf("wrote %s\n", o.out);
    return 0;
}
