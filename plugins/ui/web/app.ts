/** The app shell: sign-in, the navigation, the theme switch, and which page a path shows. */
import type { VNode } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { call, completeOidc, currentSession, onSession, signIn, signOut } from "./api.ts";
import { startLive, stopLive, useLiveStatus } from "./live.ts";
import { currentRoute, navigate, useRoute } from "./router.ts";
import { can, html, messageOf, Notices, setRole, type Role } from "./ui.ts";
import { pageFor } from "./pages/index.ts";

interface Me {
  subject: string;
  role: string;
}

const NAV: { to: string; label: string; role: Role }[] = [
  { to: "/", label: "Overview", role: "viewer" },
  { to: "/instances", label: "Instances", role: "viewer" },
  { to: "/playground", label: "Playground", role: "viewer" },
  { to: "/approvals", label: "Approvals", role: "viewer" },
  { to: "/agents", label: "Agents", role: "viewer" },
  { to: "/plugins", label: "Plugins", role: "viewer" },
  { to: "/commands", label: "Commands", role: "viewer" },
  { to: "/cron", label: "Cron", role: "viewer" },
  { to: "/batch", label: "Batch", role: "viewer" },
  { to: "/mcp", label: "MCP", role: "viewer" },
  { to: "/flags", label: "Flags", role: "viewer" },
  { to: "/cache", label: "Cache", role: "admin" },
  { to: "/users", label: "Users & keys", role: "admin" },
  { to: "/audit", label: "Audit log", role: "admin" },
  { to: "/config", label: "Config", role: "admin" },
];

type Theme = "light" | "dark";
function initialTheme(): Theme {
  const saved = localStorage.getItem("gantry.theme");
  if (saved === "light" || saved === "dark") return saved;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function ThemeSwitch(): VNode {
  const [theme, setTheme] = useState<Theme>(initialTheme);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const next: Theme = theme === "dark" ? "light" : "dark";
  return html`<button type="button" class="ghost" aria-pressed=${theme === "dark"} onClick=${() => {
    localStorage.setItem("gantry.theme", next);
    setTheme(next);
  }}>${theme === "dark" ? "Light theme" : "Dark theme"}</button>`;
}

function SignIn(): VNode {
  const [error, setError] = useState(oidcError);
  const [busy, setBusy] = useState(false);
  const [oidc, setOidc] = useState(false);
  useEffect(() => {
    // A configured provider answers the sign-in start with a redirect; without one it answers an error.
    fetch("/api/v1/auth/oidc/login", { redirect: "manual" }).then((r) => setOidc(r.type === "opaqueredirect" || r.status === 302)).catch(() => {});
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setBusy(true);
    setError("");
    try {
      await signIn(String(form.get("username")), String(form.get("password")));
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main" class="signin">
    <form class="card" onSubmit=${submit} aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in to gantry</h1>
      <label class="field"><span class="label">Username</span><input name="username" autocomplete="username" required autofocus /></label>
      <label class="field"><span class="label">Password</span><input name="password" type="password" autocomplete="current-password" required /></label>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <button type="submit" disabled=${busy}>${busy ? "Signing in…" : "Sign in"}</button>
      ${oidc ? html`<a class="button ghost" href="/api/v1/auth/oidc/login">Sign in with single sign-on</a>` : null}
    </form>
    <${ThemeSwitch} />
  </main>`;
}

function Shell(props: { me: Me }): VNode {
  const route = useRoute();
  const live = useLiveStatus();
  const [menuOpen, setMenuOpen] = useState(false);
  const page = pageFor(route.path, route.query);
  const firstPath = useRef(route.path);
  useEffect(() => {
    setMenuOpen(false);
    // After in-app navigation, move focus to the new page's heading, as a page load would for screen readers and keyboards.
    if (route.path !== firstPath.current) document.getElementById("page-title")?.focus();
    firstPath.current = "";
  }, [route.path]);
  const current = (to: string) => (to === "/" ? route.path === "/" : route.path === to || route.path.startsWith(`${to}/`));
  return html`<a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <a class="brand" href="/ui">gantry</a>
      <button type="button" class="ghost menu-toggle" aria-expanded=${menuOpen} aria-controls="nav" onClick=${() => setMenuOpen(!menuOpen)}>Menu</button>
      <span class=${`live ${live ? "on" : "off"}`} title="Live updates">${live ? "live" : "offline"}</span>
      <span class="who">${props.me.subject} · ${props.me.role}</span>
      <${ThemeSwitch} />
      <button type="button" class="ghost" onClick=${() => void signOut()}>Sign out</button>
    </header>
    <div class="layout">
      <nav id="nav" aria-label="Sections" class=${menuOpen ? "open" : ""}>
        <ul>${NAV.filter((n) => can(n.role)).map((n) => html`<li><a href=${`/ui${n.to === "/" ? "" : n.to}`} aria-current=${current(n.to) ? "page" : undefined}>${n.label}</a></li>`)}</ul>
      </nav>
      <main id="main" tabindex="-1">${page}</main>
    </div>
    <${Notices} />`;
}

let oidcError = "";

/** Handles the provider's redirect to /ui/oidc-callback once, then shows the overview (or the sign-in form with the error). */
async function finishSingleSignOn(): Promise<void> {
  try {
    await completeOidc(location.search);
  } catch (e) {
    oidcError = `Single sign-on failed: ${messageOf(e)}`;
  }
  navigate("/", true);
}

export function App(): VNode {
  const [ssoPending, setSsoPending] = useState(() => currentRoute().path === "/oidc-callback");
  const [session, setSession] = useState(currentSession());
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState("");
  useEffect(() => onSession((s) => setSession(s)), []);
  useEffect(() => {
    if (ssoPending) void finishSingleSignOn().finally(() => setSsoPending(false));
  }, []);
  useEffect(() => {
    if (!session) {
      stopLive();
      setMe(null);
      return;
    }
    call<Me>("/api/v1/auth/whoami").then((who) => {
      setRole(who.role);
      setMe(who);
      startLive();
    }).catch((e) => setError(messageOf(e)));
  }, [session?.username]);
  if (ssoPending) return html`<main id="main" class="signin"><p class="muted">Signing in…</p></main>`;
  if (!session) return html`<${SignIn} /><${Notices} />`;
  if (!me) return html`<main id="main" class="signin"><p class=${error ? "error" : "muted"} role=${error ? "alert" : undefined}>${error || "Loading…"}</p></main>`;
  return html`<${Shell} me=${me} />`;
}

export { navigate };
