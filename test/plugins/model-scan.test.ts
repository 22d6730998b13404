import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { scanModelRequest } from "../../plugins/instances/model-scan.ts";

/** What JSON.parse says the proxy needs, or "invalid" when it throws. `read`: keys the proxy reads or removes (the scan must leave such bodies to the parser). */
function parsed(text: string): { model: unknown; stream: boolean; read: boolean } | "invalid" {
  try {
    const body = JSON.parse(text);
    if (typeof body !== "object" || body === null || Array.isArray(body)) return { model: undefined, stream: false, read: false };
    return { model: body.model, stream: body.stream === true, read: Object.hasOwn(body, "stream_options") || Object.hasOwn(body, "keep_alive") };
  } catch {
    return "invalid";
  }
}

/** The scan never disagrees with JSON.parse: it answers undefined, or the model and stream JSON.parse finds. */
function agrees(text: string): boolean {
  const scanned = scanModelRequest(text);
  if (scanned === undefined) return true;
  const truth = parsed(text);
  if (truth === "invalid") return true; // checked apart: see "broken bodies"
  return truth.model === scanned.model && truth.stream === scanned.stream && !truth.read && text[scanned.objectStart] === "{";
}

/** A key as it may be written: plainly, or with some characters as \u escapes (JSON.parse decodes them). */
const writtenKey = (key: string) =>
  fc.array(fc.boolean(), { minLength: key.length, maxLength: key.length }).map((escape) =>
    [...key].map((c, i) => (escape[i] ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}` : c === '"' || c === "\\" ? `\\${c}` : c)).join(""));
const keys = fc.oneof(fc.constantFrom("model", "stream", "stream_options", "keep_alive", "messages", "temperature", "mode", "models", "Model", "stream ", "x\"model", "model\\"), fc.string({ maxLength: 8 }));
const models = fc.oneof(fc.constantFrom("llama-3", "qwen/qwen2.5:7b", "", "m\"x", "caf\u00e9", "a\\b", "model"), fc.string({ maxLength: 12 }));
const scalar = fc.oneof(models.map((m) => JSON.stringify(m)), fc.constantFrom("true", "false", "null", "0", "-1.5e3", "1E5", "\"\\u006dodel\"", "\"\\\"model\\\"\""), fc.double({ noNaN: true, noDefaultInfinity: true }).map(String));
/** Nested values, sometimes large, sometimes holding "model" keys of their own. */
const nested = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('{"model":"inner"}', '[{"role":"user","content":"say \\"model\\": \\"x\\""}]', '["\\u006d", {"stream": true}]'),
  fc.integer({ min: 1, max: 300 }).map((n) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ role: "user", content: `message ${i} ${"lorem ipsum ".repeat(20)}` })))),
);
const space = fc.constantFrom("", " ", "\n  ", "\t");
const member = fc.tuple(fc.oneof(keys.chain(writtenKey), keys), fc.oneof({ weight: 3, arbitrary: scalar }, { weight: 1, arbitrary: nested }), space, space);
/** A JSON object text built member by member (duplicate keys and escaped keys included), with varied spacing. */
const objectText = fc.tuple(fc.array(member, { maxLength: 8 }), space).map(([members, outer]) =>
  `${outer}{${members.map(([k, v, s1, s2]) => `${s1}"${k}"${s2}:${s1}${v}${s2}`).join(",")}}${outer}`);
/** Shaped like real requests: a model early or after the messages, stream somewhere, other members around. */
const requestText = fc.tuple(fc.option(models, { freq: 4 }), fc.option(fc.boolean()), nested, fc.array(member, { maxLength: 3 }), fc.array(member, { maxLength: 3 }), fc.integer({ min: 0, max: 3 }))
  .map(([model, stream, messages, before, after, where]) => {
    const parts = [...before.map(([k, v]) => `"${k}":${v}`), `"messages":${messages}`, ...after.map(([k, v]) => `"${k}":${v}`)];
    if (model !== null) parts.splice(Math.min(where, parts.length), 0, `"model":${JSON.stringify(model)}`);
    if (stream !== null) parts.splice(Math.min(where + 1, parts.length), 0, `"stream":${stream}`);
    return `{${parts.join(",")}}`;
  });

describe("model scan", () => {
  test("never disagrees with JSON.parse on generated objects (duplicate, escaped and nested keys included)", () => {
    fc.assert(fc.property(objectText, (text) => agrees(text)), { numRuns: 3000 });
  });

  test("never disagrees with JSON.parse on request-shaped bodies", () => {
    fc.assert(fc.property(requestText, (text) => agrees(text)), { numRuns: 3000 });
  });

  test("never disagrees on bodies with a character inserted, removed or changed, nor on arbitrary text", () => {
    const edited = fc.tuple(fc.oneof(requestText, objectText), fc.nat(), fc.constantFrom('"', "\\", ",", ":", "{", "}", "[", "]", " ", "u", "m")).chain(([text, at, c]) =>
      fc.constantFrom(text.slice(0, at % (text.length + 1)) + c + text.slice(at % (text.length + 1)), text.slice(0, at % text.length) + text.slice((at % text.length) + 1), text.slice(0, at % text.length) + c + text.slice((at % text.length) + 1)));
    fc.assert(fc.property(fc.oneof(edited, fc.string(), fc.string({ unit: fc.constantFrom('"', "{", "}", ":", ",", "model", "stream", "\\", "true", "[", "]", " ") })), (text) => agrees(text)), { numRuns: 5000 });
  });

  test("broken bodies: a model is read only from well-formed members; what breaks the middle reaches the model server", () => {
    expect(scanModelRequest('{"model":"a",')).toBeUndefined();
    expect(scanModelRequest('{"model":"a"')).toBeUndefined();
    expect(scanModelRequest('{"model":"a"} x')).toBeUndefined();
    expect(scanModelRequest('{"model":a}')).toBeUndefined();
    expect(scanModelRequest('{"model":"a","stream":tru}')).toBeUndefined();
    expect(scanModelRequest('{"messages":[1,2}')).toBeUndefined();
    // The middle (a nested value between the scanned ends) is not checked for syntax.
    expect(scanModelRequest('{"model":"a","messages":[1,,2]}')?.model).toBe("a");
  });

  const messages = JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: `turn ${i}: ${"some words ".repeat(30)}` })));
  test("answers for the bodies SDKs send: model first (JavaScript) or after the messages (Python), stream either side", () => {
    expect(scanModelRequest(`{"model":"llama-3","messages":${messages},"stream":true}`)).toEqual({ model: "llama-3", stream: true, objectStart: 0 });
    expect(scanModelRequest(`{"messages":${messages},"model":"qwen/qwen2.5:7b","stream":false,"temperature":0.2}`)).toEqual({ model: "qwen/qwen2.5:7b", stream: false, objectStart: 0 });
    expect(scanModelRequest(`  {"messages": ${messages}, "model": "m", "max_tokens": 64}\n`)).toEqual({ model: "m", stream: false, objectStart: 2 });
  });

  test("unsure, so parsed: a model that may be overridden later, escaped, nested first or stream_options", () => {
    expect(scanModelRequest(`{"model":"a","messages":${messages},"model":"b"}`)).toBeUndefined();
    expect(scanModelRequest(`{"model":"a","messages":${messages},"x":{"y":1},"mod\\u0065l":"b"}`)).toBeUndefined();
    // The same keys between two nested values (the unscanned middle), escaped or plain.
    expect(scanModelRequest(`{"model":"a","messages":${messages},"mod\\u0065l":"b","x":{"y":1}}`)).toBeUndefined();
    expect(scanModelRequest(`{"model":"a","messages":${messages},"str\\u0065am":true,"x":{"y":1}}`)).toBeUndefined();
    expect(scanModelRequest(`{"model":"a","messages":${messages},"stream":true,"x":{"y":1}}`)).toBeUndefined();
    expect(scanModelRequest(`{"model":"a","messages":${messages},"stream_options":{},"x":{"y":1}}`)).toBeUndefined();
    expect(scanModelRequest(`{"model":"a","messages":${messages},"keep_alive":0}`)).toBeUndefined();
    expect(scanModelRequest(`{"model":"a","messages":${messages},"keep_alive":"5m","x":{"y":1}}`)).toBeUndefined();
    // Escapes of characters outside ASCII (what Python's json writes for non-English text) leave the scan sure.
    expect(scanModelRequest(`{"model":"a","messages":[{"content":"caf\\u00e9 \\u4f60\\u597d"}],"x":{"y":1}}`)?.model).toBe("a");
    expect(scanModelRequest(`{"model":"a\\u0062","messages":[]}`)).toBeUndefined();
    expect(scanModelRequest(`{"messages":${messages},"stream_options":{"include_usage":true},"model":"a"}`)).toBeUndefined();
    expect(scanModelRequest(`{"model":"a","stream":true,"stream":false,"messages":[]}`)).toBeUndefined();
    expect(scanModelRequest(`[{"model":"a"}]`)).toBeUndefined();
    // A key that ends in model but is not model (an escaped quote before it).
    expect(scanModelRequest(`{"messages":${messages},"x\\"model":"b"}`)).toBeUndefined();
  });
});
