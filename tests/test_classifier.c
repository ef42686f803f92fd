/* test_classifier.c — the classifier API (classifier.h): a run folder written by training opened
 * again and predicting exactly what training's own evaluation scored; probabilities that sum to 1
 * and agree with the labels; images of another size or in grey; a file with non-default class
 * names; checkpoints; bad files named in the error. */
#include "aspire/classifier.h"
#include "aspire/dataset.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/rng.h"
#include "aspire/train.h"
#include "test.h"
#include "testdir.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

enum { S = 16 };
static char dir[256], data_dir[300], run[300];

/* A 4-class dataset (class_name column) whose class is the colour of a centre square. */
static void make_dataset(void) {
    static const char *const names[4] = {"red square", "green square", "blue square", "white square"};
    static const uint8_t col[4][3] = {{230, 30, 30}, {30, 230, 30}, {30, 30, 230}, {240, 240, 240}};
    char path[512];
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    snprintf(path, sizeof path, "%s/imgs", data_dir);
    aspire_mkdir_p(path);
    snprintf(path, sizeof path, "%s/metadata.csv", data_dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "img_id,img_filename,y,split,place,class_name\n");
    aspire_rng r;
    aspire_rng_seed(&r, 3);
    aspire_image im;
    aspire_image_init(&im, S, S, 3);
    for (int id = 0; id < 48; id++) {
        int y = id % 4, split = id < 32 ? 0 : id < 40 ? 1 : 2, place = (id / 4) % 2;
        for (int i = 0; i < S * S; i++) {
            int in = i / S >= 4 && i / S < 12 && i % S >= 4 && i % S < 12;
            for (int c = 0; c < 3; c++) {
                int v = (in ? col[y][c] : 90 + 60 * place) + (int)(aspire_rng_normal(&r) * 10);
                im.data[i * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
        snprintf(path, sizeof path, "%s/imgs/%d.png", data_dir, id);
        aspire_image_save_png(&im, path);
        fprintf(f, "%d,imgs/%d.png,%d,%d,%d,%s\n", id, id, y, split, place, names[y]);
    }
    fclose(f);
    aspire_image_destroy(&im);
}

static void train_run(void) {
    snprintf(run, sizeof run, "%s/run", dir);
    aspire_train_config c = aspire_train_config_default();
    c.data_dir = data_dir;
    c.out_dir = run;
    c.image_size = S;
    c.epochs = 2;
    c.batch = 8;
    c.threads = 1;
    c.progress = 0;
    CHECK_MSG(aspire_train_run(&c) == ASPIRE_OK, "%s", aspire_errmsg());
}

/* A run folder opened again: architecture, classes and names from its files, and predictions
 * (through bytes, through images, through floats) that give training's own evaluation figure. */
static void test_run_folder_round_trip(void) {
    aspire_classifier *c = NULL;
    aspire_ctx_options eo = {.threads = 1};
    CHECK_MSG(aspire_classifier_open(&c, run, &eo) == ASPIRE_OK, "%s", aspire_errmsg());
    if (!c) return;
    CHECK(aspire_classifier_n_classes(c) == 4 && aspire_classifier_image_size(c) == S);
    CHECK(strcmp(aspire_classifier_arch(c), "reference") == 0 && aspire_classifier_epoch(c) >= 0);
    CHECK(strcmp(aspire_classifier_class_name(c, 2), "blue square") == 0 && aspire_classifier_class_name(c, 4) == NULL);
    CHECK(aspire_classifier_feature_dim(c) == 128 && aspire_train_finished(run) && !aspire_train_finished(data_dir));
    aspire_classifier_set_progress(c, NULL);
    aspire_dataset *ds = NULL;
    aspire_dataset_options o = {.split = ASPIRE_SPLIT_TEST, .size = S};
    CHECK(aspire_dataset_load(&ds, data_dir, &o) == ASPIRE_OK);
    const int64_t n = aspire_dataset_count(ds);
    int32_t lab[8], lab2[8], lab3[8];
    float probs[8 * 4], x[8 * S * S * 3];
    CHECK(aspire_classifier_predict_u8(c, aspire_dataset_pixels(ds, 0), n, S, S, 3, lab, probs, NULL) == ASPIRE_OK);
    aspire_image ims[8];
    for (int i = 0; i < n; i++) {
        aspire_image_init(&ims[i], S, S, 3);
        memcpy(ims[i].data, aspire_dataset_pixels(ds, i), S * S * 3);
    }
    CHECK(aspire_classifier_predict_images(c, ims, n, lab2, NULL) == ASPIRE_OK);
    int64_t all[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    aspire_dataset_to_float(ds, all, (int)n, NULL, x, NULL, NULL);
    CHECK(aspire_classifier_predict_nhwc(c, x, n, lab3, NULL, NULL) == ASPIRE_OK);
    int correct = 0, same = 1;
    for (int i = 0; i < n; i++) {
        correct += lab[i] == aspire_dataset_label(ds, i);
        same &= lab[i] == lab2[i] && lab[i] == lab3[i];
    }
    CHECK(same);
    aspire_eval_options eopt = {run, "test", "best", NULL, 1, 0, {0}, 0};
    aspire_eval_result r;
    CHECK_MSG(aspire_train_evaluate(&eopt, &r) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK_CLOSE(r.summary.mean, (double)correct / (double)n, 1e-12);
    CHECK(strcmp(r.class_names[3], "white square") == 0);
    aspire_eval_result_destroy(&r);
    for (int i = 0; i < n; i++) aspire_image_destroy(&ims[i]);
    aspire_dataset_free(ds);
    aspire_classifier_free(c);
}

/* Probabilities: rows sum to 1, the label is the most probable class; images of another size and
 * grey images are resized / replicated rather than refused. */
static void test_probabilities(void) {
    aspire_classifier *c = NULL;
    CHECK(aspire_classifier_open(&c, run, NULL) == ASPIRE_OK);
    if (!c) return;
    enum { N = 5, W = 23, H = 31 };
    uint8_t *px = malloc(N * W * H * 3);
    aspire_rng r;
    aspire_rng_seed(&r, 9);
    for (int i = 0; i < N * W * H * 3; i++) px[i] = (uint8_t)aspire_rng_below(&r, 256);
    int32_t lab[N];
    float p[N * 4];
    CHECK(aspire_classifier_predict_u8(c, px, N, H, W, 3, lab, p, NULL) == ASPIRE_OK);
    for (int i = 0; i < N; i++) {
        double s = 0;
        int best = 0;
        for (int k = 0; k < 4; k++) {
            s += p[i * 4 + k];
            CHECK(p[i * 4 + k] >= 0 && p[i * 4 + k] <= 1);
            if (p[i * 4 + k] > p[i * 4 + best]) best = k;
        }
        CHECK_CLOSE(s, 1.0, 1e-5);
        CHECK(lab[i] == best);
    }
    CHECK(aspire_classifier_predict_u8(c, px, N, H, W, 1, lab, p, NULL) == ASPIRE_OK);  /* grey */
    CHECK(aspire_classifier_predict_u8(c, px, N, H, W, 2, lab, p, NULL) == ASPIRE_ERR_ARG);
    free(px);
    aspire_classifier_free(c);
}

/* A fresh classifier with names of its own saved as a lone file: the names travel in the file;
 * the checkpoint of the run opens too. */
static void test_save_names_checkpoint(void) {
    const char *names[3] = {"cat", "dog", "eel"};
    aspire_classifier_spec spec = {"reference", 3, names, 12, 7, "torchvision"};
    aspire_classifier *c = NULL, *d = NULL;
    CHECK(aspire_classifier_new(&c, &spec, NULL) == ASPIRE_OK);
    char path[400];
    snprintf(path, sizeof path, "%s/lone.safetensors", dir);
    CHECK(c && aspire_classifier_save(c, path, 4, NULL, 0) == ASPIRE_OK);
    CHECK_MSG(aspire_classifier_open(&d, path, NULL) == ASPIRE_OK, "%s", aspire_errmsg());
    if (d) {
        CHECK(aspire_classifier_n_classes(d) == 3 && aspire_classifier_image_size(d) == 12 && aspire_classifier_epoch(d) == 4);
        CHECK(strcmp(aspire_classifier_class_name(d, 2), "eel") == 0);
    }
    aspire_classifier_free(c);
    aspire_classifier_free(d);
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", run);
    CHECK_MSG(aspire_classifier_open(&d, path, NULL) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(d && aspire_classifier_epoch(d) == 1 && strcmp(aspire_classifier_class_name(d, 0), "red square") == 0);
    aspire_classifier_free(d);
}

/* Bad files: each error names the file (and the key or tensor). */
static void test_bad_files(void) {
    aspire_classifier *c = (aspire_classifier *)1;
    char path[400];
    snprintf(path, sizeof path, "%s/nothing.safetensors", dir);
    CHECK(aspire_classifier_open(&c, path, NULL) == ASPIRE_ERR_NOTFOUND && c == NULL);
    CHECK(strstr(aspire_errmsg(), "nothing.safetensors") != NULL);
    snprintf(path, sizeof path, "%s/text.safetensors", dir);
    testdir_write(path, "not a safetensors file at all", 29);
    CHECK(aspire_classifier_open(&c, path, NULL) != ASPIRE_OK && c == NULL);
    CHECK_MSG(strstr(aspire_errmsg(), "text.safetensors") != NULL, "%s", aspire_errmsg());
    /* weights without a classifier's metadata */
    aspire_params *p = aspire_params_new();
    int64_t shape[1] = {2};
    aspire_params_add(p, "fc.bias", 1, shape, 0);
    snprintf(path, sizeof path, "%s/bare.safetensors", dir);
    CHECK(aspire_params_save(p, path, NULL, 0) == ASPIRE_OK);
    CHECK(aspire_classifier_open(&c, path, NULL) == ASPIRE_ERR_FORMAT);
    CHECK_MSG(strstr(aspire_errmsg(), "bare.safetensors") && strstr(aspire_errmsg(), "'arch'"), "%s", aspire_errmsg());
    /* the metadata of a classifier, tensors of another */
    const char *meta[4] = {"arch", "reference", "num_classes", "2"};
    CHECK(aspire_params_save(p, path, meta, 2) == ASPIRE_OK);
    CHECK(aspire_classifier_open(&c, path, NULL) != ASPIRE_OK && c == NULL);
    CHECK_MSG(strstr(aspire_errmsg(), "bare.safetensors") && strstr(aspire_errmsg(), "conv1.weight"), "%s", aspire_errmsg());
    aspire_params_free(p);
    CHECK(aspire_classifier_check_arch("vgg") == ASPIRE_ERR_ARG && strstr(aspire_errmsg(), "vgg"));
    aspire_classifier_spec spec = {"reference", 2, NULL, 16, 1, "/no/such.safetensors"};
    CHECK(aspire_classifier_new(&c, &spec, NULL) == ASPIRE_ERR_NOTFOUND && c == NULL);
    CHECK(strstr(aspire_errmsg(), "/no/such.safetensors") != NULL);
    char buf[32];
    CHECK(strcmp(aspire_default_class_name(1, 2, buf, sizeof buf), "waterbird") == 0);
    CHECK(strcmp(aspire_default_class_name(1, 15, buf, sizeof buf), "class 1") == 0);
    aspire_classifier_free(NULL);
}

int main(void) {
    testdir_make(dir, sizeof dir);
    make_dataset();
    train_run();
    RUN(test_run_folder_round_trip);
    RUN(test_probabilities);
    RUN(test_save_names_checkpoint);
    RUN(test_bad_files);
    testdir_remove(dir);
    return TEST_REPORT();
}
