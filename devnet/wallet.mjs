// A real wallet for interop tests and the demo: the official @reown/walletkit on @walletconnect/core.
//
// Usage: node devnet/wallet.mjs '<json config>'
//   config: { relayUrl, uri, privateKey, rpcUrl, chainId,
//             session: "approve" | "reject",                    (default approve)
//             requests: "answer" | "reject" | "ignore",         (default answer)
//             accountChainId?: number }                         (chain of the account we share)
// Further JSON commands on stdin, one a line: {"cmd":"disconnect"} | {"cmd":"ping"} | {"cmd":"exit"}
//   | {"cmd":"set", "requests": "..."} | {"cmd":"answer-pending"} (answer requests left by "ignore")
//   | {"cmd":"switch-chain", "chainId": 1} (wc_sessionUpdate, then a chainChanged wc_sessionEvent)
// Prints one JSON object a line on stdout, each with an "event" field; SDK noise goes to stderr.
//
// Storage is an in-memory key-value store, so the SDK writes nothing to disk; telemetry is off.
import { Core } from "@walletconnect/core";
import { WalletKit } from "@reown/walletkit";
import { getSdkError } from "@walletconnect/utils";
import { Address, Hex, PersonalMessage, Secp256k1, Signature, TransactionEnvelopeEip1559, TypedData } from "ox";
import readline from "node:readline";

const out = (event, data = {}) => process.stdout.write(JSON.stringify({ event, ...data }) + "\n");
// Keep stdout for our JSON lines only.
console.log = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");

const config = JSON.parse(process.argv[2] ?? "{}");
const privateKey = config.privateKey;
const address = Address.fromPublicKey(Secp256k1.getPublicKey({ privateKey }));
const accountChainId = config.accountChainId ?? config.chainId;
let requestMode = config.requests ?? "answer";

class MemoryStorage {
  constructor() { this.map = new Map(); }
  async getKeys() { return [...this.map.keys()]; }
  async getEntries() { return [...this.map.entries()]; }
  async getItem(key) { return this.map.get(key); }
  async setItem(key, value) { this.map.set(key, value); }
  async removeItem(key) { this.map.delete(key); }
}

async function rpc(method, params) {
  const res = await fetch(config.rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

function personalSign(message) {
  const data = Hex.validate(message) ? message : Hex.fromString(message);
  const signature = Secp256k1.sign({ payload: PersonalMessage.getSignPayload(data), privateKey });
  return Signature.toHex(signature);
}

function signTypedData(json) {
  const typed = typeof json === "string" ? JSON.parse(json) : json;
  const { EIP712Domain, ...types } = typed.types;
  const payload = TypedData.getSignPayload({ ...typed, types });
  return Signature.toHex(Secp256k1.sign({ payload, privateKey }));
}

async function sendTransaction(tx) {
  // Sign locally, as a real wallet does, then broadcast the raw transaction to anvil.
  const [nonce, block, tip] = await Promise.all([
    rpc("eth_getTransactionCount", [address, "pending"]),
    rpc("eth_getBlockByNumber", ["latest", false]),
    rpc("eth_maxPriorityFeePerGas", []),
  ]);
  const gas = tx.gas ?? tx.gasLimit ?? (await rpc("eth_estimateGas", [{ ...tx, from: address }]));
  const maxPriorityFeePerGas = BigInt(tip);
  const envelope = TransactionEnvelopeEip1559.from({
    chainId: Number(accountChainId),
    nonce: BigInt(nonce),
    to: tx.to,
    value: BigInt(tx.value ?? 0),
    data: tx.data ?? tx.input ?? "0x",
    gas: BigInt(gas),
    maxPriorityFeePerGas,
    maxFeePerGas: BigInt(block.baseFeePerGas) * 2n + maxPriorityFeePerGas,
  });
  const signature = Secp256k1.sign({ payload: TransactionEnvelopeEip1559.getSignPayload(envelope), privateKey });
  const raw = TransactionEnvelopeEip1559.serialize(envelope, { signature });
  return rpc("eth_sendRawTransaction", [raw]);
}

const core = new Core({
  projectId: config.projectId ?? "gpuflow-tests",
  relayUrl: config.relayUrl,
  storage: new MemoryStorage(),
  telemetryEnabled: false,
  logger: config.logLevel ?? "silent",
});
const kit = await WalletKit.init({
  core,
  metadata: { name: "interop test wallet", description: "WalletKit in a test", url: "https://wallet.test", icons: [] },
});

kit.on("session_proposal", async ({ id, params }) => {
  out("proposal", { id, proposer: params.proposer.metadata.name, optionalNamespaces: params.optionalNamespaces });
  try {
    if ((config.session ?? "approve") === "reject") {
      await kit.rejectSession({ id, reason: getSdkError("USER_REJECTED") });
      out("rejected_session", { id });
      return;
    }
    const wanted = params.optionalNamespaces?.eip155 ?? params.requiredNamespaces?.eip155 ?? {};
    const chain = `eip155:${accountChainId}`;
    const session = await kit.approveSession({
      id,
      namespaces: {
        eip155: {
          chains: [chain],
          accounts: [`${chain}:${address}`],
          methods: wanted.methods ?? ["personal_sign"],
          events: wanted.events ?? [],
        },
      },
    });
    out("approved", { topic: session.topic, address });
  } catch (error) {
    out("error", { where: "proposal", message: String(error?.message ?? error) });
  }
});

kit.on("session_request", async ({ id, topic, params }) => {
  out("request", { id, method: params.request.method, chainId: params.chainId });
  if (requestMode !== "ignore") await handleRequest(id, topic, params);
});

async function handleRequest(id, topic, params) {
  const { method, params: args } = params.request;
  try {
    if (requestMode === "reject") {
      await kit.respondSessionRequest({ topic, response: { id, jsonrpc: "2.0", error: getSdkError("USER_REJECTED") } });
      out("rejected_request", { id });
      return;
    }
    let result;
    if (method === "personal_sign") result = personalSign(args[0]);
    else if (method === "eth_signTypedData_v4") result = signTypedData(args[1]);
    else if (method === "eth_sendTransaction") result = await sendTransaction(args[0]);
    else throw new Error(`unsupported method ${method}`);
    await kit.respondSessionRequest({ topic, response: { id, jsonrpc: "2.0", result } });
    out("answered", { id, method, result });
  } catch (error) {
    await kit.respondSessionRequest({
      topic, response: { id, jsonrpc: "2.0", error: { code: -32000, message: String(error?.message ?? error) } },
    }).catch(() => {});
    out("error", { where: "request", message: String(error?.message ?? error) });
  }
}

kit.on("session_delete", ({ topic }) => out("session_deleted", { topic }));

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  try {
    const sessions = Object.values(kit.getActiveSessions());
    if (cmd.cmd === "exit") process.exit(0);
    if (cmd.cmd === "set") { requestMode = cmd.requests; out("set", { requests: requestMode }); }
    if (cmd.cmd === "disconnect") {
      for (const s of sessions) await kit.disconnectSession({ topic: s.topic, reason: getSdkError("USER_DISCONNECTED") });
      out("disconnected", { count: sessions.length });
    }
    if (cmd.cmd === "ping") {
      for (const s of sessions) await kit.engine.signClient.ping({ topic: s.topic });
      out("pinged", { count: sessions.length });
    }
    if (cmd.cmd === "switch-chain") {
      // What a wallet does when the user picks another network: widen the session, then announce it.
      const chain = `eip155:${cmd.chainId}`;
      for (const s of sessions) {
        const ns = s.namespaces.eip155;
        const namespaces = { eip155: { ...ns, chains: [...new Set([...(ns.chains ?? []), chain])],
          accounts: [...new Set([...ns.accounts, `${chain}:${address}`])] } };
        const { acknowledged } = await kit.updateSession({ topic: s.topic, namespaces });
        await acknowledged();
        await kit.emitSessionEvent({ topic: s.topic, chainId: chain, event: { name: "chainChanged", data: cmd.chainId } });
      }
      out("switched", { chainId: cmd.chainId });
    }
    if (cmd.cmd === "answer-pending") {
      const pending = kit.getPendingSessionRequests();
      for (const r of pending) await handleRequest(r.id, r.topic, r.params);
      out("answered-pending", { count: pending.length });
    }
    if (cmd.cmd === "sessions") out("sessions", { topics: sessions.map((s) => s.topic) });
  } catch (error) {
    out("error", { where: cmd.cmd, message: String(error?.message ?? error) });
  }
});

out("ready", { address });
try {
  await kit.pair({ uri: config.uri });
  out("paired");
} catch (error) {
  out("error", { where: "pair", message: String(error?.message ?? error) });
}
