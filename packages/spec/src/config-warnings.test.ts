import { projectConfigSchema } from './config';
import { configWarnings } from './config-warnings';

const config = (component: Record<string, unknown>) => projectConfigSchema.parse({ components: [{ name: 'web', repo: 'quay.io/org/web', ...component }] });

describe('configWarnings', () => {
  it("names what hosts under the default policy would refuse, by field", () => {
    const warnings = configWarnings(
      config({
        privileged: true,
        bindings: [
          { external: '/srv/data', volume: '/data' },
          { external: '/var/run/docker.sock', volume: '/var/run/docker.sock' },
        ],
      }),
    );
    expect(warnings.map((w) => w.path)).toEqual(expect.arrayContaining(['components[0].privileged', 'components[0].bindings[1].external']));
    expect(warnings.some((w) => w.path === 'components[0].bindings[0].external')).toBe(false);
    expect(warnings.every((w) => w.message.startsWith('hosts under the default policy refuse it: ') && w.message.includes('the default policy ('))).toBe(true);
  });

  it('flags credential-looking values stored in plain text, not those marked secret or read from a file', () => {
    const warnings = configWarnings(
      config({
        environmentVariables: [
          { name: 'DB_PASSWORD', value: 'hunter2' },
          { name: 'API_TOKEN', value: 't', secret: true },
          { name: 'SESSION_SECRET', valueFrom: { file: '/etc/gantry/secrets/s' } },
          { name: 'LOG_LEVEL', value: 'info' },
          { name: 'AWS_SECRET_ACCESS_KEY', value: 'k' },
        ],
      }),
    );
    expect(warnings.map((w) => w.path)).toEqual(['components[0].environmentVariables[0]', 'components[0].environmentVariables[4]']);
    expect(warnings[0]!.message).toContain('DB_PASSWORD looks like a secret');
  });

  it('has nothing to say about a plain config', () => {
    expect(configWarnings(config({ environmentVariables: [{ name: 'PORT', value: '8080' }] }))).toEqual([]);
  });
});
