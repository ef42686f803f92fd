/* optim.c — SGD (momentum, dampening, weight decay, Nesterov) and AdamW with PyTorch 1.13's update
 * rules, their state kept as an aspire_params set so that checkpoints carry it, and the
 * learning-rate schedules. Updates are elementwise and parallel; each element's arithmetic is the
 * same whatever the thread count. */
#include "aspire/optim.h"
#include "engine/dense.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { KIND_SGD, KIND_ADAMW };

struct aspire_optim {
    int kind;
    aspire_sgd_options sgd;
    aspire_adamw_options adam;
    float lr;
    aspire_params *params;
    int n;                   /* trainable tensors */
    aspire_tensor **p;       /* (n) the parameters updated */
    aspire_tensor **s1, **s2;/* (n) momentum or adam_m, adam_v; NULL entries when unused */
    aspire_tensor *step;     /* (1) updates taken */
    aspire_params *state;
    int nparams;             /* the set's size at creation, to catch later additions */
};

aspire_adamw_options aspire_adamw_defaults(float lr) {
    return (aspire_adamw_options){.lr = lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f};
}

void aspire_optim_free(aspire_optim *o) {
    if (!o) return;
    aspire_params_free(o->state);
    size_t sz = sizeof(aspire_tensor *) * (size_t)(o->n ? o->n : 1);
    aspire_free(o->p, sz);
    aspire_free(o->s1, sz);
    aspire_free(o->s2, sz);
    aspire_free(o, sizeof *o);
}

/* Adds "<prefix>.<name>" of p's shape to the state set. */
static aspire_tensor *state_like(aspire_optim *o, const char *prefix, const aspire_tensor *p) {
    size_t len = strlen(prefix) + strlen(p->name) + 2;
    char *name = aspire_malloc(len);
    if (!name) return NULL;
    snprintf(name, len, "%s.%s", prefix, p->name);
    aspire_tensor *t = aspire_params_add(o->state, name, p->ndim, p->shape, 0);
    aspire_free(name, len);
    return t;
}

static int optim_new(aspire_optim **out, aspire_params *params, int kind, const char *pre1, const char *pre2) {
    *out = NULL;
    aspire_optim *o = aspire_calloc(1, sizeof *o);
    if (!o) return ASPIRE_ERR_NOMEM;
    o->kind = kind;
    o->params = params;
    o->nparams = aspire_params_count(params);
    for (int i = 0; i < o->nparams; i++) o->n += aspire_params_trainable(params, i);
    size_t sz = sizeof(aspire_tensor *) * (size_t)(o->n ? o->n : 1);
    o->p = aspire_calloc(1, sz);
    o->s1 = aspire_calloc(1, sz);
    o->s2 = aspire_calloc(1, sz);
    o->state = aspire_params_new();
    if (!o->p || !o->s1 || !o->s2 || !o->state) goto oom;
    o->step = aspire_params_add(o->state, "step", 1, (int64_t[]){1}, 0);
    if (!o->step) goto oom;
    for (int i = 0, j = 0; i < o->nparams; i++) {
        if (!aspire_params_trainable(params, i)) continue;
        aspire_tensor *p = aspire_params_at(params, i);
        o->p[j] = p;
        if (pre1 && !(o->s1[j] = state_like(o, pre1, p))) goto oom;
        if (pre2 && !(o->s2[j] = state_like(o, pre2, p))) goto oom;
        j++;
    }
    *out = o;
    return ASPIRE_OK;
oom:
    aspire_optim_free(o);
    return aspire_error_prefix(ASPIRE_ERR_NOMEM, "optimizer state");
}

int aspire_optim_new_sgd(aspire_optim **out, aspire_params *params, const aspire_sgd_options *opt) {
    *out = NULL;
    if (!(opt->lr >= 0) || !(opt->momentum >= 0) || !(opt->weight_decay >= 0))
        return aspire_error(ASPIRE_ERR_ARG, "sgd: lr %g, momentum %g and weight decay %g must be >= 0",
                            (double)opt->lr, (double)opt->momentum, (double)opt->weight_decay);
    if (opt->nesterov && (opt->momentum <= 0 || opt->dampening != 0))
        return aspire_error(ASPIRE_ERR_ARG, "sgd: Nesterov momentum needs momentum > 0 and dampening 0");
    int rc = optim_new(out, params, KIND_SGD, opt->momentum != 0 ? "momentum" : NULL, NULL);
    if (rc == ASPIRE_OK) { (*out)->sgd = *opt; (*out)->lr = opt->lr; }
    return rc;
}

int aspire_optim_new_adamw(aspire_optim **out, aspire_params *params, const aspire_adamw_options *opt) {
    *out = NULL;
    if (!(opt->lr >= 0) || !(opt->eps >= 0) || !(opt->weight_decay >= 0))
        return aspire_error(ASPIRE_ERR_ARG, "adamw: lr %g, eps %g and weight decay %g must be >= 0",
                            (double)opt->lr, (double)opt->eps, (double)opt->weight_decay);
    if (!(opt->beta1 >= 0 && opt->beta1 < 1) || !(opt->beta2 >= 0 && opt->beta2 < 1))
        return aspire_error(ASPIRE_ERR_ARG, "adamw: betas (%g, %g) must lie in [0, 1)", (double)opt->beta1,
                            (double)opt->beta2);
    int rc = optim_new(out, params, KIND_ADAMW, "adam_m", "adam_v");
    if (rc == ASPIRE_OK) { (*out)->adam = *opt; (*out)->lr = opt->lr; }
    return rc;
}

void aspire_optim_set_lr(aspire_optim *o, float lr) { o->lr = lr; }
float aspire_optim_lr(const aspire_optim *o) { return o->lr; }
int64_t aspire_optim_steps(const aspire_optim *o) { return (int64_t)o->step->data[0]; }
aspire_params *aspire_optim_state(aspire_optim *o) { return o->state; }

/* torch.optim.SGD, single-tensor path:
 *   d = g + wd * p;  buf = d (first step) or mu * buf + (1 - dampening) * d;
 *   d = nesterov ? d + mu * buf : buf;  p -= lr * d */
static void sgd_update(const aspire_optim *o, aspire_tensor *p, aspire_tensor *buf, int first) {
    float lr = o->lr, wd = o->sgd.weight_decay, mu = o->sgd.momentum, damp = 1.0f - o->sgd.dampening;
    int nesterov = o->sgd.nesterov;
    float *w = p->data, *b = buf ? buf->data : NULL;
    const float *g = p->grad_valid ? p->grad : NULL;
    int64_t n = p->numel;
#pragma omp parallel for schedule(static) if (n > ASPIRE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float d = g ? g[i] : 0.0f;
        if (wd != 0.0f) d += wd * w[i];
        if (b) {
            b[i] = first ? d : mu * b[i] + damp * d;
            d = nesterov ? d + mu * b[i] : b[i];
        }
        w[i] -= lr * d;
    }
}

/* torch.optim.AdamW, single-tensor path (t = steps taken, counting this one):
 *   p *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * with the bias corrections in double, as PyTorch computes them on Python floats. */
static void adamw_update(const aspire_optim *o, aspire_tensor *p, aspire_tensor *m_t, aspire_tensor *v_t, double t) {
    double lr = o->lr, b1 = o->adam.beta1, b2 = o->adam.beta2;
    float decay = (float)(1.0 - lr * (double)o->adam.weight_decay);
    float step_size = (float)(lr / (1.0 - pow(b1, t)));
    float bc2_sqrt = (float)sqrt(1.0 - pow(b2, t));
    float fb1 = o->adam.beta1, fb2 = o->adam.beta2, eps = o->adam.eps;
    float *w = p->data, *m = m_t->data, *v = v_t->data;
    const float *g = p->grad_valid ? p->grad : NULL;
    int64_t n = p->numel;
#pragma omp parallel for schedule(static) if (n > ASPIRE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float gi = g ? g[i] : 0.0f;
        w[i] *= decay;
        m[i] = m[i] * fb1 + (1.0f - fb1) * gi;
        v[i] = v[i] * fb2 + (1.0f - fb2) * gi * gi;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        w[i] -= step_size * (m[i] / denom);
    }
}

void aspire_optim_step(aspire_optim *o) {
    ASPIRE_ASSERT(aspire_params_count(o->params) == o->nparams, "(tensors were added to the set after the optimizer was made)");
    double steps = o->step->data[0];
    for (int j = 0; j < o->n; j++) {
        if (o->kind == KIND_SGD) sgd_update(o, o->p[j], o->s1[j], steps == 0);
        else adamw_update(o, o->p[j], o->s1[j], o->s2[j], steps + 1);
    }
    o->step->data[0] = (float)(steps + 1);
}

/* ---- schedules ----------------------------------------------------------------------------- */
float aspire_schedule_lr(const aspire_schedule *s, int64_t step) {
    if (step < 0) step = 0;
    int64_t W = s->warmup_steps > 0 ? s->warmup_steps : 0;
    if (step < W) return (float)((double)s->lr * (double)(step + 1) / (double)W);
    int64_t t = step - W;
    switch (s->kind) {
    case ASPIRE_SCHEDULE_CONSTANT:
        return s->lr;
    case ASPIRE_SCHEDULE_STEP:
        ASPIRE_ASSERT(s->step_size > 0, "(step schedule with step_size %lld)", (long long)s->step_size);
        return (float)((double)s->lr * pow((double)s->gamma, (double)(t / s->step_size)));
    case ASPIRE_SCHEDULE_COSINE: {
        int64_t T = s->total_steps - W;
        if (T <= 0) return s->lr;
        if (t >= T) return s->min_lr;
        double c = 0.5 * (1.0 + cos(3.14159265358979323846 * (double)t / (double)T));
        return (float)((double)s->min_lr + ((double)s->lr - (double)s->min_lr) * c);
    }
    }
    ASPIRE_ASSERT(0, "(unknown schedule kind %d)", (int)s->kind);
    return 0.0f;
}

double aspire_clip_grad_norm(aspire_params *p, float clip) {
    double ss = 0.0;
    for (int i = 0; i < aspire_params_count(p); i++) {
        aspire_tensor *t = aspire_params_at(p, i);
        if (!aspire_params_trainable(p, i) || !t->grad_valid) continue;
        for (int64_t k = 0; k < t->numel; k++) ss += (double)t->grad[k] * t->grad[k];
    }
    double norm = sqrt(ss);
    if (clip > 0 && norm > clip) {
        float s = (float)(clip / norm);
        for (int i = 0; i < aspire_params_count(p); i++) {
            aspire_tensor *t = aspire_params_at(p, i);
            if (!aspire_params_trainable(p, i) || !t->grad_valid) continue;
            for (int64_t k = 0; k < t->numel; k++) t->grad[k] *= s;
        }
    }
    return norm;
}
