// What every widget route checks of its caller beyond "a widget token": that it has not
// expired (401 token_expired, so the widget knows to fetch a new one) and that the request
// comes from the page the token was minted for. Browsers set `Origin` themselves on
// cross-origin fetches and scripts cannot forge it, so a token lifted from one site is
// useless to a page on another.
import type { Request } from 'express';
import type { AppContext } from '../context.ts';
import type { Principal } from '../auth/principal.ts';
import { principalOf } from '../http/auth.ts';
import { ForbiddenError, TokenExpiredError, UnauthorizedError } from '../errors.ts';

export type WidgetPrincipal = Extract<Principal, { kind: 'widget' }>;

export async function widgetCaller(ctx: AppContext, req: Request): Promise<WidgetPrincipal> {
  const principal = await principalOf(ctx, req);
  if (principal.kind !== 'widget') throw new UnauthorizedError('a widget token (mia_wt_…) is required');
  if (principal.expiresAt.getTime() <= Date.now()) throw new TokenExpiredError(principal.expiresAt);
  const origin = req.get('Origin');
  if (origin !== principal.origin) {
    throw new ForbiddenError(
      origin === undefined
        ? `this widget token is bound to the origin ${principal.origin}; the request carries no Origin header`
        : `this widget token is bound to the origin ${principal.origin}, not ${origin}`,
    );
  }
  return principal;
}
