/**
 * bench/agent: what an agent run adds over the model call itself (same run, same stand-in model):
 * a one-turn run vs the same chat completion through the proxy, and a run with one allowed tool
 * call (two model turns and a slash command) vs two completions plus the command invoked directly.
 */
import { ADMIN_KEY, STAND_IN_MODEL_SERVER as STAND_IN } from "../test/helpers.ts";
import { freePort, percentile, round, sequentialTimes, spawnGantry } from "./lib.ts";

const RUNS = Number(process.env.RUNS ?? 200);
const agents = { bench: { prompt: "Answer.", tools: ["/cron:list"], allow: ["/cron:list"] } };
const server = await spawnGantry({
  GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false",
  GANTRY_PLUGIN__AGENT__DEFAULT_MODEL: '"brain"', GANTRY_PLUGIN__AGENT__AGENTS: JSON.stringify(agents), GANTRY_PLUGIN__AGENT__RUNS_KEPT: "100000",
});
const headers = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };
const post = async (path: string, body: unknown) => {
  const res = await fetch(`${server.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
};
await post("/api/v1/instances", { name: "brain", backend: "command", model_path: "brain", port: await freePort(), command: [process.execPath, STAND_IN, "--port", "{port}"] });
await post("/api/v1/instances/brain/start", {});

async function timed(call: () => Promise<unknown>): Promise<number[]> {
  await sequentialTimes(20, call); // warm-up
  return sequentialTimes(RUNS, call);
}
const tools = [{ type: "function", function: { name: "cron__list", description: "x", parameters: { type: "object" } } }];
const completion = (content: string) => post("/v1/chat/completions", { model: "brain", messages: [{ role: "system", content: "Answer." }, { role: "user", content }], tools });
const plain = await timed(() => completion("hello"));
const oneTurn = await timed(() => post("/api/v1/agents/bench/invoke", { input: "hello" }));
const byHand = await timed(async () => {
  await completion("CALL cron__list {}");
  await post("/api/v1/plugins/commands/cron:list/invoke", {});
  await completion("done");
});
const withTool = await timed(() => post("/api/v1/agents/bench/invoke", { input: "CALL cron__list {}" }));
await server.stop();

const p50 = (xs: number[]) => round(percentile(xs, 50), 3);
console.log(JSON.stringify({
  bench: "agent",
  runs: RUNS,
  one_turn: { completion_p50_ms: p50(plain), agent_run_p50_ms: p50(oneTurn), added_p50_ms: round(percentile(oneTurn, 50) - percentile(plain, 50), 3), agent_run_p99_ms: round(percentile(oneTurn, 99), 3) },
  one_tool_call: { by_hand_p50_ms: p50(byHand), agent_run_p50_ms: p50(withTool), added_p50_ms: round(percentile(withTool, 50) - percentile(byHand, 50), 3) },
}, null, 2));
