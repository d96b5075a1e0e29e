import type { MiddlewareFn } from "type-graphql";
import { BadUserInputError, MAX_JSON_DEPTH, type InputProblem } from "../../common/src";

/** Whether `value` holds arrays nested more than `max` levels deep (walked without recursion). */
function arraysDeeperThan(value: unknown, max: number): boolean {
  const pending: Array<[unknown[], number]> = Array.isArray(value) ? [[value, 1]] : [];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [list, depth] = next;
    if (depth > max) return true;
    for (const item of list) if (Array.isArray(item)) pending.push([item, depth + 1]);
  }
  return false;
}

/**
 * Refuses a `[JSON]` argument whose items are arrays nested deeper than MAX_JSON_DEPTH, before type-graphql
 * converts the arguments: its conversion recurses into nested arrays (not into objects), so an item a few
 * thousand levels deep overflows the stack and the call fails as an INTERNAL_SERVER_ERROR. The gateway refuses
 * variables past 2,000 levels, but a subgraph reached directly must hold on its own. Records and advisories are
 * objects: no good item is refused.
 */
export function shallowJsonItems(argument: string): MiddlewareFn {
  return ({ args }, next) => {
    const items: unknown = (args as Record<string, unknown>)[argument];
    if (Array.isArray(items)) {
      const problems: InputProblem[] = [];
      items.forEach((item, index) => {
        if (arraysDeeperThan(item, MAX_JSON_DEPTH))
          problems.push({
            index,
            field: argument,
            message: `is nested deeper than ${MAX_JSON_DEPTH} levels`,
          });
      });
      if (problems.length) throw new BadUserInputError("Invalid input; nothing was stored.", problems);
    }
    return next();
  };
}
