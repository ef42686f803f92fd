/* edit_internal.h — what the editing stages share: folders of images, the matching mask and output
 * paths, and loading an image with its mask. */
#ifndef ASPIRE_EDIT_INTERNAL_H
#define ASPIRE_EDIT_INTERNAL_H

#include "aspire/image.h"

/* A sorted list of image files (PNG/JPEG by extension) under a folder, recursively, as paths
 * relative to it. */
typedef struct edit_files {
    char **rel;
    int n, cap;
} edit_files;

int edit_is_dir(const char *path);
int edit_list_images(const char *dir, edit_files *f);
void edit_files_destroy(edit_files *f);
/* DIR/REL with REL's extension replaced by .png (new string; aspire_strfree). */
char *edit_png_path(const char *dir, const char *rel);
/* Creates the folder that will hold `path`. */
int edit_make_parent(const char *path);
/* Loads an image (RGB) and its mask (of the image's size; nonzero = region), dilated by `dilate`
 * pixels. On failure nothing is left allocated. */
int edit_load_pair(const char *image, const char *mask, int dilate, aspire_image *img, uint8_t **m);

#endif
