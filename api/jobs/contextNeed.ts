// How much of a llama-server context a job needs: its prompt and its answer. The
// tokenizer is the miner's, so the backend estimates, per character by script, on the
// side of too much (issue 17: bytes ÷ 4 estimated 444 Japanese characters at 464 tokens;
// they were 601, and the job failed on every miner it reached):
//   - ASCII (English, code, JSON punctuation): ¼ token per character, as before;
//   - CJK ideographs, kana, hangul, CJK punctuation and full-width forms: 1.5 per
//     character (a Llama-style BPE often spends 1–3 byte tokens on a rare ideograph; 1.5
//     bounds the common mix: the 444 characters above at 666 ≥ 601);
//   - every other character: ½ token per UTF-8 byte (Cyrillic, Greek, Arabic, Hebrew:
//     1 per letter; Thai, Devanagari: 1.5; emoji: 2).
// The estimate routes (sql/job_claim.sql) and trims history (api/chat/buildMessages.ts).
// A job it still misjudges fails once on a miner too small for it ("exceeds the
// available context size") and, retried with backoff, goes to another.

/** Wide scripts: CJK ideographs (incl. extensions), kana, hangul, CJK symbols, full-width forms. */
const wide = /[\u1100-\u11ff\u2e80-\u2fdf\u3000-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\u{20000}-\u{3134f}]/u;

/** Estimated tokens of a text (not rounded). */
export function estimateTokens(text: string): number {
  let ascii = 0;
  let tokens = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code < 0x80) ascii += 1;
    else if (wide.test(ch)) tokens += 1.5;
    else tokens += (code < 0x800 ? 2 : code < 0x10000 ? 3 : 4) / 2;
  }
  return tokens + ascii / 4;
}

export function contextNeed(messagesJson: string, maxTokens: number): number {
  return Math.ceil(estimateTokens(messagesJson)) + maxTokens;
}
