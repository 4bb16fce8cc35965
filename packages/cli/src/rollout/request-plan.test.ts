import { KeyLayout, rolloutRequestSchema } from '@gantry/spec';
import { CliError } from '../cli-error';
import { buildRequest, controlValue, planControl, planDeploy, rolloutId } from './request-plan';

const keys = new KeyLayout();
const meta = { id: 'r-20260102030405-abcd', createdBy: 'ops@box', createdAt: new Date('2026-01-02T03:04:05.000Z') };
const failure = (run: () => unknown): CliError => {
  try {
    run();
  } catch (err) {
    return err as CliError;
  }
  throw new Error('expected a failure');
};

describe('rolloutId', () => {
  it('is r-<yyyymmddHHMMss>-<4 hex> in UTC', () => {
    expect(rolloutId(new Date('2026-11-22T06:07:08.999Z'), '0f3a')).toBe('r-20261122060708-0f3a');
  });
});

describe('buildRequest', () => {
  it('applies the schema defaults when no policy flag is given', () => {
    const request = buildRequest({ component: 'web', tag: 'v2' }, meta);
    expect(request).toEqual({
      id: meta.id,
      component: 'web',
      toVersion: 'v2',
      policy: { batch: { count: 1 }, canary: 0, minReadySeconds: 0, progressDeadlineSeconds: 600, autoRollback: false, hosts: { all: true }, onHostLost: 'fail', preflight: true },
      createdBy: 'ops@box',
      createdAt: '2026-01-02T03:04:05.000Z',
    });
    expect(rolloutRequestSchema.safeParse(request).success).toBe(true);
  });

  it('turns every flag into the policy', () => {
    const request = buildRequest({ component: 'web', tag: 'v2.1', batch: '25%', canary: 1, minReady: 30, progressDeadline: 120, autoRollback: true, hosts: 'zone=a,tier=web' }, meta);
    expect(request.policy).toEqual({ batch: { percent: 25 }, canary: 1, minReadySeconds: 30, progressDeadlineSeconds: 120, autoRollback: true, hosts: { labels: { zone: 'a', tier: 'web' } }, onHostLost: 'fail', preflight: true });
    expect(buildRequest({ component: 'web', tag: 'v2', onHostLost: 'skip' }, meta).policy.onHostLost).toBe('skip');
    expect(buildRequest({ component: 'web', tag: 'v2', preflight: false }, meta).policy.preflight).toBe(false);
    expect(buildRequest({ component: 'web', tag: 'v2', batch: '3', hosts: 'h1,h2' }, meta).policy).toMatchObject({ batch: { count: 3 }, hosts: { ids: ['h1', 'h2'] } });
  });

  it.each([
    [{ tag: 'bad tag' }, 'tag'],
    [{ tag: '.v2' }, 'tag'],
    [{ batch: '0' }, 'batch'],
    [{ batch: '150%' }, 'batch'],
    [{ batch: 'two' }, 'batch'],
    [{ canary: -1 }, 'canary'],
    [{ canary: 1.5 }, 'canary'],
    [{ minReady: -1 }, 'min-ready'],
    [{ progressDeadline: 0 }, 'progress-deadline'],
    [{ progressDeadline: Number.NaN }, 'progress-deadline'],
    [{ hosts: 'zone=a,h1' }, 'hosts'],
    [{ hosts: ',' }, 'hosts'],
    [{ onHostLost: 'ignore' }, 'on-host-lost'],
  ])('refuses %p naming --%s, exit 2', (flags, flag) => {
    const err = failure(() => buildRequest({ component: 'web', tag: 'v2', ...flags }, meta));
    expect(err).toBeInstanceOf(CliError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(`--${flag}`);
  });

  it('refuses an invalid component name', () => {
    expect(failure(() => buildRequest({ component: 'we b', tag: 'v2' }, meta)).exitCode).toBe(2);
  });
});

describe('planDeploy', () => {
  it('writes the request only if none exists and the config is unchanged, clearing a stale control and state', () => {
    const request = buildRequest({ component: 'web', tag: 'v2' }, meta);
    const plan = planDeploy({ keys, project: 'p', request, configModRevision: '42' });
    expect(plan.guards).toEqual([
      { key: '/gantry/v1/projects/p/rollouts/web/request', modRevision: '0' },
      { key: '/gantry/v1/projects/p/config', modRevision: '42' },
    ]);
    expect(plan.puts).toEqual([{ key: '/gantry/v1/projects/p/rollouts/web/request', value: JSON.stringify(request) }]);
    expect(plan.deletes).toEqual(['/gantry/v1/projects/p/rollouts/web/control', '/gantry/v1/projects/p/rollouts/web/state']);
  });
});

describe('control', () => {
  it('is written for the active rollout only while its request is unchanged', () => {
    const control = controlValue({ rollout: 'r-1', action: 'pause', by: 'ops@box', at: new Date('2026-01-02T03:04:05.000Z') });
    expect(control).toEqual({ rollout: 'r-1', action: 'pause', by: 'ops@box', at: '2026-01-02T03:04:05.000Z' });
    const plan = planControl({ keys, project: 'p', component: 'web', control, requestModRevision: '7' });
    expect(plan).toEqual({
      guards: [{ key: '/gantry/v1/projects/p/rollouts/web/request', modRevision: '7' }],
      puts: [{ key: '/gantry/v1/projects/p/rollouts/web/control', value: JSON.stringify(control) }],
      deletes: [],
    });
  });
});
