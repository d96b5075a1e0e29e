import { DEFAULT_BODY_TEMPLATE, renderBody, renderTemplate, templateProblems } from "./body-template";

describe("playbook body templates", () => {
  const context = {
    "incident.number": 42,
    "incident.title": 'Sign-in from "evil" \\ host\nsecond line \u2028 \u{1F600}',
    "incident.labels": ["a", 'b"c'],
    "incident.owner": null,
    "incident.createdAt": new Date("2026-11-20T09:00:00.000Z"),
    "alert.entities": [{ type: "IP", value: "203.0.113.7" }],
  };

  it("fills a whole-string placeholder with the value itself and an embedded one with its text", () => {
    const rendered = renderTemplate(
      {
        number: "{{incident.number}}",
        labels: "{{ incident.labels }}",
        owner: "{{incident.owner}}",
        at: "{{incident.createdAt}}",
        summary: "#{{incident.number}}: {{incident.title}} [{{incident.labels}}] by {{incident.owner}}",
        entities: "{{alert.entities}}",
        nested: [{ deep: "{{incident.number}}" }, 7, true, null],
      },
      context,
    );
    expect(rendered).toEqual({
      number: 42,
      labels: ["a", 'b"c'],
      owner: null,
      at: "2026-11-20T09:00:00.000Z",
      summary: `#42: ${context["incident.title"]} [a, b"c] by `,
      entities: [{ type: "IP", value: "203.0.113.7" }],
      nested: [{ deep: 42 }, 7, true, null],
    });
  });

  it("always produces valid JSON, whatever the values hold", () => {
    const body = renderBody({ text: "Title: {{incident.title}}", title: "{{incident.title}}" }, context);
    const parsed = JSON.parse(body) as { text: string; title: string };
    expect(parsed.title).toBe(context["incident.title"]);
    expect(parsed.text).toBe(`Title: ${context["incident.title"]}`);
  });

  it("leaves unknown names and the template itself alone", () => {
    const template = { a: "{{nope}}", b: "{{incident.title}}" };
    expect(renderTemplate(template, {})).toEqual({ a: null, b: null });
    expect(template).toEqual({ a: "{{nope}}", b: "{{incident.title}}" });
  });

  it("reports unknown placeholders, placeholders in keys, size and depth", () => {
    expect(templateProblems(DEFAULT_BODY_TEMPLATE)).toEqual([]);
    expect(templateProblems({ a: ["x {{incident.nope}}"], "{{incident.id}}": 1 })).toEqual([
      { field: "bodyTemplate", message: "a[0]: unknown placeholder {{incident.nope}} (see docs/api.md)" },
      {
        field: "bodyTemplate",
        message: "{{incident.id}}: placeholders are filled in values only, not in keys",
      },
    ]);
    expect(templateProblems({ big: "x".repeat(40_000) })[0].message).toMatch(/at most 32 KB/);
    let deep: unknown = 1;
    for (let i = 0; i < 30; i++) deep = [deep];
    expect(templateProblems(deep)[0].message).toMatch(/nested deeper than 20/);
    expect(templateProblems({ a: "\u0000" })[0].message).toMatch(/NUL/);
  });
});
