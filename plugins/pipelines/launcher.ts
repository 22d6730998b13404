/** Starting, resuming and cancelling runs: shared by the HTTP routes and the slash commands. */
import type { PipelineEngine } from "./engine.ts";
import type { PipelineStore, RunRow, RunStarter } from "./store.ts";
import type { Loaded, Template } from "./templates.ts";
import { PipelineErrors, runView } from "./views.ts";

export class PipelineLauncher {
  constructor(private readonly engine: PipelineEngine, private readonly store: PipelineStore, private readonly templates: () => Promise<Map<string, Loaded>>) {}

  /** The valid template `name`; 404 when unknown, 400 with its problems when invalid. */
  async template(name: string): Promise<Template> {
    const loaded = (await this.templates()).get(name);
    if (!loaded) throw PipelineErrors.PIPELINE_TEMPLATE_NOT_FOUND([name]);
    if (!loaded.template) throw PipelineErrors.PIPELINE_TEMPLATE_INVALID([name, loaded.problems.length], { details: { problems: loaded.problems, source: loaded.source } });
    return loaded.template;
  }

  async start(name: string, given: Record<string, unknown>, starter: RunStarter): Promise<RunRow> {
    const template = await this.template(name);
    const declared = Object.keys(template.inputs);
    const problems: string[] = [];
    if (declared.length > 0) for (const key of Object.keys(given)) if (!declared.includes(key)) problems.push(`'${key}' is not an input of '${name}' (${declared.join(", ")})`);
    const inputs: Record<string, unknown> = {};
    for (const key of declared) {
      const value = given[key] ?? template.inputs[key];
      if (value === null || value === undefined) problems.push(`'${key}' is required`);
      inputs[key] = value;
    }
    if (problems.length > 0) throw PipelineErrors.PIPELINE_INPUTS_INVALID([problems]);
    return this.engine.start(template, declared.length > 0 ? inputs : given, starter);
  }

  async find(id: string): Promise<RunRow> {
    const run = await this.store.run(id);
    if (!run) throw PipelineErrors.PIPELINE_NOT_FOUND([id]);
    return run;
  }

  async view(id: string) {
    return runView(await this.find(id), await this.store.phases(id));
  }

  async cancel(id: string, actor: string) {
    const run = await this.find(id);
    if (run.state === "interrupted") {
      await this.store.setState(id, "cancelled", ["interrupted"], { finishedAt: new Date() });
      await this.engine.journal(id, "run_cancelled", null, { by: actor });
    } else if (run.state !== "running") throw PipelineErrors.PIPELINE_FINISHED([id, run.state]);
    else {
      await this.engine.journal(id, "cancel_requested", null, { by: actor });
      await this.engine.cancel(id);
    }
    return this.view(id);
  }

  /** Continues from the last completed phase: phases that did not complete run again, completed ones never. */
  async resume(id: string, actor: string) {
    const run = await this.find(id);
    // A run just recorded as failed or cancelled may still be winding down here: wait for that, briefly.
    if (run.state !== "running") await this.engine.settled(id, 5000);
    if (!["interrupted", "failed", "cancelled"].includes(run.state) || this.engine.isActive(id)) throw PipelineErrors.PIPELINE_NOT_RESUMABLE([id, this.engine.isActive(id) ? "running" : run.state]);
    if (!(await this.store.setState(id, "running", ["interrupted", "failed", "cancelled"], { cancelRequested: false, error: null, finishedAt: null }))) throw PipelineErrors.PIPELINE_NOT_RESUMABLE([id, "running"]);
    await this.store.requeuePhases(id);
    await this.engine.journal(id, "run_resumed", null, { by: actor, was: run.state });
    this.engine.drive(id);
    return this.view(id);
  }
}
