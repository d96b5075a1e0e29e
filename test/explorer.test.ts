import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { Role } from "../subgraphs/common/src";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";
import { seedTenant } from "./utils/seed";

/**
 * The analysts' explorer, in a real browser (Debian's Chromium, which `npm test` installs when it can): the page
 * and all it loads come from the gateway (no other host is reachable), it signs in from the link `npm start`
 * prints, runs a query across subgraphs and receives a subscription's events over graphql-ws.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("explorer (GraphiQL served by the gateway)", () => {
  let platform: TestPlatform;
  let browser: Browser;
  let page: Page;
  let analyst: string;
  const requested: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `No Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH.`,
      );
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    analyst = await platform.token([Role.ANALYST]);
    await seedTenant(platform, "tenant-a", 3);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage();
    page.on("request", (r) => void requested.push(r.url()));
    page.on("pageerror", (err) => void pageErrors.push(err.message));
  });
  afterAll(async () => {
    await browser?.close();
    await platform?.stop();
  });

  const origin = () => new URL(platform.gateway.url).origin;
  /** Replaces the query editor's text (GraphiQL's CodeMirror) and runs it. */
  async function run(query: string): Promise<void> {
    await page.evaluate((text) => {
      const editor = document.querySelector(".graphiql-query-editor .CodeMirror") as unknown as {
        CodeMirror: { setValue(v: string): void };
      };
      editor.CodeMirror.setValue(text);
    }, query);
    // GraphiQL reads the operation's name from the editor a moment after an edit (debounced): until it has,
    // it sends the previous name, which the gateway refuses. Run again until the new name went out.
    for (let attempt = 0; ; attempt++) {
      await page.waitForTimeout(300);
      await page.click(".graphiql-execute-button");
      if ((await shows("Unknown operation named", 700)) === null) return;
      if (attempt === 10) throw new Error("GraphiQL kept sending the previous operation's name");
    }
  }
  /** The result pane's text once it contains `part`, or null when it has not within `timeoutMs`. */
  async function shows(part: string, timeoutMs: number): Promise<string | null> {
    return page
      .waitForFunction(
        (wanted) => {
          const pane = document.querySelector(".result-window .CodeMirror") as unknown as {
            CodeMirror: { getValue(): string };
          } | null;
          const text = pane?.CodeMirror.getValue() ?? "";
          return text.includes(wanted) ? text : null;
        },
        part,
        { timeout: timeoutMs },
      )
      .then(
        async (handle) => (await handle.jsonValue()) as string,
        () => null,
      );
  }
  /** The result pane's text once it contains `part`. */
  async function result(part: string): Promise<string> {
    const text = await shows(part, 20_000);
    if (text === null) throw new Error(`the result pane never showed ${part}`);
    return text;
  }

  it("signs in from the printed link, loads only from the gateway, and runs a query across subgraphs", async () => {
    await page.goto(`${origin()}/explorer#token=${analyst}`);
    await page.waitForSelector(".graphiql-query-editor .CodeMirror", { timeout: 20_000 });
    // The token left the address bar (it stays in the tab's session storage).
    expect(new URL(page.url()).hash).toBe("");
    await run(
      "query Mine { resources(first: 3) { totalCount nodes { name coverage { covered } alerts(first: 1) { totalCount } } } }",
    );
    const answer = JSON.parse(await result("totalCount")) as {
      data: { resources: { totalCount: number } };
      errors?: unknown;
    };
    expect(answer.errors).toBeUndefined();
    expect(answer.data.resources.totalCount).toBe(3);
    expect(requested.filter((url) => !url.startsWith(origin()) && !url.startsWith("data:"))).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it("receives a subscription's events over the gateway's WebSocket", async () => {
    await run("subscription Watch { incidentChanges { kind incident { title } } }");
    // Once the subscription is running (the result pane is empty and waiting), an incident is created.
    const title = `Explorer sees this ${Date.now()}`;
    let created = false;
    for (let attempt = 0; attempt < 40 && !created; attempt++) {
      await new Promise((r) => setTimeout(r, 250));
      const res = await postGraphql<{ createIncident: { id: string } }>(
        platform.gateway.url,
        {
          query: `mutation ($t: String!) { createIncident(input: { title: $t, severity: LOW }) { id } }`,
          variables: { t: `${title} ${attempt}` },
        },
        { authorization: `Bearer ${analyst}` },
      );
      expect(res.errors).toBeUndefined();
      const seen = (await shows(title, 2_000)) !== null;
      created = seen;
    }
    expect(created).toBe(true);
  });

  it("is the page a browser gets at the endpoint itself", async () => {
    const res = await fetch(platform.gateway.url, { headers: { accept: "text/html" }, redirect: "manual" });
    expect([res.status, res.headers.get("location")]).toEqual([302, "/explorer"]);
  });
});
