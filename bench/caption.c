/* caption.c — the built-in captioner's quality and speed on the world corpus's test part, with the
 * scene graphs as ground truth: species and background accuracy, object precision / recall / F1,
 * corpus BLEU-4 against the reference captions, and images captioned per second (median of
 * --repeats runs over the in-memory images: conversion, encoder and decoding; PNG decoding not
 * included). The last line is one JSON object.
 *
 *   build/bench/caption [--corpus DIR] [--model FILE] [--beam N] [--limit N] [--repeats N]
 *
 * Without --corpus it writes the default world corpus (seed 0) to a temporary folder first. */
#include "aspire/capeval.h"
#include "aspire/captioner.h"
#include "aspire/world.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The corpus's test part at the model's size; without a corpus folder, the default world corpus
 * written to a temporary folder first (*corpus then names it, for the report). */
static int load_corpus(aspire_caption_corpus *c, const char **corpus, int limit, int size) {
    static char tmpdir[] = "/tmp/aspire-bench-corpus-XXXXXX";
    int made_tmp = 0;
    if (!*corpus) {
        if (!mkdtemp(tmpdir)) { fprintf(stderr, "caption: cannot make a temporary folder\n"); return 1; }
        made_tmp = 1;
        *corpus = tmpdir;
        aspire_world_corpus_opts co;
        aspire_world_corpus_opts_default(&co);
        co.out = tmpdir;
        fprintf(stderr, "caption: writing the default world corpus to %s\n", tmpdir);
        if (aspire_world_corpus_write(&co)) {
            fprintf(stderr, "caption: %s\n", aspire_errmsg());
            nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
            return 1;
        }
    }
    int rc = aspire_caption_corpus_load(c, *corpus, 2, limit, size);
    if (made_tmp) nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc) fprintf(stderr, "caption: %s\n", aspire_errmsg());
    return rc != 0;
}

/* The scores of the captions against the corpus's scene graphs and references. */
static int score(const aspire_caption_corpus *c, char **caps, aspire_capeval_summary *s) {
    aspire_capeval_lexicon *lex = NULL;
    if (aspire_capeval_lexicon_world(&lex)) { fprintf(stderr, "caption: %s\n", aspire_errmsg()); return 1; }
    aspire_capeval_totals t = {0};
    for (int i = 0; i < c->n; i++) {
        int nref = 0;
        while (nref < c->ncap && c->captions[(size_t)i * c->ncap + nref]) nref++;
        aspire_capeval_add(&t, lex, caps[i], &c->facts[i], (const char *const *)c->captions + (size_t)i * c->ncap, nref);
    }
    *s = aspire_capeval_summarize(&t);
    aspire_capeval_lexicon_free(lex);
    return 0;
}

int main(int argc, char **argv) {
    const char *corpus = NULL, *model = NULL;
    int beam = 1, limit = 0, repeats = 3, batch = 64, threads = 0, show = 8;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--corpus") && v) corpus = argv[++i];
        else if (!strcmp(a, "--model") && v) model = argv[++i];
        else if (!strcmp(a, "--beam") && v) beam = atoi(argv[++i]);
        else if (!strcmp(a, "--limit") && v) limit = atoi(argv[++i]);
        else if (!strcmp(a, "--repeats") && v) repeats = atoi(argv[++i]);
        else if (!strcmp(a, "--batch") && v) batch = atoi(argv[++i]);
        else if (!strcmp(a, "--threads") && v) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--show") && v) show = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--corpus DIR] [--model FILE] [--beam N] [--limit N] [--repeats N] [--batch N] "
                            "[--threads N] [--show N]\n", argv[0]);
            return 2;
        }
    }
    if (beam < 1 || repeats < 1 || batch < 1) { fprintf(stderr, "caption: bad --beam/--repeats/--batch\n"); return 2; }
    aspire_set_threads(threads);
    char model_buf[4096];
    if (!model) model = aspire_captioner_default_model(getenv("ASPIRE_MODELS"), model_buf, sizeof model_buf);
    aspire_captioner *cap = NULL;
    char *recipe = NULL;
    if (aspire_captioner_load(&cap, model, &recipe)) { fprintf(stderr, "caption: %s\n", aspire_errmsg()); return 1; }
    const aspire_captioner_config *cfg = aspire_captioner_get_config(cap);

    aspire_caption_corpus c;
    if (load_corpus(&c, &corpus, limit, cfg->image_size)) return 1;
    int rc = ASPIRE_OK;

    aspire_image *imgs = calloc((size_t)c.n, sizeof *imgs);
    char **caps = calloc((size_t)c.n, sizeof *caps);
    double *rates = calloc((size_t)repeats, sizeof *rates);
    aspire_ctx *ctx = NULL;
    if (!imgs || !caps || !rates || aspire_ctx_new(&ctx, &(aspire_ctx_options){.threads = threads})) {
        fprintf(stderr, "caption: out of memory\n");
        return 1;
    }
    for (int i = 0; i < c.n; i++)
        imgs[i] = (aspire_image){c.size, c.size, 3, c.pixels + (size_t)i * c.size * c.size * 3};
    for (int r = 0; r < repeats && !rc; r++) {
        if (r) for (int i = 0; i < c.n; i++) { aspire_strfree(caps[i]); caps[i] = NULL; }
        double t0 = aspire_now();
        rc = aspire_captioner_caption(ctx, cap, imgs, c.n, beam, batch, caps);
        rates[r] = c.n / (aspire_now() - t0);
        fprintf(stderr, "caption: run %d: %.1f images/s\n", r + 1, rates[r]);
    }
    if (rc) { fprintf(stderr, "caption: %s\n", aspire_errmsg()); return 1; }
    qsort(rates, (size_t)repeats, sizeof *rates, cmp_double);
    double rate = rates[repeats / 2];

    aspire_capeval_summary s;
    if (score(&c, caps, &s)) return 1;
    for (int i = 0; i < c.n && i < show; i++) printf("  %-22s %s\n", c.paths[i], caps[i]);
    printf("model     %s (%lld parameters, %d words)\n", model,
           (long long)aspire_params_numel(aspire_captioner_params(cap), 0), cfg->vocab_size);
    printf("recipe    %s\n", recipe);
    printf("test      %d images of %s, beam %d, batch %d, %d threads\n", c.n, corpus, beam, batch, aspire_get_threads());
    printf("species   %.4f\nbackground %.4f\nobjects   P %.4f  R %.4f  F1 %.4f\nBLEU-4    %.4f\n", s.species_acc,
           s.bg_acc, s.obj_precision, s.obj_recall, s.obj_f1, s.bleu4);
    printf("speed     %.1f images/s (median of %d)\n", rate, repeats);
    printf("{\"caption_bg_acc\": %.4f, \"caption_species_acc\": %.4f, \"caption_obj_f1\": %.4f, "
           "\"caption_obj_precision\": %.4f, \"caption_obj_recall\": %.4f, \"caption_bleu4\": %.4f, "
           "\"caption_img_s\": %.1f, \"n\": %d, \"beam\": %d, \"threads\": %d}\n",
           s.bg_acc, s.species_acc, s.obj_f1, s.obj_precision, s.obj_recall, s.bleu4, rate, c.n, beam,
           aspire_get_threads());
    for (int i = 0; i < c.n; i++) aspire_strfree(caps[i]);
    free(caps);
    free(imgs);
    free(rates);
    aspire_caption_corpus_destroy(&c);
    aspire_ctx_free(ctx);
    aspire_strfree(recipe);
    aspire_captioner_free(cap);
    return 0;
}
