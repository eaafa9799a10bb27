// Jobs, newest first (GET /jobs), failed ones by default with the reason they failed,
// and one click to put a failed or cancelled job back in the queue
// (POST /job/{job_id}/requeue); a running (perhaps stuck) one after a confirmation.
import { api, loadPages } from './api.js';
import { byId, h, replaceRows, showError } from './dom.js';
import { count, dateTime, shortId } from './format.js';

const requeueable = new Set(['failed', 'cancelled', 'running']);

export function jobsPanel({ businessName, onOpenSession, onRequeued }) {
  let pages = 1;
  const status = byId('jobs-status');
  const business = byId('jobs-business');

  async function refresh() {
    try {
      const { rows, nextCursor } = await loadPages('/jobs', { status: status.value, business_id: business.value }, 'jobs', pages);
      render(rows);
      byId('jobs-more').hidden = nextCursor === null;
      showError('jobs-error', null);
    } catch (error) {
      showError('jobs-error', error);
    }
  }

  function render(jobs) {
    byId('jobs-empty').hidden = jobs.length > 0;
    replaceRows(byId('jobs-rows'), jobs.map(row));
  }

  function row(job) {
    const statusCell = h('td', {}, h('span', { className: `badge status-${job.status}` }, job.status));
    const actionCell = h('td', { className: 'action' });
    const tr = h(
      'tr',
      { dataset: { jobId: job.job_id, status: job.status } },
      h('td', { title: job.job_id }, dateTime(job.created_at)),
      h('td', {}, businessName(job.business_id)),
      h('td', {}, h('button', { type: 'button', className: 'link open-session', title: 'Open this conversation', onClick: () => onOpenSession(job.business_id, job.session_id) }, job.session_id)),
      statusCell,
      h('td', { className: 'model' }, job.model ?? '–'),
      h('td', { className: 'num' }, count(job.attempts)),
      h('td', { className: 'num' }, count(job.tokens_generated)),
      h('td', { className: 'reason' }, job.failure_reason ?? ''),
      actionCell,
    );
    if (requeueable.has(job.status)) {
      const button = h('button', { type: 'button', className: 'requeue', title: `Requeue job ${shortId(job.job_id)}` }, 'Requeue');
      button.addEventListener('click', async () => {
        // A running job's miner may still be working on it: requeueing throws that work away.
        if (job.status === 'running' && !window.confirm(`Job ${shortId(job.job_id)} is running. Revoke its lease and queue it again?`)) return;
        button.disabled = true;
        try {
          const requeued = await api(`/job/${encodeURIComponent(job.job_id)}/requeue`, { method: 'POST' });
          tr.dataset.status = requeued.status;
          statusCell.replaceChildren(h('span', { className: `badge status-${requeued.status}` }, requeued.status));
          actionCell.replaceChildren(h('span', { className: 'done' }, 'Requeued'));
          showError('jobs-error', null);
          onRequeued();
        } catch (error) {
          button.disabled = false;
          showError('jobs-error', error);
        }
      });
      actionCell.append(button);
    }
    return tr;
  }

  status.addEventListener('change', () => {
    pages = 1;
    void refresh();
  });
  business.addEventListener('change', () => {
    pages = 1;
    void refresh();
  });
  byId('jobs-more').addEventListener('click', () => {
    pages += 1;
    void refresh();
  });

  return { refresh };
}
