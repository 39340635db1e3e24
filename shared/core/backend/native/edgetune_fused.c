/* edgetune fused kernels: batched small matrix products split over threads (single-threaded OpenBLAS
 * each), dropout with counter-based masks, exact GELU and layer norm with their gradients in one pass each.
 * Same conventions as edgetune_native.c: raw pointers into the wasm heap, no tensor allocation. */
#include <dlfcn.h>

#include "edgetune_native.h"

/* ---------- batched sgemm over OpenBLAS, the batch split across threads ---------- */
typedef void (*et_sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                            float *, int);
static et_sgemm_fn et_sgemm = NULL;

/* Finds cblas_sgemm in the OpenBLAS the caller already opened (same path). Returns 0 on success. */
int et_blas_init(const char *path) {
  void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (handle == NULL) handle = dlopen(path, RTLD_NOW);
  if (handle == NULL) return -1;
  et_sgemm = (et_sgemm_fn)dlsym(handle, "cblas_sgemm");
  return et_sgemm == NULL ? -2 : 0;
}

typedef struct {
  int trans_a, trans_b, m, n, k;
  const float *a, *b;
  float *c;
  const int32_t *a_index, *b_index;
  float beta;
} et_batch_ctx;

static void et_batch_range(void *vctx, int64_t begin, int64_t end) {
  et_batch_ctx *x = (et_batch_ctx *)vctx;
  const int64_t sa = (int64_t)x->m * x->k, sb = (int64_t)x->k * x->n, sc = (int64_t)x->m * x->n;
  for (int64_t i = begin; i < end; i++) {
    et_sgemm(101, x->trans_a ? 112 : 111, x->trans_b ? 112 : 111, x->m, x->n, x->k, 1.0f,
             x->a + x->a_index[i] * sa, x->trans_a ? x->m : x->k, x->b + x->b_index[i] * sb,
             x->trans_b ? x->k : x->n, x->beta, x->c + i * sc, x->n);
  }
}

/* C[i] = op(A[a_index[i]]) op(B[b_index[i]]) (+ beta C[i]) for i < batch, row-major; the caller has set
 * OpenBLAS to one thread, and the batch is split over `threads` threads here. */
int et_sgemm_batch(int trans_a, int trans_b, int m, int n, int k, const float *a, const int32_t *a_index,
                   const float *b, const int32_t *b_index, float *c, int batch, float beta, int threads) {
  if (et_sgemm == NULL) return -1;
  et_batch_ctx x = {trans_a, trans_b, m, n, k, a, b, c, a_index, b_index, beta};
  et_parallel(et_batch_range, &x, batch, (int64_t)m * n * k / 64 + 1, threads);
  return 0;
}

/* ---------- fused ops: dropout with counter-based random masks, exact GELU and its gradient ---------- */
typedef struct {
  const float *a, *b;
  float *y, *z;
  int64_t n;
  float p;
  uint64_t seed;
} et_fused_ctx;

/* splitmix64 finaliser of (seed, index): independent uniform bits per element, any order, any thread. */
static inline uint64_t et_mix(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void et_dropout_range(void *vctx, int64_t begin, int64_t end) {
  et_fused_ctx *c = (et_fused_ctx *)vctx;
  const float keep = c->p, scale = 1.0f / keep;
  int64_t to = end * ET_CHUNK < c->n ? end * ET_CHUNK : c->n;
  for (int64_t i = begin * ET_CHUNK; i < to; i++) {
    float u = (float)(et_mix(c->seed, (uint64_t)i) >> 40) * (1.0f / 16777216.0f); /* 24 bits in [0,1) */
    float m = u < keep ? scale : 0.0f;
    if (c->z != NULL) c->z[i] = m;
    c->y[i] = c->a[i] * m;
  }
}

/* y = x * mask, mask[i] = 1/keep with probability keep else 0 (the mask is written too unless NULL). */
void et_dropout_f32(const float *x, float *y, float *mask, int64_t n, float keep, uint64_t seed, int threads) {
  et_fused_ctx c = {x, NULL, y, mask, n, keep, seed};
  et_parallel(et_dropout_range, &c, (n + ET_CHUNK - 1) / ET_CHUNK, ET_CHUNK * 4, threads);
}

static void et_gelu_range(void *vctx, int64_t begin, int64_t end) {
  et_fused_ctx *c = (et_fused_ctx *)vctx;
  const float *restrict x = c->a;
  float *restrict y = c->y;
  int64_t to = end * ET_CHUNK < c->n ? end * ET_CHUNK : c->n;
  for (int64_t i = begin * ET_CHUNK; i < to; i++) y[i] = 0.5f * x[i] * (1.0f + et_erff(x[i] * 0.70710678118654752f));
}

/* y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), the exact GELU of BERT and torch.nn.GELU(). */
void et_gelu_f32(const float *x, float *y, int64_t n, int threads) {
  et_fused_ctx c = {x, NULL, y, NULL, n, 0, 0};
  et_parallel(et_gelu_range, &c, (n + ET_CHUNK - 1) / ET_CHUNK, ET_CHUNK * 4, threads);
}

static void et_gelu_grad_range(void *vctx, int64_t begin, int64_t end) {
  et_fused_ctx *c = (et_fused_ctx *)vctx;
  const float *restrict dy = c->a, *restrict x = c->b;
  float *restrict dx = c->y;
  int64_t to = end * ET_CHUNK < c->n ? end * ET_CHUNK : c->n;
  for (int64_t i = begin * ET_CHUNK; i < to; i++) {
    float v = x[i];
    float cdf = 0.5f * (1.0f + et_erff(v * 0.70710678118654752f));
    float pdf = 0.39894228040143268f * et_expf(-0.5f * v * v);
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}

/* dx = dy * (Phi(x) + x phi(x)). */
void et_gelu_grad_f32(const float *dy, const float *x, float *dx, int64_t n, int threads) {
  et_fused_ctx c = {dy, x, dx, NULL, n, 0, 0};
  et_parallel(et_gelu_grad_range, &c, (n + ET_CHUNK - 1) / ET_CHUNK, ET_CHUNK * 4, threads);
}

/* ---------- fused layer norm over the last axis: forward, and all three gradients in one pass ---------- */
typedef struct {
  const float *x, *gamma, *beta, *dy;
  float *y, *dx, *dgamma, *dbeta;
  float *partials; /* per-thread [2 * h] accumulators for dgamma, dbeta */
  int64_t rows, h;
  float eps;
  int threads;
} et_ln_ctx;

static inline void et_row_stats(const float *restrict r, int64_t h, float eps, float *mean, float *rstd) {
  float s = 0, ss = 0;
  for (int64_t j = 0; j < h; j++) s += r[j];
  float m = s / (float)h;
  for (int64_t j = 0; j < h; j++) {
    float d = r[j] - m;
    ss += d * d;
  }
  *mean = m;
  *rstd = 1.0f / sqrtf(ss / (float)h + eps);
}

static void et_ln_forward_range(void *vctx, int64_t begin, int64_t end) {
  et_ln_ctx *c = (et_ln_ctx *)vctx;
  const int64_t h = c->h;
  for (int64_t i = begin; i < end; i++) {
    const float *restrict r = c->x + i * h;
    float *restrict out = c->y + i * h;
    float mean, rstd;
    et_row_stats(r, h, c->eps, &mean, &rstd);
    for (int64_t j = 0; j < h; j++) out[j] = (r[j] - mean) * rstd * c->gamma[j] + c->beta[j];
  }
}

/* y = (x - mean) / sqrt(var + eps) * gamma + beta per row of [rows, h] (biased variance, as torch). */
void et_layer_norm_f32(const float *x, const float *gamma, const float *beta, float *y, int64_t rows, int64_t h,
                       float eps, int threads) {
  et_ln_ctx c = {x, gamma, beta, NULL, y, NULL, NULL, NULL, NULL, rows, h, eps, threads};
  et_parallel(et_ln_forward_range, &c, rows, h * 4, threads);
}

typedef struct {
  et_ln_ctx *c;
  int64_t begin, end;
  float *dgamma, *dbeta;
} et_ln_job;

static void et_ln_backward_rows(et_ln_ctx *c, int64_t begin, int64_t end, float *restrict dgamma,
                                float *restrict dbeta) {
  const int64_t h = c->h;
  for (int64_t i = begin; i < end; i++) {
    const float *restrict r = c->x + i * h, *restrict g = c->dy + i * h;
    float mean, rstd;
    et_row_stats(r, h, c->eps, &mean, &rstd);
    if (c->dgamma != NULL) {
      for (int64_t j = 0; j < h; j++) {
        dgamma[j] += g[j] * (r[j] - mean) * rstd;
        dbeta[j] += g[j];
      }
    }
    if (c->dx == NULL) continue;
    float sum_g = 0, sum_gx = 0;
    for (int64_t j = 0; j < h; j++) {
      float gg = g[j] * c->gamma[j];
      sum_g += gg;
      sum_gx += gg * (r[j] - mean) * rstd;
    }
    float mg = sum_g / (float)h, mgx = sum_gx / (float)h;
    float *restrict out = c->dx + i * h;
    for (int64_t j = 0; j < h; j++) out[j] = rstd * (g[j] * c->gamma[j] - mg - (r[j] - mean) * rstd * mgx);
  }
}

static void *et_ln_backward_main(void *arg) {
  et_ln_job *job = (et_ln_job *)arg;
  et_ln_backward_rows(job->c, job->begin, job->end, job->dgamma, job->dbeta);
  return NULL;
}

/* dx and/or (dgamma, dbeta) of et_layer_norm_f32 given dy (statistics recomputed from x); pass NULL for
 * the ones not wanted. Returns -1 when out of memory for the per-thread accumulators. */
int et_layer_norm_grad_f32(const float *dy, const float *x, const float *gamma, float *dx, float *dgamma,
                           float *dbeta, int64_t rows, int64_t h, float eps, int threads) {
  et_ln_ctx c = {x, gamma, NULL, dy, NULL, dx, dgamma, dbeta, NULL, rows, h, eps, threads};
  if (threads > ET_MAX_THREADS) threads = ET_MAX_THREADS;
  if (threads < 1 || rows * h < (1 << 16)) threads = 1;
  if (threads > rows) threads = (int)(rows > 0 ? rows : 1);
  float *scratch = (float *)calloc((size_t)(2 * h * threads), sizeof(float));
  if (scratch == NULL) return -1;
  pthread_t tids[ET_MAX_THREADS];
  et_ln_job jobs[ET_MAX_THREADS];
  int started[ET_MAX_THREADS] = {0};
  for (int t = 0; t < threads; t++) {
    jobs[t].c = &c;
    jobs[t].begin = rows * t / threads;
    jobs[t].end = rows * (t + 1) / threads;
    jobs[t].dgamma = scratch + 2 * h * t;
    jobs[t].dbeta = scratch + 2 * h * t + h;
  }
  for (int t = 1; t < threads; t++) started[t] = pthread_create(&tids[t], NULL, et_ln_backward_main, &jobs[t]) == 0;
  et_ln_backward_main(&jobs[0]);
  for (int t = 1; t < threads; t++) {
    if (started[t]) pthread_join(tids[t], NULL);
    else et_ln_backward_main(&jobs[t]);
  }
  for (int64_t j = 0; j < h && dgamma != NULL; j++) {
    float g = 0, b = 0;
    for (int t = 0; t < threads; t++) {
      g += scratch[2 * h * t + j];
      b += scratch[2 * h * t + h + j];
    }
    dgamma[j] = g;
    dbeta[j] = b;
  }
  free(scratch);
  return 0;
}

/* ---------- one-pass gradients of Erf and of Softmax over the last axis ---------- */
static void et_erf_grad_range(void *vctx, int64_t begin, int64_t end) {
  et_fused_ctx *c = (et_fused_ctx *)vctx;
  const float *restrict dy = c->a, *restrict x = c->b;
  float *restrict dx = c->y;
  int64_t to = end * ET_CHUNK < c->n ? end * ET_CHUNK : c->n;
  for (int64_t i = begin * ET_CHUNK; i < to; i++) dx[i] = dy[i] * 1.1283791670955126f * et_expf(-x[i] * x[i]);
}

/* dx = dy * 2/sqrt(pi) * exp(-x^2). */
void et_erf_grad_f32(const float *dy, const float *x, float *dx, int64_t n, int threads) {
  et_fused_ctx c = {dy, x, dx, NULL, n, 0, 0};
  et_parallel(et_erf_grad_range, &c, (n + ET_CHUNK - 1) / ET_CHUNK, ET_CHUNK * 4, threads);
}

typedef struct {
  const float *dy, *y;
  float *dx;
  int64_t cols;
} et_softmax_grad_ctx;

static void et_softmax_grad_range(void *vctx, int64_t begin, int64_t end) {
  et_softmax_grad_ctx *c = (et_softmax_grad_ctx *)vctx;
  for (int64_t r = begin; r < end; r++) {
    const float *restrict g = c->dy + r * c->cols, *restrict y = c->y + r * c->cols;
    float *restrict out = c->dx + r * c->cols;
    float dot = 0;
    for (int64_t j = 0; j < c->cols; j++) dot += g[j] * y[j];
    for (int64_t j = 0; j < c->cols; j++) out[j] = y[j] * (g[j] - dot);
  }
}

/* dx = y * (dy - sum(dy * y)) per row, y = softmax output over the last axis. */
void et_softmax_grad_f32(const float *dy, const float *y, float *dx, int64_t rows, int64_t cols, int threads) {
  et_softmax_grad_ctx c = {dy, y, dx, cols};
  et_parallel(et_softmax_grad_range, &c, rows, cols * 3, threads);
}
