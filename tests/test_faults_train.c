/* test_faults_train.c — fault injection over training and evaluation (issue 15): a tiny run
 * (aspire_train_run: dataset index and images, model, one epoch of SGD, validation, checkpoint,
 * best model, logs, train.json) and its evaluation (aspire_train_evaluate) with the k-th
 * allocation failing, for k sampled over the whole range of a clean run's allocations: each must
 * come back as ASPIRE_ERR_NOMEM with a message (no abort, no crash, no leak under LeakSanitizer),
 * and a clean run afterwards must write the same best.safetensors, byte for byte. Then a write
 * failure at each file of a run (a file-size limit standing in for a full disk). */
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/train.h"

#include "faults.h"
#include "test.h"
#include "testdir.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

enum { S = 16 };
static char dir[256], data[512];

/* 8 training, 4 validation and 4 test images: a square of the class's colour on the place's. */
static void make_data(void) {
    snprintf(data, sizeof data, "%s/data", dir);
    CHECK(aspire_mkdir_p(data) == ASPIRE_OK);
    char path[700], meta[2048];
    int k = snprintf(meta, sizeof meta, "img_id,img_filename,y,split,place\n");
    aspire_image im;
    CHECK(aspire_image_init(&im, S, S, 3) == ASPIRE_OK);
    const int n[3] = {8, 4, 4};
    for (int sp = 0, id = 0; sp < 3; sp++)
        for (int i = 0; i < n[sp]; i++, id++) {
            int y = i & 1, place = (i >> 1) & 1;
            for (int p = 0; p < S * S; p++) {
                int in = (p / S) >= 4 && (p / S) < 12 && (p % S) >= 4 && (p % S) < 12;
                for (int c = 0; c < 3; c++) im.data[p * 3 + c] = (uint8_t)(in ? (y ? 240 : 30) + c * 5 : (place ? 60 : 180) + id);
            }
            snprintf(path, sizeof path, "%s/%d.png", data, id);
            CHECK(aspire_image_save_png(&im, path) == ASPIRE_OK);
            k += snprintf(meta + k, sizeof meta - (size_t)k, "%d,%d.png,%d,%d,%d\n", id, id, y, sp, place);
        }
    aspire_image_destroy(&im);
    snprintf(path, sizeof path, "%s/metadata.csv", data);
    CHECK(testdir_write(path, meta, strlen(meta)) == 0);
}

/* Trains one epoch into out, then evaluates it on the test split. */
static int train_eval(const char *out, int resume) {
    aspire_train_config c = aspire_train_config_default();
    c.data_dir = data;
    c.out_dir = out;
    c.image_size = S;
    c.epochs = 1;
    c.batch = 4;
    c.threads = 1;
    c.progress = 0;
    c.resume = resume;
    int rc = aspire_train_run(&c);
    if (rc) return rc;
    aspire_eval_options o = {out, "test", "best", NULL, 1, 0, {0}, 0};
    aspire_eval_result r;
    rc = aspire_train_evaluate(&o, &r);
    if (!rc) aspire_eval_result_destroy(&r);
    return rc;
}

static int train_job(void *out) { return train_eval(out, 0); }

static char *best_of(const char *out, size_t *n) {
    char path[700], *buf = NULL;
    snprintf(path, sizeof path, "%s/best.safetensors", out);
    if (aspire_read_file(path, &buf, n)) return NULL;
    return buf;
}

static void test_training_sweep(void) {
    char out[512];
    snprintf(out, sizeof out, "%s/run", dir);
    int rc = fault_run(-1, train_job, out);
    long total = fault_counted;
    CHECK_MSG(rc == ASPIRE_OK && total > 100, "rc %d (%s), %ld allocations", rc, aspire_errmsg(), total);
    size_t ref_n = 0;
    char *ref = best_of(out, &ref_n);
    CHECK(ref != NULL);
    int failed_cleanly = 0, tried = 0;
    for (long k = 0; k < total; k += k < 40 ? 1 : total / 40 + 1) {
        testdir_remove(out);
        rc = fault_run(k, train_job, out);
        tried++;
        if (rc == ASPIRE_OK) continue;  /* an optional allocation (a fallback exists) */
        CHECK_MSG(rc == ASPIRE_ERR_NOMEM && *aspire_errmsg(), "allocation %ld of %ld: rc %d: %s", k, total, rc, aspire_errmsg());
        failed_cleanly += rc == ASPIRE_ERR_NOMEM;
    }
    printf("  %d of %d sampled allocation failures (of %ld allocations) gave ASPIRE_ERR_NOMEM\n", failed_cleanly, tried, total);
    CHECK(failed_cleanly > tried / 2);
    testdir_remove(out);
    CHECK(train_eval(out, 0) == ASPIRE_OK);  /* and the program still gives the same model */
    size_t n = 0;
    char *again = best_of(out, &n);
    CHECK(again && n == ref_n && memcmp(again, ref, n) == 0);
    aspire_free(again, n + 1);
    aspire_free(ref, ref_n + 1);
}

/* Temporary files (".NAME.tmp.PID.N") left in a folder. */
static int temporaries(const char *folder) {
    DIR *d = opendir(folder);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* A write failure at each file of a run: a file-size limit (the kernel's EFBIG, standing in for a
 * full disk) from 0 bytes to more than the largest file. Each run either finishes or fails with
 * ASPIRE_ERR_IO and a message, leaving no temporary file and no train.json claiming a result; run
 * again without the limit (--resume, which restarts a run that never finished an epoch), it gives
 * the clean run's model byte for byte. */
static void test_write_failures(void) {
    char out[512];
    snprintf(out, sizeof out, "%s/run", dir);
    size_t ref_n = 0;
    char *ref = best_of(out, &ref_n);  /* from test_training_sweep's last run */
    CHECK(ref != NULL);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    const rlim_t limits[] = {0, 300, 3000, 30000, 300000, 3000000};
    int failed = 0;
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        testdir_remove(out);
        struct rlimit lim = {limits[i], old.rlim_max};
        setrlimit(RLIMIT_FSIZE, &lim);
        int rc = train_eval(out, 0);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK_MSG(rc == ASPIRE_OK || (rc == ASPIRE_ERR_IO && *aspire_errmsg()), "limit %lu: rc %d: %s", (unsigned long)limits[i], rc,
                  aspire_errmsg());
        failed += rc != ASPIRE_OK;
        CHECK_MSG(temporaries(out) == 0, "limit %lu: temporary files left", (unsigned long)limits[i]);
        CHECK(rc == ASPIRE_OK || !aspire_train_finished(out));
        rc = train_eval(out, 1);
        CHECK_MSG(rc == ASPIRE_OK, "after limit %lu: %s", (unsigned long)limits[i], aspire_errmsg());
        size_t n = 0;
        char *again = best_of(out, &n);
        CHECK_MSG(again && n == ref_n && memcmp(again, ref, n) == 0, "after limit %lu: another model", (unsigned long)limits[i]);
        aspire_free(again, n + 1);
    }
    signal(SIGXFSZ, SIG_DFL);
    CHECK(failed >= 4);  /* the small limits must have stopped it */
    aspire_free(ref, ref_n + 1);
}

int main(void) {
    testdir_make(dir, sizeof dir);
    make_data();
    RUN(test_training_sweep);
    RUN(test_write_failures);
    testdir_remove(dir);
    return TEST_REPORT();
}
