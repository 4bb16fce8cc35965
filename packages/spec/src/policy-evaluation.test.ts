import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { componentSchema, type ComponentInput } from './component';
import { projectConfigSchema } from './config';
import { defaultHostPolicy, hostPolicySchema, PROTECTED_HOST_PATHS, type HostPolicyInput } from './host-policy';
import { describeViolation, evaluateComponent, evaluateConfig } from './policy-evaluation';
import { parseJson } from './validation';

const component = (overrides: Partial<ComponentInput> = {}) => componentSchema.parse({ name: 'web', repo: '127.0.0.1:5000/gantry/demo-app', ...overrides });
const policy = (input: HostPolicyInput = {}) => hostPolicySchema.parse(input);
const bind = (external: string, readOnly = false) => ({ external, volume: '/data', readOnly });
const messages = (c: ReturnType<typeof component>, p = defaultHostPolicy(), opts = {}) => evaluateComponent(c, 0, p, opts).map(describeViolation);

describe('the default policy (no policy file)', () => {
  it('runs Gantryd\'s Quay example and the demo config as they are', () => {
    const text = readFileSync(join(__dirname, '../../../docs/examples/quay-production.json'), 'utf8');
    const parsed = parseJson(projectConfigSchema, text, 'quay');
    expect(parsed.ok && evaluateConfig(parsed.value, defaultHostPolicy())).toEqual([]);
    const demo = readFileSync(join(__dirname, '../../../docs/examples/demo.json'), 'utf8');
    const parsedDemo = parseJson(projectConfigSchema, demo, 'demo');
    expect(parsedDemo.ok && evaluateConfig(parsedDemo.value, defaultHostPolicy())).toEqual([]);
  });

  it('refuses the Docker socket, naming the field, the rule and why', () => {
    expect(messages(component({ bindings: [bind('/srv/app'), bind('/var/run/docker.sock')] }))).toEqual([
      "components[0].bindings[1].external: /var/run/docker.sock is not allowed by this host's policy (Docker socket: /var/run/docker.sock)",
    ]);
  });

  it('refuses privileged, added capabilities and volumesFrom', () => {
    const v = evaluateComponent(component({ privileged: true, capAdd: ['NET_ADMIN'], volumesFrom: ['other'] }), 3, defaultHostPolicy());
    expect(v.map((x) => [x.path, x.rule])).toEqual([
      ['components[3].privileged', 'privileged'],
      ['components[3].volumesFrom[0]', 'volumesFrom'],
      ['components[3].capAdd[0]', 'capAdd'],
    ]);
  });

  it.each(['/', '/etc', '/etc/', '/proc/sys', '/sys', '/dev/sda', '/root/.ssh', '/boot', '/run', '/var/lib/docker', '/var', '/usr/bin', '/lib64', '/var/lib/etcd', '/etc/gantry/secrets', '//etc//passwd', '/srv/../../etc', '/var/run/../lib/docker'])(
    'refuses the system path %s, read-only too',
    (path) => {
      expect(evaluateComponent(component({ bindings: [bind(path, true)] }), 0, defaultHostPolicy())).toHaveLength(1);
    },
  );

  it.each(['/srv/app', '/home/ubuntu/quayconfig', '/mnt/logs', '/etcd-data', '/var/log/app', '/opt/app/{container_id}', '/tmp/x'])('allows %s', (path) => {
    expect(messages(component({ bindings: [bind(path)] }))).toEqual([]);
  });

  it('allows a named volume (Docker keeps it in its own storage)', () => {
    expect(messages(component({ bindings: [bind('appdata')] }))).toEqual([]);
  });

  it('judges a path by where its symlinks lead: /tmp/link → / is refused', () => {
    const resolvePath = (p: string) => (p === '/tmp/link' || p.startsWith('/tmp/link/') ? p.replace('/tmp/link', '') || '/' : p);
    expect(messages(component({ bindings: [bind('/tmp/link')] }), defaultHostPolicy(), { resolvePath })).toEqual([
      "components[0].bindings[0].external: /tmp/link (resolves to /) is not allowed by this host's policy (it contains /var/run/docker.sock: Docker socket)",
    ]);
    expect(messages(component({ bindings: [bind('/tmp/link/etc')] }), defaultHostPolicy(), { resolvePath })).toHaveLength(1);
  });

  it('climbs ".." from where a symlink leads, as the kernel does: /var/run/../etc is /etc when /var/run → /run', () => {
    const resolvePath = (p: string) => (p === '/var/run/../etc' ? '/etc' : p);
    expect(messages(component({ bindings: [bind('/var/run/../etc')] }))).toEqual([]);
    expect(messages(component({ bindings: [bind('/var/run/../etc')] }), defaultHostPolicy(), { resolvePath })).toEqual([
      "components[0].bindings[0].external: /var/run/../etc (resolves to /etc) is not allowed by this host's policy (host configuration: users, sudoers, cron, systemd units: /etc)",
    ]);
  });

  it('protects what the agent adds: its own Docker socket', () => {
    const extraProtected = [{ path: '/tmp/gantry-dev/docker.sock', why: 'Docker socket' }];
    expect(messages(component({ bindings: [bind('/tmp/gantry-dev')] }), defaultHostPolicy(), { extraProtected })).toEqual([
      "components[0].bindings[0].external: /tmp/gantry-dev is not allowed by this host's policy (it contains /tmp/gantry-dev/docker.sock: Docker socket)",
    ]);
  });

  it('keeps {container_id} as written in the message', () => {
    expect(messages(component({ bindings: [bind('/etc/{container_id}')] }))[0]).toMatch(/^components\[0\]\.bindings\[0\]\.external: \/etc\/\{container_id\} is not allowed/);
  });

  it('reads secret files only under /etc/gantry/secrets/', () => {
    const env = (file: string) => component({ environmentVariables: [{ name: 'A', value: 'x' }, { name: 'DB_PASSWORD', valueFrom: { file } }] });
    expect(messages(env('/etc/gantry/secrets/db'))).toEqual([]);
    expect(messages(env('/etc/gantry/secrets/../../shadow'))).toEqual([
      "components[0].environmentVariables[1].valueFrom.file: /etc/gantry/secrets/../../shadow (resolves to /etc/shadow) is not allowed by this host's policy (not under a secret files directory: /etc/gantry/secrets/)",
    ]);
    const resolvePath = (p: string) => (p === '/etc/gantry/secrets/link' ? '/etc/shadow' : p);
    expect(messages(env('/etc/gantry/secrets/link'), defaultHostPolicy(), { resolvePath })).toHaveLength(1);
  });
});

describe('a policy file', () => {
  it('allows what it names: privileged, capabilities (any spelling), volumesFrom', () => {
    const p = policy({ privileged: true, capAdd: ['net_admin'], volumesFrom: true });
    expect(messages(component({ privileged: true, capAdd: ['CAP_NET_ADMIN', 'NET_ADMIN'], volumesFrom: ['x'] }), p)).toEqual([]);
    expect(messages(component({ capAdd: ['SYS_ADMIN'] }), p)).toEqual(["components[0].capAdd[0]: capability SYS_ADMIN is not allowed by this host's policy (allowed: net_admin)"]);
    expect(messages(component({ capAdd: ['ALL'] }), p)).toHaveLength(1);
    expect(messages(component({ capAdd: ['SYS_ADMIN', 'ALL'] }), policy({ capAdd: ['ALL'] }))).toEqual([]);
  });

  it('limits binds to its paths, read-only unless a rule says otherwise', () => {
    const p = policy({ bindings: [{ path: '/srv/config' }, { path: '/srv/data', readOnly: false }] });
    expect(messages(component({ bindings: [bind('/srv/config/app', true), bind('/srv/data/x')] }), p)).toEqual([]);
    expect(messages(component({ bindings: [bind('/srv/config/app')] }), p)).toEqual([
      'components[0].bindings[0].external: /srv/config/app may only be bound read-only on this host (set "readOnly": true)',
    ]);
    expect(messages(component({ bindings: [bind('/srv/other', true), bind('/srv/configx', true)] }), p).map((m) => m.slice(0, 36))).toEqual([
      'components[0].bindings[0].external: ',
      'components[0].bindings[1].external: ',
    ]);
  });

  it('opens a protected path only when a rule names it or a path under it: "/" does not', () => {
    const p = policy({ bindings: [{ path: '/', readOnly: false }, { path: '/etc/ssl/certs' }, { path: '/var/run/docker.sock', readOnly: false }] });
    expect(messages(component({ bindings: [bind('/etc/ssl/certs', true), bind('/var/run/docker.sock'), bind('/srv/x')] }), p)).toEqual([]);
    expect(messages(component({ bindings: [bind('/etc/passwd', true)] }), p)).toHaveLength(1);
    expect(messages(component({ bindings: [bind('/etc', true)] }), p)).toHaveLength(1);
  });

  it('limits registries, matched segment by segment', () => {
    const p = policy({ registries: ['127.0.0.1:5000', 'quay.io/myorg', 'docker.io'] });
    for (const repo of ['127.0.0.1:5000/gantry/demo-app', 'quay.io/myorg/app', 'nginx', 'library/redis']) expect(messages(component({ repo }), p)).toEqual([]);
    expect(messages(component({ repo: 'quay.io/myorganisation/app' }), p)).toEqual([
      "components[0].repo: quay.io/myorganisation/app (registry quay.io) is not allowed by this host's policy (allowed: 127.0.0.1:5000, quay.io/myorg, docker.io)",
    ]);
    expect(messages(component({ repo: 'ghcr.io/x/y' }), policy({ registries: [] }))).toHaveLength(1);
  });
});

describe('no spelling escapes the system-path rule (property)', () => {
  // Segments that normalisation folds away: ".", "", and a detour that ".." takes back.
  const noise = fc.constantFrom('.', '', 'x/..', 'a/b/../..', '../..');
  const spelling = (target: string) =>
    fc.array(noise, { maxLength: 4 }).chain((prefix) =>
      fc.array(noise, { maxLength: 3 }).map((suffix) => `/${prefix.join('/')}/${target.replace(/^\//, '')}/${suffix.join('/')}`.replace(/\/\/+/g, (m) => (m.length > 2 ? '//' : m))),
    );
  it('every spelling of a protected path, or of a path under it, is refused', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PROTECTED_HOST_PATHS.map((p) => p.path)),
        fc.array(fc.stringMatching(/^[a-z0-9_-]{1,8}$/), { maxLength: 2 }),
        fc.boolean(),
        (protectedPath, below, readOnly) => {
          const target = [protectedPath, ...below].join('/');
          fc.assert(
            fc.property(spelling(target), (path) => evaluateComponent(component({ bindings: [bind(path, readOnly)] }), 0, defaultHostPolicy()).length === 1),
            { numRuns: 20 },
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('any path that resolves onto a protected one through a symlink is refused', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\/[a-z]{1,6}\/[a-z]{1,6}$/), fc.constantFrom('/', ...PROTECTED_HOST_PATHS.map((p) => p.path)), (link, target) => {
        const resolvePath = (p: string) => (p === link ? target : p.startsWith(`${link}/`) ? `${target === '/' ? '' : target}${p.slice(link.length)}` : p);
        return evaluateComponent(component({ bindings: [bind(link)] }), 0, defaultHostPolicy(), { resolvePath }).length === 1;
      }),
    );
  });
});
