import type { OutboxRecord } from "../../../../common/src";
import { splitAlertCalls } from "./relay";

const row = (n: number, titleBytes = 10): OutboxRecord => ({
  tenantId: "t",
  topic: "detection.raised",
  key: `k-${n}`,
  payload: {
    detectionId: `d-${n}`,
    kind: "brute-force",
    alert: { sourceId: `s-${String(n).padStart(5, "0")}`, title: "x".repeat(titleBytes) },
  },
  position: { xid: "1", seq: String(n) },
  cursor: "",
  at: new Date(0),
});
const size = (r: OutboxRecord) => Buffer.byteLength(JSON.stringify(r.payload.alert)) + 1;

describe("splitAlertCalls", () => {
  it("keeps every call under 500 alerts and the byte budget, in order", () => {
    const rows = Array.from({ length: 1234 }, (_, i) => row(i));
    const calls = [...splitAlertCalls(rows, 1_000_000)];
    expect(calls.map((c) => c.chunk.length)).toEqual([500, 500, 234]);
    const budget = size(rows[0]) * 7 + 3;
    const small = [...splitAlertCalls(rows.slice(0, 20), budget)];
    expect(small.map((c) => c.chunk.length)).toEqual([7, 7, 6]);
    expect(small.flatMap((c) => c.chunk.map((r) => r.key))).toEqual(rows.slice(0, 20).map((r) => r.key));
  });

  it("sets an alert larger than the budget apart as undeliverable, keeping the order", () => {
    const rows = [row(1), row(2), row(3, 5000), row(4)];
    expect([...splitAlertCalls(rows, 1000)].map((c) => [c.chunk.map((r) => r.key), c.tooLarge])).toEqual([
      [["k-1", "k-2"], false],
      [["k-3"], true],
      [["k-4"], false],
    ]);
  });
});
