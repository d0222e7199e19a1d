import { z } from 'zod';
import { parseInput } from '../shared/validation.js';

export const SAVINGS_GROUPINGS = ['tool_name', 'operation_mode', 'tool_id'] as const;
export type SavingsGrouping = (typeof SAVINGS_GROUPINGS)[number];

/** USD per million tokens, exact decimal text. */
export const pricePerMillion = z.string().trim().regex(/^\d{1,6}(\.\d{1,6})?$/, 'must be a decimal amount such as "15" or "0.25", at most 6 decimals');
const name = z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,49}$/, 'must be 1-50 letters, digits or _ . : / -');
const uuid = z.guid('must be a UUID');
const tokens = z.number().int().min(0).max(2_000_000_000);

const startToolSession = z.object({ toolId: name, toolVersion: z.string().trim().min(1).max(50).optional() });
export const parseStartToolSession = (input: unknown): z.output<typeof startToolSession> => parseInput(startToolSession, input);

const recordToolOperation = z
  .object({
    sessionId: uuid,
    toolName: name,
    operationMode: name,
    parameters: z.record(z.string(), z.unknown()).default({}),
    filePath: z.string().min(1).max(512).optional(),
    tokensOriginal: tokens,
    tokensActual: tokens,
    responseTimeMs: z.number().finite().min(0).max(86_400_000).optional(),
  })
  .refine((op) => op.tokensActual <= op.tokensOriginal, { path: ['tokensActual'], message: 'must not exceed tokensOriginal' });
export type RecordToolOperationInput = z.output<typeof recordToolOperation>;
export const parseRecordToolOperation = (input: unknown): RecordToolOperationInput => parseInput(recordToolOperation, input);

const savingsQuery = z
  .object({
    from: z.date().optional(),
    to: z.date().optional(),
    groupBy: z.enum(SAVINGS_GROUPINGS).default('tool_name'),
    // A filter: any text is data, compared with =.
    toolId: z.string().max(50).optional(),
    pricePerMillionTokens: pricePerMillion.optional(),
  })
  .refine((q) => !q.from || !q.to || q.from.getTime() < q.to.getTime(), { path: ['to'], message: 'must be after from' });
export type SavingsQuery = z.output<typeof savingsQuery>;
export const parseSavingsQuery = (input: unknown): SavingsQuery => parseInput(savingsQuery, input);
