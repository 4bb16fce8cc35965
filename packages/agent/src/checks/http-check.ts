import http from 'node:http';
import https from 'node:https';
import type { Check } from '@gantry/spec';
import { armDeadline, type AttemptLimits } from './attempt-deadline';
import type { CheckOutcome } from './check-result';
import type { Endpoint } from './check-target';
import { errorDetail } from './error-detail';

export type HttpCheck = Extract<Check, { kind: 'http' | 'https' }>;

/** At most this much of a response body is read (and discarded); past it the connection is dropped. */
export const HTTP_BODY_CAP_BYTES = 64 * 1024;

/** The URL an HTTP(S) check requests at `endpoint`. */
export function httpCheckUrl(check: Pick<HttpCheck, 'kind' | 'path'>, endpoint: Endpoint): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${check.kind}://${host}:${endpoint.port}${check.path}`;
}

/** Whether `status` passes: one of `expectStatus` when given, else any 2xx or 3xx. */
export function httpStatusPasses(status: number, expectStatus?: readonly number[]): boolean {
  return expectStatus ? expectStatus.includes(status) : status >= 200 && status < 400;
}

/**
 * One attempt: GET the check's URL at `endpoint`. The time limit covers connect, headers and body;
 * the connection is never kept alive (no agent, `Connection: close`) and is destroyed when the
 * attempt ends, so no socket to the container outlives it. The body is read up to
 * {@link HTTP_BODY_CAP_BYTES} and discarded. HTTPS accepts any certificate: a container's
 * certificate is not issued for the loopback address the agent reaches it on.
 */
export function checkHttp(check: HttpCheck, endpoint: Endpoint, limits: AttemptLimits): Promise<CheckOutcome> {
  const label = `GET ${httpCheckUrl(check, endpoint)}`;
  const byStatus = (status: number): CheckOutcome => {
    const ok = httpStatusPasses(status, check.expectStatus);
    const expected = !ok && check.expectStatus ? ` (expected ${check.expectStatus.join(' or ')})` : '';
    return { ok, detail: `${label} → ${status}${expected}` };
  };

  return new Promise((resolve) => {
    let status: number | undefined;
    let settled = false;
    const options: https.RequestOptions = {
      host: endpoint.host,
      port: endpoint.port,
      path: check.path,
      method: 'GET',
      agent: false,
      headers: { Connection: 'close', 'User-Agent': 'gantryd-check' },
    };
    const req = check.kind === 'https' ? https.request({ ...options, rejectUnauthorized: false }) : http.request(options);
    const finish = (outcome: CheckOutcome) => {
      if (settled) return;
      settled = true;
      disarm();
      req.destroy();
      resolve(outcome);
    };

    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      const known = status;
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > HTTP_BODY_CAP_BYTES) finish(byStatus(known));
      });
      // The status is what counts: a body cut short (reset, cap, time) does not change it.
      res.on('end', () => finish(byStatus(known)));
      res.on('error', () => finish(byStatus(known)));
      res.on('close', () => finish(byStatus(known)));
    });
    req.on('error', (err) => finish(status === undefined ? { ok: false, detail: `${label} → ${errorDetail(err)}` } : byStatus(status)));
    const disarm = armDeadline(limits, (reason) => finish(status === undefined ? { ok: false, detail: `${label} → ${reason}` } : byStatus(status)));
    req.end();
  });
}
