// Finding, replacing and restoring customers' personal data (api/privacy/).
// Misses leak a customer's data to a stranger; false positives hide an order
// number or a price from the model. Both are tested, in several scripts.
import assert from 'node:assert/strict';
import { findPersonalData, ibanValid, luhnValid } from '../../api/privacy/detect.ts';
import { pendingPlaceholderStart, type PiiCategory } from '../../api/privacy/placeholders.ts';
import { Redactor, type RedactionCounts, type SessionValue } from '../../api/privacy/redact.ts';
import { restorableEnd, restorer } from '../../api/privacy/restore.ts';
import { ToolDeltaRestorer } from '../../api/privacy/toolDeltas.ts';

const regions = ['US', 'GB', 'DE', 'FR', 'ES', 'IT', 'NL'];
const all = new Set<PiiCategory>(['email', 'phone', 'card', 'iban']);
const found = (text: string, categories: ReadonlySet<PiiCategory> = all) =>
  findPersonalData(text, categories, regions).map((s) => `${s.category}:${s.raw}=${s.key}`);

describe('personal data: validators', () => {
  it('Luhn: accepts test cards of the big schemes, refuses a changed digit', () => {
    for (const card of ['4111111111111111', '5555555555554444', '378282246310005', '6011111111111117', '4242424242424242']) {
      assert.equal(luhnValid(card), true, card);
    }
    for (const card of ['4111111111111112', '5555555555554445', '378282246310006']) assert.equal(luhnValid(card), false, card);
  });

  it('IBAN: accepts valid numbers of many countries, refuses a wrong check digit, a wrong length and an unknown country', () => {
    for (const iban of ['DE89370400440532013000', 'GB82WEST12345698765432', 'FR1420041010050500013M02606', 'NL91ABNA0417164300',
      'ES9121000418450200051332', 'IT60X0542811101000000123456', 'CH9300762011623852957', 'BE68539007547034',
      'NO9386011117947', 'SA0380000000608010167519', 'de89370400440532013000']) {
      assert.equal(ibanValid(iban), true, iban);
    }
    for (const iban of ['DE89370400440532013001', 'DE8937040044053201300', 'GB82WEST1234569876543', 'ZZ89370400440532013000']) {
      assert.equal(ibanValid(iban), false, iban);
    }
  });
});

describe('personal data: detection', () => {
  it('finds e-mail addresses, valid phone numbers, Luhn-valid cards and IBANs as people write them', () => {
    assert.deepEqual(found('Write to Jane.Doe@Example.com or mailto:x@y.org'), [
      'email:Jane.Doe@Example.com=jane.doe@example.com', 'email:x@y.org=x@y.org']);
    assert.deepEqual(found('Call +1 415 555 2671 or 020 7946 0958.'), ['phone:+1 415 555 2671=+14155552671', 'phone:020 7946 0958=+442079460958']);
    assert.deepEqual(found('Card 4111 1111 1111 1111, Amex 3782-822463-10005.'), [
      'card:4111 1111 1111 1111=4111111111111111', 'card:3782-822463-10005=378282246310005']);
    assert.deepEqual(found('IBAN: DE89 3704 0044 0532 0130 00 please, or gb82west12345698765432.'), [
      'iban:DE89 3704 0044 0532 0130 00=DE89370400440532013000', 'iban:gb82west12345698765432=GB82WEST12345698765432']);
  });

  it('finds international numbers in Japanese, Arabic, Portuguese and Hindi text, full-width and Arabic-Indic digits included', () => {
    assert.deepEqual(found('お電話は＋８１ ３-１２３４-５６７８までお願いします'), ['phone:＋８１ ３-１２３４-５６７８=+81312345678']);
    assert.deepEqual(found('携帯は+81 90-1234-5678です'), ['phone:+81 90-1234-5678=+819012345678']);
    assert.deepEqual(found('اتصل على +٩٧١ ٥٠ ١٢٣ ٤٥٦٧ شكرا'), ['phone:+٩٧١ ٥٠ ١٢٣ ٤٥٦٧=+971501234567']);
    assert.deepEqual(found('Meu celular é +55 11 91234-5678.'), ['phone:+55 11 91234-5678=+5511912345678']);
    assert.deepEqual(found('मेरा नंबर +91 98765 43210 है'), ['phone:+91 98765 43210=+919876543210']);
    assert.deepEqual(found('カード番号は４１１１ １１１１ １１１１ １１１１です'), ['card:４１１１ １１１１ １１１１ １１１１=4111111111111111']);
  });

  it('leaves invalid cards and IBANs, order numbers, dates, prices and times alone', () => {
    for (const text of [
      'Card 4111 1111 1111 1112 was refused.',
      'IBAN DE89 3704 0044 0532 0130 01 is wrong.',
      'Your order 123456789 shipped on 2024-05-01 at 10:30; ticket #4521.',
      'It costs $1,234.56 (EUR 99,90).',
      'Tracking 1Z999AA10123456784, version v1.2.3.',
      'Ref GB82 WEST 1234 5698 7654 32ABC',
      '0000 0000 0000 0000',
    ]) assert.deepEqual(found(text), [], text);
  });

  it('finds only the categories asked for', () => {
    const text = 'jane@example.com, +1 415 555 2671, 4111 1111 1111 1111';
    assert.deepEqual(found(text, new Set(['card'])), ['card:4111 1111 1111 1111=4111111111111111']);
    assert.deepEqual(found(text, new Set(['email'])), ['email:jane@example.com=jane@example.com']);
  });
});

describe('personal data: redaction and restoration', () => {
  const session: SessionValue[] = [
    { placeholder: '[EMAIL_1]', category: 'email', value_key: 'jane@example.com', value: 'Jane@Example.com' },
    { placeholder: '[PHONE_1]', category: 'phone', value_key: '+14155552671', value: '+1 415 555 2671' },
  ];

  it('replaces each value by its session placeholder, whatever its spelling, and counts without values', () => {
    const redactor = new Redactor(all, regions, new Set());
    const counts: RedactionCounts = {};
    const used = new Set<string>();
    const text = 'I am jane@example.com (also JANE@EXAMPLE.COM), phone (415) 555-2671.';
    assert.equal(redactor.redact(text, session, counts, used), 'I am [EMAIL_1] (also [EMAIL_1]), phone [PHONE_1].');
    assert.deepEqual(counts, { email: 2, phone: 1 });
    assert.deepEqual([...used].sort(), ['[EMAIL_1]', '[PHONE_1]']);
  });

  it('replaces a known value written as first seen even where the detector reads it differently', () => {
    const redactor = new Redactor(new Set(['phone']), regions, new Set());
    const counts: RedactionCounts = {};
    // Glued to a word, the number is no phone number to the detector; the session knows it.
    assert.equal(redactor.redact('ref:+1 415 555 2671x', session, counts, new Set()), 'ref:[PHONE_1]x');
    assert.deepEqual(counts, { phone: 1 });
  });

  it('keeps what the business gave itself: its own address and number in its prompt are not redacted', () => {
    const exempt = Redactor.exemptValues(['Reach us at help@shop.example or +44 20 7946 0958.'], all, regions);
    const redactor = new Redactor(all, regions, exempt);
    assert.deepEqual(redactor.values(['Write help@shop.example, not jane@example.com; call 020 7946 0958']).map((v) => v.value), ['jane@example.com']);
  });

  it('restores known placeholders only, in text and in tool-call JSON; invented ones stay as written', () => {
    const restore = restorer(new Map([['[EMAIL_1]', 'jane@example.com'], ['[CARD_1]', '4111 1111 1111 1111']]));
    assert.equal(restore.text('Mail [EMAIL_1], card [CARD_1], not [EMAIL_9] or [EMAIL_1'), 'Mail jane@example.com, card 4111 1111 1111 1111, not [EMAIL_9] or [EMAIL_1');
    assert.deepEqual(restore.json([{ function: { name: 'refund', arguments: '{"email":"[EMAIL_1]"}' } }]),
      [{ function: { name: 'refund', arguments: '{"email":"jane@example.com"}' } }]);
  });

  it('holds back a trailing placeholder until it is complete or proven not to be one', () => {
    for (const tail of ['[', '[E', '[EMA', '[EMAIL', '[EMAIL_', '[EMAIL_1', '[PHONE_12', '[IBAN_', '[CARD_3']) {
      assert.equal(pendingPlaceholderStart(`Write to ${tail}`), 'Write to '.length, tail);
    }
    for (const tail of ['[EMAIL_1]', '[EMAX', '[EMAIL_x', '[note]', '[a', 'done']) {
      assert.equal(pendingPlaceholderStart(`Write to ${tail}`), `Write to ${tail}`.length, tail);
    }
    // Up to a given end: the part after it is not looked at.
    assert.equal(restorableEnd('ab [EMAIL_1] cd', 7), 3);
    assert.equal(restorableEnd('ab [EMAIL_1] cd', 12), 12);
  });

  it('holds streamed tool-call deltas while their arguments end inside a placeholder, then shows them as one, restored', () => {
    const tools = new ToolDeltaRestorer(restorer(new Map([['[EMAIL_1]', 'jane@example.com']])), true);
    const args = (d: Record<string, unknown>) => (d.function as { arguments: string }).arguments;
    assert.deepEqual(tools.push({ index: 0, id: 'c1', function: { name: 'mail', arguments: '{"to":"' } }, 0).map((s) => s.end), [1]);
    assert.deepEqual(tools.push({ index: 0, function: { arguments: '[EMA' } }, 1), []);
    assert.deepEqual(tools.push({ index: 0, function: { arguments: 'IL_1' } }, 2), []);
    const shown = tools.push({ index: 0, function: { arguments: ']"}' } }, 3);
    assert.deepEqual(shown.map((s) => [args(s.delta), s.end]), [['jane@example.com"}', 4]]);
    // A call cut off inside a placeholder (the next call began, or the attempt ended) is shown as it is.
    assert.deepEqual(tools.push({ index: 1, function: { arguments: '{"x":"[EM' } }, 4), []);
    assert.deepEqual(tools.push({ index: 2, id: 'c3', function: { name: 'n', arguments: '' } }, 5).map((s) => [args(s.delta), s.end]), [['{"x":"[EM', 5], ['', 6]]);
    assert.deepEqual(tools.flush(), []);
    // Without placeholders to restore, every delta passes at once.
    assert.equal(new ToolDeltaRestorer(restorer(new Map()), false).push({ index: 0, function: { arguments: '[EMA' } }, 0).length, 1);
  });
});
