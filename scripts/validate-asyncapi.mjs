// Validate an AsyncAPI document with the official parser (@asyncapi/parser).
//
//   node scripts/validate-asyncapi.mjs asyncapi.json     # or "-" / nothing for stdin
//
// Prints one JSON object: {"errors": [...], "warnings": [...], "channels": n, "operations": n}
// where each diagnostic is {code, message, path, severity}. Exits 1 when there is any error
// (severity 0: the document is invalid), 0 otherwise. Warnings, infos and hints (the
// parser's style rules) are reported but do not fail.
import { readFile } from "node:fs/promises";

import { Parser } from "@asyncapi/parser";

async function readInput(path) {
  if (path && path !== "-") return readFile(path, "utf8");
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

const source = await readInput(process.argv[2]);
const parser = new Parser();
const { document, diagnostics } = await parser.parse(source);
const shape = (d) => ({
  code: String(d.code),
  message: d.message,
  path: d.path.join("/"),
  severity: d.severity,
});
const errors = diagnostics.filter((d) => d.severity === 0).map(shape);
const warnings = diagnostics.filter((d) => d.severity !== 0).map(shape);
const report = {
  valid: document !== undefined && errors.length === 0,
  version: document?.version() ?? null,
  channels: document ? document.channels().length : 0,
  operations: document ? document.operations().length : 0,
  messages: document ? document.allMessages().length : 0,
  errors,
  warnings,
};
process.stdout.write(JSON.stringify(report, null, 2) + "\n");
process.exit(report.valid ? 0 : 1);
