/** contrib/gantry.service passes `systemd-analyze verify` (npm test's pretest installs Debian's systemd for it when missing). */
import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tempDir } from "../helpers.ts";

const UNIT = readFileSync(join(resolve(import.meta.dir, "../.."), "contrib/gantry.service"), "utf8");

/** `systemd-analyze verify` of `unit`, with ExecStart on an executable that exists here (verify checks it). */
function verify(unit: string): { exitCode: number; output: string } {
  const file = join(tempDir("gantry-unit-"), "gantry.service");
  writeFileSync(file, unit.replace("ExecStart=/usr/local/bin/gantry", `ExecStart=${process.execPath}`));
  const result = Bun.spawnSync(["systemd-analyze", "verify", file], { stdout: "pipe", stderr: "pipe" });
  return { exitCode: result.exitCode, output: `${result.stdout}${result.stderr}` };
}

test("the unit verifies with no warning and keeps its hardening", () => {
  expect(verify(UNIT)).toEqual({ exitCode: 0, output: "" });
  for (const option of ["NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/gantry", "PrivateTmp=yes", "ProtectHome=yes", "CapabilityBoundingSet="]) {
    expect(UNIT).toContain(`\n${option}\n`);
  }
});

test("the check catches a misspelt option", () => {
  const { output } = verify(UNIT.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"));
  expect(output).toContain("Unknown key 'NoNewPrivilege'");
});
