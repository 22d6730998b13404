/** What plugin authors import as `gantry/plugin`: `definePlugin`, the context's types, and gantry's copies of the libraries plugins build on. */
export { definePlugin } from "./kernel/plugin-contract.ts";
export type {
  PluginContext, PluginDefinition, PluginSetup, PluginServices, CommandDefinition, RouteOptions, RouteRegistrar, DisposeReason, Disposer, KeepScope, BackgroundWorkApi,
} from "./kernel/plugin-contract.ts";
export type { Services, ServiceName, InferenceService, InstancesService, EvaluationsService, ServedModelsService, ServedModelRoute, ExchangeObserver, ObservedExchange, DatasetsService, McpToolsService, AgentRunsService, AgentPromptRunner, SandboxService, ApprovalsService } from "./kernel/service-contracts.ts";
export type { CommandCaller } from "./kernel/plugin-contract.ts";
export type { CommandRole } from "./kernel/plugin-files.ts";
export { mayInvoke } from "./kernel/command-invoker.ts";
export type { PeriodicTaskOptions, TaskLevel } from "./kernel/periodic-tasks.ts";
export type { FlagDefinition, FlagHandle } from "./kernel/flags.ts";
export type { GantryEvent } from "./kernel/events.ts";
export type { RolesApp, RouteRole } from "./auth/roles.ts";
export type { PeriodicTask, PeriodicTaskSnapshot } from "./kernel/periodic-tasks.ts";
export { TASK_LEVELS, taskHealth } from "./kernel/periodic-tasks.ts";
/** Counter and histogram children bound to fixed labels that add in place (hot paths: no label hashing per call). */
export { boundCounter, boundHistogram } from "./kernel/bound-series.ts";
export { LOG_LEVELS, type LogLevel } from "./kernel/config.ts";
export { carriesSecret, isSecretName, REDACTED, redactSecrets, redactText } from "./kernel/redact.ts";
export type { SpawnOptions, AdoptOptions, ProcessInfo, ChildProcess, SpawnedProcess } from "./kernel/processes.ts";
export type {
  CoreAgentsService, CoreAuditService, CoreOutboundService, CoreSecretsService, CoreSkillsService, CoreHooksService, CoreCommandsService, CoreMcpServersService, CoreIdentityService, CorePluginsService, CoreCacheService, CoreConfigService, CoreInfoService, CoreLoggersService, CoreMetricsService, CoreProcessesService, CoreTasksService,
} from "./kernel/core-services.ts";
export type { CoreClusterService, ClusterNodeView } from "./kernel/cluster-service.ts";
export { GantryError, capEcho, createError, defineErrors } from "./kernel/errors.ts";
/** The outbound guard's errors and address classifier (ctx.services.consume("core.outbound") does the fetching). */
export { OutboundErrors, type OutboundTarget } from "./kernel/outbound-guard.ts";
export { nonPublicReason } from "./kernel/ip-ranges.ts";
/** The one path guard (`ctx.paths`): real paths inside a root, never gantry's data dir; links leaving the root are refused and reported. */
export { PathErrors, isInside, type PathGuard, type RefusedEntry, type RefusalReason, type WalkedFile, type WalkOptions } from "./kernel/path-guard.ts";
export type { KeyScope } from "./auth/identity.ts";
export { OWN_ERRORS_EXTENSION } from "./http/http-app.ts";
export { DIRECT_EXTENSION } from "./http/direct-routes.ts";
export { pickTables } from "./storage/tables.ts";
export type { CommandInvocation, CommandView } from "./kernel/command-invoker.ts";
export { textResponses } from "./http/text-responses.ts";
/** A multipart/form-data upload streamed to a temporary file (size limit enforced as it arrives), for routes declared with `parse: "none"`. */
export { receiveUpload, type ReceivedUpload, type ReceivedFile, type UploadOptions } from "./http/multipart-upload.ts";
export { Nullable, QueryInteger, QueryLimit, QueryOffset, QueryCursor, MAX_QUERY_INTEGER } from "./http/schema-helpers.ts";
export { formatBytes, textTable } from "./kernel/text-table.ts";
/** The script sandbox (QuickJS in WebAssembly, in a worker): a plugin owns its worker, e.g. through ctx.keep. */
export { createSandbox, type Sandbox, type HostFunction, type RunOptions, type RunResult } from "../sandbox/index.ts";
/** TypeBox schema builder for route schemas: plugins use gantry's copy, wherever their folder lives. */
export { t } from "elysia";
/** drizzle's SQLite table builders and operators, so a plugin outside gantry's tree can declare and query its tables. */
export { sqliteTable, integer, text, real, blob, primaryKey, index, uniqueIndex } from "drizzle-orm/sqlite-core";
export { eq, ne, and, or, not, sql, desc, asc, inArray, isNull, isNotNull, gt, gte, lt, lte, like, count } from "drizzle-orm";
/** drizzle's PostgreSQL table builders, for a plugin's PostgreSQL twin of its tables (`pg.pgTable`, `pg.text`, ...). */
export * as pg from "drizzle-orm/pg-core";
export type { GantryDb, Dialect, TablePair, PgTwin } from "./storage/tables.ts";
/** Permission rules in gantry's and Claude Code's syntax (`Bash(git status:*)`), and a shell line run through ctx.spawn with a timeout and an output cap. */
export { ruleMatches, ruleTool, globMatches } from "./kernel/tool-rules.ts";
export { runShell, shellEnvironment, type ShellResult, type ShellOptions, type Spawner } from "./kernel/shell-run.ts";
/** The runtime gantry runs on (Bun or Deno): SQLite files of a plugin's own, glob matching, the runtime's name and version. */
export { runtime, type Runtime, type SqliteDatabase, type SqliteStatement, type Subprocess, type ChildStdin } from "./runtime/index.ts";
export { fileStream, which } from "./runtime/files.ts";
export { packageFile } from "./runtime/install-root.ts";
