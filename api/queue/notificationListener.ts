// One LISTEN connection per API process. Parked long-polls hold no database
// connection; this client wakes them when Postgres triggers NOTIFY (see
// migrations/0001: jobs_queued_* and jobs_finished_on_update). If the
// connection drops (database restart, pg_terminate_backend), it reconnects
// with backoff and reports a "resync" so callers re-check what they may have
// missed meanwhile.
import pg from 'pg';
import { errorFields, log } from '../log.ts';

export const channels = { jobQueued: 'mia_job_queued', jobFinished: 'mia_job_finished', jobDelta: 'mia_job_delta' } as const;

export type ListenerEvents = {
  onJobQueued: () => void;
  onJobFinished: (jobId: string) => void;
  /** New streamed output (api/streaming/deltaNotifier.ts): `<origin>|<job id>,<job id>…`. */
  onJobDelta?: (payload: string) => void;
  /** Called after (re)connecting: notifications may have been missed. */
  onResync: () => void;
};

export class NotificationListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  connected = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly events: ListenerEvents,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: 'mia-api-listen',
      keepAlive: true,
    });
    client.on('notification', (message) => {
      if (message.channel === channels.jobQueued) this.events.onJobQueued();
      else if (message.channel === channels.jobFinished && message.payload) this.events.onJobFinished(message.payload);
      else if (message.channel === channels.jobDelta && message.payload) this.events.onJobDelta?.(message.payload);
    });
    client.on('error', (error) => {
      log.warn('listen connection error', errorFields(error));
      this.lost(client);
    });
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${channels.jobQueued}; LISTEN ${channels.jobFinished}; LISTEN ${channels.jobDelta}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw error;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.connected = true;
    if (this.attempt > 0) log.info('listen connection restored', { attempts: this.attempt });
    this.attempt = 0;
    this.events.onResync();
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    this.connected = false;
    client.removeAllListeners('end');
    void client.end().catch(() => {});
    if (!this.stopped) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.retryTimer || this.stopped) return;
    const delay = Math.min(5000, 100 * 2 ** this.attempt);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().catch((error: unknown) => {
        log.warn('listen reconnect failed', { ...errorFields(error), attempt: this.attempt });
        this.scheduleReconnect();
      });
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    this.connected = false;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
    }
  }
}
