import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import type { Config } from '../config.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { createDatabase } from '../infra/db.js';
import { EMBEDDED_KEY_FILE, newEncryptionKey, SecretBox } from '../infra/secret-box.js';
import { holdsEmbeddedDatabase, openEmbeddedForCommand, OperatorError, targetOf } from './database-target.js';

export interface ResealCounts {
  notificationSecrets: number;
  totpSecrets: number;
  /** Sessions (live or archived) with at least one secret variable resealed. */
  sessions: number;
}

/** Values a session's environment holds, some sealed. */
type Environment = Record<string, unknown>;

/**
 * Reseals every secret at rest that is plain or sealed under a key other than the box's current one.
 * Each row is rewritten only if it still holds the value read, so a concurrent change is never undone.
 */
export async function resealSecrets(system: PrismaClient, box: SecretBox): Promise<ResealCounts> {
  const counts: ResealCounts = { notificationSecrets: 0, totpSecrets: 0, sessions: 0 };
  const reseal = (value: string) => box.seal(box.open(value));

  for (const config of await system.notificationConfig.findMany({ where: { secret: { not: null } }, select: { id: true, secret: true } })) {
    if (!box.needsResealing(config.secret!)) continue;
    const { count } = await system.notificationConfig.updateMany({ where: { id: config.id, secret: config.secret }, data: { secret: reseal(config.secret!) } });
    counts.notificationSecrets += count;
  }
  for (const credential of await system.credential.findMany({ where: { totpSecret: { not: null } }, select: { id: true, totpSecret: true } })) {
    if (!box.needsResealing(credential.totpSecret!)) continue;
    const { count } = await system.credential.updateMany({ where: { id: credential.id, totpSecret: credential.totpSecret }, data: { totpSecret: reseal(credential.totpSecret!) } });
    counts.totpSecrets += count;
  }
  const resealEnvironment = (environment: Environment): Environment | undefined => {
    const stale = Object.entries(environment).filter(([, value]) => typeof value === 'string' && SecretBox.isSealed(value) && box.needsResealing(value));
    if (stale.length === 0) return undefined;
    return { ...environment, ...Object.fromEntries(stale.map(([name, value]) => [name, reseal(value as string)])) };
  };
  const sealedPattern = '%enc:v1:%';
  const sessions = await system.$queryRaw<{ id: string; environment: Environment }[]>`
    SELECT session_id::text AS id, environment_variables AS environment FROM sessions WHERE environment_variables::text LIKE ${sealedPattern}`;
  for (const session of sessions) {
    const resealed = resealEnvironment(session.environment);
    if (!resealed) continue;
    const { count } = await system.session.updateMany({ where: { id: session.id, environmentVariables: { equals: session.environment as never } }, data: { environmentVariables: resealed as never } });
    counts.sessions += count;
  }
  const archived = await system.$queryRaw<{ id: string; environment: Environment }[]>`
    SELECT session_id::text AS id, environment_variables AS environment FROM sessions_archive WHERE environment_variables::text LIKE ${sealedPattern}`;
  for (const session of archived) {
    const resealed = resealEnvironment(session.environment);
    if (!resealed) continue;
    await system.sessionArchive.update({ where: { id: session.id }, data: { environmentVariables: resealed as never } });
    counts.sessions += 1;
  }
  return counts;
}

/** Where sealed values live, as SQL over text: the same places resealSecrets rewrites. */
const SEALED_SOURCES = [
  { table: 'public.notification_config', value: 'secret' },
  { table: 'security.credentials', value: 'totp_secret' },
  { table: 'public.sessions', value: 'environment_variables::text' },
  { table: 'public.sessions_archive', value: 'environment_variables::text' },
] as const;

/** The ids of the keys the database's sealed values need, so a restore can tell whether it can open them. */
export async function sealedKeyIds(client: pg.Client): Promise<string[]> {
  const { rows: present } = await client.query<{ table: string }>(
    'SELECT t AS table FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL',
    [SEALED_SOURCES.map((source) => source.table)],
  );
  const sources = SEALED_SOURCES.filter((source) => present.some((row) => row.table === source.table));
  if (sources.length === 0) return [];
  // Identifiers come from the constant list above, never from input.
  const values = sources.map((source) => `SELECT ${source.value} AS value FROM ${source.table} WHERE ${source.value} LIKE '%enc:v1:%'`).join(' UNION ALL ');
  const { rows } = await client.query<{ key_id: string }>(
    `SELECT DISTINCT m[1] AS key_id FROM (SELECT regexp_matches(value, 'enc:v1:([0-9a-f]+):', 'g') AS m FROM (${values}) v) found ORDER BY 1`,
  );
  return rows.map((row) => row.key_id);
}

/**
 * `npm run secrets:rotate`: reseals every secret under ENCRYPTION_KEY, opening old values with
 * ENCRYPTION_PREVIOUS_KEYS. On the embedded database without ENCRYPTION_KEY, a new key replaces the
 * one kept in its data folder, which the command then uses to open the old values.
 */
export async function rotateSecretsCommand(config: Config, print: (line: string) => void): Promise<ResealCounts> {
  const target = targetOf(config);
  if (target.kind === 'postgresql') {
    const box = SecretBox.fromConfig(config.encryption);
    const db = createDatabase(target.url, 2);
    try {
      const counts = await resealSecrets(db.system, box);
      print(`resealed under key ${box.currentKeyId}: ${JSON.stringify(counts)}`);
      return counts;
    } finally {
      await db.close();
    }
  }
  if (!holdsEmbeddedDatabase(target.dataDir)) throw new OperatorError(`secrets:rotate: there is no embedded database in ${target.dataDir}`);
  const keyFile = path.join(target.dataDir, EMBEDDED_KEY_FILE);
  const keptKey = (await readFile(keyFile, 'utf8').catch(() => '')).trim();
  const newKey = config.encryption.key ?? newEncryptionKey();
  const box = SecretBox.fromConfig({ key: newKey, previousKeys: [...config.encryption.previousKeys, ...(keptKey && keptKey !== newKey ? [keptKey] : [])] });
  const embedded = await openEmbeddedForCommand(target.dataDir, 'secrets:rotate');
  const db = createDatabase(embedded.url, 1, { embedded: true });
  try {
    const counts = await resealSecrets(db.system, box);
    if (!config.encryption.key) {
      // Written beside, then renamed, so the folder never holds half a key.
      await writeFile(`${keyFile}.new`, `${newKey}\n`, { mode: 0o600 });
      await rename(`${keyFile}.new`, keyFile);
    }
    print(`resealed under key ${box.currentKeyId}: ${JSON.stringify(counts)}`);
    return counts;
  } finally {
    await db.close();
    await embedded.close();
  }
}
