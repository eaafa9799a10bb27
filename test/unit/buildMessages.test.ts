import assert from 'node:assert/strict';
import { buildMessages, languageInstruction } from '../../api/chat/buildMessages.ts';

describe('building the messages a model receives', () => {
  it('puts prompt, language rule and context in one system message, then history, then the new message', () => {
    const messages = buildMessages({
      systemPrompt: 'We sell bikes.',
      context: 'Order 17 shipped.',
      history: [{ role: 'user', message: 'hi' }, { role: 'assistant', message: 'hello' }],
      historyMaxChars: 1000,
      message: 'where is order 17?',
    });
    assert.equal(messages.length, 4);
    assert.equal(messages[0]!.role, 'system');
    assert.ok(messages[0]!.content.includes('We sell bikes.'));
    assert.ok(messages[0]!.content.includes(languageInstruction));
    assert.ok(messages[0]!.content.includes('Order 17 shipped.'));
    assert.deepEqual(messages.slice(1).map((m) => m.role), ['user', 'assistant', 'user']);
  });

  it('drops the oldest turns first when the history exceeds its character budget', () => {
    const messages = buildMessages({
      systemPrompt: '',
      context: null,
      history: [{ role: 'user', message: 'a'.repeat(50) }, { role: 'assistant', message: 'b'.repeat(50) }, { role: 'user', message: 'c'.repeat(50) }],
      historyMaxChars: 120,
      message: 'new',
    });
    assert.deepEqual(messages.slice(1, -1).map((m) => m.content[0]), ['b', 'c']);
  });

  it('trims history, oldest first, until the messages fit the context, never the system prompt or the new message', () => {
    const history = ['a', 'b', 'c', 'd'].map((letter, i) => ({ role: i % 2 ? ('assistant' as const) : ('user' as const), message: letter.repeat(1000) }));
    const size = (m: { content: string }[]) => m.reduce((sum, x) => sum + x.content.length, 0);
    const messages = buildMessages({
      systemPrompt: 'S'.repeat(500),
      context: null,
      history,
      historyMaxChars: 100_000,
      message: 'N'.repeat(800),
      fits: (candidate) => size(candidate) <= 4000,
    });
    assert.deepEqual(messages.slice(1, -1).map((m) => m.content[0]), ['c', 'd']);
    assert.ok(messages[0]!.content.startsWith('S'.repeat(500)));
    assert.equal(messages.at(-1)!.content, 'N'.repeat(800));
    const none = buildMessages({ systemPrompt: 'S', context: null, history, historyMaxChars: 100_000, message: 'new', fits: () => false });
    assert.deepEqual(none.map((m) => m.role), ['system', 'user'], 'with no room, all history goes and the message stays');
  });
});
