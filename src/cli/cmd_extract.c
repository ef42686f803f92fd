/* cmd_extract.c — `aspire extract`: the options of the extract stage (stage_extract.h): captions
 * (CSV `path,caption`) + a dataset's metadata.csv → JSON lines of foreground, background and
 * alternative background. `--text` extracts one caption and prints its line, for trying the
 * extractor out. */
#include "cli/cli.h"

#include "aspire/classifier.h"
#include "aspire/stage_extract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits "a,b,c" into new strings; returns the count or -1. */
static int split_classes(const char *spec, char **names, int max) {
    int n = 0;
    const char *p = spec;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        while (l && (*p == ' ')) { p++; l--; }
        while (l && p[l - 1] == ' ') l--;
        if (n == max || l == 0) goto fail;
        if (!(names[n] = malloc(l + 1))) goto fail;
        memcpy(names[n], p, l);
        names[n++][l] = 0;
        if (!e) break;
        p = e + 1;
        if (!*p) goto fail;
    }
    return n;
fail:
    for (int i = 0; i < n; i++) free(names[i]);
    return -1;
}

/* --text: one caption's record on stdout. */
static int extract_text(char **names, int nclasses, const char *text, int cls) {
    if (cls < 0 || cls >= nclasses) {
        fprintf(stderr, "aspire extract: --class %d out of range (%d classes)\n", cls, nclasses);
        return 2;
    }
    aspire_extractor *ex = NULL;
    aspire_extraction e = {0};
    int rc = aspire_extractor_new_wordnet((const char *const *)names, nclasses, &ex);
    if (!rc) rc = aspire_extractor_extract(ex, text, cls, &e);
    if (!rc) rc = aspire_extractor_alternates(ex, &e, &cls, 1);
    cJSON *o = rc ? NULL : aspire_extract_record(NULL, NULL, text, cls, names[cls], &e);
    char *line = o ? cJSON_PrintUnformatted(o) : NULL;
    if (line) printf("%s\n", line);
    cJSON_free(line);
    cJSON_Delete(o);
    aspire_extraction_destroy(&e);
    aspire_extractor_free(ex);
    if (rc) return cli_fail("extract", NULL);
    return line ? 0 : cli_fail("extract", "out of memory");
}

int cmd_extract(int argc, char **argv) {
    const char *captions = NULL, *data = NULL, *out = NULL, *classes = NULL, *text = NULL;
    int cls = 0, quiet = 0;
    const cli_opt opts[] = {
        {"--captions", CLI_STR, &captions, "captions CSV with columns path,caption"},
        {"--data", CLI_STR, &data, "dataset folder with metadata.csv (img_id, img_filename, y)"},
        {"--out", CLI_STR, &out, "JSON lines to write"},
        {"--classes", CLI_STR, &classes, "class names in order of y, comma-separated (default: the dataset's, or landbird,waterbird with --text)"},
        {"--text", CLI_STR, &text, "extract this one caption and print its line (no files)"},
        {"--class", CLI_INT, &cls, "the class of --text"},
        {"--quiet", CLI_FLAG, &quiet, "no summary on stderr"},
    };
    const char *summary =
        "Name each caption's foreground objects (without the class's own object), its background and an\n"
        "alternative background, with the built-in WordNet extractor (the paper's LLM step).";
    int rc = cli_parse("extract", summary, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!text && (!captions || !data || !out)) {
        fprintf(stderr, "aspire extract: --captions, --data and --out are needed (or --text)\n");
        return 2;
    }
    char *names[ASPIRE_EXTRACT_MAX_CLASSES];
    int nclasses = 0;
    if (classes || text) {
        char dflt[160], a[64], b[64];  /* --text alone: the default names of two classes */
        snprintf(dflt, sizeof dflt, "%s,%s", aspire_default_class_name(0, 2, a, sizeof a), aspire_default_class_name(1, 2, b, sizeof b));
        nclasses = split_classes(classes ? classes : dflt, names, ASPIRE_EXTRACT_MAX_CLASSES);
        if (nclasses < 1) {
            fprintf(stderr, "aspire extract: --classes wants 1 to %d non-empty names separated by commas\n", ASPIRE_EXTRACT_MAX_CLASSES);
            return 2;
        }
    }
    int status = 0;
    if (text) {
        status = extract_text(names, nclasses, text, cls);
    } else {
        aspire_extract_options o = {captions, data, out, nclasses ? (const char *const *)names : NULL, nclasses, !quiet, NULL};
        if (aspire_extract_run(&o)) status = cli_fail("extract", NULL);
    }
    for (int c = 0; c < nclasses; c++) free(names[c]);
    return status;
}
