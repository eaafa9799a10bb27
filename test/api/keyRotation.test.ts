// A business key rotated while a lookup of the old key is in flight: the lookup read the
// old key before the rotation committed, and used to cache it after forgetBusiness ran,
// so the old key kept working on that process until the cache entry expired.
import assert from 'node:assert/strict';
import { PrincipalResolver, type Principal } from '../../api/auth/principal.ts';
import { useTestApi } from '../support/apiServer.ts';
import { createBusiness } from '../support/factories.ts';

/** A resolver whose next database lookup can be held after it has read the row. */
class HeldResolver extends PrincipalResolver {
  hold: { reached: () => void; release: Promise<void> } | undefined;
  lookups = 0;
  protected override async lookup(token: string, hash: string): Promise<Principal | null> {
    this.lookups++;
    const found = await super.lookup(token, hash);
    const hold = this.hold;
    this.hold = undefined;
    if (hold) {
      hold.reached();
      await hold.release;
    }
    return found;
  }
}

describe('business key rotation during an in-flight lookup', () => {
  const api = useTestApi();

  it('does not re-cache the old key after forgetBusiness', async () => {
    const business = await createBusiness(api);
    const resolver = new HeldResolver(api.server.ctx.db, api.adminToken, 60);
    let reached!: () => void;
    let release!: () => void;
    const atHold = new Promise<void>((r) => (reached = r));
    resolver.hold = { reached, release: new Promise<void>((r) => (release = r)) };

    const inFlight = resolver.resolve(business.api_key); // reads the row, then waits
    await atHold;
    const rotated = await api.request('POST', `/businesses/${business.id}/rotate_key`, { token: api.adminToken });
    assert.equal(rotated.status, 200, rotated.text);
    resolver.forgetBusiness(business.id); // what the rotate route does on its own process
    release();
    assert.equal((await inFlight)?.kind, 'business', 'the request that started before the rotation may finish');

    // The next request with the old key must ask the database again, and be refused.
    assert.equal(await resolver.resolve(business.api_key), null);
    assert.equal(resolver.lookups, 2);
    assert.equal((await resolver.resolve(rotated.body.api_key))?.kind, 'business');
  });
});
