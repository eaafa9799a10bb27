// The contact guardrail's detector (README "Contact guardrail"): URLs (with or
// without a scheme, bare domains like evil.example/pay), e-mail addresses and
// phone numbers in a text, and whether a business gave them. Pure: no I/O, so
// the final-answer check (api/integrity/screenResults.ts) and the stream
// readers (api/streaming/jobEvents.ts) judge the same way.
//
// False positives cost an honest miner a suspicion and a customer a retry, so
// the detectors are the well-kept libraries' strict modes: linkify-it's URL and
// e-mail grammar, libphonenumber-js's *valid* numbers (so dates, prices, order
// and version numbers are not phones).
import { LinkifyIt } from 'linkify-it';
import { findPhoneNumbersInText, type CountryCode } from 'libphonenumber-js/max';

export type ContactKind = 'url' | 'email' | 'phone';
export type Contact = {
  kind: ContactKind;
  /** As written in the text. */
  raw: string;
  /** What is compared: the host without `www.`, the lower-cased address, E.164 digits. */
  key: string;
  index: number;
  end: number;
  /** A phone number in national format: its E.164 form in each configured region where it is valid. */
  readings?: string[];
};

// Bare domains are recognised for the two-letter country TLDs linkify-it knows
// plus these common generic ones (and the reserved example/test ones phishers
// and tests use). An exotic TLD without a scheme or `www.` is not caught.
const extraTlds = ['app', 'dev', 'xyz', 'online', 'site', 'top', 'live', 'club', 'link', 'click', 'store',
  'tech', 'website', 'space', 'fun', 'icu', 'email', 'support', 'help', 'services', 'example', 'test', 'invalid'];

// Country TLDs that are also common file extensions (main.py, install.sh,
// README.md): without a scheme, `www.` or a path such a word is a file name.
const fileLikeTlds = new Set(['py', 'sh', 'md', 'rs', 'pl', 'cc', 'so', 'ps', 'mk']);

// fuzzyIP stays off: a bare 1.2.3.4 is more often a version than a host (an IP
// with a scheme is still a URL).
const linkify = new LinkifyIt({ fuzzyLink: true, fuzzyEmail: true }).tlds(extraTlds, true);

function hostKey(host: string): string {
  return host.toLowerCase().replace(/\.$/, '').replace(/^www\./, '');
}

function urlContact(match: { schema: string; url: string; raw: string; index: number; lastIndex: number }): Contact | null {
  if (match.schema === 'mailto:') {
    return { kind: 'email', raw: match.raw, key: match.url.replace(/^mailto:/i, '').toLowerCase(), index: match.index, end: match.lastIndex };
  }
  let host: string;
  try {
    // linkify-it normalises a schemeless link to http://…
    host = new URL(match.url).hostname;
  } catch {
    host = match.raw;
  }
  if (match.schema === '' && !/^www\./i.test(match.raw) && !match.raw.includes('/')) {
    const tld = host.split('.').pop() ?? '';
    if (fileLikeTlds.has(tld.toLowerCase())) return null;
  }
  return { kind: 'url', raw: match.raw, key: hostKey(host), index: match.index, end: match.lastIndex };
}

// A national-format candidate must look like a phone number as people write
// one: a leading 0 or a bracket, separators, or at least 10 digits, and not a
// date. A bare 9-digit order number is valid in some numbering plans and is
// not one.
// Dates (2024-05-01, 01.05.2024, 1/5/2024) are valid numbers in some plans.
const date = /^\d{1,4}[-./]\d{1,2}[-./]\d{1,4}$/;

function looksDialled(raw: string): boolean {
  if (date.test(raw)) return false;
  if (raw.startsWith('+') || raw.startsWith('(') || raw.startsWith('0')) return true;
  if (/[\s.\-()/]/.test(raw)) return true;
  return raw.replace(/\D/g, '').length >= 10;
}

// Runs of phone-ish characters with enough digits to be a number: the parser
// (slow on long texts, once per region) only reads these.
const phoneRun = /[+(]?\d[\d \t()./-]{4,}\d/g;

function phoneContacts(text: string, regions: readonly string[]): Contact[] {
  const found = new Map<number, Contact>();
  for (const run of text.matchAll(phoneRun)) {
    if (run[0].replace(/\D/g, '').length < 6 || date.test(run[0])) continue;
    // International numbers parse the same in any region; national ones are
    // read in every configured region where they are valid.
    for (const region of regions) {
      for (const hit of findPhoneNumbersInText(run[0], { defaultCountry: region as CountryCode })) {
        const index = run.index + hit.startsAt;
        const known = found.get(index);
        if (known) {
          known.readings!.push(hit.number.number);
          continue;
        }
        const raw = run[0].slice(hit.startsAt, hit.endsAt);
        if (!looksDialled(raw)) continue;
        found.set(index, { kind: 'phone', raw, key: hit.number.number, index, end: index + raw.length, readings: [hit.number.number] });
      }
    }
  }
  return [...found.values()];
}

/** Every URL, e-mail address and phone number in `text`, in order. */
export function findContacts(text: string, regions: readonly string[]): Contact[] {
  const links = (linkify.match(text) ?? []).flatMap((m) => urlContact(m) ?? []);
  // A phone number inside a URL (a path, a query) is part of the URL.
  const phones = phoneContacts(text, regions).filter((p) => !links.some((l) => p.index < l.end && l.index < p.end));
  return [...links, ...phones].sort((a, b) => a.index - b.index);
}

function digitsOf(raw: string): string {
  return raw.replace(/\D/g, '');
}

/** What one business lets its answers show. */
export class ContactPolicy {
  private readonly hosts = new Set<string>();
  private readonly emails = new Set<string>();
  private readonly phones = new Set<string>();
  private readonly phoneDigits = new Set<string>();

  /**
   * `given`: the texts the business (or its customer) wrote: the job's messages
   * (system prompt, context, history, the customer's message). `allowlist`: the
   * business's contact_allowlist (hosts, URLs, addresses, numbers).
   */
  constructor(given: readonly string[], allowlist: readonly string[], private readonly regions: readonly string[]) {
    for (const text of [...given, ...allowlist]) this.allow(findContacts(text, regions));
    for (const entry of allowlist) {
      const bare = entry.trim().toLowerCase();
      // A bare host in the allow-list ("shop.example") whatever its TLD.
      if (/^[a-z0-9.-]+\.[a-z0-9-]+$/.test(bare)) this.hosts.add(hostKey(bare));
      if (/^[+\d\s().-]+$/.test(bare) && digitsOf(bare).length >= 5) this.phoneDigits.add(digitsOf(bare));
    }
  }

  private allow(contacts: readonly Contact[]): void {
    for (const c of contacts) {
      if (c.kind === 'url') this.hosts.add(c.key);
      else if (c.kind === 'email') this.emails.add(c.key);
      else {
        for (const reading of c.readings ?? [c.key]) this.phones.add(reading);
        this.phoneDigits.add(digitsOf(c.raw));
      }
    }
  }

  private hostAllowed(host: string): boolean {
    // A subdomain of a host the business gave is the business's too.
    for (let h = host; h.includes('.'); h = h.slice(h.indexOf('.') + 1)) {
      if (this.hosts.has(h)) return true;
    }
    return false;
  }

  allows(contact: Contact): boolean {
    if (contact.kind === 'url') return this.hostAllowed(contact.key);
    if (contact.kind === 'email') return this.emails.has(contact.key) || this.hostAllowed(contact.key.slice(contact.key.indexOf('@') + 1));
    // Any reading will do: "06 12 34 56 78" is French to a French business and German to the parser.
    return (contact.readings ?? [contact.key]).some((r) => this.phones.has(r)) || this.phoneDigits.has(digitsOf(contact.raw));
  }

  /** The first contact in `text` (ending after `endsAfter`: those before were judged) the business did not give, or null. */
  firstForbidden(text: string, endsAfter = 0): Contact | null {
    return findContacts(text, this.regions).find((c) => c.end > endsAfter && !this.allows(c)) ?? null;
  }
}

/**
 * How much of a growing text can be judged now: the text from the returned
 * offset on may still become (part of) a URL, address or phone number. That is
 * the trailing whitespace-delimited word, unless it is made of letters only (a
 * word of letters alone is harmless and keeps the first token fast), extended
 * backwards over a run of phone-ish characters (digits, spaces, + ( ) - .).
 */
export function judgeableEnd(text: string): number {
  let end = text.length;
  const lastSpace = Math.max(text.lastIndexOf(' '), text.lastIndexOf('\n'), text.lastIndexOf('\t'), text.lastIndexOf('\r'));
  const word = text.slice(lastSpace + 1);
  if (!/^\p{L}*$/u.test(word)) end = lastSpace + 1;
  // A phone number has spaces inside: hold back a trailing run that has a digit.
  let start = end;
  while (start > 0 && /[\d\s+().-]/.test(text[start - 1]!)) start -= 1;
  if (/\d/.test(text.slice(start, end))) end = start;
  return end;
}
