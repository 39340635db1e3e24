/**
 * Parameter groups from Hugging Face parameter names: which layer a weight belongs to (0 = embeddings,
 * 1..L = encoder layers, L+1 = head: pooler, classifier, anything else), whether it gets weight decay (not
 * biases nor LayerNorm weights, as in the transformers Trainer), its LR multiplier (layer-wise LR decay and
 * per-group overrides) and whether it is frozen (frozen names are left out, so the optimizer keeps no state
 * for them). Also the gradual-unfreezing plan (ULMFiT): which layer groups train at a given epoch or step.
 *
 * Layer-wise LR decay with factor d over L encoder layers: head and the top encoder layer L get scale 1,
 * encoder layer l gets d^(L − l), the embeddings get d^L — each group one step lower than the one above.
 * Overrides replace that scale for a whole group; group keys are "embeddings", "encoder" (all encoder
 * layers), "layer.N" (encoder layer N as numbered in the names, 0-based; wins over "encoder") and "head".
 */

export interface ParamGroup {
  /** Multiplier on the scheduled base LR. */
  lrScale: number;
  weightDecay: number;
  /** 0 = embeddings, 1..L = encoder layers, L+1 = head. */
  layer: number;
}

export interface ParamGroupOptions {
  weightDecay: number;
  /** Layer-wise LR decay factor in (0, 1]; omitted or 1 = every group at the base LR. */
  layerLrDecay?: number;
  /** Encoder layer count L; inferred from the names when omitted. */
  numLayers?: number;
  /** Group key → LR multiplier (replaces the layer-decay scale of that group). */
  lrMultipliers?: Record<string, number>;
  /** Group key → absolute peak LR; needs baseLr (scale = lr / baseLr, so the schedule's shape still applies). */
  lrOverrides?: Record<string, number>;
  baseLr?: number;
  freezeEmbeddings?: boolean;
  /** Freeze the first N encoder layers (layer.0 .. layer.N-1). */
  freezeLayers?: number;
  /** Freeze embeddings and every encoder layer: only the head trains. */
  freezeEncoder?: boolean;
  /** Layer index of a name when the encoder patterns do not apply (generative models); see layerIndex. */
  layerOf?: (name: string) => number;
}

const MODEL_PREFIXES = ["bert.", "distilbert.", "roberta.", "electra.", "deberta.", "albert."];
const ENCODER_LAYER = /^(?:encoder|transformer)\.layer\.(\d+)\./;

/** Strips a leading `bert.` / `distilbert.` / `roberta.` (…) model prefix. */
export function stripModelPrefix(name: string): string {
  for (const prefix of MODEL_PREFIXES) if (name.startsWith(prefix)) return name.slice(prefix.length);
  return name;
}

/** The encoder layer number N in `encoder.layer.N.` / `transformer.layer.N.`, or null for other names. */
export function encoderLayerNumber(name: string): number | null {
  const m = ENCODER_LAYER.exec(stripModelPrefix(name));
  return m === null ? null : Number(m[1]);
}

/** Layer index: `embeddings.` → 0, encoder layer N → N + 1, anything else → numLayers + 1 (head). */
export function layerIndex(name: string, numLayers: number): number {
  const bare = stripModelPrefix(name);
  if (bare.startsWith("embeddings.") || bare.startsWith("embeddings_project.")) return 0;
  const n = encoderLayerNumber(bare);
  return n === null ? numLayers + 1 : n + 1;
}

/** True for weights that take no weight decay: biases and LayerNorm parameters. */
export function isNoDecayName(name: string): boolean {
  return name.endsWith(".bias") || name === "bias" || name.includes("LayerNorm.") ||
    name.includes("layer_norm") || name.includes("ln_");
}

/** Encoder layer count implied by the names: 1 + the largest N in `*.layer.N.`, 0 when there is none. */
export function inferNumLayers(paramNames: string[]): number {
  let count = 0;
  for (const name of paramNames) {
    const n = encoderLayerNumber(name);
    if (n !== null) count = Math.max(count, n + 1);
  }
  return count;
}

/** Layer-decay scale of layer index `layer` (see the module comment). */
export function layerDecayScale(layer: number, numLayers: number, decay: number): number {
  return decay ** Math.max(0, numLayers - layer);
}

/** The group keys a layer index answers to, most specific first. */
function groupKeysOf(layer: number, numLayers: number): string[] {
  if (layer === 0) return ["embeddings"];
  if (layer === numLayers + 1) return ["head"];
  return [`layer.${layer - 1}`, "encoder"];
}

function validateGroupKeys(keys: string[], numLayers: number, option: string): void {
  for (const key of keys) {
    const m = /^layer\.(\d+)$/.exec(key);
    const ok = key === "embeddings" || key === "encoder" || key === "head" ||
      (m !== null && Number(m[1]) < numLayers);
    if (!ok) {
      throw new Error(
        `${option}: unknown group "${key}" (valid: embeddings, encoder, layer.0..layer.${
          numLayers - 1
        }, head)`,
      );
    }
  }
}

function isFrozen(layer: number, numLayers: number, opts: ParamGroupOptions): boolean {
  if (layer === numLayers + 1) return false;
  if (opts.freezeEncoder) return true;
  if (layer === 0) return opts.freezeEmbeddings === true;
  return layer <= (opts.freezeLayers ?? 0);
}

/** name → group for every trainable parameter; frozen parameters are not in the map. */
export function buildParamGroups(paramNames: string[], opts: ParamGroupOptions): Map<string, ParamGroup> {
  const numLayers = opts.numLayers ?? inferNumLayers(paramNames);
  const decay = opts.layerLrDecay ?? 1;
  if (!(decay > 0 && decay <= 1)) throw new Error(`layerLrDecay must be in (0, 1], got ${decay}`);
  if (!(opts.weightDecay >= 0)) throw new Error(`weightDecay must be >= 0, got ${opts.weightDecay}`);
  const freezeLayers = opts.freezeLayers ?? 0;
  if (!Number.isInteger(freezeLayers) || freezeLayers < 0 || freezeLayers > numLayers) {
    throw new Error(`freezeLayers must be an integer in [0, ${numLayers}], got ${freezeLayers}`);
  }
  const multipliers = overrideScales(opts, numLayers);
  const groups = new Map<string, ParamGroup>();
  for (const name of paramNames) {
    const n = opts.layerOf ? null : encoderLayerNumber(name);
    if (n !== null && n >= numLayers) throw new Error(`parameter "${name}" is beyond numLayers=${numLayers}`);
    const layer = opts.layerOf ? opts.layerOf(name) : layerIndex(name, numLayers);
    if (!Number.isInteger(layer) || layer < 0 || layer > numLayers + 1) {
      throw new Error(`parameter "${name}" has layer index ${layer}, outside 0..${numLayers + 1}`);
    }
    if (isFrozen(layer, numLayers, opts)) continue;
    const key = groupKeysOf(layer, numLayers).find((k) => multipliers.has(k));
    const lrScale = key !== undefined ? multipliers.get(key)! : layerDecayScale(layer, numLayers, decay);
    groups.set(name, { lrScale, weightDecay: isNoDecayName(name) ? 0 : opts.weightDecay, layer });
  }
  return groups;
}

/** Merges lrMultipliers and lrOverrides (absolute LRs ÷ baseLr) into group key → scale. */
function overrideScales(opts: ParamGroupOptions, numLayers: number): Map<string, number> {
  const scales = new Map<string, number>();
  const multipliers = opts.lrMultipliers ?? {};
  const absolute = opts.lrOverrides ?? {};
  validateGroupKeys(Object.keys(multipliers), numLayers, "lrMultipliers");
  validateGroupKeys(Object.keys(absolute), numLayers, "lrOverrides");
  for (const [key, m] of Object.entries(multipliers)) {
    if (!(m >= 0)) throw new Error(`lrMultipliers.${key} must be >= 0, got ${m}`);
    scales.set(key, m);
  }
  const absKeys = Object.keys(absolute);
  if (absKeys.length > 0 && !(opts.baseLr !== undefined && opts.baseLr > 0)) {
    throw new Error("lrOverrides needs baseLr > 0");
  }
  for (const [key, lr] of Object.entries(absolute)) {
    if (!(lr >= 0)) throw new Error(`lrOverrides.${key} must be >= 0, got ${lr}`);
    if (scales.has(key)) throw new Error(`group "${key}" is in both lrMultipliers and lrOverrides`);
    scales.set(key, lr / opts.baseLr!);
  }
  return scales;
}

export interface GradualUnfreezePlan {
  /** Encoder layer count L (groups: head, layer L … layer 1, embeddings — L + 2 in all). */
  numLayers: number;
  /** Epochs (or steps) between two unfreezings; the clock passed to trainableLayerGroupsAt uses the same unit. */
  interval: number;
  /** Groups trainable at the start, counted from the top (default 1: the head alone). */
  initialGroups?: number;
}

/**
 * Layer indices trainable at `clock` (0-based epoch, or optimizer step, in the plan's unit): the top
 * initialGroups + floor(clock / interval) groups, from the head downwards (ULMFiT gradual unfreezing).
 */
export function trainableLayerGroupsAt(clock: number, plan: GradualUnfreezePlan): Set<number> {
  if (!(plan.interval > 0)) throw new Error(`gradual unfreezing: interval must be > 0, got ${plan.interval}`);
  if (!(clock >= 0)) throw new Error(`gradual unfreezing: clock must be >= 0, got ${clock}`);
  const total = plan.numLayers + 2;
  const count = Math.min(total, (plan.initialGroups ?? 1) + Math.floor(clock / plan.interval));
  const layers = new Set<number>();
  for (let i = 0; i < count; i++) layers.add(plan.numLayers + 1 - i);
  return layers;
}

/** The names (from a buildParamGroups map) whose layer is trainable at `clock` under `plan`. */
export function trainableNamesAt(
  groups: Map<string, ParamGroup>,
  clock: number,
  plan: GradualUnfreezePlan,
): Set<string> {
  const layers = trainableLayerGroupsAt(clock, plan);
  const names = new Set<string>();
  for (const [name, g] of groups) if (layers.has(g.layer)) names.add(name);
  return names;
}
