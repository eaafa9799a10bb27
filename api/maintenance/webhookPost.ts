// One HTTP POST of a webhook to a resolved, pinned target.
//
// The deadline is a plain timer and the shutdown signal gets a listener that is
// removed when the request settles. Not `AbortSignal.any([AbortSignal.timeout(ms),
// shutdown])`: under Node 20 its timeout stopped firing after a garbage collection
// (nodejs/node#57736), which froze every delivery queue behind receivers that never
// answer, and combining with the worker's long-lived signal kept every combined
// signal alive (nodejs/node#55351). A timer we own has neither problem on any Node.
import http from 'node:http';
import https from 'node:https';
import { pinnedLookup, type WebhookTarget } from './webhookTarget.ts';

/** Resolves with the status code as soon as the receiver answers (the body is not read). */
export function postWebhook(
  target: WebhookTarget,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  shutdown: AbortSignal,
): Promise<number> {
  const client = target.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      shutdown.removeEventListener('abort', onShutdown);
      fn();
    };
    const req = client.request(
      target.url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: pinnedLookup(target),
        agent: false,
      },
      (res) => {
        settle(() => resolve(res.statusCode ?? 0));
        res.destroy();
      },
    );
    const timer = setTimeout(() => {
      settle(() => reject(new Error(`no answer within ${timeoutMs} ms`)));
      req.destroy();
    }, timeoutMs);
    // A shutdown aborts the delivery too; graphile-worker retries it later.
    const onShutdown = () => {
      settle(() => reject(new Error('delivery interrupted by shutdown')));
      req.destroy();
    };
    if (shutdown.aborted) onShutdown();
    else shutdown.addEventListener('abort', onShutdown, { once: true });
    req.on('error', (error) => settle(() => reject(error)));
    req.end(body);
  });
}
