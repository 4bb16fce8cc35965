import type { PrepullStatus } from '@gantry/spec';
import type { ContainerRuntime } from '../runtime/container-runtime';
import type { Logger } from './logger';
import { pullPolicyOf, type PrepullJob } from './prepull-intent';

export interface PrepullerDeps {
  runtime: ContainerRuntime;
  /** The answer to show in the component's status; undefined: no prepull is asked for any more (the field goes). */
  onStatus(component: string, status: PrepullStatus | undefined): void;
  log: Logger;
}

const signatureOf = (job: PrepullJob) => `${job.rollout}\n${job.version}\n${job.image}`;

/**
 * Pulls the images rollouts' preflights ask for, in the background: apart from the component
 * workers, so a pull never holds up an update or a health check. Level-triggered: `want` gets every
 * job asked for now; a new one starts (an image already present answers `pulled` at once, so after
 * a restart the answers come back without a pull), one asked for no more is abandoned and its
 * status field cleared, an unchanged one keeps going (or keeps its answer: a failed pull is not
 * tried again until the request changes, the rollout has its verdict).
 */
export class Prepuller {
  private readonly jobs = new Map<string, { signature: string; abort: AbortController; done: Promise<void> }>();
  private stopped = false;

  constructor(private readonly deps: PrepullerDeps) {}

  want(jobs: ReadonlyMap<string, PrepullJob>): void {
    if (this.stopped) return;
    for (const [component, running] of this.jobs) {
      const job = jobs.get(component);
      if (job && signatureOf(job) === running.signature) continue;
      running.abort.abort();
      this.jobs.delete(component);
      if (!job) this.deps.onStatus(component, undefined);
    }
    for (const [component, job] of jobs) if (!this.jobs.has(component)) this.start(job);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const running = [...this.jobs.values()];
    for (const r of running) r.abort.abort();
    await Promise.all(running.map((r) => r.done));
  }

  private start(job: PrepullJob): void {
    const { runtime, onStatus, log } = this.deps;
    const abort = new AbortController();
    const base = { rollout: job.rollout, version: job.version, image: job.image };
    const report = (status: PrepullStatus) => {
      if (!abort.signal.aborted) onStatus(job.component, status);
    };
    report({ ...base, state: 'pulling' });
    const started = Date.now();
    const done = runtime
      .ensureImage(job.image, { pull: pullPolicyOf(job.version), signal: abort.signal, onProgress: (progress) => progress.layersTotal > 0 && report({ ...base, state: 'pulling', progress }) })
      .then((info) => {
        if (abort.signal.aborted) return;
        log.info(info.pulled ? 'pre-pulled the image of a rollout' : 'image of a rollout already present', { component: job.component, rollout: job.rollout, image: job.image, ms: Date.now() - started });
        report({ ...base, state: 'pulled', imageId: info.id });
      })
      .catch((err: Error) => {
        if (abort.signal.aborted) return;
        log.warn('pre-pull of the image of a rollout failed', { component: job.component, rollout: job.rollout, image: job.image, error: err.message });
        report({ ...base, state: 'failed', error: err.message });
      });
    this.jobs.set(job.component, { signature: signatureOf(job), abort, done });
  }
}
