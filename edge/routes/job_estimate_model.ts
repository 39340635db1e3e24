/**
 * What a job estimate needs to know about a base model, for every family and task: its transformer sizes
 * in BERT's names (hidden, intermediate, layers, heads, positions), every parameter's shape under the task's
 * head (sequence, token or span heads for encoders; the generative families' own names), and the layer of
 * each parameter for the loop's freezing / layer-wise rules. Nothing is allocated: shapes come from configs.
 */
import { parameterShapes, parseModelConfig } from "../../shared/core/mod.ts";
import type { HeadKind } from "../../shared/core/model/classifier.ts";
import { parseBartConfig } from "../../shared/core/model/bart_config.ts";
import { bartParameterShapes } from "../../shared/core/model/bart_layers.ts";
import { generativeModelType } from "../../shared/core/model/generative_load.ts";
import { parseGpt2Config } from "../../shared/core/model/gpt2_config.ts";
import { gpt2ParameterShapes } from "../../shared/core/model/gpt2.ts";
import { parseT5Config, t5ParameterShapes } from "../../shared/core/model/t5_config.ts";
import type { TaskName } from "../../shared/schemas/resources.ts";

/** The sizes the estimate needs, named as BERT names them. */
export interface EncoderDims {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
}

export interface EstimateModel {
  dims: EncoderDims;
  shapes: Map<string, number[]>;
  /** Layer index per parameter for generative names (encoders use the loop's default patterns). */
  layerOf?: (name: string) => number;
}

/** Layer index from a `…<layers>.N.` pattern; `offset` numbers decoder layers after encoder ones. */
function layerFrom(patterns: [RegExp, number][], embeddings: RegExp, numLayers: number) {
  return (name: string): number => {
    for (const [pattern, offset] of patterns) {
      const m = pattern.exec(name);
      if (m) return offset + Number(m[1]) + 1;
    }
    return embeddings.test(name) ? 0 : numLayers + 1;
  };
}

function headOf(task: TaskName): HeadKind {
  return task === "token-classification" ? "token" : task === "question-answering" ? "span" : "sequence";
}

export function estimateModel(
  config: Record<string, unknown>,
  task: TaskName,
  numLabels: number,
): EstimateModel {
  switch (generativeModelType(config)) {
    case "gpt2": {
      const c = parseGpt2Config(config);
      const dims = {
        hidden_size: c.n_embd,
        intermediate_size: c.n_inner ?? 4 * c.n_embd,
        num_hidden_layers: c.n_layer,
        num_attention_heads: c.n_head,
        max_position_embeddings: c.n_positions,
      };
      const layerOf = layerFrom([[/^transformer\.h\.(\d+)\./, 0]], /^transformer\.(wte|wpe)\./, c.n_layer);
      return { dims, shapes: gpt2ParameterShapes(c), layerOf };
    }
    case "t5": {
      const c = parseT5Config(config);
      const layers = c.num_layers + c.num_decoder_layers;
      const dims = {
        hidden_size: c.d_model,
        intermediate_size: c.d_ff,
        num_hidden_layers: layers,
        num_attention_heads: c.num_heads,
        max_position_embeddings: 512,
      };
      const layerOf = layerFrom(
        [[/^encoder\.block\.(\d+)\./, 0], [/^decoder\.block\.(\d+)\./, c.num_layers]],
        /^shared\./,
        layers,
      );
      return { dims, shapes: t5ParameterShapes(c), layerOf };
    }
    case "mbart":
    case "marian": {
      const c = parseBartConfig(config);
      const layers = c.encoder_layers + c.decoder_layers;
      const dims = {
        hidden_size: c.d_model,
        intermediate_size: c.encoder_ffn_dim,
        num_hidden_layers: layers,
        num_attention_heads: c.encoder_attention_heads,
        max_position_embeddings: c.max_position_embeddings,
      };
      const layerOf = layerFrom(
        [[/^model\.encoder\.layers\.(\d+)\./, 0], [/^model\.decoder\.layers\.(\d+)\./, c.encoder_layers]],
        /^model\.(shared|encoder\.embed_positions|decoder\.embed_positions|encoder\.layernorm_embedding|decoder\.layernorm_embedding)\./,
        layers,
      );
      return { dims, shapes: bartParameterShapes(c), layerOf };
    }
    case null: {
      const c = parseModelConfig(config);
      const dims = c.model_type === "distilbert"
        ? {
          hidden_size: c.dim,
          intermediate_size: c.hidden_dim,
          num_hidden_layers: c.n_layers,
          num_attention_heads: c.n_heads,
          max_position_embeddings: c.max_position_embeddings,
        }
        : c;
      const head = headOf(task);
      const labels = task === "text-regression" ? 1 : head === "span" ? 2 : numLabels;
      return { dims, shapes: parameterShapes(c, labels, head) };
    }
  }
}
