/* engine.h — float32 tensors, a reverse-mode autodiff tape, and the ops every model is built from.
 *
 * A context (aspire_ctx) owns an arena for per-step tensors and the tape that records the ops of
 * a forward pass; aspire_backward() walks the tape in reverse. Parameters live outside the arena,
 * in an aspire_params set, and survive aspire_ctx_reset(). Image tensors are NHWC (channels last:
 * a layout oneDNN's direct kernels run on as it is, and one plain C kernels can walk; inside the
 * ResNet the engine keeps oneDNN's blocked layout instead, see ASPIRE_LAYOUT_*); convolution
 * weights are (O, I, KH, KW) as in PyTorch so that exported weights load as they are; linear
 * weights are (out, in).
 *
 * Ops return a new arena tensor, or NULL on failure with aspire_errmsg() set. An op given a NULL
 * input returns NULL (errors are sticky), so a model's forward pass checks only its last result.
 * Shape and contract violations abort with file and line (ASPIRE_ASSERT). */
#ifndef ASPIRE_ENGINE_H
#define ASPIRE_ENGINE_H

#include "aspire/common.h"
#include "aspire/rng.h"

#define ASPIRE_MAX_DIMS 6

typedef struct aspire_tensor {
    int ndim;
    int64_t shape[ASPIRE_MAX_DIMS];
    int64_t numel;
    float *data;           /* numel floats, 64-byte aligned */
    float *grad;           /* numel floats or NULL; see grad_valid */
    uint8_t requires_grad; /* gradient flows to or through this tensor */
    uint8_t grad_valid;    /* grad holds this step's gradient (0: treat as zeros) */
    uint8_t persistent;    /* owned by an aspire_params set, not by the arena */
    uint8_t layout;        /* ASPIRE_LAYOUT_PLAIN, or engine-internal ASPIRE_LAYOUT_NCHW16C (below) */
    int32_t node;          /* tape node that produced it, -1 for a leaf */
    const char *name;      /* parameters: their name in checkpoints; else NULL */
} aspire_tensor;

/* Memory layout of an image tensor's data (its shape is (N, H, W, C) either way). Every tensor an
 * API function returns is PLAIN (row-major in its shape: NHWC). NCHW16C, oneDNN's nChw16c
 * ((N, C/16, H, W, 16), C a multiple of 16), exists only inside the engine's fused model paths
 * (the ResNet keeps its activations blocked from convolution to convolution, where oneDNN's
 * Winograd kernels need it); such tensors are handled by the convolution, batch-norm and pooling
 * ops alone and are never handed to callers. A tensor's grad has its layout. */
enum { ASPIRE_LAYOUT_PLAIN = 0, ASPIRE_LAYOUT_NCHW16C = 1 };

typedef struct aspire_ctx aspire_ctx;

/* Batch-norm kernels (aspire_ctx_options.bn_kernel). */
enum { ASPIRE_BN_DEFAULT = 0, ASPIRE_BN_FAST = 1, ASPIRE_BN_ONEDNN = 2 };

/* Every engine setting is a field here; the library reads no environment variable (the `aspire`
 * program maps ASPIRE_REFERENCE, ASPIRE_WINOGRAD, ASPIRE_BN and ASPIRE_PROFILE onto these fields).
 * A zeroed struct is the default. */
typedef struct aspire_ctx_options {
    int threads;     /* threads of the library calls that run on this context (aspire_ctx_threads);
                        0 = all cores. Creating the context changes no OpenMP setting: the engine's
                        ops run with the calling thread's team size (aspire_threads_enter) */
    uint64_t seed;   /* seeds the context's random numbers (dropout, augmentation) */
    int reference;   /* 1 = plain C reference paths only (no oneDNN) */
    int no_winograd; /* 1 = oneDNN's direct convolutions only (no Winograd kernels) */
    int bn_kernel;   /* ASPIRE_BN_DEFAULT / _FAST (both the fused C kernels) / _ONEDNN (oneDNN's primitive) */
    int profile;     /* 1 = time every op (aspire_ctx_profile_report) */
} aspire_ctx_options;

/* Creates a context. Returns ASPIRE_OK and *out, or a status. Free with aspire_ctx_free (NULL ok). */
ASPIRE_API int aspire_ctx_new(aspire_ctx **out, const aspire_ctx_options *opt);
ASPIRE_API void aspire_ctx_free(aspire_ctx *ctx);
/* Training mode: batch norm uses batch statistics and updates running ones; dropout is active. */
ASPIRE_API void aspire_ctx_set_training(aspire_ctx *ctx, int training);
ASPIRE_API int aspire_ctx_training(const aspire_ctx *ctx);
/* Recording: ops are put on the tape (default on). Off for inference: no tape, less memory. */
ASPIRE_API void aspire_ctx_set_recording(aspire_ctx *ctx, int recording);
ASPIRE_API int aspire_ctx_recording(const aspire_ctx *ctx);
ASPIRE_API int aspire_ctx_reference(const aspire_ctx *ctx);
/* The options the context was made with. */
ASPIRE_API const aspire_ctx_options *aspire_ctx_get_options(const aspire_ctx *ctx);
/* Scoped thread count: sets the calling thread's OpenMP team size to n (0 = all cores, < 0 =
 * unchanged) and returns the previous size for aspire_threads_leave, which restores it. Library
 * calls that take a thread count (training, evaluation, the classifier, the stages) run inside
 * such a scope, so that the caller's own setting is the same after the call as before. */
ASPIRE_API int aspire_threads_enter(int n);
ASPIRE_API void aspire_threads_leave(int prev);
ASPIRE_API aspire_rng *aspire_ctx_rng(aspire_ctx *ctx);
/* Frees every arena tensor and the tape; invalidates all non-persistent tensor pointers. */
ASPIRE_API void aspire_ctx_reset(aspire_ctx *ctx);
/* Bytes the arena has held at most since the context was made. */
ASPIRE_API size_t aspire_ctx_arena_peak(const aspire_ctx *ctx);

/* Arena tensors (freed by aspire_ctx_reset). _new leaves data uninitialised. NULL on OOM. */
ASPIRE_API aspire_tensor *aspire_tensor_new(aspire_ctx *ctx, int ndim, const int64_t *shape);
ASPIRE_API aspire_tensor *aspire_tensor_zeros(aspire_ctx *ctx, int ndim, const int64_t *shape);
ASPIRE_API aspire_tensor *aspire_tensor_from(aspire_ctx *ctx, int ndim, const int64_t *shape,
                                             const float *data);
/* Scratch memory from the arena (64-byte aligned), freed by aspire_ctx_reset. */
ASPIRE_API void *aspire_ctx_alloc(aspire_ctx *ctx, size_t bytes);
ASPIRE_API int aspire_tensor_same_shape(const aspire_tensor *a, const aspire_tensor *b);
/* "(64, 32, 32, 16)" into buf; returns buf. */
ASPIRE_API const char *aspire_shape_str(const aspire_tensor *t, char *buf, size_t n);

/* Reverse pass from a scalar `loss` (numel 1): seeds d loss = 1 and runs every recorded op's
 * backward in reverse. Gradients accumulate into the persistent tensors' grad. */
ASPIRE_API int aspire_backward(aspire_ctx *ctx, aspire_tensor *loss);

/* ---- parameters ---------------------------------------------------------------------------- */
typedef struct aspire_params aspire_params;

ASPIRE_API aspire_params *aspire_params_new(void);  /* NULL on OOM */
ASPIRE_API void aspire_params_free(aspire_params *p);
/* Adds a zero-filled persistent tensor. trainable: requires_grad and a grad buffer; otherwise a
 * buffer (e.g. batch norm running statistics) that is saved but not optimised. The name is
 * copied; names must be unique. Returns NULL on OOM. Owned by p. */
ASPIRE_API aspire_tensor *aspire_params_add(aspire_params *p, const char *name, int ndim,
                                            const int64_t *shape, int trainable);
ASPIRE_API int aspire_params_count(const aspire_params *p);
ASPIRE_API aspire_tensor *aspire_params_at(const aspire_params *p, int i);
ASPIRE_API aspire_tensor *aspire_params_find(const aspire_params *p, const char *name);
ASPIRE_API int aspire_params_trainable(const aspire_params *p, int i);
ASPIRE_API int64_t aspire_params_numel(const aspire_params *p, int trainable_only);
ASPIRE_API void aspire_params_zero_grad(aspire_params *p);
/* Saves every tensor to a safetensors file (atomically) with metadata key/value pairs
 * (meta may be NULL; nmeta pairs as meta[2i], meta[2i+1]). */
ASPIRE_API int aspire_params_save(const aspire_params *p, const char *path, const char *const *meta,
                                  int nmeta);
/* Loads every tensor of p from a safetensors file; a missing tensor, wrong dtype or wrong shape is
 * refused with a message naming the file and the tensor, and p is left unchanged. */
ASPIRE_API int aspire_params_load(aspire_params *p, const char *path);
/* As aspire_params_load, except for the tensors whose names start with `optional` (e.g. "fc."):
 * those are loaded where the file has them with a float dtype and the same shape, and otherwise
 * left as they are (fine-tuning a network whose head has another class count). optional NULL or ""
 * is aspire_params_load. */
ASPIRE_API int aspire_params_load_partial(aspire_params *p, const char *path, const char *optional);
/* Reads every tensor of p from an open safetensors file, each under prefix + its name (e.g. a
 * checkpoint's "model."): a missing tensor or a wrong shape is refused naming the file and the
 * tensor (tensors before it are already copied). */
struct aspire_safetensors;
ASPIRE_API int aspire_params_read_prefixed(aspire_params *p, const struct aspire_safetensors *st, const char *prefix);
/* A model file's weights: every tensor of p under its own name, and no other tensor in the file
 * (refused as "PATH: holds N tensors, the WHAT has M"). path and what only name things in errors. */
ASPIRE_API int aspire_params_read_all(aspire_params *p, const struct aspire_safetensors *st, const char *path,
                                      const char *what);

/* Initialisers (fan_in = inputs per output unit). */
ASPIRE_API void aspire_init_normal(aspire_tensor *t, float mean, float std, aspire_rng *rng);
ASPIRE_API void aspire_init_uniform(aspire_tensor *t, float lo, float hi, aspire_rng *rng);
ASPIRE_API void aspire_init_kaiming(aspire_tensor *t, int64_t fan_in, aspire_rng *rng);
ASPIRE_API void aspire_init_fill(aspire_tensor *t, float v);

/* ---- ops ------------------------------------------------------------------------------------
 * Shapes in comments. "Broadcast" below means: y's shape equals the trailing dims of x's. */
typedef enum aspire_reduction { ASPIRE_REDUCE_MEAN = 0, ASPIRE_REDUCE_SUM = 1, ASPIRE_REDUCE_NONE = 2 } aspire_reduction;

/* shape */
ASPIRE_API aspire_tensor *aspire_reshape(aspire_ctx *ctx, aspire_tensor *x, int ndim, const int64_t *shape);
ASPIRE_API aspire_tensor *aspire_transpose(aspire_ctx *ctx, aspire_tensor *x, int d0, int d1);
ASPIRE_API aspire_tensor *aspire_concat(aspire_ctx *ctx, aspire_tensor *const *xs, int n, int axis);
ASPIRE_API aspire_tensor *aspire_slice(aspire_ctx *ctx, aspire_tensor *x, int axis, int64_t start, int64_t len);

/* elementwise (y same shape as x, or broadcast) */
ASPIRE_API aspire_tensor *aspire_add(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *y);
ASPIRE_API aspire_tensor *aspire_sub(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *y);
ASPIRE_API aspire_tensor *aspire_mul(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *y);
ASPIRE_API aspire_tensor *aspire_scale(aspire_ctx *ctx, aspire_tensor *x, float a, float b); /* a*x + b */
ASPIRE_API aspire_tensor *aspire_relu(aspire_ctx *ctx, aspire_tensor *x);
ASPIRE_API aspire_tensor *aspire_silu(aspire_ctx *ctx, aspire_tensor *x);
ASPIRE_API aspire_tensor *aspire_gelu(aspire_ctx *ctx, aspire_tensor *x);   /* tanh approximation */
ASPIRE_API aspire_tensor *aspire_sigmoid(aspire_ctx *ctx, aspire_tensor *x);
ASPIRE_API aspire_tensor *aspire_tanh(aspire_ctx *ctx, aspire_tensor *x);
ASPIRE_API aspire_tensor *aspire_dropout(aspire_ctx *ctx, aspire_tensor *x, float p);
ASPIRE_API aspire_tensor *aspire_sum(aspire_ctx *ctx, aspire_tensor *x);   /* -> (1) */
ASPIRE_API aspire_tensor *aspire_mean(aspire_ctx *ctx, aspire_tensor *x);  /* -> (1) */

/* dense */
/* x (..., in), w (out, in), b (out) or NULL -> (..., out) */
ASPIRE_API aspire_tensor *aspire_linear(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *w, aspire_tensor *b);
/* a (B..., M, K) or its transpose if ta, b (B..., K, N) or transpose if tb -> (B..., M, N);
 * batch dims equal, or b 2-D shared across the batch. */
ASPIRE_API aspire_tensor *aspire_matmul(aspire_ctx *ctx, aspire_tensor *a, aspire_tensor *b, int ta, int tb);
/* table (V, D), ids (any shape, values in [0, V)) -> (ids shape..., D) */
ASPIRE_API aspire_tensor *aspire_embedding(aspire_ctx *ctx, aspire_tensor *table, const int32_t *ids,
                                           int ndim, const int64_t *shape);
ASPIRE_API aspire_tensor *aspire_softmax(aspire_ctx *ctx, aspire_tensor *x);      /* over last dim */
ASPIRE_API aspire_tensor *aspire_log_softmax(aspire_ctx *ctx, aspire_tensor *x);  /* over last dim */
/* q (B, H, Tq, D), k, v (B, H, Tk, D); mask (Tq, Tk) additive (0 or -inf) or NULL; causal adds the
 * upper-triangular -inf mask -> (B, H, Tq, D). Scale 1/sqrt(D). */
ASPIRE_API aspire_tensor *aspire_attention(aspire_ctx *ctx, aspire_tensor *q, aspire_tensor *k, aspire_tensor *v,
                                           const aspire_tensor *mask, int causal);
/* over the last dim: x (..., D), gamma, beta (D) or NULL */
ASPIRE_API aspire_tensor *aspire_layernorm(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *gamma,
                                           aspire_tensor *beta, float eps);

/* image (NHWC) */
typedef struct aspire_conv_params {
    int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w; /* dilation 1 = none; 0 is read as 1 */
} aspire_conv_params;
/* x (N, H, W, C), w (O, C, KH, KW), b (O) or NULL -> (N, OH, OW, O) */
ASPIRE_API aspire_tensor *aspire_conv2d(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *w, aspire_tensor *b,
                                        aspire_conv_params p);
/* x (N, H, W, C), w (C, O, KH, KW) as PyTorch's ConvTranspose2d -> (N, OH, OW, O) */
ASPIRE_API aspire_tensor *aspire_conv_transpose2d(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *w,
                                                  aspire_tensor *b, aspire_conv_params p);
ASPIRE_API aspire_tensor *aspire_upsample_nearest(aspire_ctx *ctx, aspire_tensor *x, int factor);
ASPIRE_API aspire_tensor *aspire_maxpool2d(aspire_ctx *ctx, aspire_tensor *x, int k, int stride, int pad);
ASPIRE_API aspire_tensor *aspire_avgpool2d(aspire_ctx *ctx, aspire_tensor *x, int k, int stride, int pad);
/* x (N, H, W, C) -> (N, C) */
ASPIRE_API aspire_tensor *aspire_global_avgpool(aspire_ctx *ctx, aspire_tensor *x);
/* Batch norm over the last dim (channels) of x (..., C): gamma, beta (C) trainable; running_mean,
 * running_var (C) buffers, updated in training mode with `momentum` (PyTorch's convention,
 * unbiased running variance). In eval mode uses the running statistics. */
ASPIRE_API aspire_tensor *aspire_batchnorm(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *gamma,
                                           aspire_tensor *beta, aspire_tensor *running_mean,
                                           aspire_tensor *running_var, float momentum, float eps);
/* Group norm on x (N, H, W, C) with `groups` groups of channels; gamma, beta (C) or NULL. */
ASPIRE_API aspire_tensor *aspire_groupnorm(aspire_ctx *ctx, aspire_tensor *x, int groups, aspire_tensor *gamma,
                                           aspire_tensor *beta, float eps);

/* losses */
/* logits (N, K), targets[N] in [0, K), weights[N] per-example or NULL -> (1) for mean/sum, (N) for
 * none. Mean divides by N (not by the weight sum), as PyTorch's per-example weighting does when
 * the weights multiply an unreduced loss. */
ASPIRE_API aspire_tensor *aspire_cross_entropy(aspire_ctx *ctx, aspire_tensor *logits, const int32_t *targets,
                                               const float *weights, aspire_reduction r);
/* x, y same shape -> (1) or same shape for none */
ASPIRE_API aspire_tensor *aspire_mse(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *y, aspire_reduction r);

#endif
