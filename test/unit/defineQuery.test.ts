import assert from 'node:assert/strict';
import { compileNamedParameters } from '../../api/db/defineQuery.ts';

describe('named SQL parameters', () => {
  it('numbers each name once in order of first use and leaves ::casts alone', () => {
    const { sql, names } = compileNamedParameters('SELECT :a::uuid, :b, :a::text -- :ignored in a comment\nWHERE x = :b');
    assert.deepEqual(names, ['a', 'b']);
    assert.equal(sql, 'SELECT $1::uuid, $2, $1::text \nWHERE x = $2');
  });
});
