import { describe, expect, test } from "bun:test";
import pino from "pino";
import { PeriodicTask, taskHealth } from "../../core/kernel/periodic-tasks.ts";
import { waitFor } from "../helpers.ts";

const log = pino({ level: "silent" });

describe("PeriodicTask", () => {
  test("runs on its interval and keeps seed 003's statistics", async () => {
    let n = 0;
    const task = new PeriodicTask("counter", "test", { interval: 0.02, level: "critical", initWait: 0 }, () => {
      n++;
      if (n === 2) throw new Error("second run fails");
      return `run ${n}`;
    }, log);
    task.start();
    await waitFor(() => task.snapshot().total_runs >= 4, 2000, "4 runs");
    await task.stop();
    const s = task.snapshot();
    expect(s).toMatchObject({ name: "counter", plugin: "test", level: "critical", interval: 0.02, init_wait: 0, is_running: false, failed_runs: 1 });
    expect(s.success_rate).toBeCloseTo((s.total_runs - 1) / s.total_runs, 2);
    expect(s.last_summary).toMatch(/^run \d+$/);
    expect(typeof s.last_run_time).toBe("string");
    expect(s.last_run_ago).toBeGreaterThanOrEqual(0);
  });

  test("a task that stops running turns health unhealthy within 3x its interval", async () => {
    let hang = false;
    const task = new PeriodicTask("heartbeat", "test", { interval: 0.05, level: "critical", initWait: 0 }, async () => {
      if (hang) await new Promise(() => {});
    }, log);
    const low = new PeriodicTask("janitor", "test", { interval: 0.05, level: "low", initWait: 0 }, () => new Promise(() => {}), log);
    task.start();
    low.start();
    await waitFor(() => task.snapshot().total_runs >= 2, 2000, "runs");
    expect(taskHealth([task, low])).toEqual({ healthy: true, unhealthy_count: 0, unhealthy_threads: [] });
    hang = true;
    await waitFor(() => !taskHealth([task, low]).healthy, 5000, "the hung task to turn health unhealthy");
    // The rule on the clock of the last finished run (the hung run never finishes, so it stays put):
    // active up to 3 intervals after it, unhealthy the millisecond after.
    const lastRun = Date.parse(task.snapshot().last_run_time!);
    expect(taskHealth([task, low], lastRun + 3 * 50).healthy).toBe(true);
    expect(taskHealth([task, low], lastRun + 3 * 50 + 1).healthy).toBe(false);
    const health = taskHealth([task, low]);
    expect(health.unhealthy_count).toBe(1);
    expect(health.unhealthy_threads[0]).toMatchObject({ name: "heartbeat", level: "critical", interval: 0.05 });
    expect(health.unhealthy_threads[0]!.last_run_ago).toBeGreaterThan(0.1);
  });

  test("before its first run a task is active within initWait + 3x interval", () => {
    const task = new PeriodicTask("late", "test", { interval: 1, initWait: 10 }, () => undefined, log);
    const t0 = 1_000_000;
    task.start(t0);
    expect(task.isActive(t0 + 12_000)).toBe(true);
    expect(task.isActive(t0 + 13_001)).toBe(false);
    void task.stop();
  });

  test("a stopped task is neither running nor active, and stop waits for the run in flight", async () => {
    let finished = false;
    const task = new PeriodicTask("slow", "test", { interval: 10, initWait: 0 }, async () => {
      await Bun.sleep(50);
      finished = true;
    }, log);
    task.start();
    await Bun.sleep(5);
    await task.stop();
    expect(finished).toBe(true);
    expect(task.snapshot().is_running).toBe(false);
    expect(task.isActive()).toBe(false);
  });

  test("a task with nothing to do sleeps (no runs, still healthy) until woken or until the time it asked for", async () => {
    let work = 0;
    const task: PeriodicTask = new PeriodicTask("queue", "test", { interval: 0.01, level: "high", initWait: 0 }, () => {
      if (work === 0) return void task.sleepUntil(null);
      work--;
      if (work === 0) task.sleepUntil(Date.now() + 200);
    }, log);
    task.start();
    await waitFor(() => task.snapshot().is_sleeping, 1000, "sleep");
    const runs = task.snapshot().total_runs;
    await Bun.sleep(100); // ten intervals
    expect(task.snapshot().total_runs).toBe(runs);
    expect(taskHealth([task]).healthy).toBe(true);
    expect(task.snapshot()).toMatchObject({ is_active: true, is_sleeping: true });
    work = 3;
    task.wake();
    await waitFor(() => work === 0 && task.snapshot().is_sleeping, 1000, "the work done");
    const done = task.snapshot().total_runs;
    expect(done).toBe(runs + 3);
    // It asked to look again 200 ms later: one more run then, and asleep again.
    await waitFor(() => task.snapshot().total_runs === done + 1, 2000, "the timed run");
    await task.stop();
    expect(task.snapshot()).toMatchObject({ is_active: false });
  });

  test("a sleep longer than a timer can hold (keep_alive of months) does not fire at once, again and again", async () => {
    const task: PeriodicTask = new PeriodicTask("watch", "test", { interval: 0.01, level: "high", initWait: 0 }, () => void task.sleepUntil(Date.now() + 90 * 86_400_000), log);
    task.start();
    await waitFor(() => task.snapshot().total_runs >= 1, 1000, "the first run");
    await Bun.sleep(100);
    expect(task.snapshot().total_runs).toBe(1);
    task.wake();
    await waitFor(() => task.snapshot().total_runs === 2, 1000, "the woken run");
    await task.stop();
  });

  test("rejects a non-positive interval", () => {
    expect(() => new PeriodicTask("bad", "test", { interval: 0 }, () => undefined, log)).toThrow(/interval/);
  });
});
