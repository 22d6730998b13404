/** POST /package: which version (named, or the model an evaluation run scored), its instance's files and serving config, written as an OCI layout artifact. */
import { redactSecrets, type EvaluationsService, type InstancesService, type PathGuard, type PluginContext } from "gantry/plugin";
import { newArtifactId, type ArtifactFiles } from "./artifacts.ts";
import { safeName } from "./compare.ts";
import { DeploymentErrors } from "./errors.ts";
import { modelFiles, writeOciLayout } from "./package-oci.ts";
import type { ArtifactRow, DeploymentStore } from "./store.ts";

interface InstanceView {
  name: string;
  backend: string;
  model_path: string;
  options: Record<string, unknown>;
  command: string[] | null;
  env: Record<string, string>;
  aliases: string[];
}

export interface PackagerDeps {
  store: DeploymentStore;
  files: ArtifactFiles;
  instances: InstancesService;
  evaluations: () => EvaluationsService | undefined;
  maxBytes: () => number;
  paths: PathGuard;
  log: PluginContext["log"];
}

export class Packager {
  constructor(private readonly d: PackagerDeps) {}

  async build(request: { version?: string; run_id?: string; model?: string }, actor: string): Promise<ArtifactRow> {
    if ((request.version === undefined) === (request.run_id === undefined)) throw DeploymentErrors.PACKAGE_SOURCE(["give either version or run_id"]);
    const annotations: Record<string, string> = {};
    let version = request.version;
    if (request.run_id !== undefined) {
      const evaluations = this.d.evaluations();
      if (!evaluations) throw DeploymentErrors.EVALUATIONS_UNAVAILABLE([]);
      const run = await evaluations.get(request.run_id);
      if (!run) throw DeploymentErrors.PACKAGE_SOURCE([`no evaluation run '${request.run_id}'`]);
      version = run.model;
      annotations["dev.gantry.evaluation.id"] = run.id;
      annotations["dev.gantry.evaluation.dataset"] = run.dataset;
      annotations["dev.gantry.evaluation.status"] = run.status;
    }
    const instance = (this.d.instances.list() as InstanceView[]).find((i) => i.name === version);
    if (!instance) throw DeploymentErrors.VERSION_NOT_FOUND([version!]);
    const found = modelFiles(this.d.paths, instance.model_path);
    const size = found.files.reduce((n, f) => n + f.size, 0);
    if (found.skipped.length > 0) this.d.log.warn({ version: instance.name, skipped: found.skipped }, "package left out entries that lead outside the model folder or into gantry's data dir");
    if (size > this.d.maxBytes()) throw DeploymentErrors.PACKAGE_SOURCE([`the model files hold ${size} bytes, over plugin.deployments.package_max_bytes (${this.d.maxBytes()})`]);
    const model = request.model ?? (await this.#servedNameOf(instance.name));
    // A package leaves gantry: nothing secret goes in, whatever the instance view already hid.
    const serving = redactSecrets({
      version: instance.name, backend: instance.backend, model_file: instance.model_path.split("/").at(-1), options: instance.options,
      command: instance.command, aliases: instance.aliases, env_names: Object.keys(instance.env), served_as: model,
    });
    const id = newArtifactId("package");
    const row = { id, fileName: `${safeName(instance.name)}.oci.tar` };
    try {
      const written = await writeOciLayout(this.d.files.path(row), { model, version: instance.name, files: found.files, serving, annotations }, this.d.paths);
      return await this.d.store.addArtifact({
        ...row, kind: "package", model, version: instance.name, mediaType: "application/x-tar", bytes: written.bytes, sha256: written.sha256,
        detail: { manifest_digest: written.manifestDigest, layers: written.layers, model_files: found.files.length, skipped: found.skipped, ...(request.run_id ? { run_id: request.run_id } : {}) },
        actor, createdAt: new Date(),
      });
    } catch (error) {
      this.d.files.discard(row);
      throw error;
    }
  }

  /** The deployment this instance is a version of, if any. */
  async #servedNameOf(version: string): Promise<string | null> {
    for (const d of await this.d.store.deployments()) if ((await this.d.store.version(d.model, version))) return d.model;
    return null;
  }
}
