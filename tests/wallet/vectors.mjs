// Computes WalletConnect primitives with the official JS packages, for cross-checks from Python.
// Input: one JSON object in argv[2]; output: one JSON object on stdout.
import { deriveSymKey, hashKey, encrypt, decrypt, parseUri, formatUri } from "@walletconnect/utils";
import { signJWT, verifyJWT, generateKeyPair, encodeIss } from "@walletconnect/relay-auth";

const input = JSON.parse(process.argv[2]);
const result = {};
result.symKey = deriveSymKey(input.privateKey, input.peerPublicKey);
result.topic = hashKey(input.symKey);
result.type0 = encrypt({ symKey: input.symKey, message: input.message, iv: input.iv });
result.type1 = encrypt({ symKey: input.symKey, message: input.message, iv: input.iv, type: 1,
  senderPublicKey: input.peerPublicKey });
result.decrypted = decrypt({ symKey: input.symKey, encoded: input.pythonEnvelope });
result.parsedUri = parseUri(input.uri);
result.formattedUri = formatUri({ ...result.parsedUri, protocol: "wc" });
result.pythonJwtValid = await verifyJWT(input.pythonJwt);
const keyPair = generateKeyPair(Uint8Array.from(Buffer.from(input.seed, "hex")));
result.iss = encodeIss(keyPair.publicKey);
result.jsJwt = await signJWT("ab".repeat(32), "wss://relay.example", 3600, keyPair, 1700000000);
process.stdout.write(JSON.stringify(result));
