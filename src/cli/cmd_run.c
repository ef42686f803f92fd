/* cmd_run.c — `aspire run` (the whole method, include/aspire/pipeline.h) and `aspire status`. */
#include "aspire/pipeline.h"
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

/* The command line as given, for run.json. */
static void join_args(char *buf, size_t n, int argc, char **argv) {
    size_t k = (size_t)snprintf(buf, n, "aspire");
    for (int i = 0; i < argc && k < n; i++) k += (size_t)snprintf(buf + k, n - k, " %s", argv[i]);
}

int cmd_run(int argc, char **argv) {
    aspire_pipeline_opts o;
    aspire_pipeline_opts_default(&o);
    int quiet = 0;
    cli_opt opts[] = {
        {"--data", CLI_STR, &o.data, "dataset in Waterbirds layout (metadata.csv + images)"},
        {"--out", CLI_STR, &o.out, "run folder RUNDIR (one subfolder per stage, report.html)"},
        {"--methods", CLI_STR, &o.methods, "methods retrained with and without ASPIRE's images (erm,jtt,dfr,...)"},
        {"--seed", CLI_U64, &o.seed, "seed of every stage"},
        {"--threads", CLI_INT, &o.threads, "threads, 0 = all cores"},
        {"--from", CLI_STR, &o.from, "run this stage and every later one again"},
        {"--only", CLI_STR, &o.only, "run just this stage again (its inputs must be complete)"},
        {"--epochs", CLI_INT, &o.epochs, "training epochs (0 = train's default)"},
        {"--size", CLI_INT, &o.image_size, "training image size (0 = train's default)"},
        {"--batch", CLI_INT, &o.batch, "training batch (0 = train's default)"},
        {"--limit-train", CLI_I64, &o.limit_train, "use only the first N training images (0 = all)"},
        {"--generator", CLI_STR, &o.generator, "generator model file (default: the shipped one)"},
        {"--personalize-steps", CLI_INT, &o.personalize_steps, "textual-inversion steps per class (0 = default)"},
        {"--generate-n", CLI_INT, &o.generate_n, "generated images per class (0 = default)"},
        {"--strength", CLI_FLOAT, &o.strength, "generate each image from a selected edit of its class noised to this "
                                               "strength (SDEdit), 0 = from the prompt alone"},
        {"--guidance", CLI_FLOAT, &o.guidance, "classifier-free guidance scale of ASPIRE's generated images (1 = none, "
                                               "0 = the default, 1.5)"},
        {"--ablations", CLI_FLAG, &o.ablations, "also retrain ERM with plain-prompt images, with the selected edits "
                                                "alone and with the start edits (each generated image's start edit)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress lines"},
    };
    int rc = cli_parse("run",
                       "ASPIRE end to end: train ERM -> detect -> personalize -> generate -> retrain each method\n"
                       "with and without the generated images -> evaluate -> RUNDIR/report.html. Resumable: run\n"
                       "the same command again after an interruption. Stages: train-erm detect personalize\n"
                       "generate retrain evaluate report (docs/PIPELINE.md).",
                       argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    char cmd[4096];
    join_args(cmd, sizeof cmd, argc, argv);
    o.command = cmd;
    o.progress = !quiet;
    if (aspire_pipeline_run(&o)) return cli_fail("run", NULL);
    if (!quiet) fprintf(stderr, "aspire run: complete; report: %s/report.html\n", o.out);
    return 0;
}

int cmd_status(int argc, char **argv) {
    const char *pos[1];
    int npos = 0;
    int rc = cli_parse("status", "The stages of an `aspire run` folder: complete or not, start time, duration.\n"
                                 "usage: aspire status RUNDIR",
                       argc, argv, NULL, 0, pos, 1, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (npos != 1) return cli_fail("status", "give the run folder: aspire status RUNDIR");
    if (aspire_pipeline_status(pos[0], stdout)) return cli_fail("status", NULL);
    return 0;
}
