// How much of a llama-server context a job needs: its prompt and its answer. The
// tokenizer is the miner's, so the backend estimates: UTF-8 bytes of the messages ÷ 4
// (about one token per 4 bytes of English or code; fewer tokens than that for most
// other scripts, more for some) plus max_tokens. The estimate only routes: a job
// it misjudges fails once on a miner too small for it ("exceeds the available context
// size") and, retried with backoff, goes to another (sql/job_claim.sql).
export const bytesPerToken = 4;

export function contextNeed(messagesJson: string, maxTokens: number): number {
  return Math.ceil(Buffer.byteLength(messagesJson, 'utf8') / bytesPerToken) + maxTokens;
}
