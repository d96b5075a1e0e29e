import { planTypeFor, planTypeInfos } from "./coverage";
import { PlanType } from "./plan.entity";

describe("plan coverage", () => {
  it("maps provider-native types of every cloud to the plan that protects them", () => {
    expect(planTypeFor("Microsoft.Compute/virtualMachines")).toBe(PlanType.SERVERS);
    expect(planTypeFor("aws::ec2::instance")).toBe(PlanType.SERVERS);
    expect(planTypeFor("AWS::S3::Bucket")).toBe(PlanType.STORAGE);
    expect(planTypeFor("Microsoft.Sql/servers/databases")).toBe(PlanType.SQL);
    expect(planTypeFor("Microsoft.Network/virtualNetworks")).toBeNull();
    expect(planTypeFor("Contoso.Custom/widgets")).toBeNull();
  });

  it("lists every plan with the kinds it covers", () => {
    const infos = planTypeInfos();
    expect(infos.map((i) => i.planType)).toEqual(Object.values(PlanType));
    expect(infos.find((i) => i.planType === PlanType.SQL)?.coveredKinds).toEqual([
      "SQL_SERVER",
      "SQL_DATABASE",
    ]);
  });
});
