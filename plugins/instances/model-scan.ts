/**
 * `model` and `stream` of a large JSON request body found without parsing the whole body: a bounded
 * scan of the top-level object's first members and of its last ones (SDKs put `model` first, or
 * after `messages`). It answers only when it is sure to agree with JSON.parse; anything it cannot be
 * sure of (an escape in a key or in the model, `stream_options` or `keep_alive`, which the proxy reads,
 * a key that could appear again in the unscanned middle) returns undefined, and the caller parses.
 */

/** What the proxy needs from a chat-shaped body. */
export interface ScannedRequest {
  model: string;
  /** True only when the body says `"stream": true`. */
  stream: boolean;
  /** Where the top-level object's `{` is (a member can be inserted right after it). */
  objectStart: number;
}

/**
 * Bodies shorter than this are parsed: JSON.parse runs at ~3 bytes a nanosecond, and below some tens
 * of kilobytes the scan's searches of the middle cost as much (measured: even at 32 KiB, twice as fast at 320 KiB).
 */
export const SCAN_FROM_BYTES = 64 * 1024;
/** How far the scan reads from either end before it gives up. */
const SCAN_LIMIT = 4096;

const WHITESPACE = /[ \t\n\r]*/y;
/** A string without escapes or control characters (keys and the model must be such). */
const PLAIN_STRING = /"[^"\\\u0000-\u001f]*"/y;
/** Any valid JSON string, escapes included. */
const STRING = /"[^"\\\u0000-\u001f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\u0000-\u001f]*)*"/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const LITERAL = /true|false|null/y;
/**
 * The keys read, as they appear in a body (`"stream` covers `"stream"` and `"stream_options"`). An
 * escaped ASCII character (`\u0000`–`\u007f`) in the middle could spell one of them too: JSON.parse
 * keeps the last of duplicate keys.
 */
const KEYS_READ = ['"model"', '"stream', '"keep_alive"'];

/** The end of `pattern`'s match at `at`, or -1. */
function matchAt(pattern: RegExp, text: string, at: number): number {
  pattern.lastIndex = at;
  return pattern.test(text) ? pattern.lastIndex : -1;
}

const skipSpace = (text: string, at: number) => matchAt(WHITESPACE, text, at);
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;
function spaceBefore(text: string, end: number): number {
  while (end > 0 && isSpace(text.charCodeAt(end - 1))) end--;
  return end;
}

/** The end of a scalar value (string, number, literal) at `at`; -1 for an object, array or anything invalid. */
function scalarEnd(text: string, at: number): number {
  const c = text.charCodeAt(at);
  if (c === 34 /* " */) return matchAt(STRING, text, at);
  if (c === 116 /* t */ || c === 102 /* f */ || c === 110 /* n */) return matchAt(LITERAL, text, at);
  return matchAt(NUMBER, text, at);
}

/** Where the scalar value that ends at `end` starts, checked forward; -1 for an object, array or anything invalid. */
function scalarStart(text: string, end: number): number {
  const last = text.charCodeAt(end - 1);
  let start: number;
  if (last === 34 /* " */) {
    // The opening quote is the first one before that is not escaped (preceded by an even run of backslashes).
    start = end - 1;
    for (;;) {
      start = text.lastIndexOf('"', start - 1);
      if (start < 0) return -1;
      let slashes = 0;
      while (text.charCodeAt(start - 1 - slashes) === 92 /* \ */) slashes++;
      if (slashes % 2 === 0) break;
    }
  } else {
    start = end;
    while (start > 0 && /[0-9a-zA-Z.+-]/.test(text[start - 1]!)) start--;
  }
  return scalarEnd(text, start) === end ? start : -1;
}

interface Found {
  model?: string;
  stream?: boolean;
}

/** Records one member; false when the scan cannot be sure of it (a repeated or unreadable key, stream_options). */
function readMember(found: Found, key: string, text: string, valueStart: number, valueEnd: number): boolean {
  if (key === "model") {
    if (found.model !== undefined || matchAt(PLAIN_STRING, text, valueStart) !== valueEnd || valueEnd - valueStart < 3) return false;
    found.model = text.slice(valueStart + 1, valueEnd - 1);
  } else if (key === "stream") {
    if (found.stream !== undefined || text.charCodeAt(valueStart) === 34) return false;
    // Numbers and null are not true: JSON.parse's value would not be `true` either.
    found.stream = text.startsWith("true", valueStart) && valueEnd - valueStart === 4;
  } else if (key === "stream_options" || key === "keep_alive") {
    return false; // the proxy reads (or removes) it: parse
  }
  return true;
}

/**
 * `model` and `stream` of `text` when a bounded scan is sure JSON.parse would find the same; undefined
 * when unsure. The unscanned middle of a body is not checked for JSON syntax: a broken body reaches
 * the model server as sent and is answered there.
 */
export function scanModelRequest(text: string): ScannedRequest | undefined {
  const objectStart = skipSpace(text, 0);
  if (text.charCodeAt(objectStart) !== 123 /* { */) return undefined;
  const found: Found = {};
  // Forward from the `{`, member by member, until a nested value.
  let at = objectStart + 1;
  let middleStart = -1;
  for (;;) {
    if (at > SCAN_LIMIT) return undefined;
    at = skipSpace(text, at);
    const keyEnd = matchAt(PLAIN_STRING, text, at);
    if (keyEnd < 0) return undefined; // an escaped key, or no key ("{}", a trailing comma): parse
    const key = text.slice(at + 1, keyEnd - 1);
    const colon = skipSpace(text, keyEnd);
    if (text.charCodeAt(colon) !== 58 /* : */) return undefined;
    const valueStart = skipSpace(text, colon + 1);
    const valueEnd = scalarEnd(text, valueStart);
    if (valueEnd < 0) {
      if (key === "model" || key === "stream" || key === "stream_options" || key === "keep_alive") return undefined;
      middleStart = at;
      break;
    }
    if (!readMember(found, key, text, valueStart, valueEnd)) return undefined;
    at = skipSpace(text, valueEnd);
    const next = text.charCodeAt(at);
    if (next === 44 /* , */) {
      at++;
      continue;
    }
    // The whole object was read: only whitespace may follow.
    if (next !== 125 /* } */ || skipSpace(text, at + 1) !== text.length || found.model === undefined) return undefined;
    return { model: found.model, stream: found.stream === true, objectStart };
  }
  // Backward from the closing `}`, member by member, until a nested value.
  let end = spaceBefore(text, text.length);
  if (text.charCodeAt(end - 1) !== 125 /* } */) return undefined;
  end = spaceBefore(text, end - 1);
  let middleEnd = end;
  // Past the limit the rest counts as middle (checked below).
  while (text.length - end <= SCAN_LIMIT) {
    const last = text.charCodeAt(end - 1);
    if (last === 125 /* } */ || last === 93 /* ] */) break; // a nested value: the middle ends after it
    const valueStart = scalarStart(text, end);
    if (valueStart < 0) return undefined;
    const colon = spaceBefore(text, valueStart);
    if (text.charCodeAt(colon - 1) !== 58 /* : */) return undefined;
    const keyEnd = spaceBefore(text, colon - 1);
    const keyStart = text.lastIndexOf('"', keyEnd - 2);
    if (keyStart < 0 || matchAt(PLAIN_STRING, text, keyStart) !== keyEnd) return undefined;
    if (!readMember(found, text.slice(keyStart + 1, keyEnd - 1), text, valueStart, end)) return undefined;
    const comma = spaceBefore(text, keyStart);
    if (text.charCodeAt(comma - 1) !== 44 /* , */ || comma - 1 < middleStart) return undefined;
    end = spaceBefore(text, comma - 1);
    middleEnd = end;
  }
  if (found.model === undefined) return undefined;
  // The unscanned middle must not hold a key that would repeat (or add to) what was read, spelled
  // plainly or with escapes. Searched in place: a slice of a large body would be copied first.
  for (const key of KEYS_READ) {
    const at = text.indexOf(key, middleStart);
    if (at !== -1 && at < middleEnd) return undefined;
  }
  for (let at = text.indexOf("\\u00", middleStart); at !== -1 && at < middleEnd; at = text.indexOf("\\u00", at + 4)) {
    const digit = text.charCodeAt(at + 4);
    if (digit >= 48 && digit <= 55) return undefined; // \u0000-\u007f: an ASCII character, perhaps of a key
  }
  return { model: found.model, stream: found.stream === true, objectStart };
}
