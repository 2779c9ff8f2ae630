// Builds the client shipped inside the Python package:
//   djira/static/djira/js/client.js            ES module
//   djira/static/djira/js/client.iife.js       classic script exposing window.djira
//   djira/static/djira/js/client.d.ts          type declarations (tsc)
//   djira/static/djira/js/client.licenses.txt  licenses of the bundled npm packages
// The output depends only on package-lock.json, so CI can rebuild and `git diff --exit-code`.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const outdir = join(root, "djira", "static", "djira", "js");
const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));
const { version } = readJson(join(root, "package.json"));

const common = {
  absWorkingDir: root,
  entryPoints: ["client/src/client.ts"],
  bundle: true,
  platform: "browser",
  target: "es2019",
  minify: true,
  legalComments: "none",
  charset: "utf8",
  metafile: true,
  write: false,
  logLevel: "warning",
};
const esm = await build({ ...common, format: "esm" });
const iife = await build({ ...common, format: "iife", globalName: "djira" });

// The npm packages esbuild pulled in, for the banner and the license file.
const packages = new Map();
for (const input of Object.keys(esm.metafile.inputs)) {
  const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (match && !packages.has(match[1])) {
    const dir = join(root, input.slice(0, match.index + match[0].length));
    packages.set(match[1], { dir, ...readJson(join(dir, "package.json")) });
  }
}
const bundled = [...packages.values()].sort((a, b) => a.name.localeCompare(b.name));

const licenses = bundled.map((pkg) => {
  const file = readdirSync(pkg.dir).find((name) => /^licen[cs]e/i.test(name));
  if (!file) throw new Error(`${pkg.name} ships no license file: check its terms before bundling it.`);
  const text = readFileSync(join(pkg.dir, file), "utf8").trim();
  return `${pkg.name} ${pkg.version} (${pkg.license})\n${"-".repeat(60)}\n${text}\n`;
});
writeFileSync(
  join(outdir, "client.licenses.txt"),
  `The djira client bundles these npm packages:\n\n${licenses.join("\n")}`,
);

const credits = bundled.map((pkg) => `${pkg.name} ${pkg.version} (${pkg.license})`).join(", ");
const banner =
  `/*! djira client ${version} | MIT | built from client/src by \`npm run build\`; do not edit.\n` +
  ` * Bundles ${credits}: see client.licenses.txt. */\n`;
mkdirSync(outdir, { recursive: true });
for (const [result, name] of [
  [esm, "client.js"],
  [iife, "client.iife.js"],
]) {
  writeFileSync(join(outdir, name), banner + result.outputFiles[0].text);
}

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const tsconfig = join(root, "client", "tsconfig.json");
execFileSync(process.execPath, [tsc, "-p", tsconfig, "--emitDeclarationOnly", "--declarationDir", outdir], {
  stdio: "inherit",
});
if (!existsSync(join(outdir, "client.d.ts"))) throw new Error("tsc emitted no client.d.ts");

for (const name of ["client.js", "client.iife.js", "client.d.ts", "client.licenses.txt"]) {
  const size = readFileSync(join(outdir, name)).length;
  console.log(`${relative(root, join(outdir, name))}  ${(size / 1024).toFixed(1)} KiB`);
}
