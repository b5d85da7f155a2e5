// Time to first byte of streamed answers at one connection (keep-alive), from its own process.
// Usage: node bench/gateway-ttfb.mjs URL N MODEL [HEADERS_JSON] → prints JSON { p50, p99, mean } in ms.
import { request, Agent } from "node:http";

const [url, nArg, model = "bench-gateway", headersJson = "{}"] = process.argv.slice(2);
const extraHeaders = JSON.parse(headersJson);
const n = Number(nArg ?? 300);
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const body = JSON.stringify({ model, stream: true, messages: [{ role: "user", content: "Say hello." }] });
const u = new URL(url);

const one = () =>
  new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let first = null;
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent, headers: { ...extraHeaders, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        res.on("data", () => {
          first ??= process.hrtime.bigint();
        });
        res.on("end", () => resolve(Number((first ?? process.hrtime.bigint()) - t0) / 1e6));
      },
    );
    req.on("error", reject);
    req.end(body);
  });

for (let i = 0; i < 30; i++) await one(); // warm up
const xs = [];
for (let i = 0; i < n; i++) xs.push(await one());
xs.sort((a, b) => a - b);
const pct = (p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
process.stdout.write(JSON.stringify({ p50: pct(50), p99: pct(99), mean: xs.reduce((a, b) => a + b, 0) / xs.length }) + "\n");
agent.destroy();
