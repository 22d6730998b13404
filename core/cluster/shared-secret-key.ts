/** Cluster mode: every node must seal with the same auth.secret_key, or values one node stores cannot be opened by another. */
import { settingOrGenerate } from "../kernel/settings.ts";
import { Errors } from "../kernel/errors.ts";
import type { GantryDb } from "../storage/db.ts";

/** The first node records its key's id; a node with another key refuses to start (CONFIG_INVALID naming auth.secret_key). */
export async function assertSharedSecretKey(db: GantryDb, keyId: string): Promise<void> {
  const { value: clusterKeyId } = await settingOrGenerate(db, "cluster_secret_key_id", "", () => keyId);
  if (clusterKeyId === keyId) return;
  const problem = `auth.secret_key: this node seals with key ${keyId}, the cluster with key ${clusterKeyId}; set the same secret_key on every node (a key file in each data_dir differs per node)`;
  throw Errors.CONFIG_INVALID(["cluster", [problem]], { details: { problems: [problem] } });
}
