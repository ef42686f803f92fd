/* config.c — the training configuration: defaults, its JSON form in train.json (written so that a
 * run can be repeated exactly, read back for --resume and for evaluation), and the equivalent
 * command line. */
#include "train/train_config.h"

#include "aspire/fileio.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

aspire_train_config aspire_train_config_default(void) {
    aspire_train_config c;
    memset(&c, 0, sizeof c);
    c.method = ASPIRE_METHOD_ERM;
    c.arch = "reference";
    c.init = "torchvision";
    c.image_size = 64;
    c.epochs = 8;
    c.batch = 64;
    c.lr = 0.05;
    c.momentum = 0.9;
    c.weight_decay = 1e-4;
    c.flip = 1;
    c.seed = 0;
    c.threads = 0;
    c.jtt_epochs = 2;
    c.jtt_up = 20;
    c.lff_q = 0.7;
    c.lff_ema = 0.7;
    c.dro_eta = 0.01;
    c.dro_adj = 0;
    c.dfr_retrains = 10;
    c.progress = 1;
    return c;
}

/* The shortest text that reads back as exactly v (%.15g, %.16g or %.17g): cJSON's own number
 * printing may drop the last bit (found by fuzz_train_json), and the repeat command used %g. */
static const char *exact(double v, char *buf, size_t n) {
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, n, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

/* A real-valued field written exactly (cJSON_AddNumberToObject may round it). */
static void add_real(cJSON *o, const char *key, double v) {
    char buf[40];
    if (isfinite(v)) cJSON_AddRawToObject(o, key, exact(v, buf, sizeof buf));
    else cJSON_AddNullToObject(o, key);  /* never stored by a checked config */
}

cJSON *tr_config_to_json(const aspire_train_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "data_dir", c->data_dir ? c->data_dir : "");
    if (c->extra_dir) cJSON_AddStringToObject(o, "extra_dir", c->extra_dir);
    else cJSON_AddNullToObject(o, "extra_dir");
    cJSON_AddStringToObject(o, "method", aspire_method_name(c->method));
    cJSON_AddStringToObject(o, "arch", c->arch);
    cJSON_AddStringToObject(o, "init", c->init ? c->init : "torchvision");
    cJSON_AddNumberToObject(o, "image_size", c->image_size);
    cJSON_AddNumberToObject(o, "epochs", c->epochs);
    cJSON_AddNumberToObject(o, "batch", c->batch);
    add_real(o, "lr", c->lr);
    add_real(o, "momentum", c->momentum);
    add_real(o, "weight_decay", c->weight_decay);
    cJSON_AddStringToObject(o, "schedule", "cosine");
    cJSON_AddBoolToObject(o, "flip", c->flip);
    cJSON_AddStringToObject(o, "normalize", "(x/255 - 0.5) / 0.25");
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    cJSON_AddStringToObject(o, "seed", seed);  /* a string: JSON numbers lose 64-bit integers */
    cJSON_AddNumberToObject(o, "threads", c->threads);
    cJSON_AddNumberToObject(o, "jtt_epochs", c->jtt_epochs);
    add_real(o, "jtt_up", c->jtt_up);
    add_real(o, "lff_q", c->lff_q);
    add_real(o, "lff_ema", c->lff_ema);
    add_real(o, "dro_eta", c->dro_eta);
    add_real(o, "dro_adj", c->dro_adj);
    cJSON_AddNumberToObject(o, "dfr_retrains", c->dfr_retrains);
    if (c->base_run) cJSON_AddStringToObject(o, "base_run", c->base_run);
    else cJSON_AddNullToObject(o, "base_run");
    char lt[32];   /* exactly: cJSON prints numbers with 15 digits, and 8000000000000001 became 8e+15 */
    snprintf(lt, sizeof lt, "%lld", (long long)c->limit_train);
    cJSON_AddRawToObject(o, "limit_train", lt);
    if (c->allow_outside_paths) cJSON_AddBoolToObject(o, "allow_outside_paths", 1);
    if (c->data_fingerprint) cJSON_AddStringToObject(o, "data_fingerprint", c->data_fingerprint);
    if (c->extra_fingerprint) cJSON_AddStringToObject(o, "extra_fingerprint", c->extra_fingerprint);
    return o;
}

static int get_num(const cJSON *o, const char *key, double *v, const char *path) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it)) return aspire_error(ASPIRE_ERR_FORMAT, "%s: config field '%s' is missing or not a number", path, key);
    if (!isfinite(it->valuedouble))  /* 1e999 parses as infinity */
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: config field '%s' is not a finite number", path, key);
    *v = it->valuedouble;
    return ASPIRE_OK;
}

static int get_int(const cJSON *o, const char *key, int *v, const char *path) {
    double d = 0;
    int rc = get_num(o, key, &d, path);
    if (rc) return rc;
    if (d != floor(d) || d < INT_MIN || d > INT_MAX)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: config field '%s' is not an integer", path, key);
    *v = (int)d;
    return ASPIRE_OK;
}

/* A string field (NULL allowed when nullable) copied into strings->s[slot]. */
static int get_str(const cJSON *o, const char *key, const char **v, int nullable, aspire_train_strings *st, int slot,
                   const char *path) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (nullable && (!it || cJSON_IsNull(it))) { *v = NULL; return ASPIRE_OK; }
    if (!cJSON_IsString(it)) return aspire_error(ASPIRE_ERR_FORMAT, "%s: config field '%s' is missing or not a string", path, key);
    st->s[slot] = aspire_strdup(it->valuestring);
    if (!st->s[slot]) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    *v = st->s[slot];
    return ASPIRE_OK;
}

int tr_config_from_json(const cJSON *o, aspire_train_config *c, aspire_train_strings *st, const char *path) {
    *c = aspire_train_config_default();
    const char *method = NULL, *seed = NULL;
    double d = 0;
    int rc = get_str(o, "data_dir", &c->data_dir, 0, st, 0, path);
    if (!rc) rc = get_str(o, "extra_dir", &c->extra_dir, 1, st, 1, path);
    if (!rc) rc = get_str(o, "arch", &c->arch, 0, st, 2, path);
    if (!rc) rc = get_str(o, "base_run", &c->base_run, 1, st, 3, path);
    if (!rc) rc = get_str(o, "method", &method, 0, st, 4, path);
    if (!rc) rc = get_str(o, "seed", &seed, 0, st, 5, path);
    if (!rc) {  /* "init" came later: runs written before it used the torchvision init */
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "init");
        if (it) rc = get_str(o, "init", &c->init, 0, st, 6, path);
    }
    if (!rc && cJSON_GetObjectItemCaseSensitive(o, "data_fingerprint"))  /* runs before it have none */
        rc = get_str(o, "data_fingerprint", &c->data_fingerprint, 0, st, 7, path);
    if (!rc && cJSON_GetObjectItemCaseSensitive(o, "extra_fingerprint"))
        rc = get_str(o, "extra_fingerprint", &c->extra_fingerprint, 0, st, 12, path);
    if (!rc && aspire_method_parse(method, &c->method)) rc = aspire_error_prefix(ASPIRE_ERR_FORMAT, "%s", path);
    if (!rc) {
        char *end = NULL;
        c->seed = strtoull(seed, &end, 10);
        if (!*seed || *end) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: config field 'seed' is not an integer", path);
    }
    if (!rc) rc = get_int(o, "image_size", &c->image_size, path);
    if (!rc) rc = get_int(o, "epochs", &c->epochs, path);
    if (!rc) rc = get_int(o, "batch", &c->batch, path);
    if (!rc) rc = get_num(o, "lr", &c->lr, path);
    if (!rc) rc = get_num(o, "momentum", &c->momentum, path);
    if (!rc) rc = get_num(o, "weight_decay", &c->weight_decay, path);
    if (!rc) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "flip");
        if (!cJSON_IsBool(f)) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: config field 'flip' is not true/false", path);
        else c->flip = cJSON_IsTrue(f);
    }
    if (!rc) rc = get_int(o, "threads", &c->threads, path);
    if (!rc) rc = get_int(o, "jtt_epochs", &c->jtt_epochs, path);
    if (!rc) rc = get_num(o, "jtt_up", &c->jtt_up, path);
    if (!rc) rc = get_num(o, "lff_q", &c->lff_q, path);
    if (!rc) rc = get_num(o, "lff_ema", &c->lff_ema, path);
    if (!rc) rc = get_num(o, "dro_eta", &c->dro_eta, path);
    if (!rc) rc = get_num(o, "dro_adj", &c->dro_adj, path);
    if (!rc) rc = get_int(o, "dfr_retrains", &c->dfr_retrains, path);
    if (!rc && !(rc = get_num(o, "limit_train", &d, path))) {
        if (d != floor(d) || d < 0 || d > 9.0e15)
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: config field 'limit_train' is not a whole number >= 0", path);
        else c->limit_train = (int64_t)d;  /* converted only once in range (1e90 would be undefined) */
    }
    const cJSON *ao = cJSON_GetObjectItemCaseSensitive(o, "allow_outside_paths");
    if (!rc && ao && !cJSON_IsBool(ao)) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: config field 'allow_outside_paths' is not true/false", path);
    if (!rc) c->allow_outside_paths = cJSON_IsTrue(ao);
    if (!rc) rc = tr_config_check(c, path);
    return rc;
}

/* ---- ranges ----------------------------------------------------------------------------------
 * One table for the command line and train.json, so that what is read back is checked exactly as
 * strictly as what was typed. */
typedef struct num_rule {
    const char *option, *field;  /* "--lr", "lr" */
    size_t offset;
    char kind;                   /* 'i' int, 'l' int64_t, 'd' double */
    double lo, hi;
    int lo_open;                 /* 1: lo itself is excluded */
    int hi_open;
} num_rule;

#define RULE(opt, fld, member, kind, lo, hi, lo_open, hi_open) \
    {opt, fld, offsetof(aspire_train_config, member), kind, lo, hi, lo_open, hi_open}
static const num_rule rules[] = {
    RULE("--size", "image_size", image_size, 'i', 8, 1024, 0, 0),
    RULE("--epochs", "epochs", epochs, 'i', 1, 1000, 0, 0),
    RULE("--batch", "batch", batch, 'i', 1, 4096, 0, 0),
    RULE("--lr", "lr", lr, 'd', 0, 10, 1, 0),
    RULE("--momentum", "momentum", momentum, 'd', 0, 1, 0, 1),
    RULE("--wd", "weight_decay", weight_decay, 'd', 0, 1, 0, 0),
    RULE("--threads", "threads", threads, 'i', 0, 4096, 0, 0),
    RULE("--jtt-epochs", "jtt_epochs", jtt_epochs, 'i', 1, 1000, 0, 0),
    RULE("--jtt-up", "jtt_up", jtt_up, 'd', 1, 1e6, 0, 0),
    RULE("--lff-q", "lff_q", lff_q, 'd', 0, 1, 1, 0),
    RULE("--lff-ema", "lff_ema", lff_ema, 'd', 0, 1, 0, 1),
    RULE("--dro-eta", "dro_eta", dro_eta, 'd', 0, 1, 0, 0),
    RULE("--dro-adj", "dro_adj", dro_adj, 'd', 0, 100, 0, 0),
    RULE("--dfr-retrains", "dfr_retrains", dfr_retrains, 'i', 1, 1000, 0, 0),
    RULE("--limit-train", "limit_train", limit_train, 'l', 0, 9.0e15, 0, 0),
    RULE("--stop-after", NULL, stop_after, 'i', 0, 1e6, 0, 0),
};
#undef RULE

static double rule_value(const aspire_train_config *c, const num_rule *r) {
    const char *base = (const char *)c + r->offset;
    if (r->kind == 'i') return *(const int *)(const void *)base;
    if (r->kind == 'l') return (double)*(const int64_t *)(const void *)base;
    return *(const double *)(const void *)base;
}

static int rule_check(const aspire_train_config *c, const num_rule *r, const char *path) {
    double v = rule_value(c, r);
    int ok = isfinite(v) && (r->lo_open ? v > r->lo : v >= r->lo) && (r->hi_open ? v < r->hi : v <= r->hi);
    if (ok) return ASPIRE_OK;
    char range[96];
    if (r->kind == 'd')
        snprintf(range, sizeof range, "a finite number in %c%g, %g%c", r->lo_open ? '(' : '[', r->lo, r->hi, r->hi_open ? ')' : ']');
    else
        snprintf(range, sizeof range, "a whole number from %.0f to %.0f", r->lo, r->hi);
    if (path) return aspire_error(ASPIRE_ERR_FORMAT, "%s: config field '%s' must be %s, found %g", path, r->field, range, v);
    return aspire_error(ASPIRE_ERR_ARG, "%s must be %s, got %g", r->option, range, v);
}

int tr_config_check(const aspire_train_config *c, const char *path) {
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (path && !rules[i].field) continue;  /* not stored */
        int rc = rule_check(c, &rules[i], path);
        if (rc) return rc;
    }
    return ASPIRE_OK;
}

int tr_config_parse(const char *text, size_t n, aspire_train_config *cfg, aspire_train_strings *strings, const char *path) {
    memset(strings, 0, sizeof *strings);
    cJSON *root = cJSON_ParseWithLength(text, n);
    const cJSON *conf = root ? cJSON_GetObjectItemCaseSensitive(root, "config") : NULL;
    int rc;
    if (!root) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: not valid JSON (near byte %ld)", path,
                                 (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - text : 0));
    else if (!cJSON_IsObject(conf)) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: no \"config\" object", path);
    else rc = tr_config_from_json(conf, cfg, strings, path);
    cJSON_Delete(root);
    if (rc) aspire_train_config_strings_free(strings);
    return rc;
}

int aspire_train_config_load(const char *run_dir, aspire_train_config *cfg, aspire_train_strings *strings) {
    memset(strings, 0, sizeof *strings);
    char *path = aspire_path_join(run_dir, "train.json");
    if (!path) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    char *buf = NULL;
    size_t n = 0;
    int rc = aspire_read_file_max(path, &buf, &n, (size_t)64 << 20);
    if (!rc) {
        rc = tr_config_parse(buf, n, cfg, strings, path);
        aspire_free(buf, n + 1);
    }
    aspire_strfree(path);
    return rc;
}

void aspire_train_config_strings_free(aspire_train_strings *strings) {
    if (!strings) return;
    for (int i = 0; i < (int)(sizeof strings->s / sizeof strings->s[0]); i++) {
        aspire_strfree(strings->s[i]);
        strings->s[i] = NULL;
    }
}

/* A growing command line: `k` counts what was asked for, so an overflow is seen at the end. */
typedef struct {
    char *buf;
    size_t n, k;
} cmdline;

static void cl_raw(cmdline *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cl_raw(cmdline *cl, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(cl->k < cl->n ? cl->buf + cl->k : NULL, cl->k < cl->n ? cl->n - cl->k : 0, fmt, ap);
    va_end(ap);
    if (w > 0) cl->k += (size_t)w;
}

/* Appends " FLAG VALUE" with VALUE quoted for a POSIX shell when it holds anything but
 * [A-Za-z0-9_./:=+@%,-] (a path with a space or a quote still repeats the run when pasted). */
static void cl_arg(cmdline *cl, const char *flag, const char *value) {
    int plain = value[0] != '\0';
    for (const char *q = value; *q && plain; q++)
        plain = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || strchr("_./:=+@%,-", *q);
    if (plain) {
        cl_raw(cl, " %s %s", flag, value);
        return;
    }
    cl_raw(cl, " %s '", flag);
    for (const char *q = value; *q; q++) {
        if (*q == '\'') cl_raw(cl, "'\\''");
        else cl_raw(cl, "%c", *q);
    }
    cl_raw(cl, "'");
}

int tr_config_command(const aspire_train_config *c, char *buf, size_t n) {
    cmdline cl = {buf, n, 0};
    if (n) buf[0] = '\0';
    cl_raw(&cl, "aspire train");
    cl_arg(&cl, "--data", c->data_dir);
    cl_raw(&cl, " --method %s", aspire_method_name(c->method));
    cl_arg(&cl, "--out", c->out_dir ? c->out_dir : "RUNDIR");
    cl_arg(&cl, "--arch", c->arch);
    cl_arg(&cl, "--init", c->init ? c->init : "torchvision");
    char a[40], b[40], d[40];
    cl_raw(&cl, " --size %d --epochs %d --batch %d --lr %s --momentum %s --wd %s%s --seed %llu", c->image_size, c->epochs,
           c->batch, exact(c->lr, a, sizeof a), exact(c->momentum, b, sizeof b), exact(c->weight_decay, d, sizeof d),
           c->flip ? "" : " --no-flip", (unsigned long long)c->seed);
    if (c->extra_dir) cl_arg(&cl, "--extra", c->extra_dir);
    if (c->threads) cl_raw(&cl, " --threads %d", c->threads);
    if (c->method == ASPIRE_METHOD_JTT) cl_raw(&cl, " --jtt-epochs %d --jtt-up %s", c->jtt_epochs, exact(c->jtt_up, a, sizeof a));
    if (c->method == ASPIRE_METHOD_LFF) cl_raw(&cl, " --lff-q %s --lff-ema %s", exact(c->lff_q, a, sizeof a), exact(c->lff_ema, b, sizeof b));
    if (c->method == ASPIRE_METHOD_GROUPDRO)
        cl_raw(&cl, " --dro-eta %s --dro-adj %s", exact(c->dro_eta, a, sizeof a), exact(c->dro_adj, b, sizeof b));
    if (c->method == ASPIRE_METHOD_DFR) {
        cl_raw(&cl, " --dfr-retrains %d", c->dfr_retrains);
        if (c->base_run) cl_arg(&cl, "--base", c->base_run);
    }
    if (c->limit_train) cl_raw(&cl, " --limit-train %lld", (long long)c->limit_train);
    return cl.k < n ? ASPIRE_OK : aspire_error(ASPIRE_ERR_ARG, "command line longer than %zu bytes", n);
}
