/* metrics.c — group accuracy counters, the average conventions, worst-group / worst-class
 * accuracy, the table and JSON forms of them, and the model-selection rules. */
#include "aspire/metrics.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int aspire_metrics_init(aspire_metrics *m, int nclasses, int nplaces) {
    ASPIRE_ASSERT(nclasses >= 1 && nplaces >= 1);
    memset(m, 0, sizeof *m);
    size_t g = (size_t)nclasses * (size_t)nplaces;
    m->nclasses = nclasses;
    m->nplaces = nplaces;
    m->group_n = aspire_calloc(g, sizeof(int64_t));
    m->group_correct = aspire_calloc(g, sizeof(int64_t));
    m->class_n = aspire_calloc((size_t)nclasses, sizeof(int64_t));
    m->class_correct = aspire_calloc((size_t)nclasses, sizeof(int64_t));
    if (!m->group_n || !m->group_correct || !m->class_n || !m->class_correct) {
        aspire_metrics_destroy(m);
        return aspire_error(ASPIRE_ERR_NOMEM, "metrics: out of memory");
    }
    return ASPIRE_OK;
}

void aspire_metrics_destroy(aspire_metrics *m) {
    if (!m) return;
    size_t g = (size_t)m->nclasses * (size_t)m->nplaces;
    aspire_free(m->group_n, g * sizeof(int64_t));
    aspire_free(m->group_correct, g * sizeof(int64_t));
    aspire_free(m->class_n, (size_t)m->nclasses * sizeof(int64_t));
    aspire_free(m->class_correct, (size_t)m->nclasses * sizeof(int64_t));
    memset(m, 0, sizeof *m);
}

void aspire_metrics_reset(aspire_metrics *m) {
    size_t g = (size_t)m->nclasses * (size_t)m->nplaces;
    memset(m->group_n, 0, g * sizeof(int64_t));
    memset(m->group_correct, 0, g * sizeof(int64_t));
    memset(m->class_n, 0, (size_t)m->nclasses * sizeof(int64_t));
    memset(m->class_correct, 0, (size_t)m->nclasses * sizeof(int64_t));
}

void aspire_metrics_add(aspire_metrics *m, int y, int place, int pred) {
    ASPIRE_ASSERT(y >= 0 && y < m->nclasses, "(label %d of %d classes)", y, m->nclasses);
    ASPIRE_ASSERT(place < m->nplaces, "(place %d of %d)", place, m->nplaces);
    int ok = pred == y;
    m->class_n[y]++;
    m->class_correct[y] += ok;
    if (place >= 0) {
        int g = y * m->nplaces + place;
        m->group_n[g]++;
        m->group_correct[g] += ok;
    }
}

void aspire_metrics_add_batch(aspire_metrics *m, int64_t n, const int32_t *y, const int32_t *place,
                              const int32_t *pred) {
    for (int64_t i = 0; i < n; i++) aspire_metrics_add(m, y[i], place ? place[i] : -1, pred[i]);
}

double aspire_metrics_group_acc(const aspire_metrics *m, int group) {
    ASPIRE_ASSERT(group >= 0 && group < m->nclasses * m->nplaces);
    return m->group_n[group] ? (double)m->group_correct[group] / (double)m->group_n[group] : NAN;
}

double aspire_metrics_class_acc(const aspire_metrics *m, int y) {
    ASPIRE_ASSERT(y >= 0 && y < m->nclasses);
    return m->class_n[y] ? (double)m->class_correct[y] / (double)m->class_n[y] : NAN;
}

aspire_metrics_summary aspire_metrics_summarize(const aspire_metrics *m, const int64_t *train_group_n) {
    aspire_metrics_summary s = {0};
    s.mean = s.group_mean = s.weighted_mean = s.worst_group = s.worst_class = NAN;
    s.worst_group_id = s.worst_class_id = -1;
    int64_t n = 0, correct = 0;
    for (int y = 0; y < m->nclasses; y++) {
        n += m->class_n[y];
        correct += m->class_correct[y];
        double a = aspire_metrics_class_acc(m, y);
        if (!isnan(a) && (s.worst_class_id < 0 || a < s.worst_class)) { s.worst_class = a; s.worst_class_id = y; }
    }
    s.n = n;
    if (n) s.mean = (double)correct / (double)n;
    int G = m->nclasses * m->nplaces, ng = 0;
    double sum = 0, wsum = 0, wtot = 0;
    for (int g = 0; g < G; g++) {
        double a = aspire_metrics_group_acc(m, g);
        if (isnan(a)) continue;
        ng++;
        sum += a;
        if (s.worst_group_id < 0 || a < s.worst_group) { s.worst_group = a; s.worst_group_id = g; }
        if (train_group_n) { wsum += (double)train_group_n[g] * a; wtot += (double)train_group_n[g]; }
    }
    if (ng) s.group_mean = sum / ng;
    if (train_group_n && wtot > 0) s.weighted_mean = wsum / wtot;
    return s;
}

static void name_of(char *buf, size_t n, const char *const *names, int i) {
    if (names && names[i]) snprintf(buf, n, "%s", names[i]);
    else snprintf(buf, n, "%d", i);
}

static void print_pct(FILE *f, double a) {
    if (isnan(a)) fprintf(f, "     -");
    else fprintf(f, "%6.2f", 100.0 * a);
}

void aspire_metrics_print(FILE *f, const aspire_metrics *m, const aspire_metrics_summary *s,
                          const char *const *class_names, const char *const *place_names) {
    char yb[64], pb[64];
    fprintf(f, "%-5s %-14s %-14s %8s %8s\n", "group", "class (y)", "place", "n", "acc %");
    for (int g = 0; g < m->nclasses * m->nplaces; g++) {
        int y = g / m->nplaces, p = g % m->nplaces;
        name_of(yb, sizeof yb, class_names, y);
        name_of(pb, sizeof pb, place_names, p);
        fprintf(f, "%-5d %-14s %-14s %8lld   ", g, yb, pb, (long long)m->group_n[g]);
        print_pct(f, aspire_metrics_group_acc(m, g));
        fputc('\n', f);
    }
    fprintf(f, "\n%-58s ", "mean accuracy (plain, over all examples)");
    print_pct(f, s->mean);
    fprintf(f, "\n%-58s ", "group mean (unweighted mean of group accuracies)");
    print_pct(f, s->group_mean);
    fprintf(f, "\n%-58s ", "weighted mean (group accuracies x training proportions)");
    print_pct(f, s->weighted_mean);
    if (s->worst_group_id >= 0) {
        name_of(yb, sizeof yb, class_names, s->worst_group_id / m->nplaces);
        name_of(pb, sizeof pb, place_names, s->worst_group_id % m->nplaces);
    }
    char lab[192];
    snprintf(lab, sizeof lab, "worst-group accuracy (group %d: %s / %s)", s->worst_group_id,
             s->worst_group_id >= 0 ? yb : "-", s->worst_group_id >= 0 ? pb : "-");
    fprintf(f, "\n%-58s ", lab);
    print_pct(f, s->worst_group);
    if (s->worst_class_id >= 0) name_of(yb, sizeof yb, class_names, s->worst_class_id);
    snprintf(lab, sizeof lab, "worst-class accuracy (class %s)", s->worst_class_id >= 0 ? yb : "-");
    fprintf(f, "\n%-58s ", lab);
    print_pct(f, s->worst_class);
    fputc('\n', f);
}

static cJSON *num_or_null(double v) { return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v); }

char *aspire_metrics_to_json(const aspire_metrics *m, const aspire_metrics_summary *s) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "n", (double)s->n);
    cJSON_AddItemToObject(o, "mean", num_or_null(s->mean));
    cJSON_AddItemToObject(o, "group_mean", num_or_null(s->group_mean));
    cJSON_AddItemToObject(o, "weighted_mean", num_or_null(s->weighted_mean));
    cJSON_AddItemToObject(o, "worst_group", num_or_null(s->worst_group));
    cJSON_AddNumberToObject(o, "worst_group_id", s->worst_group_id);
    cJSON_AddItemToObject(o, "worst_class", num_or_null(s->worst_class));
    cJSON_AddNumberToObject(o, "worst_class_id", s->worst_class_id);
    cJSON *groups = cJSON_AddArrayToObject(o, "groups");
    for (int g = 0; groups && g < m->nclasses * m->nplaces; g++) {
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        cJSON_AddNumberToObject(e, "y", g / m->nplaces);
        cJSON_AddNumberToObject(e, "place", g % m->nplaces);
        cJSON_AddNumberToObject(e, "n", (double)m->group_n[g]);
        cJSON_AddItemToObject(e, "acc", num_or_null(aspire_metrics_group_acc(m, g)));
        cJSON_AddItemToArray(groups, e);
    }
    cJSON *classes = cJSON_AddArrayToObject(o, "classes");
    for (int y = 0; classes && y < m->nclasses; y++) {
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        cJSON_AddNumberToObject(e, "y", y);
        cJSON_AddNumberToObject(e, "n", (double)m->class_n[y]);
        cJSON_AddItemToObject(e, "acc", num_or_null(aspire_metrics_class_acc(m, y)));
        cJSON_AddItemToArray(classes, e);
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt) { aspire_error(ASPIRE_ERR_NOMEM, "metrics: out of memory"); return NULL; }
    char *out = aspire_strdup(txt);
    cJSON_free(txt);
    return out;
}

const char *aspire_select_rule_name(aspire_select_rule r) {
    return r == ASPIRE_SELECT_WORST_GROUP ? "worst_group" : "worst_class";
}

int aspire_select_rule_parse(const char *name, aspire_select_rule *out) {
    if (strcmp(name, "worst_group") == 0) { *out = ASPIRE_SELECT_WORST_GROUP; return ASPIRE_OK; }
    if (strcmp(name, "worst_class") == 0) { *out = ASPIRE_SELECT_WORST_CLASS; return ASPIRE_OK; }
    return aspire_error(ASPIRE_ERR_ARG, "unknown selection rule '%s' (worst_group or worst_class)", name);
}

double aspire_select_score(const aspire_metrics_summary *s, aspire_select_rule r) {
    double v = r == ASPIRE_SELECT_WORST_GROUP ? s->worst_group : s->worst_class;
    return isnan(v) ? -1.0 : v;
}

int aspire_select_better(const aspire_metrics_summary *cand, const aspire_metrics_summary *best,
                         aspire_select_rule r) {
    if (!best) return 1;
    double a = aspire_select_score(cand, r), b = aspire_select_score(best, r);
    if (a != b) return a > b;
    double ma = isnan(cand->mean) ? -1.0 : cand->mean, mb = isnan(best->mean) ? -1.0 : best->mean;
    return ma > mb;
}
