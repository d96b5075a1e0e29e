import { AllowList } from "./policy";
import {
  derivedUuid,
  groupIdOf,
  groupMachines,
  groupName,
  isUserWritable,
  jaccard,
  recommendRules,
  ruleKindOf,
  SIMILARITY_THRESHOLD,
  type ExecutionStat,
} from "./learning";
import { parseWindow } from "./window";

const set = (...items: string[]) => new Set(items);

function stat(resourceId: string, path: string, extra: Partial<ExecutionStat> = {}): ExecutionStat {
  return {
    resourceId,
    host: `host-${resourceId}`,
    path,
    publisher: null,
    sha256: null,
    executions: 1,
    firstSeen: new Date("2026-11-20T00:00:00Z"),
    lastSeen: new Date("2026-11-20T01:00:00Z"),
    ...extra,
  };
}

describe("application control learning", () => {
  it("Jaccard similarity is shared / all", () => {
    expect(jaccard(set("a", "b", "c"), set("b", "c", "d"))).toBe(0.5);
    expect(jaccard(set("a"), set("b"))).toBe(0);
    expect(jaccard(set(), set())).toBe(1);
  });

  it("groups machines whose executable sets are similar, and keeps dissimilar ones apart", () => {
    const web = ["/usr/sbin/nginx", "/usr/bin/node", "/usr/bin/apt-get", "/usr/lib/systemd/systemd"];
    const machines = new Map([
      ["m3", set(...web, "/usr/bin/dash")],
      ["m1", set(...web)],
      ["m2", set(...web.slice(0, 3), "/usr/bin/curl")],
      ["w1", set("c:\\windows\\system32\\svchost.exe", "c:\\windows\\explorer.exe")],
      ["w2", set("c:\\windows\\system32\\svchost.exe", "c:\\program files\\git\\cmd\\git.exe")],
      ["ci", set("/opt/actions-runner/bin/runner.listener", "/usr/bin/docker")],
    ]);
    expect(groupMachines(machines)).toEqual([["ci"], ["m1", "m2", "m3"], ["w1"], ["w2"]]);
    expect(SIMILARITY_THRESHOLD).toBe(0.5);
  });

  it("gives the same groups whatever order the machines come in (connected components)", () => {
    const machines: Array<[string, Set<string>]> = [
      ["a", set("1", "2", "3", "4")],
      ["b", set("1", "2", "3", "5")],
      ["c", set("1", "2", "5", "6")],
      ["d", set("7", "8")],
      ["e", set("7", "8", "9")],
    ];
    const expected = [
      ["a", "b", "c"],
      ["d", "e"],
    ];
    for (let i = 0; i < 10; i++) {
      const shuffled = [...machines].sort(() => Math.random() - 0.5);
      expect(groupMachines(new Map(shuffled))).toEqual(expected);
    }
  });

  it("recommends PUBLISHER rules for signed files, HASH for unsigned files in writable places, PATH otherwise", () => {
    expect(ruleKindOf("C:\\Windows\\System32\\cmd.exe", "Microsoft Windows", "ab")).toBe("PUBLISHER");
    expect(ruleKindOf("/tmp/.ICE-unix/kinsing", null, "5d25")).toBe("HASH");
    expect(ruleKindOf("C:\\Users\\Public\\Downloads\\tool.exe", null, "aa")).toBe("HASH");
    expect(ruleKindOf("/tmp/x", null, null)).toBe("PATH");
    expect(ruleKindOf("/usr/bin/node", null, "15")).toBe("PATH");
    expect(isUserWritable("C:\\ProgramData\\x.exe")).toBe(true);
    expect(isUserWritable("C:\\Program Files\\Git\\cmd\\git.exe")).toBe(false);
  });

  it("reports each rule's prevalence in the group, most common first", () => {
    const rules = recommendRules(
      ["m1", "m2", "m3", "m4"],
      [
        stat("m1", "/usr/sbin/nginx", { executions: 3, sha256: "aa" }),
        stat("m2", "/usr/sbin/nginx", { executions: 2, sha256: "aa" }),
        stat("m3", "/usr/sbin/nginx", { sha256: "aa" }),
        stat("m4", "/usr/sbin/nginx", { sha256: "bb" }),
        stat("m1", "/usr/bin/node"),
        stat("m2", "/tmp/.x", { sha256: "cc" }),
        stat("m9", "/usr/bin/other"),
      ],
    );
    expect(
      rules.map((r) => [r.kind, r.path, r.prevalence, r.machineCount, r.executionCount, r.sha256]),
    ).toEqual([
      ["PATH", "/usr/sbin/nginx", 1, 4, 7, null],
      ["HASH", "/tmp/.x", 0.25, 1, 1, "cc"],
      ["PATH", "/usr/bin/node", 0.25, 1, 1, null],
    ]);
  });

  it("derives stable ids and names from content", () => {
    expect(groupIdOf("t", ["b", "a"])).toBe(groupIdOf("t", ["a", "b"]));
    expect(groupIdOf("t", ["a"])).not.toBe(groupIdOf("u", ["a"]));
    expect(derivedUuid("x")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(groupName(["web-2", "web-1"])).toBe("web-1, web-2");
    expect(groupName(["e", "d", "c", "b", "a"])).toBe("a, b, c and 2 more");
  });

  it("an allow list matches by path, by path and publisher, or by hash", () => {
    const list = new AllowList();
    list.add("PATH", "/usr/bin/node", null, null);
    list.add("PUBLISHER", "c:\\windows\\system32\\cmd.exe", "Microsoft Windows", null);
    list.add("HASH", "/tmp/tool", null, "ab".repeat(32));
    expect(list.allows({ path: "/usr/bin/node" })).toBe(true);
    expect(list.allows({ path: "/usr/bin/Node" })).toBe(false);
    expect(list.allows({ path: "C:/Windows/System32/CMD.exe", publisher: "Microsoft Windows" })).toBe(true);
    expect(list.allows({ path: "C:\\Windows\\System32\\cmd.exe" })).toBe(false);
    expect(list.allows({ path: "C:\\Windows\\System32\\cmd.exe", publisher: "Evil Corp" })).toBe(false);
    expect(list.allows({ path: "/home/x/renamed", sha256: "AB".repeat(32) })).toBe(true);
    expect(list.allows({ path: "/tmp/tool", sha256: "cd".repeat(32) })).toBe(false);
  });

  it("parses learning windows as ISO 8601 durations from PT1H to P90D", () => {
    expect(parseWindow("P14D")).toEqual({ seconds: 14 * 86_400 });
    expect(parseWindow("P2W")).toEqual({ seconds: 14 * 86_400 });
    expect(parseWindow("P1DT12H")).toEqual({ seconds: 36 * 3600 });
    expect(parseWindow("PT30M")).toEqual({ problem: "must be between PT1H and P90D" });
    expect(parseWindow("P91D")).toEqual({ problem: "must be between PT1H and P90D" });
    for (const bad of ["14d", "P", "PT", "P1M", "P1Y", "-P1D", "P1.5D", ""])
      expect(parseWindow(bad)).toEqual({ problem: expect.stringMatching(/ISO 8601/) });
  });
});
