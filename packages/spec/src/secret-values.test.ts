import { componentSchema } from './component';
import { redactConfigJson, redactSecrets, secretValuesOf } from './secret-values';

describe('secret values', () => {
  it('are the values marked secret: true', () => {
    const c = componentSchema.parse({
      name: 'web',
      repo: 'app',
      environmentVariables: [
        { name: 'A', value: 'plain' },
        { name: 'B', value: 'hunter22', secret: true },
        { name: 'C', valueFrom: { file: '/etc/gantry/secrets/c' }, secret: true },
      ],
    });
    expect(secretValuesOf(c)).toEqual(['hunter22']);
  });

  it('are replaced in free text, the longest first; too short ones are left', () => {
    expect(redactSecrets('pw=hunter22 again hunter22; x=ab', ['hunter2', 'hunter22', 'ab'])).toBe('pw=*** again ***; x=ab');
  });

  it('are hidden in a stored config, valid or not, and nothing else changes', () => {
    const raw = { components: [{ name: 'web', environmentVariables: [{ name: 'A', value: 'a' }, { name: 'B', value: 'b', secret: true }, 'junk'] }, 7] };
    expect(redactConfigJson(raw)).toEqual({ components: [{ name: 'web', environmentVariables: [{ name: 'A', value: 'a' }, { name: 'B', value: '***', secret: true }, 'junk'] }, 7] });
    expect(redactConfigJson('text')).toBe('text');
  });

  it('need exactly one of value and valueFrom', () => {
    const parse = (v: object) => componentSchema.safeParse({ name: 'web', repo: 'app', environmentVariables: [{ name: 'A', ...v }] }).success;
    expect(parse({ value: 'x' })).toBe(true);
    expect(parse({ valueFrom: { file: '/etc/gantry/secrets/a' } })).toBe(true);
    expect(parse({})).toBe(false);
    expect(parse({ value: 'x', valueFrom: { file: '/etc/gantry/secrets/a' } })).toBe(false);
    expect(parse({ valueFrom: { file: 'relative' } })).toBe(false);
  });
});
