/** Memory and CPU of model servers from /proc: the whole process group, since servers fork workers. */
import { readdirSync, readFileSync } from "node:fs";

const PAGE_BYTES = 4096;
const TICKS_PER_SECOND = 100;

export interface GroupUsage {
  /** Resident memory of every process in the group, bytes. */
  memory_usage: number;
  /** User + system CPU time of every live process in the group, seconds. */
  cpu_seconds: number;
  processes: number;
}

/** Usage per process group id, in one pass over /proc. */
export function usageByProcessGroup(): Map<number, GroupUsage> {
  const groups = new Map<number, GroupUsage>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return groups; // not readable (Deno's sandbox grants /proc only with --allow-all): no figures
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue; // pids only
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // Fields after "(comm) ": state ppid pgrp ... utime(11) stime(12) ... rss(21)
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const group = Number(fields[2]);
    const usage = groups.get(group) ?? { memory_usage: 0, cpu_seconds: 0, processes: 0 };
    usage.memory_usage += Number(fields[21]) * PAGE_BYTES;
    usage.cpu_seconds += (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    usage.processes++;
    groups.set(group, usage);
  }
  return groups;
}

/** CPU usage in percent of one core (as `top` shows it) between readings at least a second apart. */
export class CpuMeter {
  #last: { pid: number; at: number; seconds: number } | undefined;
  #percent = 0;

  /** `since`: when the process started, for a first reading that has nothing to compare with. */
  read(pid: number, cpuSeconds: number, since: number, now = Date.now()): number {
    const last = this.#last;
    if (!last || last.pid !== pid) {
      this.#percent = now > since ? (cpuSeconds / ((now - since) / 1000)) * 100 : 0;
      this.#last = { pid, at: now, seconds: cpuSeconds };
    } else if (now - last.at >= 1000) {
      this.#percent = ((cpuSeconds - last.seconds) / ((now - last.at) / 1000)) * 100;
      this.#last = { pid, at: now, seconds: cpuSeconds };
    }
    return Math.max(0, Math.round(this.#percent * 10) / 10);
  }
}
