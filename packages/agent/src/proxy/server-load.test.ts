import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseShowStat } from './runtime-parse';
import { liveConnectionsOf, serverLoads } from './server-load';

// Captured from HAProxy 2.6.12 after a reload: the old worker holds a stream on c-aaaaaaaaaaaa and
// one idle keep-alive client; the current worker has c-aaaaaaaaaaaa drained and c-bbbbbbbbbbbb ready.
const rows = (name: string) => parseShowStat(readFileSync(join(__dirname, '__fixtures__', name), 'utf8'));

describe('serverLoads', () => {
  it('adds old-worker sessions and the idle clients an old worker may still route to a server', () => {
    const loads = serverLoads({
      current: [rows('current-worker-servers.csv')],
      old: [{ backend: rows('old-worker-backend.csv'), frontend: rows('old-worker-frontend.csv') }],
    });
    expect(loads.get('c-aaaaaaaaaaaa')).toEqual({ server: 'c-aaaaaaaaaaaa', sessions: 1, oldWorkerIdleClients: 1 });
    // Added after the reload: the old worker does not know it.
    expect(loads.get('c-bbbbbbbbbbbb')).toEqual({ server: 'c-bbbbbbbbbbbb', sessions: 0, oldWorkerIdleClients: 0 });
    expect(liveConnectionsOf(loads.get('c-aaaaaaaaaaaa'))).toBe(2);
    expect(liveConnectionsOf(undefined)).toBe(0);
  });

  it('counts sessions of the current worker alone when there is no old one', () => {
    const loads = serverLoads({ current: [rows('show-stat-current-worker.csv'), rows('show-stat-old-worker.csv')], old: [] });
    expect(liveConnectionsOf(loads.get('c-aaaaaaaaaaaa'))).toBe(1);
  });

  it('gives idle old-worker clients only to servers that worker may still pick', () => {
    const stat = (svname: string, type: number, scur: number, status = 'no check') =>
      ({ pxname: 'x', svname, qcur: 0, scur, status, type, addr: '', fields: {} });
    const loads = serverLoads({
      current: [],
      old: [
        {
          backend: [stat('ready', 2, 0), stat('drained', 2, 1, 'DRAIN'), stat('off', 2, 0, 'MAINT'), stat('BACKEND', 1, 1, 'UP')],
          frontend: [stat('FRONTEND', 0, 4, 'STOP')],
        },
      ],
    });
    expect([...loads.values()].map((l) => [l.server, l.sessions, l.oldWorkerIdleClients])).toEqual([
      ['ready', 0, 3],
      ['drained', 1, 0],
      ['off', 0, 0],
    ]);
  });
});
