/* test_csv.c — the CSV reader (quoting, CRLF, BOM, blank lines, column lookup, typed fields) and its
 * errors naming file and line; the writer's quoting read back by the reader; atomicity. */
#include "aspire/csv.h"
#include "aspire/fileio.h"
#include "test.h"
#include "testdir.h"

#include <string.h>

static char dir[256];
#define HAS(s) (strstr(aspire_errmsg(), (s)) != NULL)

static aspire_csv *parse(const char *text) {
    aspire_csv *c = NULL;
    int rc = aspire_csv_parse(&c, text, strlen(text), "m.csv");
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    return c;
}

static void refused(const char *text, const char *msg) {
    aspire_csv *c = (aspire_csv *)1;
    int rc = aspire_csv_parse(&c, text, strlen(text), "m.csv");
    CHECK_MSG(rc == ASPIRE_ERR_FORMAT && c == NULL, "accepted: %s", text);
    CHECK_MSG(HAS(msg), "expected '%s', got '%s'", msg, aspire_errmsg());
    if (rc == ASPIRE_OK) aspire_csv_free(c);
}

static void test_basic(void) {
    aspire_csv *c = parse("img_id,img_filename,y,split,place\n1,a/b.png,0,0,1\n2,c.png,1,2,0\n");
    if (!c) return;
    CHECK(aspire_csv_ncols(c) == 5 && aspire_csv_nrows(c) == 2);
    CHECK(aspire_csv_col(c, "split") == 3 && aspire_csv_col(c, "nope") == -1);
    CHECK(strcmp(aspire_csv_colname(c, 1), "img_filename") == 0);
    CHECK(strcmp(aspire_csv_field(c, 0, 1), "a/b.png") == 0);
    CHECK(strcmp(aspire_csv_field(c, 1, 4), "0") == 0);
    CHECK(aspire_csv_line(c, -1) == 1 && aspire_csv_line(c, 0) == 2 && aspire_csv_line(c, 1) == 3);
    int col;
    CHECK(aspire_csv_require(c, "y", &col) == ASPIRE_OK && col == 2);
    CHECK(aspire_csv_require(c, "species", &col) == ASPIRE_ERR_NOTFOUND && col == -1);
    CHECK_MSG(HAS("m.csv:1: missing column 'species' (columns: img_id, img_filename, y, split, place)"), "%s", aspire_errmsg());
    int64_t v;
    CHECK(aspire_csv_get_int(c, 1, 0, &v) == ASPIRE_OK && v == 2);
    double d;
    CHECK(aspire_csv_get_double(c, 0, 4, &d) == ASPIRE_OK && d == 1.0);
    CHECK(strcmp(aspire_csv_path(c), "m.csv") == 0);
    aspire_csv_free(c);
    aspire_csv_free(NULL);
}

static void test_quoting_crlf_bom(void) {
    /* BOM, CRLF, quoted commas, doubled quotes, an embedded newline, blank lines, no final newline */
    const char *text = "\xef\xbb\xbf" " name , caption,n\r\n"
                       "\r\n"
                       "\"a,b\",\"he said \"\"hi\"\"\",1\r\n"
                       "x,\"two\nlines\",2\r\n"
                       "\n"
                       "\"\",,3\r\n"
                       "\xc3\xa9t\xc3\xa9,\"\",4";
    aspire_csv *c = parse(text);
    if (!c) return;
    CHECK(aspire_csv_nrows(c) == 4);
    CHECK(aspire_csv_col(c, "name") == 0); /* header names are trimmed */
    CHECK(strcmp(aspire_csv_field(c, 0, 0), "a,b") == 0);
    CHECK(strcmp(aspire_csv_field(c, 0, 1), "he said \"hi\"") == 0);
    CHECK(strcmp(aspire_csv_field(c, 1, 1), "two\nlines") == 0);
    CHECK(strcmp(aspire_csv_field(c, 2, 0), "") == 0 && strcmp(aspire_csv_field(c, 2, 1), "") == 0);
    CHECK(strcmp(aspire_csv_field(c, 3, 0), "\xc3\xa9t\xc3\xa9") == 0);
    /* lines: header 1, blank 2, row 3, row 4-5, blank 6, row 7, row 8 */
    CHECK(aspire_csv_line(c, 0) == 3 && aspire_csv_line(c, 1) == 4 && aspire_csv_line(c, 2) == 7 && aspire_csv_line(c, 3) == 8);
    int64_t v;
    CHECK(aspire_csv_get_int(c, 3, 2, &v) == ASPIRE_OK && v == 4);
    aspire_csv_free(c);
    /* a header-only file has no rows */
    c = parse("a,b\n");
    CHECK(c && aspire_csv_nrows(c) == 0);
    aspire_csv_free(c);
    /* a single column with quoted empty fields */
    c = parse("only\n\"\"\nx\n");
    CHECK(c && aspire_csv_nrows(c) == 2 && strcmp(aspire_csv_field(c, 0, 0), "") == 0);
    aspire_csv_free(c);
}

static void test_errors_name_file_and_line(void) {
    refused("a,b,c,d,e,f\n1,2,3,4,5,6\n1,2,3,4,5\n", "m.csv:3: expected 6 fields, found 5");
    refused("a,b\n1,2\n\n\n1,2,3\n", "m.csv:5: expected 2 fields, found 3");
    refused("a,b\n1,\"x\ny\"\n1,2,3\n", "m.csv:4: expected 2 fields, found 3"); /* lines counted inside quotes */
    refused("a,b\n1,\"open\n2,3\n", "never closed");
    refused("a,b\n1,\"open\n2,3\n", "opened on line 2");
    refused("a,b\n\"x\"y,2\n", "m.csv:2: unexpected 'y' after a closing quote");
    refused("a,b,a\n1,2,3\n", "m.csv:1: column 'a' appears twice");
    refused("a,,c\n1,2,3\n", "m.csv:1: column 2 of the header has no name");
    refused("", "m.csv: empty file");
    refused("\n\r\n", "empty file");
    refused("a,b\n1,2\n\xff,3\n", "m.csv:3: not valid UTF-8");
    refused("a,b\n1,\xc3\n", "m.csv:2: not valid UTF-8");
    aspire_csv *c = (aspire_csv *)1;
    CHECK(aspire_csv_parse(&c, "a,b\n1,\0002\n", 9, "m.csv") == ASPIRE_ERR_FORMAT && c == NULL);
    CHECK_MSG(HAS("m.csv:2: contains a NUL byte"), "%s", aspire_errmsg());
    /* typed fields */
    c = parse("y,p,q\n1.5,x, 7 \n-3,,1e3\n9223372036854775807,-9223372036854775808,nan\n99999999999999999999,+4,inf\n");
    if (!c) return;
    int64_t v;
    double d;
    CHECK(aspire_csv_get_int(c, 0, 0, &v) == ASPIRE_ERR_FORMAT);
    CHECK_MSG(HAS("m.csv:2: column 'y': expected an integer, found '1.5'"), "%s", aspire_errmsg());
    CHECK(aspire_csv_get_int(c, 0, 1, &v) == ASPIRE_ERR_FORMAT);
    CHECK(aspire_csv_get_int(c, 1, 1, &v) == ASPIRE_ERR_FORMAT); /* empty */
    CHECK_MSG(HAS("m.csv:3: column 'p'"), "%s", aspire_errmsg());
    CHECK(aspire_csv_get_int(c, 0, 2, &v) == ASPIRE_OK && v == 7);
    CHECK(aspire_csv_get_int(c, 1, 0, &v) == ASPIRE_OK && v == -3);
    CHECK(aspire_csv_get_int(c, 2, 0, &v) == ASPIRE_OK && v == INT64_MAX);
    CHECK(aspire_csv_get_int(c, 2, 1, &v) == ASPIRE_OK && v == INT64_MIN);
    CHECK(aspire_csv_get_int(c, 3, 0, &v) == ASPIRE_ERR_FORMAT); /* overflow */
    CHECK(aspire_csv_get_int(c, 3, 1, &v) == ASPIRE_OK && v == 4);
    CHECK(aspire_csv_get_double(c, 0, 0, &d) == ASPIRE_OK && d == 1.5);
    CHECK(aspire_csv_get_double(c, 1, 2, &d) == ASPIRE_OK && d == 1000.0);
    CHECK(aspire_csv_get_double(c, 2, 2, &d) == ASPIRE_ERR_FORMAT);
    CHECK(aspire_csv_get_double(c, 3, 2, &d) == ASPIRE_ERR_FORMAT);
    CHECK(aspire_csv_get_double(c, 0, 1, &d) == ASPIRE_ERR_FORMAT);
    CHECK_MSG(HAS("m.csv:2: column 'p': expected a number, found 'x'"), "%s", aspire_errmsg());
    aspire_csv_free(c);
    /* files */
    char path[512];
    snprintf(path, sizeof path, "%s/missing.csv", dir);
    CHECK(aspire_csv_read(&c, path) == ASPIRE_ERR_NOTFOUND && c == NULL);
    CHECK(HAS("missing.csv"));
    snprintf(path, sizeof path, "%s/short.csv", dir);
    CHECK(testdir_write(path, "a,b\n1,2\n3\n", 10) == 0);
    CHECK(aspire_csv_read(&c, path) == ASPIRE_ERR_FORMAT);
    char want[600];
    snprintf(want, sizeof want, "%s:3: expected 2 fields, found 1", path);
    CHECK_MSG(HAS(want), "%s", aspire_errmsg());
}

static void test_writer(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    const char *header[] = {"path", "caption", "n"};
    aspire_csv_writer *w;
    CHECK(aspire_csv_writer_open(&w, path, 3, header) == ASPIRE_OK);
    const char *rows[][3] = {
        {"a.png", "a bird, on water", "1"}, {"b.png", "say \"hi\"", "2"}, {"c.png", "two\nlines\r\nhere", NULL},
        {"", "", ""}, {"\xc3\xa9.png", " spaces ", "5"},
    };
    for (int i = 0; i < 5; i++) CHECK(aspire_csv_writer_row(w, rows[i]) == ASPIRE_OK);
    CHECK(!aspire_file_exists(path)); /* nothing visible before commit */
    CHECK(aspire_csv_writer_commit(w) == ASPIRE_OK);
    char *raw;
    size_t n;
    CHECK(aspire_read_file(path, &raw, &n) == ASPIRE_OK);
    CHECK_MSG(strcmp(raw, "path,caption,n\na.png,\"a bird, on water\",1\nb.png,\"say \"\"hi\"\"\",2\n"
                          "c.png,\"two\nlines\r\nhere\",\n,,\n\xc3\xa9.png, spaces ,5\n") == 0, "%s", raw);
    aspire_free(raw, n + 1);
    aspire_csv *c;
    CHECK(aspire_csv_read(&c, path) == ASPIRE_OK);
    if (c) {
        CHECK(aspire_csv_nrows(c) == 5);
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 3; j++)
                CHECK_MSG(strcmp(aspire_csv_field(c, i, j), rows[i][j] ? rows[i][j] : "") == 0, "row %d col %d", i, j);
        aspire_csv_free(c);
    }
    /* a one-column file with an empty value survives the round trip */
    const char *h1[] = {"x"}, *e1[] = {""}, *v1[] = {"v"};
    CHECK(aspire_csv_writer_open(&w, path, 1, h1) == ASPIRE_OK);
    CHECK(aspire_csv_writer_row(w, e1) == ASPIRE_OK);
    CHECK(aspire_csv_writer_row(w, v1) == ASPIRE_OK);
    CHECK(aspire_csv_writer_commit(w) == ASPIRE_OK);
    CHECK(aspire_csv_read(&c, path) == ASPIRE_OK);
    CHECK(c && aspire_csv_nrows(c) == 2 && strcmp(aspire_csv_field(c, 0, 0), "") == 0);
    aspire_csv_free(c);
    /* abort keeps the old file */
    CHECK(aspire_csv_writer_open(&w, path, 3, header) == ASPIRE_OK);
    CHECK(aspire_csv_writer_row(w, rows[0]) == ASPIRE_OK);
    aspire_csv_writer_abort(w);
    aspire_csv_writer_abort(NULL);
    CHECK(aspire_csv_read(&c, path) == ASPIRE_OK);
    CHECK(c && aspire_csv_ncols(c) == 1);
    aspire_csv_free(c);
    snprintf(path, sizeof path, "%s/no/dir.csv", dir);
    CHECK(aspire_csv_writer_open(&w, path, 3, header) == ASPIRE_ERR_IO && w == NULL);
    CHECK(testdir_count(dir) == 2); /* out.csv and short.csv: no temporary files */
}

/* Allocation failures anywhere in parsing: ASPIRE_ERR_NOMEM, no leak, no crash. */
static void test_out_of_memory(void) {
    char text[4000];
    size_t k = (size_t)snprintf(text, sizeof text, "a,b,\"c\"\n");
    for (int i = 0; i < 150; i++) k += (size_t)snprintf(text + k, sizeof text - k, "%d,\"x,%d\",y\n", i, i);
    int ok = 0, nomem = 0, other = 0;
    for (long b = 0; b < 60; b++) {
        alloc_budget = b;
        aspire_set_allocator(failing_alloc, NULL);
        aspire_csv *c;
        int rc = aspire_csv_parse(&c, text, k, "oom.csv");
        aspire_set_allocator(NULL, NULL);
        if (rc == ASPIRE_OK) { ok += aspire_csv_nrows(c) == 150; aspire_csv_free(c); }
        else if (rc == ASPIRE_ERR_NOMEM) nomem++;
        else other++;
    }
    CHECK(ok > 0 && nomem > 0 && other == 0);
}

int main(void) {
    testdir_make(dir, sizeof dir);
    RUN(test_basic);
    RUN(test_quoting_crlf_bom);
    RUN(test_errors_name_file_and_line);
    RUN(test_writer);
    RUN(test_out_of_memory);
    testdir_remove(dir);
    return TEST_REPORT();
}
