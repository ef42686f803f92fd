/* cmd_caption.c — `aspire caption`: the options of the caption stage (stage_caption.h), which
 * captions a dataset's images with the built-in captioner into captions.csv. */
#include "cli/cli.h"
#include "cli/cli_env.h"

#include "aspire/dataset.h"
#include "aspire/stage_caption.h"

#include <stdio.h>

#define NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

int cmd_caption(int argc, char **argv) {
    const char *data = NULL, *split = "all", *out = "captions.csv", *model = NULL;
    int beam = 1, batch = 64, threads = 0, quiet = 0;
    const cli_opt opts[] = {
        {"--data", CLI_STR, &data, "dataset folder (metadata.csv with img_filename and split, images beside it)"},
        {"--split", CLI_STR, &split, "train, val, test or all"},
        {"--out", CLI_STR, &out, "CSV to write (path,caption)"},
        {"--model", CLI_STR, &model, "captioner model file (default: the shipped models/captioner.safetensors)"},
        {"--beam", CLI_INT, &beam, "beam width (1 = greedy, as the reference decodes)"},
        {"--batch", CLI_INT, &batch, "images per batch"},
        {"--threads", CLI_INT, &threads, "threads (0 = all cores)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress line"},
    };
    int rc = cli_parse("caption", "Captions a dataset's images with the built-in captioner and writes path,caption rows.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!data) { fprintf(stderr, "aspire caption: --data is required\n"); return 2; }
    aspire_caption_options o = {0};
    if (aspire_split_parse(split, &o.split)) {
        fprintf(stderr, "aspire caption: --split must be train, val, test or all (not '%s')\n", split);
        return 2;
    }
    if (beam < 1 || beam > 64 || batch < 1) { fprintf(stderr, "aspire caption: --beam in 1..64, --batch >= 1\n"); return 2; }
    int64_t n = 0;
    o.data_dir = data;
    o.out = out;
    o.model = model;
    o.models_dir = cli_models_dir();
    o.beam = beam;
    o.batch = batch;
    o.threads = threads;
    o.engine = cli_engine_options(threads, 0);
    o.progress = !quiet;
    o.written = &n;
    if (aspire_caption_run(&o)) return cli_fail("caption", NULL);
    if (!quiet) printf("wrote %lld captions to %s\n", (long long)n, out);
    return 0;
}
