/* captioner_internal.h — what the captioner's trainer needs of the model beyond the public API:
 * the encoder's last convolution map, for the auxiliary scene-tagging heads. Not API. */
#ifndef ASPIRE_MODELS_CAPTIONER_INTERNAL_H
#define ASPIRE_MODELS_CAPTIONER_INTERNAL_H

#include "aspire/captioner.h"

/* aspire_captioner_encode, also handing back the last conv map (N, g, g, C) in *conv. */
aspire_tensor *aspire_captioner_encode_conv(aspire_ctx *ctx, aspire_captioner *cap, aspire_tensor *x,
                                            aspire_tensor **conv);
/* aspire_captioner_loss, also handing back the encoder's last conv map in *conv (may be NULL). */
aspire_tensor *aspire_captioner_loss_conv(aspire_ctx *ctx, aspire_captioner *cap, aspire_tensor *x,
                                          const int32_t *tokens, int T, aspire_tensor **conv);

#endif
