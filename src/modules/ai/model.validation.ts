import { z } from 'zod';
import { parseInput } from '../shared/validation.js';

/** USD per million tokens, exact: at most six decimals, as the column stores them. */
const pricePerMillion = z.string().trim().regex(/^\d{1,6}(\.\d{1,6})?$/, 'must be a decimal amount such as "0.15", at most 6 decimals');
const text = (max: number) => z.string().trim().min(1).max(max);

const modelFields = {
  name: text(255),
  provider: text(100).optional(),
  family: text(100).optional(),
  format: text(50).optional(),
  parameterSize: text(20).optional(),
  quantization: text(20).optional(),
  contextLength: z.number().int().positive().max(100_000_000),
  filePath: text(500).optional(),
  fileSizeMb: z.number().finite().min(0).max(1e9).optional(),
  gpuMemoryRequiredGb: z.number().finite().min(0).max(99_999_999).optional(),
  priceInputPerMillion: pricePerMillion.default('0'),
  priceOutputPerMillion: pricePerMillion.default('0'),
  isActive: z.boolean().default(true),
  metadata: z.record(z.string(), z.unknown()).default({}),
};

const createModel = z.object({
  modelId: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,254}$/, 'must be 1-255 letters, digits or . _ : / @ + - (e.g. meta-llama/Llama-3.1-8B-Instruct)'),
  ...modelFields,
});
export type CreateModelInput = z.output<typeof createModel>;
export const parseCreateModel = (input: unknown): CreateModelInput => parseInput(createModel, input);

/** An update names only what changes; null clears an optional column. */
const updateModel = z
  .object({
    name: modelFields.name.optional(),
    provider: modelFields.provider.nullable(),
    family: modelFields.family.nullable(),
    format: modelFields.format.nullable(),
    parameterSize: modelFields.parameterSize.nullable(),
    quantization: modelFields.quantization.nullable(),
    contextLength: modelFields.contextLength.optional(),
    filePath: modelFields.filePath.nullable(),
    fileSizeMb: modelFields.fileSizeMb.nullable(),
    gpuMemoryRequiredGb: modelFields.gpuMemoryRequiredGb.nullable(),
    priceInputPerMillion: pricePerMillion.optional(),
    priceOutputPerMillion: pricePerMillion.optional(),
    isActive: z.boolean().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((input) => Object.values(input).some((value) => value !== undefined), { path: ['input'], message: 'names nothing to change' });
export type UpdateModelInput = z.output<typeof updateModel>;
export const parseUpdateModel = (input: unknown): UpdateModelInput => parseInput(updateModel, input);
