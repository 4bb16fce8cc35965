import { agentStatusSchema, componentStatusSchema, type AgentStatus, type ComponentStatus } from '@gantry/spec';
import { fitAgentStatus, fitComponentStatus, jsonBytes, STATUS_MAX_BYTES, truncateText } from './fit-status';

const at = '2026-11-22T05:00:00.000Z';
const MiB = 1024 * 1024;

const baseStatus: ComponentStatus = {
  phase: 'failed',
  version: 'v1',
  targetVersion: 'v2',
  image: '127.0.0.1:5000/gantry/demo-app:v2',
  containers: [{ id: 'abc123', version: 'v1', role: 'serving', state: 'running', startedAt: at }],
  updatedAt: at,
};

describe('truncateText', () => {
  it('leaves a text that fits alone', () => {
    expect(truncateText('short', 100)).toBe('short');
  });

  it('keeps the head and the tail around a marker with the original size, within the budget', () => {
    const text = `${'first line\n'.repeat(1000)}${'x'.repeat(10_000)}THE LAST LOG LINE`;
    const cut = truncateText(text, 2_000);
    expect(jsonBytes(cut) - 2).toBeLessThanOrEqual(2_000);
    expect(jsonBytes(cut) - 2).toBeGreaterThan(1_900);
    expect(cut.startsWith('first line\nfirst line\n')).toBe(true);
    expect(cut.endsWith('THE LAST LOG LINE')).toBe(true);
    expect(cut).toContain(` … (truncated, ${Buffer.byteLength(text)} bytes) … `);
  });

  it('counts JSON escapes and multi-byte characters, and never splits a surrogate pair', () => {
    for (const unit of ['"', '\n', '\u0001', 'é', '€', '😀', '\\']) {
      const text = unit.repeat(50_000);
      const cut = truncateText(text, 1_000);
      expect(jsonBytes(cut) - 2).toBeLessThanOrEqual(1_000);
      expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/); // no lone surrogate
      expect(cut.replace(/ … \(truncated, \d+ bytes\) … /, '').replaceAll(unit, '')).toBe('');
    }
  });
});

describe('fitComponentStatus', () => {
  it('returns a record that fits as it is (the same object)', () => {
    expect(fitComponentStatus(baseStatus)).toBe(baseStatus);
  });

  it('cuts a last error carrying megabytes of container logs to fit, keeping its key, the start and the last lines', () => {
    const reason = `16fe2ad645ee never got ready in 10000 ms; its last log lines:\n${'log line with "quotes" and \t tabs\n'.repeat(60_000)}panic: the real cause`;
    const status: ComponentStatus = { ...baseStatus, lastError: { key: '/gantry/v1/projects/p/desired/web', reason, at } };
    expect(jsonBytes(status)).toBeGreaterThan(2 * MiB);
    const fitted = fitComponentStatus(status);
    expect(jsonBytes(fitted)).toBeLessThanOrEqual(STATUS_MAX_BYTES);
    expect(componentStatusSchema.parse(fitted)).toEqual(fitted);
    expect(fitted.lastError!.key).toBe('/gantry/v1/projects/p/desired/web');
    expect(fitted.lastError!.reason).toMatch(/^16fe2ad645ee never got ready in 10000 ms; its last log lines:\n/);
    expect(fitted.lastError!.reason).toMatch(new RegExp(`… \\(truncated, ${Buffer.byteLength(reason)} bytes\\) …`));
    expect(fitted.lastError!.reason.endsWith('panic: the real cause')).toBe(true);
    // Everything else is untouched.
    expect({ ...fitted, lastError: undefined }).toEqual({ ...status, lastError: undefined });
  });

  it('cuts check details and result lists, failing results first', () => {
    const lastResults = Array.from({ length: 200 }, (_, i) => ({ check: `check-${i}`, ok: i % 50 !== 7, detail: `GET /health → ${'body '.repeat(2_000)}`, at }));
    const status: ComponentStatus = {
      ...baseStatus,
      phase: 'running',
      health: { state: 'unhealthy', failing: Array.from({ length: 100 }, (_, i) => `check-${i}`), lastResults, checkedAt: at },
    };
    const fitted = fitComponentStatus(status);
    expect(jsonBytes(fitted)).toBeLessThanOrEqual(STATUS_MAX_BYTES);
    expect(componentStatusSchema.parse(fitted)).toEqual(fitted);
    const kept = fitted.health!.lastResults;
    expect(kept.length).toBeLessThan(200);
    // All four failing ones are kept, in their order among the rest.
    expect(kept.filter((r) => !r.ok).map((r) => r.check)).toEqual(['check-7', 'check-57', 'check-107', 'check-157']);
    expect(kept.every((r) => r.detail.includes('(truncated, '))).toBe(true);
    expect(fitted.health!.failing.at(-1)).toMatch(/^… \(\d+ more, truncated\)$/);
  });

  it('always fits, whatever is huge, and stays valid', () => {
    const huge = 'z'.repeat(MiB);
    const status: ComponentStatus = {
      ...baseStatus,
      version: huge,
      image: huge,
      containers: Array.from({ length: 5_000 }, (_, i) => ({ id: `c${i}`, version: 'v1', role: 'leftover' as const, state: huge.slice(0, 1000) })),
      lastError: { key: huge, reason: huge, at },
    };
    for (const limit of [STATUS_MAX_BYTES, 8 * 1024, 1024]) {
      const fitted = fitComponentStatus(status, limit);
      expect(jsonBytes(fitted)).toBeLessThanOrEqual(limit);
      expect(componentStatusSchema.parse(fitted)).toEqual(fitted);
      expect(fitted.phase).toBe('failed');
    }
  });
});

describe('fitAgentStatus', () => {
  it('returns a record that fits as it is', () => {
    const status: AgentStatus = { agentVersion: '0.1.0', problems: [{ key: '/k', reason: 'bad', at }], updatedAt: at };
    expect(fitAgentStatus(status)).toBe(status);
  });

  it('cuts a validation report of a megabyte config, naming its key', () => {
    const key = '/gantry/v1/projects/p/config';
    const reason = `${key} is invalid:\n${Array.from({ length: 40_000 }, (_, i) => `  - components[${i}].repo: Invalid input: expected string, received number`).join('\n')}`;
    const status: AgentStatus = { agentVersion: '0.1.0', problems: [{ key, reason, at }], updatedAt: at };
    const fitted = fitAgentStatus(status);
    expect(jsonBytes(fitted)).toBeLessThanOrEqual(STATUS_MAX_BYTES);
    expect(agentStatusSchema.parse(fitted)).toEqual(fitted);
    expect(fitted.problems).toHaveLength(1);
    expect(fitted.problems[0].key).toBe(key);
    expect(fitted.problems[0].reason).toMatch(/^\/gantry\/v1\/projects\/p\/config is invalid:\n {2}- components\[0\]\.repo/);
    expect(fitted.problems[0].reason).toContain('(truncated, ');
  });

  it('sums up problems past a count in one last problem', () => {
    const problems = Array.from({ length: 5_000 }, (_, i) => ({ key: `/gantry/v1/projects/p/hosts/h/desired/c${i}`, reason: `not valid JSON: ${'?'.repeat(100)}`, at }));
    const status: AgentStatus = { agentVersion: '0.1.0', problems, updatedAt: at };
    const fitted = fitAgentStatus(status);
    expect(jsonBytes(fitted)).toBeLessThanOrEqual(STATUS_MAX_BYTES);
    expect(agentStatusSchema.parse(fitted)).toEqual(fitted);
    const kept = fitted.problems.length - 1;
    expect(fitted.problems.slice(0, kept)).toEqual(problems.slice(0, kept));
    expect(fitted.problems.at(-1)).toEqual({ reason: `… and ${5_000 - kept} more problems (truncated)`, at });
  });

  it('always fits', () => {
    const huge = 'p'.repeat(MiB);
    const status: AgentStatus = { agentVersion: huge, problems: Array.from({ length: 10 }, () => ({ key: huge, reason: huge, at })), updatedAt: at };
    for (const limit of [STATUS_MAX_BYTES, 1024]) {
      const fitted = fitAgentStatus(status, limit);
      expect(jsonBytes(fitted)).toBeLessThanOrEqual(limit);
      expect(agentStatusSchema.parse(fitted)).toEqual(fitted);
    }
  });
});
