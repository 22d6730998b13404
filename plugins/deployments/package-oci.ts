/**
 * A version as an OCI image layout in one tar (`oci-layout`, `index.json`, `blobs/sha256/…`): one
 * layer with the model files under `models/`, one with the serving config at `gantry/serving.json`,
 * an image config whose `rootfs.diff_ids` are the layers' digests, and the manifest the index
 * names. Tar entries carry a fixed time, so the same files give the same digests.
 */
import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { PathErrors, type PathGuard, type RefusedEntry } from "gantry/plugin";
import type { Pack } from "tar-stream";

export const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar",
} as const;

/** What goes into the image: the model files found at `modelPath`, and the serving config. */
export interface PackageSource {
  model: string | null;
  version: string;
  /** What modelFiles found (each read again through the path guard when packed). */
  files: ModelFile[];
  serving: Record<string, unknown>;
  /** Extra manifest annotations (where the package came from). */
  annotations: Record<string, string>;
}

interface Blob {
  digest: string;
  size: number;
  /** A file written beside the output, or the bytes themselves. */
  file?: string;
  bytes?: Uint8Array;
}

/** A model file: `name` below the model folder, `real` its real path inside `root`. */
export interface ModelFile {
  path: string;
  name: string;
  size: number;
  real: string;
  root: string;
}

const MODEL_FOLDER = "the instance's model folder";
const EPOCH = new Date(0);

/**
 * The files of a model: the file at `path`, or every regular file under it (links followed only
 * while they stay inside the folder; the others are listed in `skipped`); none when nothing is on
 * disk there. A path into gantry's data dir (outside a models folder there) is PATH_OUTSIDE_ROOT.
 */
export function modelFiles(paths: PathGuard, path: string): { files: ModelFile[]; skipped: RefusedEntry[] } {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat?.isFile()) {
    const real = paths.resolveFile(path, MODEL_FOLDER);
    return { files: [{ path, name: basename(path), size: statSync(real).size, real, root: dirname(real) }], skipped: [] };
  }
  if (!stat?.isDirectory()) return { files: [], skipped: [] };
  const { files, refused } = paths.walk(path);
  const whole = refused.find((r) => r.path === ".");
  if (whole) throw PathErrors.PATH_OUTSIDE_ROOT([path, whole.reason, MODEL_FOLDER]);
  const root = paths.real(path);
  return { files: files.map((f) => ({ path: join(path, f.path), name: f.path, size: f.size, real: f.real, root })), skipped: refused };
}

/** Writes the layout tar to `out`; answers the manifest's digest and the tar's size and sha256. */
export async function writeOciLayout(out: string, source: PackageSource, paths: PathGuard): Promise<{ manifestDigest: string; bytes: number; sha256: string; layers: number }> {
  const files = source.files;
  const temporary: string[] = [];
  try {
    const modelLayer = await writeTar(`${out}.models.tmp`, files.map((f) => ({ name: `models/${f.name}`, size: f.size, file: f.real, open: () => paths.openInside(f.root, f.real, MODEL_FOLDER) })));
    temporary.push(modelLayer.file!);
    const servingJson = new TextEncoder().encode(JSON.stringify(source.serving, null, 2));
    const servingLayer = await writeTar(`${out}.serving.tmp`, [{ name: "gantry/serving.json", size: servingJson.byteLength, bytes: servingJson }]);
    temporary.push(servingLayer.file!);
    const created = new Date().toISOString();
    const labels = { "org.opencontainers.image.title": source.version, ...(source.model ? { "dev.gantry.deployment": source.model } : {}) };
    const config = json({
      created, architecture: process.arch === "arm64" ? "arm64" : "amd64", os: "linux",
      config: { Labels: labels },
      rootfs: { type: "layers", diff_ids: [modelLayer.digest, servingLayer.digest] },
      history: [{ created, created_by: "gantry deployments: model files" }, { created, created_by: "gantry deployments: serving config" }],
    });
    const manifest = json({
      schemaVersion: 2, mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: config.digest, size: config.size },
      layers: [
        { mediaType: MEDIA.layer, digest: modelLayer.digest, size: modelLayer.size, annotations: { "org.opencontainers.image.title": "models", "dev.gantry.files": String(files.length) } },
        { mediaType: MEDIA.layer, digest: servingLayer.digest, size: servingLayer.size, annotations: { "org.opencontainers.image.title": "serving-config" } },
      ],
      annotations: { "org.opencontainers.image.created": created, "org.opencontainers.image.ref.name": source.version, ...labels, ...source.annotations },
    });
    const index = json({
      schemaVersion: 2, mediaType: MEDIA.index,
      manifests: [{ mediaType: MEDIA.manifest, digest: manifest.digest, size: manifest.size, annotations: { "org.opencontainers.image.ref.name": source.version } }],
    });
    const layout = json({ imageLayoutVersion: "1.0.0" });
    const blobs = [config, manifest, modelLayer, servingLayer];
    const whole = await writeTar(out, [
      { name: "oci-layout", size: layout.size, bytes: layout.bytes },
      { name: "index.json", size: index.size, bytes: index.bytes },
      ...blobs.map((b) => ({ name: `blobs/sha256/${b.digest.slice(7)}`, size: b.size, file: b.file, bytes: b.bytes })),
    ]);
    return { manifestDigest: manifest.digest, bytes: whole.size, sha256: whole.digest.slice(7), layers: 2 };
  } finally {
    for (const file of temporary) await rm(file, { force: true });
  }
}

function json(value: unknown): Blob {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  return { digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}`, size: bytes.byteLength, bytes };
}

interface Entry {
  name: string;
  size: number;
  file?: string;
  bytes?: Uint8Array;
  /** Opens `file` through the path guard (model files: a link swapped in since the walk is refused). */
  open?: () => number;
}

/** Writes a tar of `entries` to `path` while hashing it. */
async function writeTar(path: string, entries: Entry[]): Promise<Blob> {
  const { pack } = await import("tar-stream"); // loaded on the first package, not at start
  const tar = pack();
  const hash = createHash("sha256");
  let size = 0;
  const handle = await open(path, "w");
  const written = (async () => {
    for await (const chunk of tar as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.byteLength;
      await handle.write(chunk);
    }
  })();
  try {
    for (const entry of entries) await addEntry(tar, entry);
    tar.finalize();
    await written;
  } finally {
    await handle.close();
  }
  return { digest: `sha256:${hash.digest("hex")}`, size, file: path };
}

function addEntry(tar: Pack, entry: Entry): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = tar.entry({ name: entry.name, size: entry.size, mode: 0o644, mtime: EPOCH, type: "file" }, (error) => (error ? reject(error) : resolve()));
    if (entry.bytes) return void sink.end(entry.bytes);
    let source;
    try {
      source = entry.open ? createReadStream("", { fd: entry.open() }) : createReadStream(entry.file!);
    } catch (error) {
      return reject(error);
    }
    source.on("error", reject);
    source.on("data", (chunk) => {
      if (!sink.write(chunk as Buffer)) {
        source.pause();
        sink.once("drain", () => source.resume());
      }
    });
    source.on("end", () => sink.end(new Uint8Array(0)));
  });
}
