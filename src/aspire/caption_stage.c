/* caption_stage.c — aspire_caption_run (stage_caption.h): the dataset index's rows of a split,
 * their images read one batch at a time and captioned, the CSV written atomically. */
#include "aspire/stage_caption.h"

#include "aspire/captioner.h"
#include "aspire/csv.h"
#include "aspire/dataset.h"
#include "aspire/fileio.h"
#include "aspire/progress.h"

#include <string.h>

typedef struct cap_job {
    const aspire_caption_options *o;
    aspire_dataset_index *ix;
    aspire_captioner *cap;
    aspire_ctx *ctx;
    aspire_csv_writer *w;
    int64_t *rows, n;        /* the split's rows */
    aspire_image *imgs;      /* (batch) */
    char **caps;             /* (batch) */
    int batch, beam;
} cap_job;

/* Captions rows [start, start + nb) and writes them. */
static int caption_batch(cap_job *j, int64_t start, int nb) {
    int rc = ASPIRE_OK;
    for (int i = 0; i < nb && !rc; i++) {
        int64_t r = j->rows[start + i];
        char *path = aspire_path_join(aspire_dataset_index_dir(j->ix), aspire_dataset_index_filename(j->ix, r));
        if (!path) return ASPIRE_ERR_NOMEM;
        rc = aspire_image_load(&j->imgs[i], path, 3);
        if (rc) aspire_error_prefix(rc, "%s:%d", aspire_dataset_index_path(j->ix), aspire_dataset_index_line(j->ix, r));
        aspire_strfree(path);
    }
    if (!rc) rc = aspire_captioner_caption(j->ctx, j->cap, j->imgs, nb, j->beam, j->batch, j->caps);
    for (int i = 0; i < nb && !rc; i++)
        rc = aspire_csv_writer_row(j->w, (const char *const[]){aspire_dataset_index_filename(j->ix, j->rows[start + i]), j->caps[i]});
    for (int i = 0; i < nb; i++) {
        aspire_image_destroy(&j->imgs[i]);
        aspire_strfree(j->caps[i]);
        j->caps[i] = NULL;
    }
    return rc;
}

/* Index, model, context, the split's rows and the batch buffers. */
static int job_open(cap_job *j) {
    const aspire_caption_options *o = j->o;
    aspire_index_options io = {.layout = o->split == ASPIRE_SPLIT_ALL ? ASPIRE_LAYOUT_EXTRA : ASPIRE_LAYOUT_WATERBIRDS};
    char model_buf[4096];
    const char *model = o->model ? o->model : aspire_captioner_default_model(o->models_dir, model_buf, sizeof model_buf);
    int rc = aspire_captioner_load(&j->cap, model, NULL);
    if (!rc) rc = aspire_dataset_index_open(&j->ix, o->data_dir, &io);
    aspire_ctx_options eo = o->engine;
    eo.threads = o->threads;
    if (!rc) rc = aspire_ctx_new(&j->ctx, &eo);
    if (rc) return rc;
    int64_t nrows = aspire_dataset_index_rows(j->ix);
    j->rows = aspire_malloc(sizeof(int64_t) * (size_t)(nrows ? nrows : 1));
    j->imgs = aspire_calloc((size_t)j->batch, sizeof(aspire_image));
    j->caps = aspire_calloc((size_t)j->batch, sizeof(char *));
    if (!j->rows || !j->imgs || !j->caps) return ASPIRE_ERR_NOMEM;
    for (int64_t r = 0; r < nrows; r++)
        if (o->split == ASPIRE_SPLIT_ALL || aspire_dataset_index_split(j->ix, r) == o->split) j->rows[j->n++] = r;
    return ASPIRE_OK;
}

static void job_close(cap_job *j) {
    aspire_csv_writer_abort(j->w);
    aspire_free(j->rows, 0);
    aspire_free(j->imgs, 0);
    aspire_free(j->caps, 0);
    aspire_dataset_index_free(j->ix);
    aspire_ctx_free(j->ctx);
    aspire_captioner_free(j->cap);
}

int aspire_caption_run(const aspire_caption_options *o) {
    cap_job j = {0};
    j.o = o;
    j.batch = o->batch ? o->batch : 64;
    j.beam = o->beam ? o->beam : 1;
    if (!o->data_dir || !o->out) return aspire_error(ASPIRE_ERR_ARG, "caption: a dataset folder and an output file are needed");
    if (j.beam < 1 || j.beam > 64 || j.batch < 1) return aspire_error(ASPIRE_ERR_ARG, "caption: beam width 1..64 and a batch >= 1");
    int prev = aspire_threads_enter(o->threads);
    int rc = job_open(&j);
    if (!rc) rc = aspire_csv_writer_open(&j.w, o->out, 2, (const char *const[]){"path", "caption"});
    aspire_progress pg;
    aspire_progress_init(&pg, "caption", j.n, "img");
    pg.quiet = !o->progress;
    for (int64_t start = 0; !rc && start < j.n; start += j.batch) {
        int nb = (int)(j.n - start < j.batch ? j.n - start : j.batch);
        rc = caption_batch(&j, start, nb);
        if (!rc) aspire_progress_update(&pg, start + nb, NULL);
    }
    if (!rc) {
        aspire_progress_finish(&pg, NULL);
        rc = aspire_csv_writer_commit(j.w);
        j.w = NULL;
    }
    if (!rc && o->written) *o->written = j.n;
    job_close(&j);
    aspire_threads_leave(prev);
    return rc;
}
