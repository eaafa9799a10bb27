// Per-key rate limits: a token bucket per business key on the chat routes and per
// miner key on the miner protocol, kept in this process's memory. With N API
// replicas a key may send N times the configured rate (each replica counts
// alone); that is the price of needing no shared store on the hot path.
import type { Router, RequestHandler } from 'express';
import type { AppContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import type { Principal } from '../auth/principal.ts';
import { resolvePrincipal } from './auth.ts';

export type BucketSettings = {
  /** Sustained requests per second; 0 turns the limit off. */
  ratePerSecond: number;
  /** Requests a key may send at once (the bucket's size). */
  burst: number;
  /** Most keys remembered; bounds memory whatever the number of keys. */
  maxKeys?: number;
};

type Bucket = { tokens: number; updatedMs: number };

// 100k keys × about 100 bytes: a few MB at worst.
const defaultMaxKeys = 100_000;

/** One token bucket per key. `take` answers 0 (allowed) or the seconds to wait. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;

  constructor(private readonly settings: BucketSettings) {
    this.maxKeys = settings.maxKeys ?? defaultMaxKeys;
  }

  get enabled(): boolean {
    return this.settings.ratePerSecond > 0;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** The seconds `take` would ask to wait now (0: a request would pass), taking nothing. */
  wait(key: string, nowMs: number = performance.now()): number {
    const { ratePerSecond, burst } = this.settings;
    const bucket = this.buckets.get(key);
    if (ratePerSecond <= 0 || !bucket) return 0;
    const tokens = Math.min(burst, bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * ratePerSecond);
    return tokens >= 1 ? 0 : (1 - tokens) / ratePerSecond;
  }

  take(key: string, nowMs: number = performance.now()): number {
    const { ratePerSecond, burst } = this.settings;
    if (ratePerSecond <= 0) return 0;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.evict(nowMs);
      bucket = { tokens: burst, updatedMs: nowMs };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * ratePerSecond);
      bucket.updatedMs = nowMs;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / ratePerSecond;
  }

  /**
   * Make room: a bucket that has refilled is the same as no bucket, so those go
   * first; if that frees too little, the oldest keys go (they get a full bucket
   * when they come back, which errs on the side of letting a caller through).
   */
  private evict(nowMs: number): void {
    const { ratePerSecond, burst } = this.settings;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * ratePerSecond >= burst) this.buckets.delete(key);
    }
    const target = Math.floor(this.maxKeys * 0.9);
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(key);
    }
  }
}

export class RateLimitedError extends ApiError {
  constructor(retryAfterSeconds: number, what = 'too many requests for this key') {
    // Retry-After is whole seconds (RFC 9110); round up so a client that obeys it is let through.
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    super(429, 'rate_limited', `${what}; retry after ${seconds} s`, undefined, {
      'Retry-After': String(seconds),
    });
  }
}

function limitBy(ctx: AppContext, buckets: TokenBuckets, keyOf: (principal: Principal | null) => string | null): RequestHandler {
  return async (req, _res, next) => {
    if (!buckets.enabled) return next();
    // The security middleware has already resolved (and memoised) the caller.
    const key = keyOf(await resolvePrincipal(ctx, req));
    if (key === null) return next();
    const wait = buckets.take(key);
    if (wait > 0) throw new RateLimitedError(wait);
    next();
  };
}

/**
 * Added to the API's router (api/app.ts) after the OpenAPI validator (so the caller
 * is authenticated) and ahead of the route handlers they guard. The routes listed
 * here declare 429 in openapi.yaml. The operator is not limited.
 */
export function rateLimits(ctx: AppContext, router: Router): Router {
  const { config } = ctx;
  const chat = new TokenBuckets({ ratePerSecond: config.MIA_RATE_LIMIT_CHAT_PER_SECOND, burst: config.MIA_RATE_LIMIT_CHAT_BURST });
  const miner = new TokenBuckets({ ratePerSecond: config.MIA_RATE_LIMIT_MINER_PER_SECOND, burst: config.MIA_RATE_LIMIT_MINER_BURST });
  // A widget's chats are its business's chats: they share the business's bucket.
  const perBusiness = limitBy(ctx, chat, (p) => (p?.kind === 'business' || p?.kind === 'widget' ? p.businessId : null));
  const perMiner = limitBy(ctx, miner, (p) => (p?.kind === 'miner' ? p.minerId : null));

  // The widget's public side: tokens per client address, chats per widget session, so one
  // visitor cannot spend a business's whole bucket (nor open sessions without end).
  const perMinute = config.MIA_WIDGET_RATE_PER_MINUTE;
  const widget = new TokenBuckets({ ratePerSecond: perMinute / 60, burst: Math.max(1, perMinute) });
  const perWidgetSession = limitBy(ctx, widget, (p) => (p?.kind === 'widget' ? `session:${p.businessId}:${p.sessionId}` : null));
  const perAddress: RequestHandler = (req, _res, next) => {
    const wait = widget.take(`address:${req.ip ?? 'unknown'}`);
    if (wait > 0) throw new RateLimitedError(wait, 'too many widget sessions from this address');
    next();
  };

  router.post('/widget/session', perAddress);
  router.post('/widget/chat', perWidgetSession, perBusiness);
  router.post(['/chat', '/v1/chat/completions'], perBusiness);
  router.get(['/job/next', '/jobs/next'], perMiner);
  router.post(['/job/result', '/jobs/results', '/miner/:miner_id/status'], perMiner);
  return router;
}
