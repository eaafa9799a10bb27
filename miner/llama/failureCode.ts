// A failed generation in the backend's vocabulary (openapi.yaml FailureCode). The
// backend tells the business our code's meaning, never the miner's text, so the class
// must be right here: llama-server's error `type` first (recorded in
// test/fixtures/recorded/llama-server: exceed_context_size_error, invalid_request_error,
// server_error, unavailable_error, not_supported_error), then the HTTP status.
import { LlamaError } from './llamaClient.ts';

export type FailureCode = 'context_exceeded' | 'invalid_request' | 'generation_error' | 'timeout' | 'unavailable';

export interface ClassifiedFailure {
  code: FailureCode;
  /** With context_exceeded: llama-server's count of the prompt's tokens (the backend re-routes on it). */
  promptTokens?: number;
}

export function classifyFailure(error: unknown): ClassifiedFailure {
  if (!(error instanceof LlamaError)) return { code: 'generation_error' };
  if (error.type === 'exceed_context_size_error') return { code: 'context_exceeded', promptTokens: error.promptTokens };
  if (error.type === 'timeout') return { code: 'timeout' };
  if (error.type === 'connection' || error.type === 'unavailable_error' || error.status === 503) return { code: 'unavailable' };
  if (error.status >= 400 && error.status < 500) return { code: 'invalid_request' };
  return { code: 'generation_error' };
}
