/* extract.h — the extractor: the counterpart of the paper's LLM step. For each (caption, class)
 * it names the caption's foreground objects (leaving out the ones that are the class itself),
 * the single predominant background, and an alternative background — the fields `foreground`,
 * `background`, `alternate_background` of the reference implementation (REFERENCE.md §4).
 *
 * An extractor is an object with a backend behind a small table of functions, so that another
 * backend (an LLM behind an OpenAI-compatible endpoint, say) can be added without touching the
 * callers. The built-in backend reads WordNet (aspire_extractor_new_wordnet; the rules are in
 * src/aspire/extract_wordnet.c and docs/extract.md). */
#ifndef ASPIRE_EXTRACT_H
#define ASPIRE_EXTRACT_H

#include "aspire/common.h"

/* Longest caption accepted, in bytes; longer ones are refused with ASPIRE_ERR_FORMAT. */
#define ASPIRE_EXTRACT_MAX_CAPTION 4096
/* At most this many classes per extractor. */
#define ASPIRE_EXTRACT_MAX_CLASSES 62

/* One caption's result. Caller-owned struct (zero it or let the extractor fill it), strings owned
 * by it; release with aspire_extraction_destroy. Phrases are lower case, words separated by one
 * space. The reference keeps `background` and `alternate_background` as lists of equal length:
 * here each is zero or one phrase, and `alternate` is set only where `background` is. */
typedef struct aspire_extraction {
    char **foreground;     /* n_foreground phrases, in caption order, without duplicates */
    int n_foreground;
    char *background;      /* the predominant background, or NULL when the caption names none */
    char *alternate;       /* an alternative background, or NULL */
} aspire_extraction;

/* Frees the strings and zeroes the struct; accepts NULL and a zeroed struct. */
ASPIRE_API void aspire_extraction_destroy(aspire_extraction *e);

/* A backend: what an extractor calls. `impl` is the backend's own state, owned by the extractor
 * once aspire_extractor_new succeeds (released with `free`). The extractor serialises calls to
 * one backend object, so a backend need not be thread-safe itself.
 *   extract   fills *out (zeroed on entry) for a caption already checked to be valid UTF-8 of at
 *             most ASPIRE_EXTRACT_MAX_CAPTION bytes; cls is a valid class index. It may set
 *             out->alternate itself (an LLM does); where it does not, aspire_extractor_alternates
 *             chooses one from the dataset. Returns ASPIRE_OK or a status with the message set.
 *   contrast  optional (NULL): a fallback alternative for a background when no other class names
 *             one; sets *out to a new string (aspire_strdup) or NULL when it knows none.
 *   concept   optional (NULL): a short description of what the backend takes class `cls` to be
 *             (for logs), or NULL; the string is owned by the backend.
 *   free      releases impl; may be NULL. */
typedef struct aspire_extractor_backend {
    const char *name;
    int (*extract)(void *impl, const char *caption, int cls, aspire_extraction *out);
    int (*contrast)(void *impl, const char *background, char **out);
    const char *(*concept)(void *impl, int cls);
    void (*free)(void *impl);
} aspire_extractor_backend;

typedef struct aspire_extractor aspire_extractor;

/* Wraps a backend. `backend` must outlive the extractor (a static table); `impl` becomes owned by
 * the extractor, also when this fails (then it is released at once). The class names are copied.
 * Returns ASPIRE_OK, ASPIRE_ERR_ARG (no classes, too many, an empty name) or ASPIRE_ERR_NOMEM. */
ASPIRE_API int aspire_extractor_new(const aspire_extractor_backend *backend, void *impl,
                                    const char *const *classes, int nclasses, aspire_extractor **out);

/* The built-in WordNet backend for the given class names (index = class id, e.g. {"landbird",
 * "waterbird"}). Each class name is mapped to a WordNet noun concept ("waterbird" → waterfowl;
 * a name WordNet lacks falls back to its head noun: "landbird" → bird, "big dog" → dog), and the
 * nearest concept that the classes share (bird) counts as the label too; see docs/extract.md.
 * A class that maps to no concept is allowed (its objects are then never recognised as the label:
 * aspire_extractor_concept() returns NULL for it). Opens the WordNet database on first use
 * ($WNSEARCHDIR, else the library's default, /usr/share/wordnet on Debian): ASPIRE_ERR_NOTFOUND
 * when it is missing. Safe to use from several threads; WordNet itself is serialised. */
ASPIRE_API int aspire_extractor_new_wordnet(const char *const *classes, int nclasses, aspire_extractor **out);

/* Frees the extractor and its backend; accepts NULL. */
ASPIRE_API void aspire_extractor_free(aspire_extractor *ex);

ASPIRE_API const char *aspire_extractor_backend_name(const aspire_extractor *ex);
ASPIRE_API int aspire_extractor_nclasses(const aspire_extractor *ex);
ASPIRE_API const char *aspire_extractor_class_name(const aspire_extractor *ex, int cls);
/* What the backend takes class `cls` to be ("bird", "waterbird (shares bird)"), or NULL. */
ASPIRE_API const char *aspire_extractor_concept(const aspire_extractor *ex, int cls);

/* Extracts one caption of class `cls` into *out (overwritten; destroy it afterwards, also after a
 * failure). An empty caption gives an empty result. Returns ASPIRE_OK; ASPIRE_ERR_FORMAT for a
 * caption that is not valid UTF-8 or is longer than ASPIRE_EXTRACT_MAX_CAPTION (the message says
 * which byte or how long); ASPIRE_ERR_ARG for a class outside [0, nclasses); ASPIRE_ERR_NOMEM. */
ASPIRE_API int aspire_extractor_extract(aspire_extractor *ex, const char *caption, int cls, aspire_extraction *out);

/* Chooses the alternative background of every item that has a background but no alternate yet:
 * the background mentioned most often by the items of the *other* classes that differs from the
 * item's own (ties broken by the phrase, so the result does not depend on item order), else the
 * backend's contrast (WordNet: water ↔ land), else none. cls[i] is item i's class.
 * Returns ASPIRE_OK, ASPIRE_ERR_ARG (a class out of range) or ASPIRE_ERR_NOMEM. */
ASPIRE_API int aspire_extractor_alternates(aspire_extractor *ex, aspire_extraction *items, const int *cls, int n);

/* The WordNet base form of each word of a phrase, read as a noun, words joined by one space, lower
 * case: a word WordNet knows as a noun stays ("glasses"), else its first base form ("geese" →
 * goose, "sail boats" → "sail boat"), else the word itself. Writes into out[0..n) (truncated, always
 * terminated). Opens WordNet on first use: ASPIRE_ERR_NOTFOUND when the database is missing.
 * Thread-safe (WordNet is serialised). Used to cluster the phrases of the ranking (detect.h). */
ASPIRE_API int aspire_wordnet_lemma(const char *phrase, char *out, size_t n);

/* Checks that s[0..n) is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
 * Returns -1 when it is, else the offset of the first bad byte. */
ASPIRE_API long aspire_utf8_check(const char *s, size_t n);

/* WordNet's nouns related to `word` (spaces, hyphens or underscores between words; plurals are
 * reduced: "geese" → goose): the lemmas of every noun sense of the word (distance 0), then those of
 * their hypernyms up to max_links links up, nearest first, in lower case with spaces ("pine tree").
 * fn is called for each (a lemma may repeat) until it returns nonzero. Returns ASPIRE_OK (fn is
 * never called for a word WordNet lacks), ASPIRE_ERR_NOTFOUND when the database is missing,
 * ASPIRE_ERR_NOMEM. Thread-safe (fn is called without WordNet's lock held). */
ASPIRE_API int aspire_wordnet_related(const char *word, int max_links,
                                      int (*fn)(const char *lemma, int dist, void *ud), void *ud);

#endif
