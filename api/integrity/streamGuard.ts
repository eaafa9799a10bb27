// The contact guardrail on a live stream (README "Contact guardrail"): how much
// of an attempt's text, as it grows, a reader may show. Text that may still
// become a URL, address or phone number is held back until it can be judged
// (contacts.ts judgeableEnd: a few characters, released when the next word
// starts or with the final answer); a forbidden contact and everything after
// it in the attempt are never shown (its result is refused anyway:
// screenResults.ts).
import { judgeableEnd, type ContactPolicy } from './contacts.ts';

// Judge again at most this far before the last boundary: a contact that grew
// across it started in the word (or phone-ish run) the boundary cut. Bounded so
// a long attempt costs each wake-up only its new text.
const lookBack = 256;

export class StreamGuard {
  private judgedTo = 0;
  private blockedAt: number | null = null;

  /** `policy` null: the business switched the guardrail off. */
  constructor(private readonly policy: ContactPolicy | null) {}

  /** Of the attempt's text so far, the length that may be shown; never decreases. */
  visibleEnd(text: string): number {
    if (!this.policy) return text.length;
    if (this.blockedAt !== null) return this.blockedAt;
    const limit = judgeableEnd(text);
    if (limit <= this.judgedTo) return this.judgedTo;
    const floor = Math.max(0, this.judgedTo - lookBack);
    let start = this.judgedTo;
    while (start > floor && !/\s/.test(text[start - 1]!)) start -= 1;
    while (start > floor && /[\d\s+().-]/.test(text[start - 1]!)) start -= 1;
    const forbidden = this.policy.firstForbidden(text.slice(start, limit), this.judgedTo - start);
    if (forbidden) {
      this.blockedAt = Math.max(this.judgedTo, start + forbidden.index);
      return this.blockedAt;
    }
    this.judgedTo = limit;
    return limit;
  }

  get blocked(): boolean {
    return this.blockedAt !== null;
  }
}
