/** The log lines' content: fields kept as given, secrets hidden by name and by value, errors serialized and redacted. */
import { describe, expect, test } from "bun:test";
import { LoggerRegistry } from "../../core/kernel/logger.ts";
import { LogCapture } from "../helpers.ts";

const OPENAI_KEY = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234";

function logger() {
  const capture = new LogCapture();
  return { loggers: new LoggerRegistry({ level: "info", format: "json", destination: capture }), capture };
}

describe("log lines", () => {
  test("a request line keeps its fields as given: strings, numbers, booleans, nulls", () => {
    const { loggers, capture } = logger();
    const fields = { reqId: "3f1c2a9e-8d7b-4c1a-9f0e-2b3c4d5e6f70", method: "POST", path: "/v1/chat/completions", status: 200, ms: 1.25, stream: false, ttft_ms: null };
    loggers.root.info(fields, "request");
    expect(capture.records[0]).toMatchObject({ ...fields, msg: "request", name: "gantry" });
  });

  test("secrets by name at any depth, by value anywhere; the caller's object is left as it was", () => {
    const { loggers, capture } = logger();
    const fields = {
      password: "hunter2", apiKey: "k1", api_key: "k2", token: "t1",
      headers: { authorization: "Bearer abc", "x-api-key": "k3", "x-internal-auth": "k4", accept: "text/plain" },
      nested: { secret: "s1", deeper: { client_secret: "s2", port: 5432 } },
      url: "postgres://app:pg-pass-123@db:5432/gantry", path: `/v1/x?api_key=${OPENAI_KEY}`, model: "llama-3-8b", count: 3,
      args: ["--api-key", "flag-secret-1", "--port", "8080"],
    };
    const copy = structuredClone(fields);
    loggers.root.info(fields, "mixed");
    const line = capture.text;
    for (const secret of ["hunter2", "k1", "k2", "t1", "Bearer abc", "k3", "k4", "s1", "s2", "pg-pass-123", OPENAI_KEY, "flag-secret-1"]) expect(line).not.toContain(`"${secret}`);
    expect(line).not.toContain(OPENAI_KEY);
    expect(line).not.toContain("pg-pass-123");
    const record = capture.records[0]!;
    expect(record).toMatchObject({
      password: "[redacted]", token: "[redacted]", headers: { authorization: "[redacted]", accept: "text/plain" },
      nested: { secret: "[redacted]", deeper: { client_secret: "[redacted]", port: 5432 } },
      url: "postgres://app:[redacted]@db:5432/gantry", path: "/v1/x?api_key=[redacted]", model: "llama-3-8b", count: 3,
      args: ["--api-key", "[redacted]", "--port", "8080"],
    });
    expect(fields).toEqual(copy);
  });

  test("an error is written with its type, message and own fields, each redacted", () => {
    const { loggers, capture } = logger();
    const error = Object.assign(new Error("connect to postgres://app:pg-pass-456@db failed"), { code: "ECONNREFUSED", password: "p4ss" });
    loggers.root.error({ err: error }, "database unreachable");
    loggers.root.error(error);
    expect(capture.text).not.toContain("pg-pass-456");
    expect(capture.text).not.toContain("p4ss");
    const [first] = capture.records;
    expect(first!.err).toMatchObject({ type: "Error", message: "connect to postgres://app:[redacted]@db failed", code: "ECONNREFUSED", password: "[redacted]" });
    expect(String((first!.err as { stack: string }).stack)).toContain("logger.test.ts");
    expect(capture.records[1]!.err).toMatchObject({ type: "Error", code: "ECONNREFUSED" });
  });

  test("a named child's bindings are redacted too, and its lines carry them", () => {
    const { loggers, capture } = logger();
    loggers.child("plugin:x", { plugin: "x", token: "binding-secret" }).info({ n: 1 }, "from the child");
    expect(capture.text).not.toContain("binding-secret");
    expect(capture.records[0]).toMatchObject({ logger: "plugin:x", plugin: "x", token: "[redacted]", n: 1, msg: "from the child" });
  });
});
