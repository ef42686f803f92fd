/* cmd_edit.c — `aspire edit remove|replace|plates`: parses the options of each editing stage; the
 * stages themselves are in src/aspire/edit*.c (edit.h). */
#include "cli/cli.h"
#include "cli/cli_env.h"

#include "aspire/edit.h"

#include <stdio.h>
#include <string.h>

#define NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int edit_remove(int argc, char **argv) {
    aspire_edit_remove_opts o;
    aspire_edit_remove_opts_default(&o);
    int quiet = 0;
    const cli_opt opts[] = {
        {"--image", CLI_STR, &o.image, "image file, or a folder of images (PNG/JPEG, recursively)"},
        {"--mask", CLI_STR, &o.mask, "mask PNG (nonzero = remove), or the folder of masks (same relative paths, .png)"},
        {"--out", CLI_STR, &o.out, "output PNG, or the output folder"},
        {"--model", CLI_STR, &o.model, "learned inpainter file (default: models/inpainter.safetensors, else Telea)"},
        {"--classical", CLI_FLAG, &o.classical, "use Telea's fast-marching inpainting even if a model exists"},
        {"--dilate", CLI_INT, &o.dilate, "dilate the mask by this many pixels first"},
        {"--threads", CLI_INT, &o.threads, "threads (0 = all cores)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress bar"},
    };
    int rc = cli_parse("edit remove",
                       "Removes the masked region of an image (or of every image in a folder): the hole is filled\n"
                       "with plausible background; every pixel outside the mask is kept bit for bit.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.image || !o.mask || !o.out) {
        fprintf(stderr, "aspire edit remove: --image, --mask and --out are needed\n");
        return 2;
    }
    o.progress = !quiet;
    o.models_dir = cli_models_dir();
    return aspire_edit_remove_run(&o) ? cli_fail("edit remove", NULL) : 0;
}

static int edit_replace(int argc, char **argv) {
    aspire_edit_replace_opts o;
    aspire_edit_replace_opts_default(&o);
    int quiet = 0;
    const cli_opt opts[] = {
        {"--image", CLI_STR, &o.image, "image file, or a folder of images"},
        {"--mask", CLI_STR, &o.mask, "foreground mask PNG (bird + objects; nonzero = keep), or the folder of masks"},
        {"--alt", CLI_STR, &o.alt, "the alternative background phrase (\"lake\", \"forest\", \"water\", ...)"},
        {"--background", CLI_STR, &o.background, "the image's own background phrase, if known"},
        {"--plates", CLI_STR, &o.plates, "plate bank folder (made by aspire edit plates)"},
        {"--out", CLI_STR, &o.out, "output PNG, or the output folder"},
        {"--seam", CLI_INT, &o.seam, "feathered seam width in pixels at 64 px (-1 = default 1, 0 = none)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress bar"},
    };
    int rc = cli_parse("edit replace",
                       "Turns the background of an image (or of every image in a folder) into the alternative: the\n"
                       "foreground pixels are kept bit for bit, the rest comes from a background plate of that kind.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.image || !o.mask || !o.out || !o.alt || !o.plates) {
        fprintf(stderr, "aspire edit replace: --image, --mask, --alt, --plates and --out are needed\n");
        return 2;
    }
    o.progress = !quiet;
    return aspire_edit_replace_run(&o) ? cli_fail("edit replace", NULL) : 0;
}

static int edit_plates(int argc, char **argv) {
    aspire_edit_plates_opts o;
    aspire_edit_plates_opts_default(&o);
    int quiet = 0;
    const char *split = "train";
    const cli_opt opts[] = {
        {"--data", CLI_STR, &o.data, "dataset folder in Waterbirds layout (metadata.csv and images)"},
        {"--masks", CLI_STR, &o.masks, "folder of object masks, one PNG per image (img_filename with .png); default: the segmenter finds them"},
        {"--segmenter", CLI_STR, &o.segmenter, "segmenter model when there is no --masks (default: the shipped one)"},
        {"--out", CLI_STR, &o.out, "plate bank folder to write (plates.csv, plates/)"},
        {"--captions", CLI_STR, &o.captions, "captions CSV (path,caption; default: caption with the built-in captioner)"},
        {"--captioner", CLI_STR, &o.captioner, "captioner model file (default: the shipped one)"},
        {"--captioned-only", CLI_FLAG, &o.captioned_only, "with --captions: skip the images the CSV has no caption for"},
        {"--classes", CLI_STR, &o.classes, "class names in order of y, for the extractor"},
        {"--split", CLI_STR, &split, "train, val, test or all"},
        {"--limit", CLI_INT, &o.limit, "at most this many plates (0 = no limit)"},
        {"--model", CLI_STR, &o.model, "inpainter model file (default: the shipped one, else Telea)"},
        {"--classical", CLI_FLAG, &o.classical, "inpaint with Telea's method"},
        {"--dilate", CLI_INT, &o.dilate, "dilate the object masks by this many pixels at 64 px"},
        {"--threads", CLI_INT, &o.threads, "threads (0 = all cores)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress bar"},
    };
    int rc = cli_parse("edit plates",
                       "Builds the background replacer's plate bank from a dataset's own images: each image's\n"
                       "background phrase (captions → extractor), its objects inpainted away.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    static const char *const splits[] = {"train", "val", "test", "all"};
    o.split = -2;
    for (int i = 0; i < 4; i++)
        if (strcmp(split, splits[i]) == 0) o.split = i == 3 ? -1 : i;
    if (o.split == -2 || !o.data || !o.out) {
        fprintf(stderr, o.split == -2 ? "aspire edit plates: --split must be train, val, test or all\n"
                                      : "aspire edit plates: --data and --out are needed\n");
        return 2;
    }
    o.progress = !quiet;
    o.models_dir = cli_models_dir();
    return aspire_edit_plates_run(&o) ? cli_fail("edit plates", NULL) : 0;
}

int cmd_edit(int argc, char **argv) {
    static const struct { const char *name; cli_fn fn; const char *help; } subs[] = {
        {"remove", edit_remove, "fill a masked region with background (the counterpart of LaMa)"},
        {"replace", edit_replace, "turn the background into another (the counterpart of InstructPix2Pix)"},
        {"plates", edit_plates, "build the replacer's background plates from a dataset"},
    };
    const int n = NOPTS(subs);
    if (argc >= 2)
        for (int i = 0; i < n; i++)
            if (strcmp(argv[1], subs[i].name) == 0) return subs[i].fn(argc - 1, argv + 1);
    int help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    if (argc >= 2 && !help) fprintf(stderr, "aspire edit: unknown subcommand '%s'\n", argv[1]);
    fprintf(stderr, "usage: aspire edit SUBCOMMAND [options]   (aspire edit SUBCOMMAND --help)\n\nsubcommands:\n");
    for (int i = 0; i < n; i++) fprintf(stderr, "  %-8s %s\n", subs[i].name, subs[i].help);
    return help ? 0 : 2;
}
