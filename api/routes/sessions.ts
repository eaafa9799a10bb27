// Reading a conversation back (tag: jobs): a session's transcript, one turn per job.
import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { decodeCursor, listStart, pageLimit, pageOf } from '../http/cursor.ts';
import { jobHistory } from '../store/jobHistory.ts';
import { BadRequestError, SessionNotFoundError } from '../errors.ts';

export function sessionRoutes(ctx: AppContext, router: Router): Router {

  router.get('/sessions/:session_id', async (req, res) => {
    const sessionId = req.params.session_id!;
    const principal = await principalOf(ctx, req);
    const asked = typeof req.query.business_id === 'string' ? req.query.business_id : null;
    // Session ids are the business's own names (a customer id, a chat id): the same id in
    // two businesses is two sessions, so the operator says whose.
    if (principal.kind === 'operator' && asked === null) throw new BadRequestError('business_id: required with the operator token (session ids are per business)');
    const businessId = principal.kind === 'business' ? principal.businessId : asked!;
    // Another business's session is answered as if it did not exist: not ours to tell.
    if (principal.kind === 'business' && asked !== null && asked !== businessId) throw new SessionNotFoundError(sessionId);
    const limit = pageLimit(req.query);
    const after = decodeCursor(req.query.cursor) ?? listStart.ascending;
    const page = pageOf(await jobHistory.sessionTurns(ctx.db, businessId, sessionId, after, limit + 1), limit);
    // Also past the end: an empty page tells no one whether the session exists.
    if (page.rows.length === 0) throw new SessionNotFoundError(sessionId);
    res.json({
      session_id: sessionId,
      business_id: businessId,
      turns: page.rows.map(({ id, cursor_at: _cursor, ...turn }) => ({ job_id: id, ...turn })),
      next_cursor: page.next_cursor,
    });
  });

  return router;
}
