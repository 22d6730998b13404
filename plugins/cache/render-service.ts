/**
 * The render service: one headless Chromium (Debian's, driven by puppeteer-core over a pipe) with
 * a fixed pool of tabs. Online renders (a bot waiting) may use every free tab; recache renders only
 * the tabs beyond the share reserved for online traffic. The service is kept across plugin reloads
 * (no browser relaunch); each Chromium it launches is registered with the kernel as soon as it
 * exists (`adopt`), so operators see it and it stops with the plugin. Chromium runs in a process
 * group of its own (puppeteer launches it detached), so its renderer and GPU children stop with it.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, CDPSession, HTTPRequest, Page } from "puppeteer-core";
import type { AdoptOptions, ChildProcess } from "gantry/plugin";

export interface Dimension {
  id: number;
  name: string;
  width: number;
  height: number;
  user_agent: string;
  mobile?: boolean;
}

export interface RenderResult {
  html: string;
  status: number;
  ms: number;
}

export interface RenderSettings {
  chromiumPath: string;
  tabs: number;
  reserveOnlinePercent: number;
  timeoutMs: number;
  /** Renders after which the browser is replaced (Chromium grows over time). */
  recycleAfter: number;
  /** Core's outbound guard: rejects (OUTBOUND_*) when a URL's host resolves to an address outbound.allow does not list. */
  checkAddress: (url: string) => Promise<unknown>;
}

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"];
const PROFILE_PREFIX = "gantry-chromium-";
const PROFILE_NAME = /^gantry-chromium-(\d+)-/;

interface Tab {
  page: Page;
  cdp: CDPSession;
  busy: boolean;
  /** What the current render lets through (set per render; interception is set up once per tab). */
  policy: BlockPolicy;
  /** Why the outbound guard refused the current render's page itself (reported instead of Chromium's net::ERR_BLOCKED_BY_CLIENT). */
  refused: Error | undefined;
}

/** Requests a render does not need for the HTML: resource types, and hosts other than the page's own. */
export interface BlockPolicy {
  resourceTypes: string[];
  thirdParty: boolean;
}

const ALLOW_ALL: BlockPolicy = { resourceTypes: [], thirdParty: false };

export class RenderService {
  #browser: Browser | undefined;
  #launching: Promise<Browser> | undefined;
  #profile: string | undefined;
  #tabs: Tab[] = [];
  #renders = 0;
  #closed = false;
  /** Renders admitted and not finished; counted before any await, so a tick cannot over-claim tabs. */
  #inUse = 0;

  #settings: () => RenderSettings;

  /** `adopt` registers each launched Chromium with the kernel (the kept resource's scope). */
  constructor(settings: () => RenderSettings, private readonly adopt: (pid: number, options: AdoptOptions) => ChildProcess) {
    this.#settings = settings;
    sweepProfiles(); // a killed gantry leaves its Chromium profile folders behind
  }

  /** Each plugin generation points the service at its configuration. */
  configure(settings: () => RenderSettings): void {
    this.#settings = settings;
  }

  private settings(): RenderSettings {
    return this.#settings();
  }

  /** How many times Chromium was launched (a reload must not add one). */
  launches = 0;

  /** Tabs reserved for online renders. */
  get reserved(): number {
    const { tabs, reserveOnlinePercent } = this.settings();
    return Math.min(tabs, Math.ceil((tabs * reserveOnlinePercent) / 100));
  }

  get freeTabs(): number {
    return Math.max(0, this.settings().tabs - this.#inUse);
  }

  /** Free tabs recache may take now, keeping the online reserve. */
  get availableForRecache(): number {
    return Math.max(0, this.freeTabs - this.reserved);
  }

  /** Renders `url` as `dimension` sees it: HTML after the page says it is ready (or the DOM settles). */
  /** `signal` abandons the render (its tab is replaced): the plugin generation that asked is going away. */
  async render(url: string, dimension: Dimension, kind: "online" | "recache", policy: BlockPolicy = ALLOW_ALL, signal?: AbortSignal): Promise<RenderResult> {
    if (this.#closed) throw new Error("the render service is closed");
    signal?.throwIfAborted();
    const free = this.freeTabs;
    if (free === 0 || (kind === "recache" && free <= this.reserved)) throw new Error(`no ${kind} tab free`);
    this.#inUse++;
    try {
      await this.#ensureBrowser();
      return await this.#renderOnFreeTab(url, dimension, policy, signal);
    } finally {
      this.#inUse--;
    }
  }

  async #renderOnFreeTab(url: string, dimension: Dimension, policy: BlockPolicy, signal?: AbortSignal): Promise<RenderResult> {
    const tab = this.#tabs.find((t) => !t.busy)!; // admitted renders never outnumber the tabs
    tab.busy = true;
    tab.policy = policy;
    tab.refused = undefined;
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`render timed out after ${this.settings().timeoutMs} ms`)), this.settings().timeoutMs)));
      const crashed = new Promise<never>((_, reject) => tab.page.once("error", (error) => reject(new Error(`the page crashed: ${error.message}`))));
      const aborted = new Promise<never>((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason), { once: true }));
      const result = await Promise.race([this.#renderIn(tab, url, dimension), timeout, crashed, aborted]);
      return { ...result, ms: Math.round(performance.now() - started) };
    } catch (error) {
      await this.#replaceTab(tab); // a hung or crashed tab is not reused
      throw error;
    } finally {
      clearTimeout(timer);
      tab.busy = false;
      if (++this.#renders >= this.settings().recycleAfter && this.#tabs.every((t) => !t.busy)) await this.#recycle();
    }
  }

  async #renderIn(tab: Tab, url: string, dimension: Dimension): Promise<{ html: string; status: number }> {
    // UA and viewport through CDP: Puppeteer's setViewport with a changed isMobile reloads the page.
    await tab.cdp.send("Emulation.setUserAgentOverride", { userAgent: dimension.user_agent });
    await tab.cdp.send("Emulation.setDeviceMetricsOverride", { width: dimension.width, height: dimension.height, deviceScaleFactor: 1, mobile: dimension.mobile ?? false });
    const response = await tab.page.goto(url, { waitUntil: "load", timeout: this.settings().timeoutMs }).catch((error: Error) => {
      throw tab.refused ?? error;
    });
    // The page's own signal, else a DOM that stopped changing (not networkidle0: slow and flaky).
    await tab.page.waitForFunction(
      `window.prerenderReady === true || (window.prerenderReady === undefined && document.readyState === "complete")`,
      { timeout: this.settings().timeoutMs, polling: 25 },
    );
    return { html: await tab.page.content(), status: response?.status() ?? 0 };
  }

  async #ensureBrowser(): Promise<void> {
    if (this.#browser?.connected) return;
    this.#launching ??= this.#launch().finally(() => (this.#launching = undefined));
    await this.#launching;
  }

  async #launch(): Promise<Browser> {
    const { launch } = await import("puppeteer-core");
    this.#profile = mkdtempSync(join(tmpdir(), `${PROFILE_PREFIX}${process.pid}-`));
    const browser = await launch({ executablePath: this.settings().chromiumPath, pipe: true, args: [...FLAGS, `--user-data-dir=${this.#profile}`], headless: true, timeout: 30_000 });
    this.launches++;
    const chromium = browser.process();
    if (chromium?.pid) {
      const exited = new Promise((resolve) => (chromium.exitCode !== null ? resolve(chromium.exitCode) : chromium.once("exit", resolve)));
      this.adopt(chromium.pid, { name: "chromium", command: [this.settings().chromiumPath, "--headless", "(render service)"], exited });
    }
    browser.on("disconnected", () => {
      if (this.#browser === browser) this.#browser = undefined; // relaunched on the next render
    });
    this.#browser = browser;
    this.#tabs = await Promise.all(Array.from({ length: this.settings().tabs }, () => this.#openTab(browser)));
    this.#renders = 0;
    return browser;
  }

  async #openTab(browser: Browser): Promise<Tab> {
    const page = await browser.newPage();
    const cdp = await page.createCDPSession();
    // Background tabs are "hidden": requestAnimationFrame never fires and pages never get ready.
    await cdp.send("Emulation.setFocusEmulationEnabled", { enabled: true });
    const tab: Tab = { page, cdp, busy: false, policy: ALLOW_ALL, refused: undefined };
    await page.setRequestInterception(true);
    page.on("request", (request) => {
      if (request.isInterceptResolutionHandled()) return;
      void this.#admits(tab, request)
        .then((admitted) => (admitted ? request.continue() : request.abort("blockedbyclient")))
        .catch(() => undefined);
    });
    return tab;
  }

  /**
   * Whether a request of the page may go out: not a blocked resource type or third party, and (every
   * request the page makes, the page itself, frames, scripts, fetches, redirects) an address the
   * outbound guard passes. Schemes that fetch nothing (data:, blob:, about:) pass; file: and the rest do not.
   */
  async #admits(tab: Tab, request: HTTPRequest): Promise<boolean> {
    const { resourceTypes, thirdParty } = tab.policy;
    const url = request.url();
    const pageUrl = tab.page.url();
    if (resourceTypes.includes(request.resourceType())) return false;
    if (thirdParty && !request.isNavigationRequest() && new URL(url).origin !== new URL(pageUrl === "about:blank" ? url : pageUrl).origin) return false;
    const scheme = url.slice(0, url.indexOf(":") + 1).toLowerCase();
    if (scheme === "data:" || scheme === "blob:" || scheme === "about:") return true;
    try {
      await this.settings().checkAddress(url);
      return true;
    } catch (error) {
      if (request.isNavigationRequest() && request.frame() === tab.page.mainFrame()) tab.refused = error as Error;
      return false;
    }
  }

  async #replaceTab(tab: Tab): Promise<void> {
    const index = this.#tabs.indexOf(tab);
    await tab.page.close().catch(() => undefined);
    if (index < 0 || !this.#browser?.connected) return;
    this.#tabs[index] = await this.#openTab(this.#browser).catch(() => tab);
  }

  async #recycle(): Promise<void> {
    const old = this.#browser;
    this.#browser = undefined;
    await this.#closeBrowser(old);
  }

  async #closeBrowser(browser: Browser | undefined): Promise<void> {
    await browser?.close().catch(() => undefined);
    if (this.#profile) rmSync(this.#profile, { recursive: true, force: true });
    this.#profile = undefined;
    this.#tabs = [];
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#launching?.catch(() => undefined);
    await this.#closeBrowser(this.#browser);
    this.#browser = undefined;
  }

  get running(): boolean {
    return this.#browser?.connected === true;
  }
}

/** Removes profile folders whose gantry process is gone (named gantry-chromium-<pid>-...); any other name is not gantry's to remove. */
function sweepProfiles(): void {
  for (const entry of readdirSync(tmpdir())) {
    const pid = Number(PROFILE_NAME.exec(entry)?.[1] ?? 0);
    if (pid > 0 && !alive(pid)) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
