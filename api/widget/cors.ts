// CORS for the widget routes (/widget/…), mounted before the OPTIONS responder and the
// validator. A preflight carries no token and no body, so the only question it can be
// asked is "does any business let its widget run on this origin?"; an unknown origin gets
// 403 and no Access-Control-Allow-Origin, so the browser sends nothing. The routes then hold
// each request to its own token's origin (api/widget/widgetCaller.ts). No cookies are used
// (the token travels in Authorization), so credentials are never allowed.
import type { RequestHandler } from 'express';
import type { AppContext } from '../context.ts';
import { widgetTokens } from '../store/widget.ts';
import { ForbiddenError } from '../errors.ts';

const preflightMaxAgeSeconds = 600;

export function widgetCors(ctx: AppContext): RequestHandler {
  // Known origins only, for MIA_AUTH_CACHE_SECONDS: an origin just added works at once,
  // and one removed keeps CORS headers that long (its tokens end at once regardless).
  const known = new Map<string, number>();
  async function isKnown(origin: string): Promise<boolean> {
    const until = known.get(origin);
    if (until !== undefined && until > Date.now()) return true;
    if (!(await widgetTokens.originKnown(ctx.db, origin))) return false;
    if (known.size > 10_000) known.clear();
    known.set(origin, Date.now() + ctx.config.MIA_AUTH_CACHE_SECONDS * 1000);
    return true;
  }

  return (req, res, next) => {
    const origin = req.get('Origin');
    if (!origin || !req.path.startsWith('/widget/')) return next();
    isKnown(origin).then((allowed) => {
      res.vary('Origin');
      if (req.method === 'OPTIONS') {
        if (!allowed) return next(new ForbiddenError(`origin ${origin} is not among any business's widget_origins`));
        res.set({
          'Access-Control-Allow-Origin': origin,
          'Access-Control-Allow-Methods': 'GET, POST',
          'Access-Control-Allow-Headers': 'Authorization, Content-Type, Last-Event-ID',
          'Access-Control-Max-Age': String(preflightMaxAgeSeconds),
        });
        res.status(204).end();
        return;
      }
      if (allowed) {
        res.set({
          'Access-Control-Allow-Origin': origin,
          'Access-Control-Expose-Headers': 'X-Request-Id, X-Mia-Job-Id, Retry-After',
        });
      }
      next();
    }, next);
  };
}
