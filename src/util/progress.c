/* progress.c — the progress line: a bar redrawn in place on a terminal (rate-limited to ~10 Hz),
 * plain lines every few seconds elsewhere, and a summary at the end. */
#include "aspire/progress.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TTY_PERIOD 0.1

void aspire_progress_init(aspire_progress *p, const char *label, int64_t total, const char *unit) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit && *unit ? unit : "it");
    p->total = total > 0 ? total : 0;
    p->t0 = aspire_now();
    p->last_draw = p->t0;
    p->interval = 5.0;
    p->out = stderr;
    p->tty = isatty(fileno(stderr));
    const char *env = getenv("ASPIRE_PROGRESS");
    if (env && strcmp(env, "0") == 0) p->quiet = 1;
    if (env && strcmp(env, "plain") == 0) p->tty = 0;
}

void aspire_progress_set_output(aspire_progress *p, FILE *out, int tty) {
    p->out = out;
    p->tty = tty;
}

const char *aspire_progress_fmt_time(double s, char *buf, size_t n) {
    if (!(s >= 0) || s > 360000.0 * 24) { snprintf(buf, n, "?"); return buf; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
    return buf;
}

static void fmt_rate(char *buf, size_t n, double rate, const char *unit) {
    if (rate >= 100 || rate == 0) snprintf(buf, n, "%.0f %s/s", rate, unit);
    else if (rate >= 1) snprintf(buf, n, "%.1f %s/s", rate, unit);
    else if (rate > 0) snprintf(buf, n, "%.1f s/%s", 1.0 / rate, unit);
    else snprintf(buf, n, "- %s/s", unit);
}

static int term_width(const aspire_progress *p) {
    struct winsize ws;
    if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int w = c ? atoi(c) : 0;
    return w >= 20 ? w : 100;
}

static void draw(aspire_progress *p, double now) {
    int64_t done = __atomic_load_n(&p->done, __ATOMIC_RELAXED);
    double el = now - p->t0, rate = el > 0 ? (double)done / el : 0;
    char rs[48], eta[32] = "", el_s[32], counts[64];
    fmt_rate(rs, sizeof rs, rate, p->unit);
    aspire_progress_fmt_time(el, el_s, sizeof el_s);
    if (p->total) {
        snprintf(counts, sizeof counts, "%lld/%lld", (long long)done, (long long)p->total);
        if (rate > 0 && done < p->total) {
            char t[24];
            snprintf(eta, sizeof eta, " ETA %s", aspire_progress_fmt_time((double)(p->total - done) / rate, t, sizeof t));
        }
    } else {
        snprintf(counts, sizeof counts, "%lld", (long long)done);
    }
    char tail[320];
    snprintf(tail, sizeof tail, " %s %s %s%s%s%s", counts, rs, el_s, eta, p->extra[0] ? "  " : "", p->extra);
    if (p->tty) {
        int width = term_width(p) - 1;
        char bar[64] = "";
        if (p->total) {
            double frac = (double)done / (double)p->total;
            if (frac > 1) frac = 1;
            int bw = 20, fill = (int)(frac * bw);
            bar[0] = ' ';
            bar[1] = '[';
            for (int i = 0; i < bw; i++) bar[2 + i] = i < fill ? '#' : '.';
            snprintf(bar + 2 + bw, sizeof bar - 2 - (size_t)bw, "] %3d%%", (int)(frac * 100));
        }
        char line[512];
        snprintf(line, sizeof line, "%s%s%s", p->label, bar, tail);
        if ((int)strlen(line) > width && width > 0) line[width] = 0;
        fprintf(p->out, "\r%s\033[K", line);
        p->drawn = 1;
    } else {
        fprintf(p->out, "%s:%s\n", p->label, tail);
        p->lines++;
    }
    fflush(p->out);
}

static void maybe_draw(aspire_progress *p) {
    if (p->quiet) return;
    double now = aspire_now();
    double period = p->tty ? TTY_PERIOD : p->interval;
    if (now - p->last_draw < period) return;
    /* one thread draws; the others go on */
    if (__atomic_exchange_n(&p->busy, 1, __ATOMIC_ACQUIRE)) return;
    if (now - p->last_draw >= period) {
        p->last_draw = now;
        draw(p, now);
    }
    __atomic_store_n(&p->busy, 0, __ATOMIC_RELEASE);
}

void aspire_progress_update(aspire_progress *p, int64_t done, const char *fmt, ...) {
    __atomic_store_n(&p->done, done, __ATOMIC_RELAXED);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->extra, sizeof p->extra, fmt, ap);
        va_end(ap);
    }
    maybe_draw(p);
}

void aspire_progress_add(aspire_progress *p, int64_t n) {
    __atomic_fetch_add(&p->done, n, __ATOMIC_RELAXED);
    maybe_draw(p);
}

void aspire_progress_finish(aspire_progress *p, const char *fmt, ...) {
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->extra, sizeof p->extra, fmt, ap);
        va_end(ap);
    }
    if (p->quiet) return;
    double el = aspire_now() - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0;
    char rs[48];
    fmt_rate(rs, sizeof rs, rate, p->unit);
    if (p->tty && p->drawn) fputc('\r', p->out);
    fprintf(p->out, "%s: %lld %s in %.1f s (%s)%s%s%s\n", p->label, (long long)p->done, p->unit, el, rs,
            p->extra[0] ? "  " : "", p->extra, p->tty ? "\033[K" : "");
    fflush(p->out);
    p->drawn = 0;
}
