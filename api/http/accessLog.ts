// One access line per request (pino-http) and the request metrics, both written
// when the response is finished or the client went away: request id (X-Request-Id,
// api/http/requestId.ts), method, route template, status, duration and who called
// (operator/business/miner/none). Never a header, a query string or a body: the
// line has no field that could carry a key.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { pinoHttp } from 'pino-http';
import { rootLogger } from '../log.ts';
import type { Metrics } from '../metrics/registry.ts';
import { principalKindOf } from './auth.ts';
import { routeOf } from './routeOf.ts';

export function accessLog(metrics: Metrics): RequestHandler {
  const fields = (req: IncomingMessage, res: ServerResponse, responseTime: number) => {
    const request = req as Request;
    const response = res as Response;
    const route = routeOf(request);
    const principal = principalKindOf(request);
    // A client that hung up before the answer was finished: no status was sent.
    const status = response.writableFinished || response.headersSent ? response.statusCode : 499;
    metrics.observeRequest(request.method, route, status, responseTime / 1000);
    return { method: request.method, route, status, durationMs: responseTime, principal };
  };
  return pinoHttp({
    logger: rootLogger(),
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'request_id' },
    genReqId: (_req, res) => ((res as Response).locals?.requestId as string | undefined) ?? 'none',
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'warn' : 'info'),
    customSuccessMessage: () => 'request',
    customErrorMessage: () => 'request',
    customSuccessObject: (req, res, value: { responseTime: number }) => fields(req, res, value.responseTime),
    customErrorObject: (req, res, _error, value: { responseTime: number }) => fields(req, res, value.responseTime),
  }) as unknown as RequestHandler;
}
