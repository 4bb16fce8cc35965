import fc from 'fast-check';
import { KeyLayout, parseRecord, recordSchemas, type ParsedKey } from '@gantry/spec';
import { hugeText, invalidName, layoutKey, storedText, type KeySpace } from './fuzz';

/**
 * Property tests of spec's one parser (key classification and record parsing), over the same
 * generators the fuzz integration test writes to a real etcd.
 */
const layout = new KeyLayout();
const space: KeySpace = { layout, projects: ['shop', 'p-1'], hosts: ['h1', 'h2', 'host.a'], components: ['web', 'api_2'] };
const RUNS = { numRuns: 2000 };

/** The key the layout's builders make for a parsed key: what `classify` accepted must rebuild to itself. */
function rebuild(ref: ParsedKey): string {
  switch (ref.kind) {
    case 'config':
      return layout.config(ref.project);
    case 'coordinator':
      return layout.coordinator(ref.project);
    case 'fleet-desired':
      return layout.fleetDesired(ref.project, ref.component);
    case 'host-desired':
      return layout.hostDesired(ref.project, ref.host, ref.component);
    case 'registration':
      return layout.registration(ref.project, ref.host);
    case 'status':
      return layout.status(ref.project, ref.host, ref.component);
    case 'agent':
      return layout.agent(ref.project, ref.host);
    case 'prepull':
      return layout.prepull(ref.project, ref.host, ref.component);
    case 'rollout-request':
      return layout.rolloutRequest(ref.project, ref.component);
    case 'rollout-control':
      return layout.rolloutControl(ref.project, ref.component);
    case 'rollout-state':
      return layout.rolloutState(ref.project, ref.component);
    case 'rollout-history':
      return layout.rolloutHistory(ref.project, ref.component, ref.id);
    case 'lock':
      return layout.lock(ref.project, ref.component);
    case 'maintenance':
      return layout.maintenance(ref.project, ref.component);
  }
}

describe('KeyLayout.classify (property)', () => {
  it('never throws, on any string at all', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), layoutKey(space)), (key) => {
        const c = layout.classify(key);
        expect(['ours', 'outside', 'invalid']).toContain(c.type);
      }),
      RUNS,
    );
  });

  it('accepts a key only if every name in it is valid: the builders rebuild exactly that key', () => {
    fc.assert(
      fc.property(layoutKey(space), (key) => {
        const c = layout.classify(key);
        if (c.type === 'ours') expect(rebuild(c.key)).toBe(key);
        if (c.type === 'invalid') expect(c.reason.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it('names the bad segment, in any position', () => {
    fc.assert(
      fc.property(invalidName, fc.constantFrom('project', 'host', 'component'), (bad, where) => {
        const key =
          where === 'project' ? `${layout.root}projects/${bad}/config` : where === 'host' ? `${layout.project('shop')}hosts/${bad}/status/web` : `${layout.project('shop')}rollouts/${bad}/request`;
        const c = layout.classify(key);
        expect(c).toMatchObject({ type: 'invalid', reason: expect.stringMatching(where === 'project' ? /project name/ : where === 'host' ? /host id/ : /component name/) });
      }),
    );
  });

  it('is "outside" for anything not under <root>projects/', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        fc.pre(!s.startsWith(`${layout.root}projects/`));
        expect(layout.classify(s).type).toBe('outside');
      }),
    );
  });
});

describe('parseRecord (property)', () => {
  it('never throws on any key and any text; a record is valid against its schema or carries a bounded problem', () => {
    fc.assert(
      fc.property(layoutKey(space), storedText, (key, text) => {
        const record = parseRecord(layout, key, text);
        if (!record) return;
        expect(record.key).toBe(key);
        if (record.problem === undefined) {
          expect(recordSchemas[record.ref.kind].safeParse(JSON.parse(text)).success).toBe(true);
        } else {
          expect(record.problem.length).toBeGreaterThan(0);
          expect(record.problem.length).toBeLessThan(4000);
        }
      }),
      RUNS,
    );
  });

  it('reports a value near etcd’s size limit in a short line', () => {
    const record = parseRecord(layout, layout.config('shop'), hugeText());
    expect(record?.problem).toMatch(/^invalid config value: components\[0\]\.repo: .*; and \d+ more$/);
    expect(record!.problem!.length).toBeLessThan(4000);
  });

  it('checks the names inside a value against the key', () => {
    const reg = { hostId: 'h2', address: '127.0.0.1', labels: {}, agentVersion: '0.1.0', startedAt: new Date().toISOString() };
    expect(parseRecord(layout, layout.registration('shop', 'h1'), JSON.stringify(reg))?.problem).toMatch(/hostId: "h2" does not match the key's host "h1"/);
    expect(parseRecord(layout, layout.registration('shop', 'h2'), JSON.stringify(reg))?.problem).toBeUndefined();
  });
});
