/**
 * Model downloads into models_dir. Each file is written to `<file>.partial` and resumed with an HTTP Range
 * request after a broken connection (or by a later pull of the same source); once complete its SHA-256
 * is checked against the hub's and the file renamed into place, or deleted when it does not match.
 * The pulls are kept across plugin reloads (a download of gigabytes must not restart) and cancelled
 * when the plugin goes away.
 */
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, statSync, statfsSync } from "node:fs";
import { open, rename, rm, truncate } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { formatBytes, GantryError, redactSecrets, type KeepScope } from "gantry/plugin";
import { planPull, PullErrors, type HubSettings, type PullFile, type PullPlan } from "./pull-sources.ts";

export type PullStatus = "downloading" | "verifying" | "completed" | "failed" | "cancelled";

export interface PullSettings extends HubSettings {
  modelsDir: string;
  /** Resumes after broken connections, per file. */
  retries: number;
}

export interface PullView {
  id: string; source: string; file: string; status: PullStatus; bytes_done: number; bytes_total: number | null;
  error: string | null; started_at: string; finished_at: string | null;
}

/** What gantry knows of a pulled file (kept in the plugin's key-value store under `file:<target>`). */
export interface PulledFile { source: string; sha256: string | null; size: number }

interface Pull {
  view: PullView;
  plan: PullPlan;
  controller: AbortController;
  listeners: Set<(view: PullView) => void>;
  /** bytes_done when listeners last heard of it. */
  lastNotified: number;
  /** Settles when the download has stopped, whatever the outcome. */
  done: Promise<void>;
}

const NOTIFY_EVERY_BYTES = 256 * 1024;
const FINISHED: PullStatus[] = ["completed", "failed", "cancelled"];

export class ModelPulls {
  readonly #pulls = new Map<string, Pull>();
  #settings: () => PullSettings = () => {
    throw new Error("ModelPulls used before configure()");
  };
  #record: (target: string, file: PulledFile) => Promise<void> = async () => {};

  constructor(private readonly scope: KeepScope) {
    scope.signal.addEventListener("abort", () => this.cancelAll(), { once: true });
  }

  /** Each plugin generation re-points the settings and where pulled files are recorded. */
  configure(settings: () => PullSettings, record: (target: string, file: PulledFile) => Promise<void>): void {
    this.#settings = settings;
    this.#record = record;
  }

  list(): PullView[] {
    return [...this.#pulls.values()].map((p) => ({ ...p.view })).sort((a, b) => b.started_at.localeCompare(a.started_at));
  }

  get(id: string): PullView {
    return { ...this.#pull(id).view };
  }

  /** Looks the source up, checks the disk, then downloads in the background; a pull of the same target already running is returned instead. */
  async start(source: string): Promise<PullView> {
    const settings = this.#settings();
    const plan = await planPull(source, settings);
    const running = [...this.#pulls.values()].find((p) => p.plan.target === plan.target && !FINISHED.includes(p.view.status));
    if (running) return { ...running.view };
    mkdirSync(settings.modelsDir, { recursive: true });
    this.#checkSpace(plan, settings.modelsDir);
    const total = plan.files.every((f) => f.size !== null) ? plan.files.reduce((sum, f) => sum + f.size!, 0) : null;
    const pull: Pull = {
      plan, controller: new AbortController(), listeners: new Set(), lastNotified: 0, done: Promise.resolve(),
      // A URL's credentials (user:pass@, ?token=) never reach the views, events or the file record.
      view: { id: randomUUID(), source: redactSecrets(source), file: plan.target, status: "downloading", bytes_done: 0, bytes_total: total, error: null, started_at: new Date().toISOString(), finished_at: null },
    };
    this.#pulls.set(pull.view.id, pull);
    pull.done = this.scope.track(this.#run(pull, settings));
    return { ...pull.view };
  }

  /** Cancels a running pull and waits until it has stopped (its .partial files stay, so pulling again resumes); forgets a finished one. */
  async cancel(id: string): Promise<PullView> {
    const pull = this.#pull(id);
    if (FINISHED.includes(pull.view.status)) {
      this.#pulls.delete(id);
    } else {
      pull.controller.abort();
      await pull.done;
    }
    return { ...pull.view };
  }

  /** Calls `listener` with every change of `id` until it finishes; returns the unsubscribe function. */
  follow(id: string, listener: (view: PullView) => void): () => void {
    const pull = this.#pull(id);
    pull.listeners.add(listener);
    return () => pull.listeners.delete(listener);
  }

  /** The plugin goes away: every download stops (their .partial files stay). */
  cancelAll(): void {
    for (const pull of this.#pulls.values()) pull.controller.abort();
  }

  #pull(id: string): Pull {
    const pull = this.#pulls.get(id);
    if (!pull) throw PullErrors.PULL_NOT_FOUND([id]);
    return pull;
  }

  /** 507 before any byte is written when what is left to fetch does not fit. */
  #checkSpace(plan: PullPlan, modelsDir: string): void {
    let needed = 0;
    for (const file of plan.files) {
      const path = join(modelsDir, file.target);
      const have = existsSync(path) ? statSync(path).size : existsSync(`${path}.partial`) ? statSync(`${path}.partial`).size : 0;
      needed += Math.max(0, (file.size ?? 0) - have);
    }
    const { bavail, bsize } = statfsSync(modelsDir);
    const free = bavail * bsize;
    if (needed > free) throw PullErrors.NO_DISK_SPACE([formatBytes(needed), formatBytes(free)]);
  }

  async #run(pull: Pull, settings: PullSettings): Promise<void> {
    try {
      for (const file of pull.plan.files) {
        const before = pull.view.bytes_done;
        const sha256 = await this.#fetchFile(pull, file, settings, (done) => this.#progress(pull, before + done));
        const size = statSync(join(settings.modelsDir, file.target)).size;
        pull.view.bytes_done = before + size;
        await this.#record(file.target, { source: pull.view.source, sha256, size });
      }
      this.#finish(pull, "completed", null);
    } catch (error) {
      if (pull.controller.signal.aborted) this.#finish(pull, "cancelled", "cancelled; pull the same source again to resume");
      else this.#finish(pull, "failed", (error as Error).message);
    }
  }

  /** One file, resumed after broken connections; returns its SHA-256. */
  async #fetchFile(pull: Pull, file: PullFile, settings: PullSettings, progress: (done: number) => void): Promise<string> {
    const path = join(settings.modelsDir, file.target);
    const partial = `${path}.partial`;
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path) && file.sha256 !== null && statSync(path).size === file.size && (await sha256Of(path)) === file.sha256) {
      progress(file.size);
      return file.sha256; // already here and intact
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#download(pull, file, partial, settings, progress);
        break;
      } catch (error) {
        // A refusal of the outbound guard (an internal address, too many redirects) is not retried.
        if (pull.controller.signal.aborted || attempt >= settings.retries || (error as { permanent?: boolean }).permanent || error instanceof GantryError) throw error;
        await sleep(200 * (attempt + 1));
      }
    }
    this.#set(pull, "verifying");
    const sha256 = await sha256Of(partial);
    if (file.sha256 !== null && sha256 !== file.sha256) {
      await rm(partial, { force: true });
      throw new Error(`${file.target} is corrupted: its SHA-256 is ${sha256}, the hub says ${file.sha256}; the download was deleted`);
    }
    await rename(partial, path);
    this.#set(pull, "downloading");
    return sha256;
  }

  /** Appends to `partial` from where it ends (Range), or starts over when the server ignores the range. */
  async #download(pull: Pull, file: PullFile, partial: string, settings: PullSettings, progress: (done: number) => void): Promise<void> {
    let offset = existsSync(partial) ? statSync(partial).size : 0;
    if (file.size !== null && offset > file.size) {
      await truncate(partial, 0);
      offset = 0;
    }
    if (file.size !== null && offset === file.size) return;
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    if (file.authorized && settings.token) headers.authorization = `Bearer ${settings.token}`;
    // Through the guard: a hub's redirect to its CDN is checked like the first hop (and loses the token off the hub's origin).
    const res = await settings.outbound.fetch(file.url, { headers, signal: pull.controller.signal });
    if (res.status === 416 && offset > 0) return; // the partial file is already whole
    if (!res.ok) throw Object.assign(new Error(`${redactSecrets(file.url.replace(/[?#].*$/, ""))} answered ${res.status}`), { permanent: res.status < 500 });
    if (res.status === 200 && offset > 0) offset = 0; // no range support: from the start
    if (pull.view.bytes_total === null) {
      const length = Number(res.headers.get("content-length"));
      if (length > 0) pull.view.bytes_total = offset + length;
    }
    const handle = await open(partial, offset > 0 ? "a" : "w");
    try {
      let done = offset;
      progress(done);
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        await handle.write(chunk);
        done += chunk.length;
        progress(done);
      }
    } finally {
      await handle.close();
    }
    if (file.size !== null && statSync(partial).size < file.size) throw new Error(`${file.target}: the connection ended early`);
  }

  #progress(pull: Pull, done: number): void {
    pull.view.bytes_done = done;
    // Every 256 KiB, or every 0.1 % of a large download.
    const step = Math.max(NOTIFY_EVERY_BYTES, (pull.view.bytes_total ?? 0) / 1000);
    if (done - pull.lastNotified < step && done !== pull.view.bytes_total) return;
    pull.lastNotified = done;
    this.#notify(pull);
  }

  #set(pull: Pull, status: PullStatus): void {
    if (pull.view.status === status) return;
    pull.view.status = status;
    this.#notify(pull);
  }

  #finish(pull: Pull, status: PullStatus, error: string | null): void {
    Object.assign(pull.view, { status, error, finished_at: new Date().toISOString() });
    this.#notify(pull);
    pull.listeners.clear();
  }

  #notify(pull: Pull): void {
    const view = { ...pull.view };
    for (const listener of pull.listeners) listener(view);
    const type = FINISHED.includes(view.status) ? "model_pull_finished" : "model_pull_progress";
    try {
      if (type === "model_pull_finished" || this.scope.ctx.listened(type)) this.scope.ctx.emit(type, view);
    } catch {
      // no generation holds the pulls any more (they are being cancelled)
    }
  }
}

/** Hex SHA-256 of a file, read as a stream. */
export async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
