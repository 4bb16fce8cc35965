import { KeyLayout, recordMap, type MaintenanceRecord } from '@gantry/spec';
import { describeMaintenanceRow, maintenanceProgress } from './maintenance-progress';

const keys = new KeyLayout();
const since = '2026-12-03T09:00:00.000Z';
const record: MaintenanceRecord = { message: 'back soon', hosts: { ids: ['h1'] }, since, by: 'alice@ops' };
const registration = (host: string) => [keys.registration('shop', host), JSON.stringify({ hostId: host, address: '127.0.0.1', labels: {}, agentVersion: '1', startedAt: since })] as [string, string];
const status = (host: string, maintenance?: object) => [keys.status('shop', host, 'web'), JSON.stringify({ phase: 'running', containers: [], updatedAt: since, ...(maintenance && { maintenance }) })] as [string, string];
const applied = { message: 'back soon', since, httpPorts: [80], tcpPorts: [5432] };

describe('maintenanceProgress', () => {
  it('is done where selected hosts show this record applied and the others serve', () => {
    const rows = maintenanceProgress(keys, 'shop', 'web', recordMap(keys, [registration('h1'), registration('h2'), status('h1', applied), status('h2')]), record);
    expect(rows.map((r) => [r.host, r.selected, r.done])).toEqual([
      ['h1', true, true],
      ['h2', false, true],
    ]);
    expect(describeMaintenanceRow(rows[0]!)).toBe('  h1           answers 503 on http 80; tcp 5432 left serving');
    expect(describeMaintenanceRow(rows[1]!)).toBe('  h2           serves');
  });

  it('waits for a host still showing an older maintenance, one without a status, and (off) one still answering 503', () => {
    const older = { ...applied, since: '2026-12-01T00:00:00.000Z' };
    const source = recordMap(keys, [registration('h1'), registration('h3'), status('h1', older), [keys.registration('shop', 'gone'), 'garbage']]);
    const rows = maintenanceProgress(keys, 'shop', 'web', source, record);
    expect(rows.map((r) => [r.host, r.done, r.unknown])).toEqual([
      ['h1', false, undefined],
      ['h3', false, `no status at ${keys.status('shop', 'h3', 'web')} yet`],
    ]);
    expect(describeMaintenanceRow(rows[0]!)).toMatch(/waiting for it to apply/);
    const off = maintenanceProgress(keys, 'shop', 'web', source, undefined);
    expect(off[0]).toMatchObject({ host: 'h1', selected: false, done: false });
    expect(describeMaintenanceRow(off[0]!)).toMatch(/waiting for it to serve again/);
  });
});
