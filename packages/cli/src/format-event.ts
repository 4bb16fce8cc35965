import type { EngineEvent, PhaseTimings } from '@gantry/agent';

const short = (id: string) => id.slice(0, 12);
const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;
export const duration = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);
const clockTime = (d: Date) => d.toISOString().slice(11, 19);

/** One human line for an engine event, or undefined for events not worth a line of their own. */
export function formatEvent(event: EngineEvent): string | undefined {
  switch (event.type) {
    case 'observed': {
      const parts = [`serving ${event.serving.map(short).join(', ') || 'nothing'}`];
      if (event.draining.length) parts.push(`draining ${event.draining.map(short).join(', ')}`);
      if (event.leftovers.length) parts.push(`in no frontend ${event.leftovers.map(short).join(', ')} (to tear down)`);
      if (event.tearingDown.length) parts.push(`tearing down ${event.tearingDown.map(short).join(', ')}`);
      return `observe  ${parts.join('; ')}`;
    }
    case 'ports-changed':
      return `observe  ${short(event.container)} published on ${event.to.host}:${event.to.port} now (was ${event.from.host}:${event.from.port}): proxy follows`;
    case 'up-to-date':
      return `observe  ${short(event.container)} already serves ${event.version}: nothing to start`;
    case 'pull-started':
      return undefined;
    case 'pull-progress': {
      const p = event.progress;
      return `image    pulling ${event.image}: ${p.layersDone}/${p.layersTotal} layers, ${mb(p.bytesDone)}/${mb(p.bytesTotal)}`;
    }
    case 'image-ready':
      return `image    ${event.image} ${event.pulled ? 'pulled' : 'present'} (${event.imageId.replace('sha256:', '').slice(0, 12)})`;
    case 'container-started':
      return `start    container ${short(event.container)} (${event.version}) started`;
    case 'ready-check':
      return `ready    ${event.result.ok ? 'pass' : 'wait'} ${event.result.check}: ${event.result.detail}`;
    case 'ready':
      return `ready    ${short(event.container)} passed its ready checks in ${duration(event.elapsedMs)}`;
    case 'not-ready':
      return `ready    ${short(event.container)} FAILED: ${event.reason}; removed it, nothing else changed`;
    case 'switched':
      return `switch   traffic → ${short(event.container)}${event.previous.length ? `; ${event.previous.map(short).join(', ')} draining` : ''}`;
    case 'drain-started':
      return `drain    ${short(event.container)} draining until ${clockTime(event.deadline)}`;
    case 'drain-progress':
      return `drain    ${short(event.container)}: ${event.liveConnections} connection${event.liveConnections === 1 ? '' : 's'} left (deadline ${clockTime(event.deadline)})`;
    case 'drained':
      return event.closedConnections > 0
        ? `drain    ${short(event.container)}: deadline reached after ${duration(event.waitedMs)}, closed ${event.closedConnections} remaining connection${event.closedConnections === 1 ? '' : 's'}`
        : `drain    ${short(event.container)}: drained in ${duration(event.waitedMs)}`;
    case 'health':
      return `health   ${short(event.container)} ${event.state}${event.failing.length ? ` (failing: ${event.failing.join(', ')})` : ''}`;
    case 'replacing':
      return `health   replacing ${short(event.container)}: ${event.reason}`;
    case 'replace-failed':
      return `health   replacing ${short(event.container)} failed, retrying in ${duration(event.retryInMs)}: ${event.reason}`;
    case 'stopped':
      return `stop     ${short(event.container)} stopped`;
    case 'removed':
      return `stop     ${short(event.container)} removed`;
    case 'teardown-started':
      return `teardown ${short(event.container)}: stopping in the background (stop timeout ${duration(event.stopTimeoutMs)})`;
    case 'teardown-done':
      return `teardown ${short(event.container)}: stopped and removed in ${duration(event.elapsedMs)}`;
    case 'teardown-failed':
      return `teardown ${short(event.container)} FAILED (the next run tries again): ${event.reason}`;
    default:
      return event satisfies never;
  }
}

export function formatTimings(timings: PhaseTimings): string {
  return Object.entries(timings)
    .map(([phase, ms]) => `${phase} ${duration(ms ?? 0)}`)
    .join(' · ');
}
