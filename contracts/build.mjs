#!/usr/bin/env node
// Compile the escrow and the test contracts with the pinned solc-js, writing committed artifacts.
//   node contracts/build.mjs          write bot/chain/artifacts/*.json (package data: the bot loads them)
//                                     and contracts/test/artifacts/*.json
//   node contracts/build.mjs --check  recompile in memory; exit 1 if any committed artifact is stale
// The EVM version is pinned (solc-js 0.8.37 defaults to osaka, which most chains do not run yet).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const HERE = dirname(fileURLToPath(import.meta.url));
const SETTINGS = {
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 200 },
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.deployedBytecode.immutableReferences"] },
  },
};

// Each unit: the directory holding its sources, the files to compile, and where artifacts go.
const UNITS = [
  { dir: HERE, files: ["GpuEscrow.sol"], out: join(HERE, "..", "bot", "chain", "artifacts") },
  {
    dir: join(HERE, "test"),
    files: readdirSync(join(HERE, "test")).filter((f) => f.endsWith(".sol")).sort(),
    out: join(HERE, "test", "artifacts"),
  },
];

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

function compile(unit) {
  const sources = {};
  for (const f of unit.files) sources[f] = { content: readFileSync(join(unit.dir, f), "utf8") };
  const findImports = (path) => {
    const full = resolve(unit.dir, path);
    if (!full.startsWith(unit.dir) || !existsSync(full)) return { error: `not found: ${path}` };
    return { contents: readFileSync(full, "utf8") };
  };
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
  if (errors.length) throw new Error(`compilation failed in ${unit.dir}`);
  const artifacts = {};
  for (const f of unit.files) {
    for (const [name, c] of Object.entries(output.contracts[f] || {})) {
      if (!c.evm.bytecode.object) continue; // interfaces: nothing to deploy
      artifacts[name] = {
        contractName: name,
        sourceName: f,
        compiler: { name: "solc-js", version: solc.version() },
        settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer },
        sourceSha256: sha256(sources[f].content),
        abi: c.abi,
        bytecode: "0x" + c.evm.bytecode.object,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
        // where the constructor writes each immutable into the runtime code (zeroed in deployedBytecode):
        // the bot masks these to check a deployed contract's code against this artifact
        immutableReferences: c.evm.deployedBytecode.immutableReferences || {},
      };
    }
  }
  return artifacts;
}

const check = process.argv.includes("--check");
let stale = 0;
for (const unit of UNITS) {
  for (const [name, artifact] of Object.entries(compile(unit))) {
    const path = join(unit.out, `${name}.json`);
    const text = JSON.stringify(artifact, null, 2) + "\n";
    if (check) {
      if (!existsSync(path) || readFileSync(path, "utf8") !== text) {
        process.stderr.write(`stale artifact: ${path}\n`);
        stale += 1;
      }
    } else {
      mkdirSync(unit.out, { recursive: true });
      writeFileSync(path, text);
      process.stdout.write(`wrote ${path}\n`);
    }
  }
}
if (check && stale) {
  process.stderr.write(`${stale} artifact(s) stale: run node contracts/build.mjs\n`);
  process.exit(1);
}
if (check) process.stdout.write("artifacts up to date\n");
