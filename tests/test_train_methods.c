/* test_train_methods.c — the training module's arithmetic without a network: method names and
 * selection rules, per-example cross-entropy, the samplers, GroupDRO's group-weight update and
 * LfF's loss averages and weights, each against values worked out by hand. */
#include "train/train_internal.h"
#include "train/train_log.h"
#include "train/train_model.h"
#include "aspire/classifier.h"
#include "test.h"
#include "testdir.h"

#include <string.h>

static void test_names_and_rules(void) {
    aspire_method m;
    for (int k = 0; k < ASPIRE_METHOD_COUNT; k++) {
        CHECK(aspire_method_parse(aspire_method_name((aspire_method)k), &m) == ASPIRE_OK && (int)m == k);
    }
    CHECK(aspire_method_parse("ERM", &m) == ASPIRE_ERR_ARG);
    CHECK(aspire_method_select_rule(ASPIRE_METHOD_ERM) == ASPIRE_SELECT_WORST_CLASS);
    CHECK(aspire_method_select_rule(ASPIRE_METHOD_JTT) == ASPIRE_SELECT_WORST_CLASS);
    CHECK(aspire_method_select_rule(ASPIRE_METHOD_LFF) == ASPIRE_SELECT_WORST_CLASS);
    CHECK(aspire_method_select_rule(ASPIRE_METHOD_GROUPDRO) == ASPIRE_SELECT_WORST_GROUP);
    CHECK(aspire_method_select_rule(ASPIRE_METHOD_REWEIGHT) == ASPIRE_SELECT_WORST_GROUP);
    CHECK(aspire_method_select_rule(ASPIRE_METHOD_SUBSAMPLE) == ASPIRE_SELECT_WORST_GROUP);
    CHECK(aspire_method_select_rule(ASPIRE_METHOD_DFR) == ASPIRE_SELECT_WORST_GROUP);
}

static void test_rows_ce(void) {
    float logits[6] = {0, logf(3), 0, 5, 7, 5}; /* 3 rows of 2 classes */
    int32_t y[3] = {1, 0, 1}, pred[3];
    float loss[3], p[3];
    tr_rows_ce(logits, 3, 2, y, loss, pred, p);
    CHECK_CLOSE(p[0], 0.75, 1e-6);
    CHECK_CLOSE(loss[0], log(4.0 / 3.0), 1e-6);
    CHECK(pred[0] == 1 && pred[1] == 1 && pred[2] == 0);
    CHECK_CLOSE(loss[1], log1p(exp(5.0)), 1e-5);
    CHECK_CLOSE(p[2], 1.0 / (1.0 + exp(2.0)), 1e-6);
    /* large logits do not overflow */
    float big[2] = {1000, -1000};
    int32_t y1 = 1;
    tr_rows_ce(big, 1, 2, &y1, loss, pred, p);
    CHECK_CLOSE(loss[0], 2000, 1e-6);
    CHECK(p[0] == 0.0f && pred[0] == 0);
}

static void test_samplers(void) {
    aspire_rng r;
    aspire_rng_seed(&r, 7);
    int64_t perm[100];
    tr_order_shuffle(perm, 100, &r);
    int seen[100] = {0}, moved = 0;
    for (int i = 0; i < 100; i++) { seen[perm[i]]++; moved += perm[i] != i; }
    for (int i = 0; i < 100; i++) CHECK(seen[i] == 1);
    CHECK(moved > 50);

    enum { M = 40000 };
    static int64_t draws[M];
    double w[3] = {1, 0, 3};
    CHECK(tr_order_weighted(draws, M, w, 3, &r) == ASPIRE_OK);
    int cnt[3] = {0};
    for (int k = 0; k < M; k++) cnt[draws[k]]++;
    CHECK(cnt[1] == 0);
    CHECK_CLOSE(cnt[0] / (double)M, 0.25, 0.02);

    int64_t subset[3] = {5, 9, 2}, out[10];
    tr_order_cycle(out, 10, subset, 3, &r);
    for (int b = 0; b < 3; b++) {  /* each full round is a permutation of the subset */
        int s = 0;
        for (int j = 0; j < 3; j++) s += (out[3 * b + j] == 5) + 2 * (out[3 * b + j] == 9) + 4 * (out[3 * b + j] == 2);
        CHECK(s == 7);
    }
    CHECK(out[9] == 5 || out[9] == 9 || out[9] == 2);

    int32_t group[20];
    for (int i = 0; i < 20; i++) group[i] = i < 10 ? 0 : i < 13 ? 1 : i < 18 ? 3 : -1; /* sizes 10, 3, 0, 5 */
    int64_t sub[20];
    int64_t m = tr_subsample_groups(sub, group, 20, 4, &r);
    CHECK(m == 9);
    int gc[4] = {0};
    for (int k = 0; k < m; k++) {
        CHECK(group[sub[k]] >= 0);
        if (group[sub[k]] >= 0) gc[group[sub[k]]]++;
        if (k) CHECK(sub[k] > sub[k - 1]);
    }
    CHECK(gc[0] == 3 && gc[1] == 3 && gc[2] == 0 && gc[3] == 3);

    double bw[20];
    tr_group_balance_weights(bw, group, 20, 4);
    double gs[4] = {0}, tot = 0;
    for (int i = 0; i < 18; i++) { gs[group[i]] += bw[i]; tot += bw[i]; }
    CHECK_CLOSE(gs[0], gs[1], 1e-12);
    CHECK_CLOSE(gs[0], gs[3], 1e-12);
    CHECK_CLOSE(tot, 18, 1e-12);
    CHECK(bw[18] == 1.0 && bw[19] == 1.0);
}

static void test_dro(void) {
    double q[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    int64_t count[3] = {100, 25, 4};
    tr_dro d = {3, 0.1, 0.0, q, count};
    float loss[4] = {1, 1, 3, 5};
    int32_t g[4] = {0, 0, 1, 1}; /* group 2 absent: its mean loss counts as 0 */
    float w[4];
    double robust;
    tr_dro_step(&d, loss, g, 4, w, &robust);
    double e0 = exp(0.1 * 1), e1 = exp(0.1 * 4), e2 = 1, z = e0 + e1 + e2;
    CHECK_CLOSE(q[0], e0 / z, 1e-12);
    CHECK_CLOSE(q[1], e1 / z, 1e-12);
    CHECK_CLOSE(q[2], e2 / z, 1e-12);
    CHECK_CLOSE(robust, q[0] * 1 + q[1] * 4, 1e-6);
    double s = 0;
    for (int i = 0; i < 4; i++) s += w[i] * loss[i];
    CHECK_CLOSE(s, robust, 1e-6);
    CHECK_CLOSE(w[0], q[0] / 2, 1e-6);
    /* the adjustment C / sqrt(n_g) favours small groups even at equal losses */
    double q2[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    tr_dro d2 = {3, 0.1, 2.0, q2, count};
    float l2[3] = {1, 1, 1};
    int32_t g2[3] = {0, 1, 2};
    tr_dro_step(&d2, l2, g2, 3, w, &robust);
    CHECK(q2[2] > q2[1] && q2[1] > q2[0]);
    double a0 = exp(0.1 * (1 + 2.0 / 10)), a2 = exp(0.1 * (1 + 2.0 / 2));
    CHECK_CLOSE(q2[2] / q2[0], a2 / a0, 1e-9);
}

static void test_lff(void) {
    int32_t y[4] = {0, 0, 1, 1};
    float eb[4] = {0}, ed[4] = {0}, seen[4] = {0};
    tr_lff s = {4, 2, 0.7, 0.7, y, eb, ed, seen};
    int64_t idx[2] = {0, 2};
    float lb[2] = {2, 1}, ld[2] = {1, 3}, pb[2] = {0.5f, 0.25f}, wb[2], wd[2];
    tr_lff_step(&s, idx, 2, lb, ld, pb, wb, wd);
    CHECK(eb[0] == 2 && ed[0] == 1 && eb[2] == 1 && ed[2] == 3); /* first update: the loss itself */
    CHECK(seen[0] == 1 && seen[1] == 0);
    /* class maxima are the examples themselves, so both normalise to 1: weight 1/2 */
    CHECK_CLOSE(wd[0], 0.5, 1e-6);
    CHECK_CLOSE(wb[0], 0.7 * pow(0.5, 0.7), 1e-6);
    CHECK_CLOSE(wb[1], 0.7 * pow(0.25, 0.7), 1e-6);
    int64_t idx2[2] = {1, 0};
    float lb2[2] = {4, 1}, ld2[2] = {0.5f, 2}, pb2[2] = {0.9f, 0.9f};
    tr_lff_step(&s, idx2, 2, lb2, ld2, pb2, wb, wd);
    CHECK_CLOSE(eb[0], 0.7 * 2 + 0.3 * 1, 1e-6);
    CHECK_CLOSE(ed[0], 0.7 * 1 + 0.3 * 2, 1e-6);
    CHECK(eb[1] == 4 && ed[1] == 0.5f);
    /* class 0: max_b = 4 (ex 1), max_d = 1.3 (ex 0) */
    double l1b = 4.0 / 4, l1d = 0.5 / 1.3, l0b = 1.7 / 4, l0d = 1.3 / 1.3;
    CHECK_CLOSE(wd[0], l1b / (l1b + l1d), 1e-5);
    CHECK_CLOSE(wd[1], l0b / (l0b + l0d), 1e-5);
    /* the hard-for-the-biased example gets the larger weight */
    CHECK(wd[0] > wd[1]);
}

static void test_log_files(void) {
    char dir[256], csv[300], svg[300];
    testdir_make(dir, sizeof dir);
    snprintf(csv, sizeof csv, "%s/log.csv", dir);
    snprintf(svg, sizeof svg, "%s/curve.svg", dir);
    tr_epoch_log rows[3] = {
        {0, 1, 0.05, 0.5, 0.8, 0.7, 0.2, 0.4, 0.4, 250.5, 20.25},
        {1, 1, 0.025, 0.25, 0.9, 0.8, 0.5, 0.6, 0.6, 251.0, 19.5},
        {2, 2, NAN, NAN, NAN, 0.9, 0.85, 0.88, 0.85, NAN, 1.5},  /* a DFR row: no SGD figures */
    };
    CHECK(tr_log_write_csv(csv, rows, 3) == ASPIRE_OK);
    tr_epoch_log back[8];
    int n = 0;
    CHECK(tr_log_read_csv(csv, back, 8, &n) == ASPIRE_OK && n == 3);
    CHECK(back[1].epoch == 1 && back[1].stage == 1 && back[1].lr == 0.025 && back[1].val_worst_group == 0.5);
    CHECK(back[2].stage == 2 && isnan(back[2].lr) && back[2].val_worst_class == 0.88);
    CHECK(tr_log_write_svg(svg, rows, 3, 1, "a <title> & more") == ASPIRE_OK);
    FILE *f = fopen(svg, "r");
    static char buf[1 << 15];
    size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[len] = 0;
    CHECK(strncmp(buf, "<svg", 4) == 0 && strstr(buf, "</svg>") != NULL);
    CHECK(strstr(buf, "selected") != NULL);
    CHECK(strstr(buf, "<title>") == NULL);  /* the title is escaped */
    /* a malformed row names the file and line */
    testdir_write(csv, "epoch,stage\n0,1,x\n", 18);
    CHECK(tr_log_read_csv(csv, back, 8, &n) == ASPIRE_ERR_FORMAT);
    CHECK(strstr(aspire_errmsg(), "log.csv:2") != NULL);
    testdir_remove(dir);
}

static double std_of(aspire_resnet *net, const char *name) {
    aspire_tensor *t = aspire_params_find(aspire_resnet_params(net), name);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < t->numel; i++) { s += t->data[i]; s2 += (double)t->data[i] * t->data[i]; }
    return sqrt(s2 / t->numel - (s / t->numel) * (s / t->numel));
}

#define NET(c) aspire_classifier_resnet(c)

/* A classifier of the architecture with init (classifier.h), 64 px, default names. */
static int model_new(aspire_classifier **out, const char *arch, int K, uint64_t seed, const char *init) {
    aspire_classifier_spec spec = {arch, K, NULL, 64, seed, init};
    return aspire_classifier_new(out, &spec, NULL);
}

static void test_model_init(void) {
    aspire_classifier *a = NULL, *b = NULL;
    CHECK(model_new(&a, "reference", 2, 1, "torchvision") == ASPIRE_OK);
    CHECK(model_new(&b, "reference", 2, 1, "pytorch") == ASPIRE_OK);
    /* layer1.0.conv1: (16, 16, 3, 3): Kaiming normal on fan_out 144 vs uniform ±1/sqrt(144) */
    CHECK_CLOSE(std_of(NET(a), "layer1.0.conv1.weight"), sqrt(2.0 / 144), 0.1 * sqrt(2.0 / 144));
    CHECK_CLOSE(std_of(NET(b), "layer1.0.conv1.weight"), 1.0 / sqrt(3.0 * 144), 0.1 / sqrt(3.0 * 144));
    CHECK_CLOSE(std_of(NET(b), "fc.weight"), 1.0 / sqrt(3.0 * 128), 0.25 / sqrt(3.0 * 128));
    aspire_tensor *g = aspire_params_find(aspire_resnet_params(NET(b)), "bn1.weight");
    CHECK(g && g->data[0] == 1.0f);
    aspire_classifier_free(a);
    aspire_classifier_free(b);
    /* neither name: a weights file, which must exist */
    CHECK(model_new(&a, "reference", 2, 1, "xavier") == ASPIRE_ERR_NOTFOUND && a == NULL);
    CHECK(strstr(aspire_errmsg(), "xavier") && strstr(aspire_errmsg(), "torchvision or pytorch"));
    CHECK(model_new(&a, "reference", 2, 1, "") == ASPIRE_ERR_ARG && a == NULL);
    CHECK(model_new(&a, "vgg", 2, 1, NULL) == ASPIRE_ERR_ARG);
}

/* --init FILE: pretrained weights with torchvision names, the head left fresh when the file's has
 * another class count; a file lacking a tensor is refused, naming the file and the tensor. */
static void test_model_init_from_file(void) {
    char dir[256], path[320], bad[320];
    testdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/pre.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    aspire_classifier *src = NULL, *a = NULL, *b = NULL, *c = NULL;
    /* a "pretrained" 10-class network, and a copy of it with one tensor missing */
    CHECK(model_new(&src, "resnet18", 10, 5, "torchvision") == ASPIRE_OK);
    if (!src) { testdir_remove(dir); return; }
    aspire_params *ps = aspire_resnet_params(NET(src));
    CHECK(aspire_params_save(ps, path, NULL, 0) == ASPIRE_OK);
    aspire_params *partial = aspire_params_new();
    for (int i = 0; i < aspire_params_count(ps); i++) {
        const aspire_tensor *t = aspire_params_at(ps, i);
        if (strcmp(t->name, "layer2.0.bn1.running_var") == 0) continue;
        aspire_tensor *u = aspire_params_add(partial, t->name, t->ndim, t->shape, 0);
        memcpy(u->data, t->data, sizeof(float) * (size_t)t->numel);
    }
    CHECK(aspire_params_save(partial, bad, NULL, 0) == ASPIRE_OK);
    aspire_params_free(partial);

    CHECK(model_new(&a, "resnet18", 2, 1, path) == ASPIRE_OK);        /* 2 classes: fc stays fresh */
    CHECK(model_new(&c, "resnet18", 2, 1, "torchvision") == ASPIRE_OK);
    if (a && c) {
        aspire_params *pa = aspire_resnet_params(NET(a)), *pc = aspire_resnet_params(NET(c));
        int same = 0, total = 0;
        for (int i = 0; i < aspire_params_count(pa); i++) {
            const aspire_tensor *t = aspire_params_at(pa, i);
            const aspire_tensor *f = aspire_params_find(strncmp(t->name, "fc.", 3) == 0 ? pc : ps, t->name);
            total++;
            same += f && f->numel == t->numel && memcmp(f->data, t->data, sizeof(float) * (size_t)t->numel) == 0;
        }
        CHECK(total > 60 && same == total);  /* body from the file, head as a fresh init would be */
    }
    CHECK(model_new(&b, "resnet18", 10, 1, path) == ASPIRE_OK);       /* 10 classes: fc loaded too */
    if (b) {
        const aspire_tensor *w = aspire_params_find(aspire_resnet_params(NET(b)), "fc.weight");
        const aspire_tensor *v = aspire_params_find(ps, "fc.weight");
        CHECK(w && v && memcmp(w->data, v->data, sizeof(float) * (size_t)w->numel) == 0);
    }
    aspire_classifier *d = NULL;
    CHECK(model_new(&d, "resnet18", 2, 1, bad) == ASPIRE_ERR_NOTFOUND && d == NULL);
    CHECK(strstr(aspire_errmsg(), "bad.safetensors") && strstr(aspire_errmsg(), "layer2.0.bn1.running_var"));
    CHECK(model_new(&d, "reference", 2, 1, path) != ASPIRE_OK && d == NULL); /* another network's weights */
    CHECK(strstr(aspire_errmsg(), "pre.safetensors") && strstr(aspire_errmsg(), "shape"));
    CHECK(model_new(&d, "resnet18", 2, 1, "/nonexistent/w.safetensors") == ASPIRE_ERR_NOTFOUND && d == NULL);
    CHECK(strstr(aspire_errmsg(), "/nonexistent/w.safetensors") != NULL);
    aspire_classifier_free(src);
    aspire_classifier_free(a);
    aspire_classifier_free(b);
    aspire_classifier_free(c);
    testdir_remove(dir);
}

int main(void) {
    RUN(test_names_and_rules);
    RUN(test_rows_ce);
    RUN(test_samplers);
    RUN(test_dro);
    RUN(test_lff);
    RUN(test_log_files);
    RUN(test_model_init);
    RUN(test_model_init_from_file);
    return TEST_REPORT();
}
