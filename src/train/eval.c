/* eval.c — aspire_train_evaluate: a run's classifier (selected or last, opened through
 * classifier.h) on one split of its dataset (or another in the same layout), counted per group. */
#include "train/train_data.h"

#include "aspire/classifier.h"
#include "aspire/fileio.h"
#include "aspire/train.h"

#include <stdio.h>
#include <string.h>

static void names_free(char **names, int n) {
    for (int i = 0; names && i < n; i++) aspire_strfree(names[i]);
    aspire_free(names, sizeof(char *) * (size_t)(n ? n : 1));
}

void aspire_eval_result_destroy(aspire_eval_result *r) {
    if (!r) return;
    int K = r->metrics.nclasses, P = r->metrics.nplaces;
    names_free(r->class_names, K);
    names_free(r->place_names, P);
    aspire_free(r->train_group_n, sizeof(int64_t) * (size_t)(K * P > 0 ? K * P : 1));
    aspire_metrics_destroy(&r->metrics);
    memset(r, 0, sizeof *r);
}

static char **names_copy(const char *const *src, int n) {
    char **d = aspire_calloc((size_t)(n ? n : 1), sizeof(char *));
    for (int i = 0; d && i < n; i++)
        if (!(d[i] = aspire_strdup(src[i]))) { names_free(d, n); return NULL; }
    return d;
}

/* The classifier file of `which` ("best" or "last") of a run. */
static int open_model(aspire_classifier **out, const aspire_eval_options *opt, int K) {
    const char *which = opt->checkpoint ? opt->checkpoint : "best";
    int last = strcmp(which, "last") == 0;
    if (!last && strcmp(which, "best") != 0) return aspire_error(ASPIRE_ERR_ARG, "checkpoint must be best or last (got '%s')", which);
    char *path = aspire_path_join(opt->run_dir, last ? "checkpoint.safetensors" : "best.safetensors");
    if (!path) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    aspire_ctx_options eo = opt->engine;
    eo.threads = opt->threads;
    int rc = aspire_classifier_open(out, path, &eo);
    if (!rc && aspire_classifier_n_classes(*out) != K)
        rc = aspire_error(ASPIRE_ERR_SHAPE, "%s: a classifier of %d classes, the dataset has %d", path, aspire_classifier_n_classes(*out), K);
    aspire_strfree(path);
    return rc;
}

/* Counts the predictions of split im into out, with the names and training group sizes. */
static int score(aspire_eval_result *out, const tr_data *data, const tr_images *im, const int32_t *pred) {
    int rc = aspire_metrics_init(&out->metrics, data->K, data->P);
    if (rc) return rc;
    aspire_metrics_add_batch(&out->metrics, im->n, im->y, im->place, pred);
    size_t gb = sizeof(int64_t) * (size_t)(data->K * data->P > 0 ? data->K * data->P : 1);
    out->train_group_n = aspire_malloc(gb);
    out->class_names = names_copy(aspire_dataset_index_class_names(data->index), data->K);
    out->place_names = names_copy(aspire_dataset_index_place_names(data->index), data->P);
    if (!out->train_group_n || !out->class_names || !out->place_names) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    memcpy(out->train_group_n, data->train_group_n, gb);
    int any_train = 0;
    for (int g = 0; g < data->K * data->P; g++) any_train |= data->train_group_n[g] > 0;
    out->summary = aspire_metrics_summarize(&out->metrics, any_train ? data->train_group_n : NULL);
    return ASPIRE_OK;
}

static int split_bit(const char *split) {
    return strcmp(split, "train") == 0 ? TR_SPLIT_TRAIN : strcmp(split, "val") == 0 ? TR_SPLIT_VAL
         : strcmp(split, "test") == 0  ? TR_SPLIT_TEST : 0;
}

/* The run's own dataset must be the one it was trained on: a metadata.csv that changed since
 * (train.json's fingerprint) is refused; another dataset is evaluated only when asked for (--data). */
static int same_dataset(const aspire_train_config *cfg, const tr_data *data, const char *run_dir) {
    if (!cfg->data_fingerprint) return ASPIRE_OK;  /* a run written before fingerprints */
    char fp[40];
    const char *meta = aspire_dataset_index_path(data->index);
    int rc = tr_data_fingerprint(meta, fp, sizeof fp);
    if (rc || strcmp(fp, cfg->data_fingerprint) == 0) return rc;
    return aspire_error(ASPIRE_ERR_FORMAT, "%s changed since the run in %s was trained (fingerprint %s, its train.json has %s); "
                        "to evaluate on it anyway, name it with --data", meta, run_dir, fp, cfg->data_fingerprint);
}

int aspire_train_evaluate(const aspire_eval_options *opt, aspire_eval_result *out) {
    memset(out, 0, sizeof *out);
    aspire_train_config cfg;
    aspire_train_strings strs;
    int rc = aspire_train_config_load(opt->run_dir, &cfg, &strs);
    if (rc) return rc;
    const char *split = opt->split ? opt->split : "test", *dir = opt->data_dir ? opt->data_dir : cfg.data_dir;
    int which = split_bit(split);
    tr_data data = {0};
    aspire_classifier *clf = NULL;
    int32_t *pred = NULL;
    size_t pb = 0;
    int prev = aspire_threads_enter(opt->threads);
    if (!which) rc = aspire_error(ASPIRE_ERR_ARG, "unknown split '%s' (train, val or test)", split);
    if (!rc) rc = tr_data_load(&data, dir, NULL, cfg.image_size, which, 0, opt->progress,
                              cfg.allow_outside_paths || opt->allow_outside_paths);
    if (!rc && !opt->data_dir) rc = same_dataset(&cfg, &data, opt->run_dir);
    tr_images *im = rc ? NULL : tr_data_split(&data, split);
    if (!rc && im->n == 0) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: the %s split is empty", aspire_dataset_index_path(data.index), split);
    if (!rc) rc = open_model(&clf, opt, data.K);
    if (!rc) {
        pb = (size_t)im->n * sizeof(int32_t);
        if (!(pred = aspire_malloc(pb))) rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    }
    if (!rc) {
        char label[64];
        snprintf(label, sizeof label, "eval %s", split);
        aspire_classifier_set_progress(clf, opt->progress ? label : NULL);
        rc = aspire_classifier_predict_u8(clf, aspire_dataset_pixels(im->ds, 0), im->n, im->S, im->S, 3, pred, NULL, NULL);
    }
    if (!rc) rc = score(out, &data, im, pred);
    if (!rc) {
        out->epoch = aspire_classifier_epoch(clf);
        out->method = cfg.method;
        out->rule = aspire_method_select_rule(cfg.method);
    }
    aspire_threads_leave(prev);
    aspire_free(pred, pb);
    aspire_classifier_free(clf);
    tr_data_destroy(&data);
    aspire_train_config_strings_free(&strs);
    if (rc) aspire_eval_result_destroy(out);
    return rc;
}
