import type { IEvent } from 'etcd3';
import { toChanges } from './watch-events';

const ev = (type: 'Put' | 'Delete', key: string, rev: number, value = ''): IEvent =>
  ({ type, kv: { key: Buffer.from(key), value: Buffer.from(value), mod_revision: String(rev), create_revision: '1', version: '1', lease: '0' } }) as IEvent;

describe('toChanges', () => {
  it('keeps etcd’s order, puts with values and deletes without', () => {
    expect(toChanges([ev('Put', '/p/a', 5, '1'), ev('Delete', '/p/b', 6), ev('Put', '/p/a', 7, '2')], 4)).toEqual([
      { type: 'put', key: '/p/a', value: '1', revision: 5 },
      { type: 'delete', key: '/p/b', revision: 6 },
      { type: 'put', key: '/p/a', value: '2', revision: 7 },
    ]);
  });

  it('keeps every key of one transaction (one revision) and drops what the snapshot already had', () => {
    expect(toChanges([ev('Put', '/p/old', 4, 'x'), ev('Put', '/p/a', 9, '1'), ev('Put', '/p/b', 9, '2')], 4).map((c) => `${c.key}@${c.revision}`)).toEqual([
      '/p/a@9',
      '/p/b@9',
    ]);
  });
});
