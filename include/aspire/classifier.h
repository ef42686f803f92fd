/* classifier.h — a trained image classifier (the ResNet family aspire trains), opened from a run
 * folder or a weights file, that predicts labels and class probabilities for images of any size.
 *
 * The classifier is the one place that knows the classifier files:
 *   - a weights file (RUNDIR/best.safetensors, or any file the same shape): the network's tensors
 *     under their torchvision names; metadata "arch", "num_classes", "image_size", "epoch" and,
 *     when they are not the default names (aspire_default_class_name), "class_names" (JSON list);
 *   - a training checkpoint (RUNDIR/checkpoint.safetensors, metadata "format" =
 *     ASPIRE_CHECKPOINT_FORMAT): the model's tensors under ASPIRE_CHECKPOINT_MODEL_PREFIX, the
 *     epochs done in ASPIRE_CHECKPOINT_EPOCHS_KEY (training writes the rest of the file: optimiser
 *     and method state); its architecture from the run's train.json;
 *   - a run folder: its best.safetensors, with the class names training recorded in train.json.
 * Images are resized to the classifier's square input the way the dataset module resizes them for
 * training (aspire_image_resize, ASPIRE_RESIZE_AUTO) and normalised the one way
 * (aspire_pixel_lut: (x / 255 - 0.5) / 0.25). Predictions run in eval mode, in batches of
 * ASPIRE_CLASSIFIER_BATCH, with the thread count of the options given at opening. */
#ifndef ASPIRE_CLASSIFIER_H
#define ASPIRE_CLASSIFIER_H

#include "aspire/engine.h"
#include "aspire/image.h"
#include "aspire/resnet.h"

#define ASPIRE_CHECKPOINT_FORMAT "aspire-train-checkpoint-1"
#define ASPIRE_CHECKPOINT_MODEL_PREFIX "model."   /* the classifier's tensors in a checkpoint */
#define ASPIRE_CHECKPOINT_EPOCHS_KEY "next_epoch" /* epochs done, in a checkpoint's metadata */
#define ASPIRE_CLASSIFIER_BATCH 256

typedef struct aspire_classifier aspire_classifier;

/* What a new classifier is: architecture "reference" (DESIGN.md's ResNet), "resnet18" or
 * "resnet50" (torchvision's); init "torchvision" (the ResNet's own), "pytorch" (layer defaults)
 * or a safetensors file of pretrained weights (torchvision names; a head of another shape stays
 * fresh); NULL init = torchvision without checking a file. class_names: num_classes names or NULL
 * for the defaults. */
typedef struct aspire_classifier_spec {
    const char *arch;
    int num_classes;
    const char *const *class_names;
    int image_size;
    uint64_t seed;
    const char *init;
} aspire_classifier_spec;

/* ASPIRE_OK for a known architecture name, else ASPIRE_ERR_ARG naming it. */
ASPIRE_API int aspire_classifier_check_arch(const char *arch);
/* ASPIRE_OK for "torchvision", "pytorch" or an existing file's path. */
ASPIRE_API int aspire_classifier_check_init(const char *init);
/* The name of class k of n_classes when a dataset or a model names none: Waterbirds' "landbird",
 * "waterbird" for up to two classes, else "class K". Returns buf (n bytes). */
ASPIRE_API const char *aspire_default_class_name(int k, int n_classes, char *buf, size_t n);

/* A fresh classifier (training's start). engine: the context options of its predictions (NULL =
 * defaults: all cores). */
ASPIRE_API int aspire_classifier_new(aspire_classifier **out, const aspire_classifier_spec *spec,
                                     const aspire_ctx_options *engine);
/* Opens a run folder (its best.safetensors; class names from its train.json), a weights file or a
 * training checkpoint. Errors name the file and the tensor or metadata key at fault. */
ASPIRE_API int aspire_classifier_open(aspire_classifier **out, const char *path, const aspire_ctx_options *engine);
ASPIRE_API void aspire_classifier_free(aspire_classifier *c);

/* Writes the classifier as a weights file (atomically), with its architecture, class count, image
 * size, epoch and class names, plus the extra metadata pairs meta[2 * n_meta] (key, value). */
ASPIRE_API int aspire_classifier_save(const aspire_classifier *c, const char *path, int epoch, const char *const *meta,
                                      int n_meta);

ASPIRE_API int aspire_classifier_n_classes(const aspire_classifier *c);
ASPIRE_API const char *aspire_classifier_class_name(const aspire_classifier *c, int k);
ASPIRE_API int aspire_classifier_image_size(const aspire_classifier *c);
ASPIRE_API const char *aspire_classifier_arch(const aspire_classifier *c);
/* The epoch (0-based) the weights are from, -1 if the file does not say. */
ASPIRE_API int aspire_classifier_epoch(const aspire_classifier *c);
/* Width of the penultimate features (aspire_classifier_predict_nhwc's feats). */
ASPIRE_API int aspire_classifier_feature_dim(const aspire_classifier *c);
/* A progress line on stderr over the predictions of the following calls (NULL: none). */
ASPIRE_API void aspire_classifier_set_progress(aspire_classifier *c, const char *label);
/* The network (for training it; the classifier keeps owning it). */
ASPIRE_API aspire_resnet *aspire_classifier_resnet(aspire_classifier *c);

/* Predictions for n normalised images x (n, S, S, 3) floats, S = the image size (NHWC): labels[n]
 * (argmax, the first on ties), probs (n, K) softmax probabilities and feats (n, D) penultimate
 * features; each output may be NULL. */
ASPIRE_API int aspire_classifier_predict_nhwc(aspire_classifier *c, const float *x, int64_t n, int32_t *labels,
                                              float *probs, float *feats);
/* The same for n images of h × w × channels bytes each (HWC, channels 1 or 3), one after the other
 * in pixels: resized to S × S where they are another size, then normalised. */
ASPIRE_API int aspire_classifier_predict_u8(aspire_classifier *c, const uint8_t *pixels, int64_t n, int h, int w,
                                            int channels, int32_t *labels, float *probs, float *feats);
/* The same for images of any sizes. */
ASPIRE_API int aspire_classifier_predict_images(aspire_classifier *c, const aspire_image *images, int64_t n,
                                                int32_t *labels, float *probs);

#endif
