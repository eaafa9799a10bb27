// Typed errors the whole API throws. One middleware (api/http/errorHandler.ts)
// turns them into HTTP responses; the codes are listed in openapi.yaml
// (components.schemas.ErrorCode), so clients can branch on them.

export type ErrorCode =
  | 'bad_request'
  | 'invalid_json'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'name_taken'
  | 'lease_lost'
  | 'job_finished'
  | 'result_conflict'
  | 'rate_limited'
  | 'job_failed'
  | 'cancelled'
  | 'restarted'
  | 'timeout'
  | 'database_unavailable'
  | 'shutting_down'
  | 'internal';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends ApiError {
  constructor(message: string, details?: unknown) {
    super(400, 'bad_request', message, details);
  }
}

export class UnauthorizedError extends ApiError {
  constructor(message = 'missing or invalid bearer token') {
    super(401, 'unauthorized', message, undefined, { 'WWW-Authenticate': 'Bearer' });
  }
}

export class ForbiddenError extends ApiError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

export class NotFoundError extends ApiError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

export class ConflictError extends ApiError {
  constructor(code: 'name_taken' | 'lease_lost' | 'job_finished' | 'result_conflict', message: string) {
    super(409, code, message);
  }
}

export class ServiceUnavailableError extends ApiError {
  constructor(code: 'database_unavailable' | 'shutting_down', message: string) {
    super(503, code, message, undefined, { 'Retry-After': '1' });
  }
}
