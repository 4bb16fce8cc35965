import { connectEtcd, deadlineIn, EtcdAccessDeniedError, EtcdConfigError, explainTlsFailure, FleetMirror, resolveConnectionOptions } from '@gantry/etcd';
import type { Etcd3 } from 'etcd3';
import { componentConfigHash, findComponent, KeyLayout, parseJson, projectConfigSchema, type Parsed, type ProjectConfig } from '@gantry/spec';
import type { z } from 'zod';
import { CliError } from '../cli-error';
import { ExitCode } from '../exit-codes';
import type { FleetArgs } from './fleet-options';
import { hostsFromEntries, type HostList } from './hosts-rows';
import type { TxnPlan } from './set-version-plan';

/** Every etcd call of a verb gets this long, so an unreachable etcd fails the verb in seconds. */
export const CALL_TIMEOUT_MS = 5_000;

/** A value read from etcd, with its mod revision (for guarded transactions). */
export interface StoredValue {
  key: string;
  value: string;
  modRevision: string;
}

export type ReadResult<T> = { found: false; key: string } | ({ found: true; key: string; text: string; modRevision: string } & Parsed<T>);

/** Every key under a prefix, and the revision they were read at. */
export interface PrefixSnapshot {
  entries: Map<string, StoredValue>;
  revision: string;
}

/** What `commitChunks` did: each committed transaction's result, in order, and the etcd failure that stopped it, if one did. */
export interface ChunkedCommit {
  results: Array<{ succeeded: boolean; revision: string }>;
  error?: CliError;
}

export interface ChunkHooks {
  /** Before each transaction (a test changes etcd here, between chunks). */
  beforeChunk?: (index: number, plan: TxnPlan) => Promise<void> | void;
  /** After each committed transaction, succeeded or not (progress). */
  afterChunk?: (index: number, plan: TxnPlan, result: { succeeded: boolean; revision: string }) => void;
}

const text = (b: Buffer | undefined | null) => (b ? b.toString('utf8') : '');

/**
 * One verb's view of etcd: the connection, the key layout and the project, with typed reads and
 * writes. Every call is bounded by a deadline and any failure becomes a CliError with exit code 3
 * naming the endpoints and the key, instead of a hang or a stack trace.
 */
export class FleetClient {
  constructor(
    readonly etcd: Etcd3,
    readonly keys: KeyLayout,
    readonly project: string,
    readonly endpoints: string[],
    readonly timeoutMs: number = CALL_TIMEOUT_MS,
  ) {}

  /** Runs one etcd call with a deadline; failures name the endpoints, what was done and the key. */
  async call<T>(what: string, run: (options: { deadline: Date }) => Promise<T>): Promise<T> {
    const options = deadlineIn(this.timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    // The gRPC deadline bounds the call; the timer bounds anything before it (connecting, retries).
    const overdue = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs + 1_000);
    });
    try {
      return await Promise.race([run(options), overdue]);
    } catch (err) {
      if (err instanceof CliError) throw err;
      if (err instanceof EtcdAccessDeniedError) throw new CliError(err.message, ExitCode.denied, { identity: err.identity, operation: err.operation, keys: err.keys });
      const reason = etcdReason(err);
      const tls = explainTlsFailure(reason);
      if (tls) throw new CliError(`${tls.message} (etcd at ${this.endpoints.join(', ')}, ${what})`, tls.refusedClient ? ExitCode.denied : ExitCode.unavailable, { endpoints: this.endpoints, operation: what, reason });
      throw new CliError(`etcd at ${this.endpoints.join(', ')} is unavailable (${what}): ${reason}`, ExitCode.unavailable, { endpoints: this.endpoints, operation: what });
    } finally {
      clearTimeout(timer);
    }
  }

  async get(key: string): Promise<StoredValue | undefined> {
    const res = await this.call(`reading ${key}`, (options) => this.etcd.get(key).options(options).exec());
    const kv = res.kvs[0];
    return kv ? { key, value: text(kv.value), modRevision: String(kv.mod_revision) } : undefined;
  }

  /** Reads a key and validates its value; an invalid value comes back as a problem naming the key. */
  async read<S extends z.ZodType>(key: string, schema: S): Promise<ReadResult<z.infer<S>>> {
    const stored = await this.get(key);
    if (!stored) return { found: false, key };
    return { found: true, key, text: stored.value, modRevision: stored.modRevision, ...parseJson(schema, stored.value, key) };
  }

  /** The project's stored config; a missing one is an error naming the key (exit 2). */
  async readConfig(): Promise<{ key: string; text: string; modRevision: string } & Parsed<ProjectConfig>> {
    const result = await this.read(this.keys.config(this.project), projectConfigSchema);
    if (!result.found) {
      throw new CliError(`project "${this.project}" has no config: ${result.key} is missing (store one with \`gantry config set FILE\`)`, ExitCode.invalidInput, { key: result.key });
    }
    return result;
  }

  /**
   * The stored config, which must be valid and hold `component`: what a verb that changes the
   * component's version checks first. `modRevision` lets its write be guarded on the config, so
   * `configHash` is the generation of the config the write was checked against.
   */
  async readConfigWith(component: string): Promise<{ key: string; config: ProjectConfig; modRevision: string; configHash: string }> {
    const stored = await this.readConfig();
    if (!stored.ok) {
      throw new CliError(`the stored config at ${stored.key} is invalid; store a valid one with \`gantry config set FILE\` first:\n${stored.error.message}`, ExitCode.invalidInput, {
        key: stored.key,
        problems: stored.error.problems,
      });
    }
    const spec = findComponent(stored.value, component);
    if (!spec) {
      const known = stored.value.components.map((c) => c.name).join(', ');
      throw new CliError(`component "${component}" is not in the stored config of ${this.project} (${stored.key}); it has: ${known}`, ExitCode.invalidInput, { key: stored.key, component });
    }
    // The config generation a version written now runs with (DesiredVersion.configHash).
    return { key: stored.key, config: stored.value, modRevision: stored.modRevision, configHash: componentConfigHash(spec) };
  }

  /** Every key under a prefix, in one range get. */
  async readPrefix(prefix: string): Promise<PrefixSnapshot> {
    const res = await this.call(`reading ${prefix}*`, (options) => this.etcd.getAll().prefix(prefix).options(options).exec());
    const entries = new Map<string, StoredValue>();
    for (const kv of res.kvs) {
      const key = text(kv.key);
      entries.set(key, { key, value: text(kv.value), modRevision: String(kv.mod_revision) });
    }
    return { entries, revision: String(res.header.revision) };
  }

  /** Registrations, statuses, agent records and host-level desired versions of every host of the project. */
  readHosts(): Promise<PrefixSnapshot> {
    return this.readPrefix(this.keys.hostsPrefix(this.project));
  }

  /** Registered hosts, and the registration keys whose values are invalid. */
  async listHosts(): Promise<HostList> {
    const { entries } = await this.readHosts();
    return hostsFromEntries(this.keys, this.project, valuesOf(entries));
  }

  async put(key: string, value: string): Promise<string> {
    const res = await this.call(`writing ${key}`, (options) => this.etcd.put(key).value(value).options(options).exec());
    return String(res.header.revision);
  }

  /** Commits a planned transaction; `succeeded` is false when a guard no longer held (nothing was written). */
  async commit(plan: TxnPlan): Promise<{ succeeded: boolean; revision: string }> {
    const [first, ...rest] = plan.guards;
    if (!first) throw new Error('a transaction plan needs at least one guard');
    const keys = [...plan.puts.map((p) => p.key), ...plan.deletes].join(', ');
    const res = await this.call(`writing ${keys}`, (options) => {
      let txn = this.etcd.if(first.key, 'Mod', '==', first.modRevision);
      for (const guard of rest) txn = txn.and(guard.key, 'Mod', '==', guard.modRevision);
      return txn
        .then(...plan.puts.map((p) => this.etcd.put(p.key).value(p.value)), ...plan.deletes.map((key) => this.etcd.delete().key(key)))
        .options(options)
        .commit();
    });
    return { succeeded: res.succeeded, revision: String(res.header.revision) };
  }

  /**
   * Commits independent transactions one after the other (e.g. deletes too many for one
   * transaction). A chunk whose guards no longer hold writes nothing and the next ones still run;
   * an etcd failure stops it, and `error` says why (the chunks after it were not tried).
   */
  async commitChunks(plans: readonly TxnPlan[], hooks: ChunkHooks = {}): Promise<ChunkedCommit> {
    const results: ChunkedCommit['results'] = [];
    for (const [index, plan] of plans.entries()) {
      await hooks.beforeChunk?.(index, plan);
      let result: { succeeded: boolean; revision: string };
      try {
        result = await this.commit(plan);
      } catch (err) {
        if (err instanceof CliError) return { results, error: err };
        throw err;
      }
      results.push(result);
      hooks.afterChunk?.(index, plan, result);
    }
    return { results };
  }

  /**
   * A mirror of `prefixes` (@gantry/etcd's FleetMirror: every key parsed once, re-read after any
   * interruption). The caller subscribes, starts it and must stop it.
   */
  mirror(prefixes: string[], onError?: (err: Error) => void): FleetMirror {
    return new FleetMirror(this.keys, { client: this.etcd, prefixes, callTimeoutMs: this.timeoutMs, onError });
  }

  close(): void {
    this.etcd.close();
  }
}

/** An etcd error's message, without the empty "Resolution note:" grpc-js ends some with. */
export function etcdReason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/[.\s]*Resolution note:\s*$/, '');
}

export function valuesOf(entries: ReadonlyMap<string, StoredValue>): Map<string, string> {
  return new Map([...entries].map(([key, v]) => [key, v.value]));
}

/** The key layout and project of the arguments; a bad prefix or project name is invalid input (exit 2). */
export function layoutFor(args: Pick<FleetArgs, 'prefix' | 'project'>): KeyLayout {
  try {
    const keys = new KeyLayout(args.prefix);
    keys.project(args.project);
    return keys;
  } catch (err) {
    throw new CliError((err as Error).message, ExitCode.invalidInput);
  }
}

/** Opens the connection for one verb, runs it, and closes the connection however the verb ends. */
export async function withFleet<T>(args: FleetArgs, work: (fleet: FleetClient) => Promise<T>): Promise<T> {
  const keys = layoutFor(args);
  let etcd: Etcd3;
  let endpoints: string[];
  try {
    const options = resolveConnectionOptions({ flags: args });
    endpoints = options.endpoints;
    etcd = connectEtcd(options, { callTimeoutMs: CALL_TIMEOUT_MS });
  } catch (err) {
    if (err instanceof EtcdConfigError) throw new CliError(err.message, ExitCode.invalidInput, { problems: err.problems });
    throw err;
  }
  const fleet = new FleetClient(etcd, keys, args.project, endpoints);
  try {
    return await work(fleet);
  } finally {
    fleet.close();
  }
}
