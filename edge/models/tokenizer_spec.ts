/**
 * Where a randomly initialised model's tokenizer comes from (shared by the BERT and generative specs): a
 * WordPiece learned from a dataset column, another model's tokenizer, or an uploaded tokenizer file.
 */
import { z } from "zod";
import { resourceId } from "../../shared/schemas/resources.ts";

export const tokenizerSpec = z.union([
  z.object({
    dataset: resourceId,
    column: z.string().min(1).default("text"),
    vocab_size: z.number().int().min(16).max(100_000).default(8000),
    lowercase: z.boolean().default(true),
    min_frequency: z.number().int().min(1).max(1000).optional(),
  }).strict(),
  z.object({ from_model: resourceId }).strict(),
  z.object({ file: z.enum(["tokenizer.json", "vocab.txt"]) }).strict(),
]);
