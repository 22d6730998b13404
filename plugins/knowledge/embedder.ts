/** Embeddings through the instances plugin's inference service (the proxy's path to a model instance). */

import type { InferenceService } from "gantry/plugin";

/** The part of the "inference" service used here. */
export type EmbeddingsService = Pick<InferenceService, "embeddings">;

/** Embeds `texts` with `model`, `batch` inputs per request, in order. */
export async function embed(inference: EmbeddingsService, model: string, texts: string[], batch: number, signal?: AbortSignal): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += batch) {
    const part = texts.slice(i, i + batch);
    const answer = await inference.embeddings({ model, input: part }, signal);
    const data = (answer.data as { index: number; embedding: number[] }[] | undefined) ?? [];
    if (data.length !== part.length) throw new Error(`the embedding model '${model}' answered ${data.length} vectors for ${part.length} inputs`);
    for (const item of [...data].sort((a, b) => a.index - b.index)) out.push(new Float32Array(item.embedding));
  }
  return out;
}

export const toBuffer = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
export const fromBuffer = (b: Uint8Array) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

/** Cosine similarity of two vectors of one length. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
