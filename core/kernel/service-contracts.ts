/**
 * The service contracts, by name. `ctx.services.provide/consume/get` are typed from this interface;
 * a plugin that provides a service of its own adds it by declaration merging:
 *
 *     declare module "gantry/plugin" { interface Services { greeter: { greet(who: string): string } } }
 *
 * The contracts that several plugins share are declared here once, so provider and consumers
 * compile against the same shape without importing each other.
 */
import type {
  CoreAgentsService, CoreAuditService, CoreCacheService, CoreCommandsService, CoreConfigService, CoreIdentityService, CoreInfoService,
  CoreLoggersService, CoreMcpServersService, CoreMetricsService, CorePluginsService, CoreProcessesService, CoreSecretsService, CoreTasksService,
  CoreSkillsService, CoreHooksService, CoreOutboundService,
} from "./core-services.ts";
import type { CommandCaller } from "./plugin-contract.ts";
import type { CoreClusterService } from "./cluster-service.ts";

/** Chat completions and embeddings on a supervised model ("inference", provided by instances). */
export interface InferenceService {
  /** `body` is an OpenAI chat request naming an instance as `model`; throws with the server's message on a non-2xx answer. */
  chatCompletion(body: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>>;
  /** `body` is an OpenAI embeddings request (`model`, `input`); answers the server's JSON or throws like chatCompletion. */
  embeddings(body: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>>;
}

/** Registered datasets and their rows ("datasets", provided by datasets; evaluations consume it). */
export interface DatasetsService {
  /** The dataset as GET /api/v1/datasets/{name} shows it; throws DATASET_NOT_FOUND. */
  get(name: string): Promise<{ name: string; format: string; sha256: string; rows: number; schema: { name: string; type: string }[] }>;
  /** The first `limit` rows, as JSON values. */
  rows(name: string, limit: number): Promise<Record<string, unknown>[]>;
}

/** Evaluations for other plugins ("evaluations", provided by evaluations; deployments compares versions on a dataset with it). */
export interface EvaluationsService {
  /** Starts one as POST /api/v1/evaluations does (the same fields, unchecked by a schema here); throws its errors (EVALUATION_INVALID, DATASET_NOT_FOUND). */
  start(request: { model: string; dataset: string; metrics: unknown[]; name?: string; input_column?: string; expected_column?: string | null; limit?: number }, actor: string): Promise<{ id: string }>;
  /** The report as GET /api/v1/evaluations/{id} answers it; undefined when there is none. */
  get(id: string): Promise<{ id: string; model: string; dataset: string; status: string; summary: Record<string, unknown> | null } | undefined>;
}

/** Instances as the API lists them ("instances", provided by instances). */
export interface InstancesService {
  list(): unknown[];
  /** Starts the instance and waits until it is healthy; throws as POST /api/v1/instances/{name}/start answers. */
  start(name: string): Promise<unknown>;
  /** Stops the instance (SIGTERM, then SIGKILL after its stop timeout). */
  stop(name: string): Promise<unknown>;
}

/** One proxied exchange, handed to a route's observer after the client has its answer. */
export interface ObservedExchange {
  /** The OpenAI path (`/v1/chat/completions`). */
  path: string;
  /** The request body as the client sent it. */
  body: string;
  /** The instance that answered. */
  instance: string;
  status: number;
  /** A copy of the answer, not yet read (the client reads the original). */
  answer: { text(): Promise<string> };
  /** From sending the request to the whole answer read, in milliseconds. */
  latencyMs: number;
}

/** Called synchronously on the client's path: it must only schedule its work, never block. */
export type ExchangeObserver = (exchange: ObservedExchange) => void;

/** How a served model name is answered: which instance per request, and who observes the exchange. */
export interface ServedModelRoute {
  /** The instance name or alias this request goes to; called once per request, so it may split traffic. */
  target(): string;
  /** An observer for this request to `path` (non-streamed OpenAI JSON requests), or undefined; called once per request. */
  observe?(path: string): ExchangeObserver | undefined;
}

/**
 * Served model names routed by another plugin ("served-models", provided by instances; deployments
 * uses it): a request whose `model` is a routed name goes to the route's target, on every API.
 */
export interface ServedModelsService {
  /** Routes `name`, replacing any route it had; the answer removes this route. */
  route(name: string, route: ServedModelRoute): () => void;
}

/** Tools of the connected MCP servers and calls to them ("mcp", provided by mcp). */
export interface McpToolsService {
  tools(): Promise<{ server: string; name: string; description: string | null; input_schema: Record<string, unknown> }[]>;
  call(server: string, tool: string, args: Record<string, unknown>): Promise<{ is_error: boolean; content: unknown[]; structured_content: Record<string, unknown> | null }>;
}

/** An agent run to its end ("agent-runs", provided by agent; batch consumes it). */
export interface AgentRunsService {
  has(name: string): boolean;
  /** `caller`: whoever started the batch; the agent is offered only the commands that role may invoke. */
  run(name: string, input: string, actor: string, caller: CommandCaller): Promise<{ id: string; status: string; output: string | null; error: string | null; steps: unknown[] }>;
}

/**
 * The extension point core calls when a markdown slash command is invoked ("agents"): a plugin
 * that provides it runs the rendered prompt as a one-off agent; without one, the command answers
 * its rendered prompt.
 */
export interface AgentPromptRunner {
  runPrompt(request: { prompt: string; allowedTools: string[]; model: string | null; command: string; caller: CommandCaller }): Promise<unknown>;
  /** Where a command's `!`command`` lines run (the folder agents work in); default: the plugin's folder. */
  workingDirectory?(): string | undefined;
}

/**
 * Human approval gates outside agent tool calls ("approvals", provided by agent; pipelines gates its
 * phases with it): a gate opened here is listed and decided at /api/v1/approvals like any other.
 */
export interface ApprovalsService {
  /** `requestedBy`: the subject asking; the gate then refuses their approval (four-eyes). */
  open(request: { runId: string; agent: string; tool: string; arguments: Record<string, unknown>; requestedBy?: string }): Promise<{ id: string }>;
  /** The gate as it stands; undefined when there is no such gate. */
  status(id: string): Promise<{ status: "pending" | "approved" | "rejected" | "expired"; decidedBy: string | null; note: string | null } | undefined>;
}

/** Sandboxed script runs for other plugins ("sandbox", provided by scripts). */
export interface SandboxService {
  run(code: string, options: { actor: string; timeoutMs?: number; via?: string }): Promise<{ ok: boolean; result: unknown; logs: string[]; durationMs: number; error: { name: string; message: string } | null }>;
}

export interface Services {
  "core.config": CoreConfigService;
  "core.outbound": CoreOutboundService;
  "core.info": CoreInfoService;
  "core.cache": CoreCacheService;
  "core.tasks": CoreTasksService;
  "core.metrics": CoreMetricsService;
  "core.audit": CoreAuditService;
  "core.processes": CoreProcessesService;
  "core.loggers": CoreLoggersService;
  "core.agents": CoreAgentsService;
  "core.mcp_servers": CoreMcpServersService;
  "core.skills": CoreSkillsService;
  "core.hooks": CoreHooksService;
  "core.commands": CoreCommandsService;
  "core.identity": CoreIdentityService;
  "core.plugins": CorePluginsService;
  "core.secrets": CoreSecretsService;
  "core.cluster": CoreClusterService;
  inference: InferenceService;
  instances: InstancesService;
  "served-models": ServedModelsService;
  datasets: DatasetsService;
  evaluations: EvaluationsService;
  mcp: McpToolsService;
  "agent-runs": AgentRunsService;
  agents: AgentPromptRunner;
  sandbox: SandboxService;
  approvals: ApprovalsService;
}

export type ServiceName = keyof Services;
