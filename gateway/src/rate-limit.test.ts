import type { Identity } from "../../subgraphs/common/src";
import { RateLimits, TokenBucket, type RateLimitSettings } from "./rate-limit";

const OFF = { perSecond: 0, burst: 1 };
const alice: Identity = { tenantId: "tenant-a", subject: "alice", roles: [] };
const bob: Identity = { tenantId: "tenant-a", subject: "bob", roles: [] };
const carol: Identity = { tenantId: "tenant-b", subject: "carol", roles: [] };

/** Limits on a clock the test moves (ms). */
function limitsAt(settings: Partial<RateLimitSettings>) {
  const clock = { now: 1_000_000 };
  const limits = new RateLimits(
    { userRequests: OFF, tenantRequests: OFF, tenantIngestBytes: OFF, ...settings },
    () => clock.now,
  );
  return { limits, clock };
}

describe("TokenBucket", () => {
  it("lets a burst through, then refills at its rate", () => {
    const bucket = new TokenBucket({ perSecond: 2, burst: 3 }, 0);
    for (let i = 0; i < 3; i++) {
      expect(bucket.wait(1, 0)).toBe(0);
      bucket.take(1, 0);
    }
    // Empty: one token comes back every half second.
    expect(bucket.wait(1, 0)).toBe(0.5);
    expect(bucket.wait(1, 250)).toBe(0.25);
    expect(bucket.wait(1, 500)).toBe(0);
    // Never more than the burst, however long it idles.
    expect(bucket.wait(4, 60_000)).toBe(0);
    bucket.take(3, 60_000);
    expect(bucket.wait(1, 60_000)).toBe(0.5);
  });

  it("a cost above the burst waits for a full bucket, then leaves it in debt", () => {
    const bucket = new TokenBucket({ perSecond: 100, burst: 1000 }, 0);
    expect(bucket.wait(5000, 0)).toBe(0);
    bucket.take(5000, 0);
    // 4000 in debt, and one more byte: 40.01 s at 100 per second.
    expect(bucket.wait(1, 0)).toBeCloseTo(40.01, 6);
    expect(bucket.wait(0, 40_000)).toBe(0);
    expect(bucket.full(40_000)).toBe(false);
    expect(bucket.full(50_000)).toBe(true);
  });

  it("refills nothing when the clock steps back", () => {
    const bucket = new TokenBucket({ perSecond: 1, burst: 1 }, 10_000);
    bucket.take(1, 10_000);
    expect(bucket.wait(1, 5_000)).toBe(1);
    expect(bucket.wait(1, 10_500)).toBe(0.5);
  });
});

describe("RateLimits", () => {
  it("refuses a user's request past the burst with whole seconds to wait; other users and tenants go on", () => {
    const { limits, clock } = limitsAt({ userRequests: { perSecond: 0.5, burst: 2 } });
    expect([limits.graphql(alice), limits.graphql(alice)]).toEqual([null, null]);
    expect(limits.graphql(alice)).toEqual({
      limit: "user",
      retryAfterSeconds: 2,
      message:
        "Too many requests: you may send 0.5 per second (bursts of 2) to this gateway. Try again in 2 s.",
    });
    expect(limits.graphql(bob)).toBeNull();
    expect(limits.graphql(carol)).toBeNull();
    // A part of a second is rounded up.
    clock.now += 500;
    expect(limits.graphql(alice)?.retryAfterSeconds).toBe(2);
    clock.now += 1000;
    expect(limits.graphql(alice)?.retryAfterSeconds).toBe(1);
    clock.now += 500;
    expect(limits.graphql(alice)).toBeNull();
  });

  it("counts every user of a tenant against the tenant's budget, and a refusal costs nothing", () => {
    const { limits, clock } = limitsAt({
      userRequests: { perSecond: 1, burst: 2 },
      tenantRequests: { perSecond: 10, burst: 3 },
    });
    expect([limits.graphql(alice), limits.graphql(alice), limits.graphql(bob)]).toEqual([null, null, null]);
    expect(limits.graphql(bob)).toMatchObject({ limit: "tenant", retryAfterSeconds: 1 });
    expect(limits.graphql(carol)).toBeNull();
    // Bob's refused request took nothing of his own budget: his second token is still there.
    clock.now += 200;
    expect(limits.graphql(bob)).toBeNull();
    expect(limits.graphql(bob)).toMatchObject({ limit: "user" });
  });

  it("charges ingest bytes per tenant: a declared body must fit, a streamed one is counted as it goes", () => {
    const { limits, clock } = limitsAt({ tenantIngestBytes: { perSecond: 1000, burst: 4000 } });
    expect(limits.ingest(alice, 3000)).toBeNull();
    expect(limits.ingest(bob, 3000)).toEqual({
      limit: "tenant",
      retryAfterSeconds: 2,
      message:
        "Too many ingest bytes: your tenant may send 1000 bytes per second to this gateway. Try again in 2 s.",
    });
    expect(limits.ingest(carol, 3000)).toBeNull();
    // A body without a length is admitted while the tenant is not in debt, and its bytes are counted after.
    expect(limits.ingest(alice, null)).toBeNull();
    limits.countIngestBytes(alice, 6000);
    expect(limits.ingest(alice, null)).toMatchObject({ limit: "tenant", retryAfterSeconds: 5 });
    clock.now += 5000;
    expect(limits.ingest(alice, null)).toBeNull();
  });

  it("ingest requests count against the request budgets too", () => {
    const { limits } = limitsAt({ userRequests: { perSecond: 1, burst: 1 } });
    expect(limits.ingest(alice, 10)).toBeNull();
    expect(limits.graphql(alice)).toMatchObject({ limit: "user" });
  });

  it("a limit at 0 per second is off", () => {
    const { limits } = limitsAt({});
    for (let i = 0; i < 1000; i++) expect(limits.graphql(alice) ?? limits.ingest(alice, 1e9)).toBeNull();
    expect(limits.size).toBe(0);
  });

  it("forgets the buckets of idle keys", () => {
    const { limits, clock } = limitsAt({
      userRequests: { perSecond: 1, burst: 10 },
      tenantRequests: { perSecond: 1, burst: 10 },
    });
    for (let i = 0; i < 100; i++) limits.graphql({ tenantId: `tenant-${i}`, subject: "someone", roles: [] });
    expect(limits.size).toBe(200);
    // Refilled long ago, but only forgotten at the next scan, a minute after the last.
    clock.now += 59_000;
    for (let i = 0; i < 5; i++) limits.graphql(alice);
    expect(limits.size).toBe(202);
    clock.now += 1_000;
    limits.graphql(bob);
    // Alice's buckets are not full yet (nor is her tenant's, which Bob now draws on): they stay.
    expect(limits.size).toBe(3);
  });
});
