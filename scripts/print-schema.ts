import { writeFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { buildSchema } from '../src/schema.js';

const target = new URL('../schema.graphql', import.meta.url);
writeFileSync(target, `${printSchema(buildSchema())}\n`);
process.stdout.write('schema.graphql written\n');
