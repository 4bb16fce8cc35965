import type { Component } from '@gantry/spec';

/** Where a link listens on this host: the address containers reach the host's proxy on, and the link's own port. */
export interface LinkEndpoint {
  address: string;
  port: number;
}

/**
 * Gantryd's variables for one required link, named and valued exactly as Gantryd's
 * `calculateEnvForComponent` sets them (`{ALIAS}` upper-cased, `{PORT}` the defining component's
 * container port, `{KIND}` TCP or HTTP):
 *
 *   {ALIAS}_CLINK                      kind://address:port
 *   {ALIAS}_CLINK_{PORT}_{KIND}        kind://address:port
 *   {ALIAS}_CLINK_{PORT}_{KIND}_PROTO  kind          (tcp or http)
 *   {ALIAS}_CLINK_{PORT}_{KIND}_ADDR   address
 *   {ALIAS}_CLINK_{PORT}_{KIND}_PORT   port          (the link's port on this host, not the container's)
 */
export function linkEnvironment(alias: string, link: Pick<Component['defineComponentLinks'][number], 'port' | 'kind'>, endpoint: LinkEndpoint): Array<{ name: string; value: string }> {
  const prefix = `${alias.toUpperCase()}_CLINK`;
  const full = `${prefix}_${link.port}_${link.kind.toUpperCase()}`;
  const uri = `${link.kind}://${endpoint.address}:${endpoint.port}`;
  return [
    { name: prefix, value: uri },
    { name: full, value: uri },
    { name: `${full}_PROTO`, value: link.kind },
    { name: `${full}_ADDR`, value: endpoint.address },
    { name: `${full}_PORT`, value: String(endpoint.port) },
  ];
}

/**
 * The component's variables with its links' added. As in Gantryd, a link's variable replaces a
 * configured variable of the same name: the link's address is the one that works on this host.
 */
export function withLinkEnvironment<V extends { name: string }>(configured: V[], links: Array<{ name: string; value: string }>): Array<V | { name: string; value: string }> {
  const linked = new Set(links.map((v) => v.name));
  return [...configured.filter((v) => !linked.has(v.name)), ...links];
}
