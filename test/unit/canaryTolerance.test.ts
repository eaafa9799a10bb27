import assert from 'node:assert/strict';
import { agreeingPrefix, canaryAgrees, requiredPrefix } from '../../api/trust/canaryTolerance.ts';

describe('canary tolerance', () => {
  const tolerance = { minChars: 128, share: 0.5 };

  it('measures the agreeing prefix in characters', () => {
    assert.equal(agreeingPrefix('the order will arrive', 'the order was lost'), 11); // 'the order w'
    assert.equal(agreeingPrefix('', 'x'), 0);
  });

  it('asks for the lesser of minChars and the share of the expected answer', () => {
    assert.equal(requiredPrefix('x'.repeat(1000), tolerance), 128);
    assert.equal(requiredPrefix('x'.repeat(100), tolerance), 50);
    assert.equal(requiredPrefix('', tolerance), 1);
  });

  it('passes an answer that diverges late and fails one that diverges early or stops short', () => {
    const expected = 'a'.repeat(400);
    assert.equal(canaryAgrees(expected, 'a'.repeat(200) + 'b'.repeat(200), tolerance).pass, true);
    assert.equal(canaryAgrees(expected, 'a'.repeat(100) + 'b'.repeat(300), tolerance).pass, false);
    assert.equal(canaryAgrees(expected, 'a'.repeat(20), tolerance).pass, false);
  });
});
