import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { TurnWriter, writeTurn } from "../../src/http/write-turn.js";

describe("writeTurn", () => {
  it("is one promise for every caller of a turn, settled in the loop's check phase (not with the tick's microtasks), and a new one next turn", async () => {
    const order: string[] = [];
    setImmediate(() => order.push("immediate queued earlier"));
    const a = writeTurn();
    assert.equal(writeTurn(), a);
    void a.then(() => order.push("turn"));
    await Promise.resolve();
    assert.deepEqual(order, [], "not settled with the microtasks of the same tick");
    await a;
    assert.deepEqual(order, ["immediate queued earlier", "turn"]);
    const b = writeTurn();
    assert.notEqual(b, a);
    await b;
  });
});

describe("TurnWriter on a real HTTP response", () => {
  let server: Server;
  let url: string;
  /** The next request's response, handed to the test (head set, nothing written). */
  let nextResponse: ((res: ServerResponse) => void) | null = null;

  before(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      nextResponse?.(res);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => server.close());

  /** Starts a request; resolves with the server's response and the client's once its head arrives. */
  async function exchange(): Promise<{ res: ServerResponse; client: Promise<IncomingMessage> }> {
    const served = new Promise<ServerResponse>((resolve) => (nextResponse = resolve));
    const req = httpRequest(url);
    const client = new Promise<IncomingMessage>((resolve, reject) => {
      req.on("response", resolve);
      req.on("error", reject);
    });
    req.end();
    return { res: await served, client };
  }

  const text = async (m: IncomingMessage): Promise<string> => {
    let s = "";
    for await (const c of m) s += String(c);
    return s;
  };

  it("writes nothing before the turn ends, then the head and what was written, in order, and the end with them", async () => {
    const { res, client } = await exchange();
    const sentBefore = res.socket!.bytesWritten;
    const w = new TurnWriter(res);
    w.write("a");
    w.write(Buffer.from("b"));
    w.write(""); // nothing to write: ignored
    w.end("c");
    assert.equal(w.closed, true, "closed once the end is queued");
    w.write("late"); // after the end: ignored
    assert.equal(res.socket!.bytesWritten, sentBefore, "nothing sent within the turn");
    await writeTurn();
    assert.equal(res.writableEnded, true);
    assert.equal(await text(await client), "abc");
  });

  it("sends the head at the turn's end even with no body yet, and later writes in later turns", async () => {
    const { res, client } = await exchange();
    const w = new TurnWriter(res);
    await writeTurn();
    const m = await client; // the client has the head while the body is still to come
    assert.equal(m.statusCode, 200);
    w.write("one ");
    await writeTurn();
    w.write("two");
    w.end();
    assert.equal(await text(m), "one two");
  });

  it("makes a producer wait while the client does not read, and lets it go on once it does", async () => {
    const { res, client } = await exchange();
    const w = new TurnWriter(res);
    const m = await client;
    m.pause();
    const big = Buffer.alloc(4 << 20, 0x61);
    w.write(big);
    await writeTurn();
    let released = false;
    const ready = w.ready().then(() => (released = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(released, false, "waits: 4 MiB cannot all be taken by a client that reads nothing");
    let got = 0;
    m.on("data", (c: Buffer) => (got += c.length));
    m.resume();
    await ready;
    w.end();
    await once(m, "end");
    assert.equal(got, big.length);
  });

  it("drops what is queued when the client is gone before the turn ends, without throwing", async () => {
    const { res, client } = await exchange();
    const w = new TurnWriter(res);
    await writeTurn();
    const m = await client;
    m.destroy();
    await once(res, "close");
    w.write("never sent");
    w.end();
    await writeTurn();
    assert.equal(res.destroyed, true);
    await w.ready(); // does not wait on a response that is gone
  });
});
