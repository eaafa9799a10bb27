// Putting the customer's data back where a miner wrote a placeholder (README
// "Customers' personal data"). Only the placeholders the job's own messages
// received are restored: one a miner invents ([EMAIL_9]), or one of the session
// that this job was not given, stays as written, so a miner cannot make the
// backend show another conversation's data by guessing.
import { pendingPlaceholderStart, placeholderPattern } from './placeholders.ts';

export type Restorer = {
  /** `text` with every known placeholder replaced by its value. */
  text(text: string): string;
  /** A JSON value (tool calls) with `text` applied to every string in it. */
  json<T>(value: T): T;
};

export function restorer(values: ReadonlyMap<string, string>): Restorer {
  const text = (t: string): string => values.size === 0 ? t : t.replace(placeholderPattern, (p) => values.get(p) ?? p);
  const json = <T>(value: T): T => {
    if (values.size === 0) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return text(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, walk(inner)]));
      return v;
    };
    return walk(value) as T;
  };
  return { text, json };
}

/**
 * Of a growing text that may be shown up to `end`, how far it may be shown so
 * that no placeholder is cut: a trailing `[EMA`, `[EMAIL_` or `[EMAIL_1` is held
 * back until it is complete (then restored whole) or proven not to be one.
 */
export function restorableEnd(text: string, end: number): number {
  return pendingPlaceholderStart(text, end);
}
