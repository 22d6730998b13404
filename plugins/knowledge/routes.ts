/** /api/v1/knowledge: search (viewer); collections and documents (viewer to read, operator to change). */
import { statSync } from "node:fs";
import { Nullable, t, type PathGuard, type PluginContext, type RolesApp } from "gantry/plugin";
import { contentTypeOf } from "./extract.ts";
import type { Filter, Knowledge } from "./knowledge.ts";
import { KnowledgeErrors, type CollectionRow, type DocumentRow, type KnowledgeStore } from "./store.ts";

export interface KnowledgeRouteParts {
  knowledge: Knowledge;
  store: KnowledgeStore;
  settings: () => { defaultModel: string; roots: string[]; maxUploadBytes: number };
  paths: PathGuard;
  log: PluginContext["log"];
}

const ROOTS = "plugin.knowledge.roots";

const NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";
const CollectionName = t.Object({ name: t.String({ pattern: NAME_PATTERN }) });
const FilterValue = t.Union([t.String(), t.Number(), t.Boolean()]);
const CollectionView = t.Object({
  name: t.String(), description: Nullable(t.String()), embedding_model: Nullable(t.String()), dimensions: Nullable(t.Integer()),
  documents: t.Integer(), created_at: t.String(),
});
const DocumentView = t.Object({
  id: t.String(), source: t.String(), content_type: t.String(), sha256: t.String(), size_bytes: t.Integer(), chunks: t.Integer(),
  metadata: t.Record(t.String(), FilterValue), created_at: t.String(), updated_at: t.String(),
});
const IngestResult = t.Object({ document_id: t.String(), source: t.String(), status: t.Union([t.Literal("created"), t.Literal("replaced"), t.Literal("unchanged")]), chunks: t.Integer() });
const SkippedEntry = t.Object({
  path: t.String({ description: "below the ingested folder" }),
  reason: t.String({ description: "outside_root (a link leading out of the roots), data_dir, broken_link, not_a_file, unreadable, too_large" }),
});
const Hit = t.Object({
  chunk_id: t.Integer(), collection: t.String(), document_id: t.String(), source: t.String(),
  position: t.Object({ chunk: t.Integer({ description: "index of the chunk in its document" }), start: t.Integer(), end: t.Integer({ description: "character offsets in the extracted text" }) }),
  text: t.String(), score: t.Number(), vector_score: Nullable(t.Number()), lexical_score: Nullable(t.Number()), metadata: t.Record(t.String(), FilterValue),
});
const SearchBody = t.Object({
  query: t.String({ minLength: 1, maxLength: 4000 }),
  collection: t.Optional(t.String({ pattern: NAME_PATTERN, description: "default: every collection" })),
  top_k: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 5 })),
  filter: t.Optional(t.Record(t.String(), FilterValue, { description: "source (exact, or a prefix ending in *) and metadata keys, all must match" })),
  mode: t.Optional(t.Union([t.Literal("hybrid"), t.Literal("vector"), t.Literal("lexical")], { description: "default hybrid when the collection has an embedding model, else lexical" })),
});

const documentView = (d: DocumentRow) => ({
  id: d.id, source: d.source, content_type: d.contentType, sha256: d.sha256, size_bytes: d.sizeBytes, chunks: d.chunks, metadata: d.metadata,
  created_at: d.createdAt.toISOString(), updated_at: d.updatedAt.toISOString(),
});

export function knowledgeRoutes(p: KnowledgeRouteParts) {
  const collectionView = async (c: CollectionRow) => ({
    name: c.name, description: c.description, embedding_model: c.embeddingModel, dimensions: c.dimensions,
    documents: (await p.store.documents(c.id)).length, created_at: c.createdAt.toISOString(),
  });
  /** A folder given to ingest: its real path must lie under one of the configured roots, outside gantry's data dir. */
  const allowedFolder = (path: string): { real: string; root: string } => {
    const found = p.paths.resolve(p.settings().roots, path, { where: ROOTS });
    if (!statSync(found.real).isDirectory()) throw KnowledgeErrors.KNOWLEDGE_FOLDER_NOT_ALLOWED([path]);
    return found;
  };
  return (app: RolesApp) =>
    app
      .post("/search", async ({ body }) => {
        const collections = body.collection ? [await p.store.collection(body.collection)] : await p.store.collections();
        // Every collection is listed: the index lets go of those deleted (through any node).
        if (!body.collection) await p.knowledge.prune(collections);
        return p.knowledge.search({ query: body.query, collections, topK: body.top_k ?? 5, filter: body.filter as Filter | undefined, mode: body.mode });
      }, {
        role: "viewer", body: SearchBody,
        response: t.Object({ mode: t.Union([t.Literal("hybrid"), t.Literal("vector"), t.Literal("lexical")]), results: t.Array(Hit) }),
        detail: { summary: "Search knowledge: chunks ranked by vector similarity and BM25 together, best first, with source and position" },
      })
      .get("/collections", async () => ({ collections: await Promise.all((await p.store.collections()).map(collectionView)) }), {
        role: "viewer", response: t.Object({ collections: t.Array(CollectionView) }), detail: { summary: "Knowledge collections" },
      })
      .post("/collections", async ({ body, set }) => {
        const model = body.embedding_model === undefined ? p.settings().defaultModel || null : body.embedding_model;
        const row = await p.store.createCollection(body.name, body.description ?? null, model);
        set.status = 201;
        return collectionView(row);
      }, {
        role: "operator",
        body: t.Object({
          name: t.String({ pattern: NAME_PATTERN }), description: t.Optional(t.String({ maxLength: 2000 })),
          embedding_model: t.Optional(Nullable(t.String({ minLength: 1, maxLength: 64, description: "an instance serving /v1/embeddings; default plugin.knowledge.embedding_model; null for full text only" }))),
        }),
        response: { 201: CollectionView }, detail: { summary: "Create a collection" },
      })
      .delete("/collections/:name", async ({ params }) => {
        await p.knowledge.deleteCollection(await p.store.collection(params.name));
        return { message: `Collection '${params.name}' deleted` };
      }, { role: "operator", params: CollectionName, response: t.Object({ message: t.String() }), detail: { summary: "Delete a collection with its documents" } })
      .get("/collections/:name/documents", async ({ params }) => ({ documents: (await p.store.documents((await p.store.collection(params.name)).id)).map(documentView) }), {
        role: "viewer", params: CollectionName, response: t.Object({ documents: t.Array(DocumentView) }), detail: { summary: "A collection's documents" },
      })
      .post("/collections/:name/documents", async ({ params, body, set }) => {
        const collection = await p.store.collection(params.name);
        const files = Array.isArray(body.file) ? body.file : [body.file];
        const metadata = (body.metadata ?? {}) as Filter;
        const results = [];
        for (const file of files) {
          const name = file.name || "document";
          const type = contentTypeOf(name);
          if (!type) throw KnowledgeErrors.KNOWLEDGE_DOCUMENT_TYPE_UNKNOWN([name]);
          if (file.size > p.settings().maxUploadBytes) throw KnowledgeErrors.KNOWLEDGE_DOCUMENT_TOO_LARGE([name, file.size, p.settings().maxUploadBytes]);
          results.push(await p.knowledge.ingest(collection, name, new Uint8Array(await file.arrayBuffer()), type, metadata));
        }
        set.status = 201;
        return { documents: results };
      }, {
        role: { min: "operator", rateLimit: "expensive" }, params: CollectionName,
        body: t.Object({
          file: t.Union([t.File(), t.Files()], { description: "one or more .txt, .md, .html or .pdf files; the file name is the document's source" }),
          metadata: t.Optional(t.Record(t.String(), FilterValue, { description: "a JSON object of strings, numbers and booleans (sent as a JSON text field), for filters" })),
        }),
        response: { 201: t.Object({ documents: t.Array(IngestResult) }) },
        detail: { summary: "Upload documents (multipart); a source uploaded again with changed bytes replaces its chunks" },
      })
      .post("/collections/:name/ingest", async ({ params, body }) => {
        const collection = await p.store.collection(params.name);
        const folder = allowedFolder(body.path);
        const results = [];
        // Links are followed only while they stay in the folder; the rest is skipped and reported.
        const { files, refused } = p.paths.walk(folder.real, { within: folder.root, wants: (path) => contentTypeOf(path) !== undefined });
        const skipped: { path: string; reason: string }[] = [...refused];
        if (refused.length > 0) p.log.warn({ folder: body.path, refused }, "knowledge ingest skipped entries that lead outside the folder");
        for (const file of files) {
          if (file.size > p.settings().maxUploadBytes) {
            skipped.push({ path: file.path, reason: "too_large" });
            continue;
          }
          results.push(await p.knowledge.ingest(collection, file.path, p.paths.readInside(folder.root, file.real, ROOTS), contentTypeOf(file.path)!, {}));
        }
        return { documents: results, skipped };
      }, {
        role: { min: "operator", rateLimit: "expensive" }, params: CollectionName,
        body: t.Object({ path: t.String({ minLength: 1, maxLength: 4096, description: "a folder under plugin.knowledge.roots (relative to the first root); its real path is checked" }) }),
        response: t.Object({ documents: t.Array(IngestResult), skipped: t.Array(SkippedEntry, { description: "entries left out: links leading out of the folder or into gantry's data dir, files over max_upload_bytes" }) }),
        detail: { summary: "Ingest every text, Markdown, HTML and PDF file of a folder; changed files replace their chunks, unchanged ones are skipped; links leaving the folder are refused and listed" },
      })
      .delete("/collections/:name/documents/:id", async ({ params }) => {
        await p.knowledge.deleteDocument(await p.store.collection(params.name), params.id);
        return { message: `Document '${params.id}' deleted` };
      }, {
        role: "operator", params: t.Object({ name: t.String({ pattern: NAME_PATTERN }), id: t.String({ maxLength: 64 }) }), response: t.Object({ message: t.String() }),
        detail: { summary: "Delete a document and its chunks" },
      });
}
