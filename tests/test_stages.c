/* test_stages.c — the stage bodies in the library: aspire_caption_run (a tiny captioner over a
 * tiny dataset: one row per image of the split, in metadata order, the same captions as the
 * captioner gives directly; a missing image named by metadata line, the old output kept) and
 * aspire_extract_run (class names from the dataset's class_name column, the caption↔metadata
 * join, records in the captions' order; a caption naming no row named by captions line). */
#include "aspire/captioner.h"
#include "aspire/csv.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/jsonl.h"
#include "aspire/stage_caption.h"
#include "aspire/stage_extract.h"
#include "test.h"
#include "testdir.h"

#include <string.h>

enum { S = 16, N = 6 };
static char dir[256];
#define HAS(s) (strstr(aspire_errmsg(), (s)) != NULL)

static char *P(const char *name) {
    static char buf[4][600];
    static int k;
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void make_images(void) {
    aspire_mkdir_p(P("data/imgs"));
    const char *meta = "img_id,img_filename,y,split,place,class_name\n"
                       "1,imgs/0.png,1,1,0,swan\n2,imgs/1.png,0,0,0,owl\n3,imgs/2.png,0,1,1,owl\n"
                       "4,imgs/3.png,1,2,1,swan\n5,imgs/4.png,1,1,1,swan\n6,imgs/5.png,0,0,0,owl\n";
    testdir_write(P("data/metadata.csv"), meta, strlen(meta));
    aspire_image im;
    aspire_image_init(&im, S, S, 3);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < S * S * 3; j++) im.data[j] = (uint8_t)(i * 40 + j * (i + 1));
        char name[64];
        snprintf(name, sizeof name, "data/imgs/%d.png", i);
        aspire_image_save_png(&im, P(name));
    }
    aspire_image_destroy(&im);
}

static void make_model(void) {
    static const char *const caps[3] = {"a swan on a lake", "an owl in a forest", "a duck near a boat"};
    aspire_vocab *v = NULL;
    CHECK(aspire_vocab_build(&v, caps, 3, 1, 0) == ASPIRE_OK);
    aspire_captioner_config c = aspire_captioner_default_config();
    c.image_size = S;
    c.stem_stride = 2;
    c.nstages = 2;
    c.widths[0] = 8;
    c.widths[1] = 16;
    c.d_model = 32;
    c.n_layers = 1;
    c.n_heads = 2;
    c.d_ff = 64;
    c.max_len = 8;
    aspire_captioner *cap = NULL;
    CHECK(aspire_captioner_new(&cap, &c, v, 5) == ASPIRE_OK);
    CHECK(cap && aspire_captioner_save(cap, P("cap.safetensors"), NULL) == ASPIRE_OK);
    aspire_captioner_free(cap);
    aspire_vocab_free(v);
}

static void test_caption_run(void) {
    int64_t written = -1;
    char data[600], out[600], model[600];
    snprintf(data, sizeof data, "%s", P("data"));
    snprintf(out, sizeof out, "%s", P("captions.csv"));
    snprintf(model, sizeof model, "%s", P("cap.safetensors"));
    aspire_caption_options o = {0};
    o.data_dir = data;
    o.split = 1;  /* val: rows 1, 3, 5 */
    o.out = out;
    o.model = model;
    o.batch = 2;
    o.threads = 1;
    o.written = &written;
    CHECK_MSG(aspire_caption_run(&o) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(written == 3);
    aspire_csv *csv = NULL;
    CHECK(aspire_csv_read(&csv, o.out) == ASPIRE_OK);
    if (!csv) return;
    CHECK(aspire_csv_nrows(csv) == 3 && aspire_csv_col(csv, "path") == 0 && aspire_csv_col(csv, "caption") == 1);
    CHECK(strcmp(aspire_csv_field(csv, 0, 0), "imgs/0.png") == 0 && strcmp(aspire_csv_field(csv, 2, 0), "imgs/4.png") == 0);
    /* the same captions as the captioner gives for the images themselves */
    aspire_captioner *cap = NULL;
    aspire_ctx *ctx = NULL;
    CHECK(aspire_captioner_load(&cap, o.model, NULL) == ASPIRE_OK && aspire_ctx_new(&ctx, NULL) == ASPIRE_OK);
    aspire_image im[1];
    char *text[1] = {NULL};
    CHECK(aspire_image_load(&im[0], P("data/imgs/2.png"), 3) == ASPIRE_OK);
    CHECK(aspire_captioner_caption(ctx, cap, im, 1, 1, 1, text) == ASPIRE_OK);
    CHECK(text[0] && strcmp(text[0], aspire_csv_field(csv, 1, 1)) == 0);
    aspire_strfree(text[0]);
    aspire_image_destroy(&im[0]);
    aspire_captioner_free(cap);
    aspire_ctx_free(ctx);
    aspire_csv_free(csv);
    /* a missing image: the metadata line is named and the earlier output stays */
    remove(P("data/imgs/4.png"));
    CHECK(aspire_caption_run(&o) == ASPIRE_ERR_NOTFOUND);
    CHECK_MSG(HAS("data/metadata.csv:6") && HAS("imgs/4.png"), "%s", aspire_errmsg());
    CHECK(aspire_csv_read(&csv, o.out) == ASPIRE_OK && aspire_csv_nrows(csv) == 3);
    aspire_csv_free(csv);
    o.model = P("none.safetensors");
    CHECK(aspire_caption_run(&o) != ASPIRE_OK && HAS("none.safetensors"));
}

static void test_extract_run(void) {
    const char *caps = "path,caption\nimgs/3.png,a swan standing on a lake next to a sailboat\n"
                       "imgs/1.png,an owl in a forest with a balloon\n";
    testdir_write(P("caps.csv"), caps, strlen(caps));
    int64_t written = 0;
    char c[600], data[600], out[600];
    snprintf(c, sizeof c, "%s", P("caps.csv"));
    snprintf(data, sizeof data, "%s", P("data"));
    snprintf(out, sizeof out, "%s", P("out.jsonl"));
    aspire_extract_options o = {c, data, out, NULL, 0, 0, &written};
    CHECK_MSG(aspire_extract_run(&o) == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(written == 2);
    aspire_jsonl *r = NULL;
    CHECK(aspire_jsonl_open(&r, o.out) == ASPIRE_OK);
    cJSON *rec = NULL;
    int n = 0;
    while (r && aspire_jsonl_next(r, &rec) == 1 && rec) {
        const cJSON *id = cJSON_GetObjectItem(rec, "img_id"), *label = cJSON_GetObjectItem(rec, "label");
        const cJSON *fg = cJSON_GetObjectItem(rec, "foreground"), *bg = cJSON_GetObjectItem(rec, "background");
        CHECK(cJSON_IsNumber(id) && id->valueint == (n == 0 ? 4 : 2));
        CHECK(cJSON_IsString(label) && strcmp(label->valuestring, n == 0 ? "swan" : "owl") == 0);
        CHECK(cJSON_IsArray(fg) && cJSON_IsArray(bg) && cJSON_GetArrayItem(cJSON_GetObjectItem(rec, "alternate_background"), 0));
        if (n == 0) CHECK(strcmp(cJSON_GetArrayItem(bg, 0)->valuestring, "lake") == 0);
        cJSON_Delete(rec);
        n++;
    }
    CHECK(n == 2);
    aspire_jsonl_free(r);
    caps = "path,caption\nimgs/3.png,a swan\nimgs/9.png,an owl\n";
    testdir_write(P("caps.csv"), caps, strlen(caps));
    CHECK(aspire_extract_run(&o) == ASPIRE_ERR_NOTFOUND);
    CHECK_MSG(HAS("caps.csv:3: column 'path'") && HAS("imgs/9.png") && HAS("data/metadata.csv"), "%s", aspire_errmsg());
    /* the record schema on its own */
    aspire_extraction e = {0};
    cJSON *one = aspire_extract_record("x7", NULL, "a swan", 1, "swan", &e);
    CHECK(one && cJSON_IsString(cJSON_GetObjectItem(one, "img_id")) && !cJSON_GetObjectItem(one, "img_filename"));
    CHECK(one && cJSON_GetArraySize(cJSON_GetObjectItem(one, "background")) == 0);
    cJSON_Delete(one);
}

int main(void) {
    testdir_make(dir, sizeof dir);
    make_images();
    make_model();
    RUN(test_caption_run);
    RUN(test_extract_run);
    testdir_remove(dir);
    return TEST_REPORT();
}
