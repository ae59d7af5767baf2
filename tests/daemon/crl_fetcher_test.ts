/**
 * fetchCrl over a real HTTP server on loopback: the body comes back, and
 * every way it can go wrong is a reason, never an exception.
 */
import assert from "node:assert/strict";
import { fetchCrl } from "../../lib/daemon/crl_fetcher.ts";

async function withServer(
  handler: (req: Request) => Response | Promise<Response>,
  f: (base: string) => Promise<void>,
) {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    handler,
  );
  try {
    await f(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    ac.abort();
    await server.finished;
  }
}

Deno.test("fetchCrl: the body of a 200 answer", async () => {
  const body = Uint8Array.from({ length: 70_000 }, (_, i) => i & 0xff);
  await withServer((req) => {
    assert.equal(new URL(req.url).pathname, "/ca.crl");
    return new Response(body, { headers: { "content-type": "application/pkix-crl" } });
  }, async (base) => {
    const r = await fetchCrl(`${base}/ca.crl`);
    assert.ok("bytes" in r, JSON.stringify(r));
    assert.deepEqual(r.bytes, body);
  });
});

Deno.test("fetchCrl: HTTP errors, too large bodies, timeouts and other schemes are reasons", async () => {
  let hold: (() => void) | undefined;
  await withServer(async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/missing") return new Response("no", { status: 404, statusText: "Not Found" });
    if (path === "/slow") {
      await new Promise<void>((r) => (hold = r));
      return new Response("late");
    }
    return new Response(new Uint8Array(5000));
  }, async (base) => {
    assert.deepEqual(await fetchCrl(`${base}/missing`), { error: "HTTP 404 Not Found" });
    assert.match(
      (await fetchCrl(`${base}/big`, { maxBytes: 1000 }) as { error: string }).error,
      /more than the 1000/,
    );
    assert.deepEqual(await fetchCrl(`${base}/slow`, { timeoutMs: 200 }), {
      error: "no answer within 0.2 s",
    });
    hold?.();
  });
  assert.match(
    (await fetchCrl("ldap://ldap.example.org/cn=CA?certificateRevocationList") as {
      error: string;
    }).error,
    /only http and https URIs are fetched, not ldap:/,
  );
  assert.deepEqual(await fetchCrl("not a url"), { error: "'not a url' is not a URL" });
  // Nothing listens there (port 1 on loopback): refused, reported.
  const refused = await fetchCrl("http://127.0.0.1:1/ca.crl", { timeoutMs: 2000 });
  assert.ok("error" in refused);
});
