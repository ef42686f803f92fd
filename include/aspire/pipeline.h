/* pipeline.h — ASPIRE end to end (`aspire run`): one table of stages drives
 *   train-erm → detect → personalize → generate → retrain → evaluate → report
 * over a dataset in Waterbirds layout. Each stage writes into its own subfolder of RUNDIR and marks
 * it complete LAST with RUNDIR/STAGE/stage.json ({"stage", "status": "running"|"complete", "key",
 * "options", "inputs": {name: hash}, "start", "end", "seconds"}). The key hashes the stage's
 * options and the hashes of its inputs (the dataset's metadata.csv, the keys of the stages it
 * reads), so a stage is skipped exactly when it completed with the same key; a stage whose options
 * or inputs changed is run again (its folder removed first), and so is everything after it, with
 * the reason on stderr. A run killed at any point continues from the last complete stage (an
 * interrupted training stage resumes from its checkpoint). RUNDIR is locked (rundir.h) while a
 * run works in it. docs/PIPELINE.md lists what each stage reads and writes. */
#ifndef ASPIRE_PIPELINE_H
#define ASPIRE_PIPELINE_H

#include "aspire/common.h"

#include <stdio.h>

typedef struct aspire_pipeline_opts {
    const char *data;        /* dataset in Waterbirds layout (required) */
    const char *out;         /* RUNDIR (required) */
    const char *methods;     /* comma-separated training methods retrained with and without the
                                generated images: "erm" */
    uint64_t seed;           /* [0] */
    int threads;             /* 0 = all cores */
    const char *from;        /* NULL, or run this stage and every later one again */
    const char *only;        /* NULL, or run just this stage (its inputs must be complete) */
    /* training recipe shared by every training stage (train.h's defaults when 0) */
    int epochs, image_size, batch;
    int64_t limit_train;     /* > 0: the first N training images only (tests, smoke runs) */
    /* personalization and generation */
    const char *generator;   /* generator model file; NULL = the shipped one */
    int personalize_steps;   /* [300] */
    int generate_n;          /* images per class [100] */
    float strength;          /* > 0: each generated image starts from one of detect's selected edits of its
                                class, noised to this strength and redrawn with the learned token (SDEdit, as
                                DA-Fusion augments); 0: from the prompt alone [0.5] */
    float guidance;          /* classifier-free guidance scale of ASPIRE's generated images (1 = none;
                                0 = ASPIRE's default, 1.5) [0] */
    int ablations;           /* 1: also ERM with plain-prompt images, with the selected edits alone and
                                with the start edits (each generated image's start, no generation) */
    int progress;            /* 1: progress lines (the stages' own bars) on stderr */
    FILE *log;               /* the run's stage lines (stage k of n, why it runs, ETA): NULL = stderr when
                                progress is on, else none */
    const char *command;     /* the command line that started the run (recorded in run.json) */
} aspire_pipeline_opts;

ASPIRE_API void aspire_pipeline_opts_default(aspire_pipeline_opts *o);

/* Runs the stages (see above). Returns ASPIRE_OK when every stage asked for is complete; on the
 * first failing stage the run stops, the message names the stage ("stage detect: ..."), every
 * stage complete before it is kept, and the report is still written from what exists. */
ASPIRE_API int aspire_pipeline_run(const aspire_pipeline_opts *o);

/* The stage table: n_stages names in run order. */
ASPIRE_API int aspire_pipeline_n_stages(void);
ASPIRE_API const char *aspire_pipeline_stage_name(int i);
/* The index of a stage by name, or -1. */
ASPIRE_API int aspire_pipeline_stage_find(const char *name);

/* Prints RUNDIR's stages, one line each: name, status (complete / running or interrupted / not
 * run), start time and duration. Returns ASPIRE_OK or ASPIRE_ERR_NOTFOUND (no run there). */
ASPIRE_API int aspire_pipeline_status(const char *rundir, FILE *f);

/* Writes RUNDIR/report.html (atomically) from the files the stages wrote; parts whose stage did not
 * complete say so. One self-contained file: images as data: URIs, charts as inline SVG. */
ASPIRE_API int aspire_report_html(const char *rundir);

#endif
