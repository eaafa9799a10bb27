// Authentication is declared per route in openapi.yaml (`security:`) and
// enforced by express-openapi-validator through these handlers, one per
// scheme. The bearer token is resolved once per request and memoised.
import type { Request, RequestHandler } from 'express';
import type { AppContext } from '../context.ts';
import { bearerToken, type Principal } from '../auth/principal.ts';
import { ForbiddenError, UnauthorizedError } from '../errors.ts';

const resolved = new WeakMap<Request, Promise<Principal | null>>();
const settledKind = new WeakMap<Request, Principal['kind']>();

/** Who the caller turned out to be, for the access log and metrics: never the key itself. */
export function principalKindOf(req: Request): Principal['kind'] | 'none' {
  return settledKind.get(req) ?? 'none';
}

export function resolvePrincipal(ctx: AppContext, req: Request): Promise<Principal | null> {
  let pending = resolved.get(req);
  if (!pending) {
    const token = bearerToken(req.headers.authorization);
    pending = token ? ctx.principals.resolve(token) : Promise.resolve(null);
    resolved.set(req, pending);
    pending.then((principal) => principal && settledKind.set(req, principal.kind), () => undefined);
  }
  return pending;
}

/**
 * Looks the caller up before the validator does. The validator's security step turns
 * anything a handler throws into 401, so a database outage would read as "bad key" (and a
 * miner told 401 about its own key may give up its identity). Resolved here, a database
 * error reaches the error handler as itself (503); the handlers then reuse the result.
 */
export function resolveCaller(ctx: AppContext): RequestHandler {
  return (req, _res, next) => {
    if (!req.headers.authorization) return next();
    resolvePrincipal(ctx, req).then(() => next(), next);
  };
}

export function securityHandlers(ctx: AppContext) {
  const is = (kind: Principal['kind']) => async (req: Request) => (await resolvePrincipal(ctx, req))?.kind === kind;
  return { operatorToken: is('operator'), businessKey: is('business'), minerKey: is('miner'), widgetToken: is('widget') };
}

/** The caller, already verified by the security middleware for this route. */
export async function principalOf(ctx: AppContext, req: Request): Promise<Principal> {
  const principal = await resolvePrincipal(ctx, req);
  if (!principal) throw new UnauthorizedError();
  return principal;
}

/** Miner routes carry the miner id in the path or query; it must be the caller's own. */
export async function requireMinerSelf(ctx: AppContext, req: Request, minerId: string): Promise<string> {
  const principal = await principalOf(ctx, req);
  if (principal.kind !== 'miner') throw new UnauthorizedError('a miner auth key is required');
  if (principal.minerId !== minerId) throw new ForbiddenError('miner_id is not the caller: a miner may only act for itself');
  return minerId;
}
