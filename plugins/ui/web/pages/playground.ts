/** Playground: chat with any model through the OpenAI-compatible proxy, streamed token by token, with the request as curl. */
import type { VNode } from "preact";
import { useRef, useState } from "preact/hooks";
import { raw, readEvents } from "../api.ts";
import { Field, html, Json, Loading, messageOf, Page, Panel, useApi } from "../ui.ts";

interface Message {
  role: "system" | "user" | "assistant";
  content: string;
}

/** The same request as a shell command; the token is left as a variable so the page never prints a secret. */
export function curlOf(body: unknown): string {
  const json = JSON.stringify(body).replaceAll("'", "'\\''");
  return `curl -N ${location.origin}/v1/chat/completions \\\n  -H "Authorization: Bearer $GANTRY_TOKEN" \\\n  -H "Content-Type: application/json" \\\n  -d '${json}'`;
}

export function Playground(): VNode {
  const models = useApi<{ data: { id: string; status: string }[] }>("/v1/models", { reloadOn: ["instance_status_changed"] });
  const [model, setModel] = useState("");
  const [system, setSystem] = useState("");
  const [messages, setMessages] = useState<Message[]>([]);
  const [draft, setDraft] = useState("");
  const [streaming, setStreaming] = useState(false);
  const [error, setError] = useState("");
  const [lastBody, setLastBody] = useState<unknown>(null);
  const abort = useRef<AbortController | null>(null);
  const chosen = model || models.data?.data[0]?.id || "";

  const send = async (event: Event) => {
    event.preventDefault();
    if (!draft.trim() || !chosen) return;
    const history: Message[] = [...messages, { role: "user", content: draft }];
    const body = { model: chosen, stream: true, messages: [...(system ? [{ role: "system", content: system }] : []), ...history] };
    setLastBody(body);
    setMessages([...history, { role: "assistant", content: "" }]);
    setDraft("");
    setError("");
    setStreaming(true);
    abort.current = new AbortController();
    try {
      const res = await raw("/v1/chat/completions", { method: "POST", body, signal: abort.current.signal });
      await readEvents(res, (data) => {
        if (data === "[DONE]") return;
        const delta = (JSON.parse(data) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? "";
        if (delta) setMessages((list) => [...list.slice(0, -1), { role: "assistant", content: list[list.length - 1]!.content + delta }]);
      });
    } catch (e) {
      if ((e as Error).name !== "AbortError") setError(messageOf(e));
    } finally {
      setStreaming(false);
      abort.current = null;
    }
  };

  return html`<${Page} title="Playground">
    <${Panel} title="Chat">
      <${Loading} loaded=${models}>${(m: { data: { id: string; status: string }[] }) => m.data.length === 0
        ? html`<p class="muted">No models: create an instance first.</p>`
        : html`<div class="form-grid">
          <${Field} label="Model"><select value=${chosen} onChange=${(e: Event) => setModel((e.target as HTMLSelectElement).value)}>
            ${m.data.map((x) => html`<option value=${x.id}>${x.id} (${x.status})</option>`)}</select><//>
          <${Field} label="System prompt"><input value=${system} onInput=${(e: Event) => setSystem((e.target as HTMLInputElement).value)} /><//>
        </div>`}<//>
      <ol class="chat" aria-label="Conversation" aria-live="polite">
        ${messages.map((msg, i) => html`<li key=${i} class=${`msg ${msg.role}`}><strong>${msg.role}</strong><p>${msg.content || (streaming && i === messages.length - 1 ? "…" : "")}</p></li>`)}
      </ol>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <form class="chat-input" onSubmit=${send}>
        <${Field} label="Message"><textarea rows="3" value=${draft} onInput=${(e: Event) => setDraft((e.target as HTMLTextAreaElement).value)}
          onKeyDown=${(e: KeyboardEvent) => e.key === "Enter" && (e.ctrlKey || e.metaKey) && send(e)}></textarea><//>
        <div class="row-actions">
          <button type="submit" disabled=${streaming || !chosen}>Send</button>
          ${streaming ? html`<button type="button" class="ghost" onClick=${() => abort.current?.abort()}>Stop</button>` : null}
          <button type="button" class="ghost" onClick=${() => setMessages([])} disabled=${streaming}>Clear</button>
        </div>
      </form>
    <//>
    ${lastBody ? html`<${Panel} title="Request as curl"><${Json} value=${curlOf(lastBody)} label="curl command" /><//>` : null}
  <//>`;
}
