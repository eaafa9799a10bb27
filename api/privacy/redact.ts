// Replacing personal data with placeholders (README "Customers' personal
// data"). Pure: the caller looks up, or assigns, each value's placeholder in
// the session (api/privacy/redactJob.ts) between finding and replacing.
import type { ChatMessage } from '../chat/buildMessages.ts';
import { findPersonalData, type PiiSpan } from './detect.ts';
import type { PiiCategory } from './placeholders.ts';

/** One value's placeholder in a session (mia.pii_placeholders). */
export type SessionValue = { placeholder: string; category: PiiCategory; value_key: string; value: string };

export type RedactionCounts = Partial<Record<PiiCategory, number>>;

const keyOf = (category: string, valueKey: string) => `${category}:${valueKey}`;

// A session's history comes back on every turn, and the system message is the
// same on most: what was found in a text is remembered (a bounded map, oldest
// first out), so a submit runs the detectors over its new text only (a 20-turn
// history costs about 2 ms of parsing otherwise).
const foundCache = new Map<string, PiiSpan[]>();
const foundCacheLimit = 5000;
const foundCacheMaxChars = 8192;

function findCached(text: string, categories: ReadonlySet<PiiCategory>, regions: readonly string[]): PiiSpan[] {
  if (text.length > foundCacheMaxChars) return findPersonalData(text, categories, regions);
  const key = `${[...categories].join(',')}|${regions.join(',')}|${text}`;
  let spans = foundCache.get(key);
  if (spans) {
    foundCache.delete(key);
  } else {
    spans = findPersonalData(text, categories, regions);
    if (foundCache.size >= foundCacheLimit) foundCache.delete(foundCache.keys().next().value!);
  }
  foundCache.set(key, spans);
  return spans;
}

// A known value shorter than this is not replaced where the detector did not
// find it: too likely to be part of something else.
const literalMinLength = 6;

export class Redactor {
  private readonly spans = new Map<string, PiiSpan[]>();

  /**
   * `exempt`: values (category:key) the business itself gave (its system prompt,
   * its contact allow-list): its own address or support number is not a
   * customer's personal data, and the model needs it.
   */
  constructor(
    private readonly categories: ReadonlySet<PiiCategory>,
    private readonly regions: readonly string[],
    private readonly exempt: ReadonlySet<string>,
  ) {}

  /** Values the business gave, to exempt (see the constructor). */
  static exemptValues(texts: readonly string[], categories: ReadonlySet<PiiCategory>, regions: readonly string[]): Set<string> {
    return new Set(texts.flatMap((t) => findPersonalData(t, categories, regions).map((s) => keyOf(s.category, s.key))));
  }

  /** Finds the personal data in `text` (kept for `redact`). */
  find(text: string): PiiSpan[] {
    const known = this.spans.get(text);
    if (known) return known;
    const spans = findCached(text, this.categories, this.regions).filter((s) => !this.exempt.has(keyOf(s.category, s.key)));
    this.spans.set(text, spans);
    return spans;
  }

  /** The distinct values found in `texts`, first spelling kept. */
  values(texts: readonly string[]): Omit<SessionValue, 'placeholder'>[] {
    const distinct = new Map<string, Omit<SessionValue, 'placeholder'>>();
    for (const text of texts) {
      for (const s of this.find(text)) {
        if (!distinct.has(keyOf(s.category, s.key))) distinct.set(keyOf(s.category, s.key), { category: s.category, value_key: s.key, value: s.raw });
      }
    }
    return [...distinct.values()];
  }

  /**
   * `text` with each value found replaced by its placeholder in `session`, and
   * each value the session already knows replaced wherever it is written as
   * first seen (an earlier answer quoting it, in a spelling the detector reads
   * differently in its new surroundings). Counts what it replaced into `counts`
   * and the placeholders it used into `used`.
   */
  redact(text: string, session: readonly SessionValue[], counts: RedactionCounts, used: Set<string>): string {
    const byKey = new Map(session.map((v) => [keyOf(v.category, v.value_key), v] as const));
    const literals = session.filter((v) => v.value.length >= literalMinLength).sort((a, b) => b.value.length - a.value.length);
    const replaceLiterals = (gap: string): string => {
      for (const v of literals) {
        if (!gap.includes(v.value)) continue;
        const parts = gap.split(v.value);
        counts[v.category] = (counts[v.category] ?? 0) + parts.length - 1;
        used.add(v.placeholder);
        gap = parts.join(v.placeholder);
      }
      return gap;
    };
    let out = '';
    let at = 0;
    for (const span of this.find(text)) {
      const value = byKey.get(keyOf(span.category, span.key));
      if (!value) continue; // not assigned: the caller did not ask for it
      out += replaceLiterals(text.slice(at, span.start)) + value.placeholder;
      counts[span.category] = (counts[span.category] ?? 0) + 1;
      used.add(value.placeholder);
      at = span.end;
    }
    return out + replaceLiterals(text.slice(at));
  }
}

/** The texts of messages that may carry personal data: contents and tool-call arguments. */
export function messageTexts(messages: readonly ChatMessage[]): string[] {
  return messages.flatMap((m) => [...(typeof m.content === 'string' ? [m.content] : []), ...toolArguments(m.tool_calls)]);
}

function toolArguments(calls: unknown[] | undefined): string[] {
  return (calls ?? []).flatMap((call) => {
    const args = (call as { function?: { arguments?: unknown } } | null)?.function?.arguments;
    return typeof args === 'string' ? [args] : [];
  });
}

/** `messages` with `rewrite` applied to every content and tool-call argument string. */
export function mapMessageTexts(messages: readonly ChatMessage[], rewrite: (text: string) => string): ChatMessage[] {
  return messages.map((m) => ({
    ...m,
    // A stored assistant turn of only tool calls may have null content.
    content: typeof m.content === 'string' ? rewrite(m.content) : m.content,
    ...(m.tool_calls ? { tool_calls: m.tool_calls.map((call) => mapToolCall(call, rewrite)) } : {}),
  }));
}

function mapToolCall(call: unknown, rewrite: (text: string) => string): unknown {
  const fn = (call as { function?: { arguments?: unknown } } | null)?.function;
  if (!fn || typeof fn.arguments !== 'string') return call;
  return { ...(call as object), function: { ...fn, arguments: rewrite(fn.arguments) } };
}
