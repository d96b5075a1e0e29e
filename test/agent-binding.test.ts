import { readFileSync } from "node:fs";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { parse, print } from "graphql";
import type { DataSource } from "typeorm";
import { signDevToken } from "../gateway/src/auth";
import {
  AgentCredentialPolicyDocument,
  AgentPolicyDocument,
  AuditTrailDocument,
  type AgentCredentialPolicy,
  ImportAdvisoriesDocument,
  IngestEventsDocument,
  IngestPackageInventoryDocument,
  IngestReceiptDocument,
  IngestTelemetryDocument,
  SetAgentCredentialPolicyDocument,
  UpsertResourcesDocument,
} from "./__generated__/graphql";
import { IDENTITY_HEADER, inTenant, InternalTokens, Role } from "../subgraphs/common/src";
import { codes } from "./utils/errors";
import { postGraphql, startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";
import { ndjson, seedMachines } from "./utils/workload";

const WEB_2 = "9f8b77a8-6ecb-4a6d-8606-b596b41bf3c6";
const JUMP_1 = "107ec20d-8708-44b3-9c2c-b419dc983ba4";
const MACHINE_BOUND = /machine-bound agent credential reads only its machine's agentPolicy/;
const BINDING_REQUIRED = /requires machine-bound agent credentials/;

/**
 * Machine-bound agent credentials: a token with the `rampart:resource` claim speaks for one machine. It reads that
 * machine's `agentPolicy` only and pushes that machine's telemetry and package inventory only, and every other
 * operation refuses it; an ADMIN may require such credentials of the tenant's agents (`setAgentCredentialPolicy`).
 * The binding travels in the signed internal token, so no header a client sends binds or unbinds a token.
 */
describe("machine-bound agent credentials", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let vm: string; // tenant-a's vm-web-prod-02: the bound agent's machine
  let other: string; // tenant-a's vm-jump-01
  let vmB: string; // tenant-b's vm-web-prod-02
  const tokens: Record<string, string> = {};

  const bind = (resourceId: string, tenant = "tenant-a") =>
    signDevToken(platform.config.jwt.secret!, {
      subject: `agent-${resourceId}`,
      tenantId: tenant,
      roles: [Role.INGESTOR],
      resourceId,
      ttlSeconds: 600,
    });
  const policy = (resourceId: string, token: string) =>
    platform.request(AgentPolicyDocument, { resourceId }, token);
  const message = (res: GqlResponse<unknown>) => res.errors?.map((e) => e.message).join("; ") ?? "";
  const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
  let seq = 0;
  const processRecord = (resourceId: string, host = "vm-web-prod-02") => ({
    kind: "process",
    id: `binding-${++seq}`,
    resourceId,
    time: at(60 - seq),
    host,
    pid: 4000 + seq,
    parentPid: 1,
    image: "/usr/bin/true",
    commandLine: "true",
    user: "root",
  });
  const packagesRecord = (resourceId: string) => ({
    kind: "packages",
    id: `binding-packages-${++seq}`,
    resourceId,
    time: at(60 - seq),
    host: "vm-web-prod-02",
    os: { family: "debian", version: "12" },
    packages: [{ ecosystem: "Debian", name: "openssl", version: "3.0.11-1~deb12u2" }],
  });
  const stored = async (ids: string[]) =>
    inTenant(ds, "tenant-a", async (m) =>
      Object.fromEntries(
        (
          (await m.query(
            `SELECT resource_id::text AS id, count(*)::int AS n FROM telemetry WHERE record_id = ANY($1) GROUP BY 1`,
            [ids],
          )) as Array<{ id: string; n: number }>
        ).map((r) => [r.id, r.n]),
      ),
    );
  const postTelemetry = (body: string, token: string, headers: Record<string, string> = {}) =>
    fetch(platform.gateway.url.replace(/\/graphql$/, "/ingest/telemetry"), {
      method: "POST",
      headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${token}`, ...headers },
      body,
    });
  const requireBinding = async (on: boolean, token = tokens.admin) =>
    platform.request(SetAgentCredentialPolicyDocument, { requireMachineBinding: on }, token);

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    Object.assign(
      tokens,
      await platform.tokens({
        admin: [[Role.ADMIN], "tenant-a"],
        reader: [[Role.READER], "tenant-a"],
        ingestor: [[Role.INGESTOR], "tenant-a"],
        ingestorB: [[Role.INGESTOR], "tenant-b"],
      }),
    );
    ds = await platform.connect("protection");
    const a = await seedMachines(platform, "tenant-a");
    const b = await seedMachines(platform, "tenant-b");
    vm = a.ids[WEB_2];
    other = a.ids[JUMP_1];
    vmB = b.ids[WEB_2];
    tokens.bound = await bind(vm);
    // Bound to tenant-b's machine, but a tenant-a credential: the binding never crosses the tenant.
    tokens.boundToB = await bind(vmB);
    tokens.boundB = await bind(vmB, "tenant-b");
  }, 120_000);
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("reads its own machine's policy, and NOT_FOUND for any other machine, as for an unknown one", async () => {
    expect(ok(await policy(vm, tokens.bound)).agentPolicy.resourceId).toBe(vm);
    // The id in any case is the same machine.
    expect(ok(await policy(vm.toUpperCase(), tokens.bound)).agentPolicy.resourceId).toBe(vm);
    const unknown = await policy("0190a0a0-0000-7000-8000-000000000000", tokens.bound);
    expect(codes(unknown)).toEqual(["NOT_FOUND"]);
    for (const [id, token] of [
      [other, tokens.bound], // another machine of its tenant
      [vmB, tokens.bound], // another tenant's machine
      [vmB, tokens.boundToB], // bound to another tenant's machine: not in its tenant's inventory
      [vm, tokens.boundB], // tenant-b's agent asking for tenant-a's machine
    ]) {
      const res = await policy(id, token);
      expect(codes(res)).toEqual(["NOT_FOUND"]);
      expect(message(res)).toBe(`Resource ${id} was not found.`);
    }
    // The unbound token of the same tenant still reads both: the refusals are the binding's.
    expect(ok(await policy(other, tokens.ingestor)).agentPolicy.resourceId).toBe(other);
    expect(ok(await policy(vmB, tokens.boundB)).agentPolicy.resourceId).toBe(vmB);
  });

  it("keeps only its own machine's telemetry, rejecting the others record by record (GraphQL and NDJSON)", async () => {
    const batch = [processRecord(vm), processRecord(other, "vm-jump-01"), processRecord(vm.toUpperCase())];
    batch.push(processRecord(vmB));
    const result = ok(
      await platform.request(IngestTelemetryDocument, { records: batch }, tokens.bound),
    ).ingestTelemetry;
    const reason = `resourceId: this credential is bound to machine ${vm} and pushes only that machine's records`;
    expect(result.acceptedCount).toBe(2);
    expect(result.rejected).toEqual([
      { line: 2, reason },
      { line: 4, reason },
    ]);
    expect(await stored(batch.map((r) => r.id))).toEqual({ [vm]: 2 });

    const lines = [processRecord(other, "vm-jump-01"), processRecord(vm)];
    const res = await postTelemetry(ndjson(lines), tokens.bound);
    expect(res.status).toBe(200);
    const answer = (await res.json()) as {
      accepted: number;
      rejected: Array<{ line: number; reason: string }>;
    };
    expect(answer).toMatchObject({ accepted: 1, rejected: [{ line: 1, reason }] });
    expect(await stored(lines.map((r) => r.id))).toEqual({ [vm]: 1 });
  });

  it("keeps only its own machine's package inventory", async () => {
    const records = [packagesRecord(other), packagesRecord(vm)];
    const result = ok(
      await platform.request(IngestPackageInventoryDocument, { records }, tokens.bound),
    ).ingestPackageInventory;
    expect(result.acceptedCount).toBe(1);
    expect(result.rejected).toEqual([
      {
        index: 0,
        field: "resourceId",
        message: `this credential is bound to machine ${vm} and pushes only that machine's records`,
      },
    ]);
    const snapshots = await inTenant(ds, "tenant-a", (m) =>
      m.query(`SELECT resource_id::text AS id FROM package_snapshots ORDER BY 1`),
    );
    expect(snapshots).toEqual([{ id: vm }]);
  });

  it("is refused the tenant-wide feeds and everything else with FORBIDDEN", async () => {
    const refusals: Array<GqlResponse<unknown>> = [
      await platform.request(
        UpsertResourcesDocument,
        {
          input: [{ accountId: vm, externalId: "/x", type: "Microsoft.Compute/virtualMachines", name: "x" }],
        },
        tokens.bound,
      ),
      await platform.request(IngestEventsDocument, { connector: "SYSLOG_CEF", records: [] }, tokens.bound),
      await platform.request(ImportAdvisoriesDocument, { osv: [] }, tokens.bound),
      await platform.request(
        IngestReceiptDocument,
        { id: "0190a0a0-0000-7000-8000-000000000000" },
        tokens.bound,
      ),
    ];
    for (const res of refusals) {
      // `ingestReceipt` is nullable: its refusal comes with `data: { ingestReceipt: null }`.
      expect(res.errors?.map((e) => e.extensions?.code)).toEqual(["FORBIDDEN"]);
      expect(message(res)).toMatch(MACHINE_BOUND);
    }
    // The same calls with the tenant's unbound INGESTOR token pass the authorisation.
    const unbound = await platform.request(
      IngestEventsDocument,
      { connector: "SYSLOG_CEF", records: [] },
      tokens.ingestor,
    );
    expect(unbound.errors).toBeUndefined();
    // The bulk events route refuses it too, on the SIEM itself.
    const events = await fetch(
      platform.gateway.url.replace(/\/graphql$/, "/ingest/events?connector=SYSLOG_CEF"),
      {
        method: "POST",
        headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${tokens.bound}` },
        body: "",
      },
    );
    expect(events.status).toBe(403);
    expect(JSON.stringify(await events.json())).toMatch(MACHINE_BOUND);
  });

  it("lets only an ADMIN require machine-bound credentials, audited, and is off by default", async () => {
    expect(
      ok(await platform.request(AgentCredentialPolicyDocument, {}, tokens.reader)).agentCredentialPolicy,
    ).toEqual({
      requireMachineBinding: false,
      updatedAt: null,
      updatedBy: null,
    });
    for (const token of [tokens.reader, tokens.ingestor, tokens.bound])
      expect(codes(await requireBinding(true, token))).toEqual(["FORBIDDEN"]);
    expect(
      ok(await platform.request(AgentCredentialPolicyDocument, {}, tokens.admin)).agentCredentialPolicy
        .requireMachineBinding,
    ).toBe(false);

    const set = ok(await requireBinding(true)).setAgentCredentialPolicy;
    expect(set).toMatchObject({ requireMachineBinding: true, updatedBy: "tester@example.com" });
    // Setting it again changes nothing and audits nothing.
    expect(ok(await requireBinding(true)).setAgentCredentialPolicy.updatedAt).toBe(set.updatedAt);
    const audit = ok(
      await platform.request(AuditTrailDocument, { filter: { action: "agent_credentials.*" } }, tokens.admin),
    ).auditTrail.protection.nodes;
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor: "tester@example.com",
      action: "agent_credentials.policy_set",
      target: "tenant:tenant-a",
      details: { requireMachineBinding: [false, true] },
    });
    // Another tenant's setting is its own.
    expect(
      ok(
        await platform.request(
          AgentCredentialPolicyDocument,
          {},
          await platform.token([Role.READER], "tenant-b"),
        ),
      ).agentCredentialPolicy.requireMachineBinding,
    ).toBe(false);
  });

  it("while required, refuses unbound INGESTOR tokens with FORBIDDEN and serves bound ones", async () => {
    ok(await requireBinding(true));
    const refused = [
      await policy(vm, tokens.ingestor),
      await platform.request(IngestTelemetryDocument, { records: [processRecord(vm)] }, tokens.ingestor),
      await platform.request(IngestTelemetryDocument, { records: [] }, tokens.ingestor),
      await platform.request(
        IngestPackageInventoryDocument,
        { records: [packagesRecord(vm)] },
        tokens.ingestor,
      ),
    ];
    for (const res of refused) {
      expect(codes(res)).toEqual(["FORBIDDEN"]);
      expect(message(res)).toMatch(BINDING_REQUIRED);
    }
    const line = processRecord(vm);
    const http = await postTelemetry(ndjson([line]), tokens.ingestor);
    expect(http.status).toBe(403);
    expect(JSON.stringify(await http.json())).toMatch(BINDING_REQUIRED);
    expect(await stored([line.id])).toEqual({});

    // Bound credentials, readers and admins are not affected; nor is another tenant.
    expect(ok(await policy(vm, tokens.bound)).agentPolicy.resourceId).toBe(vm);
    expect(ok(await policy(vm, tokens.reader)).agentPolicy.resourceId).toBe(vm);
    const bound = processRecord(vm);
    expect((await postTelemetry(ndjson([bound]), tokens.bound)).status).toBe(200);
    const byAdmin = processRecord(other, "vm-jump-01");
    expect(
      ok(await platform.request(IngestTelemetryDocument, { records: [byAdmin] }, tokens.admin))
        .ingestTelemetry.acceptedCount,
    ).toBe(1);
    expect(await stored([bound.id, byAdmin.id])).toEqual({ [vm]: 1, [other]: 1 });
    expect(ok(await policy(vmB, tokens.ingestorB)).agentPolicy.resourceId).toBe(vmB);

    // Off again: the tenant's INGESTOR token speaks for any machine, as before.
    ok(await requireBinding(false));
    expect(ok(await policy(other, tokens.ingestor)).agentPolicy.resourceId).toBe(other);
  });

  it("is neither made nor undone by a header a client sends", async () => {
    const internal = new InternalTokens(platform.config.internalTokenSecret);
    const forgedBound = await internal.sign({
      subject: "tester@example.com",
      tenantId: "tenant-a",
      roles: [Role.INGESTOR],
      resourceId: other,
    });
    const forgedUnbound = await internal.sign({
      subject: `agent-${vm}`,
      tenantId: "tenant-a",
      roles: [Role.INGESTOR],
    });
    const ask = (id: string, token: string, headers: Record<string, string>) =>
      postGraphql<{ agentPolicy: { resourceId: string } }>(
        platform.gateway.url,
        { query: print(AgentPolicyDocument), variables: { resourceId: id } },
        { authorization: `Bearer ${token}`, ...headers },
      );
    // Even a validly signed internal token (which a client could not make) is not taken from a client.
    const binds = { [IDENTITY_HEADER]: forgedBound, "x-rampart-resource": other };
    expect((await ask(vm, tokens.ingestor, binds)).data?.agentPolicy.resourceId).toBe(vm);
    const unbinds = { [IDENTITY_HEADER]: forgedUnbound, "x-rampart-resource": "" };
    expect(codes(await ask(other, tokens.bound, unbinds))).toEqual(["NOT_FOUND"]);
    const res = await postTelemetry(ndjson([processRecord(other, "vm-jump-01")]), tokens.bound, unbinds);
    expect(((await res.json()) as { accepted: number }).accepted).toBe(0);

    // Straight to protection, the binding inside the internal token is enforced by the subgraph itself.
    const direct = (token: string, query: string, variables: Record<string, unknown>) =>
      postGraphql(platform.subgraphs.protection.url, { query, variables }, { [IDENTITY_HEADER]: token });
    const boundInternal = await internal.sign({
      subject: "agent",
      tenantId: "tenant-a",
      roles: [Role.INGESTOR],
      resourceId: vm,
    });
    expect(codes(await direct(boundInternal, print(AgentPolicyDocument), { resourceId: other }))).toEqual([
      "NOT_FOUND",
    ]);
    expect(codes(await direct(boundInternal, print(ImportAdvisoriesDocument), { osv: [] }))).toEqual([
      "FORBIDDEN",
    ]);
  });

  it("runs the example of docs/api.md", async () => {
    const block = /```graphql\n(mutation RequireBoundAgents[\s\S]*?)```/.exec(
      readFileSync("docs/api.md", "utf8"),
    )?.[1];
    expect(block).toBeDefined();
    const doc = parse(block!) as TypedDocumentNode<
      { setAgentCredentialPolicy: Omit<AgentCredentialPolicy, "__typename"> },
      Record<string, never>
    >;
    expect(ok(await platform.request(doc, {}, tokens.admin)).setAgentCredentialPolicy).toMatchObject({
      requireMachineBinding: true,
      updatedBy: "tester@example.com",
    });
    expect(codes(await policy(vm, tokens.ingestor))).toEqual(["FORBIDDEN"]);
    ok(await requireBinding(false));
  });
});
