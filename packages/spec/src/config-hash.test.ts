import { componentSchema } from './component';
import { componentConfigHash } from './config-hash';

describe('componentConfigHash', () => {
  const before = { name: 'web', repo: 'app', bindings: [{ external: '/srv/x', volume: '/x' }], environmentVariables: [{ name: 'A', value: '1' }] };

  it('is unchanged for a config from before capAdd, valueFrom and secret (its containers are kept)', () => {
    // Pinned from the code before those fields existed (commit c4c23e0).
    expect(componentConfigHash(componentSchema.parse(before))).toBe('b7233e8e07c1');
    expect(componentConfigHash(componentSchema.parse({ ...before, capAdd: [] }))).toBe('b7233e8e07c1');
  });

  it('changes with what shapes the container (capabilities, a secret file path), not with the secret mark', () => {
    const hash = (extra: object) => componentConfigHash(componentSchema.parse({ ...before, ...extra }));
    const seen = new Set([
      hash({}),
      hash({ capAdd: ['NET_ADMIN'] }),
      hash({ environmentVariables: [{ name: 'A', valueFrom: { file: '/etc/gantry/secrets/a' } }] }),
      hash({ environmentVariables: [{ name: 'A', valueFrom: { file: '/etc/gantry/secrets/b' } }] }),
    ]);
    expect(seen.size).toBe(4);
    expect(hash({ environmentVariables: [{ name: 'A', value: '1', secret: true }] })).toBe(hash({}));
  });
});
