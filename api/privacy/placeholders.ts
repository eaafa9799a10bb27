// The placeholders that stand in for a customer's personal data in what miners
// receive ([EMAIL_1], [PHONE_2], [CARD_1], [IBAN_1]): their spelling, and how a
// growing stream tells that its end may still become one.

export const piiCategories = ['email', 'phone', 'card', 'iban'] as const;
export type PiiCategory = (typeof piiCategories)[number];

// The label is the category upper-cased (sql/pii_placeholders_assign.sql writes them).
const labels: Record<PiiCategory, string> = { email: 'EMAIL', phone: 'PHONE', card: 'CARD', iban: 'IBAN' };

/** Told to the model when its messages hold placeholders, so it copies them rather than guessing values. */
export function placeholderInstruction(used: readonly string[]): string {
  return `The customer's personal data appears as placeholders (${used.join(', ')}): where you mean such a value, write its placeholder exactly as given.`;
}

/** Every complete placeholder in a text, whatever its number (a miner may write ones it was never given). */
export const placeholderPattern = /\[(?:EMAIL|PHONE|CARD|IBAN)_\d{1,6}\]/g;

// The longest placeholder: "[EMAIL_999999]".
const longest = 14;

/**
 * Where a placeholder that `text` may still complete begins, or text.length
 * when its end is not the start of one. `[EMA`, `[EMAIL_`, `[EMAIL_1` are
 * pending; `[EMAIL_1]` and `[EMAX` are not. A stream shows text only up to
 * here, so a placeholder split across delta batches is restored whole.
 */
export function pendingPlaceholderStart(text: string, end = text.length): number {
  const open = text.lastIndexOf('[', end - 1);
  if (open < 0 || end - open >= longest) return end;
  const tail = text.slice(open, end);
  const pending = Object.values(labels).some((label) => {
    const head = `[${label}_`;
    return head.startsWith(tail) || (tail.startsWith(head) && /^\d{1,6}$/.test(tail.slice(head.length)));
  });
  return pending ? open : end;
}
