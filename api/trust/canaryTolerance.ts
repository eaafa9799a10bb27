// When does a canary answer agree with the known one? Greedy decoding of the same model
// and quantisation gives the same tokens on another build or card until rounding
// differences flip a near-tie, usually only after many tokens (measured: README "Proof
// of work: canaries"). So answers are compared by their agreeing prefix, not by
// equality: the answer passes when it agrees with the expected text for at least
// min(minChars, share × the expected length) characters. Characters, not tokens: the
// backend has no tokenizer, and a prefix of equal text is a prefix of equal tokens.
export type Tolerance = { minChars: number; share: number };

export function agreeingPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i += 1;
  return i;
}

/** Characters the answer must share with the expected text from the start. */
export function requiredPrefix(expected: string, tolerance: Tolerance): number {
  return Math.max(1, Math.min(tolerance.minChars, Math.ceil(tolerance.share * expected.length)));
}

export function canaryAgrees(expected: string, answer: string, tolerance: Tolerance): { pass: boolean; agreed: number; required: number } {
  const agreed = agreeingPrefix(expected, answer);
  const required = requiredPrefix(expected, tolerance);
  return { pass: agreed >= required, agreed, required };
}
