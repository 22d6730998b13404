/** A small history router for paths under /ui: links navigate without reloading; deep links load the same page. */
import { useEffect, useState } from "preact/hooks";

export const BASE = "/ui";
const listeners = new Set<() => void>();

/** The path below /ui ("/" for the overview) and the query. */
export function currentRoute(): { path: string; query: URLSearchParams } {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) || "/" : "/";
  return { path, query: new URLSearchParams(location.search) };
}

export function navigate(to: string, replace = false): void {
  const url = BASE + (to === "/" ? "" : to);
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  for (const listener of listeners) listener();
}

addEventListener("popstate", () => {
  for (const listener of listeners) listener();
});

// Plain <a href="/ui/..."> links route in the page; modified clicks (new tab) keep the browser's behaviour.
addEventListener("click", (event) => {
  const anchor = (event.target as Element | null)?.closest?.("a");
  if (!anchor || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || anchor.target) return;
  const href = anchor.getAttribute("href");
  if (!href?.startsWith(BASE)) return;
  event.preventDefault();
  navigate(href.slice(BASE.length) || "/");
});

export function useRoute(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return currentRoute();
}
