#!/usr/bin/env node
// Compile plugins/rsk_bridge/contracts/CalpeCheckpoints.sol with the pinned npm `solc` (solcjs)
// and write the artifact JSON next to it (or to --out PATH). Deterministic: same source, same
// compiler, same settings give the same bytes, which is what tests/rsk_bridge checks.
//
//   node scripts/compile_contract.js              # rewrite the committed artifact
//   node scripts/compile_contract.js --out FILE   # write elsewhere (the test compares)
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const ROOT = path.resolve(__dirname, "..");
const CONTRACT_DIR = path.join(ROOT, "plugins", "rsk_bridge", "contracts");
const SOURCE_NAME = "CalpeCheckpoints.sol";
const CONTRACT_NAME = "CalpeCheckpoints";

// RSK runs the Cancun instruction set at most: newer solc defaults to a newer EVM.
const SETTINGS = {
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 10000 },
  outputSelection: {
    [SOURCE_NAME]: { [CONTRACT_NAME]: ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
  },
};

function parseOut(argv) {
  const i = argv.indexOf("--out");
  if (i === -1) return path.join(CONTRACT_DIR, `${CONTRACT_NAME}.json`);
  if (i + 1 >= argv.length) throw new Error("--out needs a file path");
  return path.resolve(argv[i + 1]);
}

function compile() {
  const source = fs.readFileSync(path.join(CONTRACT_DIR, SOURCE_NAME), "utf8");
  const input = { language: "Solidity", sources: { [SOURCE_NAME]: { content: source } }, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
  if (problems.length > 0) throw new Error(`${problems.length} compiler error(s)`);
  const contract = output.contracts[SOURCE_NAME][CONTRACT_NAME];
  return {
    contractName: CONTRACT_NAME,
    sourceName: SOURCE_NAME,
    compiler: { name: "solc", version: solc.version() },
    settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer },
    abi: contract.abi,
    bytecode: "0x" + contract.evm.bytecode.object,
    deployedBytecode: "0x" + contract.evm.deployedBytecode.object,
  };
}

function main() {
  const out = parseOut(process.argv.slice(2));
  const artifact = compile();
  fs.writeFileSync(out, JSON.stringify(artifact, null, 2) + "\n");
  process.stdout.write(`wrote ${out} (solc ${artifact.compiler.version})\n`);
}

main();
