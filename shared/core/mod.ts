/**
 * The training core's public surface: backend selection, tokenization, the BERT sequence classifier (config,
 * init, load), checkpoints (safetensors, HF folder export), inference, metrics and the fine-tuning loop, plus
 * the optimizer/schedule/clipping/parameter-group modules they build on. Pure TensorFlow.js: no I/O, no env.
 */
export { BACKEND_LADDER, type BackendChoice, initBackend } from "./backend.ts";
export {
  type EncodedBatch,
  type EncodeOptions,
  type SpecialIds,
  TextTokenizer,
} from "./tokenizer/text_tokenizer.ts";
export { BERT_SPECIAL_TOKENS, bertTokenizerJson, parseVocabTxt } from "./tokenizer/bert_json.ts";
export { type WordPieceTrainingOptions } from "./tokenizer/wordpiece_trainer.ts";
export {
  BERT_DEFAULTS,
  type BertActivation,
  type BertConfig,
  bertConfigToHfJson,
  parseBertConfig,
  SUPPORTED_ACTIVATIONS,
} from "./model/config.ts";
export {
  type BertBatch,
  BertForSequenceClassification,
  bertParameterShapes,
  type DropoutRates,
  type ForwardOptions,
} from "./model/bert.ts";
export { ATTENTION_MASK_MIN } from "./model/layers.ts";
export {
  bertStateDict,
  canonicalBertName,
  type CheckpointTensor,
  initBertForSequenceClassification,
  loadBertForSequenceClassification,
  type LoadedBert,
} from "./model/load.ts";
export {
  type DecodedTensor,
  halfToFloat,
  readSafetensors,
  readSafetensorsHeader,
  type SafetensorsHeader,
  type SafetensorsHeaderEntry,
  writeSafetensors,
} from "./checkpoint/safetensors.ts";
export { exportHfFolder, validateCheckpointShapes } from "./checkpoint/hf_folder.ts";
export { batchTensors, type ClassifyOptions, classifyTexts, logitsOf } from "./infer.ts";
export { accuracy, argmaxRows, macroF1 } from "./eval/metrics.ts";
export { crossEntropy, evaluateClassifier, type TokenizedRow } from "./eval/evaluate.ts";
export {
  type FineTuneInput,
  type FineTuneResult,
  fineTuneSequenceClassifier,
  type LabelledTexts,
  type TrainEvent,
} from "./train/fine_tune.ts";
export { createRng, type Rng, type RngState, shuffledIndices } from "./random.ts";
export * from "./train/optimizers.ts";
export * from "./train/schedules.ts";
export * from "./train/clipping.ts";
export * from "./train/param_groups.ts";
export type { ModelFamily, SequenceClassifier } from "./model/classifier.ts";
export {
  type DistilBertConfig,
  type ElectraConfig,
  type ModelConfig,
  modelConfigToHfJson,
  modelFamilyOf,
  parseModelConfig,
  type RobertaConfig,
  SUPPORTED_MODEL_TYPES,
} from "./model/family_config.ts";
export { ElectraForSequenceClassification, RobertaForSequenceClassification } from "./model/bert_variants.ts";
export { DistilBertForSequenceClassification } from "./model/distilbert.ts";
export {
  buildClassifier,
  canonicalName,
  initSequenceClassifier,
  type LoadedClassifier,
  loadSequenceClassifier,
  parameterShapes,
  stateDict,
} from "./model/load.ts";
export {
  byteLevelAlphabet,
  byteLevelVocab,
  parseMergesTxt,
  parseVocabJson,
  robertaTokenizerJson,
} from "./tokenizer/bpe_json.ts";
export type { InputTemplate } from "./tokenizer/text_tokenizer.ts";
export { prepareBackend, type PreparedBackend } from "./backend/prepare.ts";
export { train, type TrainerInput, type TrainerResult, TrainerStateMismatchError } from "./train/trainer.ts";
export { decodeTrainerState, encodeTrainerState, type TrainerState } from "./train/trainer_state.ts";
export {
  BertForMaskedLM,
  initBertForMaskedLM,
  loadBertForMaskedLM,
  type LoadedMaskedLm,
  maskedLmStateDict,
} from "./model/mlm_head.ts";
export { mlmExamples } from "./tasks/mlm/examples.ts";
export { exportMaskedLmFolder } from "./tasks/mlm/export.ts";
export { MaskedLmTask } from "./tasks/mlm/task.ts";
export { maskTokens, MLM_IGNORE } from "./tasks/mlm/masking.ts";
