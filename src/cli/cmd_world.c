/* cmd_world.c — `aspire world task|corpus|preview`: the benchmark world's datasets and contact
 * sheet (include/aspire/world.h, docs/WORLD.md). */
#include "cli/cli.h"

#include "aspire/common.h"
#include "aspire/world.h"

#include <stdio.h>
#include <string.h>

#define NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The difficulty knobs every subcommand shares. */
#define STYLE_OPTS(st)                                                                                   \
    {"--bird-min", CLI_FLOAT, &(st).bird_min, "smallest bird (longer side, fraction of the image)"},     \
    {"--bird-max", CLI_FLOAT, &(st).bird_max, "largest bird"},                                           \
    {"--object-scale", CLI_FLOAT, &(st).object_scale, "size factor of the context objects"},             \
    {"--jitter", CLI_FLOAT, &(st).jitter, "colour jitter strength (0 = none)"},                         \
    {"--flip", CLI_FLOAT, &(st).flip_prob, "probability of a mirrored object"}

static int world_task(int argc, char **argv) {
    aspire_world_task_opts o;
    aspire_world_task_opts_default(&o);
    uint64_t seed = 0;
    int threads = 0, quiet = 0, no_masks = 0, force = 0;
    const cli_opt opts[] = {
        {"--out", CLI_STR, &o.out, "dataset folder (metadata.csv and <species>/<img_id>.png)"},
        {"--truth", CLI_STR, &o.truth, "ground-truth folder (default: OUT_truth); no aspire stage reads it"},
        {"--seed", CLI_U64, &seed, "random seed: the dataset is a function of the options"},
        {"--train", CLI_INT, &o.n_train, "train images"},
        {"--val", CLI_INT, &o.n_val, "validation images"},
        {"--test", CLI_INT, &o.n_test, "test images"},
        {"--size", CLI_INT, &o.size, "image side in pixels"},
        {"--waterbird-frac", CLI_DOUBLE, &o.waterbird_frac, "share of waterbirds in each split"},
        {"--rho-bg", CLI_DOUBLE, &o.rho_bg, "train: P(background kind matches the class)"},
        {"--spurious", CLI_STR, &o.spurious, "spurious context objects: names, each optionally =CLASS (\"\" = none)"},
        {"--p-obj", CLI_DOUBLE, &o.p_obj, "P(an image holds a spurious object)"},
        {"--rho-obj", CLI_DOUBLE, &o.rho_obj, "train: P(the spurious object is tied to the image's class)"},
        {"--distractors", CLI_INT, &o.max_distractors, "up to this many other context objects per image"},
        {"--counterfactuals", CLI_INT, &o.counterfactuals, "images per split with counterfactual renders (-1 = all)"},
        {"--no-masks", CLI_FLAG, &no_masks, "do not write instance masks"},
        {"--force", CLI_FLAG, &force, "replace OUT (and the truth folder) if they exist and are not empty"},
        STYLE_OPTS(o.style),
        {"--font", CLI_STR, &o.font, "emoji font (default: Noto Color Emoji)"},
        {"--threads", CLI_INT, &threads, "threads (0 = all cores)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress lines"},
    };
    int rc = cli_parse("world task",
                       "Writes a task dataset in Waterbirds layout: class correlated with background (and context\n"
                       "objects) in train, val and test group-balanced within each class; ground truth (scene graphs,\n"
                       "captions, masks, counterfactuals) in a separate folder.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.out) { fprintf(stderr, "aspire world task: --out is required\n"); return 2; }
    o.seed = seed;
    o.masks = !no_masks;
    o.progress = !quiet;
    o.force = force;
    aspire_set_threads(threads);
    double t0 = aspire_now();
    if (aspire_world_task_write(&o)) return cli_fail("world task", NULL);
    int n = o.n_train + o.n_val + o.n_test;
    printf("wrote %d images to %s in %.1f s (ground truth beside it)\n", n, o.out, aspire_now() - t0);
    return 0;
}

static int world_corpus(int argc, char **argv) {
    aspire_world_corpus_opts o;
    aspire_world_corpus_opts_default(&o);
    uint64_t seed = 0;
    int threads = 0, quiet = 0, force = 0;
    const cli_opt opts[] = {
        {"--out", CLI_STR, &o.out, "corpus folder"},
        {"--seed", CLI_U64, &seed, "random seed"},
        {"--pretrain", CLI_INT, &o.n_pretrain, "pretraining images (split 0)"},
        {"--test", CLI_INT, &o.n_test, "test images (split 2)"},
        {"--size", CLI_INT, &o.size, "image side in pixels"},
        {"--objects", CLI_INT, &o.max_objects, "context objects per image: uniform in 0..N"},
        {"--captions", CLI_INT, &o.captions, "captions per image"},
        {"--counterfactuals", CLI_INT, &o.counterfactuals, "images per split with counterfactual renders (-1 = all)"},
        STYLE_OPTS(o.style),
        {"--font", CLI_STR, &o.font, "emoji font (default: Noto Color Emoji)"},
        {"--threads", CLI_INT, &threads, "threads (0 = all cores)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress lines"},
        {"--force", CLI_FLAG, &force, "replace OUT if it exists and is not empty"},
    };
    int rc = cli_parse("world corpus",
                       "Writes the pretraining corpus: independent random compositions (every bird on every background,\n"
                       "random context objects) with captions, masks and scene graphs, split into pretrain and test.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.out) { fprintf(stderr, "aspire world corpus: --out is required\n"); return 2; }
    o.seed = seed;
    o.progress = !quiet;
    o.force = force;
    aspire_set_threads(threads);
    double t0 = aspire_now();
    if (aspire_world_corpus_write(&o)) return cli_fail("world corpus", NULL);
    printf("wrote %d images to %s in %.1f s\n", o.n_pretrain + o.n_test, o.out, aspire_now() - t0);
    return 0;
}

static int world_preview(int argc, char **argv) {
    aspire_world_preview_opts o;
    aspire_world_preview_opts_default(&o);
    uint64_t seed = 0;
    int by_place = 0;
    const cli_opt opts[] = {
        {"--out", CLI_STR, &o.out, "PNG file to write"},
        {"--seed", CLI_U64, &seed, "random seed"},
        {"--size", CLI_INT, &o.size, "tile side in pixels"},
        {"--cols", CLI_INT, &o.cols, "samples per group"},
        {"--by-place", CLI_FLAG, &by_place, "rows are the four Waterbirds groups instead of class x background"},
        STYLE_OPTS(o.style),
        {"--font", CLI_STR, &o.font, "emoji font (default: Noto Color Emoji)"},
    };
    int rc = cli_parse("world preview", "Writes a contact sheet: labelled samples of each (class, background) group.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.out) o.out = "world-preview.png";
    o.seed = seed;
    o.by_place = by_place;
    if (aspire_world_preview_write(&o)) return cli_fail("world preview", NULL);
    printf("wrote %s\n", o.out);
    return 0;
}

int cmd_world(int argc, char **argv) {
    static const struct { const char *name; cli_fn fn; const char *help; } subs[] = {
        {"task", world_task, "a task dataset in Waterbirds layout, with ground truth beside it"},
        {"corpus", world_corpus, "the uncorrelated pretraining corpus with captions and masks"},
        {"preview", world_preview, "a labelled contact sheet of every group"},
    };
    if (argc >= 2) {
        for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
            if (strcmp(argv[1], subs[i].name) == 0) return subs[i].fn(argc - 1, argv + 1);
    }
    int help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    if (argc >= 2 && !help) fprintf(stderr, "aspire world: unknown subcommand '%s'\n", argv[1]);
    FILE *f = help ? stdout : stderr;  /* asked for: output; a mistake: diagnostics */
    fprintf(f, "usage: aspire world SUBCOMMAND [options]   (aspire world SUBCOMMAND --help)\n\nsubcommands:\n");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) fprintf(f, "  %-8s %s\n", subs[i].name, subs[i].help);
    return help ? 0 : 2;
}
