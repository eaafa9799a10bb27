// The JSON API as the console calls it: the operator token from sessionStorage as a
// bearer header, errors in the API's one shape turned into ApiFailure. The token never
// goes into a URL, a log or the page.
const tokenKey = 'mia.operatorToken';

export const operatorToken = {
  get: () => sessionStorage.getItem(tokenKey),
  set: (value) => sessionStorage.setItem(tokenKey, value),
  clear: () => sessionStorage.removeItem(tokenKey),
};

export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Listeners told when the API refuses the token (401): the console signs out.
const refusedListeners = new Set();
export function onTokenRefused(listener) {
  refusedListeners.add(listener);
}

export async function api(path, { method = 'GET', token = operatorToken.get() } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { accept: 'application/json', authorization: `Bearer ${token ?? ''}` },
      cache: 'no-store',
    });
  } catch {
    throw new ApiFailure(0, 'network', 'the API cannot be reached');
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const failure = new ApiFailure(response.status, body?.error?.code ?? `http_${response.status}`, body?.error?.message ?? response.statusText);
    if (response.status === 401) for (const listener of refusedListeners) listener(failure);
    throw failure;
  }
  return body;
}

/** A path with its query string; empty and null values are left out. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export const pageSize = 200;

/**
 * The first `pages` pages of a cursor-paginated list (the API's `next_cursor`), so a
 * refresh shows as many rows as the operator had loaded. Returns the rows and the
 * cursor of the page after them.
 */
export async function loadPages(path, params, field, pages) {
  const rows = [];
  let cursor;
  for (let page = 0; page < pages; page++) {
    const body = await api(withQuery(path, { ...params, limit: pageSize, cursor }));
    rows.push(...body[field]);
    cursor = body.next_cursor ?? null;
    if (cursor === null) break;
  }
  return { rows, nextCursor: cursor };
}
