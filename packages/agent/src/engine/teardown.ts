import type { ContainerRuntime } from '../runtime/container-runtime';
import type { EventSink } from './events';

/** One container being stopped (with its full stop timeout) and removed, off any update's path. */
export interface Teardown {
  container: string;
  component: string;
  since: Date;
  stopTimeoutMs: number;
}

/** How a teardown ended: the container is gone, or `error` says why not (it is tried again at the next observation). */
export interface TeardownResult {
  container: string;
  component: string;
  elapsedMs: number;
  error?: string;
}

/**
 * The host's teardowns: containers out of every frontend, drained, and not serving, that only need
 * stopping and removing. An update hands its old containers here once they are drained and counts
 * as done; the stop (a SIGTERM-deaf app takes its whole stop timeout) goes on in the background.
 * Nothing is remembered across restarts: such a container is found again by observation (it is
 * in no frontend: see observe.ts) and handed here again. One teardown per container at a time.
 */
export class ContainerTeardowns {
  private readonly running = new Map<string, { teardown: Teardown; done: Promise<TeardownResult> }>();

  /** `runtime` without any update's cancellation: a teardown outlives the update that began it. */
  constructor(private readonly runtime: Pick<ContainerRuntime, 'stop' | 'remove'>) {}

  /**
   * Stops and removes the container unless its teardown already runs (then that one's end is
   * returned, and `emit` hears nothing). Never rejects: a failure is in the result, and emitted.
   */
  begin(container: { id: string; component: string }, stopTimeoutMs: number, emit: EventSink = () => undefined): Promise<TeardownResult> {
    const existing = this.running.get(container.id);
    if (existing) return existing.done;
    const teardown: Teardown = { container: container.id, component: container.component, since: new Date(), stopTimeoutMs };
    emit({ type: 'teardown-started', container: container.id, stopTimeoutMs, since: teardown.since });
    const done = this.run(teardown, emit).finally(() => this.running.delete(container.id));
    this.running.set(container.id, { teardown, done });
    return done;
  }

  private async run(teardown: Teardown, emit: EventSink): Promise<TeardownResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const { container, component } = teardown;
    try {
      await this.runtime.stop(container, teardown.stopTimeoutMs);
      emit({ type: 'stopped', container });
      await this.runtime.remove(container);
      emit({ type: 'removed', container });
    } catch (err) {
      const error = (err as Error).message;
      emit({ type: 'teardown-failed', container, reason: error });
      return { container, component, elapsedMs: elapsed(), error };
    }
    const elapsedMs = elapsed();
    emit({ type: 'teardown-done', container, elapsedMs });
    return { container, component, elapsedMs };
  }

  /** True while the container's teardown runs: it never serves again, and is not torn down twice. */
  has(container: string): boolean {
    return this.running.has(container);
  }

  /** The teardowns running now, of one component (or all), oldest first. */
  list(component?: string): Teardown[] {
    return [...this.running.values()].map((r) => r.teardown).filter((t) => component === undefined || t.component === component);
  }

  /** The end of the given containers' teardowns (default: every one running now); those not running are left out. */
  settled(containers?: string[]): Promise<TeardownResult[]> {
    const ids = containers ?? [...this.running.keys()];
    return Promise.all(ids.flatMap((id) => this.running.get(id)?.done ?? []));
  }
}
