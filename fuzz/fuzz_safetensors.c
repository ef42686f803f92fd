/* fuzz_safetensors.c — the safetensors reader (src/io/safetensors.c) on arbitrary bytes: every
 * tensor of an accepted file is converted to floats and looked up by name, and the metadata is
 * walked, so that whatever the validator lets through is safe to use. */
#include "fuzz.h"

#include "aspire/safetensors.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) { (void)argc; (void)argv; return 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    aspire_safetensors *st = NULL;
    if (aspire_safetensors_parse(&st, data, size, "fuzz.safetensors") != ASPIRE_OK) {
        if (st || !*aspire_errmsg()) abort();
        return 0;
    }
    int n = aspire_safetensors_count(st);
    for (int i = 0; i < n; i++) {
        const aspire_st_tensor *t = aspire_safetensors_at(st, i);
        if (!t || aspire_safetensors_find(st, t->name) != t) abort();
        if (t->nbytes != (size_t)t->numel * aspire_dtype_size(t->dtype)) abort();
        if (t->numel > (1 << 20)) continue;  /* the bytes are in the input: numel is bounded by it */
        float *f = malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1));
        if (!f) abort();
        aspire_st_tensor_to_f32(t, f);
        const aspire_st_tensor *got = NULL;
        (void)aspire_safetensors_read_f32(st, t->name, t->ndim, t->shape, 1, f, t->numel, &got);
        free(f);
    }
    for (int i = 0; i < aspire_safetensors_meta_count(st); i++) {
        const char *k = NULL, *v = NULL;
        aspire_safetensors_meta_at(st, i, &k, &v);
        if (!k || !v || aspire_safetensors_meta(st, k) == NULL) abort();
    }
    aspire_safetensors_free(st);
    return 0;
}
