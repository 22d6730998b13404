/**
 * A shadow run in progress: which requests are mirrored (sampled on the client's path, so the
 * share is exact), and the mirror itself, run after the client has the champion's answer, bounded
 * by an in-flight limit past which a mirror is dropped rather than queued.
 */
import type { InferenceService, ObservedExchange } from "gantry/plugin";
import { fromJson, type ParsedAnswer } from "./answers.ts";
import type { ShadowRunRow, ShadowSampleRow } from "./store.ts";
import { cosine, normalizeText } from "./stats.ts";

export interface ShadowCounts {
  /** Requests for the model seen while the run was on. */
  seen: number;
  /** Of those, picked by the sample rate. */
  sampled: number;
  /** Mirrors that finished (the challenger answered or failed). */
  mirrored: number;
  /** Picked but not mirrored: the in-flight limit was reached, or the challenger answered the request itself (a canary). */
  dropped: number;
}

export interface MirrorSettings {
  maxInFlight: number;
  timeoutS: number;
  /** An embeddings instance for the answers' cosine similarity; "" for none. */
  embeddingsModel: string;
}

/**
 * The counts a resumed run goes on from: those saved while it ran, raised to what its stored samples
 * prove (`seq` numbers every mirror, so the last one is the mirrors so far; the counts saved last may
 * be older than the last samples written).
 */
export function resumedCounts(saved: ShadowCounts | null, lastSeq: number): ShadowCounts {
  const mirrored = Math.max(saved?.mirrored ?? 0, lastSeq);
  const dropped = saved?.dropped ?? 0;
  const sampled = Math.max(saved?.sampled ?? 0, mirrored + dropped);
  return { seen: Math.max(saved?.seen ?? 0, sampled), sampled, mirrored, dropped };
}

export class ShadowSession {
  readonly counts: ShadowCounts;
  inFlight = 0;

  /** `counts`: where a run resumed after a restart goes on from. */
  constructor(readonly run: ShadowRunRow, public seq: number, counts?: ShadowCounts) {
    this.counts = counts ? { ...counts } : { seen: 0, sampled: 0, mirrored: 0, dropped: 0 };
  }

  /** On the client's path: counts the request and answers whether it is mirrored. */
  sample(): boolean {
    this.counts.seen++;
    if (Math.random() >= this.run.sampleRate) return false;
    this.counts.sampled++;
    return true;
  }

  /** Sends the client's request to the challenger and compares; undefined when dropped. */
  async mirror(exchange: ObservedExchange, champion: ParsedAnswer, inference: InferenceService, settings: MirrorSettings, signal: AbortSignal): Promise<ShadowSampleRow | undefined> {
    if (this.inFlight >= settings.maxInFlight) {
      this.counts.dropped++;
      return undefined;
    }
    this.inFlight++;
    const started = performance.now();
    let challenger: ParsedAnswer;
    try {
      const body = { ...(JSON.parse(exchange.body) as Record<string, unknown>), model: this.run.challenger, stream: false };
      challenger = fromJson(await inference.chatCompletion(body, AbortSignal.any([signal, AbortSignal.timeout(settings.timeoutS * 1000)])));
    } catch {
      challenger = { error: true, text: null, completionTokens: null };
    } finally {
      this.inFlight--;
    }
    const challengerMs = performance.now() - started;
    const a = champion.text, b = challenger.text;
    const both = a !== null && b !== null;
    const sample: ShadowSampleRow = {
      shadowId: this.run.id, seq: ++this.seq, at: new Date(), championMs: exchange.latencyMs, challengerMs,
      championTokens: champion.completionTokens, challengerTokens: challenger.completionTokens,
      championError: champion.error, challengerError: challenger.error,
      exact: both && a === b, normalized: both && normalizeText(a) === normalizeText(b),
      cosine: both && settings.embeddingsModel ? await this.#cosine(a, b, inference, settings.embeddingsModel, signal) : null,
    };
    this.counts.mirrored++;
    return sample;
  }

  async #cosine(a: string, b: string, inference: InferenceService, model: string, signal: AbortSignal): Promise<number | null> {
    try {
      const answer = await inference.embeddings({ model, input: [a, b] }, signal);
      const [x, y] = ((answer.data as { index: number; embedding: number[] }[]) ?? []).sort((p, q) => p.index - q.index);
      return x && y ? cosine(x.embedding, y.embedding) : null;
    } catch {
      return null;
    }
  }
}
