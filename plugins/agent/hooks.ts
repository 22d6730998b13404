/**
 * Plugins' hooks (hooks/hooks.json) around agent runs, as Claude Code runs them: each is a shell
 * command (a child the kernel tracks) that gets Claude Code's JSON on stdin, `${CLAUDE_PLUGIN_ROOT}` and a
 * timeout; exit code 2 blocks (its stderr says why), exit 0 may answer JSON (`permissionDecision`,
 * `decision: "block"`, `additionalContext`), any other exit code is reported and ignored.
 */
import { runShell, shellEnvironment, type CoreHooksService, type Spawner } from "gantry/plugin";
import type { Decision } from "./permissions.ts";

export type HookEvent = "PreToolUse" | "PostToolUse" | "UserPromptSubmit" | "Stop" | "SessionStart" | "SessionEnd";

/** One hook that ran, as kept in the run's steps. */
export interface HookStep {
  type: "hook";
  event: HookEvent;
  hook: string;
  tool: string | null;
  exit_code: number | null;
  /** allow, deny or ask (PreToolUse), block, or null when the hook only ran. */
  decision: string | null;
  reason: string | null;
}

export interface HookOutcome {
  steps: HookStep[];
  /** PreToolUse: the strictest decision of the hooks that decided (deny, then ask, then allow). */
  decision: { decision: Decision; reason: string } | null;
  /** A hook blocked (exit code 2 or `decision: "block"`): why. */
  blocked: string | null;
  /** Text hooks add for the model (SessionStart, UserPromptSubmit stdout; additionalContext). */
  context: string[];
}

const HOOK_OUTPUT_CHARS = 16_000;
const STRICTNESS: Decision[] = ["deny", "ask", "allow"];

function matcherMatches(matcher: string | null, tool: string | null): boolean {
  if (matcher === null || matcher === "*" || tool === null) return true;
  try {
    return new RegExp(`^(?:${matcher})$`).test(tool);
  } catch {
    return matcher === tool;
  }
}

function parseJson(text: string): Record<string, unknown> | null {
  if (!text.trim().startsWith("{")) return null;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
}

export class AgentHooks {
  constructor(private readonly spawn: Spawner, private readonly hooks: () => CoreHooksService | undefined, private readonly cwd: () => string | undefined) {}

  /** Runs the hooks of `event` (those whose matcher takes `tool`), in order, with `input` as Claude Code's JSON. */
  async run(event: HookEvent, runId: string, input: Record<string, unknown>, tool: string | null = null): Promise<HookOutcome> {
    const outcome: HookOutcome = { steps: [], decision: null, blocked: null, context: [] };
    const matching = (this.hooks()?.list() ?? []).filter((h) => h.event === event && matcherMatches(h.matcher, tool));
    for (const hook of matching) {
      const cwd = this.cwd() ?? hook.root;
      const stdin = JSON.stringify({ session_id: runId, transcript_path: null, cwd, permission_mode: "default", hook_event_name: event, ...input });
      const result = await runShell(this.spawn, hook.command.replaceAll("${CLAUDE_PLUGIN_ROOT}", hook.root), {
        cwd, stdin, timeoutMs: hook.timeoutS * 1000, maxOutputChars: HOOK_OUTPUT_CHARS, name: `hook ${hook.qname}`,
        env: shellEnvironment({ CLAUDE_PLUGIN_ROOT: hook.root, CLAUDE_PROJECT_DIR: cwd }),
      });
      const step: HookStep = { type: "hook", event, hook: hook.qname, tool, exit_code: result.exitCode, decision: null, reason: null };
      if (result.timedOut) step.reason = `timed out after ${hook.timeoutS} s (ignored)`;
      else if (result.exitCode === 2) {
        step.decision = event === "PreToolUse" ? "deny" : "block";
        step.reason = result.stderr.trim() || `${hook.qname} exited with code 2`;
      } else if (result.exitCode === 0) this.#readAnswer(event, result.stdout, step, outcome);
      else step.reason = `exited with code ${result.exitCode} (ignored): ${result.stderr.trim().slice(0, 500)}`;
      if (step.decision === "block" && !outcome.blocked) outcome.blocked = step.reason ?? "blocked by a hook";
      if (step.decision && event === "PreToolUse" && step.decision !== "block") {
        const decision = step.decision as Decision;
        if (!outcome.decision || STRICTNESS.indexOf(decision) < STRICTNESS.indexOf(outcome.decision.decision)) outcome.decision = { decision, reason: `${hook.qname}: ${step.reason ?? decision}` };
      }
      outcome.steps.push(step);
    }
    return outcome;
  }

  /** Exit code 0: JSON decisions, or plain stdout as context for SessionStart and UserPromptSubmit. */
  #readAnswer(event: HookEvent, stdout: string, step: HookStep, outcome: HookOutcome): void {
    const answer = parseJson(stdout);
    if (!answer) {
      if ((event === "SessionStart" || event === "UserPromptSubmit") && stdout.trim()) outcome.context.push(stdout.trim());
      return;
    }
    const specific = (answer.hookSpecificOutput ?? {}) as Record<string, unknown>;
    const permission = specific.permissionDecision ?? (answer.decision === "approve" ? "allow" : answer.decision === "block" && event === "PreToolUse" ? "deny" : undefined);
    if (event === "PreToolUse" && typeof permission === "string" && (STRICTNESS as string[]).includes(permission)) {
      step.decision = permission;
      step.reason = String(specific.permissionDecisionReason ?? answer.reason ?? permission);
    } else if (answer.decision === "block") {
      step.decision = "block";
      step.reason = String(answer.reason ?? "blocked by a hook");
    } else if (answer.continue === false) {
      step.decision = "block";
      step.reason = String(answer.stopReason ?? "a hook stopped the run");
    }
    if (typeof specific.additionalContext === "string" && specific.additionalContext) outcome.context.push(specific.additionalContext);
  }
}
