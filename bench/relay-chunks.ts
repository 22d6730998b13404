/**
 * bench/relay-chunks: CPU per streamed chunk of the stream relay, in process (no HTTP), over a
 * llama.cpp-shaped chat stream written one event per chunk: a bare identity TransformStream (the
 * floor), the relay passing bytes (the server already names the client's model), the relay setting
 * `model` in every chunk (llama-server answers with its GGUF path), and the relay taking out the
 * usage chunk. Env: CHUNKS (default 20000), ROUNDS (default 5; the best round counts).
 */
import { relayEvents } from "../plugins/instances/relay.ts";
import { ServerEvents } from "../plugins/instances/server-events.ts";

const CHUNKS = Number(process.env.CHUNKS ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const encoder = new TextEncoder();
const SERVER_MODEL = "/models/qwen2.5-7b-instruct-q4_k_m.gguf";
const event = (model: string, i: number) => encoder.encode(`data: ${JSON.stringify({ choices: [{ finish_reason: null, index: 0, delta: { content: ` word${i % 97}` } }], created: 1_796_000_000, id: "chatcmpl-v4TB4Vfj22LqbemqTT8bX2IVgn7UuMGz", model, system_fingerprint: "b10573-3f545bec", object: "chat.completion.chunk" })}\n\n`);

/** The chunks of one stream: content events, a finish chunk, a usage chunk, [DONE]. */
function chunks(model: string): Uint8Array[] {
  const out = Array.from({ length: CHUNKS }, (_, i) => event(model, i));
  out.push(encoder.encode(`data: ${JSON.stringify({ choices: [{ finish_reason: "stop", index: 0, delta: {} }], model, object: "chat.completion.chunk" })}\n\n`));
  out.push(encoder.encode(`data: ${JSON.stringify({ choices: [], model, object: "chat.completion.chunk", usage: { prompt_tokens: 9, completion_tokens: CHUNKS, total_tokens: CHUNKS + 9 } })}\n\n`));
  out.push(encoder.encode("data: [DONE]\n\n"));
  return out;
}

const source = (parts: Uint8Array[]) => {
  let i = 0;
  return new ReadableStream<Uint8Array>({ pull: (c) => (i < parts.length ? c.enqueue(parts[i++]!) : c.close()) });
};
const report = { firstToken() {}, setUsage() {} };

async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.byteLength;
  return bytes;
}

/** Best-of-ROUNDS CPU microseconds per chunk. */
async function cpuPerChunk(make: () => ReadableStream<Uint8Array>): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const stream = make();
    const before = process.cpuUsage();
    await drain(stream);
    const used = process.cpuUsage(before);
    best = Math.min(best, (used.user + used.system) / (CHUNKS + 3));
  }
  return Math.round(best * 100) / 100;
}

const named = chunks("qwen");
const path = chunks(SERVER_MODEL);
const rows = {
  "bare TransformStream (floor)": await cpuPerChunk(() => source(named).pipeThrough(new TransformStream())),
  "relay, bytes passed (model already the client's)": await cpuPerChunk(() => relayEvents(source(named), new ServerEvents(report, "openai", "qwen", false), () => {})),
  "relay, model set in every chunk (llama-server)": await cpuPerChunk(() => relayEvents(source(path), new ServerEvents(report, "openai", "qwen", false), () => {})),
  "relay, usage chunk taken out": await cpuPerChunk(() => relayEvents(source(named), new ServerEvents(report, "openai", "qwen", true), () => {})),
  "relay, raw (/upstream)": await cpuPerChunk(() => relayEvents(source(path), new ServerEvents(report, "raw", null, false), () => {})),
};
console.log(`CPU µs per chunk (${CHUNKS} chunks of ~330 bytes, best of ${ROUNDS})`);
for (const [what, us] of Object.entries(rows)) console.log(`${what.padEnd(52)} ${us}`);
