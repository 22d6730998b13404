/**
 * bench/auth: requests/s on a JWT-protected route vs a public route of the same plugin, same run (goal ≥ 0.9×); login (argon2id)
 * cost; a wrong password and an unknown user take about the same time (no user enumeration by timing; goal: medians within 0.5–2×).
 */
import { ADMIN_KEY, FIXTURE_PLUGINS } from "../test/helpers.ts";
import { loadLoop, percentile, round, spawnGantry } from "./lib.ts";

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const SECONDS = Number(process.env.SECONDS ?? 4);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PASSWORD = "bench-admin-password";

// Rate limits stay on (their cost is part of a protected request) but high enough not to trigger.
const server = await spawnGantry({
  GANTRY_PLUGINS__DIR: FIXTURE_PLUGINS,
  GANTRY_PLUGINS__DISABLED: "clash,no-role,throws,slow-dispose,cycle-a,cycle-b,consumer,notes,graph",
  GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
  GANTRY_ADMIN_PASSWORD: PASSWORD,
  GANTRY_RATE_LIMIT__REGULAR_PER_MINUTE: "100000000",
  GANTRY_RATE_LIMIT__LOGIN_PER_MINUTE: "100000000",
  GANTRY_LOG__REQUESTS: "false",
});

const loginTimes: number[] = [];
let token = "";
for (let i = 0; i < 20; i++) {
  const started = performance.now();
  const res = await fetch(`${server.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: PASSWORD }) });
  loginTimes.push(performance.now() - started);
  token = (await res.json()).access_token;
}

// Failed logins, interleaved so that load on the machine falls on both alike.
const failedLogin = async (username: string) => {
  const started = performance.now();
  const res = await fetch(`${server.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password: "not the password" }) });
  await res.arrayBuffer();
  if (res.status !== 401) throw new Error(`a failed login answered ${res.status}`);
  return performance.now() - started;
};
const wrongPassword: number[] = [];
const unknownUser: number[] = [];
await failedLogin("nobody"); // warm up
for (let i = 0; i < 20; i++) {
  wrongPassword.push(await failedLogin("admin"));
  unknownUser.push(await failedLogin(`nobody-${i}`));
}
const enumerationRatio = percentile(unknownUser, 50) / percentile(wrongPassword, 50);

const protectedLoop = (durationMs: number) => loadLoop(`${server.url}/api/v1/hello/heard`, CONCURRENCY, durationMs, { headers: { authorization: `Bearer ${token}` } }).done;

await protectedLoop(1000);
await loadLoop(`${server.url}/api/v1/hello/greeting`, CONCURRENCY, 1000).done;
const rounds: { jwt: number; public: number; failed: number }[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const jwt = await protectedLoop(SECONDS * 1000);
  const pub = await loadLoop(`${server.url}/api/v1/hello/greeting`, CONCURRENCY, SECONDS * 1000).done;
  rounds.push({ jwt: jwt.rps, public: pub.rps, failed: jwt.failed + pub.failed });
}
await server.stop();

const jwtRps = rounds.reduce((s, r) => s + r.jwt, 0) / rounds.length;
const publicRps = rounds.reduce((s, r) => s + r.public, 0) / rounds.length;
console.log(JSON.stringify({
  bench: "auth",
  rounds: rounds.map((r) => ({ jwt_rps: round(r.jwt, 0), public_rps: round(r.public, 0), failed: r.failed })),
  jwt_rps: round(jwtRps, 0),
  public_rps: round(publicRps, 0),
  ratio: round(jwtRps / publicRps, 3),
  goal_ratio_at_least_0_9: jwtRps / publicRps >= 0.9,
  login_ms_p50: round(percentile(loginTimes, 50), 1),
  login_ms_p99: round(percentile(loginTimes, 99), 1),
  failed_login_ms_p50: { wrong_password: round(percentile(wrongPassword, 50), 1), unknown_user: round(percentile(unknownUser, 50), 1) },
  unknown_to_wrong_password_ratio: round(enumerationRatio, 2),
  goal_same_time_for_unknown_user: enumerationRatio > 0.5 && enumerationRatio < 2,
}, null, 2));
