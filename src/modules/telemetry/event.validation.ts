import { z } from 'zod';
import { parseInput } from '../shared/validation.js';
import { SEVERITIES } from '../../infra/topics.js';
import { measuredAt, uuid } from './metrics.validation.js';

const recordEvent = z.object({
  eventType: z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$/, 'must be 1-100 letters, digits or _ . : / -'),
  severity: z.enum(SEVERITIES),
  sourceComponent: z.string().trim().min(1).max(100),
  sourceNodeId: uuid.optional(),
  sessionId: uuid.optional(),
  message: z.string().trim().min(1).max(10_000),
  details: z.record(z.string(), z.unknown()).default({}),
  timestamp: measuredAt.optional(),
});
export type RecordEventInput = z.output<typeof recordEvent>;
export const parseRecordEvent = (input: unknown): RecordEventInput => parseInput(recordEvent, input);


/** An event's key inside its global ID: the JSON pair [uuid, ISO timestamp]. */
const eventKey = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not an event ID' });
      return z.NEVER;
    }
  })
  .pipe(z.tuple([uuid, z.iso.datetime({ offset: true })]))
  .transform(([id, timestamp]) => ({ id, timestamp: new Date(timestamp) }));
export const parseEventKey = (input: unknown): { id: string; timestamp: Date } => parseInput(eventKey, input);
