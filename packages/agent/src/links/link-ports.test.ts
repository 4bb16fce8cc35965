import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinkPortError, LinkPortStore, parseLinkPortRange, portCandidates } from './link-ports';

describe('link ports', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'link-ports-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const store = (hostId: string, opts: { range?: { first: number; last: number }; busy?: number[] } = {}) =>
    new LinkPortStore({ stateDir: dir, hostId, range: opts.range ?? { first: 30000, last: 30009 }, isFree: async (port) => !(opts.busy ?? []).includes(port) });

  it('parses a range and names a bad one', () => {
    expect(parseLinkPortRange('20000-20999')).toEqual({ first: 20000, last: 20999 });
    expect(() => parseLinkPortRange('20999-20000')).toThrow('--link-ports "20999-20000": expected FIRST-LAST');
    expect(() => parseLinkPortRange('1-70000')).toThrow(/expected FIRST-LAST/);
  });

  it('tries every port of the range once, from a start the seed decides', () => {
    const a = portCandidates({ first: 100, last: 199 }, 'p/db@h1');
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => 100 + i));
    expect(portCandidates({ first: 100, last: 199 }, 'p/db@h1')).toEqual(a);
    expect(portCandidates({ first: 100, last: 199 }, 'p/db@h2')[0]).not.toBe(a[0]);
  });

  it('gives a link the same port every time, also to a new store on the same state directory (an agent restart)', async () => {
    const first = await store('h1').portFor('p', 'db');
    expect(await store('h1').portFor('p', 'db')).toBe(first);
    expect(JSON.parse(readFileSync(join(dir, 'h1', 'component-links.json'), 'utf8'))).toEqual({ ports: { 'p/db': first } });
  });

  it('never gives two links, or two hosts of one machine, the same port, and skips ports in use', async () => {
    const busy = portCandidates({ first: 30000, last: 30009 }, 'p/db@h1')[0];
    const h1 = store('h1', { busy: [busy] });
    const ports = [await h1.portFor('p', 'db'), await h1.portFor('p', 'cache'), await store('h2').portFor('p', 'db'), await store('h3').portFor('q', 'db')];
    expect(ports[0]).not.toBe(busy);
    expect(new Set(ports).size).toBe(4);
  });

  it('gives distinct ports to links asked for at the same moment', async () => {
    const h1 = store('h1');
    const ports = await Promise.all(['a', 'b', 'c', 'd'].map((link) => h1.portFor('p', link)));
    expect(new Set(ports).size).toBe(4);
  });

  it('says so when the range is used up', async () => {
    const small = { first: 30000, last: 30001 };
    await store('h1', { range: small }).portFor('p', 'a');
    await store('h2', { range: small }).portFor('p', 'a');
    await expect(store('h3', { range: small }).portFor('p', 'a')).rejects.toThrow('no free port for link "a" of project p on host h3 in 30000-30001');
  });

  it("reports a port given to this host that another host's reservation holds, naming both", async () => {
    const port = await store('h1').portFor('p', 'db');
    writeFileSync(join(dir, 'component-link-ports', String(port)), JSON.stringify({ hostId: 'h9', project: 'p', link: 'db' }));
    const err = await store('h1').portFor('p', 'db').catch((e: Error) => e);
    expect(err).toBeInstanceOf(LinkPortError);
    expect((err as Error).message).toContain(`link "db" of project p on host h1 was given port ${port}, but link "db" of project p on host h9 holds it`);
  });

  it('names a port file it cannot read instead of giving new ports silently', async () => {
    await store('h1').portFor('p', 'db');
    writeFileSync(join(dir, 'h1', 'component-links.json'), '{"ports": {"p/db": "x"}}');
    await expect(store('h1').portFor('p', 'db')).rejects.toThrow(/component-links.json is not a link port file \("p\/db" is not a port\)/);
  });
});
