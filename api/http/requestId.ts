// Every response carries X-Request-Id, and the error handler's log lines (500s, 503s,
// values the database refused) name it, as does a 500's message, so "it failed at
// 10:42" can be matched to the server's side. A caller's own id (a
// proxy's, a client library's) is kept when it is a plain token; anything else is
// replaced, so a header cannot inject text into our logs.
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';

const acceptable = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestId(): RequestHandler {
  return (req, res, next) => {
    const given = req.get('X-Request-Id');
    const id = given !== undefined && acceptable.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    next();
  };
}

/** The id of the request `res` answers (set by requestId()). */
export function requestIdOf(_req: Request, res: Response): string | undefined {
  return res.locals.requestId as string | undefined;
}
