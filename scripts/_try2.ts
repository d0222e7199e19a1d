export {};
import { diffDatabaseToSchema } from '../src/infra/migrator.js';
console.log('DIFF>>>' + await diffDatabaseToSchema(process.argv[2]!, 'prisma/schema.prisma') + '<<<');
