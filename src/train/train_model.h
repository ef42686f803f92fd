/* train_model.h — DFR's replacement of a classifier's last layer. Private to the training module
 * (the classifiers themselves, by architecture name, are include/aspire/classifier.h's). */
#ifndef ASPIRE_TRAIN_MODEL_H
#define ASPIRE_TRAIN_MODEL_H

#include "aspire/logreg.h"
#include "aspire/resnet.h"

/* Writes a fitted linear classifier on the penultimate features into the network's last layer
 * ("fc.weight" (K, D), "fc.bias" (K)): for two classes the logit of class 1 is the decision value
 * and that of class 0 is 0 (the same argmax and softmax as the logistic model); for K > 2 the
 * one-vs-rest decision values. */
int tr_model_set_head(aspire_resnet *net, const aspire_logreg *lr);

#endif
