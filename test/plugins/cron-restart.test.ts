// Cron after a restart: a tick that falls while later plugins are still being set up runs their command once they are up.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { readdirSync } from "node:fs";
import { BUILTIN_PLUGINS, FIXTURE_PLUGINS, dropTestDatabase, json, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";

const dataDir = tempDir();
// Only cron of the built-ins; late-setup is installed from its folder, so it is set up after cron.
const others = readdirSync(BUILTIN_PLUGINS).filter((name) => name !== "cron");
const start = (disabled: string[] = []) => startGantry({ builtins: BUILTIN_PLUGINS, dataDir, config: { plugins: { disabled: [...others, ...disabled] } } });
let g: TestGantry | undefined;
afterAll(async () => {
  await g?.stop();
  await dropTestDatabase(dataDir);
});

type Run = { id: number; status: string; error: string | null; result: unknown; scheduled_at: string | null };
const runsOf = async (id: string): Promise<Run[]> => (await (await g!.api(`/api/v1/cron/jobs/${id}/runs`)).json()).runs;
/** Runs for ticks at or after `since`, oldest first. */
const ticksSince = async (id: string, since: number) => (await runsOf(id)).filter((r) => Date.parse(r.scheduled_at ?? "") >= since).sort((a, b) => a.id - b.id);

test("the first tick after a restart runs a command of a plugin set up after cron; a command that is really gone fails by name", async () => {
  g = await start();
  expect((await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURE_PLUGINS, "late-setup") }))).status).toBe(201);
  const created = await g.api("/api/v1/cron/jobs", json("POST", { name: "every-second", schedule: "* * * * * *", command: "/late-setup:ping" }));
  expect(created.status).toBe(201);
  const job = (await created.json()) as { id: string };
  await g.stop();

  // late-setup takes 1.5 s to set up after cron: ticks fall in that time.
  const restarted = Date.now();
  g = await start();
  await waitFor(async () => ((await ticksSince(job.id, restarted))[0]?.status ?? "running") !== "running", 15_000, "the first run after the restart to finish");
  const [first] = await ticksSince(job.id, restarted);
  expect(first).toMatchObject({ status: "succeeded", error: null, result: "pong" });
  await g.stop();

  // The plugin is gone (disabled): the job's ticks fail, naming the missing command.
  g = await start(["late-setup"]);
  await waitFor(async () => (await runsOf(job.id)).some((r) => r.status === "failed"), 15_000, "a failed run");
  const failed = (await runsOf(job.id)).find((r) => r.status === "failed")!;
  expect(failed.error).toContain("No command 'late-setup:ping'");
});
