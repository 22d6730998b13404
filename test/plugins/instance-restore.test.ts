/**
 * Restore: instances running when gantry stopped (gracefully, or killed with -9) are started again at
 * the next start, after the leftovers are reaped; those stopped by request stay stopped; restore = "none" starts nothing.
 * gantry runs as a real subprocess on one data dir, the model servers are the stand-in.
 */
import { afterAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Subprocess } from "bun";
import { ADMIN_KEY, BUILTIN_PLUGINS, dropTestDatabase, freePort, json, portRangeEnv, reservePortBlock, liveGroupMembers, STAND_IN_MODEL_SERVER, tempDir, testDatabaseEnv, waitFor } from "../helpers.ts";

const dataDir = tempDir();
// Model-server ports held by this file alone, the same for every gantry it boots on the data dir.
const modelPorts = await reservePortBlock();
const started: Subprocess[] = [];
afterAll(async () => {
  // Gracefully first: a gantry killed with -9 leaves its model servers running (on this file's ports).
  for (const proc of started) proc.kill("SIGTERM");
  await Promise.race([Promise.all(started.map((proc) => proc.exited)), Bun.sleep(10_000)]);
  for (const proc of started) proc.kill("SIGKILL");
  await dropTestDatabase(dataDir);
});

async function boot(env: Record<string, string> = {}) {
  const port = await freePort();
  const disabled = readdirSync(BUILTIN_PLUGINS).filter((name) => name !== "instances");
  const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "../../core/main.ts"), "serve", "--port", String(port)], {
    env: {
      PATH: process.env.PATH ?? "", GANTRY_DATA_DIR: dataDir, GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_LOG__LEVEL: "warn",
      GANTRY_PLUGINS__DISABLED: JSON.stringify(disabled), GANTRY_RATE_LIMIT__ENABLED: "false",
      ...portRangeEnv(modelPorts), GANTRY_PLUGIN__INSTANCES__START_TIMEOUT_S: "60",
      ...testDatabaseEnv(dataDir), ...env,
    },
    stdout: "ignore", stderr: "ignore",
  });
  started.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => null))?.status === 200, 60_000, "gantry to answer /healthz");
  const call = (path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(init.headers ?? {}) } });
  const instance = async (name: string) => (await call(`/api/v1/instances/${name}`)).json();
  return { proc, call, instance };
}

const command = [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}"];

test("running instances come back after a graceful stop and after kill -9; stopped ones stay stopped", async () => {
  let g = await boot();
  for (const name of ["kept", "halted", "never"]) {
    expect((await g.call("/api/v1/instances", json("POST", { name, backend: "command", model_path: name, command }))).status).toBe(201);
  }
  expect((await g.call("/api/v1/instances/kept/start", json("POST"))).status).toBe(200);
  expect((await g.call("/api/v1/instances/halted/start", json("POST"))).status).toBe(200);
  expect((await g.call("/api/v1/instances/halted/stop", json("POST", {}))).status).toBe(200);
  expect(await g.instance("kept")).toMatchObject({ status: "running", desired_state: "running" });
  expect(await g.instance("halted")).toMatchObject({ status: "stopped", desired_state: "stopped" });
  const firstPid = (await g.instance("kept")).pid as number;

  // A graceful stop stops the servers but is not a stop by request.
  g.proc.kill("SIGTERM");
  await g.proc.exited;
  expect(liveGroupMembers(firstPid)).toEqual([]);
  g = await boot();
  await waitFor(async () => (await g.instance("kept")).status === "running", 15_000, "kept to be restored");
  expect(await g.instance("halted")).toMatchObject({ status: "stopped", desired_state: "stopped" });
  expect(await g.instance("never")).toMatchObject({ status: "stopped", desired_state: "stopped" });
  const secondPid = (await g.instance("kept")).pid as number;
  expect(secondPid).not.toBe(firstPid);

  // kill -9: the leftover server is reaped first, then a new one is started.
  g.proc.kill("SIGKILL");
  await g.proc.exited;
  expect(liveGroupMembers(secondPid).length).toBeGreaterThan(0); // left running by the killed gantry
  g = await boot();
  await waitFor(async () => (await g.instance("kept")).status === "running", 15_000, "kept to be restored after kill -9");
  const thirdPid = (await g.instance("kept")).pid as number;
  expect(thirdPid).not.toBe(secondPid);
  expect(liveGroupMembers(secondPid)).toEqual([]);
  const chat = await g.call("/v1/chat/completions", json("POST", { model: "kept", messages: [{ role: "user", content: "hi" }] }));
  expect(chat.status).toBe(200);

  // restore = "none": nothing starts, and the intent is kept for a later start.
  g.proc.kill("SIGTERM");
  await g.proc.exited;
  g = await boot({ GANTRY_PLUGIN__INSTANCES__RESTORE: "none" });
  await Bun.sleep(500); // a restore would have begun by now; nothing may start
  expect(await g.instance("kept")).toMatchObject({ status: "stopped", desired_state: "running" });
  g.proc.kill("SIGTERM");
  await g.proc.exited;
}, 120_000);

test("a second gantry on the same data dir is refused before it touches the first one's model servers", async () => {
  const g = await boot();
  await waitFor(async () => (await g.instance("kept")).status === "running", 15_000, "kept to be restored");
  const pid = (await g.instance("kept")).pid as number;

  // `npm start` run twice: another port, the same folder (it would take the first's servers for leftovers and kill them).
  const second = Bun.spawn([process.execPath, resolve(import.meta.dir, "../../core/main.ts"), "serve", "--port", String(await freePort())], {
    env: { PATH: process.env.PATH ?? "", GANTRY_DATA_DIR: dataDir, GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, ...testDatabaseEnv(dataDir) },
    stdout: "pipe", stderr: "pipe",
  });
  started.push(second);
  expect(await Promise.race([second.exited, Bun.sleep(20_000).then(() => "still running after 20 s")])).toBe(1);
  const said = await new Response(second.stderr).text();
  expect(said).toContain(`is in use (gantry serve, pid ${g.proc.pid}`);
  expect(said).not.toContain("    at "); // a message for people, no stack
  expect(await new Response(second.stdout).text()).not.toContain("killed model servers");

  expect(await g.instance("kept")).toMatchObject({ status: "running", pid, restarts: 0 });
  const chat = await g.call("/v1/chat/completions", json("POST", { model: "kept", messages: [{ role: "user", content: "hi" }] }));
  expect(chat.status).toBe(200);
  g.proc.kill("SIGTERM");
  await g.proc.exited;
}, 60_000);
