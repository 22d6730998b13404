/**
 * Loading progress for a streaming client whose model is not running yet: the event stream starts
 * at once with SSE comment lines (`: loading model qwen-7b (3 s)`), which OpenAI's and Anthropic's
 * SDKs skip, so proxies and clients with read timeouts see bytes while weights load; then the
 * model's own stream follows. A failure after the stream began arrives as the family's error event.
 * Ollama streams NDJSON, where every line must be an answer chunk: its requests wait silently, as Ollama's own do.
 */
import { errorInfo, type ErrorShape } from "./inference-errors.ts";

const encoder = new TextEncoder();
const PROGRESS_INTERVAL_MS = 1000;

/** How a client family's SSE parser expects an error in the middle of a stream. */
export type ErrorEvent = (body: unknown) => string;
export const openAiErrorEvent: ErrorEvent = (body) => `data: ${JSON.stringify(body)}\n\n`;
export const anthropicErrorEvent: ErrorEvent = (body) => `event: error\ndata: ${JSON.stringify(body)}\n\n`;

/** An event stream that carries comments until `answer` settles, then `answer`'s body (or an error event in `shape`). */
export function loadingStream(model: string, answer: Promise<Response>, shape: ErrorShape, errorEvent: ErrorEvent): Response {
  const startedAt = Date.now();
  let timer: ReturnType<typeof setInterval> | undefined;
  let reader: { read(): Promise<{ done: boolean; value?: unknown }>; cancel(reason?: unknown): Promise<void> } | undefined;
  const comment = () => encoder.encode(`: loading model ${model} (${Math.round((Date.now() - startedAt) / 1000)} s)\n\n`);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(comment());
      timer = setInterval(() => controller.enqueue(comment()), PROGRESS_INTERVAL_MS);
    },
    async pull(controller) {
      if (!reader) {
        let res: Response;
        try {
          res = await answer;
        } catch (error) {
          clearInterval(timer);
          controller.enqueue(encoder.encode(errorEvent(shape(errorInfo("", error)))));
          return controller.close();
        } finally {
          clearInterval(timer);
        }
        if (!res.ok) {
          // The server refused (it answered JSON, not a stream): its error, as the family's error event.
          const text = await res.text();
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = { error: { message: text.slice(0, 1000) } };
          }
          controller.enqueue(encoder.encode(errorEvent(parsed)));
          return controller.close();
        }
        if (!res.body) return controller.close();
        reader = res.body.getReader();
      }
      const { done, value } = await reader!.read();
      if (done) return controller.close();
      controller.enqueue(value as Uint8Array);
    },
    async cancel(reason) {
      clearInterval(timer);
      // The client left while the model loads: the answer (and its slot) is released once it comes.
      if (reader) return reader.cancel(reason);
      void answer.then((res) => res.body?.cancel(reason), () => undefined);
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}
