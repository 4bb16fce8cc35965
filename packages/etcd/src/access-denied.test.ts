import { EtcdAuthenticationFailedError, EtcdPermissionDeniedError, Etcd3 } from 'etcd3';
import { describeIdentity, describeKvRequest, EtcdAccessDeniedError, explainAccessDenied, isAccessDenied, setIdentity } from './access-denied';
import { makeAuth } from './connection-options';

const b = (s: string) => Buffer.from(s);
/** The range end of a prefix, as etcd3 computes it. */
const prefixEnd = (p: string) => {
  const end = Buffer.from(p);
  end[end.length - 1]! += 1;
  return end;
};

describe('describeKvRequest', () => {
  it('names the key of a put, a delete and a read', () => {
    expect(describeKvRequest('put', { key: b('/a') })).toEqual({ operation: 'write', keys: ['/a'] });
    expect(describeKvRequest('deleteRange', { key: b('/p/'), range_end: prefixEnd('/p/') })).toEqual({ operation: 'delete', keys: ['/p/*'] });
    expect(describeKvRequest('range', { key: b('/p/'), range_end: b('/q') })).toEqual({ operation: 'read', keys: ['[/p/, /q)'] });
  });

  it("names a transaction's writes (what a role lacks, usually) before its compares, nested ones included", () => {
    const txn = {
      compare: [{ key: b('/c') }],
      success: [{ request_put: { key: b('/w1') } }, { request_txn: { success: [{ request_delete_range: { key: b('/w2') } }] } }],
      failure: [{ request_range: { key: b('/r') } }],
    };
    expect(describeKvRequest('txn', txn)).toEqual({ operation: 'write', keys: ['/w1', '/w2'] });
    expect(describeKvRequest('txn', { compare: [{ key: b('/c') }], success: [{ request_range: { key: b('/r') } }] })).toEqual({ operation: 'read', keys: ['/c', '/r'] });
  });
});

describe('describeIdentity', () => {
  it('names the password user first: etcd takes the token over the certificate', () => {
    expect(describeIdentity({ auth: makeAuth('alice', 'secret'), tls: { certFile: '/nope.pem' } })).toBe('user "alice"');
  });
  it('names a certificate it cannot read by its path, and a client without credentials as such', () => {
    expect(describeIdentity({ tls: { certFile: '/nope.pem' } }, () => Buffer.from('not a certificate'))).toBe('client certificate /nope.pem');
    expect(describeIdentity({})).toMatch(/without a user/);
  });
});

describe('explainAccessDenied', () => {
  /** A client whose pool answers every call with `err`. */
  const refusing = (err: Error) => {
    const client = new Etcd3({ hosts: 'http://127.0.0.1:1' });
    (client as unknown as { pool: { exec: () => Promise<never> } }).pool.exec = () => Promise.reject(err);
    return explainAccessDenied(client, 'user "h1"');
  };

  it('turns etcd\'s bare "permission denied" into an error naming the user, the operation and the key', async () => {
    const client = refusing(new EtcdPermissionDeniedError('etcdserver: permission denied'));
    const err = await client.put('/gantry/x').value('1').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(EtcdAccessDeniedError);
    expect((err as Error).message).toBe('permission denied: etcd user "h1" may not write /gantry/x');
    expect(isAccessDenied(err)).toBe(true);
    setIdentity(client, 'user "h1-rotated"');
    await expect(client.get('/gantry/y').string()).rejects.toThrow('permission denied: etcd user "h1-rotated" may not read /gantry/y');
    client.close();
  });

  it('says a failed authentication is one, without the password', async () => {
    const client = refusing(new EtcdAuthenticationFailedError('etcdserver: authentication failed, invalid user ID or password'));
    await expect(client.get('/k').string()).rejects.toThrow('authentication failed (no such user, or a wrong password): etcd user "h1"');
    client.close();
  });

  it('leaves every other error as it was', async () => {
    const other = new Error('14 UNAVAILABLE');
    const client = refusing(other);
    await expect(client.get('/k').string()).rejects.toBe(other);
    client.close();
  });
});
