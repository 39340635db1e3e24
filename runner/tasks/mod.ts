/** Which TaskRunner runs which job `task`. A task without an entry fails its jobs with a clear message. */
import type { TaskRegistry } from "./types.ts";
import { textClassification } from "./text_classification.ts";

export const taskRunners: TaskRegistry = {
  "text-classification": textClassification,
};
