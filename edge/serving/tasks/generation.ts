/**
 * Serving for generative models, in the Hugging Face pipeline shapes: text-generation (causal-lm models:
 * `[{generated_text}]` per input, the prompt included unless `return_full_text` is false) and translation
 * (encoder-decoders: `[{translation_text}]`, one list per input when num_return_sequences > 1; the source is
 * encoded after the `source_prefix` the model was fine-tuned with). Parameters follow transformers'
 * generate(): max_new_tokens, num_beams, length_penalty, early_stopping, do_sample, temperature, top_k, top_p,
 * seed, num_return_sequences, plus `stop` strings (generation ends when the text ends with one; it is cut
 * off) and `use_cache` (false recomputes the whole prefix per token: same tokens, slower). `stream: true` (one
 * input)
 * answers server-sent events in TGI's generate_stream shape: one `{token:{id,text,special}, generated_text:
 * null}` per token, then a last event with `generated_text` and `details`. At most MAX_ACTIVE generations run
 * at once per edge (they interleave token by token); more answer 429 with Retry-After.
 */
import { z } from "zod";
import { generate, type GenerationOptions } from "../../../shared/core/generate/generate.ts";
import { languageCodeId } from "../../../shared/core/train/seq2seq_data.ts";
import { ApiError } from "../../../shared/schemas/errors.ts";
import type { ModelRecord } from "../../../shared/schemas/resources.ts";
import { sseResponse } from "../../sse.ts";
import { generatorOf, type ServedGenerator } from "../model_cache.ts";
import { MAX_PREDICT_INPUTS, type ServeContext, type ServingTask } from "./types.ts";

/** Generations running at once on one edge. */
export const MAX_ACTIVE_GENERATIONS = 8;
let active = 0;

function generationRequest(maxFieldChars: number) {
  const text = z.string().min(1).max(maxFieldChars, `each input must be at most ${maxFieldChars} characters`);
  return z.object({
    inputs: z.union([text, z.array(text).min(1).max(MAX_PREDICT_INPUTS)]),
    stream: z.boolean().optional(),
    parameters: z.object({
      max_new_tokens: z.number().int().min(1).max(2048).optional(),
      num_beams: z.number().int().min(1).max(16).optional(),
      length_penalty: z.number().min(-10).max(10).optional(),
      early_stopping: z.boolean().optional(),
      do_sample: z.boolean().optional(),
      temperature: z.number().gt(0).max(100).optional(),
      top_k: z.number().int().min(0).max(100_000).optional(),
      top_p: z.number().gt(0).max(1).optional(),
      seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
      num_return_sequences: z.number().int().min(1).max(16).optional(),
      stop: z.array(z.string().min(1).max(200)).max(8).optional(),
      return_full_text: z.boolean().optional(),
      use_cache: z.boolean().optional(),
      /** Translation with language code tokens (mBART-50): defaults are the job's source/target_lang. */
      src_lang: z.string().min(1).max(32).optional(),
      tgt_lang: z.string().min(1).max(32).optional(),
    }).strict().optional(),
  }).strict().superRefine((body, ctx) => {
    const p = body.parameters ?? {};
    if (body.stream && Array.isArray(body.inputs) && body.inputs.length > 1) {
      ctx.addIssue({ code: "custom", path: ["stream"], message: "streaming takes a single input" });
    }
    if (body.stream && (p.num_beams ?? 1) > 1) {
      ctx.addIssue({ code: "custom", path: ["stream"], message: "streaming does not support beam search" });
    }
    const returned = p.num_return_sequences ?? 1;
    if (returned > 1 && !p.do_sample && returned > (p.num_beams ?? 1)) {
      ctx.addIssue({
        code: "custom",
        path: ["parameters", "num_return_sequences"],
        message: "without do_sample, num_return_sequences must be at most num_beams",
      });
    }
  });
}
export type GenerationBody = z.infer<ReturnType<typeof generationRequest>>;

const inputsOf = (body: GenerationBody) => Array.isArray(body.inputs) ? body.inputs : [body.inputs];

/**
 * The text of generated tokens as the HF pipelines give it: for a causal LM the decoded prompt + generation
 * minus the decoded prompt (so a WordPiece continuation keeps the space before its first word), for an
 * encoder-decoder the decoded generation.
 */
function continuationOf(served: ServedGenerator, promptIds: number[]): (generated: number[]) => string {
  // An empty generation (EOS first) is "": the HF tokenizer's decode refuses an empty id list.
  const decode = (ids: number[]) =>
    ids.length === 0 ? "" : served.tokenizer.decode(ids, { skipSpecialTokens: true });
  if (served.model.kind === "seq2seq") return decode;
  const prefix = decode(promptIds);
  return (generated) => {
    const full = decode([...promptIds, ...generated]);
    return full.startsWith(prefix) ? full.slice(prefix.length) : decode(generated);
  };
}

function optionsOf(body: GenerationBody, stopStrings: string[], textOf: (generated: number[]) => string) {
  const p = body.parameters ?? {};
  const options: GenerationOptions = {
    maxNewTokens: p.max_new_tokens ?? 50,
    numBeams: p.num_beams ?? 1,
    lengthPenalty: p.length_penalty ?? 1,
    earlyStopping: p.early_stopping ?? false,
    doSample: p.do_sample ?? false,
    temperature: p.temperature ?? 1,
    topK: p.top_k ?? 50, // transformers' generate() default
    topP: p.top_p ?? 1,
    seed: p.seed,
    numReturnSequences: p.num_return_sequences ?? 1,
    useCache: p.use_cache ?? true,
    stop: stopStrings.length === 0 ? undefined : (generated: number[]) => {
      const text = textOf(generated);
      return stopStrings.some((s) => text.endsWith(s));
    },
  };
  return options;
}

/** The text with the first stop string (and what follows) cut off. */
function cutAtStop(text: string, stops: string[]): string {
  let end = text.length;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at >= 0) end = Math.min(end, at);
  }
  return text.slice(0, end);
}

function acquire(): () => void {
  if (active >= MAX_ACTIVE_GENERATIONS) {
    throw new ApiError(429, "rate_limited", `${active} generations are running; retry later`, {
      retry_after_seconds: 1,
    });
  }
  active++;
  let released = false;
  return () => {
    if (!released) active--;
    released = true;
  };
}

/** A language code of the request (`parameters.<param>`) or the model's task option, as a token id. */
function languageId(
  served: ServedGenerator,
  model: ModelRecord,
  body: GenerationBody,
  param: "src_lang" | "tgt_lang",
  option: "source_lang" | "target_lang",
): number | null {
  const stored = model.task_options?.[option];
  const code = body.parameters?.[param] ?? (typeof stored === "string" ? stored : undefined);
  return languageCodeId(served.tokenizer, code, `parameters.${param}`);
}

/**
 * Token ids of the model's input for one text: the prompt for causal LMs; for encoder-decoders the source
 * language code (if any), the source after the `source_prefix` the model was fine-tuned with, and EOS.
 */
function inputIds(served: ServedGenerator, model: ModelRecord, body: GenerationBody, text: string): number[] {
  const prefix = typeof model.task_options?.source_prefix === "string"
    ? model.task_options.source_prefix
    : "";
  const sourceLang = served.model.kind === "seq2seq"
    ? languageId(served, model, body, "src_lang", "source_lang")
    : null;
  const ids = served.model.kind === "seq2seq"
    ? [
      ...(sourceLang === null ? [] : [sourceLang]),
      ...served.tokenizer.encode(prefix + text, { addEos: true }),
    ]
    : served.tokenizer.encode(text);
  if (ids.length === 0) throw new ApiError(400, "invalid_request", "an input encodes to no tokens");
  if (served.model.kind === "causal" && ids.length >= served.model.maxPositions) {
    throw new ApiError(
      400,
      "invalid_request",
      `the prompt has ${ids.length} tokens; the model's maximum is ${served.model.maxPositions}`,
    );
  }
  return ids;
}

/** The forced first token of a translation into a language code's language (none for causal LMs). */
function forcedTarget(served: ServedGenerator, model: ModelRecord, body: GenerationBody) {
  if (served.model.kind !== "seq2seq") return {};
  const id = languageId(served, model, body, "tgt_lang", "target_lang");
  return id === null ? {} : { forcedBosTokenId: id };
}

function serveGeneration(kind: "causal-lm" | "translation"): ServingTask<GenerationBody> {
  const outputKey = kind === "translation" ? "translation_text" : "generated_text";
  return {
    schema: generationRequest,
    inputCount: (body) => inputsOf(body).length,
    async serve(ctx: ServeContext<GenerationBody>) {
      const { c, serving, model, body } = ctx;
      ctx.arrival?.release();
      let release: () => void;
      try {
        release = acquire();
      } catch (error) {
        c.header("Retry-After", "1");
        throw error;
      }
      c.header("x-edgetune-model", model.id);
      const stops = body.parameters?.stop ?? [];
      const fullText = kind === "causal-lm" && (body.parameters?.return_full_text ?? true);
      if (body.stream) return await streamOne(serving, model, body, stops, fullText, outputKey, release);
      try {
        const answers = await serving.cache.use(model, async (loaded) => {
          const served = generatorOf(loaded);
          const out = [];
          for (const text of inputsOf(body)) {
            const ids = inputIds(served, model, body, text);
            const textOf = continuationOf(served, ids);
            const result = await generate(served.model, ids, {
              ...optionsOf(body, stops, textOf),
              ...forcedTarget(served, model, body),
            });
            out.push(result.sequences.map((sequence) => {
              const generated = cutAtStop(textOf(sequence.tokens), stops);
              return { [outputKey]: fullText ? text + generated : generated };
            }));
          }
          return out;
        });
        c.header("x-total-time", (performance.now() - ctx.started).toFixed(2));
        if (!Array.isArray(body.inputs)) return c.json(answers[0]);
        // HF's translation pipeline answers one object per input when each input has one translation.
        if (kind === "translation" && answers.every((a) => a.length === 1)) {
          return c.json(answers.map((a) => a[0]));
        }
        return c.json(answers);
      } finally {
        release();
      }
    },
  };
}

async function streamOne(
  serving: ServeContext<GenerationBody>["serving"],
  model: ModelRecord,
  body: GenerationBody,
  stops: string[],
  fullText: boolean,
  outputKey: string,
  release: () => void,
): Promise<Response> {
  const text = inputsOf(body)[0];
  // A prompt the model cannot take is a 400 answer, not an error event inside a 200 stream.
  let promptIds: number[];
  try {
    promptIds = await serving.cache.use(
      model,
      (loaded) => {
        forcedTarget(generatorOf(loaded), model, body); // an unknown tgt_lang is a 400 here too
        return Promise.resolve(inputIds(generatorOf(loaded), model, body, text));
      },
    );
  } catch (error) {
    release();
    throw error;
  }
  return sseResponse(async (send, signal) => {
    try {
      await serving.cache.use(model, async (loaded) => {
        const served = generatorOf(loaded);
        const textOf = continuationOf(served, promptIds);
        const options = { ...optionsOf(body, stops, textOf), ...forcedTarget(served, model, body) };
        const userStop = options.stop;
        options.stop = (generated) => signal.aborted || (userStop?.(generated) ?? false);
        const tokens: number[] = [];
        let sent = "";
        const result = await generate(served.model, promptIds, options, (id) => {
          tokens.push(id);
          const decoded = textOf(tokens);
          // Hold back text that ends inside a multi-byte character until it is complete.
          const piece = decoded.endsWith("\uFFFD") ? "" : decoded.slice(sent.length);
          if (!decoded.endsWith("\uFFFD")) sent = decoded;
          const special = id === served.model.eosTokenId;
          send({ data: { token: { id, text: piece, special }, generated_text: null, details: null } });
        });
        const sequence = result.sequences[0];
        const generated = cutAtStop(textOf(sequence.tokens), stops);
        send({
          event: "done",
          data: {
            token: null,
            [outputKey]: fullText ? text + generated : generated,
            generated_text: fullText ? text + generated : generated,
            details: { finish_reason: result.finishReason, generated_tokens: sequence.tokens.length },
          },
        });
      });
    } catch (error) {
      const apiError = error instanceof ApiError ? error : null;
      send({
        event: "error",
        data: { error: { code: apiError?.code ?? "internal_error", message: (error as Error).message } },
      });
    } finally {
      release();
    }
  });
}

export const textGenerationServing = serveGeneration("causal-lm");
export const translationServing = serveGeneration("translation");
