/* train.h — training an image classifier on a dataset in Waterbirds layout with ERM or one of the
 * robust-training baselines (JTT, LfF, GroupDRO, group reweighting, group subsampling, DFR), and
 * evaluating a trained run per group.
 *
 * A run is a folder (RUNDIR) holding:
 *   train.json               the full configuration (enough to repeat the run exactly), the
 *                            dataset's counts and class names and, once finished, the result
 *                            (selected epoch, its validation figures, time): the run is complete
 *                            exactly when train.json has "result" (aspire_train_finished)
 *   checkpoint.safetensors   the state after the last finished epoch: model(s), optimizer
 *                            momentum, the method's per-example or per-group state; the epoch and
 *                            the incumbent best in its metadata. Written atomically each epoch;
 *                            --resume continues from it.
 *   best.safetensors         the classifier selected on the validation split (a weights file of
 *                            include/aspire/classifier.h: architecture, classes, epoch in its
 *                            metadata; aspire_classifier_open reads it, or the whole RUNDIR)
 *   log.csv                  one row per epoch (loss, accuracies, learning rate, speed)
 *   curve.svg                the learning curves
 *   dfr.json                 (dfr) the C grid, the tuning scores and the chosen C
 *
 * Model selection follows SubpopBench: a method that may use group labels (groupdro, reweight,
 * subsample, dfr) keeps the epoch with the best worst-group validation accuracy, one that may not
 * (erm, jtt, lff) the best worst-class validation accuracy. Images given with `extra_dir` (labels
 * only, no groups) join the training set, or for two-stage methods (jtt, dfr) the second-stage
 * set; where a method needs a group for every example (groupdro, reweight, subsample) each class
 * of extra images forms one more group. */
#ifndef ASPIRE_TRAIN_H
#define ASPIRE_TRAIN_H

#include "aspire/engine.h"
#include "aspire/metrics.h"

typedef enum aspire_method {
    ASPIRE_METHOD_ERM = 0,
    ASPIRE_METHOD_JTT,        /* Just Train Twice (Liu et al. 2021) */
    ASPIRE_METHOD_LFF,        /* Learning from Failure (Nam et al. 2020) */
    ASPIRE_METHOD_GROUPDRO,   /* online group DRO (Sagawa et al. 2020); oracle: group labels */
    ASPIRE_METHOD_REWEIGHT,   /* group-balanced sampling; oracle: group labels */
    ASPIRE_METHOD_SUBSAMPLE,  /* every group cut to the smallest; oracle: group labels */
    ASPIRE_METHOD_DFR,        /* Deep Feature Reweighting (Kirichenko et al. 2023); oracle: validation groups */
    ASPIRE_METHOD_COUNT
} aspire_method;

ASPIRE_API const char *aspire_method_name(aspire_method m);            /* "erm", "jtt", ... */
ASPIRE_API int aspire_method_parse(const char *name, aspire_method *out); /* ASPIRE_ERR_ARG if unknown */
ASPIRE_API int aspire_method_uses_groups(aspire_method m);
ASPIRE_API aspire_select_rule aspire_method_select_rule(aspire_method m);

typedef struct aspire_train_config {
    /* data and output */
    const char *data_dir;     /* dataset in Waterbirds layout (metadata.csv + images) */
    const char *extra_dir;    /* NULL, or a folder of extra labelled images (metadata.csv: img_filename,y) */
    const char *out_dir;      /* RUNDIR */
    aspire_method method;
    /* model */
    const char *arch;         /* "reference" (DESIGN.md's network), "resnet18" or "resnet50" (torchvision's) */
    const char *init;         /* "torchvision" (the ResNet's own, Kaiming-normal), "pytorch" (layer
                                 defaults, as the PyTorch anchor's network), or a safetensors file of
                                 pretrained weights with torchvision's names (fc.* kept fresh when
                                 the file's head has another shape) */
    int image_size;           /* images are resized to image_size² (64) */
    /* recipe (the anchor's): SGD, cosine schedule, flips, inputs (x/255 - 0.5) / 0.25 */
    int epochs;               /* epochs of the (second-stage) training */
    int batch;                /* 64; the last incomplete batch of an epoch is dropped */
    double lr, momentum, weight_decay;
    int flip;                 /* random horizontal flips */
    uint64_t seed;            /* model init, order, augmentation: same seed + threads → same run */
    int threads;              /* 0 = all cores */
    /* method hyperparameters */
    int jtt_epochs;           /* JTT: epochs of the identification model (T) */
    double jtt_up;            /* JTT: λ_up, how much more often the error set is drawn */
    double lff_q;             /* LfF: q of the generalized cross-entropy */
    double lff_ema;           /* LfF: EMA factor of the per-example losses */
    double dro_eta;           /* GroupDRO: step size η of the group weights */
    double dro_adj;           /* GroupDRO: group adjustment C (adds C / sqrt(n_g) to group losses) */
    int dfr_retrains;         /* DFR: logistic regressions averaged */
    const char *base_run;     /* DFR: NULL trains the ERM backbone first; else reuse this run's best model */
    /* behaviour (not part of what makes a run repeatable) */
    int resume;               /* continue out_dir's run (its config is read from its train.json, the
                                 options given are ignored); a folder without a run is started */
    int progress;             /* 1: progress line on stderr; 0: quiet */
    int64_t limit_train;      /* > 0: use only the first N training images (tests, smoke runs) */
    int stop_after;           /* > 0: return after this many epochs in this call (--resume goes on) */
    int allow_outside_paths;  /* 1: the datasets' metadata may name images outside their folders
                                 (aspire_dataset_options.allow_outside_paths); kept in train.json */
    const char *data_fingerprint; /* set by aspire_train_run (any value given is ignored) and kept
                                 in train.json: "fnv1a64:HEX" of data_dir's metadata.csv, so that a
                                 changed dataset is noticed by --resume and aspire eval; NULL in
                                 runs written before it */
    aspire_ctx_options engine; /* engine settings (reference path, Winograd, batch-norm kernel,
                                  profiling); its threads and seed are training's own; kept on --resume */
    const char *extra_fingerprint; /* as data_fingerprint, of extra_dir's metadata.csv (NULL without
                                  extra images, and in runs written before it) */
} aspire_train_config;

/* The defaults: reference net (torchvision init) at 64×64, 8 epochs, batch 64, lr 0.05, momentum 0.9, wd 1e-4,
 * flips on, seed 0; JTT T = 2, λ_up = 20; LfF q = 0.7, EMA 0.7; GroupDRO η = 0.01, C = 0; DFR 10
 * retrains. */
ASPIRE_API aspire_train_config aspire_train_config_default(void);

/* Trains and writes RUNDIR (above); a RUNDIR that already holds a run is refused unless
 * cfg->resume. With cfg->resume, RUNDIR's train.json supplies the config (only cfg's out_dir,
 * progress and stop_after are kept) and training continues after the last checkpointed epoch; a
 * finished run is left as it is; a RUNDIR without a run is started from cfg. Returns ASPIRE_OK or
 * a status with the message naming the file or option at fault. */
ASPIRE_API int aspire_train_run(const aspire_train_config *cfg);

/* 1 when RUNDIR holds a finished run (train.json with its "result", written last), else 0. */
ASPIRE_API int aspire_train_finished(const char *run_dir);

/* Reads RUNDIR/train.json's config into *cfg (strings are owned by *strings, free with
 * aspire_train_config_strings_free). */
typedef struct aspire_train_strings { char *s[16]; } aspire_train_strings;
ASPIRE_API int aspire_train_config_load(const char *run_dir, aspire_train_config *cfg, aspire_train_strings *strings);
ASPIRE_API void aspire_train_config_strings_free(aspire_train_strings *strings);

/* Evaluation of a run's classifier on one split of its dataset. */
typedef struct aspire_eval_options {
    const char *run_dir;
    const char *split;        /* "train", "val" or "test" */
    const char *checkpoint;   /* NULL / "best": best.safetensors; "last": checkpoint.safetensors */
    const char *data_dir;     /* NULL: the run's own dataset (images outside its folder are read
                                 when the run was trained with allow_outside_paths, for any dataset) */
    int threads;
    int progress;
    aspire_ctx_options engine; /* engine settings (threads: the field above) */
    int allow_outside_paths;  /* metadata.csv may name images outside the dataset folder (also
                                 allowed when the run was trained with it) */
} aspire_eval_options;

typedef struct aspire_eval_result {
    aspire_metrics metrics;         /* per group / class counts (destroy with aspire_eval_result_destroy) */
    aspire_metrics_summary summary; /* weighted_mean uses the dataset's training-split group sizes */
    int64_t *train_group_n;         /* those sizes, (K * P) */
    aspire_method method;
    aspire_select_rule rule;        /* the rule the run selected its model by */
    int epoch;                      /* the evaluated checkpoint's epoch (0-based), -1 if unknown */
    char **class_names;             /* (K) the dataset's class names (dataset.h) */
    char **place_names;             /* (P) */
} aspire_eval_result;

ASPIRE_API int aspire_train_evaluate(const aspire_eval_options *opt, aspire_eval_result *out);
ASPIRE_API void aspire_eval_result_destroy(aspire_eval_result *r);

#endif
