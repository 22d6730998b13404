/**
 * Where an instance may start, and what must stop first: device memory budgets, group rules
 * (llama-swap's `swap`, `exclusive`, `persistent`, plus a per-group `max_running`) and the
 * instance count `max_running`. Starts that take part are serialized, so two never claim the same
 * room. Victims are the least recently used idle ones, busy ones only when those do not make room; a pinned instance (or the default model) is never one,
 * and a busy one (requests in flight, queued or waiting for it) is stopped only once its requests
 * are done, waited for up to `eviction_wait_s`. Kept across reloads with the fleet.
 */
import { createError, defineErrors } from "gantry/plugin";
import { estimateMemoryMib, type DeviceBudget } from "./devices.ts";
import type { InstanceSupervisor } from "./supervisor.ts";

export const PlacementErrors = defineErrors("instances", {
  NO_ROOM: createError("NO_ROOM", 409, (name: string, why: string) => `Instance '${name}' cannot start: ${why}`),
  UNKNOWN_DEVICE: createError("UNKNOWN_DEVICE", 409, (name: string, device: string, known: string) => `Instance '${name}' is placed on device '${device}', which gantry does not know (known: ${known}); add [plugin.instances.devices.${device}]`),
});

/** A group's rules, as llama-swap's `groups:` has them. */
export interface GroupRule {
  /** Only one member runs at a time: starting one stops the others. */
  swap: boolean;
  /** Starting a member stops the members of every other group that is not persistent. */
  exclusive: boolean;
  /** Other groups' exclusive starts never stop this group's members. */
  persistent: boolean;
  /** Members running at once (0 = no limit; `swap` means 1). */
  max_running: number;
  /** Instance names that belong to the group besides those whose `group` names it. */
  members: string[];
}

export interface PlacementSettings {
  devices: Map<string, DeviceBudget>;
  groups: Record<string, GroupRule>;
  /** Instances running at once (0 = no limit). */
  maxRunning: number;
  /** How long an eviction waits for a busy victim's requests to finish. */
  evictionWaitMs: number;
  /** Loaded-first: how long a swap lets the loaded model finish what keeps arriving before it drains it. */
  swapWaitMs: number;
  /** Serve the loaded model's requests before swapping it out (false: drain at once, in arrival order). */
  loadedFirst: boolean;
  /** The default model: kept loaded like a pinned one. */
  defaultModel: string | null;
}

const ACTIVE = new Set(["starting", "running", "stopping"]);
/** Loaded-first: a model idle this long is done for now (its clients are not just between two requests). */
const QUIET_MS = 500;
const lastActive = (s: InstanceSupervisor) => Math.max(s.lastUsedAt, s.startedAt?.getTime() ?? 0);
const byLeastRecent = (a: InstanceSupervisor, b: InstanceSupervisor) => lastActive(a) - lastActive(b);

/** An instance's place: the device and the MiB it takes there (declared, else estimated), or null when it declares neither. */
export function placeOf(s: InstanceSupervisor, devices: Map<string, DeviceBudget>): { device: string; mib: number; estimated: boolean } | null {
  const d = s.definition;
  if (d.device === null && d.memoryMib === null) return null;
  const device = d.device ?? (devices.has("gpu0") ? "gpu0" : "cpu");
  if (d.memoryMib !== null) return { device, mib: d.memoryMib, estimated: false };
  s.estimatedMib ??= estimateMemoryMib(d.modelPath, d.options).mib; // reset when the definition changes
  return { device, mib: s.estimatedMib, estimated: true };
}

export class Placement {
  #lock: Promise<void> = Promise.resolve();

  constructor(private readonly supervisors: Map<string, InstanceSupervisor>) {}

  /** The group `s` belongs to: its own `group`, else a configured group that lists it. */
  groupOf(s: InstanceSupervisor, groups: Record<string, GroupRule>): string | null {
    if (s.definition.group) return s.definition.group;
    for (const [name, rule] of Object.entries(groups)) if (rule.members?.includes(s.definition.name)) return name;
    return null;
  }

  /** Never a victim: pinned, or the default model. */
  protected(s: InstanceSupervisor, settings: PlacementSettings): boolean {
    return s.definition.pinned || s.definition.name === settings.defaultModel;
  }

  /** Starts `s` after making room; concurrent starts that take part wait for each other. */
  async start(s: InstanceSupervisor, settings: PlacementSettings, log: (fields: object, message: string) => void): Promise<void> {
    if (!this.#takesPart(s, settings)) return s.start();
    const previous = this.#lock;
    let release!: () => void;
    this.#lock = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      if (s.status === "running") return;
      const victims = this.plan(s, settings);
      if (victims.length > 0) log({ instance: s.definition.name, evicting: victims.map((v) => v.definition.name) }, "making room: stopping the least recently used instances");
      await Promise.all(victims.map((v) => this.#evict(v, s, settings)));
      await s.start();
    } finally {
      release();
    }
  }

  /** What must stop for `s` to start, least recently used first; throws NO_ROOM when a pinned instance would have to. */
  plan(s: InstanceSupervisor, settings: PlacementSettings): InstanceSupervisor[] {
    // Idle ones first, each kind least recently used first: a busy instance is a victim only when idle ones do not make room.
    const others = [...this.supervisors.values()].filter((o) => o !== s && ACTIVE.has(o.status)).sort((a, b) => Number(a.gate.busy) - Number(b.gate.busy) || byLeastRecent(a, b));
    const stop = new Set<InstanceSupervisor>();
    const reasons: string[] = [];
    this.#groupRules(s, others, settings, stop);
    const place = placeOf(s, settings.devices);
    if (place) {
      const budget = settings.devices.get(place.device);
      if (!budget) throw PlacementErrors.UNKNOWN_DEVICE([s.definition.name, place.device, [...settings.devices.keys()].join(", ")]);
      if (place.mib > budget.totalMib) throw PlacementErrors.NO_ROOM([s.definition.name, `it needs ${place.mib} MiB and ${place.device} has ${budget.totalMib} MiB in all`]);
      const residents = others.filter((o) => placeOf(o, settings.devices)?.device === place.device);
      let used = residents.filter((o) => !stop.has(o)).reduce((sum, o) => sum + placeOf(o, settings.devices)!.mib, 0);
      for (const o of residents) {
        if (used + place.mib <= budget.totalMib) break;
        if (stop.has(o) || this.protected(o, settings)) continue;
        stop.add(o);
        used -= placeOf(o, settings.devices)!.mib;
      }
      if (used + place.mib > budget.totalMib) {
        const pinned = residents.filter((o) => !stop.has(o) && this.protected(o, settings)).map((o) => `'${o.definition.name}'`);
        reasons.push(`it needs ${place.mib} MiB on ${place.device} (${budget.totalMib} MiB in all); room would need stopping ${pinned.join(", ")}, which ${pinned.length === 1 ? "is" : "are"} pinned`);
      }
    }
    if (settings.maxRunning > 0) {
      const remaining = others.filter((o) => !stop.has(o));
      for (const o of remaining) {
        if (remaining.filter((r) => !stop.has(r)).length < settings.maxRunning) break;
        if (!this.protected(o, settings)) stop.add(o);
      }
      if (remaining.filter((r) => !stop.has(r)).length >= settings.maxRunning) reasons.push(`${settings.maxRunning} instances are running (plugin.instances.max_running) and the others are pinned`);
    }
    const pinnedVictims = [...stop].filter((o) => this.protected(o, settings)).map((o) => `'${o.definition.name}'`);
    if (pinnedVictims.length > 0) reasons.push(`its group rules would stop ${pinnedVictims.join(", ")}, which ${pinnedVictims.length === 1 ? "is" : "are"} pinned`);
    if (reasons.length > 0) throw PlacementErrors.NO_ROOM([s.definition.name, reasons.join("; ")]);
    return [...stop];
  }

  /** Group rules: `swap` and a group's max_running stop mates; `exclusive` stops other groups' members unless persistent. */
  #groupRules(s: InstanceSupervisor, others: InstanceSupervisor[], settings: PlacementSettings, stop: Set<InstanceSupervisor>): void {
    const group = this.groupOf(s, settings.groups);
    const rule = group ? settings.groups[group] : undefined;
    if (!group || !rule) return;
    const mates = others.filter((o) => this.groupOf(o, settings.groups) === group);
    const limit = rule.swap ? 1 : rule.max_running;
    if (limit > 0) for (const o of mates.slice(0, Math.max(0, mates.length - limit + 1))) stop.add(o);
    if (!rule.exclusive) return;
    for (const o of others) {
      const theirs = this.groupOf(o, settings.groups);
      if (theirs && theirs !== group && !settings.groups[theirs]?.persistent) stop.add(o);
    }
  }

  #takesPart(s: InstanceSupervisor, settings: PlacementSettings): boolean {
    return settings.maxRunning > 0 || s.definition.device !== null || s.definition.memoryMib !== null || this.groupOf(s, settings.groups) !== null;
  }

  /**
   * Stops a victim once it is idle. Loaded-first: while it still has requests (or had one in the
   * last 500 ms), it keeps serving them for up to `swapWaitMs`; then (or at once without loaded-first) it drains: new requests
   * for it wait, and those it has finish, for up to `evictionWaitMs`, else the start is refused.
   */
  async #evict(v: InstanceSupervisor, forWhom: InstanceSupervisor, settings: PlacementSettings): Promise<void> {
    if (settings.loadedFirst) await v.gate.whenQuiet(QUIET_MS, settings.swapWaitMs);
    v.gate.draining = true;
    try {
      if (v.gate.busy && !(await v.gate.whenIdle(settings.evictionWaitMs))) {
        const g = v.gate;
        throw PlacementErrors.NO_ROOM([forWhom.definition.name, `room needs stopping '${v.definition.name}', still busy (${g.inFlight} in flight, ${g.queued} queued) after ${Math.round(settings.evictionWaitMs / 1000)} s (plugin.instances.eviction_wait_s)`]);
      }
      await v.stop();
    } finally {
      v.gate.endDrain();
    }
  }
}
