/* progress.h — a progress line on stderr for long work: label, done/total, rate, ETA and free text
 * (e.g. "loss 0.31 acc 0.92"). On a terminal it redraws one line with \r at most ~10 times a
 * second; otherwise (a log file, a pipe) it prints a plain line at most every `interval` seconds
 * (5 by default). aspire_progress_finish prints a final summary line either way.
 *
 *     aspire_progress pg;
 *     aspire_progress_init(&pg, "train epoch 3", nbatches, "batch");
 *     for (...) { ...; aspire_progress_update(&pg, i + 1, "loss %.3f", loss); }
 *     aspire_progress_finish(&pg, "acc %.3f", acc);
 *
 * Updates may come from several threads (aspire_progress_add is atomic; one thread draws). */
#ifndef ASPIRE_PROGRESS_H
#define ASPIRE_PROGRESS_H

#include "aspire/common.h"

#include <stdio.h>

typedef struct aspire_progress {
    char label[64];
    char unit[16];          /* "it" by default: rates read "123.4 it/s" */
    char extra[160];        /* the latest free text */
    int64_t total;          /* 0 = unknown */
    int64_t done;
    double t0, last_draw;
    double interval;        /* seconds between plain lines (not a terminal) */
    FILE *out;              /* stderr */
    int tty;                /* 1: redraw in place */
    int quiet;              /* 1: print nothing (not even the summary) */
    int drawn;              /* something is on the current terminal line */
    int lines;              /* plain lines printed so far */
    int busy;               /* drawing guard between threads */
} aspire_progress;

/* Starts a progress line (caller-owned struct, nothing to free). unit may be NULL ("it"). Output
 * goes to stderr; it is treated as a terminal if isatty() says so. ASPIRE_PROGRESS=0 in the
 * environment makes it quiet; ASPIRE_PROGRESS=plain forces plain lines. */
ASPIRE_API void aspire_progress_init(aspire_progress *p, const char *label, int64_t total, const char *unit);
/* Redirects the output (tests, or a log file): tty selects redrawing versus plain lines. */
ASPIRE_API void aspire_progress_set_output(aspire_progress *p, FILE *out, int tty);
/* Sets done (absolute) and, when fmt is not NULL, the free text; draws if it is time to. */
ASPIRE_API void aspire_progress_update(aspire_progress *p, int64_t done, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds n to done (thread-safe) and draws if it is time to. */
ASPIRE_API void aspire_progress_add(aspire_progress *p, int64_t n);
/* Prints the summary line: "label: 4795 it in 12.3 s (389.8 it/s) extra". fmt may be NULL (keeps
 * the latest free text). */
ASPIRE_API void aspire_progress_finish(aspire_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Formats seconds as "0:09", "12:34" or "1:02:03" into buf. */
ASPIRE_API const char *aspire_progress_fmt_time(double seconds, char *buf, size_t n);

#endif
