import { expect, test } from "bun:test";
import { CpuMeter, usageByProcessGroup } from "../../plugins/instances/process-stats.ts";

test("CPU usage is the share of one core between readings a second or more apart", () => {
  const meter = new CpuMeter();
  const t0 = 1_000_000;
  expect(meter.read(10, 0.5, t0 - 2000, t0)).toBe(25); // first reading: since the process started
  expect(meter.read(10, 0.9, t0 - 2000, t0 + 500)).toBe(25); // under a second later: unchanged
  expect(meter.read(10, 2.0, t0 - 2000, t0 + 2000)).toBe(75); // 1.5 s of CPU in 2 s
  expect(meter.read(11, 0, t0 + 2000, t0 + 2000)).toBe(0); // a new process starts over
});

test("usage is summed per process group", async () => {
  const child = Bun.spawn([process.execPath, "-e", "console.log('up'); setInterval(() => {}, 1000)"], { detached: true, stdout: "pipe" });
  try {
    await child.stdout.getReader().read(); // running, not still being spawned
    const group = usageByProcessGroup().get(child.pid);
    expect(group?.processes).toBe(1); // detached: a group of its own
    expect(group!.memory_usage).toBeGreaterThan(1 << 20);
  } finally {
    child.kill("SIGKILL");
  }
});
