// Which IP addresses an outbound request made on a client's behalf may reach:
// none in the IANA IPv4 and IPv6 Special-Purpose Address Registries
// (https://www.iana.org/assignments/iana-ipv4-special-registry,
// https://www.iana.org/assignments/iana-ipv6-special-registry), globally
// reachable or not, nor multicast, nor IPv6 outside the global unicast space
// 2000::/3 (everything else there is reserved or unassigned).
//
// ipaddr.js parses the addresses and carries the registries' blocks as its
// named ranges (each with its RFC); it lacks only the deprecated
// IPv4-compatible block ::/96, which the 2000::/3 rule covers and which is
// named here for the message. IPv6 forms that embed an IPv4 address (mapped,
// compatible, NAT64, 6to4, Teredo) are refused as blocks; the embedded
// address is decoded and, when the IPv4 rules refuse it too, named in the
// reason, so "::ffff:a00:1" reads as private 10.0.0.1 rather than a mystery.
import ipaddr from 'ipaddr.js';

type V4 = ipaddr.IPv4;
type V6 = ipaddr.IPv6;

const V4_RANGES: Record<string, string> = {
  unspecified: '"this network" (0.0.0.0/8)',
  broadcast: 'limited broadcast (255.255.255.255/32)',
  multicast: 'multicast (224.0.0.0/4)',
  linkLocal: 'link-local (169.254.0.0/16, where cloud metadata services live)',
  loopback: 'loopback (127.0.0.0/8)',
  carrierGradeNat: 'shared address space (100.64.0.0/10)',
  private: 'private-use (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)',
  reserved: 'reserved: IETF protocol assignments, documentation, benchmarking, 6to4 relay or future use',
  as112: 'AS112 DNS service (192.31.196.0/24, 192.175.48.0/24)',
  amt: 'AMT relay anycast (192.52.193.0/24)',
};

const V6_RANGES: Record<string, string> = {
  unspecified: 'unspecified (::/128)',
  loopback: 'loopback (::1/128)',
  linkLocal: 'link-local (fe80::/10)',
  multicast: 'multicast (ff00::/8)',
  uniqueLocal: 'unique-local (fc00::/7)',
  ipv4Mapped: 'IPv4-mapped (::ffff:0:0/96)',
  rfc6145: 'IPv4-translated (::ffff:0:0:0/96)',
  rfc6052: 'NAT64 (64:ff9b::/96, 64:ff9b:1::/48)',
  '6to4': '6to4 (2002::/16)',
  teredo: 'Teredo (2001::/32)',
  discard: 'discard-only (100::/64)',
  deprecatedSiteLocal: 'deprecated site-local (fec0::/10)',
  benchmarking: 'benchmarking (2001:2::/48)',
  amt: 'AMT (2001:3::/32)',
  as112v6: 'AS112 DNS service (2001:4:112::/48, 2620:4f:8000::/48)',
  deprecatedOrchid: 'ORCHID (2001:10::/28)',
  orchid2: 'ORCHIDv2 (2001:20::/28)',
  droneRemoteIdProtocolEntityTags: 'drone remote ID tags (2001:30::/28)',
  segmentRouting: 'segment routing SIDs (5f00::/16)',
  reserved: 'reserved: IETF protocol assignments (2001::/23), documentation (2001:db8::/32, 3fff::/20)',
};

const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR('::/96');

function v4Reason(ip: V4): string | null {
  const range = ip.range();
  return range === 'unicast' ? null : (V4_RANGES[range] ?? `special-purpose (${range})`);
}

function v4At(parts: number[], hi: number): V4 {
  return ipaddr.IPv4.parse(`${parts[hi]! >> 8}.${parts[hi]! & 255}.${parts[hi + 1]! >> 8}.${parts[hi + 1]! & 255}`);
}

/** The IPv4 address an IPv6 transition address carries, with the mechanism's name; null when it carries none. */
function embeddedV4(ip: V6, range: string): { v4: V4; via: string } | null {
  const p = ip.parts;
  if (range === 'ipv4Mapped' || range === 'rfc6145') return { v4: v4At(p, 6), via: range === 'ipv4Mapped' ? 'IPv4-mapped' : 'IPv4-translated' };
  if (range === 'rfc6052' && p[2] === 0) return { v4: v4At(p, 6), via: 'NAT64' }; // 64:ff9b::/96 puts it in the last 32 bits
  if (range === '6to4') return { v4: v4At(p, 1), via: '6to4' };
  if (range === 'teredo') {
    // The client's address, in the last 32 bits with every bit flipped (RFC 4380).
    return { v4: v4At([0, 0, 0, 0, 0, 0, p[6]! ^ 0xffff, p[7]! ^ 0xffff], 6), via: 'Teredo' };
  }
  if (ip.match(IPV4_COMPATIBLE) && range === 'unicast') return { v4: v4At(p, 6), via: 'IPv4-compatible' };
  return null;
}

function v6Reason(ip: V6): string | null {
  const range = ip.range();
  const embedded = embeddedV4(ip, range);
  const block = embedded?.via === 'IPv4-compatible' ? 'IPv4-compatible (::/96, deprecated)' : V6_RANGES[range];
  const inner = embedded ? v4Reason(embedded.v4) : null;
  if (embedded && inner) return `${block ?? range}, carrying ${embedded.v4.toString()}, which is ${inner}`;
  if (block) return block;
  if (range !== 'unicast') return `special-purpose (${range})`;
  if (!ip.match(GLOBAL_UNICAST)) return 'outside the global unicast space 2000::/3 (reserved or unassigned)';
  return null;
}

/**
 * Why `address` (an IP literal, brackets allowed) may not be reached: the
 * block it is in; null for a public unicast address. A string that is not
 * an IP address is refused too: callers pass only resolved addresses.
 */
export function specialAddressReason(address: string): string | null {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!ipaddr.isValid(bare)) return 'not an IP address';
  const ip = ipaddr.parse(bare);
  return ip.kind() === 'ipv4' ? v4Reason(ip as V4) : v6Reason(ip as V6);
}
