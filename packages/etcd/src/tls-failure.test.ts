import { explainTlsFailure } from './tls-failure';

describe('explainTlsFailure', () => {
  it("tells a client certificate etcd refused from a server certificate this client does not trust", () => {
    const refused = explainTlsFailure('14 UNAVAILABLE: No connection established. Last error: 80:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate: SSL alert number 42');
    expect(refused).toEqual({ refusedClient: true, message: expect.stringContaining('client certificate signed by its CA') });
    const untrusted = explainTlsFailure('14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate');
    expect(untrusted).toEqual({ refusedClient: false, message: expect.stringContaining('--etcd-ca') });
  });
  it('leaves other failures alone', () => {
    expect(explainTlsFailure('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2389')).toBeUndefined();
  });
});
