/**
 * generate() on hand-made models (tests/core/generate_fake_models.ts) whose next-token probabilities are a
 * table, so results are computed by hand: greedy vs beam search (HF BeamSearchScorer semantics) and the
 * effect of length_penalty, EOS / length / stop endings, maxPositions, streaming, option errors, the
 * encoder-decoder path (source encoded once, decoder start token), and yielding to the event loop.
 */
import assert from "node:assert/strict";
import { generate } from "../../shared/core/generate/generate.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { fakeCausalModel, fakeSeq2SeqModel, type Table } from "./generate_fake_models.ts";

const [EOS, A, B] = [0, 1, 2];

/** Probabilities of [EOS, A, B] after the generated tokens. */
const TABLE: Record<string, number[]> = {
  "": [0.1, 0.5, 0.4],
  "1": [0.4, 0.3, 0.3],
  "2": [0.6, 0.2, 0.2],
  "1,1": [0.5, 0.25, 0.25],
  "1,2": [0.4, 0.3, 0.3],
};
const table: Table = (generated) => TABLE[generated.join(",")] ?? [0.6, 0.2, 0.2];
const logP = (generated: number[], token: number) => Math.log(table(generated)[token]);
const sumLogP = (tokens: number[]) => tokens.reduce((sum, t, i) => sum + logP(tokens.slice(0, i), t), 0);

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-5, `${what}: ${actual} vs ${expected}`);

Deno.test("greedy takes A then EOS; beam search finds the likelier [B, EOS]", async () => {
  const model = fakeCausalModel(3, 1, table);
  const greedy = await generate(model, [A], { maxNewTokens: 3 });
  assert.deepEqual(greedy.sequences.map((s) => s.tokens), [[A]]);
  assert.equal(greedy.finishReason, "eos");
  close(greedy.sequences[0].score, sumLogP([A, EOS]), "greedy score");
  const beam = await generate(model, [A], { maxNewTokens: 3, numBeams: 2, numReturnSequences: 2 });
  assert.deepEqual(beam.sequences.map((s) => s.tokens), [[B], [A]]);
  assert.deepEqual(beam.sequences.map((s) => s.finishReason), ["eos", "eos"]);
  // length_penalty 1: sum of log-probs (EOS included) / generated length.
  close(beam.sequences[0].score, sumLogP([B, EOS]) / 2, "beam [B]");
  close(beam.sequences[1].score, sumLogP([A, EOS]) / 2, "beam [A]");
  const best = await generate(model, [A], { maxNewTokens: 3, numBeams: 2 });
  assert.deepEqual(best.sequences.map((s) => s.tokens), [[B]]);
});

Deno.test("a larger length_penalty favours the longer hypotheses", async () => {
  const model = fakeCausalModel(3, 1, table);
  const result = await generate(model, [A], {
    maxNewTokens: 3,
    numBeams: 2,
    numReturnSequences: 2,
    lengthPenalty: 2,
  });
  assert.deepEqual(result.sequences.map((s) => s.tokens), [[A, A], [A, B]]);
  close(result.sequences[0].score, sumLogP([A, A, EOS]) / 9, "[A, A]");
  close(result.sequences[1].score, sumLogP([A, B, EOS]) / 9, "[A, B]");
});

Deno.test("beam search without EOS ends at maxNewTokens with the live beams", async () => {
  const model = fakeCausalModel(3, 1, table);
  const result = await generate(model, [A], { maxNewTokens: 2, numBeams: 2, eosTokenId: null });
  assert.equal(result.finishReason, "length");
  assert.equal(result.sequences[0].tokens.length, 2);
  // Token 0 is an ordinary token now: the best two-token path is B (0.4) then 0 (0.6), not A then A/B.
  assert.deepEqual(result.sequences.map((s) => s.tokens), [[B, 0]]);
  close(result.sequences[0].score, sumLogP([B, 0]) / 2, "score");
});

Deno.test("length and stop endings; stop sees the generated tokens; onToken streams them", async () => {
  const uniformish: Table = (g) => (g.length % 2 === 0 ? [0.01, 0.7, 0.29] : [0.01, 0.29, 0.7]);
  const model = fakeCausalModel(3, 2, uniformish);
  const streamed: number[] = [];
  const long = await generate(model, [A, B], { maxNewTokens: 5 }, (id) => {
    streamed.push(id);
  });
  assert.deepEqual(long.sequences[0].tokens, [A, B, A, B, A]);
  assert.deepEqual(streamed, long.sequences[0].tokens);
  assert.equal(long.finishReason, "length");
  const seen: number[][] = [];
  const stopped = await generate(model, [A, B], {
    maxNewTokens: 10,
    stop: (generated) => {
      seen.push([...generated]);
      return generated.filter((t) => t === B).length === 2;
    },
  });
  assert.deepEqual(stopped.sequences[0].tokens, [A, B, A, B]);
  assert.equal(stopped.finishReason, "stop");
  assert.deepEqual(seen, [[A], [A, B], [A, B, A], [A, B, A, B]]);
  // Beam search: stop when every live beam satisfies it; the best sequence is emitted at the end.
  const emitted: number[] = [];
  const beams = await generate(
    model,
    [A, B],
    { maxNewTokens: 10, numBeams: 2, stop: (g) => g.length >= 3 },
    (id) => void emitted.push(id),
  );
  assert.equal(beams.finishReason, "stop");
  assert.equal(beams.sequences[0].tokens.length, 3);
  assert.deepEqual(emitted, beams.sequences[0].tokens);
});

Deno.test("the cache is used (one token per step) and useCache false refeeds the prefix", async () => {
  const model = fakeCausalModel(3, 2, table);
  await generate(model, [A, B], { maxNewTokens: 3, eosTokenId: null });
  assert.deepEqual(model.steps.map((s) => [s.fed, s.cached]), [[2, 0], [1, 2], [1, 3]]);
  model.steps.length = 0;
  await generate(model, [A, B], { maxNewTokens: 3, eosTokenId: null, useCache: false });
  assert.deepEqual(model.steps.map((s) => [s.fed, s.cached]), [[2, 0], [3, 0], [4, 0]]);
});

Deno.test("maxPositions caps new tokens; a prompt that fills it is a 400", async () => {
  const model = fakeCausalModel(3, 3, table, 5);
  const result = await generate(model, [A, A, A], { maxNewTokens: 10, eosTokenId: null });
  assert.equal(result.sequences[0].tokens.length, 2);
  assert.equal(result.finishReason, "length");
  await assert.rejects(
    generate(model, [A, A, A, A, A], { maxNewTokens: 1 }),
    (e) => e instanceof ApiError && e.status === 400,
  );
});

Deno.test("bad options and token ids are 400s", async () => {
  const model = fakeCausalModel(3, 1, table);
  const bad = [
    { maxNewTokens: 0 },
    { maxNewTokens: 2, numBeams: 2, numReturnSequences: 3 },
    { maxNewTokens: 2, numBeams: 2, doSample: true },
    { maxNewTokens: 2, doSample: true, temperature: 0 },
    { maxNewTokens: 2, doSample: true, topP: 0 },
    { maxNewTokens: 2, numReturnSequences: 2 },
    { maxNewTokens: 2, eosTokenId: 7 },
  ];
  for (const options of bad) {
    await assert.rejects(generate(model, [A], options), (e) => e instanceof ApiError && e.status === 400);
  }
  await assert.rejects(
    generate(model, [9], { maxNewTokens: 1 }),
    (e) => e instanceof ApiError && e.status === 400,
  );
  await assert.rejects(
    generate(model, [], { maxNewTokens: 1 }),
    (e) => e instanceof ApiError && e.status === 400,
  );
});

Deno.test("encoder-decoder: the source is encoded once, decoding starts from the start token", async () => {
  // Copies the source: the next token is source[generated.length], then EOS.
  const copy: Table = (generated, source) => {
    const want = source![generated.length] ?? EOS;
    return [0, 1, 2, 3].map((t) => (t === want ? 0.9 : 0.1 / 3));
  };
  const model = fakeSeq2SeqModel(4, 3, copy);
  const greedy = await generate(model, [A, B, B, A], { maxNewTokens: 10 });
  assert.deepEqual(greedy.sequences[0].tokens, [A, B, B, A]);
  assert.equal(greedy.finishReason, "eos");
  const beam = await generate(model, [B, A], { maxNewTokens: 10, numBeams: 3, useCache: false });
  assert.deepEqual(beam.sequences[0].tokens, [B, A]);
  assert.deepEqual(model.encoded, [[[A, B, B, A]], [[B, A]]]);
  assert.ok(model.states.every((s) => s.disposed), "every encoder state is disposed");
});

Deno.test("generation yields to the event loop between slow steps, not after every fast one", async () => {
  const busy = (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end) { /* a step that keeps the CPU */ }
  };
  const slow = fakeCausalModel(3, 1, () => (busy(10), [0.01, 0.5, 0.49]));
  let timerFired = false;
  setTimeout(() => (timerFired = true), 0);
  const firedAt: boolean[] = [];
  await generate(slow, [A], { maxNewTokens: 4 }, () => void firedAt.push(timerFired));
  assert.deepEqual(firedAt, [false, true, true, true]);

  // Fast steps (well under the 8 ms yield interval) run back to back: a self-rearming timer gets at most the
  // first turn (the last yield is long past) while 20 tokens are generated.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const fast = fakeCausalModel(3, 1, () => [0.01, 0.5, 0.49]);
  let turns = 0;
  let stop = false;
  const tick = () => {
    turns++;
    if (!stop) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  await generate(fast, [A], { maxNewTokens: 20 });
  stop = true;
  assert.ok(turns <= 2, `the event loop turned ${turns} times during 20 fast steps`);
});
