/**
 * Ingest and search. A document is extracted to text, chunked, embedded (when its collection has an
 * embedding model) and stored; the index gets the same chunks, and catches up before a search
 * with changes made through other nodes (the collection's revision tells). Search takes
 * candidates from BM25 and from vector k-NN, scores every candidate both ways (cosine against its
 * stored vector, BM25 relative to the best match) and ranks by alpha·vector + (1−alpha)·lexical.
 */
import { createHash, randomUUID } from "node:crypto";
import { chunkText } from "./chunker.ts";
import { cosine, embed, fromBuffer, toBuffer, type EmbeddingsService } from "./embedder.ts";
import { extract, type ContentType } from "./extract.ts";
import type { IndexedChunk, SearchIndex } from "./search-index.ts";
import { KnowledgeErrors, type ChunkRow, type CollectionRow, type KnowledgeStore } from "./store.ts";

export interface KnowledgeSettings {
  chunkSize: number;
  chunkOverlap: number;
  embedBatch: number;
  candidates: number;
  alpha: number;
}

export interface IngestResult {
  document_id: string;
  source: string;
  status: "created" | "replaced" | "unchanged";
  chunks: number;
}

export type SearchMode = "hybrid" | "vector" | "lexical";
export type Filter = Record<string, string | number | boolean>;

export interface SearchHit {
  chunk_id: number;
  collection: string;
  document_id: string;
  source: string;
  position: { chunk: number; start: number; end: number };
  text: string;
  score: number;
  vector_score: number | null;
  lexical_score: number | null;
  metadata: Filter;
}

/** `source` matches exactly or, ending in `*`, as a prefix; other keys match the document's metadata. */
function passes(filter: Filter | undefined, source: string, metadata: Filter): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(([key, want]) => {
    if (key !== "source") return metadata[key] === want;
    const pattern = String(want);
    return pattern.endsWith("*") ? source.startsWith(pattern.slice(0, -1)) : source === pattern;
  });
}

export class Knowledge {
  /** The ingest in progress per collection and source: a second upload of one source waits for the first. */
  readonly #ingesting = new Map<string, Promise<unknown>>();
  /** Index work per collection, one at a time: a catch-up and a change applied here never interleave. */
  readonly #indexing = new Map<number, Promise<unknown>>();

  constructor(
    private readonly store: KnowledgeStore,
    private readonly index: SearchIndex,
    private readonly inference: EmbeddingsService,
    private readonly settings: () => KnowledgeSettings,
    private readonly signal: AbortSignal,
  ) {}

  async #embed(collection: CollectionRow, texts: string[]): Promise<Float32Array[] | null> {
    if (!collection.embeddingModel || texts.length === 0) return null;
    try {
      return await embed(this.inference, collection.embeddingModel, texts, this.settings().embedBatch, this.signal);
    } catch (error) {
      throw KnowledgeErrors.KNOWLEDGE_EMBEDDING_FAILED([collection.embeddingModel, (error as Error).message]);
    }
  }

  /** Ingests one file: unchanged bytes are skipped; changed ones replace the document's chunks. */
  ingest(collection: CollectionRow, source: string, bytes: Uint8Array, type: ContentType, metadata: Filter): Promise<IngestResult> {
    const key = `${collection.id}:${source}`;
    const run = (this.#ingesting.get(key) ?? Promise.resolve()).catch(() => {}).then(() => this.#ingest(collection, source, bytes, type, metadata));
    this.#ingesting.set(key, run);
    void run.catch(() => {}).finally(() => this.#ingesting.get(key) === run && this.#ingesting.delete(key));
    return run;
  }

  async #ingest(collection: CollectionRow, source: string, bytes: Uint8Array, type: ContentType, metadata: Filter): Promise<IngestResult> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const previous = await this.store.documentBySource(collection.id, source);
    if (previous && previous.sha256 === sha256 && JSON.stringify(previous.metadata) === JSON.stringify(metadata)) {
      return { document_id: previous.id, source, status: "unchanged", chunks: previous.chunks };
    }
    let text: string;
    try {
      text = await extract(bytes, type);
    } catch (error) {
      throw KnowledgeErrors.KNOWLEDGE_DOCUMENT_UNREADABLE([source, (error as Error).message]);
    }
    const s = this.settings();
    const pieces = chunkText(text, s.chunkSize, s.chunkOverlap);
    // Embed before touching the stored document: a failing model leaves the previous version searchable.
    const vectors = await this.#embed(collection, pieces.map((p) => p.text));
    if (vectors?.[0] && collection.dimensions !== vectors[0].length) {
      if (collection.dimensions !== null) throw KnowledgeErrors.KNOWLEDGE_EMBEDDING_FAILED([collection.embeddingModel!, `it answered ${vectors[0].length} dimensions; the collection holds ${collection.dimensions}`]);
      await this.store.setDimensions(collection.id, vectors[0].length);
      collection.dimensions = vectors[0].length;
    }
    const now = new Date();
    const id = randomUUID();
    const stored = await this.store.insertDocument(
      { id, collectionId: collection.id, source, contentType: type, sha256, sizeBytes: bytes.byteLength, metadata, chunks: pieces.length, createdAt: previous?.createdAt ?? now, updatedAt: now },
      pieces.map((p, i) => ({ documentId: id, collectionId: collection.id, position: p.position, start: p.start, end: p.end, text: p.text, embedding: vectors ? toBuffer(vectors[i]!) : null })),
      previous?.id,
    );
    await this.#apply(collection, stored.revision, stored.removed, stored.rows.map((r, i) => ({ id: r.id, text: r.text, embedding: vectors?.[i] ?? null })));
    return { document_id: id, source, status: previous ? "replaced" : "created", chunks: pieces.length };
  }

  async deleteDocument(collection: CollectionRow, id: string): Promise<void> {
    await this.store.document(collection.id, id);
    const { removed, revision } = await this.store.deleteDocument(collection.id, id);
    await this.#apply(collection, revision, removed, []);
  }

  async deleteCollection(collection: CollectionRow): Promise<void> {
    await this.store.deleteCollection(collection.id);
    await this.#exclusive(collection.id, () => this.index.drop(collection.id));
  }

  #exclusive<T>(collectionId: number, work: () => T | Promise<T>): Promise<T> {
    const run = (this.#indexing.get(collectionId) ?? Promise.resolve()).catch(() => {}).then(work);
    this.#indexing.set(collectionId, run);
    void run.catch(() => {}).finally(() => this.#indexing.get(collectionId) === run && this.#indexing.delete(collectionId));
    return run;
  }

  /**
   * Applies a change this node just committed as `revision`: incrementally when the index reflected
   * the revision just before it; otherwise (a change from another node came between) the index stays
   * behind and the next search or start rebuilds the collection.
   */
  #apply(collection: CollectionRow, revision: number, removed: number[], added: IndexedChunk[]): Promise<void> {
    return this.#exclusive(collection.id, () => {
      if (this.index.revision(collection.id) !== revision - 1) return;
      this.index.ensure(collection.id, collection.dimensions);
      // A rebuild that ran meanwhile may hold the new chunks already: removing them first keeps ids unique.
      this.index.remove(collection.id, [...removed, ...added.map((c) => c.id)]);
      this.index.add(collection.id, added);
      this.index.setRevision(collection.id, revision);
    });
  }

  /**
   * Brings a collection's index up to the stored revision (`collection` read from the store just
   * now). An index that never held the collection (a new node, a lost or old index file) is built
   * from the stored chunks ("rebuilt"); one behind (changes made through another node) takes the
   * difference ("updated"): chunks are never changed in place and their ids never reused, so the
   * chunk ids in the store and in the index say what was added and removed.
   */
  reconcile(collection: CollectionRow): Promise<"rebuilt" | "updated" | false> {
    if (this.index.revision(collection.id) === collection.revision) return Promise.resolve(false);
    return this.#exclusive(collection.id, async () => {
      // Read again inside: work queued just before may have caught up; the stored row may have moved on.
      const current = await this.store.collectionById(collection.id);
      const indexedRevision = this.index.revision(collection.id);
      if (!current) {
        this.index.drop(collection.id);
        return "updated";
      }
      if (indexedRevision === current.revision) return false;
      const toIndexed = (c: ChunkRow): IndexedChunk => ({ id: c.id, text: c.text, embedding: c.embedding ? fromBuffer(c.embedding) : null });
      if (indexedRevision === undefined) {
        this.index.drop(collection.id);
        this.index.ensure(collection.id, current.dimensions);
        for (let page = await this.store.chunksAfter(collection.id, 0, 1000); page.length > 0; page = await this.store.chunksAfter(collection.id, page.at(-1)!.id, 1000)) {
          this.index.add(collection.id, page.map(toIndexed));
        }
      } else {
        const stored = await this.store.chunkIds(collection.id);
        const indexed = new Set(this.index.ids(collection.id));
        const storedSet = new Set(stored);
        this.index.ensure(collection.id, current.dimensions);
        this.index.remove(collection.id, [...indexed].filter((id) => !storedSet.has(id)));
        const added = stored.filter((id) => !indexed.has(id));
        for (let i = 0; i < added.length; i += 1000) this.index.add(collection.id, (await this.store.chunksById(added.slice(i, i + 1000))).map(toIndexed));
      }
      // The revision read before the chunks: a change that landed meanwhile makes the next check look again.
      this.index.setRevision(collection.id, current.revision);
      return indexedRevision === undefined ? "rebuilt" : "updated";
    });
  }

  /** Drops the index of collections deleted (through any node) from the store; `stored` is every stored collection. */
  async prune(stored: CollectionRow[]): Promise<number> {
    const live = new Set(stored.map((c) => c.id));
    const gone = this.index.collections().filter((id) => !live.has(id));
    for (const id of gone) await this.#exclusive(id, () => this.index.drop(id));
    return gone.length;
  }

  async search(request: { query: string; collections: CollectionRow[]; topK: number; filter?: Filter; mode?: SearchMode }): Promise<{ mode: SearchMode; results: SearchHit[] }> {
    const s = this.settings();
    const anyVectors = request.collections.some((c) => c.embeddingModel && c.dimensions);
    const mode: SearchMode = request.mode ?? (anyVectors ? "hybrid" : "lexical");
    const k = Math.max(s.candidates, request.topK * (request.filter ? 10 : 2));
    const hits: SearchHit[] = [];
    const queryVectors = new Map<string, Float32Array>();
    for (const collection of request.collections) {
      await this.reconcile(collection);
      const useVectors = mode !== "lexical" && collection.embeddingModel !== null && collection.dimensions !== null;
      let queryVector: Float32Array | undefined;
      if (useVectors) {
        queryVector = queryVectors.get(collection.embeddingModel!) ?? (await this.#embed(collection, [request.query]))![0]!;
        queryVectors.set(collection.embeddingModel!, queryVector);
      }
      const lexical = mode === "vector" ? [] : this.index.lexical(collection.id, request.query, k);
      const nearest = queryVector ? this.index.vector(collection.id, queryVector, k) : [];
      const best = Math.max(0, ...lexical.map((l) => l.score));
      const lexicalScore = new Map(lexical.map((l) => [l.id, best > 0 ? l.score / best : 0]));
      const ids = [...new Set([...lexical.map((l) => l.id), ...nearest.map((n) => n.id)])];
      for (const chunk of await this.store.chunks(ids)) {
        if (!passes(request.filter, chunk.source, chunk.metadata)) continue;
        const vectorScore = queryVector && chunk.embedding ? Math.max(0, cosine(queryVector, fromBuffer(chunk.embedding))) : null;
        const lexicalValue = mode === "vector" ? null : (lexicalScore.get(chunk.id) ?? 0);
        const score = mode === "vector" ? (vectorScore ?? 0) : mode === "lexical" || vectorScore === null ? lexicalValue! : s.alpha * vectorScore + (1 - s.alpha) * lexicalValue!;
        hits.push({
          chunk_id: chunk.id, collection: collection.name, document_id: chunk.documentId, source: chunk.source,
          position: { chunk: chunk.position, start: chunk.start, end: chunk.end }, text: chunk.text, score,
          vector_score: vectorScore, lexical_score: lexicalValue, metadata: chunk.metadata,
        });
      }
    }
    hits.sort((a, b) => b.score - a.score || a.chunk_id - b.chunk_id);
    return { mode, results: hits.filter((h) => h.score > 0).slice(0, request.topK) };
  }
}
