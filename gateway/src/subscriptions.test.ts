import type { ExecutionResult } from "graphql";
import { Subscriber } from "./subscriptions";

const event = (n: number): ExecutionResult => ({ data: { n } });

describe("Subscriber: a bounded queue per client subscription", () => {
  it("hands results over in order, waiting when empty", async () => {
    const s = new Subscriber(10, () => undefined);
    const pending = s.next();
    s.push(event(1));
    s.push(event(2));
    expect(await pending).toEqual({ done: false, value: event(1) });
    expect(await s.next()).toEqual({ done: false, value: event(2) });
    s.end();
    expect(await s.next()).toEqual({ done: true, value: undefined });
  });

  it("drops a consumer that falls more than the limit behind: one SLOW_CONSUMER error, then the end", async () => {
    let overflowed = 0;
    let detached = 0;
    const s = new Subscriber(3, () => overflowed++);
    s.detach = () => detached++;
    for (let i = 1; i <= 3; i++) s.push(event(i));
    expect(overflowed).toBe(0);
    s.push(event(4)); // the fourth unread result overflows
    expect(overflowed).toBe(1);
    expect(detached).toBe(1);
    s.push(event(5)); // ignored once ended
    const last = await s.next();
    expect(last.done).toBe(false);
    expect(last.value?.errors?.[0].extensions?.code).toBe("SLOW_CONSUMER");
    expect(await s.next()).toEqual({ done: true, value: undefined });
    expect(overflowed).toBe(1);
  });

  it("a consumer that keeps up never overflows, however many results pass", async () => {
    const s = new Subscriber(2, () => {
      throw new Error("must not overflow");
    });
    for (let i = 0; i < 1000; i++) {
      s.push(event(i));
      expect((await s.next()).value).toEqual(event(i));
    }
  });

  it("return() ends it and detaches it from its group at once", async () => {
    let detached = 0;
    const s = new Subscriber(5, () => undefined);
    s.detach = () => detached++;
    const pending = s.next();
    await s.return();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(detached).toBe(1);
  });
});
