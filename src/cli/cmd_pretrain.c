/* cmd_pretrain.c — `aspire pretrain MODEL`: trains one of the built-in models on the world corpus
 * and writes its weights file (models/<model>.safetensors). One row per model in the table. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int cmd_pretrain(int argc, char **argv) {
    static const struct { const char *name; cli_fn fn; const char *help; } models[] = {
        {"captioner", cmd_pretrain_captioner, "image encoder + text decoder (the counterpart of GIT)"},
        {"segmenter", cmd_pretrain_segmenter, "phrase-grounded U-Net segmenter (the counterpart of Grounding DINO + SAM)"},
        {"inpainter", cmd_pretrain_inpainter, "U-Net that fills object-shaped holes (the counterpart of LaMa)"},
        {"generator", cmd_pretrain_generator, "text encoder + diffusion U-Net (the counterpart of Stable Diffusion)"},
    };
    const int n = (int)(sizeof models / sizeof models[0]);
    if (argc >= 2)
        for (int i = 0; i < n; i++)
            if (strcmp(argv[1], models[i].name) == 0) return models[i].fn(argc - 1, argv + 1);
    int help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    if (argc >= 2 && !help) fprintf(stderr, "aspire pretrain: unknown model '%s'\n", argv[1]);
    FILE *f = help ? stdout : stderr;  /* asked for: output; a mistake: diagnostics */
    fprintf(f, "usage: aspire pretrain MODEL [options]   (aspire pretrain MODEL --help)\n\nmodels:\n");
    for (int i = 0; i < n; i++) fprintf(f, "  %-10s %s\n", models[i].name, models[i].help);
    return help ? 0 : 2;
}
