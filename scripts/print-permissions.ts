import type { GraphQLObjectType } from 'graphql';
import { ROLE_PERMISSIONS, ROLES } from '../src/modules/identity/permissions.js';
import { buildSchema } from '../src/schema.js';

/** Prints which roles may call each operation, read from the authScopes in the schema. */
const schema = buildSchema();
const rows: string[] = ['| operation | needs | ' + ROLES.join(' | ') + ' |', '| --- | --- |' + ROLES.map(() => ' --- |').join('')];
const roots: [string, GraphQLObjectType | null | undefined][] = [
  ['query', schema.getQueryType()],
  ['mutation', schema.getMutationType()],
  ['subscription', schema.getSubscriptionType()],
];
for (const [kind, type] of roots) {
  for (const [name, field] of Object.entries(type?.getFields() ?? {})) {
    const scopes = (field.extensions as { pothosOptions?: { authScopes?: { permission?: string; authenticated?: boolean } } }).pothosOptions?.authScopes;
    const needs = scopes?.permission ?? (scopes?.authenticated ? 'signed in' : 'anyone');
    const cells = ROLES.map((role) =>
      scopes?.permission ? (ROLE_PERMISSIONS[role].has(scopes.permission as never) ? 'yes' : '—') : 'yes',
    );
    rows.push(`| ${kind} ${name} | ${needs} | ${cells.join(' | ')} |`);
  }
}
process.stdout.write(`${rows.join('\n')}\n`);
