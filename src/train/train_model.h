/* train_model.h — the classifiers training can build by name, and DFR's replacement of the last
 * layer. Private to the training module. */
#ifndef ASPIRE_TRAIN_MODEL_H
#define ASPIRE_TRAIN_MODEL_H

#include "aspire/logreg.h"
#include "aspire/resnet.h"

/* ASPIRE_OK for a known architecture name ("reference", "resnet18", "resnet50"), else ASPIRE_ERR_ARG. */
int tr_model_check_arch(const char *arch);
/* Builds the named classifier with `num_classes` outputs, initialised from seed: init
 * "torchvision" is the ResNet module's own (torchvision's ResNet init: Kaiming-normal convolutions,
 * fan_out); "pytorch" re-draws convolutions and the linear layer with PyTorch's layer defaults
 * (uniform ±1/sqrt(fan_in), as a ResNet built from plain nn.Conv2d / nn.Linear without an init
 * pass, e.g. the anchor's ReferenceNet); anything else is a safetensors weights file with the
 * architecture's torchvision names (e.g. ImageNet weights exported from PyTorch): every tensor is
 * loaded from it, except "fc.*", which keeps the torchvision init when the file's head has another
 * shape. Errors name the file and the tensor. */
int tr_model_new(aspire_resnet **out, const char *arch, int num_classes, uint64_t seed, const char *init);
/* ASPIRE_OK for "torchvision", "pytorch" or an existing file's path. */
int tr_model_check_init(const char *init);
/* Writes a fitted linear classifier on the penultimate features into the network's last layer
 * ("fc.weight" (K, D), "fc.bias" (K)): for two classes the logit of class 1 is the decision value
 * and that of class 0 is 0 (the same argmax and softmax as the logistic model); for K > 2 the
 * one-vs-rest decision values. */
int tr_model_set_head(aspire_resnet *net, const aspire_logreg *lr);

/* Predictions pred[n] (and, if feats is not NULL, penultimate features (n, D)) of net on all
 * images of im, in eval mode, batches of 256. A progress line when `progress_label` is not NULL. */
struct tr_images;
int tr_predict(aspire_ctx *ctx, aspire_resnet *net, const struct tr_images *im, int K, int32_t *pred, float *feats,
               const char *progress_label);

#endif
