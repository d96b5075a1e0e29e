import type { Express } from "express";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The analysts' GraphQL explorer at `/explorer`: GraphiQL, with its schema documentation, completion, history
 * and subscriptions over the gateway's graphql-ws endpoint, served entirely by the gateway from npm packages
 * (GraphiQL's and React's browser builds), so it works on a closed network with no CDN. It is on wherever
 * introspection is (development; production only with `INTROSPECTION=true`), as it needs the schema.
 *
 * The page takes the bearer token from its URL fragment (`/explorer#token=…`, which browsers never send to a
 * server; `npm start` prints such a link) or from the token field, keeps it in the tab's session storage, and
 * sends it as the `Authorization` header over HTTP and as the graphql-ws connection's `authorization`.
 */

const ASSETS: Record<string, { module: string; file: string; type: string }> = {
  "graphiql.min.js": { module: "graphiql", file: "graphiql.min.js", type: "text/javascript" },
  "graphiql.min.css": { module: "graphiql", file: "graphiql.min.css", type: "text/css" },
  "react.production.min.js": {
    module: "react",
    file: "umd/react.production.min.js",
    type: "text/javascript",
  },
  "react-dom.production.min.js": {
    module: "react-dom",
    file: "umd/react-dom.production.min.js",
    type: "text/javascript",
  },
};

/** An npm package's directory (its package.json is always resolvable, whatever its `exports`). */
const packageDir = (module: string) => dirname(require.resolve(`${module}/package.json`));

/** The explorer's page. The script reads no server data: the endpoint is the page's own origin. */
export const EXPLORER_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rampart explorer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/explorer/assets/graphiql.min.css">
<style>
  html, body { height: 100%; margin: 0; }
  body { display: flex; flex-direction: column; font-family: system-ui, sans-serif; }
  #bar { display: flex; gap: .5rem; align-items: center; padding: .4rem .75rem; border-bottom: 1px solid #ddd; }
  #bar input { flex: 1; font-family: monospace; font-size: 12px; padding: .25rem; }
  #graphiql { flex: 1; min-height: 0; }
</style>
</head>
<body>
<div id="bar">
  <strong>Rampart</strong>
  <label for="token">Bearer token</label>
  <input id="token" type="password" autocomplete="off" placeholder="paste a token (npm run --silent token -- --roles ANALYST)">
  <button id="apply" type="button">Use token</button>
</div>
<div id="graphiql">Loading…</div>
<script src="/explorer/assets/react.production.min.js"></script>
<script src="/explorer/assets/react-dom.production.min.js"></script>
<script src="/explorer/assets/graphiql.min.js"></script>
<script>
(function () {
  var KEY = "rampart.explorer.token";
  var fromFragment = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromFragment) {
    sessionStorage.setItem(KEY, fromFragment);
    history.replaceState(null, "", location.pathname + location.search);
  }
  var input = document.getElementById("token");
  input.value = sessionStorage.getItem(KEY) || "";
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  function render() {
    var token = sessionStorage.getItem(KEY) || "";
    var auth = token ? { authorization: "Bearer " + token } : {};
    var ws = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql";
    var fetcher = GraphiQL.createFetcher({
      url: location.origin + "/graphql",
      subscriptionUrl: ws,
      headers: auth,
      wsConnectionParams: auth,
    });
    root.render(React.createElement(GraphiQL, {
      key: token,
      fetcher: fetcher,
      defaultQuery: "# Incidents, newest first, with their alerts' resources across subgraphs.\\n" +
        "query Incidents {\\n  incidents(first: 10) {\\n    totalCount\\n    nodes {\\n      number title severity status\\n" +
        "      alerts(first: 3) { nodes { title resource { name type coverage { covered } } } }\\n    }\\n  }\\n}\\n",
    }));
  }
  document.getElementById("apply").addEventListener("click", function () {
    sessionStorage.setItem(KEY, input.value.trim());
    render();
  });
  render();
})();
</script>
</body>
</html>
`;

/** Mounts the explorer's page and assets on the gateway's Express app. */
export function serveExplorer(app: Express): void {
  const assets = new Map(
    Object.entries(ASSETS).map(([name, a]) => [
      name,
      { body: readFileSync(join(packageDir(a.module), a.file)), type: a.type },
    ]),
  );
  app.get("/explorer", (_req, res) => {
    res.set(
      "content-security-policy",
      "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; font-src 'self' data:; worker-src 'self' blob:",
    );
    res.type("text/html").send(EXPLORER_HTML);
  });
  app.get("/explorer/assets/:name", (req, res) => {
    const asset = assets.get(req.params.name);
    if (!asset) return void res.status(404).json({ errors: [{ message: "No such explorer asset." }] });
    res.set("cache-control", "public, max-age=86400");
    res.type(asset.type).send(asset.body);
  });
}
