// The console's wiring: sign in with the operator token, then poll GET /queue every few
// seconds (?poll=<seconds> changes it) and refresh the lists less often.
import { api, ApiFailure, onTokenRefused, operatorToken } from './api.js';
import { byId, h } from './dom.js';
import { businessesPanel } from './businessesPanel.js';
import { conversationPanel } from './conversationPanel.js';
import { jobsPanel } from './jobsPanel.js';
import { minersPanel } from './minersPanel.js';
import { queuePanel } from './queuePanel.js';
import { shortId } from './format.js';

const requestedPoll = Number(new URLSearchParams(location.search).get('poll'));
const pollSeconds = Number.isFinite(requestedPoll) && requestedPoll >= 0.5 ? requestedPoll : 3;
const listsEverySeconds = Math.max(15, pollSeconds);

const names = new Map(); // business id -> name, from the businesses panel
const businessName = (id) => names.get(id) ?? shortId(id);

const queue = queuePanel();
const miners = minersPanel();
const businesses = businessesPanel({ onLoaded: fillBusinessChoices });
const conversation = conversationPanel({ businessName });
const jobs = jobsPanel({
  businessName,
  onOpenSession: (businessId, sessionId) => void conversation.show(businessId, sessionId),
  onRequeued: () => void pollQueue(),
});

let timers = [];
let openLinkedSession = false;

async function pollQueue() {
  try {
    queue.update(await api('/queue'));
    byId('queue-error').textContent = '';
    byId('freshness').textContent = `Updated ${new Date().toISOString().slice(11, 19)} UTC`;
  } catch (error) {
    byId('queue-error').textContent = error.message;
    byId('freshness').textContent = 'Update failed';
  }
}

async function refreshLists() {
  // Businesses first: the other lists and the viewer show business names.
  await businesses.refresh();
  if (openLinkedSession) {
    openLinkedSession = false;
    conversation.fromLocation();
  }
  await Promise.all([miners.refresh(), jobs.refresh()]);
}

function every(seconds, task) {
  let stopped = false;
  let timer;
  const run = async () => {
    await task();
    // The next run is timed from the end of this one, so slow answers never pile up.
    if (!stopped) timer = setTimeout(run, seconds * 1000);
  };
  void run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function showConsole() {
  byId('sign-in').hidden = true;
  byId('console').hidden = false;
  byId('sign-out').hidden = false;
  byId('refresh').hidden = false;
  openLinkedSession = true;
  timers = [every(pollSeconds, pollQueue), every(listsEverySeconds, refreshLists)];
}

function showSignIn(message = '') {
  for (const stop of timers) stop();
  timers = [];
  queue.reset();
  byId('console').hidden = true;
  byId('sign-out').hidden = true;
  byId('refresh').hidden = true;
  byId('sign-in').hidden = false;
  byId('freshness').textContent = '';
  byId('sign-in-error').textContent = message;
  byId('token').focus();
}

function fillBusinessChoices(list) {
  names.clear();
  for (const business of list) names.set(business.id, business.name);
  for (const select of [byId('jobs-business'), byId('conversation-business')]) {
    const chosen = select.value;
    const first = select.options[0];
    select.replaceChildren(first, ...list.map((business) => h('option', { value: business.id }, business.name)));
    select.value = list.some((business) => business.id === chosen) ? chosen : '';
  }
}

byId('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = byId('token').value.trim();
  try {
    // GET /queue is for the operator only: a business or miner key gets 401/403 here.
    await api('/queue', { token });
  } catch (error) {
    const refused = error instanceof ApiFailure && (error.status === 401 || error.status === 403);
    byId('sign-in-error').textContent = refused ? 'That is not the operator token.' : error.message;
    return;
  }
  operatorToken.set(token);
  byId('token').value = '';
  showConsole();
});

byId('refresh').addEventListener('click', () => {
  void pollQueue();
  void refreshLists();
});

byId('sign-out').addEventListener('click', () => {
  operatorToken.clear();
  showSignIn();
});

onTokenRefused(() => {
  operatorToken.clear();
  showSignIn('The API refused the token; sign in again.');
});

// A conversation link pasted into an open console opens it too (not only on load).
window.addEventListener('hashchange', () => {
  if (operatorToken.get()) conversation.fromLocation();
});

if (operatorToken.get()) showConsole();
else showSignIn();
