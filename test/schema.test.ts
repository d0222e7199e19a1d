import { readFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema } from '../src/schema.js';

describe('schema.graphql', () => {
  it('is the schema the code builds (run `npm run schema:print` after changing types)', () => {
    expect(readFileSync('schema.graphql', 'utf8')).toBe(`${printSchema(buildSchema())}\n`);
  });
});
