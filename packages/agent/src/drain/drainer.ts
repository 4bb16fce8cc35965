import type { Check, TerminationCheck, TerminationSignal } from '@gantry/spec';
import type { CheckTarget } from '../checks/check-target';
import { runCheck } from '../checks/run-check';
import { UnknownServerError } from '../proxy/errors';
import type { HostProxy } from '../proxy/proxy';
import { sendTerminationSignals, type SignalOutcome } from './termination-signals';

/** One container's servers in the proxy: the same server name in each of its frontends. */
export interface DrainSubject {
  server: string;
  frontends: string[];
  target: CheckTarget;
}

export interface DrainPolicy {
  drainTimeoutMs: number;
  terminationSignals: TerminationSignal[];
  terminationChecks: TerminationCheck[];
  /** How often live connections are sampled. */
  pollMs?: number;
}

export interface DrainResult {
  /** True when it drained by itself before the deadline. */
  drained: boolean;
  waitedMs: number;
  /** Connections still open at the deadline, closed by the proxy. */
  closedConnections: number;
  signals: SignalOutcome[];
}

export interface DrainHooks {
  onStart?(deadline: Date): void;
  /** Called when the live connection count changes. */
  onProgress?(liveConnections: number, deadline: Date): void;
  signal?: AbortSignal;
}

/**
 * Puts a container's server in `drain` in one frontend; a no-op where it has none: a frontend the
 * config added since the container was made (a new port, a new link) never had it.
 */
export async function drainServer(proxy: HostProxy, frontend: string, server: string): Promise<void> {
  try {
    await proxy.setServerState(frontend, server, 'drain');
  } catch (err) {
    if (!(err instanceof UnknownServerError)) throw err;
  }
}

/**
 * Drains one container: no new connections reach it, its termination signals go out, and it is
 * watched until it has no live connections (current and old proxy workers alike) and its other
 * termination checks pass — or until the drain deadline, when what remains is closed and counted.
 * Its servers are removed from the proxy either way. It never stops the container itself.
 */
export async function drain(proxy: HostProxy, subject: DrainSubject, policy: DrainPolicy, hooks: DrainHooks = {}): Promise<DrainResult> {
  const started = Date.now();
  const deadline = new Date(started + policy.drainTimeoutMs);
  const pollMs = policy.pollMs ?? 100;
  for (const fe of subject.frontends) await drainServer(proxy, fe, subject.server);
  hooks.onStart?.(deadline);
  const signals = await sendTerminationSignals(policy.terminationSignals, subject.target);

  const liveConnections = async () => {
    let total = 0;
    for (const fe of subject.frontends) total += await proxy.liveConnections(fe, subject.server);
    return total;
  };
  const otherChecks = policy.terminationChecks.filter((c): c is Check => c.kind !== 'connection');
  const waitsForConnections = policy.terminationChecks.some((c) => c.kind === 'connection');
  const checksPass = async () => {
    for (const check of otherChecks) if (!(await runCheck(check, subject.target)).ok) return false;
    return true;
  };

  let live = await liveConnections();
  let reported = -1;
  while (Date.now() < deadline.getTime() && !hooks.signal?.aborted) {
    if (live !== reported) {
      hooks.onProgress?.(live, deadline);
      reported = live;
    }
    if ((!waitsForConnections || live === 0) && (await checksPass())) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(0, deadline.getTime() - Date.now()))));
    live = await liveConnections();
  }
  const drained = (!waitsForConnections || live === 0) && Date.now() < deadline.getTime();
  // Removing the server closes whatever sessions are left (a plain `maint` would not).
  for (const fe of subject.frontends) await proxy.removeServer(fe, subject.server);
  return { drained, waitedMs: Date.now() - started, closedConnections: drained ? 0 : live, signals };
}
