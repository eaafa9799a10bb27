// How completion webhooks are signed: the Standard Webhooks scheme
// (https://www.standardwebhooks.com/), so receivers can use any of its
// libraries and refuse replays:
//
//   webhook-id:        msg_…   (the same for every retry of one delivery)
//   webhook-timestamp: seconds since the epoch, when this attempt was sent
//   webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>">
//
// The HMAC key is the secret's bytes: for a `whsec_<base64>` secret (every
// secret issued since Standard Webhooks signing) the base64 part decoded, as
// the spec says. Businesses created earlier have a `mia_wh_…` secret; those keep
// working unchanged, with the secret's UTF-8 bytes as key (the key
// X-MIA-Signature has always used), so their Standard Webhooks form is
// `whsec_` + base64(secret) — see standardWebhookSecret — and nobody has to
// rotate.
//
// Written with node:crypto rather than the `standardwebhooks` package: the
// scheme is one HMAC, and that package computes SHA-256 in JavaScript
// (fast-sha256) where node:crypto uses OpenSSL. The tests verify our
// signatures with that package, an independent implementation.
import { createHmac, randomBytes } from 'node:crypto';

const standardPrefix = 'whsec_';

/** A new signing secret: 32 random bytes, in the spec's `whsec_<base64>` form. */
export function generateWebhookSecret(): string {
  return standardPrefix + randomBytes(32).toString('base64');
}

/** The HMAC key of a stored secret. */
function signingKey(secret: string): Buffer {
  return secret.startsWith(standardPrefix)
    ? Buffer.from(secret.slice(standardPrefix.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

/** The secret as a Standard Webhooks library takes it (a `mia_wh_` secret converted). */
export function standardWebhookSecret(secret: string): string {
  return standardPrefix + signingKey(secret).toString('base64');
}

export type WebhookSignatureHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/** The three Standard Webhooks headers for one attempt; `timestamp` in whole seconds. */
export function signWebhook(
  secret: string,
  webhookId: string,
  timestamp: number,
  rawBody: string,
): WebhookSignatureHeaders {
  const signature = createHmac('sha256', signingKey(secret))
    .update(`${webhookId}.${timestamp}.${rawBody}`)
    .digest('base64');
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': `v1,${signature}`,
  };
}

/**
 * Deprecated X-MIA-Signature (`sha256=<hex HMAC-SHA256 of the raw body>`, keyed with
 * the secret string as given), still sent so receivers written against it keep
 * working. It signs the body only, so a captured webhook can be replayed against it:
 * receivers should move to webhook-signature.
 */
export function legacySignature(secret: string, rawBody: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}
