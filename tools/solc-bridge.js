#!/usr/bin/env node
// A command-line front for npm's solc (WebAssembly), shaped like the native binary just
// enough for py-solc-x / ape-solidity and slither: `--version` and `--standard-json`.
// No native solc can be downloaded on our machines, so `make` installs this file as
// `.solc/solc-v<version>` and points SOLCX_BINARY_PATH at that folder.
//
// Parallel compilation. solc is single-threaded, and with viaIR it generates code for every
// contract of its input whatever the output selection asks for (45 s for this project, and as
// long for one contract as for all of them). So when the input asks for contracts' code, the
// bridge splits it into compilation units: one per root source (a file no other imports) with
// the files it imports, transitively. The units run on worker threads (SOLC_BRIDGE_JOBS, by
// default one per core), each emitting only the files assigned to it; one more job analyses the
// whole input without code generation and gives the AST, the source ids and the warnings of a
// single compile; the source maps' file indices are renumbered from the unit's ids to the
// whole input's. A contract's metadata names only the sources it imports, and its bytecode is
// meant to depend on nothing else (what Sourcify's recompilation from metadata relies on too);
// solc has an open report of code that changed with unrelated files in the input
// (argotorg/solidity#15686). For this project's contracts the split build was checked equal to
// the single compile's byte for byte (.build/__local__.json); SOLC_BRIDGE_JOBS=1 gives the
// single compile. Anything the split cannot reproduce falls back to one compile: sources given
// by URL, context remappings, a "*" file selection beside per-file ones, an import that names no
// source of the input, outputs that carry AST ids (storageLayout, immutableReferences, IR), or
// any error (the first one stops the workers at once). SOLC_BRIDGE_TRACE=1 says on stderr which
// way it went.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { Worker, isMainThread, parentPort } = require("worker_threads");

const loadSolc = () => require(path.join(__dirname, "..", "node_modules", "solc"));

function fail(message) {
  process.stderr.write(`solc-bridge: ${message}\n`);
  process.exit(2);
}

function trace(message) {
  if (process.env.SOLC_BRIDGE_TRACE === "1") process.stderr.write(`solc-bridge: ${message}\n`);
}

const args = process.argv.slice(2);
if (args.includes("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${loadSolc().version()}\n`);
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
  const candidates = path.isAbsolute(importPath) ? [importPath] : roots.map((root) => path.join(root, importPath));
  for (const candidate of candidates) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: `File not found: ${importPath} (searched ${roots.join(", ")})` };
}

if (!isMainThread) {
  // A worker (its process.argv is the bridge's): compile each input it is sent, answer with the output.
  const solc = loadSolc();
  parentPort.on("message", ({ id, input }) => {
    parentPort.postMessage({ id, output: solc.compile(input, { import: findImports }) });
  });
  return;
}

// Per-contract outputs that name no source id or AST node, so a unit's equal the single
// compile's (the source maps' file indices are renumbered below). Not "*" nor the bare "evm"
// groups: they include generatedSources, whose ASTs carry ids.
const SPLITTABLE_OUTPUTS = new Set([
  "abi",
  "bin-runtime",
  "devdoc",
  "userdoc",
  "metadata",
  "evm.bytecode.object",
  "evm.bytecode.opcodes",
  "evm.bytecode.sourceMap",
  "evm.bytecode.linkReferences",
  "evm.deployedBytecode.object",
  "evm.deployedBytecode.opcodes",
  "evm.deployedBytecode.sourceMap",
  "evm.deployedBytecode.linkReferences",
  "evm.methodIdentifiers",
  "evm.gasEstimates",
]);

// The split: null when the input must be compiled whole, else the units and the AST job.
function plan(input) {
  if (input.language !== "Solidity" || !input.sources || !input.settings) return null;
  const names = Object.keys(input.sources).sort(); // solc answers in name order
  if (names.some((name) => typeof input.sources[name].content !== "string")) return null;
  const selection = input.settings.outputSelection || {};
  const remappings = [];
  for (const entry of input.settings.remappings || []) {
    const [prefix, target] = entry.split("=");
    if (target === undefined || prefix.includes(":")) return null; // context remappings: not modelled
    remappings.push([prefix, target]);
  }
  if ("*" in selection && Object.keys(selection).length > 1) return null; // solc merges the two: not modelled
  const fileSelection = (name) => selection[name] || selection["*"] || {};
  let wantsCode = false;
  for (const name of names) {
    for (const [contract, outputs] of Object.entries(fileSelection(name))) {
      if (contract === "") continue;
      for (const output of outputs) {
        if (!SPLITTABLE_OUTPUTS.has(output)) return null;
        if (output.startsWith("evm") || output === "bin-runtime") wantsCode = true;
      }
    }
  }
  if (!wantsCode) return null;

  // The import graph, as solc resolves source unit names: remapped, or relative to the importer.
  // A file the input does not hold is read as solc's import callback would read it (ape-solidity
  // sends only the project's own files when it has compiled before), and given to every job.
  const sources = { ...input.sources };
  const imports = new Map();
  const importPattern = /\bimport\s+(?:[^"';]*?\bfrom\s+)?["']([^"']+)["']/g;
  const pending = [...names];
  while (pending.length) {
    const name = pending.pop();
    if (imports.has(name)) continue;
    const found = new Set();
    for (const match of sources[name].content.matchAll(importPattern)) {
      let target = match[1];
      const mapped = remappings
        .filter(([prefix]) => target.startsWith(prefix))
        .sort((a, b) => b[0].length - a[0].length)[0];
      if (mapped) target = mapped[1] + target.slice(mapped[0].length);
      else if (target.startsWith("./") || target.startsWith("../"))
        target = path.posix.join(path.posix.dirname(name), target);
      if (!(target in sources)) {
        const read = findImports(target);
        if (read.error) return null; // solc will say what is missing
        sources[target] = { content: read.contents };
      }
      found.add(target);
      pending.push(target);
    }
    imports.set(name, found);
  }
  const all = Object.keys(sources).sort();
  const closure = (start) => {
    const seen = new Set();
    const stack = [start];
    while (stack.length) {
      const name = stack.pop();
      if (seen.has(name)) continue;
      seen.add(name);
      for (const next of imports.get(name)) stack.push(next);
    }
    return seen;
  };
  const imported = new Set([...imports.values()].flatMap((set) => [...set]));
  const size = (set) => [...set].reduce((sum, name) => sum + sources[name].content.length, 0);
  const units = all
    .filter((name) => !imported.has(name))
    .map((root) => ({ sources: closure(root) }))
    .sort((a, b) => size(b.sources) - size(a.sources));
  // Files only an import cycle reaches belong to no root's closure: one more unit for them.
  const covered = new Set(units.flatMap((unit) => [...unit.sources]));
  const rest = all.filter((name) => !covered.has(name));
  if (rest.length) units.push({ sources: new Set(rest.flatMap((name) => [...closure(name)])) });
  if (units.length < 2) return null;

  // Each file's contracts come from the first (largest) unit holding it.
  const perContract = (name) =>
    Object.fromEntries(Object.entries(fileSelection(name)).filter(([contract]) => contract !== ""));
  const owned = new Set();
  for (const unit of units) {
    unit.owns = [...unit.sources].filter((name) => !owned.has(name) && Object.keys(perContract(name)).length);
    for (const name of unit.owns) owned.add(name);
  }
  const jobs = units
    .filter((unit) => unit.owns.length)
    .map((unit) => ({
      owns: unit.owns,
      input: {
        ...input,
        sources: Object.fromEntries(all.filter((name) => unit.sources.has(name)).map((name) => [name, sources[name]])),
        settings: {
          ...input.settings,
          outputSelection: Object.fromEntries(unit.owns.map((name) => [name, perContract(name)])),
        },
      },
    }));
  // The whole input analysed without code generation: the AST, source ids and warnings of one
  // compile. Its sources are the input's as sent (solc numbers AST nodes in the order it loads
  // files, so the ones the input lacks are left to the import callback, as in one compile).
  const fileOutputs = (name) => fileSelection(name)[""] || [];
  const wantsAst = (name) => fileOutputs(name).length > 0;
  const fileLevel = (name) => ({ "": wantsAst(name) ? fileOutputs(name) : ["ast"] });
  const whole = {
    ...input,
    settings: { ...input.settings, outputSelection: Object.fromEntries(names.map((name) => [name, fileLevel(name)])) },
  };
  return { names, jobs, whole, wantsAst };
}

// A source map's file indices, from a unit's numbering to the whole input's. Indices past the
// unit's sources are compiler-generated sources, numbered after the sources in either.
function renumber(sourceMap, localToGlobal, localCount, globalCount) {
  return sourceMap
    .split(";")
    .map((entry) => {
      const fields = entry.split(":");
      if (fields.length > 2 && fields[2] !== "" && fields[2] !== "-1") {
        const local = Number(fields[2]);
        fields[2] = String(local < localCount ? localToGlobal[local] : local - localCount + globalCount);
      }
      return fields.join(":");
    })
    .join(";");
}

// The outputs of an error-free split (compileSplit stops at the first error) as one compile's.
function merge(split, wholeOutput, unitOutputs) {
  const globalIds = Object.fromEntries(Object.entries(wholeOutput.sources).map(([name, source]) => [name, source.id]));
  const globalCount = Object.keys(globalIds).length;
  const byFile = new Map();
  unitOutputs.forEach((output, index) => {
    const localIds = Object.entries(output.sources || {});
    const localToGlobal = [];
    for (const [name, source] of localIds) localToGlobal[source.id] = globalIds[name];
    for (const name of split.jobs[index].owns) {
      const contracts = (output.contracts || {})[name];
      if (!contracts) continue;
      for (const contract of Object.values(contracts)) {
        for (const part of ["bytecode", "deployedBytecode"]) {
          const code = contract.evm && contract.evm[part];
          if (code && typeof code.sourceMap === "string") {
            code.sourceMap = renumber(code.sourceMap, localToGlobal, localIds.length, globalCount);
          }
        }
      }
      byFile.set(name, contracts);
    }
  });
  const seen = new Set();
  const errors = [];
  for (const output of [wholeOutput, ...unitOutputs]) {
    for (const error of output.errors || []) {
      const key = JSON.stringify([error.severity, error.formattedMessage, error.sourceLocation]);
      if (!seen.has(key)) (errors.push(error), seen.add(key));
    }
  }
  const merged = {
    contracts: Object.fromEntries(
      split.names.filter((name) => byFile.has(name)).map((name) => [name, byFile.get(name)]),
    ),
  };
  if (errors.length) merged.errors = errors;
  merged.sources = Object.fromEntries(
    Object.entries(wholeOutput.sources).map(([name, source]) => [
      name,
      split.wantsAst(name) ? source : { id: source.id },
    ]),
  );
  return merged;
}

async function compileSplit(split, workers) {
  const pool = Array.from({ length: workers }, () => new Worker(__filename, { argv: process.argv.slice(2) }));
  try {
    const queue = [split.whole, ...split.jobs.map((job) => job.input)].map((input, id) => ({ id, input }));
    const outputs = new Array(queue.length);
    let next = 0;
    await Promise.all(
      pool.map(
        (worker) =>
          new Promise((resolve, reject) => {
            const send = () => {
              if (next >= queue.length) return resolve();
              const { id, input } = queue[next++];
              worker.postMessage({ id, input: JSON.stringify(input) });
            };
            worker.on("message", ({ id, output }) => {
              try {
                outputs[id] = JSON.parse(output);
              } catch (error) {
                return reject(error);
              }
              // An error ends the split at once: the whole input is compiled instead, and solc
              // stops there quickly (the whole input's analysis runs first).
              if ((outputs[id].errors || []).some((e) => e.severity === "error"))
                return reject(new Error("an error in the input"));
              send();
            });
            worker.on("error", reject);
            worker.on("exit", (code) => reject(new Error(`a solc worker exited (code ${code})`)));
            send();
          }),
      ),
    );
    return merge(split, outputs[0], outputs.slice(1));
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
}

async function main() {
  const input = fs.readFileSync(0, "utf8");
  if (!input.trim()) fail("--standard-json expects the JSON input on stdin");
  // At most 8 by default: each worker holds a solc heap of a few hundred MB.
  const cores = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  const workers = Math.floor(Number(process.env.SOLC_BRIDGE_JOBS || Math.min(cores, 8))) || 1;
  let split = null;
  if (workers > 1) {
    try {
      split = plan(JSON.parse(input));
    } catch {
      split = null; // not JSON solc can split: it answers with its own error below
    }
  }
  if (split) {
    const pool = Math.min(workers, split.jobs.length + 1);
    let merged = null;
    try {
      merged = await compileSplit(split, pool);
    } catch (error) {
      trace(`${error.message}: compiling the input whole`); // an error in the input, or a worker that died
    }
    if (merged !== null) {
      trace(`${split.jobs.length} units and the whole input's analysis on ${pool} workers`);
      process.stdout.write(JSON.stringify(merged));
      return;
    }
  } else {
    trace("compiling the input whole");
  }
  process.stdout.write(loadSolc().compile(input, { import: findImports }));
}

main().catch((error) => fail(error && error.stack ? error.stack : String(error)));
