/* test_safetensors.c — the safetensors reader on a file laid out as Hugging Face's serializer lays
 * it out (tests/fixtures/make_safetensors_fixtures.py), the writer reproducing that file byte for
 * byte, bit-exact round trips, malformed files refused with the file and tensor named, and
 * aspire_params_save/load (all-or-nothing). */
#include "aspire/engine.h"
#include "aspire/fileio.h"
#include "aspire/safetensors.h"
#include "test.h"
#include "testdir.h"

#include <string.h>

#define REF ASPIRE_SOURCE_DIR "/tests/fixtures/safetensors/reference.safetensors"

static char dir[256];

static char *P(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

#define HAS(s) (strstr(aspire_errmsg(), (s)) != NULL)

static void test_read_reference(void) {
    aspire_safetensors *st;
    int rc = aspire_safetensors_open(&st, REF);
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    if (rc) return;
    CHECK(aspire_safetensors_count(st) == 9);
    CHECK(strcmp(aspire_safetensors_meta(st, "format"), "pt") == 0);
    CHECK(strcmp(aspire_safetensors_meta(st, "recipe"), "lr=0.05 \"quoted\" \xc3\xa9t\xc3\xa9") == 0);
    CHECK(aspire_safetensors_meta(st, "nope") == NULL);
    CHECK(aspire_safetensors_meta_count(st) == 2);
    /* in offset order */
    CHECK(strcmp(aspire_safetensors_at(st, 0)->name, "steps") == 0);
    CHECK(strcmp(aspire_safetensors_at(st, 8)->name, "half") == 0);
    const aspire_st_tensor *t = aspire_safetensors_find(st, "conv.weight");
    CHECK(t && t->dtype == ASPIRE_DT_F32 && t->ndim == 4 && t->shape[0] == 4 && t->shape[3] == 3 && t->numel == 108);
    float buf[108];
    CHECK(aspire_safetensors_read_f32(st, "conv.weight", 4, (int64_t[]){4, 3, 3, 3}, 0, buf, 108, NULL) == ASPIRE_OK);
    int exact = 1;
    for (int i = 0; i < 108; i++) exact &= buf[i] == (float)((double)i * 0.1 - 1.5);
    CHECK(exact);
    /* other dtypes convert on request, and are refused when F32 is required */
    const char *conv_names[] = {"double", "embed", "half"};
    for (int k = 0; k < 3; k++) {
        const aspire_st_tensor *ct;
        CHECK(aspire_safetensors_read_f32(st, conv_names[k], 0, NULL, 1, buf, 108, &ct) == ASPIRE_OK);
        int ok = ct != NULL;
        for (int i = 0; ok && i < ct->numel; i++) ok &= buf[i] == (float)((i % 17 - 8) * 0.125);
        CHECK_MSG(ok, "%s converted wrongly", conv_names[k]);
        CHECK(aspire_safetensors_read_f32(st, conv_names[k], 0, NULL, 0, buf, 108, NULL) == ASPIRE_ERR_FORMAT);
        CHECK_MSG(HAS(conv_names[k]) && HAS("reference.safetensors") && HAS("expected F32"), "%s", aspire_errmsg());
    }
    CHECK(aspire_safetensors_find(st, "embed")->dtype == ASPIRE_DT_BF16);
    CHECK(aspire_safetensors_read_f32(st, "steps", 1, (int64_t[]){3}, 1, buf, 108, NULL) == ASPIRE_OK);
    CHECK(buf[0] == -7.0f && buf[1] == 1000003.0f - 7.0f && buf[2] == (float)(2 * 1000003 - 7));
    CHECK(aspire_safetensors_read_f32(st, "index", 1, (int64_t[]){5}, 1, buf, 108, NULL) == ASPIRE_OK);
    CHECK(buf[4] == -4.0f);
    t = aspire_safetensors_find(st, "scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1);
    CHECK(aspire_safetensors_read_f32(st, "scalar", 0, (int64_t[]){0}, 0, buf, 1, NULL) == ASPIRE_OK && buf[0] == 3.25f);
    t = aspire_safetensors_find(st, "empty");
    CHECK(t && t->ndim == 1 && t->shape[0] == 0 && t->numel == 0 && t->nbytes == 0);
    t = aspire_safetensors_find(st, "\xc3\xbcnicode.bias");
    CHECK(t && t->numel == 2);
    /* wrong shape, missing tensor, too small a buffer */
    CHECK(aspire_safetensors_read_f32(st, "conv.weight", 4, (int64_t[]){4, 3, 3, 4}, 0, buf, 108, NULL) == ASPIRE_ERR_SHAPE);
    CHECK_MSG(HAS("conv.weight") && HAS("(4, 3, 3, 3) in the file, expected (4, 3, 3, 4)") && HAS(REF), "%s", aspire_errmsg());
    CHECK(aspire_safetensors_read_f32(st, "conv.weight", 2, (int64_t[]){4, 27}, 0, buf, 108, NULL) == ASPIRE_ERR_SHAPE);
    CHECK(aspire_safetensors_read_f32(st, "fc.weight", 0, NULL, 0, buf, 108, NULL) == ASPIRE_ERR_NOTFOUND);
    CHECK_MSG(HAS("fc.weight") && HAS(REF), "%s", aspire_errmsg());
    CHECK(aspire_safetensors_read_f32(st, "conv.weight", 0, NULL, 0, buf, 100, NULL) == ASPIRE_ERR_SHAPE);
    aspire_safetensors_free(st);
    aspire_safetensors_free(NULL);
}

/* The writer, given the same tensors in the same order, reproduces the reference file exactly. */
static void test_writer_matches_reference(void) {
    aspire_safetensors *st;
    CHECK(aspire_safetensors_open(&st, REF) == ASPIRE_OK);
    aspire_st_writer *w = aspire_st_writer_new();
    CHECK(aspire_st_writer_meta(w, "format", "wrong") == ASPIRE_OK);
    CHECK(aspire_st_writer_meta(w, "recipe", aspire_safetensors_meta(st, "recipe")) == ASPIRE_OK);
    CHECK(aspire_st_writer_meta(w, "format", "pt") == ASPIRE_OK); /* replaces, keeps the position */
    for (int i = 0; i < aspire_safetensors_count(st); i++) {
        const aspire_st_tensor *t = aspire_safetensors_at(st, i);
        CHECK(aspire_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data) == ASPIRE_OK);
    }
    CHECK(aspire_st_writer_add(w, "half", ASPIRE_DT_F32, 0, NULL, "abcd") == ASPIRE_ERR_ARG); /* duplicate */
    CHECK(aspire_st_writer_add(w, "__metadata__", ASPIRE_DT_F32, 0, NULL, "abcd") == ASPIRE_ERR_ARG);
    CHECK(aspire_st_writer_save(w, P("copy.safetensors")) == ASPIRE_OK);
    aspire_st_writer_free(w);
    aspire_st_writer_free(NULL);
    char *a, *b;
    size_t na, nb;
    CHECK(aspire_read_file(REF, &a, &na) == ASPIRE_OK);
    CHECK(aspire_read_file(P("copy.safetensors"), &b, &nb) == ASPIRE_OK);
    CHECK_MSG(na == nb && memcmp(a, b, na) == 0, "sizes %zu vs %zu", na, nb);
    aspire_free(a, na + 1);
    aspire_free(b, nb + 1);
    aspire_safetensors_free(st);
}

static void test_round_trip_bit_exact(void) {
    enum { N = 1000 };
    static float x[N];
    uint32_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 1664525u + 1013904223u;
        uint32_t bits = s;
        memcpy(&x[i], &bits, 4); /* every bit pattern: NaN payloads, infinities, subnormals, -0 */
    }
    static double d[7] = {0.1, -0.0, 1e300, 5e-324, 3.0, -2.5, 42};
    aspire_st_writer *w = aspire_st_writer_new();
    CHECK(aspire_st_writer_add(w, "a.weight", ASPIRE_DT_F32, 2, (int64_t[]){10, 100}, x) == ASPIRE_OK);
    CHECK(aspire_st_writer_add(w, "d", ASPIRE_DT_F64, 1, (int64_t[]){7}, d) == ASPIRE_OK);
    CHECK(aspire_st_writer_add(w, "name with \"quotes\"\n and \\ and \x01", ASPIRE_DT_F32, 1, (int64_t[]){3}, x) == ASPIRE_OK);
    CHECK(aspire_st_writer_meta(w, "k\ty", "v\"al\\ue\x7f") == ASPIRE_OK);
    CHECK(aspire_st_writer_save(w, P("rt.safetensors")) == ASPIRE_OK);
    aspire_st_writer_free(w);
    aspire_safetensors *st;
    CHECK(aspire_safetensors_open(&st, P("rt.safetensors")) == ASPIRE_OK);
    if (!st) return;
    const aspire_st_tensor *t = aspire_safetensors_find(st, "a.weight");
    CHECK(t && t->nbytes == sizeof x && memcmp(t->data, x, sizeof x) == 0);
    CHECK(((uintptr_t)t->data - (uintptr_t)aspire_safetensors_at(st, 0)->data) % 8 == 0);
    t = aspire_safetensors_find(st, "d");
    CHECK(t && memcmp(t->data, d, sizeof d) == 0);
    CHECK(aspire_safetensors_find(st, "name with \"quotes\"\n and \\ and \x01") != NULL);
    CHECK(strcmp(aspire_safetensors_meta(st, "k\ty"), "v\"al\\ue\x7f") == 0);
    /* header length is a multiple of 8 */
    char *raw;
    size_t n;
    CHECK(aspire_read_file(P("rt.safetensors"), &raw, &n) == ASPIRE_OK);
    uint64_t hl;
    memcpy(&hl, raw, 8);
    CHECK(hl % 8 == 0 && raw[8 + hl - 1] != 0);
    aspire_free(raw, n + 1);
    aspire_safetensors_free(st);
    /* an empty writer gives a valid empty file */
    w = aspire_st_writer_new();
    CHECK(aspire_st_writer_save(w, P("empty.safetensors")) == ASPIRE_OK);
    aspire_st_writer_free(w);
    CHECK(aspire_safetensors_open(&st, P("empty.safetensors")) == ASPIRE_OK);
    CHECK(st && aspire_safetensors_count(st) == 0 && aspire_safetensors_meta_count(st) == 0);
    aspire_safetensors_free(st);
}

/* Builds a file from a header text and n data bytes, parses it from memory as "bad.safetensors". */
static int parse_with(const char *header, size_t data_n, aspire_safetensors **st) {
    size_t hl = strlen(header), n = 8 + hl + data_n;
    uint8_t *b = calloc(1, n + 1);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    int rc = aspire_safetensors_parse(st, b, n, "bad.safetensors");
    free(b);
    return rc;
}

static void expect_refused(const char *header, size_t data_n, const char *must1, const char *must2) {
    aspire_safetensors *st = (aspire_safetensors *)1;
    int rc = parse_with(header, data_n, &st);
    CHECK_MSG(rc == ASPIRE_ERR_FORMAT && st == NULL, "accepted: %s", header);
    CHECK_MSG(HAS("bad.safetensors") && (!must1 || HAS(must1)) && (!must2 || HAS(must2)), "%s -> %s", header,
              aspire_errmsg());
    if (rc == ASPIRE_OK) aspire_safetensors_free(st);
}

static void test_malformed(void) {
    aspire_safetensors *st;
    CHECK(parse_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, &st) == ASPIRE_OK);
    aspire_safetensors_free(st);
    CHECK(parse_with("{}", 0, &st) == ASPIRE_OK);
    aspire_safetensors_free(st);
    /* holes between tensors are tolerated (offsets in range, not overlapping) */
    CHECK(parse_with("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]}}", 8, &st) == ASPIRE_OK);
    aspire_safetensors_free(st);

    expect_refused("{\"a\":{\"dtype\":\"F128\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'a'", "unknown dtype 'F128'");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "'a'", "needs 12");
    expect_refused("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'a'", "F16");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 7, "'a'", "past the end");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, "'a'", "shape");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "'a'", "shape");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8, "'a'", "shape");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "'a'", "data_offsets");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "'a'", "reversed");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", 8, "'a'", "data_offsets");
    expect_refused("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'a'", "dtype");
    expect_refused("{\"a\":[1,2]}", 8, "'a'", NULL);
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "'a'", "'b' overlap");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "'a'", "twice");
    expect_refused("{\"__metadata__\":{\"k\":1}}", 0, "'k'", "not a string");
    expect_refused("{\"__metadata__\":[\"k\"]}", 0, "__metadata__", NULL);
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "not valid JSON", NULL);
    expect_refused("{\"a\":1} x", 0, "trailing", NULL);
    expect_refused("[1,2]  ", 0, "'{'", NULL);
    expect_refused("{\"\xff\":1}", 0, "UTF-8", NULL);
    expect_refused("", 0, NULL, NULL);
    /* header length beyond the file, implausible, and files too short for the length */
    uint8_t b[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    CHECK(aspire_safetensors_parse(&st, b, 10, "bad.safetensors") == ASPIRE_ERR_FORMAT);
    CHECK_MSG(HAS("bad.safetensors") && HAS("past the end"), "%s", aspire_errmsg());
    memset(b, 0xff, 8);
    CHECK(aspire_safetensors_parse(&st, b, 16, "bad.safetensors") == ASPIRE_ERR_FORMAT);
    CHECK(aspire_safetensors_parse(&st, b, 5, "bad.safetensors") == ASPIRE_ERR_FORMAT);
    CHECK_MSG(HAS("too short"), "%s", aspire_errmsg());
    CHECK(aspire_safetensors_open(&st, P("missing.safetensors")) == ASPIRE_ERR_NOTFOUND);
    CHECK(HAS("missing.safetensors"));
}

/* Every truncation of the reference file is refused; byte flips never crash. */
static void test_truncations_and_flips(void) {
    char *raw;
    size_t n;
    CHECK(aspire_read_file(REF, &raw, &n) == ASPIRE_OK);
    int refused = 0;
    for (size_t len = 0; len < n; len++) {
        aspire_safetensors *st;
        int rc = aspire_safetensors_parse(&st, raw, len, "cut.safetensors");
        refused += rc == ASPIRE_ERR_FORMAT && HAS("cut.safetensors");
        if (rc == ASPIRE_OK) aspire_safetensors_free(st);
    }
    CHECK_MSG(refused == (int)n, "%d of %zu truncations refused", refused, n);
    int bad = 0, accepted = 0;
    for (size_t i = 0; i < n; i++) {
        for (int m = 0; m < 2; m++) {
            raw[i] ^= m ? 0x01 : 0x20;
            aspire_safetensors *st;
            int rc = aspire_safetensors_parse(&st, raw, n, "flip.safetensors");
            if (rc == ASPIRE_OK) {
                accepted++;
                for (int k = 0; k < aspire_safetensors_count(st); k++) {
                    const aspire_st_tensor *t = aspire_safetensors_at(st, k);
                    float *f = malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1));
                    aspire_st_tensor_to_f32(t, f); /* touches every byte it claims: ASan checks bounds */
                    free(f);
                }
                aspire_safetensors_free(st);
            } else {
                bad += !HAS("flip.safetensors");
            }
            raw[i] ^= m ? 0x01 : 0x20;
        }
    }
    CHECK(bad == 0);
    CHECK(accepted > 0); /* flips inside tensor data are accepted: only the header is checked */
    aspire_free(raw, n + 1);
}

static void test_f16_f8_conversion(void) {
    /* F16: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), inf, -0 */
    uint16_t h[6] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000};
    aspire_st_tensor t = {.name = "h", .dtype = ASPIRE_DT_F16, .ndim = 1, .shape = {6}, .numel = 6, .data = h, .nbytes = 12};
    float f[6];
    aspire_st_tensor_to_f32(&t, f);
    CHECK(f[0] == 1.0f && f[1] == -2.0f && f[2] == 65504.0f && f[3] == ldexpf(1, -24) && isinf(f[4]));
    CHECK(f[5] == 0.0f && signbit(f[5]));
    /* F8 E4M3: 0x38 = 1.0, 0x7e = 448 (max), 0x7f NaN, 0x01 = 2^-9; E5M2: 0x3c = 1.0, 0x7c = inf */
    uint8_t e4[4] = {0x38, 0x7e, 0x7f, 0x01}, e5[2] = {0x3c, 0x7c};
    t.dtype = ASPIRE_DT_F8_E4M3; t.numel = 4; t.data = e4; t.nbytes = 4;
    aspire_st_tensor_to_f32(&t, f);
    CHECK(f[0] == 1.0f && f[1] == 448.0f && isnan(f[2]) && f[3] == ldexpf(1, -9));
    t.dtype = ASPIRE_DT_F8_E5M2; t.numel = 2; t.data = e5; t.nbytes = 2;
    aspire_st_tensor_to_f32(&t, f);
    CHECK(f[0] == 1.0f && isinf(f[1]));
    CHECK(strcmp(aspire_dtype_name(ASPIRE_DT_BF16), "BF16") == 0 && aspire_dtype_size(ASPIRE_DT_I64) == 8);
}

/* ---- parameter sets ---- */

static aspire_params *make_params(int variant) {
    aspire_params *p = aspire_params_new();
    aspire_tensor *a = aspire_params_add(p, "conv1.weight", 4, (int64_t[]){8, 3, 3, 3}, 1);
    aspire_tensor *b = aspire_params_add(p, "bn1.running_mean", 1, (int64_t[]){8}, 0);
    aspire_tensor *c = aspire_params_add(p, "fc.weight", 2, (int64_t[]){2, variant == 1 ? 9 : 8}, 1);
    for (int64_t i = 0; i < a->numel; i++) a->data[i] = (float)i * 0.01f - 0.3f;
    for (int64_t i = 0; i < b->numel; i++) b->data[i] = (float)i;
    for (int64_t i = 0; i < c->numel; i++) c->data[i] = -(float)i / 7.0f;
    if (variant == 2) aspire_params_add(p, "fc.bias", 1, (int64_t[]){2}, 1);
    return p;
}

static void test_params_io(void) {
    aspire_params *p = make_params(0);
    const char *meta[] = {"arch", "reference", "epochs", "20"};
    CHECK(aspire_params_save(p, P("model.safetensors"), meta, 2) == ASPIRE_OK);
    aspire_safetensors *st;
    CHECK(aspire_safetensors_open(&st, P("model.safetensors")) == ASPIRE_OK);
    CHECK(st && aspire_safetensors_count(st) == 3 && strcmp(aspire_safetensors_meta(st, "epochs"), "20") == 0);
    aspire_safetensors_free(st);

    aspire_params *q = aspire_params_new();
    aspire_tensor *qa = aspire_params_add(q, "conv1.weight", 4, (int64_t[]){8, 3, 3, 3}, 1);
    aspire_tensor *qb = aspire_params_add(q, "bn1.running_mean", 1, (int64_t[]){8}, 0);
    aspire_tensor *qc = aspire_params_add(q, "fc.weight", 2, (int64_t[]){2, 8}, 1);
    CHECK(aspire_params_load(q, P("model.safetensors")) == ASPIRE_OK);
    CHECK(memcmp(qa->data, aspire_params_find(p, "conv1.weight")->data, sizeof(float) * 216) == 0);
    CHECK(memcmp(qb->data, aspire_params_find(p, "bn1.running_mean")->data, sizeof(float) * 8) == 0);
    CHECK(memcmp(qc->data, aspire_params_find(p, "fc.weight")->data, sizeof(float) * 16) == 0);
    aspire_params_free(q);

    /* a subset of the file's tensors loads (extra tensors in the file are ignored) */
    q = aspire_params_new();
    qc = aspire_params_add(q, "fc.weight", 2, (int64_t[]){2, 8}, 1);
    CHECK(aspire_params_load(q, P("model.safetensors")) == ASPIRE_OK);
    CHECK(qc->data[15] == -15.0f / 7.0f);
    aspire_params_free(q);

    /* wrong shape in the last tensor: refused, and nothing earlier was copied */
    q = make_params(1);
    aspire_tensor *first = aspire_params_find(q, "conv1.weight");
    for (int64_t i = 0; i < first->numel; i++) first->data[i] = 5.0f;
    CHECK(aspire_params_load(q, P("model.safetensors")) == ASPIRE_ERR_SHAPE);
    CHECK_MSG(HAS("model.safetensors") && HAS("'fc.weight'") && HAS("(2, 8) in the file, expected (2, 9)"), "%s", aspire_errmsg());
    CHECK(first->data[0] == 5.0f && first->data[215] == 5.0f);
    aspire_params_free(q);

    /* a missing tensor */
    q = make_params(2);
    CHECK(aspire_params_load(q, P("model.safetensors")) == ASPIRE_ERR_NOTFOUND);
    CHECK_MSG(HAS("model.safetensors") && HAS("'fc.bias'") && HAS("missing"), "%s", aspire_errmsg());
    aspire_params_free(q);

    /* a wrong dtype (I64 where a float is expected) is refused; F16 converts */
    int64_t iv[8] = {0};
    uint16_t hv[8] = {0x3c00, 0x3c00, 0x3c00, 0x3c00, 0x3c00, 0x3c00, 0x3c00, 0xc000};
    aspire_st_writer *w = aspire_st_writer_new();
    aspire_st_writer_add(w, "bn1.running_mean", ASPIRE_DT_I64, 1, (int64_t[]){8}, iv);
    aspire_st_writer_save(w, P("i64.safetensors"));
    aspire_st_writer_free(w);
    w = aspire_st_writer_new();
    aspire_st_writer_add(w, "bn1.running_mean", ASPIRE_DT_F16, 1, (int64_t[]){8}, hv);
    aspire_st_writer_save(w, P("f16.safetensors"));
    aspire_st_writer_free(w);
    q = aspire_params_new();
    qb = aspire_params_add(q, "bn1.running_mean", 1, (int64_t[]){8}, 0);
    CHECK(aspire_params_load(q, P("i64.safetensors")) == ASPIRE_ERR_FORMAT);
    CHECK_MSG(HAS("i64.safetensors") && HAS("'bn1.running_mean'") && HAS("I64"), "%s", aspire_errmsg());
    CHECK(aspire_params_load(q, P("f16.safetensors")) == ASPIRE_OK);
    CHECK(qb->data[0] == 1.0f && qb->data[7] == -2.0f);
    /* a truncated weights file */
    char *raw;
    size_t n;
    CHECK(aspire_read_file(P("model.safetensors"), &raw, &n) == ASPIRE_OK);
    CHECK(testdir_write(P("cut.safetensors"), raw, n - 3) == 0);
    aspire_free(raw, n + 1);
    CHECK(aspire_params_load(q, P("cut.safetensors")) == ASPIRE_ERR_FORMAT);
    CHECK_MSG(HAS("cut.safetensors") && HAS("truncated"), "%s", aspire_errmsg());
    CHECK(qb->data[0] == 1.0f);
    aspire_params_free(q);
    aspire_params_free(p);
}

/* Allocation failures at every point of open and save: a clean error, never a leak or crash. */
static void test_out_of_memory(void) {
    int ok = 0, nomem = 0;
    for (long k = 0; k < 200; k++) {
        alloc_budget = k;
        aspire_set_allocator(failing_alloc, NULL);
        aspire_safetensors *st;
        int rc = aspire_safetensors_open(&st, REF);
        aspire_set_allocator(NULL, NULL);
        if (rc == ASPIRE_OK) { ok++; aspire_safetensors_free(st); }
        else nomem += rc == ASPIRE_ERR_NOMEM;
        aspire_params *p = make_params(0);
        alloc_budget = k;
        aspire_set_allocator(failing_alloc, NULL);
        rc = aspire_params_save(p, P("oom.safetensors"), (const char *[]){"a", "b"}, 1);
        aspire_set_allocator(NULL, NULL);
        aspire_params_free(p);
    }
    CHECK(ok > 0 && nomem > 0 && ok + nomem == 200);
    /* no temporary file was left behind by the failed saves */
    DIR *d = opendir(dir);
    int stray = 0;
    for (struct dirent *e; d && (e = readdir(d));) stray += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    CHECK(stray == 0);
}

int main(void) {
    testdir_make(dir, sizeof dir);
    RUN(test_read_reference);
    RUN(test_writer_matches_reference);
    RUN(test_round_trip_bit_exact);
    RUN(test_malformed);
    RUN(test_truncations_and_flips);
    RUN(test_f16_f8_conversion);
    RUN(test_params_io);
    RUN(test_out_of_memory);
    testdir_remove(dir);
    return TEST_REPORT();
}
