/**
 * The text ↔ ids step for generative models (GPT-2, T5, mBART, Marian): wraps the pure-JS Hugging Face
 * tokenizer (@huggingface/tokenizers) built from a tokenizer.json and its tokenizer_config.json. Encoding adds
 * no special tokens unless asked (`addSpecialTokens` runs the tokenizer.json post-processor, e.g. T5's
 * trailing `</s>`; `addEos` appends the EOS id explicitly). Decoding runs the tokenizer.json decoder (byte-level
 * BPE incl. non-ASCII, WordPiece `##` joining, SentencePiece/Metaspace `▁`), by default without
 * transformers' clean_up_tokenization_spaces so that decode(encode(text)) gives the text back. The special
 * ids (eos/bos/pad) come from the config's eos_token/bos_token/pad_token, else from the usual token names;
 * null when the vocabulary has none. Truncation/padding settings inside a given tokenizer.json are ignored.
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { ApiError } from "../../schemas/errors.ts";

type Json = Record<string, unknown>;

export interface GenerationEncodeOptions {
  /** Run the tokenizer.json post-processor (adds the family's special tokens, e.g. T5's `</s>`). */
  addSpecialTokens?: boolean;
  /** Append the EOS id (unless the sequence already ends with it). */
  addEos?: boolean;
}

export interface GenerationDecodeOptions {
  /** Drop special tokens (EOS, padding, …) from the text. Default false. */
  skipSpecialTokens?: boolean;
  /** transformers' clean_up_tokenization_spaces (" ," → ","). Default false: exact round trip. */
  cleanUpTokenizationSpaces?: boolean;
}

/** Usual names of the special tokens, tried in order when tokenizer_config.json names none. */
const DEFAULT_NAMES = {
  eos: ["<|endoftext|>", "</s>", "[SEP]"],
  bos: ["<|endoftext|>", "<s>", "[CLS]"],
  pad: ["<pad>", "[PAD]"],
} as const;

const invalidFile = (message: string, details?: unknown) =>
  new ApiError(400, "invalid_file", message, details);

/**
 * A special token from tokenizer_config.json: a string or an AddedToken object; null when the key is present
 * but null (explicitly none), undefined when the key is absent.
 */
function configToken(config: Json, key: string): string | null | undefined {
  if (!(key in config)) return undefined;
  const value = config[key];
  if (value === null) return null;
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as Json).content === "string") {
    return (value as Json).content as string;
  }
  return undefined;
}

function parseJsonObject(text: string | object, what: string): Json {
  let parsed: unknown = text;
  if (typeof text === "string") {
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw invalidFile(`${what} is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw invalidFile(`${what} must be a JSON object`);
  }
  return parsed as Json;
}

export class GenerationTokenizer {
  readonly vocabSize: number;
  readonly eosTokenId: number | null;
  readonly bosTokenId: number | null;
  readonly padTokenId: number | null;
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
    let maxId = -1;
    for (const id of this.tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.eosTokenId = this.special("eos_token", DEFAULT_NAMES.eos);
    this.bosTokenId = this.special("bos_token", DEFAULT_NAMES.bos);
    this.padTokenId = this.special("pad_token", DEFAULT_NAMES.pad);
  }

  /** From a tokenizer.json (text or parsed) and optionally its tokenizer_config.json (text or parsed). */
  static fromTokenizerJson(json: string | object, config: string | object = {}): GenerationTokenizer {
    const parsed = parseJsonObject(json, "tokenizer.json");
    if (!parsed.model || typeof parsed.model !== "object") {
      throw invalidFile("tokenizer.json must be an object with a 'model' section");
    }
    return new GenerationTokenizer(parsed, parseJsonObject(config, "tokenizer_config.json"));
  }

  private special(key: string, fallbacks: readonly string[]): number | null {
    const named = configToken(this.config, key);
    if (named === null) return null;
    if (named !== undefined) {
      const id = this.tokenizer.token_to_id(named);
      if (id === undefined) {
        throw invalidFile(`tokenizer_config.json names ${key} '${named}', which is not in the vocabulary`);
      }
      return id;
    }
    for (const name of fallbacks) {
      const id = this.tokenizer.token_to_id(name);
      if (id !== undefined) return id;
    }
    return null;
  }

  /** Token ids of one text (see GenerationEncodeOptions; by default no special tokens). */
  encode(text: string, opts: GenerationEncodeOptions = {}): number[] {
    const ids = this.tokenizer.encode(text, { add_special_tokens: opts.addSpecialTokens === true }).ids;
    if (opts.addEos) {
      if (this.eosTokenId === null) {
        throw new ApiError(400, "invalid_request", "the tokenizer has no end-of-sequence token");
      }
      if (ids[ids.length - 1] !== this.eosTokenId) ids.push(this.eosTokenId);
    }
    return ids;
  }

  /** The text of token ids (see GenerationDecodeOptions). */
  decode(ids: number[], opts: GenerationDecodeOptions = {}): string {
    if (ids.length === 0) return ""; // the HF tokenizer refuses an empty list (an EOS-first generation)
    return this.tokenizer.decode(ids, {
      skip_special_tokens: opts.skipSpecialTokens === true,
      clean_up_tokenization_spaces: opts.cleanUpTokenizationSpaces === true,
    });
  }

  /**
   * Incremental decoding for streamed generation: `push(id)` returns the text that the new token completes
   * (nothing while a byte-level character is still incomplete), `flush()` whatever is left.
   */
  decodeStream(opts: GenerationDecodeOptions = {}): { push(id: number): string; flush(): string } {
    const ids: number[] = [];
    let emitted = "";
    const take = (final: boolean): string => {
      const text = this.decode(ids, opts);
      if ((!final && text.endsWith("\uFFFD")) || !text.startsWith(emitted)) return "";
      const fresh = text.slice(emitted.length);
      emitted = text;
      return fresh;
    };
    return {
      push: (id) => {
        ids.push(id);
        return take(false);
      },
      flush: () => take(true),
    };
  }

  /** The id of a token string, or null when the vocabulary lacks it. */
  tokenId(token: string): number | null {
    return this.tokenizer.token_to_id(token) ?? null;
  }

  /** Token strings of ids (for debugging and tests); null for ids outside the vocabulary. */
  idsToTokens(ids: number[]): (string | null)[] {
    return ids.map((id) => this.tokenizer.id_to_token(id) ?? null);
  }

  /** The tokenizer_config.json this tokenizer was built with (a copy). */
  tokenizerConfig(): Record<string, unknown> {
    return structuredClone(this.config);
  }

  toTokenizerJson(): string {
    return JSON.stringify(this.json);
  }
}
