// The route a request matched, as a bounded label: the OpenAPI path template
// (`/jobs/{job_id}`), never the raw URL, so ids stay out of logs' route field and
// out of metric labels (one series per route, not per job).
import type { Request } from 'express';

export function routeOf(req: Request): string {
  const openapi = (req as Request & { openapi?: { openApiRoute?: string } }).openapi;
  if (openapi?.openApiRoute) return openapi.openApiRoute;
  const expressRoute = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof expressRoute === 'string') return req.baseUrl + expressRoute;
  // Docs are mounted as sub-apps; anything else matched no route (a 404, or refused before routing).
  return req.baseUrl !== '' ? req.baseUrl : 'unmatched';
}
