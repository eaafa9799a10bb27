import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../api/config.ts';
import { trustProxy } from '../../api/app.ts';

describe('configuration', () => {
  it('applies documented defaults', () => {
    const config = loadConfig({});
    assert.equal(config.PORT, 8000);
    assert.equal(config.MIA_MAX_ATTEMPTS, 3);
    assert.equal(config.DATABASE_URL, undefined);
  });

  it('keeps miner probation and the suspended-address hold on by default, and trusts no proxy', () => {
    const config = loadConfig({});
    assert.equal(config.MIA_PROBATION_JOBS, 5);
    assert.equal(config.MIA_PROBATION_SLOTS, 1);
    assert.equal(config.MIA_SUSPENDED_ADDRESS_HOLD_HOURS, 24);
    assert.equal(config.MIA_ENROLMENT_FAILURES_PER_MINUTE, 10);
    assert.equal(trustProxy(config.MIA_TRUST_PROXY), false);
    assert.equal(trustProxy('2'), 2, 'digits: a hop count');
    assert.equal(trustProxy('loopback, 10.0.0.0/8'), 'loopback, 10.0.0.0/8');
  });

  it('names every bad variable in one error', () => {
    assert.throws(() => loadConfig({ PORT: 'x', MIA_MAX_ATTEMPTS: '0' }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /PORT/);
      assert.match(error.message, /MIA_MAX_ATTEMPTS/);
      return true;
    });
  });

  it('treats an empty variable as unset', () => {
    assert.equal(loadConfig({ PORT: '' }).PORT, 8000);
  });
});
