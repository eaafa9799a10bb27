// The validator's route look-up compiles each openapi.yaml template once per process
// (api/http/routeMatcherCache.ts), and still matches what it matched before.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { cacheRouteMatchers } from '../../api/http/routeMatcherCache.ts';

type Matcher = { regexp: RegExp; keys: { name: string }[] };
const fromHere = createRequire(import.meta.url);
const validatorsModule = () =>
  createRequire(fromHere.resolve('express-openapi-validator'))('path-to-regexp') as {
    pathToRegexp: (path: unknown, options?: object) => Matcher;
  };

describe('route matcher cache (express-openapi-validator look-up)', () => {
  it('compiles a template once per options and matches as before', () => {
    const before = validatorsModule().pathToRegexp('/job/:job_id/deltas', { sensitive: false, strict: false });
    cacheRouteMatchers();
    cacheRouteMatchers(); // idempotent: a second app in the same process does not wrap twice
    const { pathToRegexp } = validatorsModule();
    const first = pathToRegexp('/job/:job_id/deltas', { sensitive: false, strict: false });
    const again = pathToRegexp('/job/:job_id/deltas', { sensitive: false, strict: false });
    assert.equal(again, first, 'the same matcher, not a second compilation');
    assert.notEqual(pathToRegexp('/job/:job_id/deltas', { sensitive: true, strict: false }), first, 'other options, another matcher');
    for (const matcher of [before, first]) {
      const m = matcher.regexp.exec('/job/5f0c/deltas');
      assert.deepEqual([m?.[1], matcher.keys.map((k) => k.name)], ['5f0c', ['job_id']]);
      assert.equal(matcher.regexp.exec('/job/5f0c/result'), null);
    }
    // exec keeps no state between calls (no global flag): the cached matcher matches twice running.
    assert.ok(first.regexp.exec('/job/a/deltas') && first.regexp.exec('/job/a/deltas'));
  });
});
