// Is llama-server able to work? `/health` says whether it is up and loaded; a
// one-token completion says whether it still generates (a deadlocked llama-server keeps
// answering /health). The process state machine (llamaProcess.ts) and the supervisor's
// suspicion check (llamaSupervisor.ts) judge it by these.
import { deadline } from '../lib/deadline.ts';
import { chatCompletion } from '../llama/llamaClient.ts';

/**
 * A one-token completion: the check that a server still generates (a deadlocked
 * llama-server keeps answering /health). Undefined when it answered, else why not.
 */
export async function generationProbe(baseUrl: string, timeoutMs: number): Promise<string | undefined> {
  try {
    await chatCompletion(baseUrl, { messages: [{ role: 'user', content: 'ping' }], max_tokens: 1, temperature: 0 }, { timeoutMs });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Status of `GET /health`: 200 ready, 503 loading, 0 nothing listening. */
export async function llamaHealth(baseUrl: string, signal?: AbortSignal): Promise<number> {
  const limit = deadline(2000, signal);
  try {
    const res = await fetch(`${baseUrl}/health`, { signal: limit.signal });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  } finally {
    limit.dispose();
  }
}
