/* cmd_eval.c — `aspire eval`: per-group accuracy of a trained run on one split, as a table or as
 * one JSON object (accuracies as fractions). */
#include "cli/cli.h"
#include "cli/cli_env.h"

#include "aspire/train.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static const char *rule_text(aspire_select_rule r) {
    return r == ASPIRE_SELECT_WORST_GROUP ? "worst-group validation accuracy (the method may use group labels)"
                                          : "worst-class validation accuracy (the method may not use group labels)";
}

int cmd_eval(int argc, char **argv) {
    aspire_eval_options o = {0};
    o.split = "test";
    o.checkpoint = "best";
    int json = 0, quiet = 0;
    cli_opt opts[] = {
        {"--run", CLI_STR, &o.run_dir, "run folder written by aspire train"},
        {"--split", CLI_STR, &o.split, "train, val or test"},
        {"--checkpoint", CLI_STR, &o.checkpoint, "best (selected on validation) or last"},
        {"--data", CLI_STR, &o.data_dir, "evaluate on this dataset instead of the run's own"},
        {"--json", CLI_FLAG, &json, "print one JSON object instead of the table"},
        {"--threads", CLI_INT, &o.threads, "threads, 0 = all cores"},
        {"--quiet", CLI_FLAG, &quiet, "no progress line"},
        {"--allow-outside-paths", CLI_FLAG, &o.allow_outside_paths,
         "metadata.csv may name images outside the dataset folder (absolute, .., symbolic links; also ASPIRE_ALLOW_OUTSIDE_PATHS=1)"},
    };
    int rc = cli_parse("eval",
                       "Accuracy per group (class x place), mean accuracy (plain and weighted by the training\n"
                       "split's group proportions), worst-group and worst-class accuracy of a run's classifier.",
                       argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.run_dir) return cli_fail("eval", "--run RUNDIR is required");
    o.progress = !quiet && !json;
    o.allow_outside_paths |= cli_allow_outside_paths();
    o.engine = cli_engine_options(o.threads, 0);
    aspire_eval_result r;
    if (aspire_train_evaluate(&o, &r)) return cli_fail("eval", NULL);
    if (json) {
        char *txt = aspire_metrics_to_json(&r.metrics, &r.summary);
        cJSON *obj = txt ? cJSON_Parse(txt) : NULL;
        aspire_strfree(txt);
        if (!obj) { aspire_eval_result_destroy(&r); return cli_fail("eval", "out of memory"); }
        cJSON_AddStringToObject(obj, "run", o.run_dir);
        cJSON_AddStringToObject(obj, "split", o.split);
        cJSON_AddStringToObject(obj, "method", aspire_method_name(r.method));
        cJSON_AddStringToObject(obj, "checkpoint", o.checkpoint);
        cJSON_AddNumberToObject(obj, "epoch", r.epoch);
        cJSON_AddStringToObject(obj, "selection", aspire_select_rule_name(r.rule));
        cJSON_AddStringToObject(obj, "mean_convention", "plain accuracy over the split's examples");
        cJSON_AddStringToObject(obj, "weighted_mean_convention", "group accuracies weighted by training group proportions");
        char *out = cJSON_PrintUnformatted(obj);
        if (out) printf("%s\n", out);
        cJSON_free(out);
        cJSON_Delete(obj);
    } else {
        char which[96];
        if (r.method == ASPIRE_METHOD_DFR && strcmp(o.checkpoint, "best") == 0)
            snprintf(which, sizeof which, "the ERM backbone with DFR's last layer");
        else
            snprintf(which, sizeof which, "%s checkpoint (epoch %d)", o.checkpoint, r.epoch + 1);
        printf("run %s, method %s, split %s, %s\n", o.run_dir, aspire_method_name(r.method), o.split, which);
        printf("model selection: %s\n\n", rule_text(r.rule));
        aspire_metrics_print(stdout, &r.metrics, &r.summary, (const char *const *)r.class_names,
                             (const char *const *)r.place_names);
    }
    aspire_eval_result_destroy(&r);
    return 0;
}
