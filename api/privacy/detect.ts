// Finding a customer's personal data in a text (README "Customers' personal
// data"): e-mail addresses, phone numbers, card numbers and IBANs. Each finding
// is validated, not just matched, so order numbers, dates and prices stay
// readable for the model: a phone number must be valid in its numbering plan
// (libphonenumber-js, through the contact guardrail's detector), a card number
// must pass the Luhn check, an IBAN its country's length and the mod-97 check.
// Pure: no I/O.
//
// Not found, by design: names, postal addresses written freely, dates of birth,
// personal data spelled out ("four one five …") or split across messages.
import { findContacts } from '../integrity/contacts.ts';
import type { PiiCategory } from './placeholders.ts';

export type PiiSpan = {
  category: PiiCategory;
  /** UTF-16 offsets in the text as given. */
  start: number;
  end: number;
  /** As written. */
  raw: string;
  /** What makes two spellings the same value (lower-cased address, E.164, digits, compact IBAN). */
  key: string;
};

// Digits and signs customers type in other scripts, read as ASCII so the
// validators see them: full-width forms (Japanese and Chinese input methods),
// Arabic-Indic and Persian digits. Each maps one UTF-16 unit to one, so offsets
// in the folded text are offsets in the original.
const folded: Record<string, string> = { '\uFF0B': '+', '\uFF0D': '-', '\uFF08': '(', '\uFF09': ')', '\uFF0E': '.', '\uFF20': '@', '\u3000': ' ', '\u2212': '-', '\u2010': '-', '\u2011': '-', '\u2013': '-' };

function foldDigits(text: string): string {
  return text.replace(/[\uFF10-\uFF19\u0660-\u0669\u06F0-\u06F9\uFF0B\uFF0D\uFF08\uFF09\uFF0E\uFF20\u3000\u2212\u2010\u2011\u2013]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code >= 0xff10 && code <= 0xff19) return String(code - 0xff10);
    if (code >= 0x0660 && code <= 0x0669) return String(code - 0x0660);
    if (code >= 0x06f0 && code <= 0x06f9) return String(code - 0x06f0);
    return folded[c] ?? c;
  });
}

/** The Luhn check of a card number's digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

// IBAN lengths by country (the SWIFT IBAN registry). A country not listed is
// not read as an IBAN.
const ibanLengths: Record<string, number> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22,
  GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30,
  KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27,
  MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, SA: 24, SC: 31,
  SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
};

/** The ISO 13616 check: the country's length, then mod 97 of the rearranged number equals 1. */
export function ibanValid(compact: string): boolean {
  const iban = compact.toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban) || ibanLengths[iban.slice(0, 2)] !== iban.length) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const c of rearranged) {
    const value = c >= 'A' ? String(c.charCodeAt(0) - 55) : c;
    for (const digit of value) remainder = (remainder * 10 + Number(digit)) % 97;
  }
  return remainder === 1;
}

function asciiUpper(text: string): string {
  return text.replace(/[a-z]/g, (c) => c.toUpperCase());
}

const alnum = /[A-Z0-9]/;

function ibans(text: string): PiiSpan[] {
  const upper = asciiUpper(text);
  const found: PiiSpan[] = [];
  for (const start of upper.matchAll(/(?<![A-Z0-9])([A-Z]{2})\d{2}/g)) {
    const length = ibanLengths[start[1]!];
    if (!length) continue;
    // Read the IBAN's characters, in groups separated by single spaces or
    // hyphens, until it has its country's length.
    let compact = '';
    let at = start.index;
    while (at < upper.length && compact.length < length) {
      const c = upper[at]!;
      if (alnum.test(c)) compact += c;
      else if (!((c === ' ' || c === '-') && compact.length > 0 && alnum.test(upper[at + 1] ?? ''))) break;
      at += 1;
    }
    // It must end there: a longer run of characters is something else.
    if (compact.length !== length || alnum.test(upper[at] ?? '') || !ibanValid(compact)) continue;
    found.push({ category: 'iban', start: start.index, end: at, raw: text.slice(start.index, at), key: compact });
  }
  return found;
}

// 13 to 19 digits, in groups separated by single spaces or hyphens, not part
// of a longer number and not an international phone number (+…).
const cardRun = /(?<![\d+])\d(?:[ -]?\d){12,18}(?![\d])/g;

function cards(text: string): PiiSpan[] {
  const found: PiiSpan[] = [];
  for (const match of text.matchAll(cardRun)) {
    const digits = match[0].replace(/\D/g, '');
    if (!luhnValid(digits) || /^(\d)\1+$/.test(digits)) continue;
    found.push({ category: 'card', start: match.index, end: match.index + match[0].length, raw: match[0], key: digits });
  }
  return found;
}

function emailsAndPhones(text: string, regions: readonly string[]): PiiSpan[] {
  return findContacts(text, regions).flatMap((c): PiiSpan[] => {
    if (c.kind === 'url') return [];
    if (c.kind === 'phone') return [{ category: 'phone', start: c.index, end: c.end, raw: c.raw, key: c.key }];
    // `mailto:x@y`: the address is the personal data, the scheme stays.
    const scheme = /^mailto:/i.exec(c.raw)?.[0].length ?? 0;
    return [{ category: 'email', start: c.index + scheme, end: c.end, raw: c.raw.slice(scheme), key: c.key }];
  });
}

/**
 * The personal data of `categories` in `text`, in order, not overlapping (an
 * IBAN or card number is not also read as a phone number). `regions`: where a
 * phone number in national format is recognised (MIA_GUARDRAIL_PHONE_REGIONS);
 * international ones (+…) are recognised everywhere.
 */
export function findPersonalData(text: string, categories: ReadonlySet<PiiCategory>, regions: readonly string[]): PiiSpan[] {
  const ascii = foldDigits(text);
  // Earlier kinds win an overlap: the strictest validators first.
  const candidates = [
    ...(categories.has('iban') ? ibans(ascii) : []),
    ...(categories.has('card') ? cards(ascii) : []),
    ...(categories.has('email') || categories.has('phone') ? emailsAndPhones(ascii, regions).filter((s) => categories.has(s.category)) : []),
  ];
  const kept: PiiSpan[] = [];
  for (const span of candidates) {
    if (kept.some((k) => span.start < k.end && k.start < span.end)) continue;
    kept.push({ ...span, raw: text.slice(span.start, span.end) });
  }
  return kept.sort((a, b) => a.start - b.start);
}
