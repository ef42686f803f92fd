/* pipeline_internal.h — the pieces shared by the stage driver (pipeline.c), the stage bodies
 * (stages.c) and the report (src/report/html.c). */
#ifndef ASPIRE_PIPELINE_INTERNAL_H
#define ASPIRE_PIPELINE_INTERNAL_H

#include "aspire/pipeline.h"
#include "aspire/train.h"

#include <cjson/cJSON.h>

#define PL_MAX_METHODS 8
#define PL_MAX_CLASSES 16
#define PL_N_ABLATIONS 3
/* The guidance of ASPIRE's images when --guidance is 0: the shipped generator's best for ERM +
 * ASPIRE (BENCHMARKS.md, Generator); aspire generate's own default, 3, is for prompt fidelity. */
#define PL_RUN_GUIDANCE 1.5f

/* An ablation run of `--ablations`: ERM retrained with RUNDIR/extra_stage/extra_dir as its extra
 * images, named `name` in retrain/ and results.json, shown as `label` in the report. An optional
 * one is left out (not trained, not evaluated) when its folder holds no image. */
typedef struct pl_ablation {
    const char *name, *extra_stage, *extra_dir, *label, *what;
    int optional;
} pl_ablation;
extern const pl_ablation pl_ablations[PL_N_ABLATIONS];

typedef struct pl_ctx {
    const aspire_pipeline_opts *o;
    const char *rundir;
    aspire_method methods[PL_MAX_METHODS];
    int n_methods;
    char generator[1024];      /* the generator model file */
    const cJSON *record;       /* the running stage's record (options, inputs, key) */
} pl_ctx;

/* One row of the stage table: its name, what it reads (comma-separated: "data", "generator" or
 * stage names), what it writes (for docs and status), its options as JSON, its body. */
typedef struct pl_stage {
    const char *name;
    const char *inputs;
    const char *outputs;
    int (*options)(const pl_ctx *c, cJSON *opts);
    int (*run)(pl_ctx *c, const char *dir);
    double weight;             /* rough share of a run's time, for the ETA */
    int parts;                 /* 1: the stage is made of parts (retrain's runs), each keyed on its own
                                  options and inputs in its part.json; when the stage runs again its
                                  folder is kept and only the parts whose key changed are redone */
} pl_stage;

extern const pl_stage pl_stages[];
extern const int pl_n_stages;

/* "RUNDIR/a/b" in a new string (aspire_strfree), NULL on OOM. */
char *pl_path(const char *rundir, const char *a, const char *b);
/* FNV-1a 64: PL_FNV_INIT, then pl_fnv1a over each piece in turn (stage and part keys, files). */
#define PL_FNV_INIT 1469598103934665603ULL
uint64_t pl_fnv1a(uint64_t h, const void *data, size_t n);
/* FNV-1a 64 of a file's bytes as 16 hex digits; ASPIRE_ERR_IO naming the file if unreadable. */
int pl_hash_file(const char *path, char hex[17]);
/* Reads a JSON file; NULL (error set, naming the file) when missing or malformed. */
cJSON *pl_read_json(const char *path);
/* Writes a cJSON tree atomically, formatted. */
int pl_write_json(const char *path, const cJSON *j);
/* The start-edits ablation's folder: for each image of the generated folder `images` (metadata.csv
 * with its `start` column), a copy of the selected edit (in `sel`) it started from, under the same
 * name, and metadata.csv (img_filename,y) last; `out` is cleared first. No folder when the images
 * were generated from the prompt alone (no `start` column). The copies are not mirrored where
 * generate mirrored a start (its odd rounds): training flips at random anyway. */
int pl_write_starts(const char *images, const char *sel, const char *out);
/* The test-split evaluation of a training run as `aspire eval --json` prints it, written to path. */
int pl_eval_to_file(const char *run_dir, int threads, const char *path);
/* The names of the runs a pipeline evaluates and their folders, for method m: "erm" (train-erm's
 * run) or "jtt" (retrain/jtt), and "<m>-aspire" (retrain/<m>-aspire). */
void pl_run_names(aspire_method m, int aspire, char *name, size_t n);

#endif
