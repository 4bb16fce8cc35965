import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerPorts, imageReference } from './component';
import { findComponent, projectConfigSchema } from './config';
import { parseJson, parseValue } from './validation';

const repoRoot = join(__dirname, '../../..');

describe('project config', () => {
  it("loads the Quay article's Gantryd config unchanged, with Gantry's defaults", () => {
    const text = readFileSync(join(repoRoot, 'docs/examples/quay-production.json'), 'utf8');
    const parsed = parseJson(projectConfigSchema, text, 'quay-production.json');
    if (!parsed.ok) throw parsed.error;
    const quay = findComponent(parsed.value, 'quay')!;
    expect(quay.readyTimeout).toBe(100000);
    expect(quay.ports).toEqual([
      { container: 443, external: 443, kind: 'tcp' },
      { container: 80, external: 80, kind: 'tcp' },
    ]);
    expect(quay.readyChecks[0]).toMatchObject({ kind: 'https', port: 443, path: '/status', timeout: 3 });
    expect(quay.terminationChecks).toEqual([{ kind: 'connection', timeout: 3, retries: 3 }]);
    expect(quay.drainTimeout).toBe(30000);
    expect(imageReference(quay)).toBe('quay.io/quay/quay:latest');
    expect(containerPorts(quay)).toEqual([80, 443]);
  });

  it('reports every problem at once, each with its JSON path', () => {
    const parsed = parseValue(
      projectConfigSchema,
      {
        components: [
          { name: 'web', repo: 'app', ports: [{ external: 80, container: 'eighty' }], readyChecks: [{ kind: 'http' }], readyTimout: 5 },
          { name: 'web', repo: 'app', ports: [{ external: 80, container: 8080 }], memory: 'lots' },
        ],
      },
      'prod.json',
    );
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    const paths = parsed.error.problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'components[0].ports[0].container',
        'components[0].readyChecks[0].port',
        'components[0]',
        'components[1].memory',
      ]),
    );
    expect(parsed.error.message).toContain('prod.json is invalid');
    expect(parsed.error.message).toMatch(/readyTimout/);
  });

  it('rejects duplicate names and external ports once the components themselves are valid', () => {
    const parsed = parseValue(
      projectConfigSchema,
      {
        components: [
          { name: 'web', repo: 'app', ports: [{ external: 80, container: 8080 }] },
          { name: 'web', repo: 'app', ports: [{ external: 80, container: 8080 }] },
        ],
      },
      'dup.json',
    );
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.problems).toEqual([
      { path: 'components[1].name', message: 'duplicate component name "web" (also components[0])' },
      { path: 'components[1].ports[0].external', message: 'external port 80 is already served by components[0].ports[0]' },
    ]);
  });

  it('reports text that is not JSON at the root', () => {
    const parsed = parseJson(projectConfigSchema, '{"components": [', 'broken.json');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.problems[0]).toMatchObject({ path: '(root)', message: expect.stringMatching(/^not valid JSON/) });
  });

  it('parses memory sizes and pins images by digest', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const parsed = parseValue(projectConfigSchema, { components: [{ name: 'w', repo: '127.0.0.1:5000/demo', memory: '512m', digest }] }, 'x');
    if (!parsed.ok) throw parsed.error;
    expect(parsed.value.components[0].memory).toBe(512 * 1024 * 1024);
    expect(imageReference(parsed.value.components[0])).toBe(`127.0.0.1:5000/demo@${digest}`);
  });
});
