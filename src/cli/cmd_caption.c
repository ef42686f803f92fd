/* cmd_caption.c — `aspire caption`: captions the images of a dataset in Waterbirds layout with the
 * built-in captioner and writes captions.csv (path,caption; the reference implementation's format,
 * path = img_filename relative to the dataset folder), atomically. */
#include "cli/cli.h"

#include "aspire/captioner.h"
#include "aspire/csv.h"
#include "aspire/fileio.h"
#include "aspire/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

int cmd_caption(int argc, char **argv) {
    const char *data = NULL, *split = "all", *out = "captions.csv", *model = NULL;
    int beam = 1, batch = 64, threads = 0, quiet = 0;
    const cli_opt opts[] = {
        {"--data", CLI_STR, &data, "dataset folder (metadata.csv with img_filename and split, images beside it)"},
        {"--split", CLI_STR, &split, "train, val, test or all"},
        {"--out", CLI_STR, &out, "CSV to write (path,caption)"},
        {"--model", CLI_STR, &model, "captioner model file (default: the shipped models/captioner.safetensors)"},
        {"--beam", CLI_INT, &beam, "beam width (1 = greedy, as the reference decodes)"},
        {"--batch", CLI_INT, &batch, "images per batch"},
        {"--threads", CLI_INT, &threads, "threads (0 = all cores)"},
        {"--quiet", CLI_FLAG, &quiet, "no progress line"},
    };
    int rc = cli_parse("caption", "Captions a dataset's images with the built-in captioner and writes path,caption rows.",
                       argc, argv, opts, NOPTS(opts), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!data) { fprintf(stderr, "aspire caption: --data is required\n"); return 2; }
    int want = -1;
    if (strcmp(split, "train") == 0) want = 0;
    else if (strcmp(split, "val") == 0) want = 1;
    else if (strcmp(split, "test") == 0) want = 2;
    else if (strcmp(split, "all") != 0) {
        fprintf(stderr, "aspire caption: --split must be train, val, test or all (not '%s')\n", split);
        return 2;
    }
    if (beam < 1 || beam > 64 || batch < 1) { fprintf(stderr, "aspire caption: --beam in 1..64, --batch >= 1\n"); return 2; }
    aspire_set_threads(threads);
    if (!model) model = aspire_captioner_default_model();

    aspire_captioner *cap = NULL;
    aspire_ctx *ctx = NULL;
    aspire_csv *csv = NULL;
    aspire_csv_writer *w = NULL;
    aspire_image *imgs = NULL;
    char **caps = NULL;
    int64_t *rows = NULL;
    char *meta = aspire_path_join(data, "metadata.csv");
    if (!meta) return cli_fail("caption", NULL);
    int col_file = -1, col_split = -1;
    rc = aspire_captioner_load(&cap, model, NULL);
    if (!rc) rc = aspire_csv_read(&csv, meta);
    if (!rc) rc = aspire_csv_require(csv, "img_filename", &col_file);
    if (!rc && want >= 0) rc = aspire_csv_require(csv, "split", &col_split);
    if (!rc) rc = aspire_ctx_new(&ctx, &(aspire_ctx_options){.threads = threads});
    int64_t nrows = rc ? 0 : aspire_csv_nrows(csv), n = 0;
    if (!rc) {
        rows = aspire_malloc(sizeof(int64_t) * (size_t)(nrows ? nrows : 1));
        imgs = aspire_calloc((size_t)batch, sizeof(aspire_image));
        caps = aspire_calloc((size_t)batch, sizeof(char *));
        if (!rows || !imgs || !caps) rc = ASPIRE_ERR_NOMEM;
    }
    for (int64_t r = 0; !rc && r < nrows; r++) {
        int64_t s = -1;
        if (want >= 0 && (rc = aspire_csv_get_int(csv, r, col_split, &s))) break;
        if (want < 0 || s == want) rows[n++] = r;
    }
    if (!rc) rc = aspire_csv_writer_open(&w, out, 2, (const char *const[]){"path", "caption"});
    aspire_progress pg;
    aspire_progress_init(&pg, "caption", n, "img");
    if (quiet) pg.quiet = 1;
    for (int64_t start = 0; !rc && start < n; start += batch) {
        int nb = (int)(n - start < batch ? n - start : batch);
        for (int i = 0; i < nb && !rc; i++) {
            const char *fname = aspire_csv_field(csv, rows[start + i], col_file);
            char *path = aspire_path_join(data, fname);
            if (!path) { rc = ASPIRE_ERR_NOMEM; break; }
            rc = aspire_image_load(&imgs[i], path, 3);
            if (rc) aspire_error_prefix(rc, "%s:%d", meta, aspire_csv_line(csv, rows[start + i]));
            aspire_strfree(path);
        }
        if (!rc) rc = aspire_captioner_caption(ctx, cap, imgs, nb, beam, batch, caps);
        for (int i = 0; i < nb && !rc; i++)
            rc = aspire_csv_writer_row(w, (const char *const[]){aspire_csv_field(csv, rows[start + i], col_file), caps[i]});
        for (int i = 0; i < nb; i++) {
            aspire_image_destroy(&imgs[i]);
            aspire_strfree(caps[i]);
            caps[i] = NULL;
        }
        if (!rc) aspire_progress_update(&pg, start + nb, NULL);
    }
    if (!rc) {
        aspire_progress_finish(&pg, NULL);
        rc = aspire_csv_writer_commit(w);
        w = NULL;
    }
    aspire_csv_writer_abort(w);
    if (!rc && !quiet) printf("wrote %lld captions to %s\n", (long long)n, out);
    aspire_free(rows, 0);
    aspire_free(imgs, 0);
    aspire_free(caps, 0);
    aspire_strfree(meta);
    aspire_csv_free(csv);
    aspire_ctx_free(ctx);
    aspire_captioner_free(cap);
    return rc ? cli_fail("caption", NULL) : 0;
}
