// How numbers, durations and times read on the console.
const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

export const count = (value) => (value === null || value === undefined ? '–' : integer.format(value));
export const rate = (value) => (value === null || value === undefined ? '–' : decimal.format(value));

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 60) return `${decimal.format(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  return `${decimal.format(seconds / 86400)} d`;
}

export function ago(iso, now = Date.now()) {
  if (!iso) return '–';
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  return seconds < 5 ? 'just now' : `${duration(seconds)} ago`;
}

export function dateTime(iso) {
  if (!iso) return '–';
  return new Date(iso).toISOString().replace('T', ' ').slice(0, 19);
}

export const shortId = (id) => (id ? id.slice(0, 8) : '–');

export function percent(part, whole) {
  if (!whole) return null;
  return (part / whole) * 100;
}
