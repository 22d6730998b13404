/** llamactl's system endpoints under /api/v1/system. */
import { statfsSync } from "node:fs";
import { arch, cpus, freemem, hostname, loadavg, platform, totalmem } from "node:os";
import { t, type CoreInfoService, type RolesApp } from "gantry/plugin";
import type { InstanceManager } from "./instance-manager.ts";
import { Devices, SystemInfo } from "./schemas.ts";

/** Go's names for architectures, as llamactl reports them. */
const GO_ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", ia32: "386", arm: "arm" };

export function systemRoutes(m: InstanceManager, info: CoreInfoService) {
  return (app: RolesApp) =>
    app
      .get("/status", () => {
        const all = m.list();
        const disk = statfsSync(process.cwd());
        return {
          version: info.version,
          uptime: Math.round((Date.now() - info.startedAt.getTime()) / 1000),
          instances: { total: all.length, running: all.filter((i) => i.status === "running").length, stopped: all.filter((i) => i.status !== "running").length },
          resources: {
            // One-minute load average as a share of all cores, in percent.
            cpu_usage: Math.round((loadavg()[0]! / cpus().length) * 1000) / 10,
            memory_usage: totalmem() - freemem(),
            memory_total: totalmem(),
            disk_usage: Math.round((1 - Number(disk.bavail) / Number(disk.blocks)) * 1000) / 10,
          },
        };
      }, {
        role: "viewer",
        response: t.Object({
          version: t.String(), uptime: t.Number(),
          instances: t.Object({ total: t.Integer(), running: t.Integer(), stopped: t.Integer() }),
          resources: t.Object({ cpu_usage: t.Number(), memory_usage: t.Number(), memory_total: t.Number(), disk_usage: t.Number() }),
        }),
        detail: { summary: "Version, uptime, instance counts and machine resources" },
      })
      .get("/devices", () => ({ devices: m.devices() }), {
        role: "viewer", response: Devices,
        detail: { summary: "Device memory budgets (configured, from nvidia-smi, or the host's for cpu), what instances take there and who they are" },
      })
      .get("/info", () => ({
        hostname: hostname(), os: platform(), arch: GO_ARCH[arch()] ?? arch(), cpu_count: cpus().length, memory_total: totalmem(),
        version: info.version, build_time: null, started_at: info.startedAt.toISOString(), runtime: `bun ${info.runtime.bun}`,
      }), { role: "viewer", response: SystemInfo, detail: { summary: "Host and build information (build_time is null: gantry ships as source)" } });
}
