/** The worker that runs scripts, so that a script stuck inside one long built-in call can be killed from outside. */
import { runInThisThread, type RunOptions } from "./engine.ts";

declare const self: Worker;

export type ToWorker =
  | { type: "run"; id: number; code: string; options: Omit<RunOptions, "host">; hostNames: string[] }
  | { type: "host-result"; callId: number; ok: boolean; value?: string; error?: string };

export type FromWorker =
  | { type: "host-call"; id: number; callId: number; name: string; args: unknown[] }
  | { type: "done"; id: number; result: Awaited<ReturnType<typeof runInThisThread>> };

let nextCall = 1;
const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "host-result") {
    const call = pending.get(message.callId);
    pending.delete(message.callId);
    if (message.ok) call?.resolve(message.value === undefined ? undefined : JSON.parse(message.value));
    else call?.reject(new Error(message.error ?? "host call failed"));
    return;
  }
  const host = Object.fromEntries(message.hostNames.map((name) => [name, (...args: unknown[]) => new Promise((resolve, reject) => {
    const callId = nextCall++;
    pending.set(callId, { resolve, reject });
    postMessage({ type: "host-call", id: message.id, callId, name, args } satisfies FromWorker);
  })]));
  const result = await runInThisThread(message.code, { ...message.options, host });
  postMessage({ type: "done", id: message.id, result } satisfies FromWorker);
};
