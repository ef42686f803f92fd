/* eval.c — aspire_train_evaluate: a run's classifier (selected or last) on one split of its
 * dataset (or another in the same layout), counted per group. */
#include "train/train_data.h"
#include "train/train_model.h"

#include "aspire/fileio.h"
#include "aspire/safetensors.h"
#include "aspire/train.h"

#include <stdlib.h>
#include <string.h>

void aspire_eval_result_destroy(aspire_eval_result *r) {
    if (!r) return;
    aspire_metrics_destroy(&r->metrics);
}

/* Loads the model weights of `which` ("best" or "last") into net; *epoch from its metadata. */
static int load_weights(aspire_resnet *net, const char *run_dir, const char *which, int *epoch) {
    int last = strcmp(which, "last") == 0;
    if (!last && strcmp(which, "best") != 0)
        return aspire_error(ASPIRE_ERR_ARG, "--checkpoint must be best or last (got '%s')", which);
    char *path = aspire_path_join(run_dir, last ? "checkpoint.safetensors" : "best.safetensors");
    if (!path) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    aspire_safetensors *st = NULL;
    int rc = aspire_safetensors_open(&st, path);
    if (rc == ASPIRE_ERR_NOTFOUND || (rc && !aspire_file_exists(path)))
        rc = aspire_error(ASPIRE_ERR_NOTFOUND, "%s: no such file (has the run finished an epoch?)", path);
    aspire_params *p = aspire_resnet_params(net);
    char name[512];
    for (int i = 0; !rc && i < aspire_params_count(p); i++) {
        aspire_tensor *x = aspire_params_at(p, i);
        snprintf(name, sizeof name, "%s%s", last ? "model." : "", x->name);
        rc = aspire_safetensors_read_f32(st, name, x->ndim, x->shape, 0, x->data, x->numel, NULL);
    }
    if (!rc) {
        const char *e = aspire_safetensors_meta(st, last ? "next_epoch" : "epoch");
        *epoch = e ? atoi(e) - (last ? 1 : 0) : -1;
    }
    aspire_safetensors_free(st);
    aspire_strfree(path);
    return rc;
}

int aspire_train_evaluate(const aspire_eval_options *opt, aspire_eval_result *out) {
    memset(out, 0, sizeof *out);
    aspire_train_config cfg;
    aspire_train_strings strs;
    int rc = aspire_train_config_load(opt->run_dir, &cfg, &strs);
    if (rc) return rc;
    const char *split = opt->split ? opt->split : "test";
    int which = strcmp(split, "train") == 0 ? TR_SPLIT_TRAIN
              : strcmp(split, "val") == 0   ? TR_SPLIT_VAL
              : strcmp(split, "test") == 0  ? TR_SPLIT_TEST
                                            : 0;
    if (!which) {
        aspire_train_config_strings_free(&strs);
        return aspire_error(ASPIRE_ERR_ARG, "--split must be train, val or test (got '%s')", split);
    }
    aspire_set_threads(opt->threads);
    tr_data data;
    aspire_resnet *net = NULL;
    aspire_ctx *ctx = NULL;
    int32_t *pred = NULL;
    size_t pb = 0;
    /* the training split's group sizes are read with any split (the loader counts them) */
    rc = tr_data_load(&data, opt->data_dir ? opt->data_dir : cfg.data_dir, NULL, cfg.image_size, which, 0,
                      opt->progress);
    if (rc) goto out;
    tr_images *im = tr_data_split(&data, split);
    if (im->n == 0) { rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: the %s split is empty", opt->data_dir ? opt->data_dir : cfg.data_dir, split); goto out; }
    rc = tr_model_new(&net, cfg.arch, data.K, 0, NULL);
    if (!rc) rc = load_weights(net, opt->run_dir, opt->checkpoint ? opt->checkpoint : "best", &out->epoch);
    aspire_ctx_options co = {opt->threads, 0, 0};
    if (!rc) rc = aspire_ctx_new(&ctx, &co);
    if (rc) goto out;
    pb = (size_t)im->n * sizeof(int32_t);
    pred = aspire_malloc(pb);
    if (!pred) { rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory"); goto out; }
    char label[64];
    snprintf(label, sizeof label, "eval %s", split);
    rc = tr_predict(ctx, net, im, data.K, pred, NULL, opt->progress ? label : NULL);
    if (rc) goto out;
    rc = aspire_metrics_init(&out->metrics, data.K, data.P);
    if (rc) goto out;
    aspire_metrics_add_batch(&out->metrics, im->n, im->y, im->place, pred);
    memcpy(out->train_group_n, data.train_group_n, sizeof out->train_group_n);
    int any_train = 0;
    for (int g = 0; g < data.K * data.P; g++) any_train |= data.train_group_n[g] > 0;
    out->summary = aspire_metrics_summarize(&out->metrics, any_train ? data.train_group_n : NULL);
    out->method = cfg.method;
    out->rule = aspire_method_select_rule(cfg.method);
    memcpy(out->class_names, data.class_names, sizeof out->class_names);
    memcpy(out->place_names, data.place_names, sizeof out->place_names);
out:
    aspire_free(pred, pb);
    aspire_ctx_free(ctx);
    aspire_resnet_free(net);
    tr_data_destroy(&data);
    aspire_train_config_strings_free(&strs);
    if (rc) aspire_eval_result_destroy(out);
    return rc;
}
