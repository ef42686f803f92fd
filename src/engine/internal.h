/* internal.h — the engine's private contract between the core (context, arena, tape, backward
 * driver) and the op families. Not API: nothing outside src/ includes it.
 *
 * An op's forward (the public aspire_<op> function) computes its output, then calls
 * aspire_record() to put a node on the tape if any input requires grad. Its backward, registered
 * in the one op table (ops_table.c), reads the node and adds each input's gradient through
 * aspire_grad_begin/aspire_grad_end or aspire_grad_accum. */
#ifndef ASPIRE_ENGINE_INTERNAL_H
#define ASPIRE_ENGINE_INTERNAL_H

#include "aspire/engine.h"

#define ASPIRE_NODE_MAX_IN 5

typedef struct aspire_node {
    int op;                               /* enum aspire_op */
    int nin;
    aspire_tensor *out;
    aspire_tensor *in[ASPIRE_NODE_MAX_IN];
    void *saved;                          /* op-specific state, in the arena */
    int64_t i[8];                         /* op integer parameters */
    float f[4];                           /* op float parameters */
} aspire_node;

typedef void (*aspire_backward_fn)(aspire_ctx *ctx, aspire_node *node);

enum aspire_op {
    ASPIRE_OP_RESHAPE, ASPIRE_OP_TRANSPOSE, ASPIRE_OP_CONCAT, ASPIRE_OP_SLICE,
    ASPIRE_OP_ADD, ASPIRE_OP_SUB, ASPIRE_OP_MUL, ASPIRE_OP_SCALE,
    ASPIRE_OP_RELU, ASPIRE_OP_SILU, ASPIRE_OP_GELU, ASPIRE_OP_SIGMOID, ASPIRE_OP_TANH,
    ASPIRE_OP_DROPOUT, ASPIRE_OP_SUM, ASPIRE_OP_MEAN,
    ASPIRE_OP_LINEAR, ASPIRE_OP_MATMUL, ASPIRE_OP_EMBEDDING, ASPIRE_OP_SOFTMAX, ASPIRE_OP_LOG_SOFTMAX,
    ASPIRE_OP_ATTENTION, ASPIRE_OP_LAYERNORM,
    ASPIRE_OP_CONV2D, ASPIRE_OP_CONV_TRANSPOSE2D, ASPIRE_OP_UPSAMPLE_NEAREST, ASPIRE_OP_MAXPOOL2D,
    ASPIRE_OP_AVGPOOL2D, ASPIRE_OP_GLOBAL_AVGPOOL, ASPIRE_OP_BATCHNORM, ASPIRE_OP_GROUPNORM,
    ASPIRE_OP_CROSS_ENTROPY, ASPIRE_OP_MSE,
    ASPIRE_OP_COUNT
};

typedef struct aspire_op_info {
    const char *name;
    aspire_backward_fn backward;
} aspire_op_info;

extern const aspire_op_info aspire_op_table[ASPIRE_OP_COUNT];

/* Puts a node on the tape when the context records and any of the inputs requires grad; sets
 * out->requires_grad and out->node accordingly. Returns the node (to fill saved/i/f) or NULL when
 * nothing was recorded (then the op need not save anything). Inputs may be NULL (optional). */
aspire_node *aspire_record(aspire_ctx *ctx, int op, aspire_tensor *out, int nin, aspire_tensor *const *in);

/* Gradient plumbing for backward functions. grad_begin returns where to write d(t): t's own grad
 * buffer when t has no gradient yet this step (*acc = 0: assign), otherwise arena scratch
 * (*acc = 1); grad_end then adds the scratch into t->grad. grad_accum returns t's grad,
 * zero-filled if it was not yet valid, for kernels that accumulate with +=. NULL only on OOM
 * (the backward pass then fails with that error). */
float *aspire_grad_begin(aspire_ctx *ctx, aspire_tensor *t, int *acc);
void aspire_grad_end(aspire_ctx *ctx, aspire_tensor *t, float *buf, int acc);
float *aspire_grad_accum(aspire_ctx *ctx, aspire_tensor *t);
/* Whether a backward function should compute d(t) at all. */
static inline int aspire_needs_grad(const aspire_tensor *t) { return t && t->requires_grad; }

/* Per-op timing, on when the environment has ASPIRE_PROFILE=1. Forward functions bracket their
 * work with prof_begin/prof_end; the backward driver times backward functions itself. */
double aspire_prof_begin(aspire_ctx *ctx);
void aspire_prof_end(aspire_ctx *ctx, int op, double t0);
/* Prints the per-op table (forward and backward ms, calls) to `f` and clears it. */
void aspire_prof_report(aspire_ctx *ctx, void *file);

/* The oneDNN side of the context (engine, stream, primitive cache), created lazily by the
 * oneDNN glue (onednn_glue.c). Opaque here. */
struct aspire_dnnl;
struct aspire_dnnl *aspire_ctx_dnnl(aspire_ctx *ctx);
void aspire_ctx_set_dnnl(aspire_ctx *ctx, struct aspire_dnnl *d, void (*free_fn)(struct aspire_dnnl *));

#endif
