import { createServer } from "node:http";
import { startTaxiiServer, stixIndicator, type TaxiiServer } from "../../../../../test/utils/taxii-server";
import {
  apiRootProblem,
  fallbackCursor,
  fetchTaxiiPage,
  laterTimestamp,
  objectsUrl,
  readEnvelope,
  TAXII_LIMITS,
  TaxiiError,
  type TaxiiPageRequest,
} from "./taxii-client";

/** The TAXII client against a real local TAXII 2.1 server. */
describe("TAXII 2.1 client", () => {
  let server: TaxiiServer;
  const call = (over: Partial<TaxiiPageRequest> = {}): TaxiiPageRequest => ({
    apiRoot: server.apiRoot,
    collectionId: "c1",
    credentials: { kind: "NONE" },
    addedAfter: null,
    next: null,
    limits: { ...TAXII_LIMITS, pageSize: 2 },
    allowPrivate: true,
    requireHttps: false,
    ...over,
  });
  const failure = async (request: TaxiiPageRequest) => {
    try {
      await fetchTaxiiPage(request);
    } catch (err) {
      expect(err).toBeInstanceOf(TaxiiError);
      return (err as TaxiiError).message;
    }
    throw new Error("the call did not fail");
  };

  beforeEach(async () => {
    server = await startTaxiiServer();
    server.add("c1", ...[1, 2, 3].map((n) => stixIndicator(`[ipv4-addr:value = '198.51.100.${n}']`)));
  });
  afterEach(() => server.close());

  it("pages through a collection with next and moves the cursor by X-TAXII-Date-Added-Last", async () => {
    const first = await fetchTaxiiPage(call());
    expect(first.objects).toHaveLength(2);
    expect(first.more).toBe(true);
    expect(first.dateAddedLast).toBe(server.collections.get("c1")![1].dateAdded);
    const second = await fetchTaxiiPage(call({ next: first.next }));
    expect(second.objects).toHaveLength(1);
    expect(second.more).toBe(false);
    expect(server.requests.map((r) => [r.limit, r.next])).toEqual([
      ["2", null],
      ["2", first.next],
    ]);
    // The cursor, microseconds and all, brings only what was added after it.
    server.add("c1", stixIndicator("[ipv4-addr:value = '198.51.100.4']"));
    const later = await fetchTaxiiPage(call({ addedAfter: second.dateAddedLast }));
    expect(later.objects.map((o) => (o as { pattern: string }).pattern)).toEqual([
      "[ipv4-addr:value = '198.51.100.4']",
    ]);
  });

  it("sends the credentials and says when the server refuses them", async () => {
    server.auth = { kind: "basic", username: "rampart", password: "s3cret" };
    expect(await failure(call())).toBe("HTTP 401: the server refused the credentials");
    const ok = await fetchTaxiiPage(
      call({ credentials: { kind: "BASIC", username: "rampart", password: "s3cret" } }),
    );
    expect(ok.objects).toHaveLength(2);
    server.auth = { kind: "api-key", header: "X-Feed-Key", key: "k-123" };
    expect(
      (await fetchTaxiiPage(call({ credentials: { kind: "API_KEY", header: "X-Feed-Key", key: "k-123" } })))
        .objects,
    ).toHaveLength(2);
  });

  it("reports server faults: 404, 5xx, bad JSON, not an envelope, an answer over the size cap", async () => {
    expect(await failure(call({ collectionId: "nope" }))).toBe("HTTP 404: no such API root or collection");
    server.failure = { kind: "status", status: 503 };
    expect(await failure(call())).toBe("HTTP 503");
    server.failure = { kind: "bad-json" };
    expect(await failure(call())).toBe("the answer is not JSON");
    server.failure = { kind: "not-envelope" };
    expect(await failure(call())).toBe("the answer is not a TAXII envelope (expected a JSON object)");
    server.failure = { kind: "huge", bytes: 200_000 };
    expect(await failure(call({ limits: { ...TAXII_LIMITS, maxResponseBytes: 100_000 } }))).toMatch(
      /100000 bytes/,
    );
  });

  it("refuses a loopback server unless private targets are allowed", async () => {
    expect(await failure(call({ allowPrivate: false }))).toBe(
      "the API root URL must not target 127.0.0.1, which is not a public address",
    );
    expect(
      await failure(call({ allowPrivate: false, apiRoot: server.apiRoot.replace("127.0.0.1", "localhost") })),
    ).toMatch(/resolves to .* which is not a public address/);
    expect(server.requests).toEqual([]);
  });

  it("times out a server that does not answer", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      expect(
        await failure(
          call({ apiRoot: `http://127.0.0.1:${port}/api1/`, limits: { ...TAXII_LIMITS, timeoutMs: 300 } }),
        ),
      ).toBe("timed out after 300 ms");
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it("checks API roots and builds the objects URL", () => {
    expect(objectsUrl("https://t.example/api1", "a b").href).toBe(
      "https://t.example/api1/collections/a%20b/objects/",
    );
    expect(
      apiRootProblem("https://u:p@t.example/api1/", { requireHttps: true, allowPrivate: false }),
    ).toMatch(/credentials/);
    expect(apiRootProblem("http://t.example/api1/", { requireHttps: true, allowPrivate: false })).toBe(
      "must use https",
    );
    expect(apiRootProblem("https://10.0.0.1/api1/", { requireHttps: true, allowPrivate: false })).toMatch(
      /not a public address/,
    );
    expect(apiRootProblem("https://t.example/api1/?x=1", { requireHttps: true, allowPrivate: false })).toBe(
      "must not have a query or fragment",
    );
    expect(apiRootProblem("https://t.example/api1/", { requireHttps: true, allowPrivate: false })).toBeNull();
  });

  it("reads envelopes strictly and picks the newest timestamp as a fallback cursor", () => {
    expect(readEnvelope({})).toEqual({ objects: [], more: false, next: null });
    expect(readEnvelope({ type: "bundle", objects: [] })).toMatch(/STIX bundle/);
    expect(readEnvelope({ more: true })).toMatch(/no next/);
    expect(readEnvelope({ objects: {} })).toMatch(/not an array/);
    expect(
      fallbackCursor([
        { modified: "2026-01-02T00:00:00Z" },
        { modified: "2026-01-03T00:00:00.000001Z" },
        { created: "2027-01-01T00:00:00Z" },
      ]),
    ).toBe("2026-01-03T00:00:00.000001Z");
    expect(fallbackCursor([{ date_added: "2026-01-01T00:00:00Z", modified: "2026-05-01T00:00:00Z" }])).toBe(
      "2026-01-01T00:00:00Z",
    );
    expect(laterTimestamp("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000123Z")).toBe(
      "2026-01-01T00:00:00.000123Z",
    );
    expect(laterTimestamp("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z")).toBe("2026-01-02T00:00:00Z");
    // A header that is not a timestamp never becomes the cursor.
    expect(laterTimestamp(null, "garbage")).toBeNull();
    expect(laterTimestamp("2026-01-02T00:00:00Z", `2027-01-01T00:00:00Z${"0".repeat(100)}`)).toBe(
      "2026-01-02T00:00:00Z",
    );
    expect(fallbackCursor([{ modified: "yesterday" }])).toBeNull();
  });
});
