/* fused.h — engine-internal fused ops for model code inside src/ (the ResNet family): each is one
 * tape node whose backward covers the whole fusion. Not API. */
#ifndef ASPIRE_ENGINE_FUSED_H
#define ASPIRE_ENGINE_FUSED_H

#include "engine/internal.h"

/* y = act(batchnorm(x) + residual): x (..., C) as aspire_batchnorm; residual same shape as x or
 * NULL; relu 1 applies max(0, .) last. One pass over the data on top of the normalisation, and one
 * backward node (the ReLU mask is read from y). */
aspire_tensor *aspire_batchnorm_act(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *gamma, aspire_tensor *beta,
                                    aspire_tensor *running_mean, aspire_tensor *running_var, float momentum, float eps,
                                    aspire_tensor *residual, int relu);

/* Eval-mode inference: y = act(batchnorm(conv2d(x, w)) + residual) with the batch norm (running
 * statistics) folded into the convolution's weights and bias and the residual add and ReLU done by
 * oneDNN post-ops, in one pass over the output. Records nothing: when the context is training,
 * recording or on the reference path, it runs the separate ops instead (same result up to
 * rounding). x (N, H, W, C), w (O, C, KH, KW); gamma, beta (O) or NULL; running stats (O);
 * residual like the output (also its layout) or NULL; the output in `out_layout`. */
aspire_tensor *aspire_conv_bn_eval(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *w, aspire_conv_params p,
                                   aspire_tensor *gamma, aspire_tensor *beta, aspire_tensor *running_mean,
                                   aspire_tensor *running_var, float eps, aspire_tensor *residual, int relu,
                                   int out_layout);

/* aspire_conv2d with the output in `out_layout` (ASPIRE_LAYOUT_NCHW16C needs O % 16 == 0 and the
 * oneDNN path); x may be in either layout. */
aspire_tensor *aspire_conv2d_ex(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *w, aspire_tensor *b, aspire_conv_params p,
                                int out_layout);

#endif
