/* dataset_load.c — how fast the dataset loader decodes a Waterbirds-sized folder (4795 + 1199 +
 * 5794 = 11788 PNGs of 64×64, written here first into a temporary folder) and how fast the loader
 * makes augmented batches. Files are in the page cache (warm) when timed. Prints a table, then one
 * JSON object.
 *     build/bench/dataset_load [--n 11788] [--size 64] [--reps 3]                              */
#include "aspire/dataset.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/rng.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ftw.h>

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *ftw) { (void)sb; (void)f; (void)ftw; return remove(p); }

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static double median(double *v, int n) { qsort(v, (size_t)n, sizeof *v, cmp_d); return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]); }

int main(int argc, char **argv) {
    int n = 11788, size = 64, reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
    }
    char dir[256];
    snprintf(dir, sizeof dir, "%s/aspire-bench-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char sub[300];
    snprintf(sub, sizeof sub, "%s/img", dir);
    aspire_mkdir_p(sub);
    /* images: smooth gradients plus noise, like the world's renders */
    double t0 = aspire_now();
    size_t cap = (size_t)n * 48 + 64, k = 0;
    char *csv = malloc(cap);
    k += (size_t)snprintf(csv + k, cap - k, "img_id,img_filename,y,split,place\n");
    aspire_rng rng;
    aspire_rng_seed(&rng, 1);
    aspire_image im;
    aspire_image_init(&im, size, size, 3);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                for (int c = 0; c < 3; c++)
                    im.data[(y * size + x) * 3 + c] = (uint8_t)((x * (c + 1) + y * (3 - c) + i * 7) / 2 + aspire_rng_below(&rng, 24));
        char path[400];
        snprintf(path, sizeof path, "%s/img/%05d.png", dir, i);
        rc = aspire_image_save_png_ex(&im, path, ASPIRE_ATOMIC_NOSYNC);
        int split = i < n * 4795 / 11788 ? 0 : i < n * 5994 / 11788 ? 1 : 2;
        k += (size_t)snprintf(csv + k, cap - k, "%d,img/%05d.png,%d,%d,%d\n", i + 1, i, i & 1, split, (i >> 1) & 1);
    }
    aspire_image_destroy(&im);
    char meta[400];
    snprintf(meta, sizeof meta, "%s/metadata.csv", dir);
    if (!rc) rc = aspire_write_file_atomic(meta, csv, k);
    free(csv);
    double t_write = aspire_now() - t0;
    if (rc) { fprintf(stderr, "%s\n", aspire_errmsg()); return 1; }
    printf("wrote %d PNGs of %dx%d in %.2f s (no fsync)\n", n, size, size, t_write);

    int threads[2] = {1, omp_get_num_procs() < 2 ? 1 : 2};
    double med[2];
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(threads[t]);
        double times[16];
        for (int r = 0; r < reps && r < 16; r++) {
            aspire_dataset *ds;
            aspire_dataset_options o = {.split = ASPIRE_SPLIT_ALL, .size = size};
            double a = aspire_now();
            if (aspire_dataset_load(&ds, dir, &o)) { fprintf(stderr, "%s\n", aspire_errmsg()); return 1; }
            times[r] = aspire_now() - a;
            aspire_dataset_free(ds);
        }
        med[t] = median(times, reps);
        printf("load all %d images, %d thread(s): median %.3f s over %d runs (%.0f img/s)\n", n, threads[t], med[t], reps, n / med[t]);
    }
    /* augmented batches: shuffle + flip + random resized crop, batch 64 */
    aspire_dataset *ds;
    aspire_dataset_options o = {.split = ASPIRE_SPLIT_TRAIN, .size = size};
    aspire_dataset_load(&ds, dir, &o);
    aspire_loader_options lo = {.batch_size = 64, .shuffle = 1, .hflip = 1, .crop = 1, .seed = 1};
    aspire_loader *ld;
    aspire_loader_new(&ld, ds, &lo);
    aspire_batch b;
    aspire_batch_init(&b, 64, size, 3);
    double a = aspire_now();
    int64_t imgs = 0;
    while (aspire_loader_next(ld, &b) == 1) imgs += b.n;
    double t_aug = aspire_now() - a;
    lo.crop = 0;
    aspire_loader_free(ld);
    aspire_loader_new(&ld, ds, &lo);
    a = aspire_now();
    while (aspire_loader_next(ld, &b) == 1) {}
    double t_flip = aspire_now() - a;
    printf("one training epoch of %lld images, %d threads: flip+crop %.3f s (%.0f img/s), flip only %.3f s (%.0f img/s)\n",
           (long long)imgs, threads[1], t_aug, imgs / t_aug, t_flip, imgs / t_flip);
    aspire_batch_destroy(&b);
    aspire_loader_free(ld);
    aspire_dataset_free(ds);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    printf("{\"bench\":\"dataset_load\",\"images\":%d,\"size\":%d,\"load_s_1thread\":%.3f,\"load_s_%dthreads\":%.3f,"
           "\"load_img_per_s\":%.0f,\"epoch_aug_img_per_s\":%.0f,\"epoch_flip_img_per_s\":%.0f}\n",
           n, size, med[0], threads[1], med[1], n / med[1], imgs / t_aug, imgs / t_flip);
    return 0;
}
