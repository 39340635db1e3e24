/* Shared helpers of the edgetune native kernels (edgetune_native.c, edgetune_fused.c): limits, the
 * thread splitter used by every kernel, and call-free expf/erff approximations that gcc vectorises. */
#ifndef EDGETUNE_NATIVE_H
#define EDGETUNE_NATIVE_H
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ET_MAX_THREADS 8
#define ET_MAX_RANK 8

typedef void (*et_range_fn)(void *ctx, int64_t begin, int64_t end);

typedef struct {
  et_range_fn fn;
  void *ctx;
  int64_t begin, end;
} et_job;

static inline void *et_job_main(void *arg) {
  et_job *job = (et_job *)arg;
  job->fn(job->ctx, job->begin, job->end);
  return NULL;
}

/* Runs fn over [0, n) split in `threads` contiguous ranges; small jobs (n * cost < 1<<16) stay on the
 * calling thread because thread start-up would cost more than it saves. */
static inline void et_parallel(et_range_fn fn, void *ctx, int64_t n, int64_t cost_per_item, int threads) {
  if (threads > ET_MAX_THREADS) threads = ET_MAX_THREADS;
  if (threads < 2 || n < 2 || n * cost_per_item < (1 << 16)) {
    fn(ctx, 0, n);
    return;
  }
  if (threads > n) threads = (int)n;
  pthread_t tids[ET_MAX_THREADS];
  et_job jobs[ET_MAX_THREADS];
  int started[ET_MAX_THREADS] = {0};
  for (int t = 0; t < threads; t++) {
    jobs[t].fn = fn;
    jobs[t].ctx = ctx;
    jobs[t].begin = n * t / threads;
    jobs[t].end = n * (t + 1) / threads;
  }
  for (int t = 1; t < threads; t++) started[t] = pthread_create(&tids[t], NULL, et_job_main, &jobs[t]) == 0;
  fn(ctx, jobs[0].begin, jobs[0].end);
  for (int t = 1; t < threads; t++) {
    if (started[t]) pthread_join(tids[t], NULL);
    else fn(ctx, jobs[t].begin, jobs[t].end);
  }
}

#define ET_CHUNK 8192

/* expf with Cephes' range reduction and polynomial (about 1 ulp), written without calls so it vectorises. */
static inline float et_expf(float x) {
  x = x > 88.3762626647949f ? 88.3762626647949f : x;
  x = x < -103.972084045410f ? -103.972084045410f : x;
  float fx = floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - fx * 0.693359375f + fx * 2.12194440e-4f;
  float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  int32_t e = (int32_t)fx;
  /* 2^e for e in [-150, 128]: split in two factors so subnormal results keep their precision */
  int32_t e1 = e / 2, e2 = e - e1;
  union { int32_t i; float f; } s1, s2;
  s1.i = (e1 + 127) << 23;
  s2.i = (e2 + 127) << 23;
  return p * s1.f * s2.f;
}

/* Abramowitz & Stegun 7.1.26, the approximation tfjs's own Erf kernels use (max error 1.5e-7). */
static inline float et_erff(float x) {
  float ax = fabsf(x);
  float t = 1.0f / (1.0f + 0.3275911f * ax);
  float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t +
                0.254829592f) * t;
  return copysignf(1.0f - poly * et_expf(-ax * ax), x);
}

#endif
