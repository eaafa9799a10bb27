import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../api/config.ts';

describe('configuration', () => {
  it('applies documented defaults', () => {
    const config = loadConfig({});
    assert.equal(config.PORT, 8000);
    assert.equal(config.MIA_MAX_ATTEMPTS, 3);
    assert.equal(config.DATABASE_URL, undefined);
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
