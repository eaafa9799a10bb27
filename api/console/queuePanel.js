// Queue depth now (tiles, per model) and over this session (a uPlot chart of the
// samples the console took since it was opened: GET /queue keeps no history, and a
// console that needs none stays a page the API can serve as it is).
import uPlot from '/console/vendor/uPlot.esm.js';
import { byId, h, replaceRows } from './dom.js';
import { count, duration } from './format.js';

// An hour of samples at the default 3 s poll; older ones scroll off.
const maxSamples = 1200;

export function queuePanel() {
  const samples = [[], [], [], []]; // unix seconds, queued, running, oldest wait (s)
  const container = byId('queue-chart');
  let chart = null;

  function options() {
    return {
      width: Math.max(320, container.clientWidth),
      height: 220,
      cursor: { drag: { x: false, y: false } },
      // UTC, as every other time on the console.
      tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC'),
      // A lone first sample would otherwise stretch the time axis over years.
      scales: { x: { time: true, range: (_u, min, max) => (max - min < 30 ? [min, min + 30] : [min, max]) }, jobs: { range: (_u, _min, max) => [0, Math.max(4, max * 1.1)] }, seconds: { range: (_u, _min, max) => [0, Math.max(10, max * 1.1)] } },
      series: [
        {},
        { label: 'Queued', scale: 'jobs', stroke: '#2563eb', width: 2, fill: 'rgba(37, 99, 235, 0.08)', value: (_u, v) => count(v) },
        { label: 'Running', scale: 'jobs', stroke: '#16a34a', width: 2, value: (_u, v) => count(v) },
        { label: 'Oldest wait', scale: 'seconds', stroke: '#d97706', width: 2, dash: [6, 4], value: (_u, v) => duration(v) },
      ],
      axes: [
        {},
        { scale: 'jobs', label: 'jobs', size: 50 },
        { scale: 'seconds', label: 'oldest wait (s)', side: 1, size: 60, grid: { show: false } },
      ],
    };
  }

  window.addEventListener('resize', () => chart?.setSize({ width: Math.max(320, container.clientWidth), height: 220 }));

  return {
    update(snapshot) {
      byId('queue-queued').textContent = count(snapshot.queued);
      byId('queue-running').textContent = count(snapshot.running);
      byId('queue-oldest').textContent = duration(snapshot.oldest_queued_seconds);
      byId('queue-unroutable').textContent = count(snapshot.unroutable);
      byId('queue-miners-online').textContent = count(snapshot.miners_online);
      byId('queue-failed-last-hour').textContent = count(snapshot.failed_last_hour);
      byId('queue-unroutable').closest('.tile').classList.toggle('alert', snapshot.unroutable > 0);
      byId('queue-failed-last-hour').closest('.tile').classList.toggle('alert', snapshot.failed_last_hour > 0);
      replaceRows(
        byId('queue-by-model'),
        snapshot.by_model.length === 0
          ? h('tr', {}, h('td', { colSpan: 4, className: 'empty' }, 'Nothing queued or running, and no miner online.'))
          : snapshot.by_model.map((row) =>
              h('tr', {}, h('td', {}, row.model ?? '(any model)'), h('td', { className: 'num' }, count(row.queued)), h('td', { className: 'num' }, count(row.running)), h('td', { className: 'num' }, count(row.miners_online))),
            ),
      );

      const values = [Date.parse(snapshot.at) / 1000, snapshot.queued, snapshot.running, snapshot.oldest_queued_seconds];
      values.forEach((value, i) => samples[i].push(value));
      if (samples[0].length > maxSamples) for (const series of samples) series.shift();
      container.dataset.samples = String(samples[0].length);
      if (chart) chart.setData(samples);
      else chart = new uPlot(options(), samples, container);
    },
    reset() {
      for (const series of samples) series.length = 0;
      chart?.destroy();
      chart = null;
      container.dataset.samples = '0';
    },
  };
}
