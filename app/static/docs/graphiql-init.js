// GraphiQL at GET /graphql: Strawberry's page (GraphiQL with the explorer plugin), in a file
// because the page's CSP allows no inline script. Strawberry's page also sends a Django CSRF
// cookie as a header; this service authenticates with bearer tokens only, so that is left out.
"use strict";

const EXAMPLE_QUERY = `# GraphiQL: write a query on this side, run it with Ctrl-Enter (or the play button).
#
# Most fields need an access token (POST /api/auth/login, or the login mutation).
# Put it in the Headers tab below:
#
#     {"Authorization": "Bearer <access token>"}
#
{
  __typename
}
`;

// The query and variables live in the address, so a page can be shared.
const parameters = {};
for (const entry of window.location.search.slice(1).split("&")) {
  const eq = entry.indexOf("=");
  if (eq >= 0) {
    parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(entry.slice(eq + 1));
  }
}

function updateURL(data) {
  Object.assign(parameters, data);
  const search = Object.keys(parameters)
    .filter((key) => Boolean(parameters[key]))
    .map((key) => `${encodeURIComponent(key)}=${encodeURIComponent(parameters[key])}`)
    .join("&");
  history.replaceState(null, "", `?${search}`);
}

const fetchURL = window.location.href.split("?")[0];

function webSocketURL(url) {
  const parsed = new URL(url);
  parsed.protocol = parsed.protocol === "http:" ? "ws:" : "wss:";
  parsed.hash = "";
  return parsed.toString();
}

const fetcher = GraphiQL.createFetcher({
  url: fetchURL,
  subscriptionUrl: webSocketURL(fetchURL),
});

const explorer = GraphiQLPluginExplorer.explorerPlugin();

function GraphiQLWithExplorer() {
  const [query, setQuery] = React.useState(parameters.q || EXAMPLE_QUERY);
  const [variables, setVariables] = React.useState(parameters.variables);
  const [headers, setHeaders] = React.useState(parameters.headers);

  return React.createElement(GraphiQL, {
    fetcher,
    defaultEditorToolsVisibility: true,
    plugins: [explorer],
    query,
    variables,
    headers,
    onEditQuery(newQuery) {
      setQuery(newQuery);
      updateURL({ q: newQuery });
    },
    onEditVariables(newVariables) {
      setVariables(newVariables);
      updateURL({ variables: newVariables });
    },
    onEditHeaders: setHeaders,
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQLWithExplorer),
);
