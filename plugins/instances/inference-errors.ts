/**
 * Errors on inference routes, answered in the shape each client family parses: OpenAI's
 * `{error: {message, type, param, code}}`, Anthropic's `{type: "error", error: {type, message}}`,
 * Ollama's `{error}`. Auth, rate-limit and validation errors from core are re-shaped too, so an
 * SDK shows a wrong key as `invalid_api_key`, not as a generic failure.
 */
import { createError, defineErrors, DIRECT_EXTENSION, GantryError, OWN_ERRORS_EXTENSION } from "gantry/plugin";

export const InferenceErrors = defineErrors("instances", {
  BODY_NOT_OBJECT: createError("BODY_NOT_OBJECT", 400, () => "The request body must be a JSON object"),
  MODEL_REQUIRED: createError("MODEL_REQUIRED", 400, () => "You must provide a model parameter"),
  MODEL_NOT_FOUND: createError("MODEL_NOT_FOUND", 404, (model: string) => `The model '${model}' does not exist`),
  MODEL_NOT_RUNNING: createError("MODEL_NOT_RUNNING", 503, (model: string, status: string) => `The model '${model}' is ${status}; start it first`),
  MODEL_START_FAILED: createError("MODEL_START_FAILED", 503, (model: string, why: string) => `The model '${model}' could not be started: ${why}`),
  UPSTREAM_UNREACHABLE: createError("UPSTREAM_UNREACHABLE", 502, (model: string, why: string) => `The model server for '${model}' did not answer: ${why}`),
  UNKNOWN_ROUTE: createError("UNKNOWN_ROUTE", 404, (method: string, path: string) => `Invalid URL (${method} ${path})`),
  QUEUE_FULL: createError("QUEUE_FULL", 503, (model: string, queued: number, retry: number) => `The model '${model}' is busy: ${queued} requests are already waiting (max_queue); retry in ${retry} s`),
  MODEL_NOT_ALLOWED: createError("MODEL_NOT_ALLOWED", 403, (model: string) => `This API key may not use the model '${model}'`),
  KEY_LIMIT: createError("KEY_LIMIT", 429, (what: string, limit: number, retry: number) => `This API key is over its limit of ${limit} ${what} per minute; retry in ${retry} s`),
});

/** What every shape is made from. */
export interface ErrorInfo {
  status: number;
  message: string;
  /** gantry's code (UPPER_SNAKE). */
  code: string;
  param: string | null;
}

/** The field an error is about, for OpenAI's `param`. */
const PARAM: Record<string, string> = { MODEL_REQUIRED: "model", MODEL_NOT_FOUND: "model" };

/** From what Elysia hands onError: gantry's own errors, its validation errors, anything else as a 500 without details. */
export function errorInfo(code: string | number, error: unknown): ErrorInfo {
  if (error instanceof GantryError) return { status: error.status, message: error.message, code: error.code, param: PARAM[error.code] ?? null };
  if (code === "VALIDATION") {
    const first = (error as { all?: { path: string; summary?: string; message: string }[] }).all?.[0];
    const field = first?.path.replace(/^\//, "").replaceAll("/", ".") || null;
    return { status: 400, message: first ? `Invalid '${field}': ${first.summary ?? first.message}` : "Invalid request", code: "VALIDATION_FAILED", param: field };
  }
  if (code === "PARSE") return { status: 400, message: "We could not parse the JSON body of your request", code: "BAD_REQUEST", param: null };
  const status = (error as { status?: unknown })?.status;
  if (typeof status === "number" && status >= 400 && status < 500) return { status, message: String((error as Error).message ?? "Bad request"), code: "BAD_REQUEST", param: null };
  return { status: 500, message: "The server had an error while processing your request", code: "INTERNAL", param: null };
}

/** OpenAI's `code` for gantry's: the ones OpenAI clients know by name, else the lower-case code. */
const OPENAI_CODE: Record<string, string> = { UNAUTHORIZED: "missing_api_key", INVALID_CREDENTIAL: "invalid_api_key", RATE_LIMITED: "rate_limit_exceeded", KEY_LIMIT: "rate_limit_exceeded", FORBIDDEN: "insufficient_permissions", MODEL_NOT_ALLOWED: "model_not_allowed" };

function openAiType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 429) return "rate_limit_error";
  return status >= 500 ? "server_error" : "invalid_request_error";
}

export function openAiErrorBody(info: ErrorInfo) {
  return { error: { message: info.message, type: openAiType(info.status), param: info.param, code: OPENAI_CODE[info.code] ?? info.code.toLowerCase() } };
}

/** Anthropic's error types by status (what @anthropic-ai/sdk maps to its error classes). */
function anthropicType(status: number): string {
  const types: Record<number, string> = { 400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 503: "overloaded_error" };
  return types[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

export function anthropicErrorBody(info: ErrorInfo) {
  return { type: "error", error: { type: anthropicType(info.status), message: info.message } };
}

/** Ollama answers `{error: "message"}`; gantry's code rides along. */
export function ollamaErrorBody(info: ErrorInfo) {
  return { error: info.message, code: info.code };
}

export type ErrorShape = (info: ErrorInfo) => unknown;

/** `detail` fields that tell core these routes answer their own errors. */
export const OWN_ERRORS = { [OWN_ERRORS_EXTENSION]: true } as const;

/** `detail` fields that have core serve a proxy route directly (body as text, no params): the hot path's floor. */
export const DIRECT = { [DIRECT_EXTENSION]: true } as const;

/** An error's `details.retry_after_s` (queue full, over a limit), for the Retry-After header. */
export function retryAfterOf(error: unknown): number | undefined {
  const retry = error instanceof GantryError ? (error.details as { retry_after_s?: unknown } | undefined)?.retry_after_s : undefined;
  return typeof retry === "number" ? retry : undefined;
}

/** A local onError for a group of routes: every error in `shape`, with Retry-After when the error says when to come back. */
export function answerErrors(shape: ErrorShape) {
  return ({ code, error, set }: { code: string | number; error: unknown; set: { status?: number | string; headers: Record<string, unknown> } }) => {
    const info = errorInfo(code, error);
    set.status = info.status;
    const retry = retryAfterOf(error);
    if (retry !== undefined) set.headers["retry-after"] = String(retry);
    return shape(info);
  };
}

/** An error Response in `shape` (for errors found after headers were decided, or outside Elysia's hooks). */
export function errorResponse(shape: ErrorShape, error: GantryError): Response {
  const retry = retryAfterOf(error);
  return Response.json(shape(errorInfo("", error)), { status: error.status, ...(retry !== undefined ? { headers: { "retry-after": String(retry) } } : {}) });
}
