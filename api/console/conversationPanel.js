// One session's turns, oldest first (GET /sessions/{session_id}?business_id=…): what
// the customer wrote and the answer that was accepted, or why there is none.
import { api, withQuery } from './api.js';
import { byId, h, showError } from './dom.js';
import { count, dateTime } from './format.js';

export function conversationPanel({ businessName }) {
  const form = byId('conversation-form');
  const businessSelect = byId('conversation-business');
  const sessionInput = byId('conversation-session');
  const view = byId('conversation-view');
  const turns = byId('conversation-turns');
  const more = byId('conversation-more');
  let open = null; // { businessId, sessionId, cursor }

  async function load(businessId, sessionId, cursor) {
    const path = withQuery(`/sessions/${encodeURIComponent(sessionId)}`, { business_id: businessId, cursor, limit: 50 });
    const page = await api(path);
    if (!cursor) turns.replaceChildren();
    turns.append(...page.turns.map(turn));
    open = { businessId, sessionId, cursor: page.next_cursor ?? null };
    more.hidden = open.cursor === null;
  }

  async function show(businessId, sessionId) {
    businessSelect.value = businessId;
    sessionInput.value = sessionId;
    byId('conversation-title').textContent = `Session ${sessionId} · ${businessName(businessId)}`;
    try {
      await load(businessId, sessionId, null);
      view.hidden = false;
      showError('conversation-error', null);
      history.replaceState(null, '', `#session=${encodeURIComponent(businessId)}/${encodeURIComponent(sessionId)}`);
    } catch (error) {
      view.hidden = true;
      showError('conversation-error', error);
    }
    byId('conversation').scrollIntoView({ block: 'start' });
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void show(businessSelect.value, sessionInput.value.trim());
  });
  more.addEventListener('click', async () => {
    if (!open?.cursor) return;
    try {
      await load(open.businessId, open.sessionId, open.cursor);
    } catch (error) {
      showError('conversation-error', error);
    }
  });

  /** A session named in the address (#session=<business id>/<session id>), so a view can be linked. */
  function fromLocation() {
    const match = /^#session=([^/]+)\/(.+)$/.exec(location.hash);
    if (match) void show(decodeURIComponent(match[1]), decodeURIComponent(match[2]));
  }

  return { show, fromLocation };
}

function turn(t) {
  const meta = [dateTime(t.created_at), t.status, t.model, t.tokens_generated !== null ? `${count(t.tokens_generated)} tokens` : null, t.attempts > 1 ? `${t.attempts} attempts` : null]
    .filter(Boolean)
    .join(' · ');
  return h(
    'li',
    { className: 'turn', dataset: { jobId: t.job_id, status: t.status } },
    h('div', { className: 'bubble customer' }, h('span', { className: 'who' }, 'Customer'), h('p', { className: 'text message' }, t.message)),
    t.answer !== null
      ? h('div', { className: 'bubble assistant' }, h('span', { className: 'who' }, 'Assistant'), h('p', { className: 'text answer' }, t.answer))
      : h('div', { className: `bubble pending status-${t.status}` }, h('p', { className: 'text' }, t.failure_reason ? `No answer: ${t.failure_reason}` : `No answer yet (${t.status})`)),
    h('p', { className: 'meta', title: t.job_id }, meta),
  );
}
