/**
 * The seeded PRNG (shared/core/random.ts): same seed → same stream, different seeds and fork labels →
 * different streams, state round-trips for resume, and the derived draws (ints, permutations, normals,
 * fills) have their stated ranges and roughly their stated moments.
 */
import assert from "node:assert/strict";
import { createRng, shuffledIndices } from "../../shared/core/random.ts";

const draw = (seed: number, n: number) => {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng.nextUint32());
};

Deno.test("same seed gives the same stream; other seeds give other streams", () => {
  assert.deepEqual(draw(42, 100), draw(42, 100));
  assert.notDeepEqual(draw(42, 100), draw(43, 100));
  assert.deepEqual(draw(2 ** 32 + 5, 4), draw(5, 4), "seeds are taken modulo 2^32");
  assert.notDeepEqual(draw(0, 4), draw(1, 4));
  assert.equal(new Set(draw(7, 1000)).size, 1000, "no repeats in a short run of 32-bit outputs");
  assert.throws(() => createRng(1.5), /integer/);
  assert.deepEqual(shuffledIndices(100, 42), shuffledIndices(100, 42));
  assert.notDeepEqual(shuffledIndices(100, 42), shuffledIndices(100, 43));
});

Deno.test("fork: deterministic per label, independent of siblings and of how far the parent ran", () => {
  const a = createRng(42);
  const b = createRng(42);
  b.nextUint32();
  const shuffleA = a.fork("shuffle");
  const shuffleB = b.fork("shuffle");
  assert.deepEqual([shuffleA.nextUint32(), shuffleA.nextUint32()], [
    shuffleB.nextUint32(),
    shuffleB.nextUint32(),
  ]);
  assert.notEqual(a.fork("shuffle").nextUint32(), a.fork("dropout").nextUint32());
  assert.deepEqual(draw(42, 3), [a.nextUint32(), a.nextUint32(), a.nextUint32()], "forking does not advance");
});

Deno.test("saveState/loadState resumes the exact stream, including a pending normal", () => {
  const rng = createRng(9);
  rng.normal();
  const saved = rng.saveState();
  const next = [rng.normal(), rng.next(), rng.nextInt(10), rng.fork("x").nextUint32()];
  const resumed = createRng(1);
  resumed.loadState(saved);
  assert.deepEqual(
    [resumed.normal(), resumed.next(), resumed.nextInt(10), resumed.fork("x").nextUint32()],
    next,
  );
});

Deno.test("derived draws: ranges, permutations and moments", () => {
  const rng = createRng(123);
  const n = 20000;
  const counts = new Array(7).fill(0);
  for (let i = 0; i < n; i++) counts[rng.nextInt(7)]++;
  for (const c of counts) assert.ok(Math.abs(c / n - 1 / 7) < 0.015, `bucket share ${c / n}`);
  const uniform = rng.fillUniform(new Float32Array(n), -2, 2);
  assert.ok(uniform.every((u: number) => u >= -2 && u < 2));
  const normals = rng.fillNormal(new Float32Array(n), 1, 0.5);
  const mean = normals.reduce((s: number, v: number) => s + v, 0) / n;
  const variance = normals.reduce((s: number, v: number) => s + (v - mean) ** 2, 0) / n;
  assert.ok(Math.abs(mean - 1) < 0.02 && Math.abs(Math.sqrt(variance) - 0.5) < 0.02, `${mean} ${variance}`);
  const perm = rng.permutation(50);
  assert.deepEqual([...perm].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.notDeepEqual(perm, Array.from({ length: 50 }, (_, i) => i));
  const seed = rng.nextSeed();
  assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 31);
  assert.throws(() => rng.nextInt(0), /bound/);
});
