import type { NetworkInterfaceInfo } from 'node:os';
import { bridgeAddressCandidates, firstHostAddress } from './link-address';

const docker0: NetworkInterfaceInfo[] = [
  { address: 'fe80::1', family: 'IPv6', netmask: 'ffff:ffff:ffff:ffff::', mac: '02:42:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 3 },
  { address: '172.18.5.1', family: 'IPv4', netmask: '255.255.0.0', mac: '02:42:00:00:00:01', internal: false, cidr: '172.18.5.1/16' },
];
const bridgeOptions = { 'com.docker.network.bridge.name': 'docker0' };

describe('link address', () => {
  it("tries Docker's IPv4 gateway first, then the bridge interface's address, then the first address of the subnet", () => {
    const network = { IPAM: { Config: [{ Subnet: 'fd00::/64', Gateway: 'fd00::1' }, { Subnet: '10.9.0.0/16', Gateway: '10.9.0.1' }] }, Options: bridgeOptions };
    expect(bridgeAddressCandidates(network, { docker0 })).toEqual(['10.9.0.1', '172.18.5.1']);
  });

  it('falls back to the first address of the subnet: a default bridge names only its subnet, and a down docker0 is not listed', () => {
    expect(bridgeAddressCandidates({ IPAM: { Config: [{ Subnet: '172.17.0.0/16' }] }, Options: bridgeOptions }, { eth0: docker0 })).toEqual(['172.17.0.1']);
    expect(bridgeAddressCandidates({ IPAM: { Config: null } }, {})).toEqual([]);
  });

  it('computes the first host address of an IPv4 subnet, and no other', () => {
    expect(firstHostAddress('172.17.0.0/16')).toBe('172.17.0.1');
    expect(firstHostAddress('10.1.2.128/25')).toBe('10.1.2.129');
    expect(firstHostAddress('192.168.7.9/24')).toBe('192.168.7.1');
    expect(firstHostAddress('10.0.0.0/31')).toBeUndefined();
    expect(firstHostAddress('fd00::/64')).toBeUndefined();
    expect(firstHostAddress('300.1.1.0/24')).toBeUndefined();
  });
});
