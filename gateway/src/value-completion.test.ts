import { surfaceValueCompletion } from "./value-completion";

describe("value-completion errors", () => {
  const nulled = {
    message: "Cannot return null for non-nullable field Resource.name.",
    path: ["learnAppControl", "groups", 0, "machines", 1, "name"],
    extensions: { code: "INVALID_GRAPHQL" },
  };

  it("reports a field the gateway nulled as an error, not only as an extension", () => {
    const out = surfaceValueCompletion({ data: null, extensions: { valueCompletion: [nulled] } });
    expect(out).toEqual({
      data: null,
      errors: [{ message: nulled.message, path: nulled.path, extensions: { code: "INTERNAL_SERVER_ERROR" } }],
      extensions: undefined,
    });
  });

  it("keeps the other errors and extensions; leaves a partial answer's nulling as an extension", () => {
    const other = { message: "Not allowed.", extensions: { code: "FORBIDDEN" } };
    const out = surfaceValueCompletion({
      data: null,
      errors: [other],
      extensions: { valueCompletion: [nulled], cost: 3 },
    });
    expect(out.errors).toEqual([other, expect.objectContaining({ path: nulled.path })]);
    expect(out.extensions).toEqual({ cost: 3 });
    // A dangling reference nulled a nullable field: the answer stands as it is.
    const partial = { data: { detections: [{ resource: null }] }, extensions: { valueCompletion: [nulled] } };
    expect(surfaceValueCompletion(partial)).toBe(partial);
    const clean = { data: { a: 1 } };
    expect(surfaceValueCompletion(clean)).toBe(clean);
  });
});
