import { componentSchema } from '@gantry/spec';
import { readHostEnvironment } from './environment';
import { EngineError } from './errors';

const component = componentSchema.parse({
  name: 'web',
  repo: 'app',
  environmentVariables: [
    { name: 'PLAIN', value: 'p' },
    { name: 'TOKEN', value: 'tok-1234', secret: true },
    { name: 'DB_PASSWORD', valueFrom: { file: '/etc/gantry/secrets/db' } },
  ],
});
const files = (content: Record<string, string | Buffer>) => (path: string) => {
  if (!(path in content)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  const c = content[path];
  return typeof c === 'string' ? Buffer.from(c) : c;
};

describe('readHostEnvironment', () => {
  it('reads valueFrom files into values, one trailing newline dropped, and knows every secret', () => {
    const host = readHostEnvironment(component, 2, files({ '/etc/gantry/secrets/db': 's3cret-pw\n' }));
    expect(host.component.environmentVariables).toEqual([
      { name: 'PLAIN', value: 'p' },
      { name: 'TOKEN', value: 'tok-1234', secret: true },
      { name: 'DB_PASSWORD', value: 's3cret-pw' },
    ]);
    expect(host.secrets.sort()).toEqual(['s3cret-pw', 'tok-1234']);
    expect(component.environmentVariables[2].value).toBeUndefined(); // the config itself is untouched
  });

  it('a file it cannot read is an error naming the field, the variable and the path', () => {
    const err = (() => {
      try {
        readHostEnvironment(component, 2, files({}));
      } catch (e) {
        return e as EngineError;
      }
    })();
    expect(err).toBeInstanceOf(EngineError);
    expect(err!.code).toBe('secret-file');
    expect(err!.message).toBe('components[2].environmentVariables[2].valueFrom.file (DB_PASSWORD): cannot read /etc/gantry/secrets/db: ENOENT');
  });

  it('refuses a NUL byte or a huge file, without showing the content', () => {
    expect(() => readHostEnvironment(component, 0, files({ '/etc/gantry/secrets/db': Buffer.from('ab\0cd') }))).toThrow(/NUL byte/);
    expect(() => readHostEnvironment(component, 0, files({ '/etc/gantry/secrets/db': 'x'.repeat(70_000) }))).toThrow(/holds 70000 bytes/);
  });
});
