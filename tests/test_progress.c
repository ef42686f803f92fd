/* test_progress.c — the progress line: plain lines rate-limited by the interval, redraws with \r on
 * a terminal, ETA and rate in the text, the summary line, quiet mode, and threads adding at once. */
#include "aspire/progress.h"
#include "test.h"

#include <string.h>
#include <time.h>

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void test_plain_lines(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    aspire_progress pg;
    aspire_progress_init(&pg, "decode", 100, "img");
    aspire_progress_set_output(&pg, f, 0);
    pg.interval = 0.05;
    for (int i = 1; i <= 100; i++) {
        aspire_progress_update(&pg, i, "loss %.2f", 1.0 / i);
        if (i % 25 == 0) sleep_ms(70);
    }
    aspire_progress_finish(&pg, NULL);
    fclose(f);
    /* three plain lines at most (after each pause past the interval, bar the last), then the summary */
    int nl = count(buf, "\n");
    CHECK_MSG(nl >= 2 && nl <= 10, "%d lines:\n%s", nl, buf); /* loose: a loaded machine may pause elsewhere too */
    CHECK(count(buf, "\r") == 0 && count(buf, "\033") == 0);
    CHECK_MSG(strstr(buf, "decode: 26/100 ") != NULL, "%s", buf); /* the update after the first pause */
    CHECK(strstr(buf, "img/s") != NULL && strstr(buf, "ETA ") != NULL && strstr(buf, "loss 0.04") != NULL);
    CHECK_MSG(strstr(buf, "decode: 100 img in ") != NULL && strstr(buf, "loss 0.01\n") != NULL, "%s", buf);
    free(buf);
}

static void test_terminal_redraw(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    aspire_progress pg;
    aspire_progress_init(&pg, "train", 0, NULL);
    aspire_progress_set_output(&pg, f, 1);
    /* Update as fast as possible until three redraws have appeared (each draw flushes, so buf
     * holds them). Waiting for the redraws, not for a fixed time, keeps this exact on a loaded
     * machine, where a pause of the process would otherwise swallow some of them. */
    int64_t i = 0;
    size_t seen = 0;
    int cr = 0;
    while (cr < 3 && aspire_now() - pg.t0 < 30) {
        aspire_progress_update(&pg, ++i, NULL);
        if (len != seen) { seen = len; cr = count(buf, "\r"); }
    }
    double el = aspire_now() - pg.t0;
    aspire_progress_finish(&pg, "acc %.2f", 0.92);
    fclose(f);
    /* ~10 redraws a second, however many updates: three take at least 0.3 s (less a clock tick)
     * and thousands of updates; the summary adds one more \r */
    CHECK_MSG(cr == 3 && el >= 0.29 && i > 1000, "%d redraws for %lld updates in %.3f s", cr, (long long)i, el);
    CHECK(count(buf, "\r") == 4);
    CHECK(count(buf, "\n") == 1);
    CHECK(strstr(buf, " it/s") != NULL && strstr(buf, "\033[K") != NULL);
    CHECK(strstr(buf, "ETA") == NULL); /* unknown total: no ETA, no bar */
    CHECK_MSG(strstr(buf, "acc 0.92") != NULL, "%s", buf);
    free(buf);
}

static void test_bar_and_quiet(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    aspire_progress pg;
    aspire_progress_init(&pg, "gen", 40, "img");
    aspire_progress_set_output(&pg, f, 1);
    pg.last_draw -= 1.0; /* make the first update draw */
    aspire_progress_update(&pg, 10, NULL);
    fflush(f);
    CHECK_MSG(strstr(buf, "[#####...............]  25%") != NULL, "%s", buf);
    aspire_progress_init(&pg, "quiet", 10, NULL);
    aspire_progress_set_output(&pg, f, 0);
    pg.quiet = 1;
    pg.interval = 0;
    size_t before = len;
    aspire_progress_update(&pg, 5, NULL);
    aspire_progress_finish(&pg, NULL);
    fflush(f);
    CHECK(len == before);
    fclose(f);
    free(buf);
    char t[32];
    CHECK(strcmp(aspire_progress_fmt_time(9.4, t, sizeof t), "0:09") == 0);
    CHECK(strcmp(aspire_progress_fmt_time(754, t, sizeof t), "12:34") == 0);
    CHECK(strcmp(aspire_progress_fmt_time(3723, t, sizeof t), "1:02:03") == 0);
}

static void test_threads(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    aspire_progress pg;
    aspire_progress_init(&pg, "par", 20000, NULL);
    aspire_progress_set_output(&pg, f, 0);
    pg.interval = 0.001;
#pragma omp parallel for num_threads(2)
    for (int i = 0; i < 20000; i++) aspire_progress_add(&pg, 1);
    aspire_progress_finish(&pg, NULL);
    fclose(f);
    CHECK(pg.done == 20000);
    CHECK(strstr(buf, "par: 20000 it in") != NULL);
    free(buf);
}

int main(void) {
    RUN(test_plain_lines);
    RUN(test_terminal_redraw);
    RUN(test_bar_and_quiet);
    RUN(test_threads);
    return TEST_REPORT();
}
