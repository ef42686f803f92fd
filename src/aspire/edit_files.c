/* edit_files.c — folders of images and their masks for the editing stages. */
#include "aspire/edit.h"
#include "aspire/fileio.h"
#include "aspire/inpaint.h"
#include "aspire/edit_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int edit_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0);
}

static int push(edit_files *f, const char *rel) {
    if (f->n == f->cap) {
        int nc = f->cap ? 2 * f->cap : 256;
        char **r = aspire_realloc(f->rel, sizeof(char *) * (size_t)f->cap, sizeof(char *) * (size_t)nc);
        if (!r) return ASPIRE_ERR_NOMEM;
        f->rel = r;
        f->cap = nc;
    }
    if (!(f->rel[f->n] = aspire_strdup(rel))) return ASPIRE_ERR_NOMEM;
    f->n++;
    return ASPIRE_OK;
}

static int walk(const char *root, const char *rel, edit_files *f, int depth) {
    char *dir = *rel ? aspire_path_join(root, rel) : aspire_strdup(root);
    if (!dir) return ASPIRE_ERR_NOMEM;
    DIR *d = opendir(dir);
    if (!d) {
        int rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
        aspire_strfree(dir);
        return rc;
    }
    int rc = ASPIRE_OK;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;  /* also the atomic writers' temporary files */
        char *sub = *rel ? aspire_path_join(rel, e->d_name) : aspire_strdup(e->d_name);
        char *full = sub ? aspire_path_join(root, sub) : NULL;
        if (!full) rc = ASPIRE_ERR_NOMEM;
        else if (edit_is_dir(full)) rc = depth < 16 ? walk(root, sub, f, depth + 1) : ASPIRE_OK;
        else if (is_image_name(e->d_name)) rc = push(f, sub);
        aspire_strfree(sub);
        aspire_strfree(full);
    }
    closedir(d);
    aspire_strfree(dir);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int edit_list_images(const char *dir, edit_files *f) {
    memset(f, 0, sizeof *f);
    int rc = walk(dir, "", f, 0);
    if (rc) { edit_files_destroy(f); return rc; }
    if (f->n) qsort(f->rel, (size_t)f->n, sizeof *f->rel, cmp_str);
    return ASPIRE_OK;
}

void edit_files_destroy(edit_files *f) {
    for (int i = 0; i < f->n; i++) aspire_strfree(f->rel[i]);
    aspire_free(f->rel, 0);
    memset(f, 0, sizeof *f);
}

char *edit_png_path(const char *dir, const char *rel) {
    size_t n = strlen(rel);
    const char *dot = strrchr(rel, '.'), *slash = strrchr(rel, '/');
    if (dot && (!slash || dot > slash)) n = (size_t)(dot - rel);
    char *name = aspire_malloc(n + 5);
    if (!name) return NULL;
    memcpy(name, rel, n);
    memcpy(name + n, ".png", 5);
    char *p = aspire_path_join(dir, name);
    aspire_free(name, n + 5);
    return p;
}

int edit_make_parent(const char *path) {
    char *dir = aspire_strdup(path);
    if (!dir) return ASPIRE_ERR_NOMEM;
    char *slash = strrchr(dir, '/');
    int rc = ASPIRE_OK;
    if (slash && slash != dir) { *slash = 0; rc = aspire_mkdir_p(dir); }
    aspire_strfree(dir);
    return rc;
}

int edit_load_pair(const char *image, const char *mask, int dilate, aspire_image *img, uint8_t **m) {
    *m = NULL;
    int rc = aspire_image_load(img, image, 3);
    if (rc) return rc;
    rc = aspire_inpaint_mask_load(mask, img->w, img->h, m, NULL, NULL);
    if (!rc) rc = aspire_mask_dilate(*m, img->w, img->h, dilate);
    if (rc) {
        aspire_image_destroy(img);
        aspire_free(*m, 0);
        *m = NULL;
    }
    return rc;
}
