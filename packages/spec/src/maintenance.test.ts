import { KeyLayout } from './keys';
import { parseRecord, valueOf } from './records';

const keys = new KeyLayout();
const key = keys.maintenance('shop', 'web');
const valid = { message: 'Back at 10:00', since: '2026-12-03T09:00:00.000Z', by: 'alice@ops-1' };

describe('maintenance records', () => {
  it('lives at maintenance/<component>, a key of its own kind', () => {
    expect(key).toBe('/gantry/v1/projects/shop/maintenance/web');
    expect(keys.parse(key)).toEqual({ kind: 'maintenance', project: 'shop', component: 'web' });
    expect(keys.classify(`${keys.maintenancePrefix('shop')}bad name`)).toMatchObject({ type: 'invalid', reason: expect.stringMatching(/invalid component name "bad name"/) });
    expect(keys.classify(`${key}/extra`)).toMatchObject({ type: 'invalid' });
  });

  it('parses a record, every host by default', () => {
    expect(valueOf(parseRecord(keys, key, JSON.stringify(valid)), 'maintenance')).toEqual({ ...valid, hosts: { all: true } });
    const some = { ...valid, hosts: { labels: { zone: 'a' } }, holdSeconds: 10 };
    expect(valueOf(parseRecord(keys, key, JSON.stringify(some)), 'maintenance')).toEqual(some);
  });

  it('names what is wrong with an invalid value, and never throws', () => {
    const problem = (value: unknown) => parseRecord(keys, key, typeof value === 'string' ? value : JSON.stringify(value))?.problem;
    expect(problem({ ...valid, message: '   ' })).toMatch(/^invalid maintenance value: message: say what clients should read/);
    expect(problem({ ...valid, message: 'x'.repeat(1001) })).toMatch(/message: /);
    expect(problem({ ...valid, hosts: { ids: [] } })).toMatch(/hosts/);
    expect(problem({ ...valid, holdSeconds: 0 })).toMatch(/holdSeconds/);
    expect(problem({ ...valid, holdSeconds: 121 })).toMatch(/holdSeconds/);
    expect(problem({ ...valid, since: 'yesterday' })).toMatch(/since/);
    expect(problem({ ...valid, extra: true })).toMatch(/extra/);
    expect(problem('{"message": "back soon"')).toMatch(/not valid JSON/);
  });
});
