// Who is calling: resolved once per request from the bearer token.
import type { DatabasePool } from 'slonik';
import { businesses } from '../store/businesses.ts';
import { miners } from '../store/miners.ts';
import { widgetTokens } from '../store/widget.ts';
import { hashSecret, secretPrefix, secretsEqual } from './secrets.ts';

export type Principal =
  | { kind: 'operator' }
  | { kind: 'business'; businessId: string; systemPrompt: string; priority: number }
  | { kind: 'miner'; minerId: string }
  /**
   * A chat widget in a customer's browser (api/widget/): one business's chat, one session,
   * one origin, until `expiresAt`. Resolved even when expired, so the widget routes can say
   * `token_expired` (api/widget/widgetCaller.ts); no other route accepts it.
   */
  | { kind: 'widget'; businessId: string; sessionId: string; origin: string; expiresAt: Date; systemPrompt: string; priority: number };

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * Verified keys are remembered for `cacheSeconds`, so the hot miner loop costs
 * no extra query per request. A rotated key therefore keeps working on other
 * API processes for at most that long; this process forgets it at once.
 */
export class PrincipalResolver {
  private readonly cache = new Map<string, { principal: Principal | null; expires: number }>();
  /** Bumped by every forget, so a lookup that was in flight across one knows it. */
  private forgets = 0;

  constructor(
    private readonly db: DatabasePool,
    private readonly adminToken: string,
    private readonly cacheSeconds: number,
  ) {}

  async resolve(token: string): Promise<Principal | null> {
    if (token.startsWith(secretPrefix.operator) || !/^mia_(bk|mk|wt)_/.test(token)) {
      return secretsEqual(token, this.adminToken) ? { kind: 'operator' } : null;
    }
    const hash = hashSecret(token);
    const cached = this.cache.get(hash);
    if (cached && cached.expires > Date.now()) return cached.principal;

    const forgetsBefore = this.forgets;
    const principal = await this.lookup(token, hash);
    // Unknown keys are not cached: a key created on another process works at once.
    // Nor is an answer read while a forget happened: it may be the key just rotated away,
    // read before the rotation committed, and caching it would revive it until it expires.
    if (principal && this.cacheSeconds > 0 && this.forgets === forgetsBefore) {
      if (this.cache.size > 50_000) this.cache.clear();
      this.cache.set(hash, { principal, expires: Date.now() + this.cacheSeconds * 1000 });
    }
    return principal;
  }

  /** The database lookup of a key; protected so a test can hold it mid-flight. */
  protected async lookup(token: string, hash: string): Promise<Principal | null> {
    if (token.startsWith(secretPrefix.business)) {
      const row = await businesses.findByKeyHash(this.db, hash);
      return row ? { kind: 'business', businessId: row.id, systemPrompt: row.system_prompt, priority: row.priority } : null;
    }
    if (token.startsWith(secretPrefix.widget)) {
      const row = await widgetTokens.findByHash(this.db, hash);
      return row
        ? { kind: 'widget', businessId: row.business_id, sessionId: row.session_id, origin: row.origin, expiresAt: new Date(row.expires_at), systemPrompt: row.system_prompt, priority: row.priority }
        : null;
    }
    const row = await miners.findByKeyHash(this.db, hash);
    return row ? { kind: 'miner', minerId: row.id } : null;
  }

  /** Forget everything cached for a business (after key rotation or a profile change). */
  forgetBusiness(businessId: string): void {
    this.forgets++;
    for (const [hash, entry] of this.cache) {
      // Widget tokens too: they carry the business's prompt, and end with their origin.
      const kind = entry.principal?.kind;
      if ((kind === 'business' || kind === 'widget') && entry.principal?.businessId === businessId) this.cache.delete(hash);
    }
  }
}
