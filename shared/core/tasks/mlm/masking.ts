/**
 * BERT's masked-LM corruption, as transformers' DataCollatorForLanguageModeling does it: every real token
 * (attention mask 1) that is not a special token ([CLS], [SEP], [PAD], [UNK], [MASK]) is selected with
 * probability p (default 0.15); a selected token is replaced by [MASK] with probability 0.8, by a token drawn
 * uniformly from the whole vocabulary with probability 0.1 (0.5 of the remaining 0.2), and left unchanged
 * otherwise. The label of a selected position is its original id; every other label is MLM_IGNORE (-100), so
 * the loss counts selected positions only. All draws come from the given seeded Rng (plain JavaScript), so
 * the same ids and seed give the same corruption on every backend.
 */
import { ApiError } from "../../../schemas/errors.ts";
import type { Rng } from "../../random.ts";
import type { SpecialIds } from "../../tokenizer/text_tokenizer.ts";

/** The label of a position the loss ignores (PyTorch's CrossEntropyLoss ignore_index). */
export const MLM_IGNORE = -100;
export const DEFAULT_MLM_PROBABILITY = 0.15;
/** Of the selected tokens: share replaced by [MASK], and of the rest the share replaced by a random token. */
export const MASK_REPLACE_PROBABILITY = 0.8;
export const RANDOM_OF_REST_PROBABILITY = 0.5;

/** What the masking needs to know about a vocabulary. */
export interface MaskingVocabulary {
  maskId: number;
  /** Random replacements are drawn from [0, vocabSize). */
  vocabSize: number;
  /** Ids never selected. */
  specialIds: ReadonlySet<number>;
}

export interface MaskedTokens {
  /** Corrupted ids, same layout as the input. */
  inputIds: Int32Array;
  /** Original id at selected positions, MLM_IGNORE elsewhere. */
  labels: Int32Array;
  /** Number of selected positions. */
  selected: number;
}

/** The masking vocabulary of a BERT-style tokenizer; 400 when it has no [MASK] token. */
export function maskingVocabulary(
  tokenizer: { specialIds: SpecialIds; vocabSize: number },
): MaskingVocabulary {
  const { pad, unk, cls, sep, mask } = tokenizer.specialIds;
  if (mask < 0) {
    throw new ApiError(
      400,
      "invalid_file",
      "the base model's tokenizer has no [MASK] token (mask_token); masked-lm needs one",
    );
  }
  return { maskId: mask, vocabSize: tokenizer.vocabSize, specialIds: new Set([pad, unk, cls, sep, mask]) };
}

export function checkMlmProbability(probability: number): void {
  if (!(probability > 0 && probability < 1)) {
    throw new ApiError(400, "invalid_request", `mlm_probability must be in (0, 1), got ${probability}`);
  }
}

/**
 * Corrupts `ids` (any layout, e.g. a row-major [batch, seq] batch) where `attentionMask` is 1. Positions are
 * visited in order and each draws from `rng`, so the result depends only on (ids, mask, probability, rng).
 */
export function maskTokens(
  ids: Int32Array,
  attentionMask: Int32Array,
  vocabulary: MaskingVocabulary,
  probability: number,
  rng: Rng,
): MaskedTokens {
  checkMlmProbability(probability);
  if (attentionMask.length !== ids.length) {
    throw new Error(`maskTokens: ${ids.length} ids but ${attentionMask.length} mask entries`);
  }
  const inputIds = Int32Array.from(ids);
  const labels = new Int32Array(ids.length).fill(MLM_IGNORE);
  let selected = 0;
  for (let i = 0; i < ids.length; i++) {
    if (attentionMask[i] === 0 || vocabulary.specialIds.has(ids[i])) continue;
    if (rng.next() >= probability) continue;
    selected++;
    labels[i] = ids[i];
    if (rng.next() < MASK_REPLACE_PROBABILITY) inputIds[i] = vocabulary.maskId;
    else if (rng.next() < RANDOM_OF_REST_PROBABILITY) inputIds[i] = rng.nextInt(vocabulary.vocabSize);
  }
  return { inputIds, labels, selected };
}
