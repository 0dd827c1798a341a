#!/usr/bin/env node
// A command-line front for npm's solc (WebAssembly), shaped like the native binary just
// enough for py-solc-x / ape-solidity and slither: `--version` and `--standard-json`.
// No native solc can be downloaded on our machines, so `make` installs this file as
// `.solc/solc-v<version>` and points SOLCX_BINARY_PATH at that folder.
"use strict";
const fs = require("fs");
const path = require("path");

const solc = require(path.join(__dirname, "..", "node_modules", "solc"));

function fail(message) {
  process.stderr.write(`solc-bridge: ${message}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.includes("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  fail(`only --version and --standard-json are supported (got: ${args.join(" ") || "no arguments"})`);
}

// Roots that imports resolve against, in the order native solc uses them.
const roots = [];
for (let i = 0; i < args.length; i++) {
  const flag = args[i];
  const takesValue = ["--base-path", "--include-path", "--allow-paths"].includes(flag);
  if (takesValue && i + 1 < args.length) {
    if (flag !== "--allow-paths") roots.push(path.resolve(args[i + 1]));
    i++;
  }
}
roots.push(process.cwd());

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath)
    ? [importPath]
    : roots.map((root) => path.join(root, importPath));
  for (const candidate of candidates) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: `File not found: ${importPath} (searched ${roots.join(", ")})` };
}

const input = fs.readFileSync(0, "utf8");
if (!input.trim()) fail("--standard-json expects the JSON input on stdin");
process.stdout.write(solc.compile(input, { import: findImports }));
