import { MAX_ALERT_EVIDENCE_BYTES } from "../../../../common/src";
import { alertEvidenceOf } from "./detections.store";

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe("alertEvidenceOf", () => {
  it("sends evidence that fits the SIEM's bound as it is", () => {
    const evidence = { image: "C:\\Windows\\System32\\rundll32.exe", pid: 4, recordIds: ["a", "b"] };
    expect(alertEvidenceOf(evidence)).toBe(evidence);
  });

  it("cuts long strings and lists, and says so, when the whole would not fit", () => {
    const evidence = {
      commandLine: "é".repeat(20_000),
      changes: Array.from({ length: 20 }, (_, i) => ({ path: `/etc/${"x".repeat(4000)}${i}`, sha256: "ab" })),
      failedLogons: 24,
      decodedTruncated: false,
    };
    expect(bytes(evidence)).toBeGreaterThan(MAX_ALERT_EVIDENCE_BYTES);
    const sent = alertEvidenceOf(evidence) as {
      commandLine: string;
      changes: Array<{ path: string; sha256: string }>;
      truncated: boolean;
    };
    expect(bytes(sent)).toBeLessThanOrEqual(MAX_ALERT_EVIDENCE_BYTES);
    expect(sent).toMatchObject({ failedLogons: 24, decodedTruncated: false, truncated: true });
    expect(sent.commandLine).toBe(`${"é".repeat(256)}…`);
    expect(sent.changes).toHaveLength(10);
    expect(sent.changes[0]).toEqual({ path: `/etc/${"x".repeat(251)}…`, sha256: "ab" });
  });

  it("keeps only the flag when even the cut evidence is too long", () => {
    const evidence = Object.fromEntries(
      Array.from({ length: 2000 }, (_, i) => [`field${i}`, "y".repeat(300)]),
    );
    expect(alertEvidenceOf(evidence)).toEqual({ truncated: true });
  });
});
