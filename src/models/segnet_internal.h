/* segnet_internal.h — the built-in segmenter network's state, shared by segnet*.c. */
#ifndef ASPIRE_SEGNET_INTERNAL_H
#define ASPIRE_SEGNET_INTERNAL_H

#include "aspire/segmenter.h"

struct aspire_segnet {
    aspire_segnet_config cfg;
    aspire_params *params;
    aspire_tensor *enc_w[ASPIRE_SEGNET_MAX_LEVELS][2], *enc_b[ASPIRE_SEGNET_MAX_LEVELS][2];
    aspire_tensor *lat_w[ASPIRE_SEGNET_MAX_LEVELS], *lat_b[ASPIRE_SEGNET_MAX_LEVELS];
    aspire_tensor *dec_w[ASPIRE_SEGNET_MAX_LEVELS], *dec_b[ASPIRE_SEGNET_MAX_LEVELS];
    aspire_tensor *head_w, *head_b;
    int nconcepts;
    char **concepts;
    int nphrases;
    char **phrases;
    uint64_t *sets;
    aspire_segnet_thresholds th;
};

/* Copies a vocabulary into the network (phrases checked: non-empty, sets within the concepts). */
int segnet_set_vocab(aspire_segnet *net, const aspire_segnet_vocab *v);
void segnet_clear_vocab(aspire_segnet *net);
/* "phrase=c,c;phrase=c" (new string) and its parser (errors name `where`). */
char *segnet_phrases_serialize(const aspire_segnet *net);
int segnet_phrases_parse(aspire_segnet_vocab *v, char ***phrases, uint64_t **sets, const char *s, const char *where);

/* Tunes the thresholds on corpus images [first, first + n) (segnet_tune.c); report gets a line. */
int segnet_tune(aspire_segnet *net, const aspire_seg_corpus *c, int first, int n, int threads, char *report, size_t cap);

#endif
