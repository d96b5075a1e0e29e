import type { GqlResponse } from "./platform";

/** The `extensions.code` of each error (asserting that there are errors and no data). */
export function codes(res: GqlResponse<unknown>): string[] {
  expect(res.data ?? null).toBeNull();
  return (res.errors ?? []).map((e) => String(e.extensions?.code));
}

/** The problems of a BAD_USER_INPUT error as `[index].field: message` lines (`field: message` without an index). */
export function problems(res: GqlResponse<unknown>): string[] {
  expect(codes(res)).toEqual(["BAD_USER_INPUT"]);
  const list = (res.errors![0].extensions?.problems ?? []) as Array<{
    index?: number;
    field: string;
    message: string;
  }>;
  return list.map((p) => `${p.index === undefined ? "" : `[${p.index}].`}${p.field}: ${p.message}`);
}
