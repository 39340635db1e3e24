/* edgetune native kernels: memory-bound tensor work (transpose, reductions, element-wise math, gathers) done
 * in place on the tfjs wasm heap, called from Deno FFI by the kernels in this folder. Every function takes
 * raw float pointers into the wasm memory plus sizes, never allocates tensor memory, and splits large jobs
 * over `threads` POSIX threads (the caller's thread does the first share). Built by build.ts with
 * `gcc -O3 -march=native -shared -fPIC`; entirely optional: the TypeScript side falls back to the stock
 * wasm kernels when this library is absent. */
#include "edgetune_native.h"

/* ---------- transpose ---------- */
typedef struct {
  const float *x;
  float *y;
  int rank;
  int64_t out_shape[ET_MAX_RANK];
  int64_t in_stride_for_out[ET_MAX_RANK]; /* stride in x of each output axis */
} et_transpose_ctx;

/* Copies output rows [begin, end) (a row = the last output axis). */
static void et_transpose_range(void *vctx, int64_t begin, int64_t end) {
  et_transpose_ctx *c = (et_transpose_ctx *)vctx;
  const int r = c->rank;
  const int64_t last = c->out_shape[r - 1];
  const int64_t last_stride = c->in_stride_for_out[r - 1];
  int64_t idx[ET_MAX_RANK] = {0};
  int64_t rem = begin;
  for (int d = r - 2; d >= 0; d--) {
    idx[d] = rem % c->out_shape[d];
    rem /= c->out_shape[d];
  }
  float *dst = c->y + begin * last;
  for (int64_t row = begin; row < end; row++) {
    int64_t src = 0;
    for (int d = 0; d < r - 1; d++) src += idx[d] * c->in_stride_for_out[d];
    const float *s = c->x + src;
    if (last_stride == 1) {
      memcpy(dst, s, (size_t)last * sizeof(float));
    } else {
      for (int64_t i = 0; i < last; i++) dst[i] = s[i * last_stride];
    }
    dst += last;
    for (int d = r - 2; d >= 0; d--) {
      if (++idx[d] < c->out_shape[d]) break;
      idx[d] = 0;
    }
  }
}

/* Blocked transpose of a batch of [rows, cols] matrices: y[b][j][i] = x[b][i][j]. */
typedef struct {
  const float *x;
  float *y;
  int64_t batch, rows, cols;
} et_t2d_ctx;

#define ET_TILE 32
static void et_t2d_range(void *vctx, int64_t begin, int64_t end) {
  et_t2d_ctx *c = (et_t2d_ctx *)vctx;
  const int64_t tiles_r = (c->rows + ET_TILE - 1) / ET_TILE, tiles_c = (c->cols + ET_TILE - 1) / ET_TILE;
  for (int64_t t = begin; t < end; t++) {
    int64_t b = t / (tiles_r * tiles_c), rem = t % (tiles_r * tiles_c);
    int64_t r0 = (rem / tiles_c) * ET_TILE, c0 = (rem % tiles_c) * ET_TILE;
    const float *xs = c->x + b * c->rows * c->cols;
    float *ys = c->y + b * c->rows * c->cols;
    int64_t r1 = r0 + ET_TILE < c->rows ? r0 + ET_TILE : c->rows;
    int64_t c1 = c0 + ET_TILE < c->cols ? c0 + ET_TILE : c->cols;
    for (int64_t j = c0; j < c1; j++)
      for (int64_t i = r0; i < r1; i++) ys[j * c->rows + i] = xs[i * c->cols + j];
  }
}

/* y = transpose(x, perm) for x of the given shape. Size-1 axes are dropped and input axes that stay
 * adjacent in the output are merged first. Returns 0 on success, -1 if the rank is too large. */
int et_transpose_f32(const float *x, float *y, const int32_t *shape, const int32_t *perm, int rank,
                     int threads) {
  if (rank > ET_MAX_RANK) return -1;
  int64_t total = 1;
  for (int i = 0; i < rank; i++) total *= shape[i];
  if (total == 0) return 0;
  /* groups in output order; each group is a run of consecutive input axes */
  int64_t gsize[ET_MAX_RANK], gstride[ET_MAX_RANK];
  int gfirst[ET_MAX_RANK], glast[ET_MAX_RANK], ng = 0;
  for (int k = 0; k < rank; k++) {
    int a = perm[k];
    if (shape[a] == 1) continue;
    if (ng > 0 && glast[ng - 1] < a) {
      int contiguous = 1; /* only size-1 axes between glast and a */
      for (int q = glast[ng - 1] + 1; q < a; q++)
        if (shape[q] != 1) contiguous = 0;
      if (contiguous) {
        gsize[ng - 1] *= shape[a];
        glast[ng - 1] = a;
        continue;
      }
    }
    gfirst[ng] = a;
    glast[ng] = a;
    gsize[ng] = shape[a];
    ng++;
  }
  if (ng <= 1) {
    memcpy(y, x, (size_t)total * sizeof(float));
    return 0;
  }
  int order[ET_MAX_RANK]; /* group indices in input order */
  for (int i = 0; i < ng; i++) order[i] = i;
  for (int i = 1; i < ng; i++)
    for (int j = i; j > 0 && gfirst[order[j]] < gfirst[order[j - 1]]; j--) {
      int tmp = order[j];
      order[j] = order[j - 1];
      order[j - 1] = tmp;
    }
  int64_t s = 1;
  for (int i = ng - 1; i >= 0; i--) {
    gstride[order[i]] = s;
    s *= gsize[order[i]];
  }
  int swap2 = ng == 2;                                                        /* [A,B] -> [B,A] */
  int swap3 = ng == 3 && order[0] == 0 && order[1] == 2 && order[2] == 1; /* [N,A,B] -> [N,B,A] */
  if ((swap2 || swap3) && gsize[ng - 1] > 8) {
    et_t2d_ctx c;
    c.x = x;
    c.y = y;
    c.batch = swap3 ? gsize[0] : 1;
    c.rows = gsize[ng - 1];
    c.cols = gsize[ng - 2];
    int64_t tiles = c.batch * ((c.rows + ET_TILE - 1) / ET_TILE) * ((c.cols + ET_TILE - 1) / ET_TILE);
    et_parallel(et_t2d_range, &c, tiles, ET_TILE * ET_TILE, threads);
    return 0;
  }
  et_transpose_ctx c;
  c.x = x;
  c.y = y;
  c.rank = ng;
  for (int i = 0; i < ng; i++) {
    c.out_shape[i] = gsize[i];
    c.in_stride_for_out[i] = gstride[i];
  }
  et_parallel(et_transpose_range, &c, total / gsize[ng - 1], gsize[ng - 1], threads);
  return 0;
}

/* ---------- sum over the middle axis of [outer, reduce, inner] ---------- */
typedef struct {
  const float *x;
  float *y;
  int64_t outer, reduce, inner;
} et_sum_ctx;

static void et_sum_rows(void *vctx, int64_t begin, int64_t end) { /* inner == 1 */
  et_sum_ctx *c = (et_sum_ctx *)vctx;
  for (int64_t o = begin; o < end; o++) {
    const float *xs = c->x + o * c->reduce;
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= c->reduce; i += 16)
      for (int k = 0; k < 16; k++) acc[k] += xs[i + k];
    float t = 0;
    for (int k = 0; k < 16; k++) t += acc[k];
    for (; i < c->reduce; i++) t += xs[i];
    c->y[o] = t;
  }
}

static void et_sum_cols(void *vctx, int64_t begin, int64_t end) { /* parallel over inner columns */
  et_sum_ctx *c = (et_sum_ctx *)vctx;
  for (int64_t o = 0; o < c->outer; o++) {
    float *ys = c->y + o * c->inner;
    const float *xs = c->x + o * c->reduce * c->inner;
    for (int64_t j = begin; j < end; j++) ys[j] = 0;
    for (int64_t r = 0; r < c->reduce; r++) {
      const float *row = xs + r * c->inner;
      for (int64_t j = begin; j < end; j++) ys[j] += row[j];
    }
  }
}

/* y[o, i] = scale * sum_r x[o, r, i] (scale 1 for Sum, 1/reduce for Mean). */
void et_sum_f32(const float *x, float *y, int64_t outer, int64_t reduce, int64_t inner, float scale,
                int threads) {
  et_sum_ctx c = {x, y, outer, reduce, inner};
  if (inner == 1) et_parallel(et_sum_rows, &c, outer, reduce, threads);
  else et_parallel(et_sum_cols, &c, inner, outer * reduce, threads);
  if (scale != 1.0f)
    for (int64_t i = 0; i < outer * inner; i++) y[i] *= scale;
}

/* ---------- element-wise binary ops with numpy broadcasting ---------- */
enum { ET_ADD = 0, ET_SUB, ET_MUL, ET_DIV, ET_MAX, ET_MIN, ET_SQDIFF };

typedef struct {
  const float *a, *b;
  float *y;
  int op, rank;
  int64_t shape[ET_MAX_RANK], sa[ET_MAX_RANK], sb[ET_MAX_RANK];
} et_binary_ctx;

#define ET_BINARY_LOOP(EXPR)                                                                         \
  if (sa == 1 && sb == 1) {                                                                          \
    for (int64_t i = 0; i < n; i++) { float u = a[i], v = b[i]; y[i] = (EXPR); }                   \
  } else if (sa == 1 && sb == 0) {                                                                   \
    const float v = b[0];                                                                            \
    for (int64_t i = 0; i < n; i++) { float u = a[i]; y[i] = (EXPR); }                              \
  } else if (sa == 0 && sb == 1) {                                                                   \
    const float u = a[0];                                                                            \
    for (int64_t i = 0; i < n; i++) { float v = b[i]; y[i] = (EXPR); }                              \
  } else {                                                                                           \
    const float u = a[0], v = b[0];                                                                  \
    for (int64_t i = 0; i < n; i++) y[i] = (EXPR);                                                  \
  }

static void et_binary_inner(int op, const float *restrict a, int64_t sa, const float *restrict b, int64_t sb,
                            float *restrict y, int64_t n) {
  switch (op) {
    case ET_ADD: ET_BINARY_LOOP(u + v) break;
    case ET_SUB: ET_BINARY_LOOP(u - v) break;
    case ET_MUL: ET_BINARY_LOOP(u * v) break;
    case ET_DIV: ET_BINARY_LOOP(u / v) break;
    case ET_MAX: ET_BINARY_LOOP(u > v || u != u ? u : v) break;
    case ET_MIN: ET_BINARY_LOOP(u < v || u != u ? u : v) break;
    case ET_SQDIFF: ET_BINARY_LOOP((u - v) * (u - v)) break;
  }
}

static void et_binary_range(void *vctx, int64_t begin, int64_t end) {
  et_binary_ctx *c = (et_binary_ctx *)vctx;
  const int r = c->rank;
  const int64_t inner = c->shape[r - 1];
  if (r == 1) { /* one contiguous run: the range is in chunks */
    int64_t from = begin * ET_CHUNK, to = end * ET_CHUNK < inner ? end * ET_CHUNK : inner;
    et_binary_inner(c->op, c->a + from * c->sa[0], c->sa[0], c->b + from * c->sb[0], c->sb[0], c->y + from,
                    to - from);
    return;
  }
  int64_t idx[ET_MAX_RANK] = {0}, rem = begin;
  for (int d = r - 2; d >= 0; d--) {
    idx[d] = rem % c->shape[d];
    rem /= c->shape[d];
  }
  for (int64_t row = begin; row < end; row++) {
    int64_t oa = 0, ob = 0;
    for (int d = 0; d < r - 1; d++) {
      oa += idx[d] * c->sa[d];
      ob += idx[d] * c->sb[d];
    }
    et_binary_inner(c->op, c->a + oa, c->sa[r - 1], c->b + ob, c->sb[r - 1], c->y + row * inner, inner);
    for (int d = r - 2; d >= 0; d--) {
      if (++idx[d] < c->shape[d]) break;
      idx[d] = 0;
    }
  }
}

/* y = op(a, b); shapes are the input shapes padded (with 1s in front) to the output rank. Returns -1 for
 * an unknown op or too large a rank. */
int et_binary_f32(int op, const float *a, const int32_t *a_shape, const float *b, const int32_t *b_shape,
                  float *y, int rank, int threads) {
  if (rank > ET_MAX_RANK || op < ET_ADD || op > ET_SQDIFF) return -1;
  int64_t shape[ET_MAX_RANK], sa[ET_MAX_RANK], sb[ET_MAX_RANK];
  int64_t acc_a = 1, acc_b = 1;
  for (int d = rank - 1; d >= 0; d--) {
    shape[d] = a_shape[d] > b_shape[d] ? a_shape[d] : b_shape[d];
    if (a_shape[d] == 0 || b_shape[d] == 0) return 0;
    sa[d] = a_shape[d] == 1 ? 0 : acc_a;
    sb[d] = b_shape[d] == 1 ? 0 : acc_b;
    acc_a *= a_shape[d];
    acc_b *= b_shape[d];
  }
  et_binary_ctx c;
  c.a = a;
  c.b = b;
  c.y = y;
  c.op = op;
  /* drop size-1 axes and merge neighbours whose strides chain */
  int n = 0;
  for (int d = 0; d < rank; d++) {
    if (shape[d] == 1) continue;
    if (n > 0 && c.sa[n - 1] == sa[d] * shape[d] && c.sb[n - 1] == sb[d] * shape[d]) {
      c.shape[n - 1] *= shape[d];
      c.sa[n - 1] = sa[d];
      c.sb[n - 1] = sb[d];
      continue;
    }
    c.shape[n] = shape[d];
    c.sa[n] = sa[d];
    c.sb[n] = sb[d];
    n++;
  }
  if (n == 0) {
    c.shape[0] = 1;
    c.sa[0] = 0;
    c.sb[0] = 0;
    n = 1;
  }
  c.rank = n;
  if (n == 1) {
    int64_t chunks = (c.shape[0] + ET_CHUNK - 1) / ET_CHUNK;
    et_parallel(et_binary_range, &c, chunks, ET_CHUNK, threads);
  } else {
    int64_t rows = 1;
    for (int d = 0; d < n - 1; d++) rows *= c.shape[d];
    et_parallel(et_binary_range, &c, rows, c.shape[n - 1], threads);
  }
  return 0;
}

/* ---------- element-wise unary ops ---------- */
enum { ET_NEG = 0, ET_EXP, ET_ERF, ET_SQRT, ET_RSQRT, ET_SQUARE, ET_FLOOR, ET_ABS, ET_RECIPROCAL, ET_RELU,
       ET_TANH, ET_LOG, ET_SIGMOID };


typedef struct {
  const float *x;
  float *y;
  int op;
  float alpha;
} et_unary_ctx;

static void et_unary_range(void *vctx, int64_t begin, int64_t end) {
  et_unary_ctx *c = (et_unary_ctx *)vctx;
  const float *restrict x = c->x;
  float *restrict y = c->y;
  int64_t from = begin * ET_CHUNK, to = end * ET_CHUNK;
  switch (c->op) {
    case ET_NEG: for (int64_t i = from; i < to; i++) y[i] = -x[i]; break;
    case ET_EXP: for (int64_t i = from; i < to; i++) y[i] = et_expf(x[i]); break;
    case ET_ERF: for (int64_t i = from; i < to; i++) y[i] = et_erff(x[i]); break;
    case ET_SQRT: for (int64_t i = from; i < to; i++) y[i] = sqrtf(x[i]); break;
    case ET_RSQRT: for (int64_t i = from; i < to; i++) y[i] = 1.0f / sqrtf(x[i]); break;
    case ET_SQUARE: for (int64_t i = from; i < to; i++) y[i] = x[i] * x[i]; break;
    case ET_FLOOR: for (int64_t i = from; i < to; i++) y[i] = floorf(x[i]); break;
    case ET_ABS: for (int64_t i = from; i < to; i++) y[i] = fabsf(x[i]); break;
    case ET_RECIPROCAL: for (int64_t i = from; i < to; i++) y[i] = 1.0f / x[i]; break;
    case ET_RELU: for (int64_t i = from; i < to; i++) y[i] = x[i] > 0 ? x[i] : (x[i] != x[i] ? x[i] : 0.0f); break;
    case ET_TANH: for (int64_t i = from; i < to; i++) y[i] = tanhf(x[i]); break;
    case ET_LOG: for (int64_t i = from; i < to; i++) y[i] = logf(x[i]); break;
    case ET_SIGMOID: for (int64_t i = from; i < to; i++) y[i] = 1.0f / (1.0f + et_expf(-x[i])); break;
  }
}

/* y = op(x) over n elements (n is padded up to whole chunks by the caller's allocation? no: handled here). */
int et_unary_f32(int op, const float *x, float *y, int64_t n, int threads) {
  if (op < ET_NEG || op > ET_SIGMOID) return -1;
  et_unary_ctx c = {x, y, op, 0};
  int64_t whole = n / ET_CHUNK;
  if (whole > 0) et_parallel(et_unary_range, &c, whole, ET_CHUNK * 4, threads);
  if (whole * ET_CHUNK < n) { /* the tail, on this thread */
    et_unary_ctx tail = {x + whole * ET_CHUNK, y + whole * ET_CHUNK, op, 0};
    float xs[ET_CHUNK], ys[ET_CHUNK];
    int64_t rest = n - whole * ET_CHUNK;
    memcpy(xs, tail.x, (size_t)rest * sizeof(float));
    memset(xs + rest, 0, (size_t)(ET_CHUNK - rest) * sizeof(float));
    tail.x = xs;
    tail.y = ys;
    et_unary_range(&tail, 0, 1);
    memcpy(y + whole * ET_CHUNK, ys, (size_t)rest * sizeof(float));
  }
  return 0;
}

/* ---------- gather of rows: y[i, :] = x[indices[i], :] (out-of-range rows become zeros) ---------- */
void et_gather_rows_f32(const float *x, const int32_t *indices, float *y, int64_t count, int64_t rows,
                        int64_t row_size) {
  for (int64_t i = 0; i < count; i++) {
    int32_t r = indices[i];
    if (r >= 0 && r < rows) memcpy(y + i * row_size, x + (int64_t)r * row_size, (size_t)row_size * sizeof(float));
    else memset(y + i * row_size, 0, (size_t)row_size * sizeof(float));
  }
}

/* ---------- segment sum of rows (gradient of gather): y[ids[i], :] += x[i, :] ---------- */
void et_segment_sum_rows_f32(const float *x, const int32_t *ids, float *y, int64_t count, int64_t segments,
                             int64_t row_size) {
  memset(y, 0, (size_t)(segments * row_size) * sizeof(float));
  for (int64_t i = 0; i < count; i++) {
    int32_t s = ids[i];
    if (s < 0 || s >= segments) continue;
    float *restrict dst = y + (int64_t)s * row_size;
    const float *restrict src = x + i * row_size;
    for (int64_t j = 0; j < row_size; j++) dst[j] += src[j];
  }
}
