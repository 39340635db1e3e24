/** Which TaskRunner runs which job `task`. A task without an entry fails its jobs with a clear message. */
import type { TaskRegistry } from "./types.ts";
import { textClassification } from "./text_classification.ts";
import { maskedLm } from "./masked_lm.ts";

export const taskRunners: TaskRegistry = {
  "text-classification": textClassification,
  "masked-lm": maskedLm,
};
