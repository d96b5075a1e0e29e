import {
  ApproveJitRequestDocument,
  DetectionsDocument,
  IngestTelemetryDocument,
  JitRequestDocument,
  RequestJitAccessDocument,
  ResourceJitPolicyDocument,
  SetJitPolicyDocument,
} from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok, seedTenant } from "./utils/seed";

/**
 * Journey 3 of product.md through the gateway: an admin locks a VM's SSH port with a JIT policy; a
 * user requests access, another responder approves; the port is open for that source and using it
 * raises nothing; the durable job closes it on time; the same traffic afterwards is a detection.
 */
describe("journey 3: request, approve, use and auto-expire JIT access", () => {
  let platform: TestPlatform;
  let tokens: Record<"admin" | "alice" | "bob" | "ingestor" | "reader", string>;
  let vm: string;
  let other: string;
  let flowSeq = 0;

  beforeAll(async () => {
    platform = await startTestPlatform(); // durable jobs on: the expiry job must close the grant
    tokens = {
      ...(await platform.tokens({
        admin: [[Role.ADMIN], "tenant-a"],
        ingestor: [[Role.INGESTOR], "tenant-a"],
        reader: [[Role.READER], "tenant-a"],
      })),
      alice: await platform.token([Role.RESPONDER], "tenant-a", "alice@contoso.example"),
      bob: await platform.token([Role.RESPONDER], "tenant-a", "bob@contoso.example"),
    };
    [vm, other] = (await seedTenant(platform, "tenant-a", 6)).vmIds;
  });
  afterAll(() => platform?.stop());

  /** One inbound SSH connection from `srcIp` to the VM (`to`), now or at `time`. */
  const ssh = async (srcIp: string, to = vm, time = new Date().toISOString()) =>
    ok(
      await platform.request(
        IngestTelemetryDocument,
        {
          records: [
            {
              kind: "flow",
              id: `flow-jit-${++flowSeq}`,
              resourceId: to,
              time,
              host: "vm-under-jit",
              direction: "inbound",
              protocol: "TCP",
              srcIp,
              srcPort: 50000 + flowSeq,
              dstIp: "10.0.0.4",
              dstPort: 22,
              bytes: 4200,
              packets: 30,
              action: "allowed",
            },
          ],
        },
        tokens.ingestor,
      ),
    ).ingestTelemetry;
  const jitDetections = async () =>
    ok(await platform.request(DetectionsDocument, { first: 50 }, tokens.reader)).detections.nodes.filter(
      (d) => d.kind === "JIT_PORT_ACCESS",
    );
  const port22 = async () =>
    ok(
      await platform.request(ResourceJitPolicyDocument, { id: vm }, tokens.reader),
    ).resource!.jitPolicy!.ports.find((p) => p.number === 22)!;

  it("locks, grants, lets the granted source in, closes on time, and reports the port used after expiry", async () => {
    ok(
      await platform.request(
        SetJitPolicyDocument,
        {
          input: {
            resourceId: vm,
            ports: [
              {
                number: 22,
                protocol: "TCP" as never,
                allowedSourcePrefixes: ["203.0.113.0/24"],
                maxDuration: "PT1H",
              },
            ],
          },
        },
        tokens.admin,
      ),
    );
    expect((await port22()).state).toBe("LOCKED");

    const request = ok(
      await platform.request(
        RequestJitAccessDocument,
        {
          input: {
            resourceId: vm,
            ports: [22],
            // As a dual-stack client reports its IPv4 address: recorded, granted and matched as the IPv4 one.
            sourceIp: "::ffff:203.0.113.10",
            duration: "PT4S",
            justification: "Patch the SSH daemon (CHG-1042)",
          },
        },
        tokens.alice,
      ),
    ).requestJitAccess;
    expect(request.status).toBe("PENDING");
    const approved = ok(
      await platform.request(ApproveJitRequestDocument, { id: request.id }, tokens.bob),
    ).approveJitRequest;
    expect(approved).toMatchObject({ status: "APPROVED", decidedBy: "bob@contoso.example" });
    const open = await port22();
    expect(open.state).toBe("OPEN");
    expect(open.activeGrants).toEqual([
      expect.objectContaining({
        requestId: request.id,
        sourceIp: "203.0.113.10",
        requester: "alice@contoso.example",
      }),
    ]);

    // Use: the granted source connects while the grant is open — nothing to report, however the agent writes it.
    expect((await ssh("203.0.113.10")).acceptedCount).toBe(1);
    expect((await ssh("::FFFF:203.0.113.10")).acceptedCount).toBe(1);
    expect(await jitDetections()).toEqual([]);

    // Time closes the grant at once (the port reads LOCKED at its end); the durable job then records the expiry.
    const deadline = Date.now() + 30_000;
    while ((await port22()).state !== "LOCKED") {
      if (Date.now() > deadline) throw new Error("the grant did not close");
      await new Promise((r) => setTimeout(r, 250));
    }
    const jitRequest = async () =>
      ok(await platform.request(JitRequestDocument, { id: request.id }, tokens.reader)).jitRequest!;
    let expired = await jitRequest();
    expect(expired.status).toBe("EXPIRED");
    while (!expired.history.some((h) => h.action === "REQUEST_EXPIRED")) {
      if (Date.now() > deadline) throw new Error("the expiry job did not record the expiry");
      await new Promise((r) => setTimeout(r, 250));
      expired = await jitRequest();
    }
    expect(expired.status).toBe("EXPIRED");
    expect(expired.history.map((h) => h.action)).toEqual([
      "REQUEST_CREATED",
      "REQUEST_APPROVED",
      "REQUEST_EXPIRED",
    ]);

    // The same source on the locked port after expiry bypasses JIT: a detection (and a SIEM alert).
    await ssh("203.0.113.10");
    const after = await jitDetections();
    expect(after).toHaveLength(1);
    expect(after[0].severity).toBe("HIGH");
    // Only the connection after expiry: the granted one (stored, within brute force's look-back) is not
    // judged again now that its grant has ended.
    expect(after[0].evidence).toMatchObject({ allowedFlows: 1, recordIds: [`flow-jit-${flowSeq}`] });
  });

  it("does not report traffic from before the port was locked, which an agent uploads late", async () => {
    const before = new Date(Date.now() - 3600_000).toISOString();
    ok(
      await platform.request(
        SetJitPolicyDocument,
        {
          input: {
            resourceId: other,
            ports: [{ number: 22, protocol: "TCP" as never, allowedSourcePrefixes: ["*"] }],
          },
        },
        tokens.admin,
      ),
    );
    // An hour-old SSH session (the agent was offline) predates the policy: no bypass.
    expect((await ssh("198.51.100.77", other, before)).acceptedCount).toBe(1);
    const mine = async () => (await jitDetections()).filter((d) => d.resourceId === other);
    expect(await mine()).toEqual([]);
    // The same source now, with the port locked and no grant, is one.
    await ssh("198.51.100.77", other);
    expect(await mine()).toHaveLength(1);
  });
});
