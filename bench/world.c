/* world.c — benchmark of the benchmark world: writes the default task dataset (11,788 images at
 * 64×64 with masks, 200 counterfactual sets per split and scenes.jsonl; `aspire world task`'s
 * defaults) into a temporary folder, times it, and removes it. Prints one line per run and, last,
 * one JSON object with the median: {"images": N, "seconds": S, ...}.
 *
 *   build/bench/world [--runs N] [--threads N] [--size N] [--keep DIR]   */
#include "aspire/common.h"
#include "aspire/world.h"

#include <ftw.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* User + system CPU seconds of this process so far (all threads). */
static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int runs = 1, threads = 0, size = 64;
    const char *keep = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) size = atoi(argv[++i]);
        else if (strcmp(argv[i], "--keep") == 0 && i + 1 < argc) keep = argv[++i];
        else { fprintf(stderr, "usage: %s [--runs N] [--threads N] [--size N] [--keep DIR]\n", argv[0]); return 2; }
    }
    if (runs < 1 || runs > 50) runs = 1;
    aspire_set_threads(threads);
    const char *tmp = getenv("TMPDIR");
    char dir[512], out[600], truth[600];
    snprintf(dir, sizeof dir, "%s/aspire-bench-world-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!keep && !mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(out, sizeof out, "%s/task", keep ? keep : dir);
    snprintf(truth, sizeof truth, "%s/task_truth", keep ? keep : dir);
    double secs[50], cpu[50];
    aspire_world_task_opts o;
    aspire_world_task_opts_default(&o);
    o.out = out;
    o.size = size;
    int n = o.n_train + o.n_val + o.n_test;
    for (int r = 0; r < runs; r++) {
        /* Every run starts from nothing on disk. */
        nftw(out, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        nftw(truth, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        double t0 = aspire_now(), c0 = cpu_seconds();
        if (aspire_world_task_write(&o) != ASPIRE_OK) {
            fprintf(stderr, "world bench: %s\n", aspire_errmsg());
            return 1;
        }
        secs[r] = aspire_now() - t0;
        cpu[r] = cpu_seconds() - c0;
        printf("run %d: %d images in %.2f s (%.0f images/s), %.2f CPU s\n", r + 1, n, secs[r], n / secs[r], cpu[r]);
        fflush(stdout);
    }
    if (!keep) nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    qsort(secs, (size_t)runs, sizeof secs[0], cmp_double);
    qsort(cpu, (size_t)runs, sizeof cpu[0], cmp_double);
    double med = runs % 2 ? secs[runs / 2] : 0.5 * (secs[runs / 2 - 1] + secs[runs / 2]);
    double cmed = runs % 2 ? cpu[runs / 2] : 0.5 * (cpu[runs / 2 - 1] + cpu[runs / 2]);
    /* cpu_seconds: user + system time of all threads, which other processes' load hardly changes. */
    printf("{\"images\": %d, \"seconds\": %.2f, \"images_per_s\": %.0f, \"cpu_seconds\": %.2f, \"size\": %d, "
           "\"threads\": %d, \"runs\": %d}\n",
           n, med, n / med, cmed, size, aspire_get_threads(), runs);
    return 0;
}
