/**
 * How a script's result leaves the sandbox: one defined conversion, run inside QuickJS (under the
 * run's deadline) before anything crosses into the host. JSON, with BigInt as its decimal digits;
 * `toJSON`, getters and Proxies are honoured, and one that throws fails the run with its message;
 * cycles, nesting deeper than MAX_RESULT_DEPTH, and values JSON would silently turn into {} or drop
 * (Map, Set, typed arrays, Promise, RegExp, Error, functions, symbols) fail the run naming the value
 * and where it is; NUL and lone surrogates travel as JSON escapes (a C string boundary would
 * otherwise cut or mangle them).
 */
import type { QuickJSContext, QuickJSHandle } from "quickjs-emscripten-core";

export const MAX_RESULT_DEPTH = 64;

/** Captures the intrinsics before the script runs, so a script that replaces JSON or Object.keys only confuses itself. */
const CONVERTER = `(() => {
  const stringify = JSON.stringify, isArray = Array.isArray, keys = Object.keys, String_ = String, isFinite_ = Number.isFinite;
  const RangeError_ = RangeError, TypeError_ = TypeError, isView = ArrayBuffer.isView;
  const LONE = /[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]/g;
  const escape = (c) => "\\\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
  const SKIP = {};
  // Objects whose content lives in internal slots: JSON would turn each into {} and lose it.
  const OPAQUE = [[Map, "a Map", "Object.fromEntries(map)"], [Set, "a Set", "[...set]"], [WeakMap, "a WeakMap", ""], [WeakSet, "a WeakSet", ""],
    [Promise, "a Promise", "await it"], [RegExp, "a RegExp", "regexp.source"], [ArrayBuffer, "an ArrayBuffer", "[...new Uint8Array(buffer)]"],
    [Error, "an Error", "error.message"], ...(typeof WeakRef === "function" ? [[WeakRef, "a WeakRef", ""]] : [])];
  const key = (where, k) => (/^[A-Za-z_$][\\w$]*$/.test(k) ? where + "." + k : where + "[" + stringify(k) + "]");
  function refuse(what, where, hint) {
    throw new TypeError_(what + " at " + where + " cannot be represented as JSON" + (hint ? "; return " + hint + " instead" : ""));
  }
  function opaque(value, where) {
    if (isView(value)) refuse("a typed array or DataView", where, "[...array]");
    for (const [type, what, hint] of OPAQUE) if (value instanceof type) refuse(what, where, hint);
  }
  function plain(value, depth, path, where) {
    if (typeof value === "bigint") return String_(value);
    if (value === undefined) return SKIP;
    if (typeof value === "function") refuse("a function", where, "what it computes");
    if (typeof value === "symbol") refuse("a symbol", where, "symbol.description");
    if (typeof value === "number") return isFinite_(value) ? value : null;
    if (value === null || typeof value !== "object") return value;
    if (typeof value.toJSON === "function") return plain(value.toJSON(), depth, path, where);
    opaque(value, where);
    if (depth > ${MAX_RESULT_DEPTH}) throw new RangeError_("the result is nested deeper than ${MAX_RESULT_DEPTH} levels");
    if (path.includes(value)) throw new TypeError_("the result contains a cycle (an object that contains itself)");
    path.push(value);
    let out;
    if (isArray(value)) {
      out = [];
      for (let i = 0; i < value.length; i++) {
        const v = plain(value[i], depth + 1, path, where + "[" + i + "]");
        out.push(v === SKIP ? null : v);
      }
    } else {
      out = {};
      for (const k of keys(value)) {
        const v = plain(value[k], depth + 1, path, key(where, k));
        if (v !== SKIP) out[k] = v;
      }
    }
    path.pop();
    return out;
  }
  return (value) => {
    const copy = plain(value, 1, [], "result");
    return copy === SKIP ? "null" : stringify(copy).replace(LONE, escape);
  };
})()`;

/** Installs the converter; call before the script runs and keep the handle for `resultToJson`. */
export function installResultConverter(context: QuickJSContext): QuickJSHandle {
  const result = context.evalCode(CONVERTER, "gantry-result.js");
  if (result.error) {
    const detail = context.dump(result.error);
    result.error.dispose();
    throw new Error(`result converter failed to install: ${JSON.stringify(detail)}`);
  }
  return result.value;
}

/** The value as the host sees it; throws `{name, message}` (as the script reported it) when it cannot be converted. */
export function resultToJson(context: QuickJSContext, converter: QuickJSHandle, value: QuickJSHandle): unknown {
  const result = context.callFunction(converter, context.undefined, value);
  if (result.error) {
    const detail = context.dump(result.error) as { name?: string; message?: string };
    result.error.dispose();
    throw { name: detail?.name ?? "Error", message: `the result cannot be returned: ${detail?.message ?? String(detail)}` };
  }
  const text = context.getString(result.value);
  result.value.dispose();
  return JSON.parse(text);
}
