// Builds the npm package's files into client/dist (run by `npm pack` and `npm publish`):
//   dist/client.js     ES module, socket.io-client left as an import (a dependency of the
//                      package), so that applications bundle one copy of it
//   dist/client.js.map source map into src/ (shipped too)
//   dist/client.d.ts   type declarations (tsc)
//   dist/react.js      the React bindings ("djira-client/react"): react and ./client.js
//                      left as imports, so that both entry points share one client module
// The self-contained browser bundles shipped inside the Python package are built by
// build.mjs; both come from the same src/client.ts.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "dist");
const { name, version, dependencies, peerDependencies } = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: here,
  entryPoints: ["src/client.ts"],
  outfile: join(outdir, "client.js"),
  bundle: true,
  external: Object.keys(dependencies),
  format: "esm",
  platform: "neutral",
  target: "es2019",
  sourcemap: true,
  legalComments: "none",
  charset: "utf8",
  banner: { js: `/*! ${name} ${version} | MIT */` },
  logLevel: "warning",
});

await build({
  absWorkingDir: here,
  entryPoints: ["src/react.ts"],
  outfile: join(outdir, "react.js"),
  bundle: true,
  external: [...Object.keys(dependencies), ...Object.keys(peerDependencies), "./client.js"],
  format: "esm",
  platform: "neutral",
  target: "es2019",
  sourcemap: true,
  legalComments: "none",
  charset: "utf8",
  banner: { js: `/*! ${name}/react ${version} | MIT */` },
  logLevel: "warning",
});

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(
  process.execPath,
  [tsc, "-p", join(here, "tsconfig.package.json"), "--emitDeclarationOnly", "--declarationDir", outdir],
  { stdio: "inherit" },
);
console.log(`${name} ${version}: dist/client.js, dist/react.js, dist/*.d.ts`);
