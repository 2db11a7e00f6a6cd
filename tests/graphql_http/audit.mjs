// Runs graphql-http's serverAudits against the GraphQL endpoint given as the first argument
// and prints one JSON line per audit: {id, name, status, reason}. Exits 0 whatever the results;
// the Python test decides what passes.
import { serverAudits } from "graphql-http";

const url = process.argv[2];
const results = [];
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  results.push({ id: audit.id, name: audit.name, status: result.status, reason: result.reason ?? null });
}
console.log(JSON.stringify(results));
