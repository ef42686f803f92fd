/* main.c — the `aspire` program: a table of subcommands, each with a one-line help. */
#include "cli/cli.h"

#include "aspire/common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    cli_fn fn;
    const char *help;
} command;

static int cmd_help(int argc, char **argv);

static const command commands[] = {
    {"help", cmd_help, "list the commands, or show one command's options: aspire help COMMAND"},
    {"run", cmd_run, "ASPIRE end to end on a dataset: train, detect, personalize, generate, retrain, evaluate, report"},
    {"status", cmd_status, "the stages of an aspire run folder: done or not, with their times"},
    {"version", cmd_version, "print the version and the build's backends"},
    {"world", cmd_world, "the benchmark world: task datasets, the pretraining corpus, a preview sheet"},
    {"train", cmd_train, "train a classifier with ERM or a robust baseline (jtt, lff, groupdro, reweight, subsample, dfr)"},
    {"eval", cmd_eval, "per-group, mean, worst-group and worst-class accuracy of a trained run"},
    {"caption", cmd_caption, "caption a dataset's images with the built-in captioner (captions.csv)"},
    {"extract", cmd_extract, "captions → foreground objects, background, alternative background (JSON lines)"},
    {"segment", cmd_segment, "find a phrase in an image (or a folder): mask PNG, box and area, or \"absent\""},
    {"edit", cmd_edit, "edit images: remove a masked object, replace the background, build background plates"},
    {"detect", cmd_detect, "rank each class's spurious features from the flips of edits; select the edited images"},
    {"personalize", cmd_personalize, "textual inversion: one learned token per class of an extra-images folder"},
    {"generate", cmd_generate, "sample an extra-images folder from the built-in text-to-image model"},
    {"pretrain", cmd_pretrain, "train a built-in model on the world corpus: aspire pretrain captioner|segmenter|inpainter|generator"},
};
static const int ncommands = (int)(sizeof commands / sizeof commands[0]);

static const command *find(const char *name) {
    for (int i = 0; i < ncommands; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static int cmd_help(int argc, char **argv) {
    if (argc >= 2) {
        const command *c = find(argv[1]);
        if (!c) { fprintf(stderr, "aspire help: no command '%s'\n", argv[1]); return 2; }
        char *sub[] = {(char *)c->name, "--help", NULL};
        c->fn(2, sub);
        return 0;
    }
    printf("aspire %s — finds the spurious features an image classifier relies on and augments the\n"
           "training set to remove them (ASPIRE, arXiv 2308.10103), offline on a CPU.\n\n"
           "usage: aspire COMMAND [options]     (aspire help COMMAND for its options)\n\ncommands:\n",
           ASPIRE_VERSION);
    for (int i = 0; i < ncommands; i++) printf("  %-14s %s\n", commands[i].name, commands[i].help);
    return 0;
}

static int run(int argc, char **argv) {
    if (argc < 2) { cmd_help(0, NULL); return 2; }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) return cmd_help(0, NULL);
    if (strcmp(argv[1], "--version") == 0) return cmd_version(1, argv + 1);
    const command *c = find(argv[1]);
    if (!c) {
        fprintf(stderr, "aspire: unknown command '%s' (aspire help lists them)\n", argv[1]);
        return 2;
    }
    return c->fn(argc - 1, argv + 1);
}

int main(int argc, char **argv) {
    int rc = run(argc, argv);
    /* results printed on stdout count only if they got there (a full disk, a closed pipe) */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "aspire: cannot write the output: %s\n", strerror(errno));
        return rc ? rc : 1;
    }
    return rc;
}
