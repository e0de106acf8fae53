// Benchmark peer of `go run ./cmd/bench`: closing a PAYJS order from
// Node.js 20 with the AWS SDK v3 and fetch.
//
// Loads the key from Secrets Manager (endpoint from
// AWS_ENDPOINT_URL_SECRETS_MANAGER, i.e. moto), closes one order, then
// BENCH_CLOSES more with fetch (undici keeps the connection alive).
//
// Environment: PAYJS_SECRET_ID, PAYJS_BASE_URL, BENCH_ORDER_PREFIX (order i
// is the prefix followed by i, zero-padded to 28 characters), BENCH_CLOSES.
// Prints one JSON line: {"first_ms": ..., "per_close_ms": ...}.
// cmd/bench installs @aws-sdk/client-secrets-manager (package.json beside
// this file) into a cache directory under .bin/ and runs a copy from there.
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { SecretsManagerClient, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";

function sign(params, key) {
  const text = Object.keys(params).sort()
    .filter((k) => params[k] !== "" && params[k] !== "0")
    .map((k) => `${k}=${params[k]}`).join("&");
  return createHash("md5").update(`${text}&key=${key}`, "utf8").digest("hex").toUpperCase();
}

async function close(url, key, id) {
  const params = { payjs_order_id: id };
  params.sign = sign(params, key);
  const res = await fetch(url, { method: "POST", body: new URLSearchParams(params) });
  const answer = await res.json();
  if (answer.return_code !== 1) throw new Error(`order ${id}: ${JSON.stringify(answer)}`);
}

const client = new SecretsManagerClient({ endpoint: process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER });
const out = await client.send(new GetSecretValueCommand({ SecretId: process.env.PAYJS_SECRET_ID }));
const secret = JSON.parse(out.SecretString);
const url = process.env.PAYJS_BASE_URL.replace(/\/+$/, "") + "/api/close";
const prefix = process.env.BENCH_ORDER_PREFIX;
const n = Number(process.env.BENCH_CLOSES || "0");
const order = (i) => prefix + String(i).padStart(28 - prefix.length, "0");

await close(url, secret.key, order(0));
const first = performance.now(); // since the process started
const t = performance.now();
for (let i = 1; i <= n; i++) await close(url, secret.key, order(i));
const per = n ? (performance.now() - t) / n : 0;
console.log(JSON.stringify({ first_ms: first, per_close_ms: per }));
client.destroy();
