import { CrossDomainDocument, IncidentsDocument, CreateIncidentDocument } from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok, seedTenant, type SeededTenant } from "./utils/seed";

describe("one graph over three subgraphs", () => {
  let platform: TestPlatform;
  let seeded: SeededTenant;

  beforeAll(async () => {
    platform = await startTestPlatform();
    seeded = await seedTenant(platform, "tenant-a", 30);
  });
  afterAll(() => platform?.stop());

  it("answers the README's CrossDomain query with fields from posture, protection and the SIEM", async () => {
    const data = ok(await platform.request(CrossDomainDocument, {}, await platform.token([Role.READER])));
    expect(data.resources.totalCount).toBe(30);
    expect(data.resources.nodes).toHaveLength(5);
    for (const node of data.resources.nodes) {
      expect(node.account.name).toMatch(/^tenant-a (Azure|AWS)$/);
      // SERVERS is STANDARD on the Azure account only: covered exactly for Azure VMs.
      expect(node.coverage.covered).toBe(node.type === "Microsoft.Compute/virtualMachines");
      expect(typeof node.alerts.totalCount).toBe("number");
    }
    const withAlert = data.resources.nodes.filter((n) => n.alerts.totalCount > 0).map((n) => n.id);
    // The page holds an alerted VM: the SIEM's count is seen, not only zeros.
    expect(withAlert.length).toBeGreaterThan(0);
    expect(withAlert.every((id) => seeded.vmIds.includes(id))).toBe(true);
  });

  it("resolves an incident's alerts to their resources across subgraphs", async () => {
    const analyst = await platform.token([Role.ANALYST]);
    const created = ok(
      await platform.request(
        CreateIncidentDocument,
        { input: { title: "Brute force wave", severity: "HIGH", alertIds: seeded.alertIds } },
        analyst,
      ),
    ).createIncident;
    // Each seeded alert opened its own incident (no shared entities); the manual one comes after them.
    expect(created.number).toBe(seeded.alertIds.length + 1);
    const data = ok(await platform.request(IncidentsDocument, {}, analyst));
    const incident = data.incidents.nodes.find((i) => i.id === created.id)!;
    expect(incident.alerts.totalCount).toBe(seeded.alertIds.length);
    for (const alert of incident.alerts.nodes) {
      expect(alert.resource?.name).toMatch(/^tenant-a-res-/);
      expect(alert.resource?.coverage).toEqual({ covered: true, plan: "SERVERS" });
    }
  });
});
