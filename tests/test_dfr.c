/* test_dfr.c — L1 logistic regression (optimality by the KKT conditions, the exact-zero threshold,
 * example weights against duplication, one-vs-rest), standardisation, and DFR's last-layer
 * retraining on synthetic features with a core and a spurious direction. */
#include "aspire/logreg.h"
#include "aspire/rng.h"
#include "test.h"

#include <string.h>

/* n examples of D features; labels from a sparse logistic model with weights wtrue */
static void make_logistic(float *x, int32_t *y, int64_t n, int D, const double *wtrue, double b, aspire_rng *r) {
    for (int64_t i = 0; i < n; i++) {
        double z = b;
        for (int j = 0; j < D; j++) {
            x[i * D + j] = aspire_rng_normal(r) * (1.0f + 0.5f * (float)j);  /* unequal scales */
            z += wtrue[j] * x[i * D + j];
        }
        y[i] = aspire_rng_uniform(r) < 1.0 / (1.0 + exp(-z));
    }
}

static void test_kkt(void) {
    enum { N = 300, D = 12 };
    static float x[N * D];
    static int32_t y[N];
    double wtrue[D] = {1.5, 0, -2.0, 0, 0, 0.7, 0, 0, 0, 0, -0.3, 0};
    aspire_rng r;
    aspire_rng_seed(&r, 1);
    make_logistic(x, y, N, D, wtrue, 0.3, &r);
    double Cs[] = {100, 1, 0.1, 0.01, 0.001};
    int nnz_first = -1, nnz_last = -1;
    for (int c = 0; c < 5; c++) {
        aspire_logreg m;
        CHECK(aspire_logreg_init(&m, D, 2) == ASPIRE_OK);
        aspire_logreg_options o = {Cs[c], 1e-9, 500};
        int iters = 0;
        CHECK(aspire_logreg_fit(&m, x, y, NULL, N, &o, &iters) == ASPIRE_OK);
        double kkt = aspire_logreg_kkt(&m, x, y, NULL, N, Cs[c]);
        CHECK_MSG(kkt < 1e-5, "C=%g kkt=%g after %d iterations", Cs[c], kkt, iters);
        CHECK(iters < 500);
        int nnz = 0;
        for (int j = 0; j < D; j++) nnz += m.w[j] != 0;
        if (c == 0) nnz_first = nnz;
        nnz_last = nnz;
        if (c == 0) {
            /* weakly regularised: the strong true weights are recovered with their signs */
            CHECK(m.w[0] > 0.8 && m.w[2] < -1.2);
        }
        aspire_logreg_destroy(&m);
    }
    CHECK(nnz_first == D || nnz_first >= 8);
    CHECK(nnz_last < nnz_first);
    /* a wrong violation is detected: perturb an optimum */
    aspire_logreg m;
    aspire_logreg_init(&m, D, 2);
    aspire_logreg_options o = {1, 1e-9, 500};
    aspire_logreg_fit(&m, x, y, NULL, N, &o, NULL);
    m.w[0] += 0.1;
    CHECK(aspire_logreg_kkt(&m, x, y, NULL, N, 1) > 1e-2);
    aspire_logreg_destroy(&m);
}

/* Below λ_max = max_j |∂L/∂w_j| at (w = 0, optimal b) the solution is exactly zero, with
 * b = log(positives / negatives); just above it a weight appears. */
static void test_zero_threshold(void) {
    enum { N = 200, D = 5 };
    static float x[N * D];
    static int32_t y[N];
    double wtrue[D] = {0.8, -0.5, 0, 0, 0.2};
    aspire_rng r;
    aspire_rng_seed(&r, 2);
    make_logistic(x, y, N, D, wtrue, -0.5, &r);
    int pos = 0;
    for (int i = 0; i < N; i++) pos += y[i];
    double b0 = log((double)pos / (N - pos)), p = 1.0 / (1.0 + exp(-b0)), lmax = 0;
    for (int j = 0; j < D; j++) {
        double gj = 0;
        for (int i = 0; i < N; i++) gj += (p - y[i]) * x[i * D + j];
        if (fabs(gj) > lmax) lmax = fabs(gj);
    }
    aspire_logreg m;
    aspire_logreg_init(&m, D, 2);
    aspire_logreg_options o = {0.95 / lmax, 1e-10, 500};
    CHECK(aspire_logreg_fit(&m, x, y, NULL, N, &o, NULL) == ASPIRE_OK);
    for (int j = 0; j < D; j++) CHECK(m.w[j] == 0.0);
    CHECK_CLOSE(m.b[0], b0, 1e-5);
    o.C = 1.2 / lmax;
    CHECK(aspire_logreg_fit(&m, x, y, NULL, N, &o, NULL) == ASPIRE_OK);
    int nnz = 0;
    for (int j = 0; j < D; j++) nnz += m.w[j] != 0;
    CHECK(nnz >= 1);
    aspire_logreg_destroy(&m);
}

/* weight 2 on an example fits the same model as the example written twice */
static void test_weights_equal_duplicates(void) {
    enum { N = 80, D = 4 };
    static float x[N * D], x2[(N + 20) * D];
    static int32_t y[N], y2[N + 20];
    static float w[N];
    double wtrue[D] = {1, -1, 0.5, 0};
    aspire_rng r;
    aspire_rng_seed(&r, 3);
    make_logistic(x, y, N, D, wtrue, 0, &r);
    memcpy(x2, x, sizeof x);
    memcpy(y2, y, sizeof y);
    for (int i = 0; i < N; i++) w[i] = i < 20 ? 2.0f : 1.0f;
    for (int i = 0; i < 20; i++) { memcpy(x2 + (N + i) * D, x + i * D, D * sizeof(float)); y2[N + i] = y[i]; }
    aspire_logreg a, b;
    aspire_logreg_init(&a, D, 2);
    aspire_logreg_init(&b, D, 2);
    aspire_logreg_options o = {0.5, 1e-10, 500};
    aspire_logreg_fit(&a, x, y, w, N, &o, NULL);
    aspire_logreg_fit(&b, x2, y2, NULL, N + 20, &o, NULL);
    for (int j = 0; j < D; j++) CHECK_CLOSE(a.w[j], b.w[j], 1e-5);
    CHECK_CLOSE(a.b[0], b.b[0], 1e-5);
    aspire_logreg_destroy(&a);
    aspire_logreg_destroy(&b);
}

static void test_one_vs_rest_and_errors(void) {
    enum { N = 300, D = 3, K = 3 };
    static float x[N * D];
    static int32_t y[N], pred[N];
    aspire_rng r;
    aspire_rng_seed(&r, 4);
    const float centre[K][D] = {{3, 0, 0}, {0, 3, 0}, {0, 0, 3}};
    for (int i = 0; i < N; i++) {
        y[i] = i % K;
        for (int j = 0; j < D; j++) x[i * D + j] = centre[y[i]][j] + 0.7f * aspire_rng_normal(&r);
    }
    aspire_logreg m;
    CHECK(aspire_logreg_init(&m, D, K) == ASPIRE_OK && m.nout == K);
    aspire_logreg_options o = {1, 1e-8, 300};
    CHECK(aspire_logreg_fit(&m, x, y, NULL, N, &o, NULL) == ASPIRE_OK);
    CHECK(aspire_logreg_kkt(&m, x, y, NULL, N, 1) < 1e-4);
    aspire_logreg_predict(&m, x, N, pred);
    int ok = 0;
    for (int i = 0; i < N; i++) ok += pred[i] == y[i];
    CHECK_MSG(ok > 0.97 * N, "accuracy %d / %d", ok, N);
    y[7] = 5;
    CHECK(aspire_logreg_fit(&m, x, y, NULL, N, &o, NULL) == ASPIRE_ERR_ARG);
    CHECK(strstr(aspire_errmsg(), "example 7") != NULL);
    y[7] = 1;
    o.C = 0;
    CHECK(aspire_logreg_fit(&m, x, y, NULL, N, &o, NULL) == ASPIRE_ERR_ARG);
    CHECK(aspire_logreg_fit(&m, x, y, NULL, 0, &o, NULL) == ASPIRE_ERR_ARG);
    aspire_logreg_destroy(&m);
    aspire_logreg_destroy(&m);
}

static void test_standardizer(void) {
    enum { N = 100, D = 3 };
    static float x[N * D], xs[N * D];
    static int32_t y[N];
    aspire_rng r;
    aspire_rng_seed(&r, 5);
    for (int i = 0; i < N; i++) {
        y[i] = i & 1;
        x[i * D + 0] = 10 + 5 * aspire_rng_normal(&r) + 4 * y[i];
        x[i * D + 1] = -3 + 0.01f * aspire_rng_normal(&r);
        x[i * D + 2] = 7;  /* constant: scale 1, not a division by zero */
    }
    aspire_standardizer s;
    CHECK(aspire_standardizer_fit(&s, x, N, D) == ASPIRE_OK);
    CHECK(s.scale[2] == 1.0);
    memcpy(xs, x, sizeof x);
    aspire_standardizer_apply(&s, xs, N);
    for (int j = 0; j < 2; j++) {
        double m = 0, v = 0;
        for (int i = 0; i < N; i++) m += xs[i * D + j];
        m /= N;
        for (int i = 0; i < N; i++) v += (xs[i * D + j] - m) * (xs[i * D + j] - m);
        CHECK_CLOSE(m, 0, 1e-5);
        CHECK_CLOSE(v / N, 1, 1e-4);
    }
    aspire_logreg m;
    aspire_logreg_init(&m, D, 2);
    aspire_logreg_options o = {1, 1e-8, 200};
    aspire_logreg_fit(&m, xs, y, NULL, N, &o, NULL);
    double d1[N], d2[N];
    aspire_logreg_decision(&m, xs, N, d1);
    aspire_standardizer_fold(&s, &m);
    aspire_logreg_decision(&m, x, N, d2);
    for (int i = 0; i < N; i++) CHECK_CLOSE(d1[i], d2[i], 1e-4);
    aspire_logreg_destroy(&m);
    aspire_standardizer_destroy(&s);
}

/* Features: x0 core (class mean ±1, noise 1: ~84 % alone), x1 spurious (place mean ±1, noise
 * 0.3), x2..x5 noise. "Training" data has place = y 95 % of the time, so a fit on it leans on
 * x1; validation and test are group-balanced. DFR must lean on x0 instead. */
enum { FD = 6 };
static void make_features(float *x, int32_t *y, int32_t *g, int64_t n, double rho, aspire_rng *r) {
    for (int64_t i = 0; i < n; i++) {
        int yy = (int)(i & 1);
        int place = rho >= 0 ? (aspire_rng_uniform(r) < rho ? yy : 1 - yy) : (int)((i >> 1) & 1);
        y[i] = yy;
        g[i] = 2 * yy + place;
        x[i * FD + 0] = (yy ? 1.0f : -1.0f) + aspire_rng_normal(r);
        x[i * FD + 1] = (place ? 1.0f : -1.0f) + 0.3f * aspire_rng_normal(r);
        for (int j = 2; j < FD; j++) x[i * FD + j] = aspire_rng_normal(r);
    }
}

static double worst_group(const aspire_logreg *m, const float *x, const int32_t *y, const int32_t *g, int64_t n) {
    int32_t *pred = malloc((size_t)n * sizeof(int32_t));
    aspire_logreg_predict(m, x, n, pred);
    double worst = 1;
    for (int q = 0; q < 4; q++) {
        int64_t c = 0, t = 0;
        for (int64_t i = 0; i < n; i++) if (g[i] == q) { t++; c += pred[i] == y[i]; }
        if (t && (double)c / t < worst) worst = (double)c / t;
    }
    free(pred);
    return worst;
}

static void test_dfr(void) {
    enum { NT = 2000, NV = 400, NS = 4000 };
    static float xt[NT * FD], xv[NV * FD], xs[NS * FD];
    static int32_t yt[NT], gt[NT], yv[NV], gv[NV], ys[NS], gs[NS];
    aspire_rng r;
    aspire_rng_seed(&r, 6);
    make_features(xt, yt, gt, NT, 0.95, &r);
    make_features(xv, yv, gv, NV, -1, &r);
    make_features(xs, ys, gs, NS, -1, &r);
    /* the "ERM" last layer */
    aspire_logreg erm;
    aspire_logreg_init(&erm, FD, 2);
    aspire_logreg_options o = {1, 1e-8, 200};
    aspire_logreg_fit(&erm, xt, yt, NULL, NT, &o, NULL);
    double erm_worst = worst_group(&erm, xs, ys, gs, NS);
    aspire_logreg dfr, dfr2;
    aspire_dfr_report rep;
    aspire_dfr_options d = {0};
    d.seed = 11;
    d.retrains = 5;
    CHECK(aspire_dfr_fit(&dfr, &rep, &d, xv, yv, gv, NV, 4, NULL, NULL, 0, FD, 2) == ASPIRE_OK);
    double dfr_worst = worst_group(&dfr, xs, ys, gs, NS);
    CHECK_MSG(dfr_worst > 0.74 && dfr_worst > erm_worst + 0.2, "DFR worst group %.3f, ERM %.3f", dfr_worst,
              erm_worst);
    CHECK(fabs(dfr.w[0]) > 3 * fabs(dfr.w[1]));  /* leans on the core feature */
    CHECK(rep.nc == 7 && rep.c_grid[0] == 1.0);
    int found = 0;
    for (int c = 0; c < rep.nc; c++) found |= rep.c_grid[c] == rep.c;
    CHECK(found);
    CHECK(rep.balanced_n == 4 * (NV / 4));  /* val is exactly balanced: nothing dropped */
    /* deterministic in the seed */
    CHECK(aspire_dfr_fit(&dfr2, NULL, &d, xv, yv, gv, NV, 4, NULL, NULL, 0, FD, 2) == ASPIRE_OK);
    for (int j = 0; j < FD; j++) CHECK(dfr.w[j] == dfr2.w[j]);
    aspire_logreg_destroy(&dfr2);
    /* extra examples join every retraining set: 600 extras labelled by the spurious feature's
     * sign, against the core feature, drag the model towards x1 */
    enum { NE = 600 };
    static float xe[NE * FD];
    static int32_t ye[NE], ge[NE];
    make_features(xe, ye, ge, NE, 1.0, &r);  /* place == y always */
    for (int i = 0; i < NE; i++) xe[i * FD + 0] = -xe[i * FD + 0];  /* the core signal reversed */
    aspire_dfr_report rep2;
    /* at a fixed weight of 1 they all join, weighing per class as one balanced group */
    static const double w_one[] = {1.0};
    aspire_dfr_options d1 = d;
    d1.w_grid = w_one;
    d1.nw = 1;
    CHECK(aspire_dfr_fit(&dfr2, &rep2, &d1, xv, yv, gv, NV, 4, xe, ye, NE, FD, 2) == ASPIRE_OK);
    CHECK(rep2.balanced_n == rep.balanced_n + NE);
    CHECK(rep2.extra_weight == 1.0 && rep2.nw == 1);
    CHECK(fabs(dfr2.w[1]) > fabs(dfr.w[1]));
    aspire_logreg_destroy(&dfr2);
    /* with the default weight grid the validation halves see that they hurt, and the chosen
     * weight is one of the best there */
    CHECK(aspire_dfr_fit(&dfr2, &rep2, &d, xv, yv, gv, NV, 4, xe, ye, NE, FD, 2) == ASPIRE_OK);
    CHECK(rep2.nw == 4 && rep2.w_grid[0] == 1.0 && rep2.w_grid[3] == 0.0);
    CHECK_MSG(rep2.tune_worst_w[3] > rep2.tune_worst_w[0] + 0.2, "tuning %.3f %.3f %.3f %.3f", rep2.tune_worst_w[0],
              rep2.tune_worst_w[1], rep2.tune_worst_w[2], rep2.tune_worst_w[3]);
    CHECK(rep2.extra_weight < 1.0);
    for (int w = 0; w < rep2.nw; w++)
        if (rep2.w_grid[w] == rep2.extra_weight)
            for (int v = 0; v < rep2.nw; v++) CHECK(rep2.tune_worst_w[w] >= rep2.tune_worst_w[v]);
    aspire_logreg_destroy(&dfr2);
    /* weight 0 is the model without extras, bit for bit */
    static const double w_zero[] = {0.0};
    d1.w_grid = w_zero;
    CHECK(aspire_dfr_fit(&dfr2, &rep2, &d1, xv, yv, gv, NV, 4, xe, ye, NE, FD, 2) == ASPIRE_OK);
    CHECK(rep2.balanced_n == rep.balanced_n);
    for (int j = 0; j < FD; j++) CHECK(dfr.w[j] == dfr2.w[j]);
    aspire_logreg_destroy(&dfr2);
    /* extras that carry the core feature against the spurious one (the minority groups, as
     * ASPIRE's images should) are kept: a weight above 0 wins */
    static float xh[NE * FD];
    static int32_t yh[NE], gh[NE];
    make_features(xh, yh, gh, NE, 0.0, &r);  /* place != y always */
    CHECK(aspire_dfr_fit(&dfr2, &rep2, &d, xv, yv, gv, NV, 4, xh, yh, NE, FD, 2) == ASPIRE_OK);
    CHECK_MSG(rep2.extra_weight > 0.0, "dropped helpful extras (tuning %.3f %.3f %.3f %.3f)", rep2.tune_worst_w[0],
              rep2.tune_worst_w[1], rep2.tune_worst_w[2], rep2.tune_worst_w[3]);
    aspire_logreg_destroy(&dfr2);
    /* a negative weight is refused */
    static const double w_bad[] = {-1.0};
    d1.w_grid = w_bad;
    CHECK(aspire_dfr_fit(&dfr2, NULL, &d1, xv, yv, gv, NV, 4, xe, ye, NE, FD, 2) == ASPIRE_ERR_ARG);
    /* errors: out-of-range group, too few examples */
    gv[3] = 9;
    CHECK(aspire_dfr_fit(&dfr2, NULL, &d, xv, yv, gv, NV, 4, NULL, NULL, 0, FD, 2) == ASPIRE_ERR_ARG);
    gv[3] = 1;
    CHECK(aspire_dfr_fit(&dfr2, NULL, &d, xv, yv, gv, 3, 4, NULL, NULL, 0, FD, 2) == ASPIRE_ERR_ARG);
    aspire_logreg_destroy(&dfr2);
    aspire_logreg_destroy(&dfr);
    aspire_logreg_destroy(&erm);
}

int main(void) {
    RUN(test_kkt);
    RUN(test_zero_threshold);
    RUN(test_weights_equal_duplicates);
    RUN(test_one_vs_rest_and_errors);
    RUN(test_standardizer);
    RUN(test_dfr);
    return TEST_REPORT();
}
