// Businesses and their usage this month against their budget (GET /businesses). The
// bar counts tokens used plus tokens reserved by jobs still in flight, as the budget
// check does at submit.
import { loadPages } from './api.js';
import { byId, h, replaceRows, showError } from './dom.js';
import { count, dateTime, percent } from './format.js';

export function businessesPanel({ onLoaded }) {
  let pages = 1;

  async function refresh() {
    try {
      const { rows, nextCursor } = await loadPages('/businesses', {}, 'businesses', pages);
      render(rows);
      onLoaded(rows);
      byId('businesses-more').hidden = nextCursor === null;
      showError('businesses-error', null);
    } catch (error) {
      showError('businesses-error', error);
    }
  }

  function render(businesses) {
    byId('businesses-empty').hidden = businesses.length > 0;
    replaceRows(
      byId('businesses-rows'),
      businesses.map((business) =>
        h(
          'tr',
          { dataset: { businessId: business.id } },
          h('td', {}, business.name),
          h('td', { className: 'num' }, count(business.priority)),
          h('td', { className: 'num' }, count(business.usage.jobs_this_month)),
          h('td', { className: 'usage' }, usageOf(business.usage)),
          h('td', { title: business.created_at }, dateTime(business.created_at).slice(0, 10)),
        ),
      ),
    );
  }

  byId('businesses-more').addEventListener('click', () => {
    pages += 1;
    void refresh();
  });

  return { refresh };
}

function usageOf(usage) {
  const used = usage.tokens_this_month;
  const budget = usage.monthly_token_budget;
  const reserved = usage.reserved ?? 0;
  if (budget === null || budget === undefined) {
    return h('span', { className: 'usage-text' }, `${count(used)} tokens · no budget`);
  }
  const usedShare = percent(used, budget) ?? 100;
  const reservedShare = percent(reserved, budget) ?? 0;
  const level = usedShare + reservedShare >= 100 ? 'over' : usedShare + reservedShare >= 80 ? 'near' : 'ok';
  const usedBar = h('span', { className: 'bar-used' });
  const reservedBar = h('span', { className: 'bar-reserved' });
  // Widths through the CSSOM, which the console's Content-Security-Policy allows (a style attribute it would not).
  usedBar.style.width = `${Math.min(100, usedShare)}%`;
  reservedBar.style.width = `${Math.max(0, Math.min(100 - Math.min(100, usedShare), reservedShare))}%`;
  return [
    h('span', { className: `bar ${level}`, title: `${count(used)} used, ${count(reserved)} reserved of ${count(budget)}` }, usedBar, reservedBar),
    h(
      'span',
      { className: 'usage-text' },
      `${count(used)} of ${count(budget)} tokens (${Math.round(usedShare)}%)`,
      reserved > 0 ? ` · ${count(reserved)} reserved` : '',
    ),
  ];
}
