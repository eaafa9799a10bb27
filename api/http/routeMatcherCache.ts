// express-openapi-validator (5.6.2, the newest release) finds each request's route by
// compiling route templates with path-to-regexp, in order, until one matches, on every
// request (lookupRoute in its openapi.metadata middleware): about twenty compilations before
// GET /job/next, 5.8% of the API's CPU in bench scenario 2 (BENCH_API_CPU_PROF). Upstream
// has the fix as an open pull request (cdimascio/express-openapi-validator#1217, "cache
// route matchers"); until a release ships it, the validator's path-to-regexp keeps the
// matcher of each (template, options) it has compiled. A matcher is a pure function of
// those arguments (its RegExp has no global flag, so exec keeps no state between calls),
// and the templates are openapi.yaml's paths: a small, fixed set. The bound only guards
// against a caller compiling arbitrary strings (those are compiled as before, uncached).
import { createRequire } from 'node:module';

type PathToRegexp = (path: unknown, options?: Record<string, unknown>) => unknown;

/** The path-to-regexp module express-openapi-validator loads (a CommonJS exports object). */
function validatorsPathToRegexp(): { pathToRegexp: PathToRegexp } {
  const fromApp = createRequire(import.meta.url);
  return createRequire(fromApp.resolve('express-openapi-validator'))('path-to-regexp') as { pathToRegexp: PathToRegexp };
}

const maxEntries = 1000;
const cached = Symbol('mia.routeMatcherCache');

/** Makes the validator's path-to-regexp compile each template once per process. Idempotent. */
export function cacheRouteMatchers(): void {
  const module = validatorsPathToRegexp();
  const compile = module.pathToRegexp as PathToRegexp & { [cached]?: true };
  if (compile[cached]) return;
  const matchers = new Map<string, unknown>();
  const memoised = Object.assign(
    (path: unknown, options?: Record<string, unknown>) => {
      if (typeof path !== 'string') return compile(path, options);
      const key = `${path}\u0000${JSON.stringify(options ?? {})}`;
      let matcher = matchers.get(key);
      if (matcher === undefined) {
        matcher = compile(path, options);
        if (matchers.size < maxEntries) matchers.set(key, matcher);
      }
      return matcher;
    },
    { [cached]: true as const },
  );
  module.pathToRegexp = memoised;
}
