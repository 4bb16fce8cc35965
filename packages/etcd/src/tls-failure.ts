/**
 * What a failed TLS handshake with etcd means, in the operator's terms: grpc-js reports it as
 * "14 UNAVAILABLE: No connection established" with OpenSSL's words at the end. Undefined when
 * `reason` is not a TLS failure.
 */
export function explainTlsFailure(reason: string): { refusedClient: boolean; message: string } | undefined {
  // etcd --client-cert-auth refused the client: no certificate, or one its CA did not sign (alert 42 / 116).
  if (/alert bad certificate|certificate required|alert number (42|116)\b|alert unknown ca/i.test(reason)) {
    return { refusedClient: true, message: "etcd refused the TLS connection: it wants a client certificate signed by its CA (--etcd-cert and --etcd-key), and this client's is missing or not one" };
  }
  if (/unable to verify|self[- ]signed certificate|unable to get (local )?issuer|certificate verify failed|certificate has expired|Hostname\/IP does not match|ERR_TLS_CERT_ALTNAME_INVALID/i.test(reason)) {
    return { refusedClient: false, message: "etcd's server certificate is not trusted: it must be signed by the CA in --etcd-ca (GANTRY_ETCD_CA), be valid now, and name the endpoint's address" };
  }
  return undefined;
}
