/* cmd_train.c — `aspire train`: trains a classifier on a dataset in Waterbirds layout with ERM or
 * a robust-training baseline and writes a run folder (train.json, checkpoints, log.csv, curve.svg). */
#include "cli/cli.h"
#include "cli/cli_env.h"

#include "aspire/train.h"

#include <stdio.h>
#include <string.h>

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
    if (aspire_train_run(&c)) return cli_fail("train", NULL);
    return 0;
}
