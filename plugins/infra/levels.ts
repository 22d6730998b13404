/** Log level names: gantry's (pino) and the Python-style names the operations API's /loglevel speaks. */
import { LOG_LEVELS, type LogLevel } from "gantry/plugin";

const ALIASES: Record<string, LogLevel> = {
  trace: "trace", debug: "debug", info: "info", warn: "warn", warning: "warn",
  error: "error", fatal: "fatal", critical: "fatal", silent: "silent", off: "silent",
};

const PYTHON_NAMES: Record<LogLevel, string> = {
  trace: "TRACE", debug: "DEBUG", info: "INFO", warn: "WARNING", error: "ERROR", fatal: "CRITICAL", silent: "SILENT",
};

/** The pino level for a name in either style (case-insensitive), or undefined. */
export function parseLevel(name: string): LogLevel | undefined {
  return Object.hasOwn(ALIASES, name.toLowerCase()) ? ALIASES[name.toLowerCase()] : undefined;
}

/** DEBUG, INFO, WARNING, ... as the operations API prints them. */
export function pythonName(level: string): string {
  return PYTHON_NAMES[level as LogLevel] ?? level.toUpperCase();
}

export const VALID_LEVEL_NAMES = [...LOG_LEVELS, "warning", "critical"].join(", ");
