import net from 'node:net';
import { armDeadline, type AttemptLimits } from './attempt-deadline';
import type { CheckOutcome } from './check-result';
import type { Endpoint } from './check-target';
import { errorDetail } from './error-detail';

/** One attempt: connect to `endpoint` within the limit, then close at once. */
export function checkTcp(endpoint: Endpoint, limits: AttemptLimits): Promise<CheckOutcome> {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  const label = `connect ${host}:${endpoint.port}`;
  return new Promise((resolve) => {
    let settled = false;
    const socket = net.connect({ host: endpoint.host, port: endpoint.port });
    const finish = (outcome: CheckOutcome) => {
      if (settled) return;
      settled = true;
      disarm();
      socket.destroy();
      resolve(outcome);
    };
    socket.once('connect', () => finish({ ok: true, detail: `${label} → connected` }));
    socket.on('error', (err) => finish({ ok: false, detail: `${label} → ${errorDetail(err)}` }));
    const disarm = armDeadline(limits, (reason) => finish({ ok: false, detail: `${label} → ${reason}` }));
  });
}
