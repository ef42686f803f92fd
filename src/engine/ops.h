/* ops.h — the backward functions of every op, one per row of the op table (ops_table.c). */
#ifndef ASPIRE_ENGINE_OPS_H
#define ASPIRE_ENGINE_OPS_H

#include "engine/internal.h"

void aspire_bwd_reshape(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_transpose(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_concat(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_slice(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_add(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_sub(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_mul(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_scale(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_relu(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_silu(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_gelu(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_sigmoid(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_tanh(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_dropout(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_sum(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_mean(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_linear(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_matmul(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_embedding(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_softmax(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_log_softmax(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_attention(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_layernorm(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_conv2d(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_conv_transpose2d(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_upsample_nearest(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_maxpool2d(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_avgpool2d(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_global_avgpool(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_batchnorm(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_groupnorm(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_cross_entropy(aspire_ctx *ctx, aspire_node *node);
void aspire_bwd_mse(aspire_ctx *ctx, aspire_node *node);

#endif
