// Web origins as the browser sends them in `Origin`: scheme, host and a port only when it
// is not the scheme's default (`https://shop.example`, `http://localhost:5173`). The widget's
// allow-list holds exactly that form, so an origin is allowed by plain string equality.
import { BadRequestError } from '../errors.ts';

/**
 * The origin as a browser would send it, or a message saying what is wrong with it.
 * Only http(s); no path, query, fragment or credentials; a default port is dropped and the
 * host lowercased (as the browser does), so `https://Shop.example:443` is `https://shop.example`.
 */
export function parseOrigin(text: string): { origin: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'is not a URL (expected scheme://host[:port], e.g. https://shop.example)' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { problem: `must be http or https, not ${url.protocol.slice(0, -1)}` };
  if (url.username || url.password) return { problem: 'must not carry credentials' };
  // new URL() adds the root path itself, so look at the text for one.
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*[/?#]/i.test(text)) return { problem: 'must be an origin only: no path, query or fragment' };
  return { origin: url.origin };
}

/** Validates and normalises a business's widget_origins; 400 naming the entry at fault. */
export function normaliseOrigins(list: readonly string[], field = 'widget_origins'): string[] {
  const origins = list.map((text, i) => {
    const parsed = parseOrigin(text);
    if ('problem' in parsed) throw new BadRequestError(`${field}[${i}] ${JSON.stringify(text)} ${parsed.problem}`);
    return parsed.origin;
  });
  return [...new Set(origins)];
}
