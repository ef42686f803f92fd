/* vocab.h — a word vocabulary for the text models: lowercase word tokens, the four special tokens
 * <pad> <bos> <eos> <unk> at ids 0..3, built from a corpus of captions, and serialised as one
 * string (for the metadata of a safetensors file).
 *
 * Tokenisation: ASCII letters are lowercased; a word is a maximal run of letters, digits, '\'',
 * '-' or bytes >= 0x80 (UTF-8 passes through whole); every other byte separates words and is
 * dropped. "A swan, on the Lake." -> ["a", "swan", "on", "the", "lake"]. */
#ifndef ASPIRE_VOCAB_H
#define ASPIRE_VOCAB_H

#include "aspire/common.h"

#define ASPIRE_TOK_PAD 0
#define ASPIRE_TOK_BOS 1
#define ASPIRE_TOK_EOS 2
#define ASPIRE_TOK_UNK 3
#define ASPIRE_TOK_SPECIALS 4

/* Longest word kept; longer runs are cut into pieces of this length. */
#define ASPIRE_VOCAB_MAX_WORD 63

typedef struct aspire_vocab aspire_vocab;

/* Builds a vocabulary from n captions: the specials, then every word seen at least min_count
 * times, most frequent first (ties alphabetical), at most max_size entries in all (0 = no limit).
 * Deterministic in its input. Returns ASPIRE_OK and *out (free with aspire_vocab_free), or
 * ASPIRE_ERR_NOMEM / ASPIRE_ERR_ARG (max_size in 1..4). */
ASPIRE_API int aspire_vocab_build(aspire_vocab **out, const char *const *captions, int n, int min_count,
                                  int max_size);
ASPIRE_API void aspire_vocab_free(aspire_vocab *v);

ASPIRE_API int aspire_vocab_size(const aspire_vocab *v);
/* The word of an id ("<pad>", "<bos>", ... for the specials). id must be in [0, size). */
ASPIRE_API const char *aspire_vocab_word(const aspire_vocab *v, int id);
/* The id of a word (exact, already lowercase), or ASPIRE_TOK_UNK. */
ASPIRE_API int aspire_vocab_id(const aspire_vocab *v, const char *word);

/* Splits text into lowercase words, calling fn(word, len, ud) for each (word is not
 * NUL-terminated; len <= ASPIRE_VOCAB_MAX_WORD). Returns the number of words. */
ASPIRE_API int aspire_vocab_tokenize(const char *text, void (*fn)(const char *word, int len, void *ud), void *ud);

/* Encodes text as ids into ids[0..max_len): <bos> first, then the words, then <eos>, and <pad> up
 * to max_len. A text too long is cut so that <eos> still fits. Returns the number of ids before
 * the padding (bos and eos included), at most max_len (max_len >= 2). */
ASPIRE_API int aspire_vocab_encode(const aspire_vocab *v, const char *text, int32_t *ids, int max_len);
/* Decodes ids into text: words joined by single spaces, <bos> and <pad> skipped, stopping at the
 * first <eos>; unknown ids read "<unk>". Writes at most cap bytes including the NUL (truncating at
 * a word boundary) and returns the length it needed (like snprintf). */
ASPIRE_API size_t aspire_vocab_decode(const aspire_vocab *v, const int32_t *ids, int n, char *buf, size_t cap);

/* Serialises the vocabulary as its words in id order separated by single spaces (the specials
 * first). Returns a new string (free with aspire_strfree) or NULL on OOM. */
ASPIRE_API char *aspire_vocab_serialize(const aspire_vocab *v);
/* Parses what aspire_vocab_serialize wrote. A string that does not start with the four specials,
 * repeats a word or holds a word with uppercase letters or separators is refused
 * (ASPIRE_ERR_FORMAT, naming the word). */
ASPIRE_API int aspire_vocab_parse(aspire_vocab **out, const char *s);

#endif
