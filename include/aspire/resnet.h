/* resnet.h — the ResNet family on the engine: the reference network of DESIGN.md (3×3 stem, basic
 * blocks, configurable widths and depth; the default classifier for 64×64 images) and ResNet-18 /
 * ResNet-50 with torchvision's layout and tensor names ("conv1.weight", "layer1.0.bn1.running_mean",
 * "layer2.0.downsample.0.weight", "fc.bias", ...), so weights exported from PyTorch as safetensors
 * load directly. Inputs are NHWC. */
#ifndef ASPIRE_RESNET_H
#define ASPIRE_RESNET_H

#include "aspire/engine.h"

typedef enum { ASPIRE_BLOCK_BASIC = 0, ASPIRE_BLOCK_BOTTLENECK = 1 } aspire_block_kind;
typedef enum { ASPIRE_STEM_3X3 = 0, ASPIRE_STEM_IMAGENET = 1 /* 7×7 stride 2 + 3×3 max pool */ } aspire_stem_kind;

typedef struct aspire_resnet_config {
    aspire_block_kind block;
    aspire_stem_kind stem;
    int stem_width;      /* channels after the stem */
    int nstages;         /* up to 4 */
    int widths[4];       /* block output width per stage (bottleneck: inner width; output is 4×) */
    int blocks[4];       /* blocks per stage */
    int in_channels;     /* 3 */
    int num_classes;
} aspire_resnet_config;

ASPIRE_API aspire_resnet_config aspire_resnet_reference_config(int num_classes); /* 16,32,64,128 × 2 */
ASPIRE_API aspire_resnet_config aspire_resnet18_config(int num_classes);
ASPIRE_API aspire_resnet_config aspire_resnet50_config(int num_classes);

typedef struct aspire_resnet aspire_resnet;

/* Builds the network with Kaiming-initialised weights (deterministic in seed). Owns its params. */
ASPIRE_API int aspire_resnet_new(aspire_resnet **out, const aspire_resnet_config *cfg, uint64_t seed);
ASPIRE_API void aspire_resnet_free(aspire_resnet *net);
ASPIRE_API aspire_params *aspire_resnet_params(aspire_resnet *net);
ASPIRE_API const aspire_resnet_config *aspire_resnet_get_config(const aspire_resnet *net);
ASPIRE_API int aspire_resnet_feature_dim(const aspire_resnet *net);
/* x (N, H, W, C) -> logits (N, classes); *features (optional) receives the pooled penultimate
 * features (N, feature_dim). Training mode and recording follow the context. */
ASPIRE_API aspire_tensor *aspire_resnet_forward(aspire_ctx *ctx, aspire_resnet *net, aspire_tensor *x,
                                                aspire_tensor **features);
/* Forward FLOPs (2 × multiply-adds of convolutions and the linear layer) for one h×w image. */
ASPIRE_API double aspire_resnet_flops(const aspire_resnet *net, int h, int w);

#endif
