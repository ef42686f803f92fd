/* cmd_generate.c — `aspire generate`: samples an extra-images folder from the built-in generator,
 * one prompt per learned placeholder (--embeds) or one --prompt, with DDIM and classifier-free
 * guidance; a re-run fills only what is missing. */
#include "cli/cli.h"
#include "cli/cli_env.h"

#include "aspire/personalize.h"

#include <stdio.h>

#define NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

int cmd_generate(int argc, char **argv) {
    aspire_generate_opts o;
    aspire_generate_opts_default(&o);
    int64_t seed = 0;
    int threads = 0, quiet = 0, no_detail = 0;
    float strength = -1.0f;
    const cli_opt opts[] = {
        {"--embeds", CLI_STR, &o.embeds, "learned embeddings (aspire personalize): one prompt per placeholder"},
        {"--prompt", CLI_STR, &o.prompt, "one prompt instead (may use the --embeds placeholders)"},
        {"--template", CLI_STR, &o.templ, "the prompt of each placeholder, {} standing for it"},
        {"--label", CLI_INT, &o.label, "y of the --prompt images"},
        {"--n", CLI_INT, &o.n, "images per prompt"},
        {"--out", CLI_STR, &o.out, "extra-images folder to write (metadata.csv: img_filename,y,prompt,seed)"},
        {"--model", CLI_STR, &o.model, "generator model file (default: the shipped models/generator.safetensors)"},
        {"--steps", CLI_INT, &o.sample.steps, "DDIM steps"},
        {"--scale", CLI_FLOAT, &o.sample.scale, "classifier-free guidance scale (1 = none)"},
        {"--eta", CLI_FLOAT, &o.sample.eta, "DDIM eta (0 = deterministic given the seed)"},
        {"--negative", CLI_STR, &o.sample.negative, "the guidance's other prompt (a negative prompt; default the empty "
                                                   "one), e.g. \"a photo of a bird\" to stress what a token adds"},
        {"--from", CLI_STR, &o.from, "start images (extra-images folder): each image is one of its label's, noised and "
                                     "redrawn with the prompt (SDEdit)"},
        {"--strength", CLI_FLOAT, &strength, "with --from: how far the start images are noised, in (0, 1] [0.5]"},
        {"--no-detail", CLI_FLAG, &no_detail, "with --from: do not add back the start image's detail above the "
                                              "generator's resolution"},
        {"--seed", CLI_I64, &seed, "random seed (each image's noise derives from it, its label and index)"},
        {"--batch", CLI_INT, &o.batch, "images sampled together (keep it when resuming: batches are fixed)"},
        {"--threads", CLI_INT, &threads, "threads (0 = all cores)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress line"},
    };
    int rc = cli_parse("generate",
                       "Samples images from the built-in text-to-image model (DDIM + classifier-free guidance) into an\n"
                       "extra-images folder that `aspire train --extra` reads; resumable.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.out) { fprintf(stderr, "aspire generate: --out is required\n"); return 2; }
    if (strength >= 0.0f && !o.from) { fprintf(stderr, "aspire generate: --strength needs --from\n"); return 2; }
    if (o.from) o.sample.strength = strength >= 0.0f ? strength : 0.5f;
    o.keep_detail = !no_detail;
    o.seed = (uint64_t)seed;
    o.progress = !quiet;
    o.threads = threads;
    o.models_dir = cli_models_dir();
    double t0 = aspire_now();
    int written = 0;
    if (aspire_generate_run(&o, &written)) return cli_fail("generate", NULL);
    double s = aspire_now() - t0;
    printf("wrote %d images to %s in %.1f s (%.2f img/s)\n", written, o.out, s, s > 0 ? written / s : 0.0);
    return 0;
}
