/* fuzz_vocab.c — the captioner's vocabulary as a model file stores it (aspire_vocab_parse, the
 * "vocab" metadata entry, which a hostile model file controls) and the tokenizer every caption goes
 * through. The input is split at its first NUL: a vocabulary, then a caption. An accepted
 * vocabulary must serialise back to itself and parse again; the caption is tokenised, encoded and
 * decoded with it (every decoded word is one of the vocabulary's). */
#include "fuzz.h"

#include "aspire/vocab.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) { (void)argc; (void)argv; return 0; }

static void count_word(const char *word, int len, void *ud) {
    if (len < 1 || len > ASPIRE_VOCAB_MAX_WORD || !word) abort();
    ++*(int *)ud;
}

static void use(const aspire_vocab *v, const char *caption) {
    int32_t ids[24];
    int n = aspire_vocab_encode(v, caption, ids, 24);
    if (n < 2 || n > 24) abort();
    for (int i = 0; i < 24; i++)
        if (ids[i] < 0 || ids[i] >= aspire_vocab_size(v)) abort();
    char buf[512];
    size_t need = aspire_vocab_decode(v, ids, 24, buf, sizeof buf);
    if (need < sizeof buf && strlen(buf) != need) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_cstr(data, size);
    size_t first = strlen(text);
    const char *caption = first < size ? text + first + 1 : "";
    int words = 0;
    if (aspire_vocab_tokenize(caption, count_word, &words) != words) abort();
    aspire_vocab *v = NULL;
    if (aspire_vocab_parse(&v, text) == ASPIRE_OK) {
        char *s = aspire_vocab_serialize(v);
        aspire_vocab *again = NULL;
        if (!s || aspire_vocab_parse(&again, s) != ASPIRE_OK) abort();
        if (aspire_vocab_size(again) != aspire_vocab_size(v)) abort();
        for (int i = 0; i < aspire_vocab_size(v); i++)
            if (strcmp(aspire_vocab_word(v, i), aspire_vocab_word(again, i)) || aspire_vocab_id(v, aspire_vocab_word(v, i)) != i)
                abort();
        use(v, caption);
        aspire_vocab_free(again);
        aspire_strfree(s);
        aspire_vocab_free(v);
    } else if (v) {
        abort();
    }
    free(text);
    return 0;
}
