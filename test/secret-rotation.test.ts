import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { print } from "graphql";
import type { DataSource } from "typeorm";
import { startGateway, type Gateway } from "../gateway/src/server";
import { signDevToken } from "../gateway/src/auth";
import {
  CreatePlaybookDocument,
  DashboardDocument,
  PlaybookDocument,
  SetPlanDocument,
  type PlaybookQuery,
} from "./__generated__/graphql";
import { createLogger, inTenant, Role, type Config } from "../subgraphs/common/src";
import { queueNames } from "../subgraphs/siem/src/modules/events/nats-queue";
import { chunkSigningKey, signChunk } from "../subgraphs/siem/src/modules/events/queued-ingest";
import pino from "pino";
import { Client } from "pg";
import { derivedKey, SecretBox, secretBinding } from "../subgraphs/siem/src/modules/automation/secret-box";
import { SecretKeyWatch } from "../subgraphs/siem/src/modules/automation/secret-keys";
import { AUTOMATION_CRONTAB } from "../subgraphs/siem/src/modules/automation/automation.tasks";
import { postGraphql, startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok, seedTenant } from "./utils/seed";

/**
 * Rotating INTERNAL_TOKEN_SECRET and JWT_SECRET with an overlap, as docs/operations.md describes it, on real
 * servers, Postgres and the NATS JetStream server on 127.0.0.1:4222: processes on the old secret and on the new
 * one serve requests, calls and queued chunks of each other while the previous secret is set, and refuse the
 * old secret's once it is removed. The subgraphs restart on each step; gateways are started per secret.
 */

const NATS = "nats://127.0.0.1:4222";
/** A CloudTrail record of the SIEM fixtures, which the queued chunks below carry with ids and times of their own. */
const cloudTrail = JSON.parse(
  readFileSync("test/fixtures/siem/AWS_CLOUDTRAIL.ndjson", "utf8").split("\n")[0],
) as Record<string, unknown>;
const TENANT = "tenant-rotation";
const secret = (name: string) => `${name}-${randomBytes(24).toString("hex")}`;
const OLD = secret("old-internal");
const NEW = secret("new-internal");
const OLD_JWT = secret("old-jwt");
const NEW_JWT = secret("new-jwt");

describe("rotating the shared secrets without downtime", () => {
  const prefix = `RAMPART_TEST_${randomBytes(5).toString("hex").toUpperCase()}`;
  const names = queueNames(prefix);
  const log = createLogger("test", "silent");
  let platform: TestPlatform;
  let ds: DataSource;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let accountId: string;
  let playbookId: string;
  const gateways: Gateway[] = [];

  /** Another gateway on the platform's subgraphs, with its own secrets. */
  const gatewayWith = async (change: (config: Config) => Config) => {
    const gateway = await startGateway(change(structuredClone(platform.config)), log, {
      port: 0,
      subgraphUrls: {
        posture: platform.subgraphs.posture.url,
        protection: platform.subgraphs.protection.url,
        siem: platform.subgraphs.siem.url,
      },
    });
    gateways.push(gateway);
    return gateway;
  };
  /** The cross-subgraph dashboard (posture, protection and the SIEM) through `gateway`. */
  const dashboard = async (gateway: Gateway, jwtSecret = NEW_JWT) => {
    const token = await signDevToken(jwtSecret, {
      subject: "reader@example.com",
      tenantId: TENANT,
      roles: [Role.READER],
    });
    return postGraphql<{ resources: { totalCount: number } }>(
      gateway.url,
      { query: print(DashboardDocument), variables: { first: 10 } },
      { authorization: `Bearer ${token}` },
    );
  };
  const served = (res: GqlResponse<{ resources: { totalCount: number } }>) => ({
    status: res.status,
    errors: res.errors?.map((e) => e.extensions?.code),
    resources: res.data?.resources.totalCount,
  });
  /** The subgraphs restart, one after the other, with `current` and `previous` as their internal secrets. */
  const restartAll = async (current: string, previous: string | undefined) => {
    platform.config.internalTokenSecret = current;
    platform.config.internalTokenPreviousSecret = previous;
    for (const name of ["protection", "posture", "siem"] as const) await platform.restartSubgraph(name);
  };
  /** `rampart_previous_secret_accepted_total{kind}` as a subgraph's /metrics shows it (0 before the first). */
  const previousUses = async (kind: string) => {
    const text = await (await fetch(platform.subgraphs.posture.url.replace(/\/graphql$/, "/metrics"))).text();
    const line = text
      .split("\n")
      .find((l) => l.startsWith(`rampart_previous_secret_accepted_total{kind="${kind}"}`));
    return line ? Number(line.split(" ").pop()) : 0;
  };

  /** A receipt waiting for its one chunk, as a SIEM leaves it once the body is queued. */
  const openReceipt = async () => {
    const id = randomUUID();
    await inTenant(ds, TENANT, (m) =>
      m.query(
        `INSERT INTO ingest_receipts (tenant_id, id, connector, principal, enqueued, lines, chunks)
         VALUES ($1, $2, 'AWS_CLOUDTRAIL', 'ingestor@example.com', true, 2, 1)`,
        [TENANT, id],
      ),
    );
    return id;
  };
  /** Publishes the receipt's chunk (two CloudTrail records) signed with the key derived from `signedWith`. */
  const publishChunk = async (receiptId: string, signedWith: string) => {
    const records = [0, 1].map((i) =>
      JSON.stringify({ ...cloudTrail, eventID: `${receiptId}-${i}`, eventTime: new Date().toISOString() }),
    );
    const body = Buffer.from(records.join("\n"));
    const h = natsHeaders();
    for (const [name, value] of Object.entries({
      "Rampart-Tenant": TENANT,
      "Rampart-Connector": "AWS_CLOUDTRAIL",
      "Rampart-Principal": "ingestor%40example.com",
      "Rampart-Roles": "INGESTOR",
      "Rampart-Receipt": receiptId,
      "Rampart-Attempt": "1",
      "Rampart-Chunk": "0",
      "Rampart-First-Line": "1",
    }))
      h.set(name, value);
    h.set("Rampart-Signature", signChunk(chunkSigningKey(signedWith), h, body));
    await jetstream(nc).publish(names.subject, body, { headers: h });
  };
  /** Waits until a worker has taken every message and acknowledged it. */
  const drained = async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [s, c] = await Promise.all([
        jsm.streams.info(names.stream),
        jsm.consumers.info(names.stream, names.consumer),
      ]);
      if (s.state.messages === 0 && c.num_ack_pending === 0 && c.num_pending === 0) return;
      if (Date.now() > deadline) throw new Error("the stream was not drained");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const receipt = async (id: string) => {
    const [row]: Array<{ status: string; accepted: number }> = await inTenant(ds, TENANT, (m) =>
      m.query(`SELECT status, accepted FROM ingest_receipts WHERE tenant_id = $1 AND id = $2`, [TENANT, id]),
    );
    return row;
  };
  /** The drill's playbook as its admins see it, through `gateway`. */
  const playbook = async (gateway = platform.gateway) =>
    ok(
      await postGraphql<PlaybookQuery>(
        gateway.url,
        { query: print(PlaybookDocument), variables: { id: playbookId } },
        { authorization: `Bearer ${await platform.token([Role.ADMIN], TENANT)}` },
      ),
    ).playbook!;

  beforeAll(async () => {
    // The first roll of a rotation is done: every process signs with the old secret and accepts the new one
    // too. Client tokens: the gateway verifies the new JWT secret and, while clients hold them, the old one.
    platform = await startTestPlatform({
      INTERNAL_TOKEN_SECRET: OLD,
      INTERNAL_TOKEN_SECRET_PREVIOUS: NEW,
      JWT_SECRET: NEW_JWT,
      JWT_SECRET_PREVIOUS: OLD_JWT,
      EVENT_INGEST_QUEUE: "nats",
      NATS_URL: NATS,
      NATS_STREAM_PREFIX: prefix,
    });
    ds = await platform.connect("siem");
    nc = await connect({ servers: NATS });
    jsm = await jetstreamManager(nc);
    accountId = (await seedTenant(platform, TENANT, 6)).accountIds.azure;
    const admin = await platform.token([Role.ADMIN], TENANT);
    playbookId = ok(
      await platform.request(
        CreatePlaybookDocument,
        {
          input: {
            name: "Rotation drill",
            url: "http://127.0.0.1:9/hook",
            secret: "whsec_rotation_0123456789",
          },
        },
        admin,
      ),
    ).createPlaybook.id;
  });

  afterAll(async () => {
    for (const gateway of gateways) await gateway.close();
    await platform?.stop();
    await jsm?.streams.delete(names.stream).catch(() => undefined);
    await nc?.close();
  });

  it("accepts a client token signed with JWT_SECRET_PREVIOUS while it is set, and refuses it on a gateway without it", async () => {
    const before = await previousUses("client-token");
    expect(served(await dashboard(platform.gateway, OLD_JWT))).toEqual({
      status: 200,
      errors: undefined,
      resources: 6,
    });
    expect(served(await dashboard(platform.gateway, NEW_JWT))).toMatchObject({
      status: 200,
      errors: undefined,
    });
    expect(await previousUses("client-token")).toBe(before + 1);

    // The previous secret removed (a gateway started without it): the old token is refused, the new one served.
    const withoutPrevious = await gatewayWith((c) => ({ ...c, jwt: { secret: NEW_JWT } }));
    expect(served(await dashboard(withoutPrevious, OLD_JWT))).toEqual({
      status: 401,
      errors: ["UNAUTHENTICATED"],
      resources: undefined,
    });
    expect(served(await dashboard(withoutPrevious, NEW_JWT))).toMatchObject({
      status: 200,
      errors: undefined,
    });
  });

  it("serves a gateway already on the new internal secret through subgraphs still on the old one", async () => {
    const before = await previousUses("internal-token");
    const onNew = await gatewayWith((c) => ({
      ...c,
      internalTokenSecret: NEW,
      internalTokenPreviousSecret: OLD,
    }));
    expect(served(await dashboard(onNew))).toEqual({ status: 200, errors: undefined, resources: 6 });
    expect(served(await dashboard(platform.gateway))).toEqual({
      status: 200,
      errors: undefined,
      resources: 6,
    });
    expect(await previousUses("internal-token")).toBeGreaterThan(before);
  });

  it("on the second roll, subgraphs on the new secret serve a gateway and a subgraph still on the old one, and stored playbook secrets move to the new key", async () => {
    const admin = await platform.token([Role.ADMIN], TENANT);
    expect(await playbook()).toMatchObject({ secretStatus: "CURRENT", secretKeyId: derivedKey(OLD).id });

    // Protection first: it calls posture, still on the old secret, with a token signed with the new one.
    platform.config.internalTokenSecret = NEW;
    platform.config.internalTokenPreviousSecret = OLD;
    await platform.restartSubgraph("protection");
    const plan = await platform.request(
      SetPlanDocument,
      { input: { accountId, planType: "STORAGE", tier: "STANDARD" } },
      admin,
    );
    expect(plan.errors).toBeUndefined();
    await restartAll(NEW, OLD);

    // The platform's gateway still signs with the old secret: the subgraphs accept it as the previous one.
    const before = await previousUses("internal-token");
    expect(served(await dashboard(platform.gateway))).toEqual({
      status: 200,
      errors: undefined,
      resources: 6,
    });
    expect(await previousUses("internal-token")).toBeGreaterThan(before);
    const onNew = await gatewayWith((c) => ({
      ...c,
      internalTokenSecret: NEW,
      internalTokenPreviousSecret: OLD,
    }));
    expect(served(await dashboard(onNew))).toEqual({ status: 200, errors: undefined, resources: 6 });

    // The secret sealed under the key derived from the old secret still opens, and the SIEM's start queued the
    // re-encryption job, which moves it to the key derived from the new one.
    const deadline = Date.now() + 30_000;
    for (let seen = await playbook(); seen.secretKeyId !== derivedKey(NEW).id; seen = await playbook()) {
      expect(seen).toMatchObject({ secretStatus: "PREVIOUS_KEY", secretKeyId: derivedKey(OLD).id });
      if (Date.now() > deadline) throw new Error("the playbook secret was not re-encrypted");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await playbook()).toMatchObject({ secretStatus: "CURRENT", secretKeyId: derivedKey(NEW).id });
  });

  it("stores a queued chunk signed with the old secret while it is the previous one", async () => {
    const before = await previousUses("ingest-chunk");
    const id = await openReceipt();
    await publishChunk(id, OLD);
    await drained();
    expect(await receipt(id)).toEqual({ status: "DONE", accepted: 2 });
    expect(await previousUses("ingest-chunk")).toBe(before + 1);
  });

  it("once the previous secret is removed, refuses what the old one signed, as before the rotation", async () => {
    await restartAll(NEW, undefined);
    const onNew = await gatewayWith((c) => ({
      ...c,
      internalTokenSecret: NEW,
      internalTokenPreviousSecret: undefined,
    }));
    expect(served(await dashboard(onNew))).toEqual({ status: 200, errors: undefined, resources: 6 });
    const refused = served(await dashboard(platform.gateway));
    expect(refused.resources).toBeUndefined();
    expect(refused.errors).toContain("UNAUTHENTICATED");

    // A chunk signed with the old secret is dropped unread; the same chunk signed with the new one is stored.
    const id = await openReceipt();
    await publishChunk(id, OLD);
    await drained();
    expect(await receipt(id)).toEqual({ status: "QUEUED", accepted: 0 });
    await publishChunk(id, NEW);
    await drained();
    expect(await receipt(id)).toEqual({ status: "DONE", accepted: 2 });

    // The playbook secret had moved on: it stays readable without the old secret.
    expect(await playbook(onNew)).toMatchObject({ secretStatus: "CURRENT", secretKeyId: derivedKey(NEW).id });
  });

  it("never strands a playbook secret: the periodic pass moves a straggler's, and a SIEM without its key says so on /ready, its log and /metrics", async () => {
    const siemUrl = (p: string) => platform.subgraphs.siem.url.replace(/\/graphql$/, p);
    const ready = async () => {
      const res = await fetch(siemUrl("/ready"));
      return { http: res.status, reason: ((await res.json()) as { reason?: string }).reason };
    };
    /** Waits for /ready 200 (a restarted SIEM is not ready until it has connected to NATS). */
    const readyAgain = async () => {
      const until = Date.now() + 15_000;
      for (let r = await ready(); r.http !== 200; r = await ready()) {
        if (Date.now() > until) throw new Error(`the SIEM is not ready: ${r.reason}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    /** `rampart_playbook_secrets` samples of the SIEM's /metrics: `<key id> <standing>` → secrets. */
    const byKey = async () => {
      const text = await (await fetch(siemUrl("/metrics"))).text();
      const samples: Record<string, number> = {};
      for (const m of text.matchAll(
        /^rampart_playbook_secrets\{key_id="([^"]+)",standing="([^"]+)"\} (\d+)$/gm,
      ))
        samples[`${m[1]} ${m[2]}`] = Number(m[3]);
      return samples;
    };
    const sealedUnder = async () =>
      (
        (await inTenant(ds, TENANT, (m) =>
          m.query(`SELECT key_id FROM playbook_secrets WHERE tenant_id = $1 AND playbook_id = $2`, [
            TENANT,
            playbookId,
          ]),
        )) as Array<{ key_id: string }>
      )[0].key_id;
    /** What a SIEM still on the old secret (the first roll's values) does on updatePlaybook: seals with OLD's key. */
    const stragglerSeals = () => {
      const sealed = SecretBox.fromConfig({
        internalTokenSecret: OLD,
        internalTokenPreviousSecret: NEW,
        playbookSecretKeys: [],
      }).seal("whsec_rotation_0123456789", secretBinding(TENANT, playbookId));
      return inTenant(ds, TENANT, (m) =>
        m.query(
          `UPDATE playbook_secrets SET sealed = $3, key_id = $4 WHERE tenant_id = $1 AND playbook_id = $2`,
          [TENANT, playbookId, sealed.sealed, sealed.keyId],
        ),
      );
    };
    const [oldKey, newKey] = [derivedKey(OLD).id, derivedKey(NEW).id];
    const onNew = await gatewayWith((c) => ({
      ...c,
      internalTokenSecret: NEW,
      internalTokenPreviousSecret: undefined,
    }));

    // The second roll: the SIEMs on the new secret, the old one previous; a straggler seals after their pass.
    await restartAll(NEW, OLD);
    // The pass also runs every 5 minutes on the clock: should it move the straggler's secret while the gauge's
    // reading ages (a 5-minute mark falls in those 5 seconds), the straggler seals again.
    for (let attempt = 1; ; attempt++) {
      await stragglerSeals();
      await new Promise((resolve) => setTimeout(resolve, 5_100)); // the gauge's 5-second reading
      const seen = await byKey();
      if ((await sealedUnder()) !== oldKey && attempt < 3) continue;
      expect(seen).toEqual({ [`${oldKey} previous`]: 1 });
      break;
    }
    await readyAgain();
    // The pass runs every 5 minutes (as well as at each start): it moves the straggler's secret.
    expect(AUTOMATION_CRONTAB).toContain("*/5 * * * * playbook_secrets_rekey");
    const pg = new Client({ connectionString: platform.db.url });
    await pg.connect();
    await pg.query(`SELECT siem_jobs.add_job('playbook_secrets_rekey')`).finally(() => pg.end());
    const deadline = Date.now() + 30_000;
    while ((await sealedUnder()) !== newKey) {
      if (Date.now() > deadline) throw new Error("the straggler's secret was not moved");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await new Promise((resolve) => setTimeout(resolve, 5_100)); // the gauge's 5-second reading
    expect(await byKey()).toEqual({ [`${newKey} current`]: 1 });

    // A straggler seals once more, and the previous secret is removed before any pass moved it: the SIEM is
    // not ready, saying which key and how many secrets, and the gauge shows them missing.
    await stragglerSeals();
    await restartAll(NEW, undefined);
    const refused = await ready();
    expect(refused.http).toBe(503);
    expect(refused.reason).toMatch(
      new RegExp(
        `^1 stored secret\\(s\\) \\(playbook signing secrets, TAXII feed credentials\\) are sealed under a key this SIEM does not have \\(1 under "${oldKey}"\\)`,
      ),
    );
    expect(await byKey()).toEqual({ [`${oldKey} missing`]: 1 });
    expect(await playbook(onNew)).toMatchObject({ secretStatus: "KEY_MISSING", secretKeyId: oldKey });

    // Given up on purpose (PLAYBOOK_SECRET_KEYS_LOST): ready again, the secret shown lost until an admin sets it.
    platform.config.playbookSecretLostKeyIds = [oldKey];
    await platform.restartSubgraph("siem");
    await readyAgain();
    expect(await byKey()).toEqual({ [`${oldKey} lost`]: 1 });
    platform.config.playbookSecretLostKeyIds = [];

    // The remedy: the old secret back as the previous one; ready at once, and the start's pass moves the secret.
    await restartAll(NEW, OLD);
    await readyAgain();
    const moved = Date.now() + 30_000;
    while ((await sealedUnder()) !== newKey) {
      if (Date.now() > moved) throw new Error("the secret was not moved");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await restartAll(NEW, undefined);
    await readyAgain();
    expect(await playbook(onNew)).toMatchObject({ secretStatus: "CURRENT", secretKeyId: newKey });
  }, 90_000);

  it("logs once, naming the keys and how many secrets, when stored secrets need a key this SIEM lacks", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const box = SecretBox.fromConfig({ internalTokenSecret: secret("other"), playbookSecretKeys: [] });
    const watch = new SecretKeyWatch(ds, box, [], log);
    const keyId = derivedKey(NEW).id;
    expect(await watch.read()).toEqual([{ keyId, standing: "KEY_MISSING", secrets: 1 }]);
    expect(watch.notReady()).toMatch(
      /^1 stored secret\(s\) \(playbook signing secrets, TAXII feed credentials\) are sealed under a key this SIEM does not have/,
    );
    expect(lines).toEqual([
      expect.objectContaining({
        level: 50,
        secrets: 1,
        missingKeys: { [keyId]: 1 },
        currentKeyId: box.currentKeyId,
        msg: expect.stringMatching(/^stored secrets are sealed under a key this SIEM does not have/),
      }),
    ]);
    // The same again: not logged twice.
    await new Promise((resolve) => setTimeout(resolve, 5_100));
    await watch.read();
    expect(lines).toHaveLength(1);
  }, 20_000);
});
