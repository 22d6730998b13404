/**
 * Plugins' skills offered to agents as Claude Code offers them: the tool's description lists each
 * skill's name and description up front; invoking it loads SKILL.md's body (and, on request, one
 * of the skill's files).
 */
import type { CoreSkillsService } from "gantry/plugin";
import type { Tool } from "./tool-catalog.ts";

/** The Skill tool, or null when no active plugin has a skill. */
export function skillTool(skills: CoreSkillsService): Tool | null {
  const list = skills.list();
  if (list.length === 0) return null;
  const find = (name: string) => list.find((s) => s.qname === name || s.name === name);
  return {
    id: "Skill", source: "builtin",
    description: `Loads a skill: instructions (and files) for a kind of task. Invoke it when a skill below fits the task.\n<available_skills>\n${list.map((s) => `- ${s.qname}: ${s.description}`).join("\n")}\n</available_skills>`,
    parameters: { type: "object", properties: { skill: { type: "string", description: "the skill's name (plugin:name or name)" }, file: { type: "string", description: "one of the skill's files, once its instructions name it" } }, required: ["skill"] },
    async run(args) {
      const skill = typeof args.skill === "string" ? find(args.skill) : undefined;
      if (!skill) return { text: `No skill '${String(args.skill)}'; there are: ${list.map((s) => s.qname).join(", ")}`, isError: true };
      if (typeof args.file === "string" && args.file) return { text: skills.readFile(skill.qname, args.file), isError: false };
      const files = skill.files.length > 0 ? `\n\nFiles of this skill (load one with {"skill": "${skill.qname}", "file": "<path>"}):\n${skill.files.map((f) => `- ${f}`).join("\n")}` : "";
      return { text: `Skill ${skill.qname}\n\n${skill.body}${files}`, isError: false };
    },
  };
}
