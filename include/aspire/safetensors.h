/* safetensors.h — reading and writing the safetensors format (Hugging Face): an 8-byte little-endian
 * header length N, N bytes of JSON header ({"__metadata__": {str: str}, "name": {"dtype": "F32",
 * "shape": [..], "data_offsets": [begin, end]}, ...}, offsets relative to the data after the
 * header), then the tensor bytes, little-endian. Weights and learned embeddings are stored this
 * way so that they can be exchanged with PyTorch.
 *
 * The reader validates the whole file when it opens it (header length within the file, JSON well
 * formed, known dtypes, offsets in range and not overlapping, each tensor's byte size equal to
 * dtype size × shape) and refuses anything else with a message naming the file and the tensor. */
#ifndef ASPIRE_SAFETENSORS_H
#define ASPIRE_SAFETENSORS_H

#include "aspire/common.h"

typedef enum aspire_dtype {
    ASPIRE_DT_F32 = 0, ASPIRE_DT_F16, ASPIRE_DT_BF16, ASPIRE_DT_F64,
    ASPIRE_DT_I64, ASPIRE_DT_I32, ASPIRE_DT_I16, ASPIRE_DT_I8,
    ASPIRE_DT_U64, ASPIRE_DT_U32, ASPIRE_DT_U16, ASPIRE_DT_U8, ASPIRE_DT_BOOL,
    ASPIRE_DT_F8_E4M3, ASPIRE_DT_F8_E5M2,
    ASPIRE_DT_COUNT
} aspire_dtype;

#define ASPIRE_ST_MAX_DIMS 8

/* "F32", "BF16", ... as in the format. */
ASPIRE_API const char *aspire_dtype_name(aspire_dtype dt);
ASPIRE_API size_t aspire_dtype_size(aspire_dtype dt);

/* ---- reading --------------------------------------------------------------------------------- */
typedef struct aspire_safetensors aspire_safetensors;

/* One tensor of an open file; pointers stay valid until the file is freed. data may be unaligned. */
typedef struct aspire_st_tensor {
    const char *name;
    aspire_dtype dtype;
    int ndim;                            /* 0 for a scalar */
    int64_t shape[ASPIRE_ST_MAX_DIMS];
    int64_t numel;
    const void *data;                    /* nbytes bytes, little-endian */
    size_t nbytes;
} aspire_st_tensor;

/* Reads and validates a whole file into *out (free with aspire_safetensors_free). Returns
 * ASPIRE_OK, ASPIRE_ERR_NOTFOUND / ASPIRE_ERR_IO (cannot read) or ASPIRE_ERR_FORMAT (malformed,
 * the message names the file and, where one is at fault, the tensor). */
ASPIRE_API int aspire_safetensors_open(aspire_safetensors **out, const char *path);
/* The same from bytes in memory (copied); `name` names it in messages. */
ASPIRE_API int aspire_safetensors_parse(aspire_safetensors **out, const void *data, size_t n, const char *name);
ASPIRE_API void aspire_safetensors_free(aspire_safetensors *st);
ASPIRE_API const char *aspire_safetensors_path(const aspire_safetensors *st);

/* Tensors in the order of their data offsets. */
ASPIRE_API int aspire_safetensors_count(const aspire_safetensors *st);
ASPIRE_API const aspire_st_tensor *aspire_safetensors_at(const aspire_safetensors *st, int i);
/* NULL if there is no tensor of that name. */
ASPIRE_API const aspire_st_tensor *aspire_safetensors_find(const aspire_safetensors *st, const char *name);

/* Metadata (the "__metadata__" string map): the value of `key` or NULL; and by index. */
ASPIRE_API const char *aspire_safetensors_meta(const aspire_safetensors *st, const char *key);
ASPIRE_API int aspire_safetensors_meta_count(const aspire_safetensors *st);
ASPIRE_API void aspire_safetensors_meta_at(const aspire_safetensors *st, int i, const char **key, const char **value);

/* Checks that tensor `name` exists with exactly this shape (ndim/shape; shape NULL skips the check)
 * and a dtype that reads as float (F32 always; F16, BF16, F64 and the integer and bool types only
 * if `convert`), and writes it as numel floats into dst (which holds `capacity` floats). If *t_out
 * is not NULL it receives the tensor. Errors: ASPIRE_ERR_NOTFOUND (no such tensor),
 * ASPIRE_ERR_SHAPE (shape, or numel > capacity), ASPIRE_ERR_FORMAT (dtype), each naming the file
 * and the tensor. */
ASPIRE_API int aspire_safetensors_read_f32(const aspire_safetensors *st, const char *name, int ndim,
                                           const int64_t *shape, int convert, float *dst, int64_t capacity,
                                           const aspire_st_tensor **t_out);
/* Converts a tensor's data to floats (any dtype; 64-bit integers may round). dst holds t->numel. */
ASPIRE_API void aspire_st_tensor_to_f32(const aspire_st_tensor *t, float *dst);

/* ---- writing --------------------------------------------------------------------------------- */
typedef struct aspire_st_writer aspire_st_writer;

/* A writer collects tensors and metadata and writes them in one go. NULL on OOM. */
ASPIRE_API aspire_st_writer *aspire_st_writer_new(void);
ASPIRE_API void aspire_st_writer_free(aspire_st_writer *w);
/* Adds a tensor. The name is copied; `data` (numel × dtype size bytes, little-endian) is NOT copied
 * and must stay valid until aspire_st_writer_save returns. Names must be unique and must not be
 * "__metadata__" (ASPIRE_ERR_ARG otherwise). */
ASPIRE_API int aspire_st_writer_add(aspire_st_writer *w, const char *name, aspire_dtype dtype, int ndim,
                                    const int64_t *shape, const void *data);
/* Sets a metadata key/value (both copied; a repeated key replaces its value). */
ASPIRE_API int aspire_st_writer_meta(aspire_st_writer *w, const char *key, const char *value);
/* Writes the file atomically. Tensors are laid out in the order added; the header is padded with
 * spaces to a multiple of 8 bytes as the reference implementation does, so tensor data starts
 * 8-byte aligned. The writer stays usable (and must still be freed). */
ASPIRE_API int aspire_st_writer_save(aspire_st_writer *w, const char *path);

#endif
