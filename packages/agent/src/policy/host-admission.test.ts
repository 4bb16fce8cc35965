import { defaultHostPolicy, hostPolicySchema, projectConfigSchema } from '@gantry/spec';
import { dockerSocketPath, HostAdmission } from './host-admission';

const config = (bindings: Array<{ external: string; volume: string }>) => projectConfigSchema.parse({ components: [{ name: 'other', repo: 'app' }, { name: 'web', repo: 'app', bindings }] });

describe('HostAdmission', () => {
  it('names the policy, the field and the rule of every violation', () => {
    // Judged as written (no symlinks followed), with a TCP Docker host: the message is this host's.
    const admission = new HostAdmission({ policy: defaultHostPolicy(), source: 'the default policy (no /etc/gantry/policy.json)' }, { dockerHost: 'tcp://127.0.0.1:2375', resolvePath: (p) => p });
    expect(admission.refusal(config([{ external: '/srv/x', volume: '/x' }]), 'web')).toBeUndefined();
    expect(admission.refusal(config([{ external: '/var/run/docker.sock', volume: '/s' }]), 'web')).toBe(
      "refused by this host's policy (the default policy (no /etc/gantry/policy.json)): components[1].bindings[0].external: /var/run/docker.sock is not allowed by this host's policy (Docker socket: /var/run/docker.sock)",
    );
  });

  it("protects this agent's own Docker socket and state directory, wherever they are", () => {
    const admission = new HostAdmission({ policy: defaultHostPolicy(), source: 'p' }, { dockerHost: 'unix:///tmp/dev/docker.sock', stateDir: '/srv/gantry-state' });
    expect(admission.violations(config([{ external: '/tmp/dev', volume: '/d' }]), 'web')[0].message).toMatch(/contains \/tmp\/dev\/docker\.sock: this host's Docker socket/);
    expect(admission.violations(config([{ external: '/srv/gantry-state/h1', volume: '/d' }]), 'web')[0].message).toMatch(/gantryd's state/);
  });

  it('judges with the policy current at the time', () => {
    const admission = new HostAdmission({ policy: defaultHostPolicy(), source: 'p' });
    const c = projectConfigSchema.parse({ components: [{ name: 'web', repo: 'app', privileged: true }] });
    expect(admission.refusal(c, 'web')).toMatch(/components\[0\]\.privileged/);
    admission.replace({ policy: hostPolicySchema.parse({ privileged: true }), source: 'p2' });
    expect(admission.refusal(c, 'web')).toBeUndefined();
  });

  it('reads the socket path of a unix Docker host', () => {
    expect(dockerSocketPath('unix:///var/run/docker.sock')).toBe('/var/run/docker.sock');
    expect(dockerSocketPath('/tmp/d.sock')).toBe('/tmp/d.sock');
    expect(dockerSocketPath('tcp://127.0.0.1:2375')).toBeUndefined();
  });
});
