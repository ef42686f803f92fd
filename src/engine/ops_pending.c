/* ops_pending.c — TEMPORARY development scaffold: weak placeholders for backward functions that
 * are still being written, so the library links while op families land one by one. Each aborts
 * loudly. This file is deleted once every op family exists (the op tests then cover every row). */
#include "engine/ops.h"

__attribute__((weak)) void aspire_bwd_reshape(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of reshape is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_transpose(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of transpose is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_concat(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of concat is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_slice(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of slice is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_add(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of add is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_sub(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of sub is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_mul(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of mul is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_scale(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of scale is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_relu(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of relu is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_silu(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of silu is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_gelu(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of gelu is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_sigmoid(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of sigmoid is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_tanh(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of tanh is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_dropout(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of dropout is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_sum(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of sum is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_mean(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of mean is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_linear(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of linear is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_matmul(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of matmul is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_embedding(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of embedding is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_softmax(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of softmax is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_log_softmax(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of log_softmax is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_attention(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of attention is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_layernorm(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of layernorm is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_conv2d(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of conv2d is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_conv_transpose2d(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of conv_transpose2d is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_upsample_nearest(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of upsample_nearest is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_maxpool2d(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of maxpool2d is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_avgpool2d(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of avgpool2d is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_global_avgpool(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of global_avgpool is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_batchnorm(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of batchnorm is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_groupnorm(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of groupnorm is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_cross_entropy(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of cross_entropy is not implemented yet"); }
__attribute__((weak)) void aspire_bwd_mse(aspire_ctx *ctx, aspire_node *node) { (void)ctx; (void)node; aspire_abort(__FILE__, __LINE__, "backward of mse is not implemented yet"); }
