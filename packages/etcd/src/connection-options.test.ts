import { inspect } from 'node:util';
import { DEFAULT_ETCD_ENDPOINT, describeConnection, EtcdConfigError, etcdOptionDefinitions, resolveConnectionOptions, type ResolveConnectionInput } from './connection-options';

/** Resolves with an in-memory file system; never reads the real environment. */
function resolveWith(input: Omit<ResolveConnectionInput, 'readFile'> & { files?: Record<string, string> }) {
  const files = input.files ?? {};
  return resolveConnectionOptions({
    flags: input.flags ?? {},
    env: input.env ?? {},
    readFile: (path) => {
      if (!(path in files)) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      return files[path]!;
    },
  });
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof EtcdConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected an EtcdConfigError');
}

describe('resolveConnectionOptions', () => {
  it('defaults to the local etcd', () => {
    const opts = resolveWith({});
    expect(opts.endpoints).toEqual([DEFAULT_ETCD_ENDPOINT]);
    expect(opts.sources).toEqual({ endpoints: 'default' });
    expect(opts.tls).toBeUndefined();
    expect(opts.auth).toBeUndefined();
  });

  it('reads a comma-separated list, normalising each endpoint', () => {
    const opts = resolveWith({ env: { GANTRY_ETCD_ENDPOINTS: ' http://10.0.0.1:2379/ ,http://etcd-2:2379,, http://[::1]:2379' } });
    expect(opts.endpoints).toEqual(['http://10.0.0.1:2379', 'http://etcd-2:2379', 'http://[::1]:2379']);
    expect(opts.sources.endpoints).toBe('GANTRY_ETCD_ENDPOINTS');
  });

  it('takes flags over environment over file, per setting', () => {
    const files = { '/etc/gantry/etcd.json': JSON.stringify({ endpoints: ['https://file:2379'], ca: 'ca.pem', cert: '/abs/cert.pem', key: 'key.pem', user: 'file-user', password: 'file-pw' }) };
    const opts = resolveWith({
      flags: { 'etcd-endpoints': 'https://flag:2379', 'etcd-config': '/etc/gantry/etcd.json' },
      env: { GANTRY_ETCD_ENDPOINTS: 'https://env:2379', GANTRY_ETCD_USER: 'env-user', GANTRY_ETCD_CA: '' },
      files,
    });
    expect(opts.endpoints).toEqual(['https://flag:2379']);
    // relative paths in the file are relative to the file; an empty variable counts as unset
    expect(opts.tls).toEqual({ caFile: '/etc/gantry/ca.pem', certFile: '/abs/cert.pem', keyFile: '/etc/gantry/key.pem' });
    expect(opts.auth?.user).toBe('env-user');
    expect(opts.auth?.password).toBe('file-pw');
    expect(opts.sources).toEqual({
      endpoints: '--etcd-endpoints',
      ca: '/etc/gantry/etcd.json ("ca")',
      cert: '/etc/gantry/etcd.json ("cert")',
      key: '/etc/gantry/etcd.json ("key")',
      user: 'GANTRY_ETCD_USER',
      password: '/etc/gantry/etcd.json ("password")',
    });
  });

  it('finds the config file through GANTRY_ETCD_CONFIG, and a flag overrides it', () => {
    const files = { '/a.json': '{"endpoints":"http://a:2379"}', '/b.json': '{"endpoints":"http://b:2379"}' };
    expect(resolveWith({ env: { GANTRY_ETCD_CONFIG: '/a.json' }, files }).endpoints).toEqual(['http://a:2379']);
    expect(resolveWith({ env: { GANTRY_ETCD_CONFIG: '/a.json' }, flags: { etcdConfig: '/b.json' }, files }).endpoints).toEqual(['http://b:2379']);
  });

  it('names the source of every bad endpoint', () => {
    expect(problemsOf(() => resolveWith({ flags: { 'etcd-endpoints': 'localhost:2379,ftp://x:21,http://h,http://h:2379/v3' } }))).toEqual([
      '--etcd-endpoints: "localhost:2379" has no scheme: write http://localhost:2379 (or https://)',
      '--etcd-endpoints: "ftp://x:21" has scheme "ftp"; etcd endpoints use http or https',
      '--etcd-endpoints: "http://h" needs an explicit port (etcd listens on 2379 by default)',
      '--etcd-endpoints: "http://h:2379/v3" must not have a path, query or fragment',
    ]);
    expect(problemsOf(() => resolveWith({ env: { GANTRY_ETCD_ENDPOINTS: 'not a url' } }))).toEqual([
      'GANTRY_ETCD_ENDPOINTS: "not a url" is not a URL (expected http://host:port or https://host:port)',
    ]);
    expect(problemsOf(() => resolveWith({ env: { GANTRY_ETCD_CONFIG: '/c.json' }, files: { '/c.json': '{"endpoints":["http://ok:2379","nope"]}' } }))).toEqual([
      '/c.json ("endpoints")[1]: "nope" is not a URL (expected http://host:port or https://host:port)',
    ]);
    expect(problemsOf(() => resolveWith({ env: { GANTRY_ETCD_ENDPOINTS: ' , ' } }))).toEqual(['GANTRY_ETCD_ENDPOINTS: no endpoint given']);
    expect(problemsOf(() => resolveWith({ env: { GANTRY_ETCD_ENDPOINTS: 'http://a:2379,https://b:2379' } }))).toEqual([
      'GANTRY_ETCD_ENDPOINTS: endpoints mix http and https; use one scheme for all',
    ]);
  });

  it('never echoes a password written into an endpoint URL', () => {
    const problems = problemsOf(() => resolveWith({ env: { GANTRY_ETCD_ENDPOINTS: 'http://root:hunter2@etcd:2379' } }));
    expect(problems).toEqual(['GANTRY_ETCD_ENDPOINTS: "http://***@etcd:2379" must not carry credentials (use the etcd user and password settings)']);
    expect(problems.join()).not.toContain('hunter2');
  });

  it('rejects half a client certificate, TLS over http, and half a login', () => {
    expect(problemsOf(() => resolveWith({ flags: { 'etcd-endpoints': 'https://e:2379', 'etcd-cert': '/c.pem' } }))).toEqual([
      '--etcd-cert: a client certificate needs its key (--etcd-key, GANTRY_ETCD_KEY or "key" in the config file)',
    ]);
    expect(problemsOf(() => resolveWith({ env: { GANTRY_ETCD_CA: '/ca.pem' } }))).toEqual([
      'GANTRY_ETCD_CA: TLS files are set but the endpoints (default) use http://; use https:// endpoints',
    ]);
    expect(problemsOf(() => resolveWith({ env: { GANTRY_ETCD_USER: 'gantry' } }))).toEqual([
      'GANTRY_ETCD_USER: an etcd user needs a password (GANTRY_ETCD_PASSWORD, "password" in the config file or --etcd-password)',
    ]);
    expect(problemsOf(() => resolveWith({ flags: { 'etcd-password': 's3cret' } }))).toEqual([
      '--etcd-password: a password needs a user (--etcd-user, GANTRY_ETCD_USER or "user" in the config file)',
    ]);
  });

  it('reports a missing, malformed or misspelt config file with its path and who named it', () => {
    expect(problemsOf(() => resolveWith({ flags: { 'etcd-config': '/missing.json' } }))).toEqual([
      "--etcd-config: cannot read etcd config file /missing.json: ENOENT: no such file or directory, open '/missing.json'",
    ]);
    const [bad] = problemsOf(() => resolveWith({ env: { GANTRY_ETCD_CONFIG: '/bad.json' }, files: { '/bad.json': '{ nope' } }));
    expect(bad).toMatch(/^\/bad\.json \(from GANTRY_ETCD_CONFIG\): not valid JSON: /);
    expect(problemsOf(() => resolveWith({ env: { GANTRY_ETCD_CONFIG: '/t.json' }, files: { '/t.json': '{"endpoint":"http://x:2379","user":7}' } }))).toEqual([
      '/t.json (from GANTRY_ETCD_CONFIG): user: Invalid input: expected string, received number',
      '/t.json (from GANTRY_ETCD_CONFIG): (root): Unrecognized key: "endpoint"',
    ]);
  });

  it('reports a flag given twice or empty', () => {
    expect(problemsOf(() => resolveWith({ flags: { 'etcd-endpoints': ['http://a:2379', 'http://b:2379'], 'etcd-user': '' } }))).toEqual([
      '--etcd-endpoints: must be given once, as text',
      '--etcd-user: is empty',
    ]);
  });
});

describe('describeConnection', () => {
  const opts = resolveWith({
    flags: { 'etcd-endpoints': 'https://e1:2379,https://e2:2379', 'etcd-ca': '/pki/ca.pem', 'etcd-cert': '/pki/c.pem', 'etcd-key': '/pki/c-key.pem', 'etcd-user': 'gantry' },
    env: { GANTRY_ETCD_PASSWORD: 'hunter2' },
  });

  it('describes endpoints, TLS files and the user, with the password masked', () => {
    expect(describeConnection(opts)).toBe(
      'etcd https://e1:2379,https://e2:2379 (from --etcd-endpoints), tls ca=/pki/ca.pem cert=/pki/c.pem key=/pki/c-key.pem, user gantry password ***',
    );
    expect(describeConnection(resolveWith({}))).toBe(`etcd ${DEFAULT_ETCD_ENDPOINT}`);
  });

  it('keeps the password out of JSON, inspect and spreads of the options', () => {
    expect(opts.auth?.password).toBe('hunter2');
    expect(JSON.stringify(opts)).not.toContain('hunter2');
    expect(inspect(opts, { depth: 10 })).not.toContain('hunter2');
    expect(JSON.stringify({ ...opts.auth })).not.toContain('hunter2');
  });
});

describe('etcdOptionDefinitions', () => {
  it('defines every etcd flag as a string option without a default', () => {
    expect(Object.keys(etcdOptionDefinitions).sort()).toEqual(['etcd-ca', 'etcd-cert', 'etcd-config', 'etcd-endpoints', 'etcd-key', 'etcd-password', 'etcd-user']);
    for (const def of Object.values(etcdOptionDefinitions)) {
      expect(def.type).toBe('string');
      expect(def.describe).toMatch(/\[env GANTRY_ETCD_[A-Z]+\]$/);
      expect(def).not.toHaveProperty('default');
    }
  });
});
