/* cmd_detect.c — `aspire detect`: discovery of the spurious features of a trained classifier
 * (aspire/detect.h, docs/DETECT.md): from records that already hold the flips (--records, --edits),
 * or in full mode from a dataset and a trained run (--data, --run). */
#include "cli/cli.h"

#include "aspire/detect.h"

#include <stdio.h>
#include <string.h>

int cmd_detect(int argc, char **argv) {
    aspire_detect_opts o;
    aspire_detect_opts_init(&o);
    int64_t seed = 0;
    const char *alternatives = NULL;
    const cli_opt opts[] = {
        {"--records", CLI_STR, &o.records, "per-image records with the flips (JSON lines: wp_*, pred_* fields)"},
        {"--edits", CLI_STR, &o.edits, "folder of the flagged edits {row}_fg_{phrase}.png / {row}_bg_{phrase}.png"},
        {"--out", CLI_STR, &o.out, "output folder DETDIR"},
        {"--data", CLI_STR, &o.data, "dataset folder in Waterbirds layout (full mode)"},
        {"--run", CLI_STR, &o.run, "trained run folder or weights file (full mode)"},
        {"--holdout-frac", CLI_DOUBLE, &o.holdout_frac, "share of each class's correct images in the hold-out (full mode)"},
        {"--captions", CLI_STR, &o.captions, "captions CSV (path,caption) to reuse (full mode; default: caption)"},
        {"--extracted", CLI_STR, &o.extracted, "extraction JSON lines to reuse (full mode; default: extract)"},
        {"--segmenter", CLI_STR, &o.segmenter, "segmenter model file (full mode; default: the shipped one)"},
        {"--inpainter", CLI_STR, &o.inpainter, "inpainter model file (full mode; default: the shipped one, else Telea)"},
        {"--dilate", CLI_INT, &o.dilate, "mask dilation radius in px (-1 = 5 px per 512 px of side, at least 1)"},
        {"--votes", CLI_INT, &o.votes, "background replacements per pair, each on another plate; majority decides (full mode)"},
        {"--seam", CLI_INT, &o.seam, "feathered seam of a replacement in px at 64 px (-1 = 1, 0 = none; full mode)"},
        {"--alternatives", CLI_STR, &alternatives, "alternative backgrounds: class (one scene of the other kind per class) or image (drawn per image; full mode) [class]"},
        {"--sheet-rows", CLI_INT, &o.sheet_rows, "rows per class in the contact sheet flips.png (full mode)"},
        {"--threads", CLI_INT, &o.threads, "threads (0 = all cores)"},
        {"--seed", CLI_I64, &seed, "seed of the draws"},
        {"--similarity", CLI_DOUBLE, &o.similarity, "bag-of-words cosine at which phrases join a cluster"},
        {"--n-classes", CLI_INT, &o.n_classes, "number of classes to report (0 = from the records)"},
        {"--min-occurrences", CLI_INT, &o.min_occ, "features seen on fewer hold-out images rank after the rest (1 = the reference's order)"},
        {"--per-class", CLI_INT, &o.max_per_class, "most selected images per class"},
        {"--top-quota", CLI_INT, &o.top_quota, "most selected images from a class's top cluster"},
        {"--next-quota", CLI_INT, &o.next_quota, "most selected images from each next cluster"},
        {"--svg-top", CLI_INT, &o.svg_top, "features per class drawn in features.svg"},
        {"--quiet", CLI_FLAG, &o.quiet, "no summary on stderr"},
    };
    const char *summary =
        "Rank, per class, the backgrounds and objects whose edits flip the classifier's correct predictions\n"
        "(clusters of phrases, score = sum of flips/occurrences) and select the edited images without them.\n"
        "Writes DETDIR/detections.jsonl, features.json, features.svg, selected/ (metadata.csv img_filename,y)\n"
        "and detect.done last; a re-run after an interruption gives the same files. Full mode (--data, --run)\n"
        "also writes captions.csv, extracted.jsonl, plates/, edits/, flips/ and the contact sheet flips.png.";
    int rc = cli_parse("detect", summary, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.out) {
        fprintf(stderr, "aspire detect: --out is required (see aspire detect --help)\n");
        return 2;
    }
    if (seed < 0) {
        fprintf(stderr, "aspire detect: --seed must be >= 0\n");
        return 2;
    }
    o.seed = (uint64_t)seed;
    if (alternatives && strcmp(alternatives, "class") != 0 && strcmp(alternatives, "image") != 0) {
        fprintf(stderr, "aspire detect: --alternatives '%s': give class or image\n", alternatives);
        return 2;
    }
    o.alternatives = alternatives && strcmp(alternatives, "image") == 0 ? ASPIRE_DETECT_ALT_IMAGE : ASPIRE_DETECT_ALT_CLASS;
    aspire_set_threads(o.threads);
    if (aspire_detect_run(&o)) return cli_fail("detect", NULL);
    return 0;
}
