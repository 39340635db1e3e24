/**
 * The parameter bookkeeping every model family shares: a model holds its weights as tf.Variables keyed by
 * Hugging Face name; these count them, free them, and look one up by name (a missing name is a programming
 * error — usually a model used after dispose()).
 */
import type * as tf from "@tensorflow/tfjs";

/** Scalars held by `params`. */
export function countParameters(params: Map<string, tf.Variable>): number {
  let total = 0;
  for (const v of params.values()) total += v.size;
  return total;
}

/** Frees every variable and empties the map. */
export function disposeParameters(params: Map<string, tf.Variable>): void {
  for (const v of params.values()) v.dispose();
  params.clear();
}

/** The variable named `name` of `owner`'s parameters. */
export function requireParameter(params: Map<string, tf.Variable>, owner: string, name: string): tf.Variable {
  const v = params.get(name);
  if (!v) throw new Error(`${owner}: no parameter ${name} (disposed?)`);
  return v;
}
