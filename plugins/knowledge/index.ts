/** knowledge: document collections searched by meaning and by words, for people and for agents. */
import { join } from "node:path";
import { definePlugin } from "gantry/plugin";
import { Knowledge } from "./knowledge.ts";
import { knowledgeRoutes } from "./routes.ts";
import { SearchIndex } from "./search-index.ts";
import { KnowledgeStore } from "./store.ts";

interface KnowledgeConfig {
  embedding_model: string;
  roots: string[];
  chunk_size: number;
  chunk_overlap: number;
  max_upload_bytes: number;
  embed_batch: number;
  candidates: number;
  hybrid_alpha: number;
}

export default definePlugin({
  name: "knowledge",
  async setup(ctx) {
    const config = ctx.config as unknown as KnowledgeConfig;
    if (!(config.chunk_size > 0 && config.chunk_overlap >= 0 && config.chunk_overlap < config.chunk_size)) throw new Error("plugin.knowledge: chunk_size must be positive and chunk_overlap below it");
    if (!(config.hybrid_alpha >= 0 && config.hybrid_alpha <= 1)) throw new Error("plugin.knowledge.hybrid_alpha must be between 0 and 1");
    const store = new KnowledgeStore(ctx.db);
    // The index file stays open across reloads; it closes when the plugin goes away.
    const index = ctx.keep("search-index", () => new SearchIndex(join(ctx.dataDir, "search-index.sqlite")), (kept) => kept.close());
    const settings = () => ({ chunkSize: config.chunk_size, chunkOverlap: config.chunk_overlap, embedBatch: config.embed_batch, candidates: config.candidates, alpha: config.hybrid_alpha });
    const knowledge = new Knowledge(store, index, ctx.services.consume("inference"), settings, ctx.signal);
    // The index is derived: a missing or stale one (a crash between the two writes, a new node, changes
    // made through other nodes) is rebuilt from the store; searches check each collection's revision again.
    const stored = await store.collections();
    await knowledge.prune(stored);
    for (const collection of stored) {
      const done = await knowledge.reconcile(collection);
      if (done) ctx.log.info({ collection: collection.name }, done === "rebuilt" ? "knowledge index rebuilt from the stored chunks" : "knowledge index brought up to date with the stored chunks");
    }
    ctx.routes(knowledgeRoutes({ knowledge, store, settings: () => ({ defaultModel: config.embedding_model, roots: config.roots, maxUploadBytes: config.max_upload_bytes }), paths: ctx.paths, log: ctx.log }));
    // Agents are offered slash commands as tools: /knowledge:search, under their usual permission rules.
    ctx.command("search", {
      description: "Search the knowledge collections; answers the best chunks with their source",
      argumentHint: "<query>",
      run: async ({ arguments: query }) => {
        if (!query.trim()) throw new Error("give a query after /knowledge:search");
        const { results } = await knowledge.search({ query, collections: await store.collections(), topK: 5 });
        return results.map((r) => ({ source: r.source, collection: r.collection, score: Math.round(r.score * 1000) / 1000, text: r.text }));
      },
    });
  },
});
