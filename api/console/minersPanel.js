// Every miner and its state, from GET /miners (the operator sees addresses too).
import { loadPages } from './api.js';
import { byId, h, replaceRows, showError } from './dom.js';
import { ago, count, rate } from './format.js';

export function minersPanel() {
  let pages = 1;

  async function refresh() {
    try {
      const { rows, nextCursor } = await loadPages('/miners', {}, 'miners', pages);
      render(rows);
      byId('miners-more').hidden = nextCursor === null;
      showError('miners-error', null);
    } catch (error) {
      showError('miners-error', error);
    }
  }

  function render(miners) {
    byId('miners-empty').hidden = miners.length > 0;
    replaceRows(
      byId('miners-rows'),
      miners.map((miner) =>
        h(
          'tr',
          { dataset: { minerId: miner.miner_id, status: miner.status } },
          h('td', {}, miner.name),
          h('td', {}, h('span', { className: `badge status-${miner.status}`, title: miner.status_reason ?? '' }, miner.status)),
          h('td', { className: 'model' }, miner.model ?? '–'),
          h('td', { className: 'num' }, count(miner.slots)),
          h('td', { className: 'num' }, count(miner.context_length)),
          h('td', {}, gpuOf(miner)),
          h('td', { className: 'num' }, count(miner.job_count)),
          h('td', { className: 'num' }, count(miner.total_tokens_generated)),
          h('td', { className: 'num' }, rate(miner.tokens_per_second)),
          h('td', { title: miner.last_active }, ago(miner.last_active)),
          h('td', {}, miner.ip_address ?? '–'),
        ),
      ),
    );
  }

  byId('miners-more').addEventListener('click', () => {
    pages += 1;
    void refresh();
  });

  return { refresh };
}

function gpuOf(miner) {
  if (!miner.gpu_name) return '–';
  return miner.gpu_memory_mb ? `${miner.gpu_name} (${count(miner.gpu_memory_mb / 1024)} GiB)` : miner.gpu_name;
}
