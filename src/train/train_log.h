/* train_log.h — a run's per-epoch log rows, their CSV file and the learning-curve SVG. Private to
 * the training module. */
#ifndef ASPIRE_TRAIN_LOG_H
#define ASPIRE_TRAIN_LOG_H

#include "aspire/common.h"

#include <stddef.h>

typedef struct tr_epoch_log {
    int epoch;               /* 0-based, counted across stages */
    int stage;               /* 1 or 2 (JTT's identification model is stage 1; DFR's retraining 2) */
    double lr;               /* learning rate of the epoch's first step */
    double train_loss;       /* mean loss over the epoch's steps (the method's objective) */
    double train_acc;        /* accuracy on the epoch's training batches (augmented, training mode) */
    double val_mean, val_worst_group, val_worst_class;
    double score;            /* the selection score (NaN where the stage selects nothing) */
    double images_per_s;     /* training throughput */
    double seconds;          /* wall time of the epoch including validation */
} tr_epoch_log;

/* Writes all rows (atomically). */
int tr_log_write_csv(const char *path, const tr_epoch_log *rows, int n);
/* Reads up to cap rows of a file written by tr_log_write_csv. */
int tr_log_read_csv(const char *path, tr_epoch_log *rows, int cap, int *n);
/* Writes the curves; `selected` (or -1) is the row marked as the selected epoch. */
int tr_log_write_svg(const char *path, const tr_epoch_log *rows, int n, int selected, const char *title);

#endif
