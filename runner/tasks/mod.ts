/** Which TaskRunner runs which job `task`. A task without an entry fails its jobs with a clear message. */
import type { TaskRegistry } from "./types.ts";
import { textClassification, textRegression } from "./text_classification.ts";
import { maskedLm } from "./masked_lm.ts";
import { causalLm } from "./causal_lm.ts";
import { translation } from "./translation.ts";
import { tokenClassification } from "./token_classification.ts";
import { questionAnswering } from "./question_answering.ts";

export const taskRunners: TaskRegistry = {
  "text-classification": textClassification,
  "text-regression": textRegression,
  "token-classification": tokenClassification,
  "question-answering": questionAnswering,
  "masked-lm": maskedLm,
  "causal-lm": causalLm,
  translation,
};
