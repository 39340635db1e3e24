/**
 * The text → ids step for encoder models: wraps the pure-JS Hugging Face tokenizer (@huggingface/tokenizers)
 * and adds what it lacks — truncation that keeps the special tokens (longest-first for pairs), token type
 * ids, padding to a rectangle, and the special ids the model needs. Two input templates: "bert"
 * (`[CLS] A [SEP] B [SEP]`, token types 0…0 1…1; WordPiece vocabularies) and "roberta" (`<s> A </s></s> B
 * </s>`, token types all 0; byte-level BPE), chosen from tokenizer_config.json's tokenizer_class, the
 * tokenizer.json post-processor or the vocabulary's special tokens. It can be built from a tokenizer.json,
 * from a BERT vocab.txt, from RoBERTa's vocab.json + merges.txt, or learned from the training texts, and
 * always saves back to a tokenizer.json that HF's `tokenizers` loads. Truncation/padding settings inside a
 * given tokenizer.json are ignored.
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { ApiError } from "../../schemas/errors.ts";
import { bertTokenizerJson, parseVocabTxt } from "./bert_json.ts";
import { parseMergesTxt, parseVocabJson, robertaTokenizerJson } from "./bpe_json.ts";
import { trainWordPieceVocab, type WordPieceTrainingOptions } from "./wordpiece_trainer.ts";

export interface EncodedBatch {
  /** Row-major [batchSize, seqLength]. */
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array;
  batchSize: number;
  seqLength: number;
}

export interface EncodeOptions {
  /** Upper bound on the sequence length including [CLS]/[SEP]. */
  maxLength: number;
  /** Second segments (sentence pairs), one per text. */
  pairs?: string[];
  /** "longest" (default): pad to the longest row; "max_length": pad every row to maxLength. */
  padding?: "longest" | "max_length";
}

export interface SpecialIds {
  pad: number;
  unk: number;
  cls: number;
  sep: number;
  /** -1 when the vocabulary has no mask token. */
  mask: number;
}

type Json = Record<string, unknown>;

/** How special tokens frame one or two segments (see module comment). */
export type InputTemplate = "bert" | "roberta";

const DEFAULT_TOKENS: Record<InputTemplate, Record<"pad" | "unk" | "cls" | "sep" | "mask", string>> = {
  bert: { pad: "[PAD]", unk: "[UNK]", cls: "[CLS]", sep: "[SEP]", mask: "[MASK]" },
  roberta: { pad: "<pad>", unk: "<unk>", cls: "<s>", sep: "</s>", mask: "<mask>" },
};

/** The template a tokenizer.json + tokenizer_config.json pair implies. */
function detectTemplate(json: Json, config: Json, has: (token: string) => boolean): InputTemplate {
  const tokenizerClass = typeof config.tokenizer_class === "string" ? config.tokenizer_class : "";
  if (/^(Roberta|Bart|Longformer|XLMRoberta|GPT2)/.test(tokenizerClass)) return "roberta";
  if (/^(Bert|DistilBert|Electra)/.test(tokenizerClass)) return "bert";
  const post = (json.post_processor as Json | null | undefined)?.type;
  if (post === "RobertaProcessing") return "roberta";
  if (post === "BertProcessing") return "bert";
  return has("<s>") && has("</s>") && !has("[CLS]") ? "roberta" : "bert";
}

const invalidFile = (message: string, details?: unknown) =>
  new ApiError(400, "invalid_file", message, details);

/** The name of a special token from tokenizer_config.json (a string or an AddedToken object). */
function configToken(config: Json, key: string, fallback: string): string {
  const value = config[key];
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as Json).content === "string") {
    return (value as Json).content as string;
  }
  return fallback;
}

export class TextTokenizer {
  readonly vocabSize: number;
  readonly specialIds: SpecialIds;
  readonly template: InputTemplate;
  private readonly json: Json;
  private readonly config: Json;
  private readonly tokenizer: Tokenizer;

  private constructor(json: Json, config: Json) {
    this.json = { ...json, truncation: null, padding: null };
    this.config = config;
    try {
      this.tokenizer = new Tokenizer(this.json, config);
    } catch (error) {
      throw invalidFile(`tokenizer.json could not be loaded: ${(error as Error).message}`);
    }
    const vocab = this.tokenizer.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.template = detectTemplate(this.json, config, (t) => this.tokenizer.token_to_id(t) !== undefined);
    const defaults = DEFAULT_TOKENS[this.template];
    const id = (key: string, fallback: string, required: boolean) => {
      const token = configToken(config, key, fallback);
      const found = this.tokenizer.token_to_id(token);
      if (found === undefined && required) {
        throw invalidFile(
          `the tokenizer has no '${token}' token (${key}); a ${
            this.template === "bert" ? "BERT" : "RoBERTa"
          }-style ` +
            `vocabulary with ${Object.values(defaults).join(" ")} is required`,
        );
      }
      return found ?? -1;
    };
    // RoBERTa's byte-level BPE never produces its unknown token: a vocabulary without one is fine.
    const cls = id("cls_token", configToken(config, "bos_token", defaults.cls), true);
    const sep = id("sep_token", configToken(config, "eos_token", defaults.sep), true);
    this.specialIds = {
      pad: id("pad_token", defaults.pad, true),
      unk: this.template === "roberta"
        ? id("unk_token", defaults.unk, false)
        : id("unk_token", defaults.unk, true),
      cls,
      sep,
      mask: id("mask_token", defaults.mask, false),
    };
  }

  /** From a tokenizer.json (text or parsed) and optionally its tokenizer_config.json. */
  static fromTokenizerJson(json: string | object, config: object = {}): TextTokenizer {
    let parsed: unknown = json;
    if (typeof json === "string") {
      try {
        parsed = JSON.parse(json);
      } catch (error) {
        throw invalidFile(`tokenizer.json is not valid JSON: ${(error as Error).message}`);
      }
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed) || !("model" in parsed)) {
      throw invalidFile("tokenizer.json must be an object with a 'model' section");
    }
    return new TextTokenizer(parsed as Json, config as Json);
  }

  /** From a BERT vocab.txt (one token per line, id = line number). */
  static fromVocabTxt(vocab: string, opts: { lowercase: boolean }): TextTokenizer {
    const tokens = parseVocabTxt(vocab);
    if (tokens.size === 0) throw invalidFile("vocab.txt is empty");
    return new TextTokenizer(bertTokenizerJson(tokens, opts.lowercase), { do_lower_case: opts.lowercase });
  }

  /** From RoBERTa/GPT-2 vocab.json + merges.txt (a byte-level BPE with RoBERTa's template). */
  static fromVocabJsonAndMerges(vocabJson: string, mergesTxt: string, config: object = {}): TextTokenizer {
    const vocab = parseVocabJson(vocabJson);
    const merges = parseMergesTxt(mergesTxt, vocab);
    const addPrefixSpace = (config as Json).add_prefix_space === true;
    return new TextTokenizer(robertaTokenizerJson(vocab, merges, { addPrefixSpace }), {
      tokenizer_class: "RobertaTokenizer",
      ...config,
    });
  }

  /** A WordPiece tokenizer learned from `texts` (see wordpiece_trainer.ts). */
  static trainWordPiece(texts: Iterable<string>, opts: WordPieceTrainingOptions): TextTokenizer {
    const lowercase = opts.lowercase ?? true;
    const vocab = trainWordPieceVocab(texts, { ...opts, lowercase });
    return new TextTokenizer(bertTokenizerJson(vocab, lowercase), { do_lower_case: lowercase });
  }

  /** Whether the normalizer lowercases (for tokenizer_config.json's do_lower_case). */
  get lowercase(): boolean {
    const normalizer = this.json.normalizer as Json | null | undefined;
    if (normalizer?.type === "BertNormalizer") return normalizer.lowercase !== false;
    return this.config.do_lower_case === true;
  }

  /** Token ids of one text, without special tokens. */
  tokenize(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Token strings of ids (for debugging and tests). */
  idsToTokens(ids: number[]): string[] {
    return ids.map((id) => this.tokenizer.id_to_token(id) ?? "[UNK]");
  }

  /**
   * `[CLS] a [SEP]` / `[CLS] a [SEP] b [SEP]` (bert) or `<s> a </s>` / `<s> a </s></s> b </s>` (roberta),
   * truncated longest-first to maxLength.
   */
  buildInput(a: number[], b: number[] | null, maxLength: number): { ids: number[]; typeIds: number[] } {
    const roberta = this.template === "roberta";
    const specials = b === null ? 2 : roberta ? 4 : 3;
    if (maxLength < specials + 1) throw new Error(`maxLength ${maxLength} is too small`);
    let first = a;
    let second = b ?? [];
    const budget = maxLength - specials;
    if (first.length + second.length > budget) {
      let lenA = first.length;
      let lenB = second.length;
      while (lenA + lenB > budget) {
        if (lenA > lenB) lenA--;
        else lenB--;
      }
      first = first.slice(0, lenA);
      second = second.slice(0, lenB);
    }
    const { cls, sep } = this.specialIds;
    const ids = [cls, ...first, sep];
    const typeIds = ids.map(() => 0);
    if (b !== null && roberta) {
      ids.push(sep, ...second, sep);
      while (typeIds.length < ids.length) typeIds.push(0);
    } else if (b !== null) {
      ids.push(...second, sep);
      for (let i = 0; i <= second.length; i++) typeIds.push(1);
    }
    return { ids, typeIds };
  }

  encode(texts: string[], opts: EncodeOptions): EncodedBatch {
    if (opts.pairs && opts.pairs.length !== texts.length) {
      throw new ApiError(400, "invalid_request", `got ${texts.length} texts but ${opts.pairs.length} pairs`);
    }
    const rows = texts.map((text, i) =>
      this.buildInput(this.tokenize(text), opts.pairs ? this.tokenize(opts.pairs[i]) : null, opts.maxLength)
    );
    return this.collate(rows, opts.padding === "max_length" ? opts.maxLength : undefined);
  }

  /** Pads built rows into a rectangular batch (to `length`, or to the longest row). */
  collate(rows: { ids: number[]; typeIds: number[] }[], length?: number): EncodedBatch {
    const seqLength = length ?? Math.max(1, ...rows.map((r) => r.ids.length));
    const batchSize = rows.length;
    const inputIds = new Int32Array(batchSize * seqLength).fill(this.specialIds.pad);
    const attentionMask = new Int32Array(batchSize * seqLength);
    const tokenTypeIds = new Int32Array(batchSize * seqLength);
    rows.forEach((row, r) => {
      const offset = r * seqLength;
      const n = Math.min(row.ids.length, seqLength);
      for (let j = 0; j < n; j++) {
        inputIds[offset + j] = row.ids[j];
        attentionMask[offset + j] = 1;
        tokenTypeIds[offset + j] = row.typeIds[j];
      }
    });
    return { inputIds, attentionMask, tokenTypeIds, batchSize, seqLength };
  }

  toTokenizerJson(): string {
    return JSON.stringify(this.json);
  }

  /** The vocab.txt of a WordPiece vocabulary (token per line, line = id); null for other models or id gaps. */
  toVocabTxt(): string | null {
    const model = this.json.model as Json;
    if (model?.type !== "WordPiece" || !model.vocab || typeof model.vocab !== "object") return null;
    const tokens: string[] = [];
    for (const [token, id] of Object.entries(model.vocab as Record<string, number>)) tokens[id] = token;
    for (let i = 0; i < tokens.length; i++) if (tokens[i] === undefined) return null;
    return tokens.join("\n") + "\n";
  }

  /** RoBERTa's vocab.json (token → id) of a BPE tokenizer; null for other models. */
  toVocabJson(): string | null {
    const model = this.json.model as Json;
    if (model?.type !== "BPE" || !model.vocab || typeof model.vocab !== "object") return null;
    return JSON.stringify(model.vocab);
  }

  /** merges.txt of a BPE tokenizer (merges stored as "a b" strings or [a, b] pairs); null for other models. */
  toMergesTxt(): string | null {
    const model = this.json.model as Json;
    if (model?.type !== "BPE" || !Array.isArray(model.merges)) return null;
    const lines = model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : String(m)));
    return ["#version: 0.2", ...lines].join("\n") + "\n";
  }

  /** A tokenizer_config.json for transformers' AutoTokenizer. */
  tokenizerConfig(modelMaxLength: number): Record<string, unknown> {
    const name = (id: number) => (id >= 0 ? this.tokenizer.id_to_token(id) : undefined);
    if (this.template === "roberta") {
      return {
        tokenizer_class: "RobertaTokenizer",
        model_max_length: modelMaxLength,
        add_prefix_space: (this.json.pre_tokenizer as Json | null)?.add_prefix_space === true,
        bos_token: name(this.specialIds.cls),
        eos_token: name(this.specialIds.sep),
        cls_token: name(this.specialIds.cls),
        sep_token: name(this.specialIds.sep),
        pad_token: name(this.specialIds.pad),
        ...(this.specialIds.unk >= 0 ? { unk_token: name(this.specialIds.unk) } : {}),
        ...(this.specialIds.mask >= 0 ? { mask_token: name(this.specialIds.mask) } : {}),
      };
    }
    return {
      tokenizer_class: "BertTokenizer",
      do_lower_case: this.lowercase,
      model_max_length: modelMaxLength,
      pad_token: name(this.specialIds.pad),
      unk_token: name(this.specialIds.unk),
      cls_token: name(this.specialIds.cls),
      sep_token: name(this.specialIds.sep),
      ...(this.specialIds.mask >= 0 ? { mask_token: name(this.specialIds.mask) } : {}),
    };
  }
}
