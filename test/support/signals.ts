// White-box checks on AbortSignals for the tests of per-request deadlines.
import assert from 'node:assert/strict';

/**
 * Signals that Node's AbortSignal.any() derived from `signal` and that it still
 * references (an internal set; nodejs/node#55351 is that this set only grows while
 * the parent lives). Read through its symbol because no public API exposes it.
 */
export function dependantsOf(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  const set = key ? (signal as unknown as Record<symbol, Set<unknown> | undefined>)[key] : undefined;
  return set?.size ?? 0;
}

/** A full garbage collection; mocha runs node with --expose-gc (.mocharc.json). */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, 'run mocha with --expose-gc (.mocharc.json node-option)');
  gc();
}
