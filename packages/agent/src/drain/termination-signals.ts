import http from 'node:http';
import https from 'node:https';
import { checkTitle, type TerminationSignal } from '@gantry/spec';
import type { CheckTarget } from '../checks/check-target';

export interface SignalOutcome {
  signal: string;
  ok: boolean;
  detail: string;
}

/**
 * Sends a draining container its termination signals (Gantryd's `terminationSignals`): an HTTP(S)
 * POST or a command run inside it. A failed signal is reported, never fatal: draining goes on.
 */
export async function sendTerminationSignals(signals: TerminationSignal[], target: CheckTarget): Promise<SignalOutcome[]> {
  return Promise.all(signals.map((signal) => sendOne(signal, target)));
}

async function sendOne(signal: TerminationSignal, target: CheckTarget): Promise<SignalOutcome> {
  const name = checkTitle(signal);
  const timeoutMs = signal.timeout * 1000;
  if (signal.kind === 'exec') {
    try {
      const { exitCode, output } = await target.exec(signal.command, timeoutMs);
      return { signal: name, ok: exitCode === 0, detail: `exit ${exitCode}${output ? `: ${output.slice(-200)}` : ''}` };
    } catch (err) {
      return { signal: name, ok: false, detail: (err as Error).message };
    }
  }
  const endpoint = target.endpoint(signal.port);
  if (!endpoint) return { signal: name, ok: false, detail: `container port ${signal.port} is not published` };
  const url = `${signal.kind}://${endpoint.host}:${endpoint.port}${signal.path}`;
  return new Promise((resolve) => {
    const lib = signal.kind === 'https' ? https : http;
    const req = lib.request(url, { method: 'POST', timeout: timeoutMs, agent: false, rejectUnauthorized: false }, (res) => {
      res.resume();
      const ok = res.statusCode! < 400;
      resolve({ signal: name, ok, detail: `POST ${url} → ${res.statusCode}` });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ signal: name, ok: false, detail: `POST ${url}: ${err.message}` }));
    req.end();
  });
}
