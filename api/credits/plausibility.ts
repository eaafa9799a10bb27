// Is a miner's accepted result believable? The API cannot rerun the model, so
// it checks what a result must satisfy whatever the tokenizer and the GPU:
//
// 1. Completion tokens against the answer's length. Every tokenizer our miners
//    run (byte-level BPE: Qwen2/2.5, Llama 3, Mistral Tekken, GPT-OSS;
//    SentencePiece with byte fallback: Llama 2, Mistral 7B, Gemma, Phi-3)
//    turns text into tokens that each decode to at least one byte, so an
//    answer of n UTF-8 bytes is at most n tokens (+ a few that decode to
//    nothing: end of turn, the leading-space marker). A per-character bound
//    such as chars/1.5 would be tighter for English (~4 chars per token) but
//    wrong for honest work: Qwen splits numbers into single digits, Llama 3
//    into 1–3-digit groups, CJK is often one token per character (3 bytes) and
//    an emoji up to 4 tokens. So the bound is bytes, never a false suspicion,
//    and a lie such as 10,000 tokens for a 5-character answer is far outside it.
//    Models that think before answering (Qwen3, QwQ, DeepSeek-R1, GPT-OSS)
//    drop their reasoning from the answer: for them only max_tokens bounds it.
//    Which models do is the operator's word (mia.model_profiles, PUT
//    /models/{model}/profile), never the model name a miner registered: a
//    stranger calling itself "Qwen3-8B" must not unlock the loose bound.
//    Every model: never more than the job's max_tokens (llama-server stops there).
// 2. Speed. Claim to result includes prompt processing and two HTTP hops, so it
//    is longer than the generation itself and the measured tok/s is below the
//    real one. The ceiling is 20,000 / (parameters in billions) tok/s: on an H200
//    we recorded 200 tok/s single-stream for a 7B Q4_K_M and 521 tok/s for a 1B
//    F16 (test/fixtures/recorded/llama-server/cuda-h200/); the ceiling is 14× and
//    38× that, room for faster cards and speculative decoding. The size is the
//    operator's (mia.model_profiles); without one, the size in the model name
//    may only make the ceiling stricter than the 50,000 tok/s of an unknown
//    size (a name claiming "0.1B" gains nothing). Short answers (< 64 tokens)
//    are not timed: HTTP latency dominates them.
// 3. Prompt tokens against the prompt: at most its bytes (the messages and tools
//    as JSON, keys included) + 16 per message for the chat template + 256.
//    Fewer prompt tokens than expected is not checked: it earns the miner nothing.
export type ResultFacts = {
  model: string;
  /** From the operator's model table; false for models it does not list. */
  hiddenReasoning: boolean;
  /** From the operator's model table; null when it does not list the model or its size. */
  parametersBillions: number | null;
  maxTokens: number;
  tokensGenerated: number;
  promptTokens: number | null;
  outputBytes: number;
  toolCallsBytes: number;
  promptBytes: number;
  messageCount: number;
  seconds: number;
};

export type Suspicion = {
  reason: 'tokens_implausible' | 'too_fast' | 'prompt_tokens_implausible';
  figures: Record<string, number | string>;
};

/** Tokens that decode to no bytes of the answer (end of turn, leading-space marker). */
export const silentTokenAllowance = 16;
const minTimedTokens = 64;
const unknownSizeCeiling = 50_000;

/** Parameters in billions from a name such as "Qwen2.5-7B-Instruct-Q4_K_M.gguf" or "…-500M-…". */
export function parameterBillions(model: string): number | null {
  const match = /(?:^|[^a-z0-9.])(\d+(?:\.\d+)?)([bm])(?![a-z])/i.exec(model);
  if (!match) return null;
  const value = Number(match[1]) / (match[2]!.toLowerCase() === 'm' ? 1000 : 1);
  return value > 0 ? value : null;
}

export function tokensPerSecondCeiling(facts: Pick<ResultFacts, 'model' | 'parametersBillions'>): number {
  if (facts.parametersBillions !== null) return 20_000 / facts.parametersBillions;
  const named = parameterBillions(facts.model);
  return named === null ? unknownSizeCeiling : Math.min(unknownSizeCeiling, 20_000 / named);
}

export function completionTokenBound(facts: Pick<ResultFacts, 'hiddenReasoning' | 'maxTokens' | 'outputBytes' | 'toolCallsBytes'>): number {
  if (facts.hiddenReasoning) return facts.maxTokens;
  return Math.min(facts.maxTokens, facts.outputBytes + facts.toolCallsBytes + silentTokenAllowance);
}

export function promptTokenBound(facts: Pick<ResultFacts, 'promptBytes' | 'messageCount'>): number {
  return facts.promptBytes + 16 * facts.messageCount + 256;
}

/** The first check the result fails, or null when it is believable. */
export function judgeResult(facts: ResultFacts): Suspicion | null {
  const bound = completionTokenBound(facts);
  if (facts.tokensGenerated > bound) {
    return {
      reason: 'tokens_implausible',
      figures: {
        tokens_generated: facts.tokensGenerated,
        bound,
        output_bytes: facts.outputBytes,
        max_tokens: facts.maxTokens,
        hidden_reasoning: String(facts.hiddenReasoning),
      },
    };
  }
  if (facts.tokensGenerated >= minTimedTokens) {
    const ceiling = tokensPerSecondCeiling(facts);
    const rate = facts.tokensGenerated / Math.max(facts.seconds, 1e-6);
    if (rate > ceiling) {
      return {
        reason: 'too_fast',
        figures: {
          tokens_generated: facts.tokensGenerated,
          seconds: Number(facts.seconds.toFixed(6)),
          tokens_per_second: Math.round(rate),
          ceiling: Math.round(ceiling),
        },
      };
    }
  }
  if (facts.promptTokens !== null) {
    const promptBound = promptTokenBound(facts);
    if (facts.promptTokens > promptBound) {
      return {
        reason: 'prompt_tokens_implausible',
        figures: { prompt_tokens: facts.promptTokens, bound: promptBound, prompt_bytes: facts.promptBytes },
      };
    }
  }
  return null;
}
