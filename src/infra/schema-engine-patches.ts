/**
 * Work-arounds for defects of Prisma's WebAssembly schema engine (7.10) and of adapter-pg when the
 * engine drives migrations from this process instead of the Prisma CLI. Each names its defect.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { ColumnTypeEnum, type SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';

/** adapter-pg 7.10 over the engine's one connection, with its script splitting and "char" refusal worked around. */
export function engineAdapterFactory(pool: pg.Pool): SqlMigrationAwareDriverAdapterFactory {
  const base = new PrismaPg(pool);
  return {
    provider: base.provider,
    adapterName: base.adapterName,
    async connect() {
      const adapter = await base.connect();
      const queryRaw = adapter.queryRaw.bind(adapter);
      adapter.queryRaw = async (query) => {
        const result = await queryRaw(query);
        for (const index of charColumns.get(result.rows) ?? []) {
          result.columnTypes[index] = ColumnTypeEnum.Character;
        }
        return result;
      };
      // Upstream defect: adapter-pg splits a script on every ';', which breaks function bodies and DO blocks.
      // Prisma's native engine sends a migration as one simple-protocol query (one implicit
      // transaction); a query without parameters through executeRaw does exactly that.
      adapter.executeScript = async (script) => {
        await adapter.executeRaw({ sql: script, args: [], argTypes: [] });
      };
      return adapter;
    },
    connectToShadowDb: () => base.connectToShadowDb(),
  };
}

const CHAR_OID = 18;
const TEXT_OID = 25;
const charColumns = new WeakMap<unknown[], number[]>();

/**
 * Upstream defect: adapter-pg 7.10 rejects the "char" type of catalog columns the engine reads
 * (pg_constraint.contype, ...). pg decodes it as a string already, so it is passed
 * to the adapter as text and the adapter's result is then typed as Character.
 */
export function reportCatalogCharAsText(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const patched = (...args: unknown[]): unknown => {
    const callback = args.at(-1);
    if (typeof callback === 'function') {
      args[args.length - 1] = (error: unknown, result: unknown) => callback(error, retypeCharFields(result));
      return query(...args);
    }
    const returned = query(...args);
    return returned instanceof Promise ? returned.then(retypeCharFields) : returned;
  };
  client.query = patched as typeof client.query;
}

function retypeCharFields(result: unknown): unknown {
  const results = (Array.isArray(result) ? result : [result]) as Array<Partial<pg.QueryResult> | undefined>;
  for (const { fields = [], rows } of results.filter((r) => r !== undefined)) {
    const indexes = fields.flatMap((field, index) => (field.dataTypeID === CHAR_OID ? [index] : []));
    if (indexes.length === 0 || rows === undefined) continue;
    for (const index of indexes) fields[index]!.dataTypeID = TEXT_OID;
    charColumns.set(rows, indexes);
  }
  return result;
}

type EngineModule = typeof import('@prisma/schema-engine-wasm/schema_engine_bg');

export interface EngineRuntime {
  glue: EngineModule;
  /** Set once the engine panicked; the instance is unusable from then on. */
  crash: Error | undefined;
  crashListeners: Set<(error: Error) => void>;
}

let engineRuntime: Promise<EngineRuntime> | undefined;

/**
 * Upstream defect: the package's entry imports its .wasm as an ES module, which Node 20 allows only behind
 * --experimental-wasm-modules, a flag neither tsx nor vitest set. Its wasm-bindgen glue is a
 * plain module, so the bytes are instantiated here with the glue as the import object; that
 * works the same under tsx, vitest and plain node.
 */
export async function loadEngineRuntime(): Promise<EngineRuntime> {
  engineRuntime ??= import('@prisma/schema-engine-wasm/schema_engine_bg').then((glue) => {
    // The glue holds one instance's memory; a second instance would corrupt it. The glue
    // outlives this module when a test runner re-evaluates sources but not dependencies.
    const key = Symbol.for('omega.schema-engine-wasm');
    const runtimes = ((globalThis as Record<symbol, unknown>)[key] ??= new WeakMap()) as WeakMap<
      EngineModule,
      Promise<EngineRuntime>
    >;
    let runtime = runtimes.get(glue);
    if (runtime === undefined) {
      runtime = instantiate(glue);
      runtimes.set(glue, runtime);
    }
    return runtime;
  });
  const runtime = await engineRuntime;
  if (runtime.crash !== undefined) throw runtime.crash;
  return runtime;
}

async function instantiate(glue: EngineModule): Promise<EngineRuntime> {
  const runtime: EngineRuntime = { glue, crash: undefined, crashListeners: new Set() };
  const gluePath = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const bytes = await readFile(path.join(path.dirname(gluePath), 'schema_engine_bg.wasm'));
  let memory: WebAssembly.Memory | undefined;
  const readString = (ptr: number, len: number) =>
    memory === undefined ? '' : new TextDecoder().decode(new Uint8Array(memory.buffer, ptr, len));
  const imports = adaptImports(glue as unknown as WebAssembly.ModuleImports, readString, (message) =>
    reportCrash(runtime, message),
  );
  const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': imports });
  memory = instance.exports.memory as WebAssembly.Memory;
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return runtime;
}

type ImportFunction = (...args: unknown[]) => unknown;

/**
 * Upstream defects of the wasm-bindgen glue (panics, traps, a timer never cleared), one change each:
 * - A Rust panic reports its message (through a global registry the glue expects Prisma's CLI
 *   to install) and then traps. The message is caught here instead, and every engine call in
 *   flight is rejected with it, since a trapped engine never settles its promises.
 * - The trap itself surfaces in callbacks run from the event loop, where it would be an
 *   uncaught exception that kills the process; those callbacks swallow it.
 * - The engine arms a 10 s timer around its advisory lock and never clears it, which would
 *   hold a finished CLI open for 10 s. While it works, its connection keeps the process alive.
 */
function adaptImports(
  glue: WebAssembly.ModuleImports,
  readString: (ptr: number, len: number) => string,
  onCrash: (message: string) => void,
): WebAssembly.ModuleImports {
  const imports: WebAssembly.ModuleImports = {};
  for (const [name, value] of Object.entries(glue)) {
    if (typeof value !== 'function') {
      imports[name] = value;
    } else if (name.startsWith('__wbg_set_message_')) {
      imports[name] = (ptr: number, len: number) => onCrash(readString(ptr, len));
    } else if (name.startsWith('__wbindgen_cast_')) {
      imports[name] = (...args: unknown[]) => guardCallback((value as ImportFunction)(...args), onCrash);
    } else if (name.startsWith('__wbg_setTimeout_')) {
      imports[name] = (...args: unknown[]) => unrefTimer((value as ImportFunction)(...args));
    } else {
      imports[name] = value;
    }
  }
  return imports;
}

function guardCallback(value: unknown, onCrash: (message: string) => void): unknown {
  if (typeof value !== 'function') return value;
  const callback = value as ImportFunction & { _wbg_cb_unref?: unknown };
  const guarded = Object.assign(
    (...args: unknown[]) => {
      try {
        return callback(...args);
      } catch (error) {
        if (!(error instanceof WebAssembly.RuntimeError)) throw error;
        onCrash(error.message);
        return undefined;
      }
    },
    { _wbg_cb_unref: callback._wbg_cb_unref },
  );
  return guarded;
}

function unrefTimer(timer: unknown): unknown {
  if (timer instanceof Object && 'unref' in timer && typeof timer.unref === 'function') timer.unref();
  return timer;
}

function reportCrash(runtime: EngineRuntime, message: string): void {
  runtime.crash ??= new Error(`schema engine crashed, restart the process: ${message}`);
  for (const listener of runtime.crashListeners) listener(runtime.crash);
}

/** A crashed engine never settles its promises, so each call also waits for a crash. */
export function untilCrash<T>(runtime: EngineRuntime, operation: Promise<T>): Promise<T> {
  if (runtime.crash !== undefined) return Promise.reject(runtime.crash);
  let listener: (error: Error) => void = () => undefined;
  const crashed = new Promise<never>((_, reject) => {
    listener = reject;
    runtime.crashListeners.add(listener);
  });
  return Promise.race([operation, crashed]).finally(() => runtime.crashListeners.delete(listener));
}
