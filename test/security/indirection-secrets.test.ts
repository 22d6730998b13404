/**
 * Secrets found by their value, not only by their name: a corpus of credential shapes through core's
 * one redaction rule (and texts that must come back unchanged), then the places a viewer or a tool
 * reads configuration: instance views and logs, the models export, an OCI package's serving.json,
 * and the environment an agent's Bash tool sees.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { carriesSecret, REDACTED, redactSecrets, redactText } from "../../core/kernel/redact.ts";
import { BUILTIN_PLUGINS, freePort, json, startGantry, STAND_IN_MODEL_SERVER, tempDir, waitFor, type TestGantry } from "../helpers.ts";

const JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiIsImlhdCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlLXBhcnQtaGVyZQ";
const PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF0qJQ\nqJQ0Z3VS5JJcds3xfn==\n-----END RSA PRIVATE KEY-----";

/** [text, the secret inside it that must not survive, what must survive]. */
const SECRET_CORPUS: [string, string, string][] = [
  ["http://u:PASSWORD1@host/x?token=TOKEN1", "PASSWORD1", "http://u:"],
  ["http://u:PASSWORD1@host/x?token=TOKEN1", "TOKEN1", "host/x?token="],
  ["postgres://app:PW2@db.internal:5432/app", "PW2", "db.internal:5432/app"],
  ["https://ghp_TOKEN3@github.com/org/repo.git", "TOKEN3", "github.com/org/repo.git"],
  ["https://store/m.gguf?X-Amz-Signature=SIG4&X-Amz-Date=20260101", "SIG4", "X-Amz-Date=20260101"],
  ["https://acct.blob.core.windows.net/c/m.gguf?sv=2022&sig=SAS5%2Bx&se=2030", "SAS5", "sv=2022"],
  ["https://api.example/v1?key=KEY6&format=json", "KEY6", "format=json"],
  ["https://api.example/v1?api_key=KEY7", "KEY7", "api.example"],
  ["https://api.example/v1?apikey=KEY8&secret=SEC8&password=PW8&access_token=AT8", "AT8", "api.example"],
  ["host=db.internal user=app password=LIBPQ9 dbname=app", "LIBPQ9", "host=db.internal user=app"],
  ["Authorization: Bearer BEARER10.part", "BEARER10", "Authorization: Bearer"],
  ["authorization: bearer lower11", "lower11", "authorization"],
  [`token is ${JWT} here`, "eyJzdWIiOiJhZG1pbiIsImlhdCI6MTcwMDAwMDAwMH0", "token is"],
  [`key file:\n${PEM}\nend`, "MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn", "-----BEGIN RSA PRIVATE KEY-----"],
  ["-----BEGIN PRIVATE KEY-----\nMIIcutOFFbeforeTheEnd", "MIIcutOFF", "-----BEGIN PRIVATE KEY-----"],
  ["OPENAI=sk-proj-Ab12Cd34Ef56Gh78Ij90KlMnOpQrStUvWx", "Ab12Cd34Ef56Gh78", "OPENAI="],
  ["claude sk-ant-api03-AbCdEf0123456789_GhIjKlMnOp-QrStUv", "AbCdEf0123456789", "claude"],
  ["HF hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh", "AbCdEfGhIjKlMnOp", "HF"],
  ["gh ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "AbCdEfGhIjKlMnOpQrStUvWxYz", "gh"],
  ["aws AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "aws"],
  ["key gk_testadmin1_abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012345", "key"],
  ["llama-server --model m.gguf --api-key FLAG12 --port 9000", "FLAG12", "--port 9000"],
];

/** Texts holding no secret: returned exactly as given. */
const PLAIN_CORPUS = [
  "/models/qwen2.5-7b-instruct-q4_k_m.gguf",
  "/models/sk-llama-3-8b-instruct-q4_k_m-finetune.gguf",
  "/data/hf_cache/models--meta-llama--Llama-3.1-8B/snapshots/abc123/model.safetensors",
  "https://huggingface.co/org/repo/resolve/main/model.gguf?download=true",
  "http://127.0.0.1:8080/v1/chat/completions",
  "ssh-keygen wrote the file",
  "--model /m.gguf --ctx-size 4096 --port 8080 --n-gpu-layers 99",
  "max_tokens=512 temperature=0.7",
  "the token count was 42",
  "rs=0:di=01;34:ln=01;36:*.tar=01;31:*.pem=00;90",
  "eyJ alone is not a token",
  '{ "servers": { "local": { "command": "srv", "args": ["--port", "9000"] } } }',
  "short",
];

describe("the value corpus", () => {
  test.each(SECRET_CORPUS)("%p loses its secret and stays readable", (text, secret, kept) => {
    const shown = redactText(text);
    expect(shown).not.toContain(secret);
    expect(shown).toContain(kept);
    expect(shown).toContain(REDACTED);
    expect(carriesSecret(text)).toBe(true);
  });

  test.each(PLAIN_CORPUS)("%p is unchanged", (text) => {
    expect(redactText(text)).toBe(text);
    expect(carriesSecret(text)).toBe(false);
  });

  test("values under harmless names are redacted at any depth; numbers, booleans and plain strings are kept", () => {
    const shown = redactSecrets({ upstream: { url: "http://u:PW@h/x", list: [JWT, "plain"], n: 3, on: true }, model: "/m/x.gguf" });
    expect(shown).toEqual({ upstream: { url: `http://u:${REDACTED}@h/x`, list: [REDACTED, "plain"], n: 3, on: true }, model: "/m/x.gguf" });
  });
});

describe("where gantry shows or hands on configuration", () => {
  const MODEL_URL = "http://u:MODELPASS@models.example/x?token=MODELTOKEN";
  const LEAKS = ["MODELPASS", "MODELTOKEN", "ENVPASS", "ENVTOKEN", "ENVJWT"];
  const extraEnv: Record<string, string> = {
    RT_DB_URL: "postgres://user:ENVPASS@db.internal:5432/rt",
    RT_UPSTREAM: "https://api.example/v1?access_token=ENVTOKEN",
    RT_HEADER: `Bearer ${JWT.replace("c2lnbmF0", "ENVJWT")}`,
    RT_PLAIN: "https://example.com/docs/page",
  };
  let g: TestGantry;
  let viewer: string;
  const leaked = (text: string) => LEAKS.filter((mark) => text.includes(mark));

  beforeAll(async () => {
    Object.assign(process.env, extraEnv);
    g = await startGantry({
      builtins: BUILTIN_PLUGINS,
      config: {
        rate_limit: { enabled: false },
        plugin: { agent: { default_model: "brain", workspaces: [tempDir("gantry-ws-")], permissions: { allow: ["Bash(env:*)"] }, agents: { shell: { prompt: "You run commands.", tools: ["Bash"] } } } },
      },
    });
    viewer = (await g.gantry.security.keys.create("secrets-viewer", "viewer")).key;
    // Ports from the OS, not from plugin.instances.port_range (other test files use that range at once).
    const brain = await g.api("/api/v1/instances", json("POST", {
      name: "brain", backend: "command", model_path: "brain", on_demand_start: true, port: await freePort(), command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}"],
    }));
    expect(brain.status).toBe(201);
    const created = await g.api("/api/v1/instances", json("POST", {
      name: "remote", backend: "command", model_path: MODEL_URL, port: await freePort(),
      command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--model", "{model_path}"],
    }));
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await g.stop();
    for (const name of Object.keys(extraEnv)) delete process.env[name];
  });

  test("a model_path with a password and a token is redacted in instance views and the export, and still reads as its URL", async () => {
    const list = await (await g.api("/api/v1/instances", { auth: viewer })).text();
    expect(leaked(list)).toEqual([]);
    const one = await (await g.api("/api/v1/instances/remote", { auth: viewer })).json();
    expect(one.model_path).toBe(`http://u:${REDACTED}@models.example/x?token=${REDACTED}`);
    const exported = await g.api("/api/v1/models/export", { auth: viewer });
    expect(exported.status).toBe(200);
    const toml = await exported.text();
    expect(leaked(toml)).toEqual([]);
    expect(toml).toContain(`model_path = "http://u:${REDACTED}@models.example/x?token=${REDACTED}"`);
    expect(toml).toContain(`shown as ${REDACTED}`);
  });

  test("what the model server prints (its model URL) reaches viewers redacted", async () => {
    expect((await g.api("/api/v1/instances/remote/start", json("POST", {}))).status).toBe(200);
    await waitFor(async () => (await (await g.api("/api/v1/instances/remote/logs", { auth: viewer })).text()).includes("listening"), 10_000, "the server's first line");
    const logs = await (await g.api("/api/v1/instances/remote/logs", { auth: viewer })).text();
    expect(leaked(logs)).toEqual([]);
    expect(logs).toContain(`stand-in model server 'http://u:${REDACTED}@models.example/x?token=${REDACTED}'`);
    await g.api("/api/v1/instances/remote/stop", json("POST", {}));
  });

  test("an OCI package's serving.json holds no secret of the instance it was made from", async () => {
    const res = await g.api("/api/v1/deployments/package", json("POST", { version: "remote" }));
    expect(res.status).toBe(201);
    const artifact = await res.json();
    const tar = await g.api(`/api/v1/deployments/artifacts/${artifact.id}/download`, { auth: viewer });
    expect(tar.status).toBe(200);
    // Layers are plain tars inside the layout tar: serving.json's text is in the bytes as written.
    const bytes = new TextDecoder("latin1").decode(await tar.arrayBuffer());
    expect(bytes).toContain('"version": "remote"');
    expect(leaked(bytes)).toEqual([]);
  });

  test("the agent Bash tool's environment lacks variables whose values hold credentials, and keeps the rest", async () => {
    const run = await (await g.api("/api/v1/agents/shell/invoke", json("POST", { input: `CALL Bash ${JSON.stringify({ command: "env" })}` }))).json();
    expect(run.status).toBe("succeeded");
    const shown = await (await g.api(`/api/v1/agents/runs/${run.id}`, { auth: viewer })).text();
    const step = (await (await g.api(`/api/v1/agents/runs/${run.id}`)).json()).steps.find((s: { type: string }) => s.type === "tool");
    expect(step).toMatchObject({ tool: "Bash", outcome: "ran" });
    expect(step.result).toContain("RT_PLAIN=https://example.com/docs/page");
    expect(step.result).toContain("PATH=");
    expect(step.result).not.toContain("RT_DB_URL");
    expect(leaked(shown)).toEqual([]);
  });

  test("GET /env shows those variables with only the secret part redacted", async () => {
    const env = await (await g.api("/env")).json();
    expect(env.RT_DB_URL).toBe(`postgres://user:${REDACTED}@db.internal:5432/rt`);
    expect(env.RT_UPSTREAM).toBe(`https://api.example/v1?access_token=${REDACTED}`);
    expect(env.RT_HEADER).toBe(`Bearer ${REDACTED}`);
    expect(env.RT_PLAIN).toBe("https://example.com/docs/page");
  });
});
