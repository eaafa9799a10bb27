// graphile-worker logs through api/log.ts, as JSON lines like everything else.
// Its per-job info lines ("Completed task 12 (mia.lease_reap) with success")
// would be one every few seconds: they are debug here.
import { Logger, type LogLevel } from 'graphile-worker';
import { errorFields, log } from '../log.ts';

export const workerLogger = new Logger(
  (scope) => (level: LogLevel, message: string, meta?: unknown) => {
    const fields = {
      component: 'graphile-worker',
      ...(scope.taskIdentifier ? { task: scope.taskIdentifier } : {}),
      ...(scope.jobId ? { worker_job_id: scope.jobId } : {}),
    };
    const error = (meta as { error?: unknown } | undefined)?.error;
    const text = message.split('\n')[0] ?? message;
    switch (level) {
      case 'error':
        // A failed job ("Failed task 6 (mia.webhook_send, ...) with error ...") is
        // retried: a warning, without the stack. Anything else (the worker itself) is an error.
        if (scope.taskIdentifier || text.startsWith('Failed task')) log.warn(text, fields);
        else log.error(text, { ...fields, ...(error ? errorFields(error) : {}) });
        break;
      case 'warning':
        // Our tasks query through the API's pool; graphile-worker's own pool only
        // fetches and completes jobs, so fewer connections than concurrency is intended.
        if (text.includes('smaller than concurrency')) log.debug(text, fields);
        else log.warn(text, fields);
        break;
      default:
        log.debug(text, fields);
    }
  },
);
