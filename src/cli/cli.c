/* cli.c — option parsing shared by the subcommands. */
#include "cli/cli.h"

#include "aspire/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_default(FILE *f, const cli_opt *o) {
    switch (o->kind) {
    case CLI_STR: if (*(const char **)o->dst) fprintf(f, " [%s]", *(const char **)o->dst); break;
    case CLI_INT: fprintf(f, " [%d]", *(int *)o->dst); break;
    case CLI_I64: fprintf(f, " [%lld]", (long long)*(int64_t *)o->dst); break;
    case CLI_U64: fprintf(f, " [%llu]", (unsigned long long)*(uint64_t *)o->dst); break;
    case CLI_FLOAT: fprintf(f, " [%g]", (double)*(float *)o->dst); break;
    case CLI_DOUBLE: fprintf(f, " [%g]", *(double *)o->dst); break;
    case CLI_FLAG: break;
    }
}

/* Asked for (--help): stdout, as any command's output. */
void cli_usage(const char *cmd, const char *summary, const cli_opt *opts, int nopts) {
    FILE *f = stdout;
    fprintf(f, "usage: aspire %s [options]\n%s\n\noptions:\n", cmd, summary ? summary : "");
    for (int i = 0; i < nopts; i++) {
        const char *arg = opts[i].kind == CLI_FLAG ? "" : opts[i].kind == CLI_STR ? " VALUE" : " N";
        char left[64];
        snprintf(left, sizeof left, "%s%s", opts[i].name, arg);
        fprintf(f, "  %-22s %s", left, opts[i].help);
        print_default(f, &opts[i]);
        fputc('\n', f);
    }
}

/* Options that count something or seed something: a negative value is a mistake whatever the
 * command (a seed is stored as an unsigned 64-bit number, so -1 would come back as 2^64 - 1). */
static int must_be_nonnegative(const cli_opt *o) {
    static const char *const names[] = {"--threads", "--seed", "--corpus-seed"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(o->name, names[i]) == 0) return o->kind == CLI_INT || o->kind == CLI_I64;
    return 0;
}

/* "-5", " -5": strtoull would wrap these around instead of refusing them. */
static int has_minus(const char *v) {
    while (*v == ' ' || *v == '\t') v++;
    return *v == '-';
}

int cli_fail(const char *cmd, const char *msg) {
    fprintf(stderr, "aspire %s: %s\n", cmd, msg ? msg : aspire_errmsg());
    return 1;
}

int cli_parse_ints(const char *s, int *v, int max, int hi) {
    int n = 0;
    while (*s) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x < 1 || x > hi || n == max) return -1;
        v[n++] = (int)x;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return n;
}

static int parse_value(const char *cmd, const cli_opt *o, const char *v) {
    char *end = NULL;
    errno = 0;
    if (o->kind != CLI_STR && o->kind != CLI_FLAG && !*v) {  /* strto* would read "" as 0 */
        fprintf(stderr, "aspire %s: %s expects a number, got ''\n", cmd, o->name);
        return 2;
    }
    switch (o->kind) {
    case CLI_STR: *(const char **)o->dst = v; return 0;
    case CLI_INT: { long x = strtol(v, &end, 10); if (*end || errno || x < -2147483647L || x > 2147483647L) break; *(int *)o->dst = (int)x; return 0; }
    case CLI_I64: { long long x = strtoll(v, &end, 10); if (*end || errno) break; *(int64_t *)o->dst = x; return 0; }
    case CLI_U64: {
        unsigned long long x = strtoull(v, &end, 10);
        if (*end || errno || has_minus(v)) {
            fprintf(stderr, "aspire %s: %s expects a number from 0 to %llu, got '%s'\n", cmd, o->name,
                    (unsigned long long)UINT64_MAX, v);
            return 2;
        }
        *(uint64_t *)o->dst = x;
        return 0;
    }
    case CLI_FLOAT: { float x = strtof(v, &end); if (*end || errno) break; *(float *)o->dst = x; return 0; }
    case CLI_DOUBLE: { double x = strtod(v, &end); if (*end || errno) break; *(double *)o->dst = x; return 0; }
    case CLI_FLAG: return 0;
    }
    fprintf(stderr, "aspire %s: %s expects a number, got '%s'\n", cmd, o->name, v);
    return 2;
}

int cli_parse(const char *cmd, const char *summary, int argc, char **argv, const cli_opt *opts, int nopts,
              const char **positional, int max_positional, int *npositional) {
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { cli_usage(cmd, summary, opts, nopts); return -1; }
        if (strncmp(a, "--", 2) != 0) {
            if (!positional || npos >= max_positional) {
                fprintf(stderr, "aspire %s: unexpected argument '%s' (see aspire %s --help)\n", cmd, a, cmd);
                return 2;
            }
            positional[npos++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const cli_opt *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == len && strncmp(opts[k].name, a, len) == 0) o = &opts[k];
        if (!o) {
            fprintf(stderr, "aspire %s: unknown option '%.*s' (see aspire %s --help)\n", cmd, (int)len, a, cmd);
            return 2;
        }
        if (o->kind == CLI_FLAG) {
            if (eq) { fprintf(stderr, "aspire %s: %s takes no value\n", cmd, o->name); return 2; }
            *(int *)o->dst = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) { fprintf(stderr, "aspire %s: %s needs a value\n", cmd, o->name); return 2; }
        int rc = parse_value(cmd, o, v);
        if (rc) return rc;
        if (must_be_nonnegative(o) && has_minus(v)) {
            fprintf(stderr, "aspire %s: %s must not be negative, got '%s'\n", cmd, o->name, v);
            return 2;
        }
    }
    if (npositional) *npositional = npos;
    return 0;
}
