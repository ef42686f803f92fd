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

#endif
