/**
 * Optimizers for fine-tuning: AdamW and SGD written to match PyTorch's torch.optim.AdamW and torch.optim.SGD
 * (1.13, single-tensor path) update for update, and LAMB as in You et al. 2019 (Algorithm 2, with bias
 * correction; the same formula is in tools/torch_reference/lamb.py). Every trainable parameter carries
 * its own LR multiplier and weight decay (from param_groups.ts); `step` gets the scheduled base LR and the
 * gradients by parameter name, updates each variable in place with `assign` inside `tf.tidy` (no leaks), and
 * never disposes the gradients it is given. State (moments, per-parameter step counts) is created lazily on a
 * parameter's first gradient, like PyTorch, and round-trips through plain arrays for checkpoint/resume.
 * On the wasm and cpu backends each update runs as one fused JavaScript loop over the tensors' storage —
 * moments updated in place, new weights written into one fresh tensor that is then assigned (never in place:
 * wasm's XNNPACK caches packed matmul weights per tensor) — several times faster than a dozen element-wise
 * tfjs ops; elsewhere, or when a moment's storage is shared, the same formula runs as tfjs ops.
 */
import * as tf from "@tensorflow/tfjs";

/** A variable the optimizer updates, with its group settings (see buildParamGroups). */
export interface TrainableParam {
  name: string;
  variable: tf.Variable;
  lrScale: number;
  weightDecay: number;
}

export type OptimizerSpec =
  | { name: "adamw"; beta1: number; beta2: number; epsilon: number }
  | { name: "lamb"; beta1: number; beta2: number; epsilon: number }
  | { name: "sgd"; momentum: number; nesterov: boolean; dampening?: number };

/** One saved slot tensor (a moment, a momentum buffer, or the parameter's step count as a scalar). */
export interface SlotData {
  shape: number[];
  data: Float32Array;
}

export interface OptimizerState {
  /** Number of `step` calls so far. */
  step: number;
  /** param name → slot name (`exp_avg`, `exp_avg_sq`, `momentum_buffer`, `step`) → data. */
  slots: Record<string, Record<string, SlotData>>;
}

export interface Optimizer {
  readonly name: string;
  /** Number of `step` calls so far. */
  readonly stepCount: number;
  /**
   * One update of every param that has a grad; lr is the scheduled base LR, each param uses lr * lrScale.
   * gradScale (default 1) multiplies every gradient on the fly — pass clipping.ts's clipCoefficient (and/or
   * 1/accumulation steps) here to skip materialising scaled gradients.
   */
  step(grads: Map<string, tf.Tensor>, lr: number, gradScale?: number): void;
  /** Optimizer state (moments, step count) as plain arrays, for checkpoint/resume; and the inverse. */
  saveState(): OptimizerState;
  loadState(state: OptimizerState): void;
  /** Frees the optimizer's slot variables (not the parameters). */
  dispose(): void;
}

/** Per-parameter state: named slot variables plus how many updates this parameter has had. */
type ParamState = { updates: number; slots: Map<string, tf.Variable> };

/** The update rule of one optimizer kind, applied to one parameter inside a tidy. */
type UpdateRule = (param: TrainableParam, grad: tf.Tensor, state: ParamState, lr: number) => void;

/** The same rule as one loop over raw storage: reads `weights`, writes `out`, updates the slots in place. */
type FusedRule = (
  weights: Float32Array,
  out: Float32Array,
  grad: Float32Array,
  gradScale: number,
  slots: Float32Array[],
  param: TrainableParam,
  state: ParamState,
  lr: number,
) => void;

export interface OptimizerOptions {
  /** Use the fused in-place loops where the backend allows (default true); false forces tfjs ops. */
  fused?: boolean;
}

/** The per-parameter tensors an optimizer keeps (torch's state names); plain SGD keeps none. */
function slotNamesFor(spec: OptimizerSpec): string[] {
  if (spec.name === "sgd") return spec.momentum !== 0 ? ["momentum_buffer"] : [];
  return ["exp_avg", "exp_avg_sq"];
}

export function createOptimizer(
  spec: OptimizerSpec,
  params: TrainableParam[],
  options: OptimizerOptions = {},
): Optimizer {
  validateSpec(spec);
  const byName = new Map<string, TrainableParam>();
  for (const p of params) {
    if (byName.has(p.name)) throw new Error(`optimizer: duplicate parameter name "${p.name}"`);
    byName.set(p.name, p);
  }
  const states = new Map<string, ParamState>();
  const rule = updateRuleFor(spec);
  const fusedRule = options.fused === false ? null : fusedRuleFor(spec);
  const slotNames = slotNamesFor(spec);
  let stepCount = 0;

  const newState = (p: TrainableParam): ParamState => {
    const slots = new Map<string, tf.Variable>();
    for (const s of slotNames) slots.set(s, tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false)));
    return { updates: 0, slots };
  };

  const disposeState = (s: ParamState) => s.slots.forEach((v) => v.dispose());

  return {
    name: spec.name,
    get stepCount() {
      return stepCount;
    },
    step(grads, lr, gradScale = 1) {
      if (!Number.isFinite(lr) || lr < 0) throw new Error(`optimizer: learning rate must be >= 0, got ${lr}`);
      if (gradScale < 0) throw new Error(`optimizer: gradScale must be >= 0, got ${gradScale}`); // NaN flows on, as torch
      stepCount++;
      for (const [name, grad] of grads) {
        const p = byName.get(name);
        if (p === undefined) continue; // frozen or unknown: not ours to update
        const shapes = `grad [${grad.shape}], param [${p.variable.shape}]`;
        if (!sameShape(grad.shape, p.variable.shape)) {
          throw new Error(`optimizer: "${name}" shape mismatch: ${shapes}`);
        }
        const state = states.get(name) ?? newState(p);
        states.set(name, state);
        state.updates++;
        const views = fusedRule === null ? null : storageViews(p.variable, grad, [...state.slots.values()]);
        if (views === null) {
          tf.tidy(() => rule(p, gradScale === 1 ? grad : tf.mul(grad, gradScale), state, lr * p.lrScale));
          continue;
        }
        fusedRule!(views.weights, views.out, views.grad, gradScale, views.slots, p, state, lr * p.lrScale);
        p.variable.assign(views.outTensor);
        views.outTensor.dispose();
      }
    },
    saveState() {
      const slots: OptimizerState["slots"] = {};
      for (const [name, s] of states) {
        const entry: Record<string, SlotData> = { step: { shape: [], data: Float32Array.of(s.updates) } };
        for (const [slot, v] of s.slots) {
          entry[slot] = { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) };
        }
        slots[name] = entry;
      }
      return { step: stepCount, slots };
    },
    loadState(state) {
      for (const s of states.values()) disposeState(s);
      states.clear();
      stepCount = state.step;
      for (const [name, saved] of Object.entries(state.slots)) {
        const p = byName.get(name);
        if (p === undefined) continue; // e.g. a layer frozen on resume: its state is simply dropped
        const s: ParamState = { updates: saved.step?.data[0] ?? stepCount, slots: new Map() };
        for (const slot of slotNames) {
          const d = saved[slot];
          if (d === undefined) throw new Error(`optimizer: saved state of "${name}" lacks slot "${slot}"`);
          const shapes = `saved ${slot} [${d.shape}], param [${p.variable.shape}]`;
          if (!sameShape(d.shape, p.variable.shape)) {
            throw new Error(`optimizer: "${name}" shape mismatch: ${shapes}`);
          }
          s.slots.set(slot, tf.tidy(() => tf.variable(tf.tensor(d.data, d.shape, "float32"), false)));
        }
        states.set(name, s);
      }
    },
    dispose() {
      for (const s of states.values()) disposeState(s);
      states.clear();
    },
  };
}

function validateSpec(spec: OptimizerSpec): void {
  if (spec.name === "sgd") {
    const dampening = spec.dampening ?? 0;
    if (spec.momentum < 0) throw new Error(`sgd: momentum must be >= 0, got ${spec.momentum}`);
    if (spec.nesterov && (spec.momentum <= 0 || dampening !== 0)) {
      throw new Error("sgd: Nesterov momentum requires a momentum and zero dampening");
    }
    return;
  }
  const { beta1, beta2, epsilon } = spec;
  if (!(beta1 >= 0 && beta1 < 1)) throw new Error(`${spec.name}: beta1 must be in [0, 1), got ${beta1}`);
  if (!(beta2 >= 0 && beta2 < 1)) throw new Error(`${spec.name}: beta2 must be in [0, 1), got ${beta2}`);
  if (!(epsilon >= 0)) throw new Error(`${spec.name}: epsilon must be >= 0, got ${epsilon}`);
}

function updateRuleFor(spec: OptimizerSpec): UpdateRule {
  switch (spec.name) {
    case "adamw":
      return adamwRule(spec.beta1, spec.beta2, spec.epsilon);
    case "lamb":
      return lambRule(spec.beta1, spec.beta2, spec.epsilon);
    case "sgd":
      return sgdRule(spec.momentum, spec.dampening ?? 0, spec.nesterov);
  }
}

/** The Adam moments m ← β1·m + (1−β1)·g and v ← β2·v + (1−β2)·g², as torch computes them. */
function adamMoments(grad: tf.Tensor, state: ParamState, beta1: number, beta2: number) {
  const m = tf.add(tf.mul(slot(state, "exp_avg"), beta1), tf.mul(grad, 1 - beta1));
  const v = tf.add(tf.mul(slot(state, "exp_avg_sq"), beta2), tf.mul(tf.mul(grad, grad), 1 - beta2));
  return { m, v };
}

/**
 * torch.optim.AdamW: p ← p·(1 − lr·wd); then m, v; step_size = lr / (1 − β1^t);
 * denom = sqrt(v) / sqrt(1 − β2^t) + ε; p ← p − step_size · m / denom.
 */
function adamwRule(beta1: number, beta2: number, epsilon: number): UpdateRule {
  return (param, grad, state, lr) => {
    const t = state.updates;
    const stepSize = lr / (1 - beta1 ** t);
    const sqrtBias2 = Math.sqrt(1 - beta2 ** t);
    const { m, v } = adamMoments(grad, state, beta1, beta2);
    const decayed = param.weightDecay !== 0
      ? tf.mul(param.variable, 1 - lr * param.weightDecay)
      : param.variable;
    const denom = tf.add(tf.div(tf.sqrt(v), sqrtBias2), epsilon);
    const updated = tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize));
    slot(state, "exp_avg").assign(m);
    slot(state, "exp_avg_sq").assign(v);
    param.variable.assign(updated);
  };
}

/**
 * LAMB: r = m̂ / (sqrt(v̂) + ε) with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t); u = r + wd·p;
 * trust = ‖p‖/‖u‖ (1 when either norm is 0); p ← p − lr · trust · u.
 */
function lambRule(beta1: number, beta2: number, epsilon: number): UpdateRule {
  return (param, grad, state, lr) => {
    const t = state.updates;
    const { m, v } = adamMoments(grad, state, beta1, beta2);
    const ratio = tf.div(tf.div(m, 1 - beta1 ** t), tf.add(tf.sqrt(tf.div(v, 1 - beta2 ** t)), epsilon));
    const update = param.weightDecay !== 0 ? tf.add(ratio, tf.mul(param.variable, param.weightDecay)) : ratio;
    const trust = lambTrustRatio(param.variable, update);
    slot(state, "exp_avg").assign(m);
    slot(state, "exp_avg_sq").assign(v);
    param.variable.assign(tf.sub(param.variable, tf.mul(update, tf.mul(trust, lr))));
  };
}

/** ‖weights‖ / ‖update‖ as a scalar tensor, 1 when either norm is 0 (computed on device, no sync). */
export function lambTrustRatio(weights: tf.Tensor, update: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const wNorm = tf.sqrt(tf.sum(tf.mul(weights, weights)));
    const uNorm = tf.sqrt(tf.sum(tf.mul(update, update)));
    const bothPositive = tf.logicalAnd(tf.greater(wNorm, 0), tf.greater(uNorm, 0));
    const safeU = tf.where(bothPositive, uNorm, tf.onesLike(uNorm));
    return tf.where(bothPositive, tf.div(wNorm, safeU), tf.onesLike(wNorm)) as tf.Scalar;
  });
}

/**
 * torch.optim.SGD: d = g + wd·p (coupled L2); buf = d on the first step, else buf·μ + (1−dampening)·d;
 * d = d + μ·buf with Nesterov, else buf; p ← p − lr·d. With momentum 0 there is no buffer: d is used as is.
 */
function sgdRule(momentum: number, dampening: number, nesterov: boolean): UpdateRule {
  return (param, grad, state, lr) => {
    let d = param.weightDecay !== 0 ? tf.add(grad, tf.mul(param.variable, param.weightDecay)) : grad;
    if (momentum !== 0) {
      const bufVar = slot(state, "momentum_buffer");
      const buf = state.updates === 1
        ? tf.clone(d)
        : tf.add(tf.mul(bufVar, momentum), tf.mul(d, 1 - dampening));
      bufVar.assign(buf);
      d = nesterov ? tf.add(d, tf.mul(buf, momentum)) : buf;
    }
    param.variable.assign(tf.sub(param.variable, tf.mul(d, lr)));
  };
}

function fusedRuleFor(spec: OptimizerSpec): FusedRule {
  if (spec.name === "sgd") return fusedSgd(spec.momentum, spec.dampening ?? 0, spec.nesterov);
  return spec.name === "adamw"
    ? fusedAdamw(spec.beta1, spec.beta2, spec.epsilon)
    : fusedLamb(spec.beta1, spec.beta2, spec.epsilon);
}

// The fused loops keep each element's new moments in locals (float64) instead of re-reading the stored
// float32 values, and multiply by precomputed reciprocals: within an ulp or two of torch's float32 ops.

function fusedAdamw(beta1: number, beta2: number, epsilon: number): FusedRule {
  return (w, out, g, gs, [m, v], param, state, lr) => {
    const t = state.updates;
    const stepSize = lr / (1 - beta1 ** t);
    const invSqrtBias2 = 1 / Math.sqrt(1 - beta2 ** t);
    const decay = 1 - lr * param.weightDecay;
    const c1 = 1 - beta1;
    const c2 = 1 - beta2;
    const n = w.length;
    for (let i = 0; i < n; i++) {
      const gi = g[i] * gs;
      const mi = m[i] * beta1 + gi * c1;
      const vi = v[i] * beta2 + gi * gi * c2;
      m[i] = mi;
      v[i] = vi;
      out[i] = w[i] * decay - stepSize * mi / (Math.sqrt(vi) * invSqrtBias2 + epsilon);
    }
  };
}

function fusedLamb(beta1: number, beta2: number, epsilon: number): FusedRule {
  return (w, out, g, gs, [m, v], param, state, lr) => {
    const t = state.updates;
    const invBias1 = 1 / (1 - beta1 ** t);
    const invBias2 = 1 / (1 - beta2 ** t);
    const wd = param.weightDecay;
    const c1 = 1 - beta1;
    const c2 = 1 - beta2;
    const n = w.length;
    let wSq = 0;
    let uSq = 0;
    for (let i = 0; i < n; i++) { // pass 1: moments and the two norms
      const gi = g[i] * gs;
      const wi = w[i];
      const mi = m[i] * beta1 + gi * c1;
      const vi = v[i] * beta2 + gi * gi * c2;
      m[i] = mi;
      v[i] = vi;
      const u = mi * invBias1 / (Math.sqrt(vi * invBias2) + epsilon) + wd * wi;
      wSq += wi * wi;
      uSq += u * u;
    }
    const trust = wSq > 0 && uSq > 0 ? Math.sqrt(wSq) / Math.sqrt(uSq) : 1;
    const scale = lr * trust;
    for (let i = 0; i < n; i++) { // pass 2: recompute the update from the stored moments and apply it
      const wi = w[i];
      out[i] = wi - scale * (m[i] * invBias1 / (Math.sqrt(v[i] * invBias2) + epsilon) + wd * wi);
    }
  };
}

function fusedSgd(momentum: number, dampening: number, nesterov: boolean): FusedRule {
  return (w, out, g, gs, slots, param, state, lr) => {
    const wd = param.weightDecay;
    const n = w.length;
    if (momentum === 0) {
      for (let i = 0; i < n; i++) out[i] = w[i] - lr * (g[i] * gs + wd * w[i]);
      return;
    }
    const buf = slots[0];
    const keep = state.updates === 1 ? 0 : momentum; // torch: the first buffer is d itself
    const take = state.updates === 1 ? 1 : 1 - dampening;
    for (let i = 0; i < n; i++) {
      const wi = w[i];
      const d = g[i] * gs + wd * wi;
      const b = buf[i] * keep + take * d;
      buf[i] = b;
      out[i] = wi - lr * (nesterov ? d + momentum * b : b);
    }
  };
}

/** Minimal view of the wasm/cpu backends' storage (not part of tfjs's public types). */
interface StorageBackend {
  typedArrayFromHeap?: (t: tf.TensorInfo) => Float32Array;
  makeOutput?: (shape: number[], dtype: "float32") => tf.TensorInfo;
  data?: { get(id: object): { values?: unknown } | undefined };
  refCount(dataId: object): number;
}

/**
 * Views for a fused update: weights and grad (read), unshared slots (updated in place) and a fresh output
 * tensor; null on other backends/dtypes. Taken after the allocation (wasm heap growth replaces the buffer).
 */
function storageViews(weights: tf.Variable, grad: tf.Tensor, slots: tf.Variable[]) {
  const name = tf.getBackend();
  if (name !== "wasm" && name !== "cpu") return null;
  const backend = tf.backend() as unknown as StorageBackend;
  if (weights.dtype !== "float32" || grad.dtype !== "float32") return null;
  if (slots.some((t) => t.dtype !== "float32" || backend.refCount(t.dataId) !== 1)) return null;
  const outTensor = name === "wasm"
    ? tf.engine().makeTensorFromTensorInfo(backend.makeOutput!([...weights.shape], "float32"))
    : tf.tensor(new Float32Array(weights.size), weights.shape, "float32");
  const view = (t: tf.Tensor): Float32Array | null => {
    if (name === "wasm") return backend.typedArrayFromHeap!(t);
    const values = backend.data?.get(t.dataId)?.values;
    return values instanceof Float32Array && values.length === t.size ? values : null;
  };
  const all = [weights, outTensor, grad, ...slots].map(view);
  if (all.some((a) => a === null)) {
    outTensor.dispose();
    return null;
  }
  const [w, out, g, ...s] = all as Float32Array[];
  return { weights: w, out, grad: g, slots: s, outTensor };
}

function slot(state: ParamState, name: string): tf.Variable {
  return state.slots.get(name)!; // every rule only asks for the slots slotNamesFor gave it
}

const sameShape = (a: number[], b: number[]) => tf.util.arraysEqual(a, b);
