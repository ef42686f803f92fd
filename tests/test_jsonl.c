/* test_jsonl.c — JSON lines: objects per line, blank lines and CRLF tolerated, errors naming
 * file:line (malformed JSON, a non-object, trailing text, bad UTF-8), the reader moving on after
 * an error, and the atomic writer's round trip. */
#include "aspire/fileio.h"
#include "aspire/jsonl.h"
#include "test.h"
#include "testdir.h"

#include <string.h>

static char dir[256];
#define HAS(s) (strstr(aspire_errmsg(), (s)) != NULL)

static void test_read(void) {
    const char *text = "{\"img_id\": 1, \"caption\": \"a duck\"}\n"
                       "\n"
                       "  {\"img_id\": 2, \"foreground\": [\"boat\", \"sun\"]}  \r\n"
                       "{\"img_id\": 3, \"caption\": \"\xc3\xa9t\xc3\xa9\"}";
    aspire_jsonl *r;
    CHECK(aspire_jsonl_open_text(&r, text, strlen(text), "edits.jsonl") == ASPIRE_OK);
    cJSON *o;
    int ids[3], lines[3], k = 0, rc;
    while ((rc = aspire_jsonl_next(r, &o)) == 1 && k < 3) {
        ids[k] = cJSON_GetObjectItem(o, "img_id")->valueint;
        lines[k++] = aspire_jsonl_line(r);
        if (k == 2) CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(o, "foreground")) == 2);
        if (k == 3) CHECK(strcmp(cJSON_GetObjectItem(o, "caption")->valuestring, "\xc3\xa9t\xc3\xa9") == 0);
        cJSON_Delete(o);
    }
    CHECK(rc == 0 && o == NULL && k == 3);
    CHECK(ids[0] == 1 && ids[1] == 2 && ids[2] == 3);
    CHECK(lines[0] == 1 && lines[1] == 3 && lines[2] == 4);
    CHECK(aspire_jsonl_next(r, &o) == 0);
    CHECK(strcmp(aspire_jsonl_path(r), "edits.jsonl") == 0);
    aspire_jsonl_free(r);
    aspire_jsonl_free(NULL);
}

static void test_errors(void) {
    const char *text = "{\"a\": 1}\n"
                       "{\"a\": 2,, }\n"
                       "[1, 2]\n"
                       "{\"a\": 4} x\n"
                       "{\"a\": \"\xff\"}\n"
                       "{\"a\": 6}\n";
    aspire_jsonl *r;
    CHECK(aspire_jsonl_open_text(&r, text, strlen(text), "edits.jsonl") == ASPIRE_OK);
    cJSON *o;
    CHECK(aspire_jsonl_next(r, &o) == 1);
    cJSON_Delete(o);
    CHECK(aspire_jsonl_next(r, &o) == ASPIRE_ERR_FORMAT && o == NULL);
    CHECK_MSG(HAS("edits.jsonl:2: malformed JSON at column"), "%s", aspire_errmsg());
    CHECK(aspire_jsonl_next(r, &o) == ASPIRE_ERR_FORMAT);
    CHECK_MSG(HAS("edits.jsonl:3: expected a JSON object"), "%s", aspire_errmsg());
    CHECK(aspire_jsonl_next(r, &o) == ASPIRE_ERR_FORMAT);
    CHECK_MSG(HAS("edits.jsonl:4: unexpected text after the JSON value at column 10"), "%s", aspire_errmsg());
    CHECK(aspire_jsonl_next(r, &o) == ASPIRE_ERR_FORMAT);
    CHECK_MSG(HAS("edits.jsonl:5: not valid UTF-8"), "%s", aspire_errmsg());
    CHECK(aspire_jsonl_next(r, &o) == 1 && aspire_jsonl_line(r) == 6); /* the reader moved on */
    cJSON_Delete(o);
    CHECK(aspire_jsonl_next(r, &o) == 0);
    aspire_jsonl_free(r);
    /* read_all is all or nothing */
    char path[512];
    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    CHECK(testdir_write(path, text, strlen(text)) == 0);
    cJSON *all = (cJSON *)1;
    CHECK(aspire_jsonl_read_all(path, &all) == ASPIRE_ERR_FORMAT && all == NULL);
    char want[600];
    snprintf(want, sizeof want, "%s:2: malformed JSON", path);
    CHECK_MSG(HAS(want), "%s", aspire_errmsg());
    snprintf(path, sizeof path, "%s/missing.jsonl", dir);
    CHECK(aspire_jsonl_read_all(path, &all) == ASPIRE_ERR_NOTFOUND && HAS("missing.jsonl"));
    /* a truncated last line (a writer that died mid-line) is an error naming that line */
    const char *cut = "{\"a\": 1}\n{\"a\": 2, \"capt";
    CHECK(aspire_jsonl_open_text(&r, cut, strlen(cut), "cut.jsonl") == ASPIRE_OK);
    CHECK(aspire_jsonl_next(r, &o) == 1);
    cJSON_Delete(o);
    CHECK(aspire_jsonl_next(r, &o) == ASPIRE_ERR_FORMAT && HAS("cut.jsonl:2:"));
    aspire_jsonl_free(r);
}

static void test_write_round_trip(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/out.jsonl", dir);
    aspire_jsonl_writer *w;
    CHECK(aspire_jsonl_writer_open(&w, path) == ASPIRE_OK);
    for (int i = 0; i < 100; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "img_id", i);
        cJSON_AddStringToObject(o, "caption", i % 2 ? "a swan\non a lake" : "a \"quoted\" \xc3\xa9 caption");
        cJSON_AddNumberToObject(o, "p", i / 7.0);
        CHECK(aspire_jsonl_writer_write(w, o) == ASPIRE_OK);
        cJSON_Delete(o);
    }
    CHECK(!aspire_file_exists(path));
    CHECK(aspire_jsonl_writer_commit(w) == ASPIRE_OK);
    cJSON *all;
    CHECK(aspire_jsonl_read_all(path, &all) == ASPIRE_OK);
    CHECK(cJSON_GetArraySize(all) == 100);
    int ok = 1, i = 0;
    for (cJSON *o = all ? all->child : NULL; o; o = o->next, i++) {
        ok &= cJSON_GetObjectItem(o, "img_id")->valueint == i;
        ok &= cJSON_GetObjectItem(o, "p")->valuedouble == i / 7.0; /* exact: the writer prints 17 digits when needed */
        ok &= strcmp(cJSON_GetObjectItem(o, "caption")->valuestring, i % 2 ? "a swan\non a lake" : "a \"quoted\" \xc3\xa9 caption") == 0;
    }
    CHECK(ok);
    /* write_all over the old file, then an aborted writer keeps it */
    char *raw;
    size_t n;
    CHECK(aspire_read_file(path, &raw, &n) == ASPIRE_OK);
    int newlines = 0;
    for (size_t k = 0; k < n; k++) newlines += raw[k] == '\n';
    CHECK(newlines == 100); /* one line per object: the embedded newline was escaped */
    aspire_free(raw, n + 1);
    cJSON *two = cJSON_CreateArray();
    cJSON_AddItemToArray(two, cJSON_Parse("{\"x\": 1}"));
    cJSON_AddItemToArray(two, cJSON_Parse("{\"x\": 2}"));
    CHECK(aspire_jsonl_write_all(path, two) == ASPIRE_OK);
    CHECK(aspire_jsonl_writer_open(&w, path) == ASPIRE_OK);
    CHECK(aspire_jsonl_writer_write(w, two->child) == ASPIRE_OK);
    aspire_jsonl_writer_abort(w);
    cJSON_Delete(all);
    CHECK(aspire_jsonl_read_all(path, &all) == ASPIRE_OK && cJSON_GetArraySize(all) == 2);
    cJSON_Delete(all);
    /* a non-object element refuses the whole write and keeps the old file */
    cJSON_AddItemToArray(two, cJSON_CreateNumber(3));
    CHECK(aspire_jsonl_write_all(path, two) == ASPIRE_ERR_ARG);
    CHECK(aspire_jsonl_read_all(path, &all) == ASPIRE_OK && cJSON_GetArraySize(all) == 2);
    cJSON_Delete(all);
    cJSON_Delete(two);
    CHECK(testdir_count(dir) == 2); /* bad.jsonl, out.jsonl */
}

int main(void) {
    testdir_make(dir, sizeof dir);
    RUN(test_read);
    RUN(test_errors);
    RUN(test_write_round_trip);
    testdir_remove(dir);
    return TEST_REPORT();
}
