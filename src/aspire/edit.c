/* edit.c — the `aspire edit remove` and `aspire edit replace` stages: one image or a folder, through
 * the inpainter or the background replacer. */
#include "aspire/edit.h"

#include "aspire/edit_internal.h"
#include "aspire/fileio.h"
#include "aspire/inpaint.h"
#include "aspire/progress.h"
#include "aspire/replace.h"

#include <string.h>

#define REMOVE_BATCH 64

void aspire_edit_remove_opts_default(aspire_edit_remove_opts *o) {
    memset(o, 0, sizeof *o);
    o->progress = 1;
}

void aspire_edit_replace_opts_default(aspire_edit_replace_opts *o) {
    memset(o, 0, sizeof *o);
    o->seam = -1;
    o->progress = 1;
}

static int open_inpainter(const aspire_edit_remove_opts *o, aspire_inpainter **inp) {
    char model[4096];
    if (o->classical) return aspire_inpainter_new_classical(0, inp);
    if (o->model) return aspire_inpainter_new_learned(o->model, o->threads, 0, inp);
    return aspire_inpainter_new_default(aspire_inpaint_default_model(o->models_dir, model, sizeof model), o->threads, inp);
}

/* One batch of a folder: load, inpaint, write. */
static int remove_batch(aspire_inpainter *inp, const aspire_edit_remove_opts *o, const edit_files *f, int i0, int n) {
    aspire_image imgs[REMOVE_BATCH] = {{0}}, outs[REMOVE_BATCH] = {{0}};
    uint8_t *masks[REMOVE_BATCH] = {0};
    int rc = ASPIRE_OK, loaded = 0;
    for (; !rc && loaded < n; loaded++) {
        char *img = aspire_path_join(o->image, f->rel[i0 + loaded]), *mask = edit_png_path(o->mask, f->rel[i0 + loaded]);
        rc = img && mask ? edit_load_pair(img, mask, o->dilate, &imgs[loaded], &masks[loaded]) : ASPIRE_ERR_NOMEM;
        aspire_strfree(img);
        aspire_strfree(mask);
        if (rc) break;
    }
    if (!rc) rc = aspire_inpainter_run(inp, imgs, (const uint8_t *const *)masks, n, outs);
    for (int i = 0; !rc && i < n; i++) {
        char *out = edit_png_path(o->out, f->rel[i0 + i]);
        rc = out ? edit_make_parent(out) : ASPIRE_ERR_NOMEM;
        if (!rc) rc = aspire_image_save_png_ex(&outs[i], out, ASPIRE_ATOMIC_NOSYNC);
        aspire_strfree(out);
    }
    for (int i = 0; i < n; i++) {
        aspire_image_destroy(&imgs[i]);
        aspire_image_destroy(&outs[i]);
        aspire_free(masks[i], 0);
    }
    return rc;
}

/* Runs fn over a folder's images in batches of `batch`, with a progress bar; syncs the output
 * folder at the end. */
typedef int (*batch_fn)(void *ctx, const edit_files *f, int i0, int n);

static int run_folder(const char *image, const char *out, const char *label, int progress, int batch, batch_fn fn,
                      void *ctx) {
    edit_files f;
    int rc = edit_list_images(image, &f);
    if (rc) return rc;
    if (f.n == 0) rc = aspire_error(ASPIRE_ERR_NOTFOUND, "%s: no PNG or JPEG images in the folder", image);
    if (!rc) rc = aspire_mkdir_p(out);
    aspire_progress pg;
    aspire_progress_init(&pg, label, f.n, "img");
    if (!progress) pg.quiet = 1;
    for (int i = 0; !rc && i < f.n; i += batch) {
        int n = f.n - i < batch ? f.n - i : batch;
        rc = fn(ctx, &f, i, n);
        aspire_progress_update(&pg, i + n, NULL);
    }
    if (!rc) rc = aspire_sync_fs(out);
    if (!rc) aspire_progress_finish(&pg, "→ %s", out);
    edit_files_destroy(&f);
    return rc;
}

typedef struct remove_ctx { aspire_inpainter *inp; const aspire_edit_remove_opts *o; } remove_ctx;

static int remove_batch_fn(void *ctx, const edit_files *f, int i0, int n) {
    remove_ctx *c = ctx;
    return remove_batch(c->inp, c->o, f, i0, n);
}

int aspire_edit_remove_run(const aspire_edit_remove_opts *o) {
    if (!o->image || !o->mask || !o->out) return aspire_error(ASPIRE_ERR_ARG, "edit remove: --image, --mask and --out are needed");
    aspire_inpainter *inp = NULL;
    int rc = open_inpainter(o, &inp);
    if (rc) return rc;
    if (edit_is_dir(o->image)) {
        remove_ctx c = {inp, o};
        rc = run_folder(o->image, o->out, "edit remove", o->progress, REMOVE_BATCH, remove_batch_fn, &c);
    } else {
        aspire_image img = {0}, out = {0};
        uint8_t *mask = NULL;
        rc = edit_load_pair(o->image, o->mask, o->dilate, &img, &mask);
        if (!rc) rc = aspire_inpainter_run(inp, &img, (const uint8_t *const *)&mask, 1, &out);
        if (!rc) rc = edit_make_parent(o->out);
        if (!rc) rc = aspire_image_save_png(&out, o->out);
        aspire_image_destroy(&img);
        aspire_image_destroy(&out);
        aspire_free(mask, 0);
    }
    aspire_inpainter_free(inp);
    return rc;
}

/* ---- replace ----------------------------------------------------------------------------------- */
static int replace_one(aspire_replacer *r, const aspire_edit_replace_opts *o, const char *image, const char *mask,
                       const char *out, const char *key, int flags) {
    aspire_image img = {0}, res = {0};
    uint8_t *fg = NULL;
    int rc = edit_load_pair(image, mask, 0, &img, &fg);
    if (!rc) {
        rc = aspire_replacer_run(r, &img, fg, o->background, o->alt, aspire_replace_key(key), &res);
        if (rc) aspire_error_prefix(rc, "%s", image);
    }
    if (!rc) rc = edit_make_parent(out);
    if (!rc) rc = aspire_image_save_png_ex(&res, out, flags);
    aspire_image_destroy(&img);
    aspire_image_destroy(&res);
    aspire_free(fg, 0);
    return rc;
}

typedef struct replace_ctx { aspire_replacer *r; const aspire_edit_replace_opts *o; } replace_ctx;

static int replace_batch_fn(void *ctx, const edit_files *f, int i0, int n) {
    replace_ctx *c = ctx;
    int rc = ASPIRE_OK;
    for (int i = i0; !rc && i < i0 + n; i++) {
        char *img = aspire_path_join(c->o->image, f->rel[i]), *mask = edit_png_path(c->o->mask, f->rel[i]);
        char *out = edit_png_path(c->o->out, f->rel[i]);
        rc = img && mask && out ? replace_one(c->r, c->o, img, mask, out, f->rel[i], ASPIRE_ATOMIC_NOSYNC)
                                : ASPIRE_ERR_NOMEM;
        aspire_strfree(img);
        aspire_strfree(mask);
        aspire_strfree(out);
    }
    return rc;
}

int aspire_edit_replace_run(const aspire_edit_replace_opts *o) {
    if (!o->image || !o->mask || !o->out || !o->alt || !o->plates)
        return aspire_error(ASPIRE_ERR_ARG, "edit replace: --image, --mask, --alt, --plates and --out are needed");
    aspire_replacer *r = NULL;
    int rc = aspire_replacer_new_plates(o->plates, o->seam, &r);
    if (rc) return rc;
    if (edit_is_dir(o->image)) {
        replace_ctx c = {r, o};
        rc = run_folder(o->image, o->out, "edit replace", o->progress, 16, replace_batch_fn, &c);
    } else {
        const char *slash = strrchr(o->image, '/');
        rc = replace_one(r, o, o->image, o->mask, o->out, slash ? slash + 1 : o->image, 0);
    }
    aspire_replacer_free(r);
    return rc;
}
