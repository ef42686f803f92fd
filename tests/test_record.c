/* test_record.c — discovery's per-image records: the reference's own formats (its example JSON
 * array, its pandas JSON lines with the flips), what `aspire extract` writes, unknown fields,
 * malformed input named by file, line and field, and atomic writing that round-trips. */
#include "aspire/fileio.h"
#include "aspire/record.h"

#include "test.h"
#include "testdir.h"

#include <string.h>

#define FIXTURES ASPIRE_SOURCE_DIR "/tests/fixtures/detect"

static int parse(const char *text, aspire_record_kind kind, aspire_records *rs) {
    return aspire_records_parse(text, strlen(text), "t.jsonl", kind, rs);
}

/* The error of parsing `text` contains `want`. */
static void expect_error(const char *text, aspire_record_kind kind, const char *want) {
    aspire_records rs;
    int rc = parse(text, kind, &rs);
    CHECK_MSG(rc == ASPIRE_ERR_FORMAT && strstr(aspire_errmsg(), want), "want '%s', got rc %d '%s'", want, rc,
              aspire_errmsg());
    CHECK(rs.n == 0 && rs.items == NULL);
}

static void test_reference_example_array(void) {
    aspire_records rs;
    int rc = aspire_records_read(FIXTURES "/reference_example.json", ASPIRE_RECORD_EXTRACTION, &rs);
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(rs.n == 3);
    if (rs.n != 3) return;
    const aspire_record *r = &rs.items[0];
    CHECK(strcmp(r->img_id, "0") == 0 && r->img_id_is_number);
    CHECK(strcmp(r->img_filename, "/examples/owl_meadow.png") == 0);
    CHECK(r->cls == 0 && strcmp(r->label, "landbird") == 0);
    CHECK(r->foreground.n == 1 && strcmp(r->foreground.s[0], "fence post") == 0);
    CHECK(r->background.n == 1 && r->alternate_background.n == 1);
    CHECK(!r->has_flips && r->row == 0 && r->line == 2);
    CHECK(rs.items[1].line > 2 && rs.items[1].row == 1 && rs.items[2].row == 2);
    CHECK(rs.items[2].foreground.n == 0 && rs.items[2].background.n == 0);
    aspire_records_destroy(&rs);
    /* as detection records they lack the flips: named by file, element line and field */
    rc = aspire_records_read(FIXTURES "/reference_example.json", ASPIRE_RECORD_DETECTION, &rs);
    CHECK(rc == ASPIRE_ERR_FORMAT && strstr(aspire_errmsg(), "reference_example.json:2: missing field 'wp_foreground'"));
}

static void test_reference_flips_lines(void) {
    aspire_records rs;
    int rc = aspire_records_read(FIXTURES "/reference_flips.jsonl", ASPIRE_RECORD_DETECTION, &rs);
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(rs.n == 6);
    if (rs.n != 6) return;
    const aspire_record *r = &rs.items[1];
    CHECK(strcmp(r->img_filename, "/data/waterbirds/swan/img_012.jpg") == 0);   /* pandas' "\/" read as "/" */
    CHECK(r->has_flips && r->wp_foreground.n == 1 && strcmp(r->wp_foreground.s[0], "sail boats") == 0);
    CHECK(r->n_pred_rmv == 1 && r->pred_rmv_foreground[0] == 0 && r->n_pred_alt == 1);
    CHECK(r->row == 1 && r->line == 2 && !r->has_row_field);
    aspire_records_destroy(&rs);
}

/* The line `aspire extract --text` prints is read as an extraction record. */
static void test_extract_output(void) {
    FILE *p = popen("'" ASPIRE_BIN "' extract --text 'a duck swimming on a lake next to a sailboat' --class 1 2>/dev/null",
                    "r");
    CHECK(p != NULL);
    if (!p) return;
    char line[4096] = {0};
    size_t n = fread(line, 1, sizeof line - 1, p);
    CHECK(pclose(p) == 0 && n > 0);
    aspire_records rs;
    int rc = aspire_records_parse(line, n, "extract-output", ASPIRE_RECORD_EXTRACTION, &rs);
    CHECK_MSG(rc == ASPIRE_OK && rs.n == 1, "%s (line %s)", aspire_errmsg(), line);
    if (rs.n == 1) {
        CHECK(rs.items[0].cls == 1 && rs.items[0].img_id == NULL && rs.items[0].img_filename == NULL);
        CHECK(aspire_strlist_find(&rs.items[0].foreground, "sailboat") >= 0);
        CHECK(rs.items[0].background.n == 1 && strcmp(rs.items[0].background.s[0], "lake") == 0);
    }
    aspire_records_destroy(&rs);
    /* and a file line as `aspire extract --data` writes it */
    const char *file_line = "{\"img_id\":7,\"img_filename\":\"train/a.png\",\"caption\":\"an owl in a field\","
                            "\"class\":0,\"label\":\"landbird\",\"foreground\":[],\"background\":[\"field\"],"
                            "\"alternate_background\":[\"lake\"]}\n";
    rc = parse(file_line, ASPIRE_RECORD_EXTRACTION, &rs);
    CHECK(rc == ASPIRE_OK && rs.n == 1 && strcmp(rs.items[0].img_id, "7") == 0);
    aspire_records_destroy(&rs);
}

static const char *const good =
    "{\"img_id\":\"a1\",\"img_filename\":\"x.png\",\"caption\":\"c\",\"class\":1,\"label\":0,"
    "\"foreground\":[\"boat\"],\"wp_foreground\":[\"boat\"],\"background\":[\"lake\"],\"wp_background\":[],"
    "\"alternate_background\":[\"forest\"],\"wp_alternate_background\":[],\"pred_alt_background\":[1],"
    "\"pred_rmv_foreground\":[0],\"score_extra\":{\"nested\":[1,2]},\"row\":9}\n";

static void test_unknown_fields_and_types(void) {
    aspire_records rs;
    int rc = parse(good, ASPIRE_RECORD_DETECTION, &rs);
    CHECK_MSG(rc == ASPIRE_OK && rs.n == 1, "%s", aspire_errmsg());
    if (rs.n != 1) return;
    CHECK(strcmp(rs.items[0].img_id, "a1") == 0 && !rs.items[0].img_id_is_number);
    CHECK(strcmp(rs.items[0].label, "0") == 0);          /* a numeric label (some reference files) */
    CHECK(rs.items[0].row == 9 && rs.items[0].has_row_field);
    aspire_records_destroy(&rs);
}

static void test_malformed(void) {
    expect_error("{\"class\":0,\"foreground\":[],\"background\":[]}\n\n{\"class\":0,\"foreground\":[}\n",
                 ASPIRE_RECORD_EXTRACTION, "t.jsonl:3: malformed JSON");
    expect_error("{\"class\":\"x\",\"foreground\":[],\"background\":[]}\n", ASPIRE_RECORD_EXTRACTION,
                 "t.jsonl:1: field 'class': expected a whole number >= 0");
    expect_error("{\"class\":1.5,\"foreground\":[],\"background\":[]}\n", ASPIRE_RECORD_EXTRACTION, "field 'class'");
    expect_error("{\"class\":0,\"foreground\":[\"a\",3],\"background\":[]}\n", ASPIRE_RECORD_EXTRACTION,
                 "t.jsonl:1: field 'foreground': item 2 is not a string");
    expect_error("{\"class\":0,\"foreground\":\"boat\",\"background\":[]}\n", ASPIRE_RECORD_EXTRACTION,
                 "field 'foreground': expected a list of strings");
    expect_error("{\"class\":0,\"background\":[]}\n", ASPIRE_RECORD_EXTRACTION, "t.jsonl:1: missing field 'foreground'");
    expect_error("[1,2]\n", ASPIRE_RECORD_EXTRACTION, "t.jsonl:1: expected a JSON object");
    expect_error("[\n  {\"class\":0,\"foreground\":[],\"background\":[]},\n  {\"class\":-1,\"foreground\":[],"
                 "\"background\":[]}\n]\n", ASPIRE_RECORD_EXTRACTION, "t.jsonl:3: field 'class'");
    expect_error("[\n  {\"class\":0,\n", ASPIRE_RECORD_EXTRACTION, "malformed JSON");
    /* detection: flagged phrases must be the record's own; lists must match */
    char bad[2048];
    snprintf(bad, sizeof bad, "%.*s%s", (int)(strstr(good, "\"wp_foreground\"") - good), good,
             "\"wp_foreground\":[\"cloud\"],\"background\":[],\"wp_background\":[],\"alternate_background\":[],"
             "\"wp_alternate_background\":[],\"pred_alt_background\":[],\"pred_rmv_foreground\":[]}\n");
    expect_error(bad, ASPIRE_RECORD_DETECTION, "field 'wp_foreground': 'cloud' is not in 'foreground'");
    snprintf(bad, sizeof bad, "%s%s", good, good);   /* the same row twice */
    expect_error(bad, ASPIRE_RECORD_DETECTION, "t.jsonl:2: field 'row': 9 is already the row of line 1");
    expect_error("{\"class\":0,\"foreground\":[],\"background\":[],\"wp_foreground\":[],\"wp_background\":[],"
                 "\"wp_alternate_background\":[],\"pred_alt_background\":[\"0\"],\"pred_rmv_foreground\":[]}\n",
                 ASPIRE_RECORD_EXTRACTION, "field 'pred_alt_background': item 1 is not a class index");
    expect_error("\xff\n", ASPIRE_RECORD_EXTRACTION, "t.jsonl:1");
    char longer[512];
    snprintf(longer, sizeof longer, "{\"class\":0,\"foreground\":[\"%0*d\"],\"background\":[]}\n",
             ASPIRE_RECORD_MAX_PHRASE + 1, 0);
    expect_error(longer, ASPIRE_RECORD_EXTRACTION, "field 'foreground': item 1 is longer than 200 bytes");
}

static void test_write_round_trip(void) {
    char dir[256], path[512], path2[512];
    testdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/out.jsonl", dir);
    snprintf(path2, sizeof path2, "%s/again.jsonl", dir);
    aspire_records rs, back;
    int rc = aspire_records_read(FIXTURES "/reference_flips.jsonl", ASPIRE_RECORD_DETECTION, &rs);
    CHECK(rc == ASPIRE_OK);
    CHECK(aspire_records_write(path, &rs) == ASPIRE_OK);
    CHECK(aspire_records_read(path, ASPIRE_RECORD_DETECTION, &back) == ASPIRE_OK && back.n == rs.n);
    CHECK(aspire_records_write(path2, &back) == ASPIRE_OK);
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK(aspire_read_file(path, &a, &na) == ASPIRE_OK && aspire_read_file(path2, &b, &nb) == ASPIRE_OK);
    CHECK(a && b && na == nb && memcmp(a, b, na) == 0);
    /* the reference's field order, img_id kept a number */
    CHECK(a && strncmp(a, "{\"img_id\":11,\"img_filename\":\"/data/waterbirds/duck/img_011.jpg\",\"caption\":", 74) == 0);
    CHECK(a && strstr(a, "\"label\":\"waterbird\",\"foreground\":[\"sailboat\"],\"wp_foreground\":[],\"background\""));
    aspire_free(a, na + 1);
    aspire_free(b, nb + 1);
    /* a failed write keeps the old file */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.jsonl", dir);
    CHECK(aspire_records_write(bad, &rs) != ASPIRE_OK);
    CHECK(testdir_count(dir) == 2);
    aspire_records_destroy(&rs);
    aspire_records_destroy(&back);
    aspire_records_destroy(&rs);   /* destroying twice is harmless (zeroed) */
    testdir_remove(dir);
}

int main(void) {
    RUN(test_reference_example_array);
    RUN(test_reference_flips_lines);
    RUN(test_extract_output);
    RUN(test_unknown_fields_and_types);
    RUN(test_malformed);
    RUN(test_write_round_trip);
    return TEST_REPORT();
}
