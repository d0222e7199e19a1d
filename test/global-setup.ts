import type { TestProject } from 'vitest/node';
import { runPostgresTests } from './helpers/backing-services.js';
import { prepareRunDatabases } from './helpers/run-databases.js';

/** Migrates one database of each kind for the whole run, and drops the run's databases at its end. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { provided, remove } = await prepareRunDatabases(runPostgresTests);
  project.provide('runDatabases', provided);
  return remove;
}
