/**
 * Model servers a killed gantry (kill -9) left behind. Each server runs in its own process group
 * (its pid is the group id), recorded as `last_pid`; at start, before gantry listens, every process
 * still in such a group is killed and waited for, so none is alive when /healthz first answers.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { existsSync, readdirSync, readFileSync } from "node:fs";

/** How long start-up waits for killed leftovers to be gone (a process in uninterruptible I/O dies late). */
const REAP_WAIT_MS = 5_000;

interface ProcState {
  pid: number;
  state: string;
  pgrp: number;
}

function readStat(pid: number): ProcState | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { pid, state: state!, pgrp: Number(pgrp) };
  } catch {
    return undefined; // gone meanwhile
  }
}

function procReadable(): boolean {
  try {
    readdirSync("/proc");
    return true;
  } catch {
    return false;
  }
}

/** Running (not zombie) members of the process groups `groups`. */
function liveMembers(groups: Set<number>): ProcState[] {
  const out: ProcState[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat && stat.state !== "Z" && groups.has(stat.pgrp)) out.push(stat);
  }
  return out;
}

/**
 * Whether the group of `lastPid` is this instance's leftover. A leader still alive must show the
 * instance's port on its command line (the pid may have been reused). A leader that is gone while
 * members remain means the group id is still taken by those members, so nothing else can own it.
 */
function isLeftoverGroup(lastPid: number, port: number): boolean {
  const stat = readStat(lastPid);
  if (!stat || stat.state === "Z") return true;
  if (stat.pgrp !== lastPid || !existsSync(`/proc/${lastPid}/cmdline`)) return false;
  const cmdline = readFileSync(`/proc/${lastPid}/cmdline`, "utf8").split("\0");
  return cmdline.some((part) => part === String(port) || (part.includes("--port") && part.includes(String(port))));
}

/** Kills every leftover group of `rows` and waits (bounded) until none of their processes runs. Returns the pids killed. */
export async function reapLeftovers(rows: { lastPid: number | null; port: number }[]): Promise<number[]> {
  // Without /proc (Deno's sandbox grants it only with --allow-all) a group cannot be told from a reused pid's: kill nothing.
  if (process.platform !== "linux" || !procReadable()) return [];
  const groups = new Set(rows.filter((r) => r.lastPid && isLeftoverGroup(r.lastPid, r.port)).map((r) => r.lastPid!));
  if (groups.size === 0) return [];
  const killed = liveMembers(groups).map((m) => m.pid);
  for (const group of groups) {
    try {
      process.kill(-group, "SIGKILL");
    } catch {
      // the group is already empty
    }
  }
  const deadline = Date.now() + REAP_WAIT_MS;
  while (liveMembers(groups).length > 0 && Date.now() < deadline) await sleep(10);
  return killed;
}
