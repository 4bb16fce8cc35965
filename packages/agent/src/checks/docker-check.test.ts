import type { DockerHealth } from './check-target';
import { fakeTarget } from './check-test-servers';
import { checkDocker } from './docker-check';

const withHealth = (health: DockerHealth) => fakeTarget({ dockerHealth: async () => health });

describe('checkDocker', () => {
  it('passes only when Docker reports healthy', async () => {
    expect(await checkDocker(withHealth('healthy'), { timeoutMs: 1000 })).toEqual({ ok: true, detail: 'docker health → healthy' });
    expect(await checkDocker(withHealth('starting'), { timeoutMs: 1000 })).toEqual({ ok: false, detail: 'docker health → starting' });
    expect(await checkDocker(withHealth('unhealthy'), { timeoutMs: 1000 })).toEqual({ ok: false, detail: 'docker health → unhealthy' });
  });

  it('fails clearly when the image has no HEALTHCHECK', async () => {
    expect(await checkDocker(withHealth('none'), { timeoutMs: 1000 })).toEqual({ ok: false, detail: 'image has no HEALTHCHECK' });
  });

  it('fails when asking Docker fails or takes too long', async () => {
    expect(await checkDocker(fakeTarget({ dockerHealth: () => Promise.reject(new Error('no such container')) }), { timeoutMs: 1000 })).toEqual({
      ok: false,
      detail: 'docker health → no such container',
    });
    expect(await checkDocker(fakeTarget({ dockerHealth: () => new Promise(() => undefined) }), { timeoutMs: 20 })).toEqual({
      ok: false,
      detail: 'docker health → timed out after 20 ms',
    });
  });
});
