import { z } from 'zod';
import { PLACEMENT_STRATEGIES } from '../cluster/placement.js';
import { SecretBox } from '../../infra/secret-box.js';
import { parseInput } from '../shared/validation.js';
import { RESTART_POLICIES, SESSION_STATUSES } from './session-states.js';

export const SESSION_TYPES = ['interactive', 'batch', 'streaming', 'ai_training', 'rendering'] as const;
export type SessionType = (typeof SESSION_TYPES)[number];

const name = (max: number) => z.string().trim().min(1).max(max);
const labels = z.record(z.string(), z.unknown()).default({});
const environment = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string().max(32_768)).default({});

export const placementPreferences = z
  .object({
    strategy: z.enum(PLACEMENT_STRATEGIES).default('binpack'),
    nodeSelector: labels,
    preferredLabels: labels,
    regions: z.array(name(50)).max(50).default([]),
    excludeNodeIds: z.array(z.uuid()).max(1000).default([]),
  })
  .default({ strategy: 'binpack', nodeSelector: {}, preferredLabels: {}, regions: [], excludeNodeIds: [] });

export type PlacementPreferences = z.output<typeof placementPreferences>;

/** How long a session's command may be: its words, each word, and all of them together. */
export const COMMAND_LIMITS = { words: 256, wordLength: 4_096, totalLength: 32_768 } as const;

const commandWord = z
  .string()
  .max(COMMAND_LIMITS.wordLength)
  .refine((word) => !word.includes('\0'), 'must not contain a NUL character');

/** A program and its arguments, as argv: the agent runs it without a shell, so nothing in it is expanded. */
const command = z
  .array(commandWord)
  .max(COMMAND_LIMITS.words)
  .superRefine((words, ctx) => {
    if (words.length === 0) return;
    if (words[0]!.trim() === '' || words[0] !== words[0]!.trim()) ctx.addIssue({ code: 'custom', path: [0], message: 'must name a program (no surrounding spaces)' });
    const total = words.reduce((sum, word) => sum + word.length, 0);
    if (total > COMMAND_LIMITS.totalLength) ctx.addIssue({ code: 'custom', message: `is longer than ${COMMAND_LIMITS.totalLength} characters in all` });
  })
  .default([]);

const createSessionInput = z
  .object({
    sessionName: name(255),
    sessionType: z.enum(SESSION_TYPES),
    application: name(100).optional(),
    containerImage: name(500).optional(),
    command,
    priority: z.number().int().min(1).max(10).default(1),
    maxRuntimeMinutes: z.number().int().min(1).max(525_600).optional(),
    restartPolicy: z.enum(RESTART_POLICIES).default('never'),
    cpuRequest: z.number().finite().positive().max(999_999),
    cpuLimit: z.number().finite().positive().max(999_999).optional(),
    memoryRequestGb: z.number().finite().positive().max(99_999_999),
    memoryLimitGb: z.number().finite().positive().max(99_999_999).optional(),
    gpuRequest: z.number().int().min(0).max(1024).default(0),
    gpuType: name(50).optional(),
    storageRequestGb: z.number().finite().min(0).max(1e10).default(0),
    networkPolicy: name(50).default('default'),
    environmentVariables: environment.refine((variables) => !Object.values(variables).some(SecretBox.isSealed), 'a value may not start with enc:v1: (that marks sealed values)'),
    /** Variables whose values are sealed at rest and never shown again. */
    secretEnvironmentVariables: environment,
    resourceConstraints: z.record(z.string(), z.unknown()).default({}),
    placementPreferences,
    /** Another user of the tenant to run the session for; needs sessions:manage. */
    userId: z.uuid().optional(),
  })
  .superRefine((input, ctx) => {
    for (const name of Object.keys(input.secretEnvironmentVariables).filter((name) => name in input.environmentVariables)) {
      ctx.addIssue({ code: 'custom', path: ['secretEnvironmentVariables', name], message: 'is also a plain variable' });
    }
    if (input.cpuLimit !== undefined && input.cpuLimit < input.cpuRequest) ctx.addIssue({ code: 'custom', path: ['cpuLimit'], message: 'must be at least cpuRequest' });
    if (input.memoryLimitGb !== undefined && input.memoryLimitGb < input.memoryRequestGb) {
      ctx.addIssue({ code: 'custom', path: ['memoryLimitGb'], message: 'must be at least memoryRequestGb' });
    }
    if (input.gpuType !== undefined && input.gpuRequest === 0) ctx.addIssue({ code: 'custom', path: ['gpuType'], message: 'needs a gpuRequest of at least 1' });
  });

export type CreateSessionInput = z.output<typeof createSessionInput>;

const transitionInput = z.object({
  status: z.enum(SESSION_STATUSES),
  reason: z.string().trim().max(500).optional(),
});

export const parseCreateSession = (input: unknown): CreateSessionInput => parseInput(createSessionInput, input);
export const parseTransition = (input: unknown) => parseInput(transitionInput, input);
/** Stored preferences, read back leniently: a row written before a field existed gets its default. */
export const readPlacementPreferences = (stored: unknown): PlacementPreferences => {
  const result = placementPreferences.safeParse(stored ?? {});
  return result.success ? result.data : placementPreferences.parse({});
};
