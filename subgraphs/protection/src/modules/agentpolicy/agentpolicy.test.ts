import { JitProtocol } from "../jit/jit.validation";
import { MAX_REFRESH_SECONDS, policyEtag, refreshAfter } from "./agentpolicy.service";
import { AgentJitGrant, AgentJitPolicy } from "./agentpolicy.types";

const NOW = new Date("2026-11-30T10:00:00.000Z");
const jit = (...untils: string[]): AgentJitPolicy =>
  Object.assign(new AgentJitPolicy(), {
    ports: [],
    grants: untils.map((until, i) =>
      Object.assign(new AgentJitGrant(), {
        requestId: `r${i}`,
        sourcePrefix: "203.0.113.10/32",
        port: 22,
        protocol: JitProtocol.TCP,
        until: new Date(until),
      }),
    ),
  });

describe("refreshAfter: when the agent asks again", () => {
  it("is the soonest grant end, rounded up, within 1 and the cap", () => {
    expect(refreshAfter(NOW, null)).toBe(MAX_REFRESH_SECONDS);
    expect(refreshAfter(NOW, jit())).toBe(MAX_REFRESH_SECONDS);
    expect(refreshAfter(NOW, jit("2026-11-30T10:02:00.000Z", "2026-11-30T10:00:42.300Z"))).toBe(43);
    expect(refreshAfter(NOW, jit("2026-11-30T10:00:00.100Z"))).toBe(1);
    expect(refreshAfter(NOW, jit("2026-11-30T11:00:00.000Z"))).toBe(MAX_REFRESH_SECONDS);
  });
});

describe("policyEtag", () => {
  const empty = { covered: true, jit: null, applicationControl: null, fileIntegrity: null };
  it("is the same for equal policies and differs when a part does", () => {
    expect(policyEtag({ ...empty, jit: jit("2026-11-30T10:02:00.000Z") })).toBe(
      policyEtag({ ...empty, jit: jit("2026-11-30T10:02:00.000Z") }),
    );
    expect(policyEtag({ ...empty, jit: jit("2026-11-30T10:02:00.000Z") })).not.toBe(
      policyEtag({ ...empty, jit: jit("2026-11-30T10:03:00.000Z") }),
    );
    expect(policyEtag(empty)).not.toBe(policyEtag({ ...empty, covered: false }));
  });
});
