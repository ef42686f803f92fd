/* fuzz_dataset_index.c — the dataset index (src/data/index.c) on an arbitrary metadata.csv: the
 * first byte picks the layout (Waterbirds or extra) and a declared place count, the rest is the
 * file. An accepted index must be walkable through every accessor: labels within the classes,
 * groups within the groups, names for every class and place, counts that add up, the join of each
 * img_filename back to its row, and the image-name rule (inside the folder) decided for each. */
#include "fuzz.h"

#include "aspire/dataset.h"
#include "data/data_internal.h"

#include <stdio.h>
#include <unistd.h>

static char dir[64];

static void remove_dir(void) { rmdir(dir); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "/tmp/aspire-fuzz-ix-XXXXXX");  /* empty: no classes.txt to find */
    if (!mkdtemp(dir)) abort();
    atexit(remove_dir);
    return 0;
}

static void walk(aspire_dataset_index *ix) {
    int64_t n = aspire_dataset_index_rows(ix);
    int K = aspire_dataset_index_n_classes(ix), P = aspire_dataset_index_n_places(ix), G = aspire_dataset_index_n_groups(ix);
    if (n < 0 || K < 0 || K > 65536 || P < 0 || G != (P ? K * P : 0)) abort();
    for (int k = 0; k < K; k++) if (!aspire_dataset_index_class_name(ix, k)) abort();
    for (int p = 0; p < P; p++) if (!aspire_dataset_index_place_name(ix, p)) abort();
    for (int64_t r = 0; r < n; r++) {
        int32_t y = aspire_dataset_index_label(ix, r), g = aspire_dataset_index_group(ix, r);
        if (y < 0 || y >= K || g < -1 || g >= (G ? G : 1) || aspire_dataset_index_line(ix, r) < 2) abort();
        int s = aspire_dataset_index_split(ix, r);
        if (s < 0 || s > 2) abort();
        const char *fn = aspire_dataset_index_filename(ix, r);
        if (!fn || !*fn) abort();
        (void)ds_image_name_check(fn, 0);
        (void)aspire_dataset_index_img_id(ix, r);
    }
    int64_t total = 0;
    for (int s = 0; s < 3; s++) total += aspire_dataset_index_count(ix, s);
    if (aspire_dataset_index_layout(ix) == ASPIRE_LAYOUT_WATERBIRDS && total != n) abort();
    if (G > 0) {
        int64_t *c = malloc(sizeof(int64_t) * (size_t)G);
        if (!c) abort();
        aspire_dataset_index_group_counts(ix, ASPIRE_SPLIT_ALL, c);
        int64_t sum = 0;
        for (int g = 0; g < G; g++) sum += c[g];
        if (sum != n) abort();
        free(c);
    }
    for (int64_t r = 0; r < n && r < 64; r++) {  /* the join, where img_filenames are unique */
        int64_t row = -1;
        int rc = aspire_dataset_index_find(ix, aspire_dataset_index_filename(ix, r), &row);
        if (rc == ASPIRE_OK && strcmp(aspire_dataset_index_filename(ix, row), aspire_dataset_index_filename(ix, r)) != 0) abort();
        if (rc != ASPIRE_OK) break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    aspire_index_options o = {0};
    o.layout = data[0] & 1 ? ASPIRE_LAYOUT_EXTRA : ASPIRE_LAYOUT_WATERBIRDS;
    o.n_places = (data[0] >> 1) & 3;  /* 0: counted from the file */
    aspire_dataset_index *ix = NULL;
    if (ix_open_text(&ix, dir, (const char *)data + 1, size - 1, &o) != ASPIRE_OK) {
        if (ix) abort();
        if (!*aspire_errmsg()) abort();
        return 0;
    }
    walk(ix);
    aspire_dataset_index_free(ix);
    return 0;
}
