/**
 * Figures of one peer's run (Gantry, a naive docker stop/run, an HAProxy reload) and how they
 * compare with Gantry's. Pure, so the presentation of "0 failed" and the ratios is tested.
 */
import { fmt as ms, median, percentile } from '../stats';

/** What a peer's updates produced, summed over all of them. */
export interface PeerRun {
  peer: string;
  /** Requests sent and failed (errors + non-2xx) under load while the updates ran. */
  sent: number;
  failed: number;
  /** Latency of every 2xx response (ms). */
  latenciesMs: number[];
  /** Per update: its wall time (ms), from the first command to the update being finished. */
  wallMs: number[];
  /** Per update: from its start to the first 2xx response of the new version (ms). */
  toNewVersionMs: number[];
}

export interface PeerFigures {
  peer: string;
  updates: number;
  sent: number;
  failed: number;
  /** Failed requests per 1000 sent: comparable across peers that sent different numbers. */
  failedPerThousand: number;
  p99Ms: number;
  maxMs: number;
  wallMedianMs: number;
  toNewVersionMedianMs: number;
}

export function peerFigures(run: PeerRun): PeerFigures {
  return {
    peer: run.peer,
    updates: run.wallMs.length,
    sent: run.sent,
    failed: run.failed,
    failedPerThousand: run.sent === 0 ? NaN : (run.failed * 1000) / run.sent,
    p99Ms: percentile(run.latenciesMs, 99),
    maxMs: run.latenciesMs.length === 0 ? NaN : run.latenciesMs.reduce((a, b) => Math.max(a, b)),
    wallMedianMs: median(run.wallMs),
    toNewVersionMedianMs: median(run.toNewVersionMs),
  };
}

/**
 * `value` as a multiple of `baseline` ("4.1×", "37×"). A zero baseline has no ratio: "n/a
 * (Gantry 0)" — or "same (both 0)" when the value is zero too.
 */
export function ratio(value: number, baseline: number, baselineName = 'Gantry'): string {
  if (Number.isNaN(value) || Number.isNaN(baseline)) return '-';
  if (baseline === 0) return value === 0 ? 'same (both 0)' : `n/a (${baselineName} 0)`;
  const times = value / baseline;
  return `${times >= 10 ? times.toFixed(0) : times.toFixed(1)}×`;
}

/** One line comparing `peer` with `baseline`, failed requests first: what a user of either would notice. */
export function comparisonLine(peer: PeerFigures, baseline: PeerFigures): string {
  const failed =
    peer.failed === 0
      ? `0 failed requests${baseline.failed === 0 ? ', like ' + baseline.peer : ` (${baseline.peer}: ${baseline.failed})`}`
      : baseline.failed === 0
        ? `${peer.failed} failed requests (${peer.failedPerThousand.toFixed(1)} per 1000) where ${baseline.peer} failed none`
        : `${ratio(peer.failed / peer.sent, baseline.failed / baseline.sent, baseline.peer)} the failure rate of ${baseline.peer} (${peer.failedPerThousand.toFixed(1)} vs ${baseline.failedPerThousand.toFixed(1)} per 1000)`;
  return (
    `${peer.peer}: ${failed}; ` +
    `p99 latency ${ratio(peer.p99Ms, baseline.p99Ms, baseline.peer)} ${baseline.peer}'s (${ms(peer.p99Ms)} vs ${ms(baseline.p99Ms)}), ` +
    `max ${ratio(peer.maxMs, baseline.maxMs, baseline.peer)} (${ms(peer.maxMs)} vs ${ms(baseline.maxMs)}), ` +
    `wall time per update ${ratio(peer.wallMedianMs, baseline.wallMedianMs, baseline.peer)} (${ms(peer.wallMedianMs)} vs ${ms(baseline.wallMedianMs)})`
  );
}
