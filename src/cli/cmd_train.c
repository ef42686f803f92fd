/* cmd_train.c — `aspire train`: trains a classifier on a dataset in Waterbirds layout with ERM or
 * a robust-training baseline and writes a run folder (train.json, checkpoints, log.csv, curve.svg). */
#include "cli/cli.h"
#include "cli/cli_env.h"

#include "aspire/fileio.h"
#include "aspire/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when argv holds option `name` ("--epochs 3" or "--epochs=3"). */
static int given(int argc, char **argv, const char *name) {
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], name, n) == 0 && (argv[i][n] == 0 || argv[i][n] == '=')) return 1;
    return 0;
}

/* Two paths naming the same file or folder (resolved when both exist, else compared as written). */
static int same_path(const char *a, const char *b) {
    if (!a || !b) return a == b;
    char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
    int same = ra && rb ? strcmp(ra, rb) == 0 : strcmp(a, b) == 0;
    free(ra);
    free(rb);
    return same;
}

/* Option o's value, as given in `c`, against the stored run's `r` (same offset): 1 when they
 * differ, with both written out. */
static int differs(const cli_opt *o, const aspire_train_config *c, const aspire_train_config *r, char *a, char *b, size_t n) {
    size_t off = (size_t)((const char *)o->dst - (const char *)c);
    const void *pa = (const char *)c + off, *pb = (const char *)r + off;
    switch (o->kind) {
    case CLI_STR: {
        const char *x = *(const char *const *)pa, *y = *(const char *const *)pb;
        snprintf(a, n, "%s", x ? x : "(none)");
        snprintf(b, n, "%s", y ? y : "(none)");
        return !same_path(x, y);
    }
    case CLI_INT: snprintf(a, n, "%d", *(const int *)pa); snprintf(b, n, "%d", *(const int *)pb); return *(const int *)pa != *(const int *)pb;
    case CLI_I64:
        snprintf(a, n, "%lld", (long long)*(const int64_t *)pa);
        snprintf(b, n, "%lld", (long long)*(const int64_t *)pb);
        return *(const int64_t *)pa != *(const int64_t *)pb;
    case CLI_DOUBLE: {  /* %g, or all 17 digits where %g would show two different values alike */
        double x = *(const double *)pa, y = *(const double *)pb;
        snprintf(a, n, "%g", x);
        snprintf(b, n, "%g", y);
        if (x != y && strcmp(a, b) == 0) { snprintf(a, n, "%.17g", x); snprintf(b, n, "%.17g", y); }
        return x != y;
    }
    default: return 0;
    }
}

/* --resume goes on with the options the run started with (its train.json): an option given that
 * says otherwise is an error naming the option, both values and the file, rather than being
 * ignored. Not checked where nothing will be resumed (no run, or a run that never finished an
 * epoch restarted with --data). */
static int resume_conflicts(const aspire_train_config *c, const char *method, int64_t seed, int no_flip, int argc, char **argv,
                            const cli_opt *opts, int nopts) {
    char tj[4096], ck[4096];
    snprintf(tj, sizeof tj, "%s/train.json", c->out_dir);
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", c->out_dir);
    if (!aspire_file_exists(tj)) return 0;
    if (c->data_dir && !aspire_file_exists(ck) && !aspire_train_finished(c->out_dir)) return 0;
    aspire_train_config r;
    aspire_train_strings st;
    if (aspire_train_config_load(c->out_dir, &r, &st)) return cli_fail("train", NULL);
    char a[600] = "", b[600] = "";
    const char *bad = NULL;
    aspire_method m = r.method;
    for (int i = 0; i < nopts && !bad; i++) {
        const char *p = (const char *)opts[i].dst;
        int in_cfg = p >= (const char *)c && p < (const char *)(c + 1);
        if (!in_cfg || !given(argc, argv, opts[i].name) || strcmp(opts[i].name, "--out") == 0 || strcmp(opts[i].name, "--stop-after") == 0 ||
            strcmp(opts[i].name, "--allow-outside-paths") == 0 || opts[i].kind == CLI_FLAG)
            continue;
        if (differs(&opts[i], c, &r, a, b, sizeof a)) bad = opts[i].name;
    }
    if (!bad && given(argc, argv, "--method") && (aspire_method_parse(method, &m) || m != r.method)) {
        bad = "--method";
        snprintf(a, sizeof a, "%s", method);
        snprintf(b, sizeof b, "%s", aspire_method_name(r.method));
    }
    if (!bad && given(argc, argv, "--seed") && (uint64_t)seed != r.seed) {
        bad = "--seed";
        snprintf(a, sizeof a, "%lld", (long long)seed);
        snprintf(b, sizeof b, "%llu", (unsigned long long)r.seed);
    }
    if (!bad && no_flip && r.flip) { bad = "--no-flip"; snprintf(a, sizeof a, "no flips"); snprintf(b, sizeof b, "flips"); }
    aspire_train_config_strings_free(&st);
    if (!bad) return 0;
    fprintf(stderr, "aspire train: --resume: %s %s differs from the run's %s (%s); a run goes on with the options it started with: "
                    "leave %s out, or start a new run in another --out\n", bad, a, b, tj, bad);
    return 1;
}

int cmd_train(int argc, char **argv) {
    aspire_train_config c = aspire_train_config_default();
    const char *method = "erm";
    int64_t seed = 0;
    int no_flip = 0, quiet = 0;
    cli_opt opts[] = {
        {"--data", CLI_STR, &c.data_dir, "dataset folder in Waterbirds layout (metadata.csv + images)"},
        {"--out", CLI_STR, &c.out_dir, "run folder to write (RUNDIR)"},
        {"--method", CLI_STR, &method, "erm, jtt, lff, groupdro, reweight, subsample or dfr"},
        {"--extra", CLI_STR, &c.extra_dir, "extra labelled images (metadata.csv: img_filename,y) joining the (second-stage) training set"},
        {"--arch", CLI_STR, &c.arch, "classifier: reference (DESIGN.md's ResNet), resnet18 or resnet50 (torchvision's layout and names)"},
        {"--init", CLI_STR, &c.init, "initialisation: torchvision (the ResNet's own), pytorch (layer defaults, as the anchor), or a .safetensors file of pretrained weights (torchvision names; a head of another shape stays fresh)"},
        {"--size", CLI_INT, &c.image_size, "image side in pixels"},
        {"--epochs", CLI_INT, &c.epochs, "training epochs (of the second stage for jtt)"},
        {"--batch", CLI_INT, &c.batch, "batch size"},
        {"--lr", CLI_DOUBLE, &c.lr, "SGD learning rate (cosine schedule)"},
        {"--momentum", CLI_DOUBLE, &c.momentum, "SGD momentum"},
        {"--wd", CLI_DOUBLE, &c.weight_decay, "weight decay"},
        {"--no-flip", CLI_FLAG, &no_flip, "no random horizontal flips"},
        {"--seed", CLI_I64, &seed, "random seed (initialisation, order, augmentation)"},
        {"--threads", CLI_INT, &c.threads, "threads, 0 = all cores"},
        {"--jtt-epochs", CLI_INT, &c.jtt_epochs, "jtt: epochs of the identification model (T)"},
        {"--jtt-up", CLI_DOUBLE, &c.jtt_up, "jtt: upweighting of the error set (lambda_up)"},
        {"--lff-q", CLI_DOUBLE, &c.lff_q, "lff: q of the generalized cross-entropy"},
        {"--lff-ema", CLI_DOUBLE, &c.lff_ema, "lff: EMA factor of per-example losses"},
        {"--dro-eta", CLI_DOUBLE, &c.dro_eta, "groupdro: step size of the group weights"},
        {"--dro-adj", CLI_DOUBLE, &c.dro_adj, "groupdro: group adjustment C (C / sqrt(n_g))"},
        {"--dfr-retrains", CLI_INT, &c.dfr_retrains, "dfr: logistic regressions averaged"},
        {"--base", CLI_STR, &c.base_run, "dfr: reuse this run's model as the backbone instead of training one"},
        {"--limit-train", CLI_I64, &c.limit_train, "use only the first N training images (smoke runs)"},
        {"--stop-after", CLI_INT, &c.stop_after, "return after N epochs of this call; --resume continues"},
        {"--resume", CLI_FLAG, &c.resume, "continue RUNDIR's run from its last checkpoint (config from its train.json), or start it"},
        {"--allow-outside-paths", CLI_FLAG, &c.allow_outside_paths, "metadata.csv may name images outside the dataset folder (absolute, .., symbolic links; also ASPIRE_ALLOW_OUTSIDE_PATHS=1)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress line"},
    };
    int rc = cli_parse("train",
                       "Train a classifier with ERM or a robust-training baseline; writes RUNDIR/train.json,\n"
                       "checkpoint.safetensors (each epoch), best.safetensors (selected on validation), log.csv, curve.svg.",
                       argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!c.out_dir) return cli_fail("train", "--out RUNDIR is required");
    if (!c.data_dir && !c.resume) return cli_fail("train", "--data DIR is required");
    if (aspire_method_parse(method, &c.method)) return cli_fail("train", NULL);
    c.seed = (uint64_t)seed;
    c.flip = !no_flip;
    c.progress = !quiet;
    c.allow_outside_paths |= cli_allow_outside_paths();
    c.engine = cli_engine_options(c.threads, 0);
    if (c.resume && resume_conflicts(&c, method, seed, no_flip, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]))) return 1;
    if (aspire_train_run(&c)) return cli_fail("train", NULL);
    return 0;
}
