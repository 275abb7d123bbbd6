import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** A callback URL or the address it resolves to is not one we post to. */
export class CallbackUrlRefusedError extends Error {
  override readonly name = 'CallbackUrlRefusedError';
  constructor(readonly reason: string) {
    super(`callbackUrl refused: ${reason}`);
  }
}

function blockList(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const [network = '', bits = ''] = range.split('/');
    const type = isIP(network) === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(network, Number(bits), type);
  }
  return list;
}

/**
 * Never a client's endpoint, whatever the deployment: link-local (cloud metadata services answer
 * at 169.254.169.254, fd00:ec2::254, 100.100.100.200), "this network", multicast, reserved.
 * NAT64 is refused too: 64:ff9b::a9fe:a9fe is 169.254.169.254 by another name.
 */
const ALWAYS_REFUSED = blockList([
  '0.0.0.0/8',
  '169.254.0.0/16',
  '100.100.100.200/32',
  '192.0.0.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  'fe80::/10',
  'fd00:ec2::254/128',
  'ff00::/8',
  '64:ff9b::/96',
]);

/** Our own machines and networks: a client endpoint only in a local or test deployment. */
const PRIVATE = blockList([
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '198.18.0.0/15',
  '::1/128',
  'fc00::/7',
  'fec0::/10',
]);

/** Why a resolved address is refused, or undefined when a callback may go there. BlockList also matches IPv4-mapped IPv6. */
export function addressRefusal(address: string, allowPrivate: boolean): string | undefined {
  const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  if (ALWAYS_REFUSED.check(address, type)) return `${address} is a link-local, metadata or reserved address`;
  if (!allowPrivate && PRIVATE.check(address, type)) return `${address} is a loopback or private address (CALLBACK_ALLOW_PRIVATE is off)`;
  return undefined;
}

/**
 * What can be known before DNS: an absolute http(s) URL, and when its host is a literal address
 * (or localhost), an address we may post to. Names are checked again once resolved, at send time.
 */
export function checkCallbackUrl(raw: string, allowPrivate: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CallbackUrlRefusedError('not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CallbackUrlRefusedError('the scheme must be http or https');
  // The WHATWG parser has already turned 0x7f.1 or 2130706433 into 127.0.0.1, as undici will.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) !== 0) {
    const refusal = addressRefusal(host, allowPrivate);
    if (refusal) throw new CallbackUrlRefusedError(refusal);
  } else if (!allowPrivate && (host === 'localhost' || host.endsWith('.localhost'))) {
    throw new CallbackUrlRefusedError(`${host} is loopback (CALLBACK_ALLOW_PRIVATE is off)`);
  }
  return url;
}

/** Every address of a name; the system resolver (`dns.lookup`) unless a test brings its own. */
export type HostResolver = (hostname: string, family: number | undefined, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: HostResolver = (hostname, family, callback) => dnsLookup(hostname, { family: family ?? 0, all: true }, callback);

/**
 * A `lookup` for the sockets client callbacks open: it resolves the name and refuses the connection
 * if any address is refused, and the socket connects to exactly the addresses checked, so a name
 * that resolves differently a moment later (DNS rebinding) cannot slip past.
 */
export function guardedLookup(allowPrivate: boolean, resolve: HostResolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    const family = typeof options.family === 'number' ? options.family : undefined;
    resolve(hostname, family, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const refusal = addresses.map((entry) => addressRefusal(entry.address, allowPrivate)).find((reason) => reason !== undefined);
      if (refusal) return callback(new CallbackUrlRefusedError(`${hostname} resolves to ${refusal}`), '', 0);
      const [first] = addresses;
      if (options.all) return callback(null, addresses);
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}
