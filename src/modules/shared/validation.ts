import type { z } from 'zod';
import { ValidationError } from './errors.js';

/** Parses input with a schema, turning every problem into a FieldIssue of one ValidationError. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.') || '(input)',
      message: issue.message,
    })),
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a value is a UUID in its textual form, as the database's uuid columns take it. */
export const isUuid = (value: unknown): boolean => typeof value === 'string' && UUID.test(value);
