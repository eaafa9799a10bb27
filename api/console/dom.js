// Building the page from data with text nodes only: customer messages, answers, miner
// names and failure reasons come from strangers, so nothing here is ever parsed as HTML.
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'className') element.className = value;
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on')) element.addEventListener(name.slice(2).toLowerCase(), value);
    else element[name] = value;
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replaceRows(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

export const byId = (id) => document.getElementById(id);

/** A panel's error line: the API's message, or empty once a call succeeds again. */
export function showError(id, error) {
  byId(id).textContent = error ? `${error.message}${error.code ? ` (${error.code})` : ''}` : '';
}
