import { componentSchema, type ComponentInput } from '@gantry/spec';
import { bindHostPath, containerCreateOptions, type ContainerContext } from './container-spec';

const component = (input: Partial<ComponentInput> = {}) => componentSchema.parse({ name: 'web', repo: 'registry.example:5000/org/web', ...input });
const ctx: ContainerContext = { project: 'shop', hostId: 'host-1', version: 'v1', imageRef: 'registry.example:5000/org/web:v1', instanceId: 'abcdef012345' };

describe('containerCreateOptions', () => {
  it('maps a minimal component: image, labels, name, restart policy, stop timeout; no Cmd/User', () => {
    const options = containerCreateOptions(component(), ctx);
    expect(options.name).toBe('gantry.host-1.shop.web.v1.abcdef');
    expect(options.Image).toBe('registry.example:5000/org/web:v1');
    expect(options).not.toHaveProperty('Cmd');
    expect(options).not.toHaveProperty('User');
    expect(options).not.toHaveProperty('Healthcheck'); // the image's HEALTHCHECK applies
    expect(options.Env).toEqual([]);
    expect(options.Labels).toEqual({
      'io.gantry.managed': 'true',
      'io.gantry.project': 'shop',
      'io.gantry.component': 'web',
      'io.gantry.host': 'host-1',
      'io.gantry.version': 'v1',
      'io.gantry.instance': 'abcdef012345',
    });
    // The default terminationCheck ("connection") has no port: nothing to publish.
    expect(options.ExposedPorts).toEqual({});
    expect(options.StopTimeout).toBe(10);
    expect(options.HostConfig).toEqual({ PortBindings: {}, Binds: [], VolumesFrom: [], Privileged: false, RestartPolicy: { Name: 'unless-stopped' } });
  });

  it('publishes every container port (served, checks, signals, links) on 127.0.0.1 with an ephemeral host port', () => {
    const options = containerCreateOptions(
      component({
        ports: [{ external: 80, container: 8080, kind: 'http' }],
        readyChecks: [{ kind: 'http', port: 8080, path: '/ready' }, { kind: 'tcp', port: 9000 }],
        healthChecks: [{ kind: 'exec', command: ['true'] }],
        terminationSignals: [{ kind: 'http', port: 9001, path: '/drain' }],
        defineComponentLinks: [{ name: 'admin', port: 7000 }],
      }),
      ctx,
    );
    expect(options.ExposedPorts).toEqual({ '7000/tcp': {}, '8080/tcp': {}, '9000/tcp': {}, '9001/tcp': {} });
    expect(options.HostConfig?.PortBindings).toEqual({
      '7000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
      '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
      '9000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
      '9001/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
    });
  });

  it('honours publishAddress', () => {
    const options = containerCreateOptions(component({ ports: [{ external: 80, container: 8080 }] }), { ...ctx, publishAddress: '10.0.0.5' });
    expect(options.HostConfig?.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '10.0.0.5', HostPort: '' }] });
  });

  it('maps command, user, env, privileged, volumesFrom, restart policy, memory, cpus and stop timeout', () => {
    const options = containerCreateOptions(
      component({
        command: ['/usr/bin/node', '/app/server.js', '--flag'],
        user: '1000:1000',
        environmentVariables: [
          { name: 'A', value: '1' },
          { name: 'EMPTY', value: '' },
          { name: 'WITH_EQ', value: 'x=y z' },
        ],
        privileged: true,
        volumesFrom: ['data-container'],
        restartPolicy: 'on-failure',
        memory: '512m',
        cpus: 1.5,
        stopTimeout: 2_500,
      }),
      ctx,
    );
    expect(options.Cmd).toEqual(['/usr/bin/node', '/app/server.js', '--flag']);
    expect(options.User).toBe('1000:1000');
    expect(options.Env).toEqual(['A=1', 'EMPTY=', 'WITH_EQ=x=y z']);
    expect(options.StopTimeout).toBe(3); // 2.5 s rounded up
    expect(options.HostConfig).toMatchObject({
      Privileged: true,
      VolumesFrom: ['data-container'],
      RestartPolicy: { Name: 'on-failure' },
      Memory: 512 * 1024 * 1024,
      NanoCpus: 1_500_000_000,
    });
  });

  it('adds capabilities only when asked (no CapAdd key otherwise), and refuses an unread valueFrom', () => {
    expect(containerCreateOptions(component({ capAdd: ['NET_BIND_SERVICE'] }), ctx).HostConfig?.CapAdd).toEqual(['NET_BIND_SERVICE']);
    expect(containerCreateOptions(component(), ctx).HostConfig).not.toHaveProperty('CapAdd');
    expect(() => containerCreateOptions(component({ environmentVariables: [{ name: 'PW', valueFrom: { file: '/etc/gantry/secrets/pw' } }] }), ctx)).toThrow(
      'environment variable PW: its valueFrom file was not read',
    );
  });

  it('rounds stop timeouts up to whole seconds, 0 stays 0', () => {
    expect(containerCreateOptions(component({ stopTimeout: 0 }), ctx).StopTimeout).toBe(0);
    expect(containerCreateOptions(component({ stopTimeout: 1 }), ctx).StopTimeout).toBe(1);
    expect(containerCreateOptions(component({ stopTimeout: 10_000 }), ctx).StopTimeout).toBe(10);
  });

  it('maps bindings, substituting the instance id for {container_id}', () => {
    const options = containerCreateOptions(
      component({
        bindings: [
          { external: '/var/log/web/{container_id}', volume: '/logs' },
          { external: '/etc/web', volume: '/config', readOnly: true },
          { external: 'named-volume', volume: '/data' },
        ],
      }),
      ctx,
    );
    expect(options.HostConfig?.Binds).toEqual(['/var/log/web/abcdef012345:/logs', '/etc/web:/config:ro', 'named-volume:/data']);
    expect(bindHostPath('/a/{container_id}/b/{container_id}', 'x1')).toBe('/a/x1/b/x1');
  });

  it('adds the component labels, but its own io.gantry.* labels cannot override ours', () => {
    const options = containerCreateOptions(component({ labels: { team: 'payments', 'io.gantry.host': 'elsewhere' } }), { ...ctx, configHash: 'h123' });
    expect(options.Labels).toMatchObject({ team: 'payments', 'io.gantry.host': 'host-1', 'io.gantry.config-hash': 'h123' });
  });

  it('sanitises a digest version in the name but keeps it whole in the label', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const options = containerCreateOptions(component({ digest }), { ...ctx, version: digest, imageRef: `registry.example:5000/org/web@${digest}` });
    expect(options.name).toBe('gantry.host-1.shop.web.sha256-abababababab.abcdef');
    expect(options.Labels?.['io.gantry.version']).toBe(digest);
    expect(options.Image).toBe(`registry.example:5000/org/web@${digest}`);
  });

  it('is pure: same input, same output, input not mutated', () => {
    const c = component({ command: ['a'], volumesFrom: ['v'] });
    const before = JSON.stringify(c);
    const a = containerCreateOptions(c, ctx);
    a.Cmd?.push('mutated');
    a.HostConfig?.VolumesFrom?.push('mutated');
    expect(JSON.stringify(c)).toBe(before);
    expect(containerCreateOptions(c, ctx)).toEqual(containerCreateOptions(c, ctx));
  });
});
