// The one mapping from errors to HTTP responses. Everything a handler throws
// ends here: our typed ApiErrors, express-openapi-validator's HttpErrors,
// body-parser's errors and the data layer's database errors. Unknown errors
// become a 500 whose message carries no detail (the log has it).
import type { ErrorRequestHandler, Request } from 'express';
import { ApiError, type ErrorCode } from '../errors.ts';
import { isDatabaseUnavailable, isInvalidValue } from '../db/errors.ts';
import { errorFields, log } from '../log.ts';
import { jsonTooDeep } from './jsonBody.ts';
import { requestIdOf } from './requestId.ts';

const codeByStatus: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'database_unavailable',
};

type ValidatorError = { status: number; message: string; errors?: { path?: string; message?: string }[] };
type BodyParserError = { type: string; status?: number; expose?: boolean; message: string };

function isValidatorError(error: unknown): error is ValidatorError {
  return typeof error === 'object' && error !== null && 'status' in error && 'errors' in error;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  return typeof error === 'object' && error !== null && 'type' in error && 'expose' in error;
}

/** zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR, …) reach us from body-parser's inflate step. */
function isCorruptEncoding(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

function toApiError(error: unknown, req: Request): ApiError {
  if (error instanceof ApiError) return error;
  if (isDatabaseUnavailable(error)) {
    return new ApiError(503, 'database_unavailable', 'the database is unreachable; retry shortly', undefined, {
      'Retry-After': '1',
    });
  }
  if (isInvalidValue(error)) {
    return new ApiError(400, 'bad_request', 'a value in the request cannot be stored (out of range, or a character such as NUL that text cannot hold)');
  }
  if (isBodyParserError(error)) {
    if (error.type === 'entity.parse.failed') return new ApiError(400, 'invalid_json', 'the request body is not valid JSON');
    if (error.type === jsonTooDeep) return new ApiError(400, 'bad_request', error.message);
    if (error.type === 'entity.too.large') return new ApiError(413, 'payload_too_large', 'the request body is too large');
    if (error.type === 'encoding.unsupported' || error.type === 'charset.unsupported') {
      return new ApiError(415, 'unsupported_media_type', 'unsupported body encoding or charset');
    }
    return new ApiError(400, 'bad_request', 'the request body could not be read');
  }
  if (isCorruptEncoding(error)) {
    const encoding = req.headers['content-encoding'] ?? 'the Content-Encoding';
    return new ApiError(400, 'bad_request', `the request body is not valid ${encoding} data (corrupt or truncated)`);
  }
  if (isValidatorError(error) && error.status >= 400 && error.status < 600 && error.status !== 500) {
    const code = codeByStatus[error.status] ?? 'bad_request';
    const details = error.errors?.map((e) => ({ path: e.path, message: e.message }));
    let message = error.message;
    if (error.status === 401) message = 'missing or invalid bearer token for this endpoint';
    if (error.status === 404) message = `no route ${req.method} ${req.path}`;
    if (error.status === 405) message = `${req.method} is not allowed on ${req.path}`;
    return new ApiError(error.status, code, message, error.status === 400 ? details : undefined,
      error.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : undefined);
  }
  return new ApiError(500, 'internal', 'internal error');
}

/** OpenAI's error `type` for a status: the official SDKs and their users branch on it. */
function openAiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const apiError = toApiError(error, req);
  const request_id = requestIdOf(req, res);
  if (apiError.status >= 500 && apiError.code === 'internal') {
    log.error('unhandled error', { method: req.method, path: req.path, request_id, ...errorFields(error) });
    // The caller gets no detail, but an id to quote: the log line above carries it.
    if (request_id) apiError.message = `internal error (request ${request_id})`;
  } else if (apiError.status === 400 && isInvalidValue(error)) {
    // The database, not openapi.yaml, refused the value: the contract lacks a bound.
    log.warn('request refused by the database: openapi.yaml may lack a bound', { method: req.method, path: req.path, request_id, error: (error as Error).message });
  } else if (apiError.status === 503) {
    log.warn('request failed: service unavailable', { path: req.path, request_id, ...errorFields(error), stack: undefined });
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const [name, value] of Object.entries(apiError.headers ?? {})) res.setHeader(name, value);
  const body: { error: { code: string; message: string; details?: unknown; type?: string; param?: string | null } } = {
    error: { code: apiError.code, message: apiError.message },
  };
  // The OpenAI-compatible routes answer in OpenAI's shape too: `type` and `param` beside our code.
  if (req.path.startsWith('/v1/')) {
    body.error.type = openAiType(apiError.status);
    body.error.param = apiError.param ?? null;
  }
  if (apiError.details !== undefined) body.error.details = apiError.details;
  res.status(apiError.status).json(body);
};
