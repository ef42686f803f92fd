/* test_metrics.c — group accuracies, both average conventions, worst group / class, the JSON and
 * table forms, and the selection rules, on confusion counts worked out by hand. */
#include "aspire/metrics.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <string.h>

/* Adds `n` examples of group (y, place) of which `ok` are classified correctly. */
static void add_group(aspire_metrics *m, int y, int place, int n, int ok) {
    for (int i = 0; i < n; i++) aspire_metrics_add(m, y, place, i < ok ? y : 1 - y);
}

/* groups: (0,0) 9/10, (0,1) 1/4, (1,0) 2/5, (1,1) 19/20, plus one placeless y=1 correct. */
static void fill(aspire_metrics *m) {
    add_group(m, 0, 0, 10, 9);
    add_group(m, 0, 1, 4, 1);
    add_group(m, 1, 0, 5, 2);
    add_group(m, 1, 1, 20, 19);
    aspire_metrics_add(m, 1, -1, 1);
}

static void test_summary(void) {
    aspire_metrics m;
    CHECK(aspire_metrics_init(&m, 2, 2) == ASPIRE_OK);
    fill(&m);
    int64_t train[4] = {100, 5, 5, 100};
    aspire_metrics_summary s = aspire_metrics_summarize(&m, train);
    CHECK(s.n == 40);
    CHECK_CLOSE(s.mean, 32.0 / 40.0, 1e-12);
    CHECK_CLOSE(s.group_mean, (0.9 + 0.25 + 0.4 + 0.95) / 4, 1e-12);
    CHECK_CLOSE(s.weighted_mean, (100 * 0.9 + 5 * 0.25 + 5 * 0.4 + 100 * 0.95) / 210.0, 1e-12);
    CHECK_CLOSE(s.worst_group, 0.25, 1e-12);
    CHECK(s.worst_group_id == 1);
    CHECK_CLOSE(s.worst_class, 10.0 / 14.0, 1e-12);
    CHECK(s.worst_class_id == 0);
    CHECK_CLOSE(aspire_metrics_class_acc(&m, 1), 22.0 / 26.0, 1e-12);
    /* without training proportions the weighted mean is undefined */
    aspire_metrics_summary s2 = aspire_metrics_summarize(&m, NULL);
    CHECK(isnan(s2.weighted_mean));
    CHECK_CLOSE(s2.mean, s.mean, 0);
    /* a batch gives the same counts as single adds */
    aspire_metrics b;
    CHECK(aspire_metrics_init(&b, 2, 2) == ASPIRE_OK);
    int32_t y[3] = {0, 1, 1}, pl[3] = {1, 0, 1}, pr[3] = {0, 0, 1};
    aspire_metrics_add_batch(&b, 3, y, pl, pr);
    CHECK(b.group_n[1] == 1 && b.group_correct[1] == 1);
    CHECK(b.group_n[2] == 1 && b.group_correct[2] == 0);
    CHECK(b.group_n[3] == 1 && b.group_correct[3] == 1);
    aspire_metrics_reset(&b);
    CHECK(b.group_n[3] == 0 && b.class_n[1] == 0);
    aspire_metrics_destroy(&b);
    aspire_metrics_destroy(&m);
    aspire_metrics_destroy(&m); /* twice is harmless */
}

static void test_empty_groups(void) {
    aspire_metrics m;
    CHECK(aspire_metrics_init(&m, 2, 2) == ASPIRE_OK);
    aspire_metrics_summary s = aspire_metrics_summarize(&m, NULL);
    CHECK(isnan(s.mean) && isnan(s.worst_group) && s.worst_group_id == -1 && s.worst_class_id == -1);
    add_group(&m, 0, 0, 4, 3);
    add_group(&m, 1, 1, 2, 2);
    s = aspire_metrics_summarize(&m, (int64_t[]){1, 1, 1, 1});
    CHECK_CLOSE(s.worst_group, 0.75, 1e-12);  /* the two empty groups are skipped */
    CHECK_CLOSE(s.group_mean, 0.875, 1e-12);
    CHECK_CLOSE(s.weighted_mean, 0.875, 1e-12);
    aspire_metrics_destroy(&m);
}

static void test_json_and_table(void) {
    aspire_metrics m;
    CHECK(aspire_metrics_init(&m, 2, 2) == ASPIRE_OK);
    fill(&m);
    aspire_metrics_summary s = aspire_metrics_summarize(&m, (int64_t[]){100, 5, 5, 100});
    char *js = aspire_metrics_to_json(&m, &s);
    CHECK(js != NULL);
    cJSON *o = cJSON_Parse(js);
    CHECK(o != NULL);
    if (o) {
        CHECK_CLOSE(cJSON_GetObjectItem(o, "mean")->valuedouble, 0.8, 1e-12);
        CHECK_CLOSE(cJSON_GetObjectItem(o, "worst_group")->valuedouble, 0.25, 1e-12);
        CHECK_CLOSE(cJSON_GetObjectItem(o, "worst_class")->valuedouble, 10.0 / 14.0, 1e-12);
        CHECK(cJSON_IsNumber(cJSON_GetObjectItem(o, "weighted_mean")));
        cJSON *g = cJSON_GetObjectItem(o, "groups");
        CHECK(cJSON_GetArraySize(g) == 4);
        cJSON *g2 = cJSON_GetArrayItem(g, 2);
        CHECK(cJSON_GetObjectItem(g2, "y")->valueint == 1 && cJSON_GetObjectItem(g2, "place")->valueint == 0);
        CHECK(cJSON_GetObjectItem(g2, "n")->valueint == 5);
        CHECK_CLOSE(cJSON_GetObjectItem(g2, "acc")->valuedouble, 0.4, 1e-12);
        cJSON_Delete(o);
    }
    aspire_strfree(js);
    /* NaN becomes null */
    aspire_metrics_summary s2 = aspire_metrics_summarize(&m, NULL);
    js = aspire_metrics_to_json(&m, &s2);
    o = cJSON_Parse(js);
    CHECK(o && cJSON_IsNull(cJSON_GetObjectItem(o, "weighted_mean")));
    cJSON_Delete(o);
    aspire_strfree(js);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *cls[] = {"landbird", "waterbird"}, *pl[] = {"land", "water"};
    aspire_metrics_print(f, &m, &s, cls, pl);
    fclose(f);
    CHECK(strstr(buf, "landbird") && strstr(buf, "water"));
    CHECK(strstr(buf, " 25.00") != NULL);            /* the worst group, in percent */
    CHECK(strstr(buf, "weighted mean") && strstr(buf, "worst-class"));
    CHECK(strstr(buf, "group 1: landbird / water") != NULL);
    free(buf);
    aspire_metrics_destroy(&m);
}

static void test_selection(void) {
    aspire_metrics_summary a = {0}, b = {0};
    a.mean = 0.9; a.worst_group = 0.3; a.worst_class = 0.8;
    b.mean = 0.8; b.worst_group = 0.6; b.worst_class = 0.7;
    CHECK(aspire_select_better(&b, &a, ASPIRE_SELECT_WORST_GROUP));
    CHECK(!aspire_select_better(&a, &b, ASPIRE_SELECT_WORST_GROUP));
    CHECK(aspire_select_better(&a, &b, ASPIRE_SELECT_WORST_CLASS));
    CHECK(aspire_select_better(&a, NULL, ASPIRE_SELECT_WORST_CLASS));
    /* tie on the score: the higher mean wins; an exact tie keeps the incumbent */
    b.worst_class = 0.8;
    CHECK(aspire_select_better(&a, &b, ASPIRE_SELECT_WORST_CLASS));
    CHECK(!aspire_select_better(&b, &a, ASPIRE_SELECT_WORST_CLASS));
    CHECK(!aspire_select_better(&a, &a, ASPIRE_SELECT_WORST_CLASS));
    /* an undefined score loses to any real one */
    aspire_metrics_summary c = a;
    c.worst_group = NAN;
    CHECK(aspire_select_better(&a, &c, ASPIRE_SELECT_WORST_GROUP));
    CHECK(!aspire_select_better(&c, &a, ASPIRE_SELECT_WORST_GROUP));
    aspire_select_rule r;
    CHECK(aspire_select_rule_parse("worst_group", &r) == ASPIRE_OK && r == ASPIRE_SELECT_WORST_GROUP);
    CHECK(aspire_select_rule_parse(aspire_select_rule_name(ASPIRE_SELECT_WORST_CLASS), &r) == ASPIRE_OK &&
          r == ASPIRE_SELECT_WORST_CLASS);
    CHECK(aspire_select_rule_parse("best", &r) == ASPIRE_ERR_ARG);
}

int main(void) {
    RUN(test_summary);
    RUN(test_empty_groups);
    RUN(test_json_and_table);
    RUN(test_selection);
    return TEST_REPORT();
}
