import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that took longest in past runs, longest first. Vitest orders files by their recorded
 * durations, but a fresh checkout (CI) has none and it falls back to file size, which would start
 * some of these last and leave one worker running alone at the end. Update from a run's JSON
 * report (`--reporter=json`) when the order changes much.
 */
const LONGEST_FIRST = [
  'test/edge-schema-walk.test.ts',
  'test/data-backup.test.ts',
  'test/container-build.test.ts',
  'test/telemetry-ingest.test.ts',
  'test/notifications-delivery.test.ts',
];

/** Vitest's own order when it has durations for every file; else the files above first, then the rest in its order. */
export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const root = this.ctx.config.root;
    const recorded = sorted.every((file) => this.ctx.cache.getFileTestResults(`${file.project.name}:${relative(root, file.moduleId)}`));
    if (recorded) return sorted;
    const rank = (file: TestSpecification) => {
      const index = LONGEST_FIRST.indexOf(relative(root, file.moduleId));
      return index === -1 ? LONGEST_FIRST.length : index;
    };
    // Array.prototype.sort is stable, so the rest keep vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
