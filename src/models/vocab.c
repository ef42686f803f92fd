/* vocab.c — the word vocabulary of the text models: tokeniser, frequency-ordered build, lookups
 * through an open-addressing hash table, and the one-string serialisation. */
#include "aspire/vocab.h"

#include <stdlib.h>
#include <string.h>

struct aspire_vocab {
    char **words;     /* (n) NUL-terminated, owned */
    int n, cap;
    int32_t *slots;   /* (nslots) hash table of ids, -1 = empty */
    int nslots;       /* a power of two, > 2n */
};

static const char *const specials[ASPIRE_TOK_SPECIALS] = {"<pad>", "<bos>", "<eos>", "<unk>"};

/* ---- tokeniser --------------------------------------------------------------------------- */
static int is_word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'' ||
           c == '-' || c >= 0x80;
}

int aspire_vocab_tokenize(const char *text, void (*fn)(const char *word, int len, void *ud), void *ud) {
    char w[ASPIRE_VOCAB_MAX_WORD + 1];
    int count = 0, len = 0;
    for (const unsigned char *p = (const unsigned char *)text;; p++) {
        unsigned char c = *p;
        if (c && is_word_byte(c)) {
            w[len++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
            if (len < ASPIRE_VOCAB_MAX_WORD) continue;
        }
        if (len > 0) {
            if (fn) fn(w, len, ud);
            count++;
            len = 0;
        }
        if (!c) break;
    }
    return count;
}

/* ---- hash table ---------------------------------------------------------------------------- */
static uint32_t hash_word(const char *w, int len) {
    uint32_t h = 2166136261u;  /* FNV-1a */
    for (int i = 0; i < len; i++) h = (h ^ (unsigned char)w[i]) * 16777619u;
    return h;
}

static int find_slot(const aspire_vocab *v, const char *w, int len) {
    uint32_t mask = (uint32_t)v->nslots - 1;
    for (uint32_t s = hash_word(w, len) & mask;; s = (s + 1) & mask) {
        int32_t id = v->slots[s];
        if (id < 0) return (int)s;
        if ((int)strlen(v->words[id]) == len && memcmp(v->words[id], w, (size_t)len) == 0) return (int)s;
    }
}

static int rehash(aspire_vocab *v, int nslots) {
    int32_t *slots = aspire_malloc(sizeof(int32_t) * (size_t)nslots);
    if (!slots) return ASPIRE_ERR_NOMEM;
    for (int i = 0; i < nslots; i++) slots[i] = -1;
    aspire_free(v->slots, sizeof(int32_t) * (size_t)v->nslots);
    v->slots = slots;
    v->nslots = nslots;
    for (int id = 0; id < v->n; id++) v->slots[find_slot(v, v->words[id], (int)strlen(v->words[id]))] = id;
    return ASPIRE_OK;
}

/* Adds a word (must be new); returns its id or a negative status. */
static int add_word(aspire_vocab *v, const char *w, int len) {
    if (v->n == v->cap) {
        int cap = v->cap ? 2 * v->cap : 64;
        char **words = aspire_realloc(v->words, sizeof(char *) * (size_t)v->cap, sizeof(char *) * (size_t)cap);
        if (!words) return ASPIRE_ERR_NOMEM;
        v->words = words;
        v->cap = cap;
    }
    if (2 * (v->n + 1) >= v->nslots) {
        int rc = rehash(v, v->nslots ? 2 * v->nslots : 128);
        if (rc) return rc;
    }
    char *s = aspire_malloc((size_t)len + 1);
    if (!s) return ASPIRE_ERR_NOMEM;
    memcpy(s, w, (size_t)len);
    s[len] = 0;
    int id = v->n++;
    v->words[id] = s;
    v->slots[find_slot(v, w, len)] = id;
    return id;
}

static int lookup(const aspire_vocab *v, const char *w, int len) {
    if (!v->nslots) return -1;
    return v->slots[find_slot(v, w, len)];
}

static aspire_vocab *vocab_with_specials(void) {
    aspire_vocab *v = aspire_calloc(1, sizeof *v);
    if (!v) return NULL;
    for (int i = 0; i < ASPIRE_TOK_SPECIALS; i++)
        if (add_word(v, specials[i], (int)strlen(specials[i])) < 0) { aspire_vocab_free(v); return NULL; }
    return v;
}

void aspire_vocab_free(aspire_vocab *v) {
    if (!v) return;
    for (int i = 0; i < v->n; i++) aspire_strfree(v->words[i]);
    aspire_free(v->words, sizeof(char *) * (size_t)v->cap);
    aspire_free(v->slots, sizeof(int32_t) * (size_t)v->nslots);
    aspire_free(v, sizeof *v);
}

/* ---- build ----------------------------------------------------------------------------------- */
typedef struct counter {
    aspire_vocab *seen;   /* every distinct word, in first-seen order */
    int64_t *counts;      /* (cap) */
    int cap;
    int status;
} counter;

static void count_word(const char *w, int len, void *ud) {
    counter *c = ud;
    if (c->status) return;
    int id = lookup(c->seen, w, len);
    if (id < 0) {
        id = add_word(c->seen, w, len);
        if (id < 0) { c->status = id; return; }
        if (id >= c->cap) {
            int cap = c->cap ? 2 * c->cap : 256;
            int64_t *counts = aspire_realloc(c->counts, sizeof(int64_t) * (size_t)c->cap, sizeof(int64_t) * (size_t)cap);
            if (!counts) { c->status = ASPIRE_ERR_NOMEM; return; }
            memset(counts + c->cap, 0, sizeof(int64_t) * (size_t)(cap - c->cap));
            c->counts = counts;
            c->cap = cap;
        }
    }
    c->counts[id]++;
}

static const counter *sort_counter;
static int by_count_then_word(const void *a, const void *b) {
    int ia = *(const int *)a, ib = *(const int *)b;
    int64_t ca = sort_counter->counts[ia], cb = sort_counter->counts[ib];
    if (ca != cb) return ca > cb ? -1 : 1;
    return strcmp(sort_counter->seen->words[ia], sort_counter->seen->words[ib]);
}

int aspire_vocab_build(aspire_vocab **out, const char *const *captions, int n, int min_count, int max_size) {
    *out = NULL;
    if (max_size != 0 && max_size <= ASPIRE_TOK_SPECIALS)
        return aspire_error(ASPIRE_ERR_ARG, "vocabulary size %d leaves no room for words (needs > %d)", max_size,
                            ASPIRE_TOK_SPECIALS);
    counter c = {0};
    c.seen = aspire_calloc(1, sizeof *c.seen);
    if (!c.seen) return ASPIRE_ERR_NOMEM;
    for (int i = 0; i < n && !c.status; i++) aspire_vocab_tokenize(captions[i], count_word, &c);
    int rc = c.status;
    aspire_vocab *v = NULL;
    int *order = NULL;
    int nseen = c.seen->n;
    if (!rc) {
        order = aspire_malloc(sizeof(int) * (size_t)(nseen ? nseen : 1));
        v = vocab_with_specials();
        if (!order || !v) rc = ASPIRE_ERR_NOMEM;
    }
    if (!rc) {
        for (int i = 0; i < nseen; i++) order[i] = i;
        sort_counter = &c;  /* qsort has no user pointer in C11; the build is not re-entrant */
        qsort(order, (size_t)nseen, sizeof(int), by_count_then_word);
        sort_counter = NULL;
        for (int k = 0; k < nseen && !rc; k++) {
            int id = order[k];
            if (c.counts[id] < (min_count > 1 ? min_count : 1)) break;
            if (max_size && v->n >= max_size) break;
            const char *w = c.seen->words[id];
            if (lookup(v, w, (int)strlen(w)) >= 0) continue;  /* a word spelled like a special */
            int r = add_word(v, w, (int)strlen(w));
            if (r < 0) rc = r;
        }
    }
    aspire_free(order, sizeof(int) * (size_t)(nseen ? nseen : 1));
    aspire_free(c.counts, sizeof(int64_t) * (size_t)c.cap);
    aspire_vocab_free(c.seen);
    if (rc) { aspire_vocab_free(v); return rc; }
    *out = v;
    return ASPIRE_OK;
}

/* ---- lookups ----------------------------------------------------------------------------------- */
int aspire_vocab_size(const aspire_vocab *v) { return v->n; }

const char *aspire_vocab_word(const aspire_vocab *v, int id) {
    ASPIRE_ASSERT(id >= 0 && id < v->n, "(id %d, vocabulary of %d)", id, v->n);
    return v->words[id];
}

int aspire_vocab_id(const aspire_vocab *v, const char *word) {
    int id = lookup(v, word, (int)strlen(word));
    return id < 0 ? ASPIRE_TOK_UNK : id;
}

typedef struct encoder {
    const aspire_vocab *v;
    int32_t *ids;
    int n, limit;  /* limit: last index a word may take (room for eos) */
} encoder;

static void encode_word(const char *w, int len, void *ud) {
    encoder *e = ud;
    if (e->n >= e->limit) return;
    int id = lookup(e->v, w, len);
    e->ids[e->n++] = id < 0 ? ASPIRE_TOK_UNK : id;
}

int aspire_vocab_encode(const aspire_vocab *v, const char *text, int32_t *ids, int max_len) {
    ASPIRE_ASSERT(max_len >= 2);
    encoder e = {v, ids, 0, max_len - 1};
    ids[e.n++] = ASPIRE_TOK_BOS;
    aspire_vocab_tokenize(text, encode_word, &e);
    ids[e.n++] = ASPIRE_TOK_EOS;
    for (int i = e.n; i < max_len; i++) ids[i] = ASPIRE_TOK_PAD;
    return e.n;
}

size_t aspire_vocab_decode(const aspire_vocab *v, const int32_t *ids, int n, char *buf, size_t cap) {
    size_t need = 0, written = 0;
    int full = 0;
    for (int i = 0; i < n; i++) {
        int id = ids[i];
        if (id == ASPIRE_TOK_EOS) break;
        if (id == ASPIRE_TOK_BOS || id == ASPIRE_TOK_PAD) continue;
        const char *w = (id >= 0 && id < v->n) ? v->words[id] : specials[ASPIRE_TOK_UNK];
        size_t len = strlen(w), sep = need ? 1 : 0;
        if (!full && buf && written + sep + len + 1 <= cap) {
            if (sep) buf[written++] = ' ';
            memcpy(buf + written, w, len);
            written += len;
        } else {
            full = 1;
        }
        need += sep + len;
    }
    if (buf && cap) buf[written < cap ? written : cap - 1] = 0;
    return need;
}

/* ---- serialisation --------------------------------------------------------------------------- */
char *aspire_vocab_serialize(const aspire_vocab *v) {
    size_t total = 1;
    for (int i = 0; i < v->n; i++) total += strlen(v->words[i]) + 1;
    char *s = aspire_malloc(total);
    if (!s) return NULL;
    size_t k = 0;
    for (int i = 0; i < v->n; i++) {
        if (i) s[k++] = ' ';
        size_t len = strlen(v->words[i]);
        memcpy(s + k, v->words[i], len);
        k += len;
    }
    s[k] = 0;
    return s;
}

int aspire_vocab_parse(aspire_vocab **out, const char *s) {
    *out = NULL;
    aspire_vocab *v = aspire_calloc(1, sizeof *v);
    if (!v) return ASPIRE_ERR_NOMEM;
    int rc = ASPIRE_OK;
    const char *p = s;
    while (*p && !rc) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *q = p;
        while (*q && *q != ' ') q++;
        int len = (int)(q - p);
        int idx = v->n;
        if (idx < ASPIRE_TOK_SPECIALS) {
            if (len != (int)strlen(specials[idx]) || memcmp(p, specials[idx], (size_t)len) != 0)
                rc = aspire_error(ASPIRE_ERR_FORMAT, "vocabulary: entry %d is '%.*s', expected '%s'", idx,
                                  len > 40 ? 40 : len, p, specials[idx]);
        } else {
            int ok = len <= ASPIRE_VOCAB_MAX_WORD;
            for (int i = 0; i < len && ok; i++) {
                unsigned char c = (unsigned char)p[i];
                ok = is_word_byte(c) && !(c >= 'A' && c <= 'Z');
            }
            if (!ok)
                rc = aspire_error(ASPIRE_ERR_FORMAT, "vocabulary: entry %d '%.*s' is not a lowercase word", idx,
                                  len > 40 ? 40 : len, p);
            else if (lookup(v, p, len) >= 0)
                rc = aspire_error(ASPIRE_ERR_FORMAT, "vocabulary: word '%.*s' appears twice", len, p);
        }
        if (!rc) {
            int r = add_word(v, p, len);
            if (r < 0) rc = r;
        }
        p = q;
    }
    if (!rc && v->n < ASPIRE_TOK_SPECIALS)
        rc = aspire_error(ASPIRE_ERR_FORMAT, "vocabulary: %d entries, fewer than the %d special tokens", v->n,
                          ASPIRE_TOK_SPECIALS);
    if (rc) { aspire_vocab_free(v); return rc; }
    *out = v;
    return ASPIRE_OK;
}
