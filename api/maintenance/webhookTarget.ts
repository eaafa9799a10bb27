// Where a completion webhook may go. A callback_url is chosen by a business,
// so without a check it would let anyone make the API's network reach
// internal services (the cloud metadata endpoint at 169.254.169.254, the
// database, an admin port on localhost). The host is resolved here and EVERY
// address it resolves to must be public; the request then connects to the
// address that was checked (see pinnedLookup), so a DNS answer that changes
// between check and connect (DNS rebinding) cannot slip through.
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';

/** A target that will never be accepted: retrying does not help. */
export class WebhookRefusedError extends Error {
  override name = 'WebhookRefusedError';
}

const nonPublic = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  nonPublic.addSubnet(network, prefix, 'ipv4');
}
// IPv4-mapped IPv6 (::ffff:a.b.c.d) is checked against the IPv4 list by BlockList itself.
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated)
  ['64:ff9b::', 96], // NAT64: may embed any IPv4 address, private ones included
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds an IPv4 address
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  nonPublic.addSubnet(network, prefix, 'ipv6');
}

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return !nonPublic.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export type WebhookTarget = { url: URL; address: string; family: 4 | 6 };

/** The checks that need no network: a URL, http(s), no credentials. Throws WebhookRefusedError. */
function parseCallbackUrl(callbackUrl: string): { url: URL; host: string } {
  let url: URL;
  try {
    url = new URL(callbackUrl);
  } catch {
    throw new WebhookRefusedError('callback_url is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookRefusedError(`callback_url scheme ${url.protocol} is not http or https`);
  }
  if (url.username || url.password)
    throw new WebhookRefusedError('callback_url must not carry credentials');
  return { url, host: url.hostname.replace(/^\[(.*)\]$/, '$1') };
}

function refuseNonPublic(host: string, addresses: readonly { address: string }[]): void {
  const refused = addresses.find((a) => !isPublicAddress(a.address));
  if (refused) {
    throw new WebhookRefusedError(
      `callback host ${host} resolves to a non-public address (${refused.address})`,
    );
  }
}

/**
 * Resolve a callback URL and check every address. Throws WebhookRefusedError
 * for a target that is never allowed; DNS errors (maybe transient) pass through.
 */
export async function resolveWebhookTarget(
  callbackUrl: string,
  allowPrivate: boolean,
): Promise<WebhookTarget> {
  const { url, host } = parseCallbackUrl(callbackUrl);
  const addresses = await lookup(host, { all: true, verbatim: true });
  const first = addresses[0];
  if (!first) throw new Error(`callback host ${host} has no address`);
  if (!allowPrivate) refuseNonPublic(host, addresses);
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}

// The check at submit (POST /chat) is early feedback, not the guard: the sender
// resolves and checks again at every delivery and connects to the address it
// checked. So a verdict may be remembered for a while (a busy integrator sends
// the same callback host with every chat; each lookup would take a libuv thread),
// and a lookup that is slow or fails lets the URL through (the delivery retries,
// and records why it failed where the business sees it).
const submitLookupTimeoutMs = 2000;
const verdictTtlMs = 60_000;
const maxVerdicts = 10_000;
const verdicts = new Map<string, { refusal: string | null; expires: number }>();

function rememberVerdict(host: string, refusal: string | null): void {
  if (verdicts.size >= maxVerdicts) verdicts.delete(verdicts.keys().next().value!);
  verdicts.set(host, { refusal, expires: Date.now() + verdictTtlMs });
}

/**
 * Why a callback URL can never be delivered, or null when it may be: the URL
 * checks, and (unless allowPrivate) whether its host resolves now to a
 * loopback, private or link-local address. Never throws.
 */
export async function callbackUrlRefusal(
  callbackUrl: string,
  allowPrivate: boolean,
): Promise<string | null> {
  let host: string;
  try {
    host = parseCallbackUrl(callbackUrl).host;
  } catch (error) {
    return (error as Error).message;
  }
  if (allowPrivate) return null;
  const known = verdicts.get(host);
  if (known && known.expires > Date.now()) return known.refusal;

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), submitLookupTimeoutMs);
  });
  try {
    const addresses = await Promise.race([lookup(host, { all: true, verbatim: true }), timedOut]);
    if (addresses === null) return null;
    let refusal: string | null = null;
    try {
      refuseNonPublic(host, addresses);
    } catch (error) {
      refusal = (error as Error).message;
    }
    rememberVerdict(host, refusal);
    return refusal;
  } catch {
    return null; // no answer from DNS now: the delivery tries again later
  } finally {
    clearTimeout(timer);
  }
}

/** A `lookup` for http.request that answers with the address already checked, and nothing else. */
export function pinnedLookup(target: WebhookTarget): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
}
