import type { CheckResult } from '../checks/check-result';
import type { PullProgress } from '../runtime/image';

/**
 * What the engine reports as it works, in order. The CLI prints these as lines or JSON; the agent
 * turns them into status in etcd.
 */
export type EngineEvent =
  | { type: 'observed'; serving: string[]; draining: string[]; leftovers: string[]; tearingDown: string[] }
  | { type: 'ports-changed'; container: string; frontend: string; from: { host: string; port: number }; to: { host: string; port: number } }
  | { type: 'up-to-date'; container: string; version: string }
  | { type: 'pull-started'; image: string }
  | { type: 'pull-progress'; image: string; progress: PullProgress }
  | { type: 'image-ready'; image: string; imageId: string; pulled: boolean }
  | { type: 'container-started'; container: string; version: string }
  | { type: 'ready-check'; container: string; result: CheckResult }
  | { type: 'ready'; container: string; elapsedMs: number }
  | { type: 'not-ready'; container: string; reason: string; logs: string }
  | { type: 'switched'; container: string; frontends: string[]; previous: string[] }
  | { type: 'drain-started'; container: string; deadline: Date }
  | { type: 'drain-progress'; container: string; liveConnections: number; deadline: Date }
  | { type: 'drained'; container: string; waitedMs: number; closedConnections: number }
  | { type: 'health'; container: string; state: 'healthy' | 'unhealthy' | 'unknown'; failing: string[] }
  | { type: 'replacing'; container: string; reason: string }
  | { type: 'replace-failed'; container: string; reason: string; retryInMs: number }
  | { type: 'stopped'; container: string }
  | { type: 'removed'; container: string }
  /** Out of every frontend and drained: its stop and removal go on in the background (see teardown.ts). */
  | { type: 'teardown-started'; container: string; stopTimeoutMs: number; since: Date }
  | { type: 'teardown-done'; container: string; elapsedMs: number }
  /** Docker refused or was away: the container stays, and the next observation hands it to a teardown again. */
  | { type: 'teardown-failed'; container: string; reason: string };

export type EventSink = (event: EngineEvent) => void;

/** Wall-clock time of each phase of one operation, in ms. */
export type PhaseTimings = Partial<Record<'observe' | 'proxy' | 'image' | 'create' | 'start' | 'ready' | 'switch' | 'drain' | 'stop' | 'teardown' | 'total', number>>;

/** Times phases of one operation; `mark(phase)` closes the phase that began at the previous mark. */
export class PhaseClock {
  private readonly begun = performance.now();
  private last = this.begun;
  readonly timings: PhaseTimings = {};

  mark(phase: keyof PhaseTimings): void {
    const now = performance.now();
    this.timings[phase] = Math.round((now - this.last) * 10) / 10;
    this.last = now;
  }

  finish(): PhaseTimings {
    this.timings.total = Math.round((performance.now() - this.begun) * 10) / 10;
    return this.timings;
  }
}
