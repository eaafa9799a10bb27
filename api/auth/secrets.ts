// Secrets (business API keys, miner auth keys) are 256 random bits. They are
// stored only as sha256: a fast hash is right for high-entropy tokens (no
// dictionary to guess from), and it lets a lookup be one indexed equality.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// webhook: signs completion webhooks (HMAC), so it is stored as is, not hashed.
export const secretPrefix = {
  business: 'mia_bk_',
  miner: 'mia_mk_',
  operator: 'mia_op_',
  webhook: 'mia_wh_',
  // A chat widget's short-lived token (api/widget/widgetTokens.ts), seen by browsers.
  widget: 'mia_wt_',
} as const;
export type SecretKind = keyof typeof secretPrefix;

export function generateSecret(kind: SecretKind): string {
  return secretPrefix[kind] + randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of two secrets (by their hashes, so lengths always match). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(Buffer.from(hashSecret(a), 'hex'), Buffer.from(hashSecret(b), 'hex'));
}
