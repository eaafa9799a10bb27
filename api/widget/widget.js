// MIA chat widget. One tag on a business's page:
//   <script src="https://api.example/widget.js" data-business="<business id>" async></script>
// Optional: data-token-url (your backend answers a POST with what POST /widget/tokens
// returned; it receives {"session_id"} of a session to continue, or {}), data-title,
// data-lang (the widget's own strings; default the browser's language), data-open="true".
//
// Plain JavaScript, no build step and nothing inline for the host page to allow in its CSP:
// the panel lives in a shadow DOM (the page's CSS cannot reach in, ours cannot leak out),
// styled through a constructed stylesheet, and text is only ever set as text (an answer can
// never become markup). The business's API key never reaches the browser: the widget holds a
// short-lived token bound to this page's origin and its session, and asks for a new one
// when it expires.
/* global document, navigator, localStorage, fetch, URL, TextDecoder, CSSStyleSheet */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.src) return;
  var api = new URL(script.src).origin;
  var data = script.dataset;
  var businessId = data.business || '';
  var tokenUrl = data.tokenUrl || '';
  var storageKey = 'mia-widget:' + api + ':' + (businessId || tokenUrl);

  // The widget's own words; the model answers in the customer's language by itself.
  var strings = {
    en: { title: 'Chat with us', open: 'Chat', close: 'Close', placeholder: 'Type your message…', send: 'Send', waiting: 'Waiting for an answer…', failed: 'Sorry, no answer could be given. Please try again.', unavailable: 'The chat is not available right now.', retracted: 'Rewriting the answer…' },
    de: { title: 'Schreiben Sie uns', open: 'Chat', close: 'Schließen', placeholder: 'Ihre Nachricht…', send: 'Senden', waiting: 'Die Antwort kommt gleich…', failed: 'Leider konnte keine Antwort gegeben werden. Bitte versuchen Sie es noch einmal.', unavailable: 'Der Chat ist gerade nicht verfügbar.', retracted: 'Die Antwort wird neu geschrieben…' },
    fr: { title: 'Discutons', open: 'Chat', close: 'Fermer', placeholder: 'Votre message…', send: 'Envoyer', waiting: 'Réponse en cours…', failed: 'Désolé, aucune réponse n’a pu être donnée. Veuillez réessayer.', unavailable: 'Le chat n’est pas disponible pour le moment.', retracted: 'La réponse est réécrite…' },
    es: { title: 'Escríbenos', open: 'Chat', close: 'Cerrar', placeholder: 'Escribe tu mensaje…', send: 'Enviar', waiting: 'Esperando la respuesta…', failed: 'Lo sentimos, no se pudo responder. Inténtalo de nuevo.', unavailable: 'El chat no está disponible ahora.', retracted: 'Reescribiendo la respuesta…' },
    it: { title: 'Scrivici', open: 'Chat', close: 'Chiudi', placeholder: 'Scrivi il tuo messaggio…', send: 'Invia', waiting: 'In attesa della risposta…', failed: 'Spiacenti, non è stato possibile rispondere. Riprova.', unavailable: 'La chat non è disponibile al momento.', retracted: 'Riscrittura della risposta…' },
    nl: { title: 'Chat met ons', open: 'Chat', close: 'Sluiten', placeholder: 'Typ je bericht…', send: 'Versturen', waiting: 'Wachten op antwoord…', failed: 'Sorry, er kon geen antwoord worden gegeven. Probeer het opnieuw.', unavailable: 'De chat is nu niet beschikbaar.', retracted: 'Het antwoord wordt herschreven…' },
    pt: { title: 'Fale conosco', open: 'Chat', close: 'Fechar', placeholder: 'Escreva a sua mensagem…', send: 'Enviar', waiting: 'Aguardando a resposta…', failed: 'Desculpe, não foi possível responder. Tente novamente.', unavailable: 'O chat não está disponível agora.', retracted: 'Reescrevendo a resposta…' },
  };
  var language = data.lang || navigator.language || 'en';
  var t = strings[language.toLowerCase().split('-')[0]] || strings.en;

  var css = [
    // The page's rules reach the host element (they beat :host), and what the host inherits
    // flows into the shadow tree: a wrapper that resets everything stops it there.
    '.mia { all: initial; position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2433; }',
    '.launcher { border: 0; border-radius: 24px; padding: 12px 20px; background: #2f5bea; color: #fff; font: inherit; font-weight: 600; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.2); }',
    '.panel { display: none; flex-direction: column; width: 340px; height: 460px; max-height: calc(100vh - 40px); background: #fff; border-radius: 14px; box-shadow: 0 8px 30px rgba(0,0,0,.25); overflow: hidden; }',
    '.mia.open .panel { display: flex; } .mia.open .launcher { display: none; }',
    'header { display: flex; align-items: center; justify-content: space-between; padding: 12px 14px; background: #2f5bea; color: #fff; font-weight: 600; }',
    'header button { border: 0; background: transparent; color: #fff; font: inherit; font-size: 18px; cursor: pointer; }',
    '.log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; background: #f5f7fb; }',
    '.msg { max-width: 85%; padding: 8px 11px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }',
    '.user { align-self: flex-end; background: #2f5bea; color: #fff; border-bottom-right-radius: 4px; }',
    '.assistant { align-self: flex-start; background: #fff; border: 1px solid #dfe4ee; border-bottom-left-radius: 4px; }',
    '.assistant.pending { color: #6b7385; font-style: italic; }',
    '.notice { align-self: center; color: #a33; font-size: 12px; text-align: center; }',
    'form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e6e9f0; }',
    'textarea { flex: 1; resize: none; height: 38px; padding: 8px; border: 1px solid #cfd5e2; border-radius: 8px; font: inherit; color: inherit; }',
    'form button { border: 0; border-radius: 8px; padding: 0 14px; background: #2f5bea; color: #fff; font: inherit; font-weight: 600; cursor: pointer; }',
    'form button:disabled { opacity: .5; cursor: default; }',
  ].join('\n');

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A custom element name, not a div: the page's own `div { … }` rules cannot reach the host.
  var host = el('mia-chat-widget');
  var root = host.attachShadow({ mode: 'open' });
  if ('adoptedStyleSheets' in root && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.appendChild(el('style', '', css));
  }
  var launcher = el('button', 'launcher', t.open);
  launcher.type = 'button';
  var panel = el('section', 'panel');
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', data.title || t.title);
  var header = el('header');
  header.appendChild(el('span', 'title', data.title || t.title));
  var closeButton = el('button', 'close', '×');
  closeButton.type = 'button';
  closeButton.setAttribute('aria-label', t.close);
  header.appendChild(closeButton);
  var log = el('div', 'log');
  log.setAttribute('aria-live', 'polite');
  var form = el('form');
  var input = el('textarea');
  input.placeholder = t.placeholder;
  input.setAttribute('aria-label', t.placeholder);
  var sendButton = el('button', 'send', t.send);
  sendButton.type = 'submit';
  form.appendChild(input);
  form.appendChild(sendButton);
  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(form);
  var frame = el('div', 'mia');
  frame.appendChild(launcher);
  frame.appendChild(panel);
  root.appendChild(frame);

  // --- session and token -------------------------------------------------------------
  var stored = {};
  try { stored = JSON.parse(localStorage.getItem(storageKey) || '{}') || {}; } catch { stored = {}; }
  var token = null;
  var tokenExpires = 0;
  var started = null;

  function remember(sessionId) {
    stored.session_id = sessionId;
    try { localStorage.setItem(storageKey, JSON.stringify(stored)); } catch { /* private mode: the session lasts the page */ }
  }

  function mint() {
    var body = stored.session_id ? { session_id: stored.session_id } : {};
    var request = tokenUrl
      ? fetch(tokenUrl, { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      : fetch(api + '/widget/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(Object.assign({ business_id: businessId }, body)) });
    return request.then(function (res) {
      // A session the endpoint no longer knows (or never issued): start a new one.
      if (res.status === 400 && stored.session_id && !tokenUrl) {
        delete stored.session_id;
        return mint();
      }
      if (!res.ok) throw new Error('token ' + res.status);
      return res.json().then(function (minted) {
        token = minted.token;
        // Renew a minute early, so a request never leaves with a token about to end.
        tokenExpires = Date.parse(minted.expires_at) - 60000;
        remember(minted.session_id);
        return token;
      });
    });
  }

  function currentToken() {
    return token && Date.now() < tokenExpires ? Promise.resolve(token) : mint();
  }

  /** fetch with the token; a 401 (expired, or a removed origin) gets one fresh token and one retry. */
  function call(path, options, retried) {
    return currentToken().then(function (bearer) {
      var headers = Object.assign({}, options.headers, { Authorization: 'Bearer ' + bearer });
      return fetch(api + path, Object.assign({}, options, { headers: headers })).then(function (res) {
        if (res.status === 401 && !retried) {
          token = null;
          return call(path, options, true);
        }
        return res;
      });
    });
  }

  // --- the conversation ----------------------------------------------------------------
  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function addMessage(role, text) {
    var node = el('div', 'msg ' + role, text);
    log.appendChild(node);
    scrollDown();
    return node;
  }

  function notice(text) {
    var node = el('div', 'notice', text);
    node.setAttribute('role', 'status');
    log.appendChild(node);
    scrollDown();
  }

  /** Reads an SSE body (fetch, not EventSource: EventSource cannot send Authorization). */
  function readEvents(res, onEvent) {
    var reader = res.body.getReader();
    var decoder = new TextDecoder();
    var buffer = '';
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, '\n');
        var end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          var block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          var event = { name: 'message', id: null, data: '' };
          var lines = block.split('\n');
          for (var i = 0; i < lines.length; i++) {
            var line = lines[i];
            if (line === '' || line.charAt(0) === ':') continue;
            var colon = line.indexOf(':');
            var field = colon < 0 ? line : line.slice(0, colon);
            var value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event.name = value;
            else if (field === 'id') event.id = value;
            else if (field === 'data') event.data += (event.data ? '\n' : '') + value;
          }
          if (event.data && onEvent(event) === false) { reader.cancel(); return; }
        }
        return pump();
      });
    }
    return pump();
  }

  /**
   * Shows one answer as it streams: deltas append, `restart` (a miner died or its text was
   * refused) wipes what was shown, `done` replaces it with the stored answer. A connection
   * that drops before the end reattaches from the last delta it saw, a few times.
   */
  function follow(res, bubble, jobId) {
    var state = { jobId: jobId, lastId: null, text: '', finished: false, heard: false };
    bubble.classList.add('pending');
    bubble.textContent = t.waiting;
    function onEvent(event) {
      var payload;
      try { payload = JSON.parse(event.data); } catch { return true; }
      state.heard = true;
      if (event.name === 'queued') {
        state.jobId = payload.job_id;
      } else if (event.name === 'delta') {
        state.text += payload.text;
        state.lastId = event.id;
        bubble.classList.remove('pending');
        bubble.textContent = state.text;
        scrollDown();
      } else if (event.name === 'restart') {
        state.text = '';
        state.lastId = null;
        bubble.classList.add('pending');
        bubble.textContent = t.retracted;
      } else if (event.name === 'done') {
        state.finished = true;
        bubble.classList.remove('pending');
        if (payload.status === 'completed') bubble.textContent = payload.response || state.text;
        else { bubble.remove(); notice(t.failed); }
        return false;
      } else if (event.name === 'error') {
        var code = payload.error && payload.error.code;
        // The stream ended, not the job (open too long, a server draining): reattach.
        if (code === 'timeout' || code === 'shutting_down' || code === 'database_unavailable') return false;
        state.finished = true;
        if (!state.text) bubble.remove();
        notice(t.failed);
        return false;
      }
      return true;
    }
    /** Gives up after three reattaches in a row that heard nothing; one that did starts the count again. */
    function attempt(response, triesLeft) {
      state.heard = false;
      return readEvents(response, onEvent).catch(function () { /* dropped: reattach below */ }).then(function () {
        if (state.finished) return;
        if (state.heard) triesLeft = 3;
        if (!state.jobId || triesLeft === 0) { notice(t.unavailable); return; }
        var headers = state.lastId ? { 'Last-Event-ID': state.lastId } : {};
        // Without a position the stream starts over: so does the text.
        if (!state.lastId) state.text = '';
        return call('/widget/jobs/' + state.jobId + '/stream', { headers: headers }).then(function (again) {
          if (!again.ok) { notice(t.unavailable); return; }
          return attempt(again, triesLeft - 1);
        });
      });
    }
    return attempt(res, 3);
  }

  function send(text) {
    addMessage('user', text);
    var bubble = addMessage('assistant pending', t.waiting);
    sendButton.disabled = true;
    return call('/widget/chat', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: text, language: languageTag(navigator.language) }),
    }).then(function (res) {
      if (!res.ok) { bubble.remove(); notice(res.status === 429 ? t.unavailable : t.failed); return; }
      return follow(res, bubble, null);
    }).catch(function () {
      bubble.remove();
      notice(t.unavailable);
    }).then(function () {
      sendButton.disabled = false;
      input.focus();
    });
  }

  /** The browser's language as the API takes it (a BCP 47 tag), or nothing. */
  function languageTag(tag) {
    return typeof tag === 'string' && /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(tag) && tag.length <= 35 ? tag : undefined;
  }

  /** A returning customer sees the conversation so far, and an answer still being written. */
  function restore() {
    if (!stored.session_id) return Promise.resolve();
    return call('/widget/transcript', {}).then(function (res) {
      if (!res.ok) return;
      return res.json().then(function (transcript) {
        transcript.messages.forEach(function (m) { addMessage(m.role, m.text); });
        if (transcript.pending_job_id) {
          var bubble = addMessage('assistant pending', t.waiting);
          return call('/widget/jobs/' + transcript.pending_job_id + '/stream', {}).then(function (res2) {
            if (res2.ok) return follow(res2, bubble, transcript.pending_job_id);
            bubble.remove();
          });
        }
      });
    }).catch(function () { /* the chat still works without the history */ });
  }

  function open() {
    frame.classList.add('open');
    if (!started) started = restore();
    input.focus();
  }

  launcher.addEventListener('click', open);
  closeButton.addEventListener('click', function () { frame.classList.remove('open'); });
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || sendButton.disabled) return;
    input.value = '';
    (started || (started = restore())).then(function () { send(text); });
  });
  input.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  function mount() {
    document.body.appendChild(host);
    if (data.open === 'true') open();
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
