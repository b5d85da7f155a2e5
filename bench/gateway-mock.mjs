// A minimal OpenAI upstream for bench:gateway: plain node:http, fixed answers, no parsing beyond
// the one flag it needs (streaming or not). Writes `READY <port>` on fd 3.
import { writeSync } from "node:fs";
import { createServer } from "node:http";

const JSON_ANSWER = JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 1,
  model: "mock-model",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello! This is a fixed answer from the mock upstream." }, finish_reason: "stop", logprobs: null }],
  usage: { prompt_tokens: 12, completion_tokens: 11, total_tokens: 23 },
});
const chunk = (delta, finish = null) =>
  `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1, model: "mock-model", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const WORDS = "Hello ! This is a fixed answer from the mock upstream .".split(" ");
const SSE_ANSWER =
  chunk({ role: "assistant", content: "" }) +
  WORDS.map((w) => chunk({ content: `${w} ` })).join("") +
  chunk({}, "stop") +
  `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1, model: "mock-model", choices: [], usage: { prompt_tokens: 12, completion_tokens: 11, total_tokens: 23 } })}\n\n` +
  "data: [DONE]\n\n";

const server = createServer((req, res) => {
  if (req.method === "GET") {
    res.writeHead(200, { "content-type": "application/json" }).end('{"object":"list","data":[{"id":"mock-model","object":"model"}]}');
    return;
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const stream = Buffer.concat(chunks).includes('"stream":true');
    if (stream) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.end(SSE_ANSWER);
    } else {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(JSON_ANSWER) });
      res.end(JSON_ANSWER);
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => writeSync(3, `READY ${server.address().port}\n`));
