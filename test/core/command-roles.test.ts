import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toolCatalog } from "../../plugins/agent/tool-catalog.ts";
import { json, startGantry, tempDir, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let operator: string;
let viewer: string;

/** A plugin with a command of each role, from code and from markdown front matter. */
function rolesPlugin(name = "roles"): string {
  const dir = join(tempDir("gantry-roles-"), name);
  mkdirSync(join(dir, "commands"), { recursive: true });
  writeFileSync(join(dir, "plugin.json"), JSON.stringify({ name, version: "0.1.0", main: "index.ts", gantry: "^0.1" }));
  writeFileSync(join(dir, "index.ts"), `export default { name: "${name}", setup(ctx) {
    ctx.command("wipe", { description: "admin only", role: "admin", run: () => "wiped" });
    ctx.command("poke", { description: "default role", run: ({ caller }) => "poked as " + caller.role });
    ctx.command("look", { description: "viewers too", role: "viewer", run: () => "looked" });
  } };\n`);
  writeFileSync(join(dir, "commands", "rotate.md"), "---\ndescription: Rotate secrets\nrole: admin\n---\nRotate $ARGUMENTS\n");
  return dir;
}

beforeAll(async () => {
  g = await startGantry();
  await g.gantry.host.install(rolesPlugin());
  operator = (await g.gantry.security.keys.create("roles-operator", "operator")).key;
  viewer = (await g.gantry.security.keys.create("roles-viewer", "viewer")).key;
});
afterAll(() => g.stop());

const invoke = (qname: string, key: string | true) => g.api(`/api/v1/plugins/commands/${qname}/invoke`, { ...json("POST", { arguments: "x" }), auth: key });

describe("slash command roles", () => {
  test("each command declares its role (operator by default) and the listing shows it", async () => {
    const { commands } = await (await g.api("/api/v1/plugins/commands")).json();
    const roleOf = (qname: string) => commands.find((c: { qname: string }) => c.qname === qname)?.role;
    expect([roleOf("roles:wipe"), roleOf("roles:poke"), roleOf("roles:look"), roleOf("roles:rotate")]).toEqual(["admin", "operator", "viewer", "admin"]);
  });

  test("invoking checks the command's role, not only the route's: an operator cannot run admin commands", async () => {
    for (const qname of ["roles:wipe", "roles:rotate"]) {
      const refused = await invoke(qname, operator);
      expect([qname, refused.status, (await refused.json()).code]).toEqual([qname, 403, "COMMAND_FORBIDDEN"]);
      expect((await invoke(qname, true)).status).toBe(200);
    }
    expect((await (await invoke("roles:poke", operator)).json()).result).toBe("poked as operator");
    expect((await invoke("roles:look", viewer)).status).toBe(403); // the invoke route itself is for operators
  });

  test("agents get only the commands their starter's role may invoke", async () => {
    const commands = g.gantry.core.services.get("core.commands")!;
    const ids = async (role: "viewer" | "operator" | "admin") => (await toolCatalog(commands, undefined, [], { role })).map((t) => t.id);
    expect(await ids("operator")).toEqual(expect.arrayContaining(["/roles:poke", "/roles:look"]));
    expect(await ids("operator")).not.toContain("/roles:wipe");
    expect(await ids("admin")).toEqual(expect.arrayContaining(["/roles:wipe", "/roles:rotate"]));
    const wipe = (await toolCatalog(commands, undefined, [], { role: "admin" })).find((t) => t.id === "/roles:wipe")!;
    expect((await wipe.run({})).text).toBe("wiped");
  });

  test("a role that is not viewer, operator or admin is refused at install", async () => {
    const dir = rolesPlugin("roles-bad");
    writeFileSync(join(dir, "commands", "rotate.md"), "---\nrole: root\n---\nx\n");
    const res = await g.api("/api/v1/plugins", json("POST", { path: dir }));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect((await res.json()).error).toContain("role must be one of viewer, operator, admin");
  });
});
