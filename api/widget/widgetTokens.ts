// Minting widget tokens: the bearer a chat widget carries in a customer's browser instead
// of the business's API key. Random secrets stored as sha256 (api/auth/secrets.ts), bound to
// one business, one session and one origin, for minutes. Stored, not signed, so a token ends
// the moment its origin leaves the business's widget_origins and no signing key has to be
// shared between API replicas; the price is one indexed lookup per request, cached like keys.
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../context.ts';
import { generateSecret, hashSecret } from '../auth/secrets.ts';
import { widgetTokens } from '../store/widget.ts';
import { ForbiddenError } from '../errors.ts';

export type WidgetToken = { token: string; session_id: string; origin: string; expires_at: string };

/**
 * Sessions the public endpoint opens: 192 random bits, so knowing one is the capability to
 * continue it (the widget keeps it in localStorage). A session a business names itself
 * (`cust-81`) can only be bound to a token by the business's own backend.
 */
export const publicSessionPattern = /^ws_[A-Za-z0-9_-]{32}$/;

export function newPublicSessionId(): string {
  return `ws_${randomBytes(24).toString('base64url')}`;
}

export async function mintWidgetToken(
  ctx: AppContext,
  input: { businessId: string; origin: string; sessionId: string; ttlSeconds: number },
): Promise<WidgetToken> {
  const token = generateSecret('widget');
  const row = await widgetTokens.create(ctx.db, {
    token_hash: hashSecret(token),
    business_id: input.businessId,
    session_id: input.sessionId,
    origin: input.origin,
    ttl_seconds: input.ttlSeconds,
  });
  if (!row) throw new ForbiddenError(`origin ${input.origin} is not one of the business's widget_origins (PATCH /businesses/{id} sets them)`);
  return { token, session_id: row.session_id, origin: row.origin, expires_at: new Date(row.expires_at).toISOString() };
}
