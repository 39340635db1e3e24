/**
 * Seeded randomness for everything that must repeat exactly for the same seed: shuffling training examples,
 * splitting a held-out set, initialising weights, dropout seeds. `createRng(seed)` is xoshiro128** seeded
 * through splitmix32 (seed taken modulo 2^32); `fork(label)` gives an independent stream that depends only on
 * (seed, label), never on how far the parent has run; the whole state, including a cached second Box–Muller
 * normal, round-trips through saveState/loadState for resumed jobs. Plain JavaScript: the same numbers on
 * every backend and machine.
 */

export interface RngState {
  seed: number;
  state: [number, number, number, number];
  pendingNormal: number | null;
}

export interface Rng {
  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, bound), without modulo bias. */
  nextInt(bound: number): number;
  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number;
  fillUniform(out: Float32Array, low: number, high: number): Float32Array;
  fillNormal(out: Float32Array, mean: number, std: number): Float32Array;
  /** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): number[];
  /** A seed for another generator or a tfjs op, in [0, 2^31). */
  nextSeed(): number;
  /** An independent generator determined by (this generator's seed, label) only. */
  fork(label: string): Rng;
  saveState(): RngState;
  loadState(state: RngState): void;
}

const TWO_POW_32 = 4294967296;

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a of a label mixed with a seed: the seed of fork(label). */
function forkSeed(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return splitmix32(h >>> 0)();
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

export function createRng(seed: number): Rng {
  if (!Number.isInteger(seed)) throw new Error(`createRng: seed must be an integer, got ${seed}`);
  const seed32 = Number(BigInt.asUintN(32, BigInt(seed)));
  const init = splitmix32(seed32);
  let s: [number, number, number, number] = [init(), init(), init(), init()];
  let pendingNormal: number | null = null;

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] = (s[2] ^ s[0]) >>> 0;
    s[3] = (s[3] ^ s[1]) >>> 0;
    s[1] = (s[1] ^ s[2]) >>> 0;
    s[0] = (s[0] ^ s[3]) >>> 0;
    s[2] = (s[2] ^ t) >>> 0;
    s[3] = rotl(s[3], 11);
    return result;
  };
  const next = () => nextUint32() / TWO_POW_32;
  const nextInt = (bound: number): number => {
    if (!Number.isInteger(bound) || bound < 1 || bound > TWO_POW_32) {
      throw new Error(`nextInt: bound must be an integer in [1, 2^32], got ${bound}`);
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % bound);
    let x = nextUint32();
    while (x >= limit) x = nextUint32();
    return x % bound;
  };
  const normal = (): number => {
    if (pendingNormal !== null) {
      const value = pendingNormal;
      pendingNormal = null;
      return value;
    }
    const u1 = 1 - next(); // (0, 1]: log is finite
    const u2 = next();
    const radius = Math.sqrt(-2 * Math.log(u1));
    pendingNormal = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  };

  const rng: Rng = {
    nextUint32,
    next,
    nextInt,
    normal,
    fillUniform(out, low, high) {
      for (let i = 0; i < out.length; i++) {
        const value = Math.fround(low + (high - low) * ((nextUint32() >>> 8) / 16777216));
        out[i] = value < high ? value : low; // float32 rounding must not reach the open end
      }
      return out;
    },
    fillNormal(out, mean, std) {
      for (let i = 0; i < out.length; i++) out[i] = mean + std * normal();
      return out;
    },
    permutation(n) {
      const order = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = nextInt(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      return order;
    },
    nextSeed: () => nextUint32() >>> 1,
    fork: (label) => createRng(forkSeed(seed32, label)),
    saveState: () => ({ seed: seed32, state: [...s], pendingNormal }),
    loadState(state) {
      s = [...state.state];
      pendingNormal = state.pendingNormal;
      rng.fork = (label) => createRng(forkSeed(state.seed >>> 0, label));
    },
  };
  return rng;
}

/** mulberry32: a tiny seedable 32-bit PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_POW_32;
  };
}

/** Fisher–Yates permutation of 0..n-1 drawn from `random`. */
export function seededPermutation(n: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** A permutation of 0..n-1 that depends only on (n, seed) (the held-out split of runner/job_inputs.ts). */
export function shuffledIndices(n: number, seed: number): number[] {
  return seededPermutation(n, mulberry32(seed));
}
