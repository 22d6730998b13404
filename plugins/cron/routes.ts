/** /api/v1/cron/jobs (the cron routes and roles). */
import { t, type CoreCommandsService, type CoreIdentityService, type RolesApp } from "gantry/plugin";
import { CronErrors, type JobInput, type JobRow, type JobStore, type RunRow } from "./job-store.ts";
import { checkSchedule, type CronScheduler } from "./scheduler.ts";
import { CreateJob, Job, JobId, Run, RunQuery, RunsQuery, UpdateJob } from "./schemas.ts";

export interface CronRouteParts {
  store: JobStore;
  scheduler: CronScheduler;
  commands: CoreCommandsService;
  identity: CoreIdentityService;
  settings: () => { defaultTimeoutS: number; maxJobs: number };
  /** After a job was created, changed or deleted here (other nodes of a cluster re-arm it). */
  changed: (jobId: string) => void;
}

export function runView(run: RunRow) {
  return {
    id: run.id, job_id: run.jobId, trigger: run.trigger, actor: run.actor, status: run.status,
    started_at: run.startedAt.toISOString(), finished_at: run.finishedAt?.toISOString() ?? null, duration_ms: run.durationMs,
    scheduled_at: run.scheduledAt?.toISOString() ?? null,
    result: run.result === null ? null : JSON.parse(run.result), error: run.error,
  };
}

export function cronRoutes(p: CronRouteParts) {
  const view = async (job: JobRow) => {
    const last = await p.store.lastRun(job.id);
    return {
      id: job.id, name: job.name, schedule: job.schedule, timezone: job.timezone, command: job.command, description: job.description,
      enabled: job.enabled, timeout_s: job.timeoutS, next_run_at: p.scheduler.nextRun(job.id)?.toISOString() ?? null, running: p.scheduler.isBusy(job.id),
      last_run: last ? { id: last.id, status: last.status, started_at: last.startedAt.toISOString(), duration_ms: last.durationMs } : null,
      created_at: job.createdAt.toISOString(), updated_at: job.updatedAt.toISOString(),
    };
  };
  /** Schedule, time zone and command checked before anything is stored. */
  const check = (input: Partial<JobInput>, current?: JobRow) => {
    const schedule = input.schedule ?? current?.schedule;
    const timezone = input.timezone !== undefined ? input.timezone : current?.timezone;
    if (schedule !== undefined) checkSchedule(schedule, timezone);
    if (input.command !== undefined) {
      const parsed = p.commands.parse(input.command);
      if (!parsed) throw CronErrors.COMMAND_INVALID([input.command]);
      if (!p.commands.has(parsed.qname)) throw CronErrors.COMMAND_UNKNOWN([parsed.qname]);
    }
  };
  const actorOf = async (request: Request) => (await p.identity.identify(request))?.subject ?? "unknown";

  return (app: RolesApp) =>
    app
      .get("/jobs", async () => ({ jobs: await Promise.all((await p.store.list()).map(view)) }), { role: "viewer", response: t.Object({ jobs: t.Array(Job) }), detail: { summary: "Cron jobs with their next and last run" } })
      .post("/jobs", async ({ body, set }) => {
        if ((await p.store.count()) >= p.settings().maxJobs) throw CronErrors.TOO_MANY_JOBS([p.settings().maxJobs]);
        check(body);
        const job = await p.store.create({ ...body, enabled: body.enabled ?? true, timeout_s: body.timeout_s ?? p.settings().defaultTimeoutS });
        p.scheduler.arm(job);
        p.changed(job.id);
        set.status = 201;
        return view(job);
      }, { role: "admin", body: CreateJob, response: { 201: Job }, detail: { summary: "Create a job: a cron expression that runs a slash command" } })
      .get("/jobs/:id", async ({ params }) => view(await p.store.get(params.id)), { role: "viewer", params: JobId, response: Job, detail: { summary: "One job" } })
      .put("/jobs/:id", async ({ params, body }) => {
        check(body, await p.store.get(params.id));
        const job = await p.store.update(params.id, body);
        p.scheduler.arm(job);
        p.changed(job.id);
        return view(job);
      }, { role: "admin", params: JobId, body: UpdateJob, response: Job, detail: { summary: "Change a job (schedule, command, enabled, ...); the new schedule applies at once" } })
      .delete("/jobs/:id", async ({ params }) => {
        await p.store.delete(params.id);
        p.scheduler.disarm(params.id);
        p.changed(params.id);
        return { message: "Cron job deleted" };
      }, { role: "admin", params: JobId, response: t.Object({ message: t.String() }), detail: { summary: "Delete a job and its run history (a run in progress finishes)" } })
      .post("/jobs/:id/run", async ({ params, query, request, set }) => {
        const { run, finished } = await p.scheduler.start(params.id, "manual", await actorOf(request));
        if (query.wait !== false) return runView(await finished);
        set.status = 202; // it goes on after the response; GET .../runs shows how it ended
        return runView(run);
      }, {
        role: { min: "admin", rateLimit: "expensive" }, params: JobId, query: RunQuery, response: { 200: Run, 202: Run },
        detail: { summary: "Run a job now, whatever its schedule or enabled state; 409 JOB_RUNNING while a run is in progress" },
      })
      .get("/jobs/:id/runs", async ({ params, query }) => {
        await p.store.get(params.id);
        const runs = await p.store.runs(params.id, query.limit ?? 50, query.before_id, query.status);
        return { runs: runs.map(runView), next_before_id: runs.length === (query.limit ?? 50) ? runs.at(-1)!.id : null };
      }, {
        role: "viewer", params: JobId, query: RunsQuery,
        response: t.Object({ runs: t.Array(Run), next_before_id: t.Union([t.Integer(), t.Null()]) }),
        detail: { summary: "Run history, newest first; page with before_id" },
      });
}
