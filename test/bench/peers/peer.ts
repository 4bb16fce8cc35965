import net from 'node:net';
import { httpGet, waitFor } from '@gantry/testkit';

/** One way of updating the demo app under load, measured side by side with the others. */
export interface Peer {
  name: string;
  /** How it is driven, for the report. */
  how: string;
  /** Runs v1 and resolves with the URL the load is sent to once v1 answers there. */
  start(): Promise<string>;
  /** Updates to `tag`; resolves when this peer's update is over by its own account. */
  update(tag: 'v1' | 'v2'): Promise<void>;
  /** Removes every container, process and file it made; never throws. */
  cleanup(): Promise<void>;
}

/** A port free on 127.0.0.1 right now (the kernel's pick), for Docker to publish on. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves once `url` answers 2xx from `version` of the demo app. */
export function untilServing(url: string, version: string, timeoutMs = 30_000): Promise<true> {
  return waitFor(async () => {
    const res = await httpGet(url, 2_000);
    return res.status >= 200 && res.status < 300 && res.version === version;
  }, { timeoutMs, intervalMs: 20, what: `${url} served by ${version}` });
}
