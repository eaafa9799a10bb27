// A signal for one request: aborts when `parent` aborts or after `timeoutMs`,
// and lets go of `parent` when the request is over.
//
// Not `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: the miner's parent
// signals (shutdown, drain) live for the whole run, and each combined signal stays
// referenced by them (nodejs/node#55351: about 60 bytes per request, a million
// kept after a million calls); under Node 20 a combined timeout also stopped
// firing after a garbage collection (nodejs/node#57736). A timer and a listener
// we remove ourselves have neither problem.
export interface Deadline {
  readonly signal: AbortSignal;
  /** True when the deadline (not the parent) aborted the signal. */
  readonly timedOut: boolean;
  /** Stop the timer and detach from the parent; call when the request settles. */
  dispose(): void;
}

export function deadline(timeoutMs: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  const onParentAbort = () => controller.abort(parent?.reason);
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError'));
  }, timeoutMs);
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}
