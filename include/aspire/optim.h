/* optim.h — optimizers (SGD with momentum, AdamW) over an aspire_params set, and learning-rate
 * schedules (constant, step, cosine, each with an optional linear warm-up).
 *
 * Both optimizers follow PyTorch 1.13's update rules exactly (torch.optim.SGD and AdamW, the
 * single-tensor path), so a recipe carried over from PyTorch behaves the same. Every trainable
 * tensor of the set is updated; buffers (non-trainable tensors) are left alone. A parameter whose
 * gradient is not valid this step (grad_valid 0, e.g. after aspire_params_zero_grad and no
 * contribution) is treated as having a zero gradient: weight decay and momentum still apply.
 *
 * The optimizer's state (step count and per-parameter buffers) is itself an aspire_params set,
 * so a checkpoint saves and restores it with aspire_params_save/aspire_params_load. */
#ifndef ASPIRE_OPTIM_H
#define ASPIRE_OPTIM_H

#include "aspire/engine.h"

typedef struct aspire_optim aspire_optim;

typedef struct aspire_sgd_options {
    float lr;            /* learning rate (aspire_optim_set_lr changes it later) */
    float momentum;      /* 0 = plain SGD, no momentum buffers */
    float dampening;     /* PyTorch's dampening (usually 0) */
    float weight_decay;  /* L2 penalty: weight_decay * p is added to the gradient */
    int nesterov;        /* Nesterov momentum (needs momentum > 0 and dampening 0) */
} aspire_sgd_options;

typedef struct aspire_adamw_options {
    float lr, beta1, beta2, eps;
    float weight_decay;  /* decoupled: p *= 1 - lr * weight_decay before the Adam step */
} aspire_adamw_options;

/* PyTorch's AdamW defaults with the given learning rate: betas (0.9, 0.999), eps 1e-8, weight
 * decay 0.01. */
ASPIRE_API aspire_adamw_options aspire_adamw_defaults(float lr);

/* Creates an optimizer over every trainable tensor of `params` (which must outlive it and gain no
 * tensors afterwards). Returns ASPIRE_OK and *out, ASPIRE_ERR_ARG for invalid options (negative
 * rate, betas outside [0, 1), nesterov without momentum), or ASPIRE_ERR_NOMEM. Free with
 * aspire_optim_free (NULL ok). */
ASPIRE_API int aspire_optim_new_sgd(aspire_optim **out, aspire_params *params, const aspire_sgd_options *opt);
ASPIRE_API int aspire_optim_new_adamw(aspire_optim **out, aspire_params *params, const aspire_adamw_options *opt);
ASPIRE_API void aspire_optim_free(aspire_optim *o);

/* One update of every trainable tensor from its gradient. Does not clear the gradients. */
ASPIRE_API void aspire_optim_step(aspire_optim *o);
ASPIRE_API void aspire_optim_set_lr(aspire_optim *o, float lr);
ASPIRE_API float aspire_optim_lr(const aspire_optim *o);
/* Updates taken so far (restored with the state). */
ASPIRE_API int64_t aspire_optim_steps(const aspire_optim *o);

/* The state as a parameter set owned by the optimizer: "step" (1 element; the count, exact up to
 * 2^24 steps), and per trainable parameter <name>: "momentum.<name>" (SGD with momentum) or
 * "adam_m.<name>" and "adam_v.<name>" (AdamW), each of the parameter's shape. Save it with
 * aspire_params_save; load a checkpoint's into it with aspire_params_load before the next step.
 * Valid until aspire_optim_free. */
ASPIRE_API aspire_params *aspire_optim_state(aspire_optim *o);
/* Scales the gradients of p's trainable tensors so that their global L2 norm is at most clip
 * (clip <= 0: no scaling); returns the norm before. */
ASPIRE_API double aspire_clip_grad_norm(aspire_params *p, float clip);

/* ---- schedules ----------------------------------------------------------------------------- */
typedef enum aspire_schedule_kind {
    ASPIRE_SCHEDULE_CONSTANT = 0,
    ASPIRE_SCHEDULE_STEP = 1,    /* lr * gamma^floor(t / step_size) (PyTorch's StepLR) */
    ASPIRE_SCHEDULE_COSINE = 2,  /* min_lr + (lr - min_lr) (1 + cos(pi t / T)) / 2, T = total - warm-up
                                  * (PyTorch's CosineAnnealingLR); min_lr after T */
} aspire_schedule_kind;

typedef struct aspire_schedule {
    aspire_schedule_kind kind;
    float lr;               /* base learning rate */
    int64_t warmup_steps;   /* 0: none; else steps 0..W-1 use lr * (step + 1) / W */
    int64_t step_size;      /* STEP */
    float gamma;            /* STEP */
    int64_t total_steps;    /* COSINE: the whole run, warm-up included */
    float min_lr;           /* COSINE */
} aspire_schedule;

/* The learning rate for optimizer step `step` (0-based: the rate of the first update is
 * aspire_schedule_lr(s, 0)). After a warm-up of W steps the schedule runs on t = step - W. */
ASPIRE_API float aspire_schedule_lr(const aspire_schedule *s, int64_t step);

#endif
