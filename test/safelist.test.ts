import { print } from "graphql";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as operations from "./__generated__/graphql";
import { CrossDomainDocument } from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { eventually, watch, wsClient } from "./utils/live";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * Safelisted operations (SAFELIST_PATH): the gateway runs the manifest's operations — as text in any
 * formatting, or by hash alone — and refuses everything else with FORBIDDEN, over HTTP and over the live
 * endpoints, before anything reaches a subgraph. The manifest codegen writes holds exactly the texts the
 * typed documents send.
 */

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const SUBSCRIPTION = "subscription Listed { incidentChanges(after: null) { cursor } }";

describe("safelisted operations", () => {
  let platform: TestPlatform;
  let reader: string;
  let dir: string;
  const crossDomain = print(CrossDomainDocument);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rampart-safelist-"));
    const manifest = Object.fromEntries([crossDomain, SUBSCRIPTION].map((text) => [sha256(text), text]));
    writeFileSync(join(dir, "safelist.json"), JSON.stringify(manifest));
    platform = await startTestPlatform({ JOBS_ENABLED: "false", SAFELIST_PATH: join(dir, "safelist.json") });
    reader = await platform.token([Role.READER]);
  });
  afterAll(async () => {
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (body: object) =>
    postGraphql<{ resources: { totalCount: number } }>(platform.gateway.url, body, {
      authorization: `Bearer ${reader}`,
    });

  it("the manifest codegen writes holds the exact text of every typed operation", () => {
    const manifest = JSON.parse(readFileSync("test/__generated__/safelist.json", "utf8")) as Record<
      string,
      string
    >;
    const documents = Object.entries(operations).filter(([name]) => name.endsWith("Document"));
    expect(documents.length).toBeGreaterThan(50);
    for (const [name, document] of documents) {
      const text = print(document as Parameters<typeof print>[0]);
      expect({ name, listed: manifest[sha256(text)] === text }).toEqual({ name, listed: true });
    }
    expect(Object.keys(manifest)).toHaveLength(documents.length);
  });

  it("runs a listed operation as the typed client sends it, reformatted, or by its hash alone", async () => {
    const typed = ok(await platform.request(CrossDomainDocument, {}, reader));
    // Nothing is seeded here (the safelist admits no ingest): the tenant's graph is empty, and answered.
    expect(typed.resources.totalCount).toBe(0);

    const reformatted = await post({ query: `# the dashboard\n${crossDomain.replace(/\n\s*/g, " ")}` });
    expect(reformatted.errors).toBeUndefined();

    const byHash = await post({
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256(crossDomain) } },
    });
    expect(byHash.errors).toBeUndefined();
    expect(byHash.data).toEqual(typed);
  });

  it("refuses an operation off the list with FORBIDDEN (403), and APQ cannot add one", async () => {
    const query = "query Mine { resources(first: 1) { totalCount } }";
    for (const body of [
      { query },
      { query, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } } },
    ]) {
      const res = await fetch(platform.gateway.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${reader}` },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(403);
      const answer = (await res.json()) as {
        data?: unknown;
        errors: Array<{ extensions: { code: string; reason: string } }>;
      };
      expect(answer.data).toBeUndefined();
      expect(answer.errors.map((e) => [e.extensions.code, e.extensions.reason])).toEqual([
        ["FORBIDDEN", "NOT_SAFELISTED"],
      ]);
    }
    // The attempt to register it left nothing behind.
    const again = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } } });
    expect(again.errors?.map((e) => e.extensions?.code)).toEqual(["PERSISTED_QUERY_NOT_FOUND"]);
  });

  it("starts listed subscriptions only", async () => {
    const client = wsClient(platform.gateway.url, reader);
    try {
      const listed = watch(client, SUBSCRIPTION);
      const other = watch(client, "subscription Other { incidentChanges { cursor } }");
      await eventually(() => other.completed, "the unlisted subscription's refusal");
      expect(other.error).toEqual([
        expect.objectContaining({ extensions: expect.objectContaining({ code: "FORBIDDEN" }) }),
      ]);
      // The listed one is running (not refused) while the other was.
      expect(listed.completed).toBe(false);
      listed.stop();
    } finally {
      await client.dispose();
    }
  });
});
