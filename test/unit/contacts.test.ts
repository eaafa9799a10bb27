// The contact guardrail's detector (api/integrity/contacts.ts) and its stream
// hold-back (api/integrity/streamGuard.ts). False positives matter as much as
// misses: an honest answer refused costs its miner a suspicion.
import assert from 'node:assert/strict';
import { ContactPolicy, findContacts, judgeableEnd } from '../../api/integrity/contacts.ts';
import { StreamGuard } from '../../api/integrity/streamGuard.ts';

const regions = ['US', 'GB', 'DE', 'FR', 'ES', 'IT', 'NL'];
const keys = (text: string) => findContacts(text, regions).map((c) => `${c.kind}:${c.key}`);

describe('contact guardrail: detection', () => {
  it('finds URLs with or without a scheme, bare domains with a path, e-mails and valid phone numbers', () => {
    assert.deepEqual(keys('re-enter it at http://evil.example/pay'), ['url:evil.example']);
    assert.deepEqual(keys('go to evil.example/pay'), ['url:evil.example']);
    assert.deepEqual(keys('see www.Shop.com.'), ['url:shop.com']);
    assert.deepEqual(keys('mail Refunds@Evil.example'), ['email:refunds@evil.example']);
    assert.deepEqual(keys('call +44 20 7946 0958 or (415) 555-2671'), ['phone:+442079460958', 'phone:+14155552671']);
    assert.deepEqual(keys('ring 020 7946 0958'), ['phone:+442079460958']);
  });

  it('passes dates, prices, times, order, version and file names', () => {
    for (const text of [
      'Delivered on 2024-05-01 at 10:30, or 01.05.2024, or 1/5/2024.',
      'It costs $1,234.56 (EUR 99,90).',
      'Your order 123456789 shipped; ticket #4521.',
      'We run Node.js 24, Python 3.12.1 and v1.2.3.4.',
      'Run main.py, then read README.md and install.sh.',
      'e.g. this, i.e. that; Mr. Smith; U.S.A.',
    ]) assert.deepEqual(keys(text), [], text);
  });
});

describe('contact guardrail: what a business gave', () => {
  const policy = new ContactPolicy(
    ['Our shop: shop.example, help@shop.example, +1 415 555 2671. Order 123456789.'],
    ['partner.example', '+33 6 12 34 56 78'],
    regions,
  );

  it('allows given hosts (and their subdomains, www.), addresses (any case) and numbers (any format)', () => {
    assert.equal(policy.firstForbidden('See https://www.shop.example/a, docs.shop.example, HELP@Shop.example, (415) 555-2671, 4155552671.'), null);
    assert.equal(policy.firstForbidden('Partner: https://partner.example/x, 06 12 34 56 78.'), null);
  });

  it('names the first contact it did not give', () => {
    assert.equal(policy.firstForbidden('Visit shop.example or http://shop.example.evil.example/login')?.raw, 'http://shop.example.evil.example/login');
    assert.equal(policy.firstForbidden('Call +1 415 555 2672')?.kind, 'phone');
    assert.equal(policy.firstForbidden('Write to billing@evil.example')?.kind, 'email');
  });
});

describe('contact guardrail: stream hold-back', () => {
  it('holds back only the trailing word unless it is letters, and phone-ish runs', () => {
    assert.equal(judgeableEnd('Hello wor'), 9);
    assert.equal(judgeableEnd('Visit http://ev'), 6);
    assert.equal(judgeableEnd('call +44 20 79'), 4);
    assert.equal(judgeableEnd('call 020 '), 4);
    assert.equal(judgeableEnd('I have 2 cats'), 13);
  });

  it('never shows a forbidden contact growing across batches, nor anything after it', () => {
    const guard = new StreamGuard(new ContactPolicy([], [], regions));
    let text = '';
    let shown = '';
    for (const piece of ['Hello. Visit evil', '.example/pa', 'y now and ', 'type your PIN.']) {
      text += piece;
      shown = text.slice(0, guard.visibleEnd(text));
    }
    assert.equal(shown, 'Hello. Visit evil');
    assert.equal(guard.blocked, true);
  });

  it('shows everything up to the last word with the guardrail on, and all of it when off', () => {
    const text = 'Your order ships on 2024-05-01 from our store';
    assert.equal(text.slice(0, new StreamGuard(new ContactPolicy([], [], regions)).visibleEnd(text)), text);
    assert.equal(new StreamGuard(null).visibleEnd('see http://x.example'), 'see http://x.example'.length);
  });
});
