// Apollo Client's own links against a live server: automatic persisted queries (hash by GET,
// the document once when the server does not know it) and batching. Prints one JSON object:
// what each step answered and which HTTP requests it took. Usage: node apollo.mjs URL TOKEN NONCE
// (the nonce names the operations, so that every run sends documents the server has not seen).
// Last, a batch one operation too large, as Apollo's BatchHttpLink reports it to each query.
import { createHash } from "node:crypto";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";
import { BatchHttpLink } from "@apollo/client/link/batch-http/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";

const [url, token, nonce] = process.argv.slice(2);
const sha256 = (text) => createHash("sha256").update(text).digest("hex");

function client(transport, requests) {
  const fetchAndLog = async (input, init) => {
    const body = init?.body ? JSON.parse(init.body) : null;
    const operations = body === null ? [] : Array.isArray(body) ? body : [body];
    const method = init?.method ?? "GET";
    requests.push({
      method,
      withDocument:
        method === "GET"
          ? new URL(input).searchParams.has("query")
          : operations.some((operation) => typeof operation.query === "string"),
      operations: Math.max(operations.length, 1),
    });
    return fetch(input, init);
  };
  const options = { uri: url, fetch: fetchAndLog, headers: { authorization: `Bearer ${token}` } };
  const link = ApolloLink.from([
    createPersistedQueryLink({ sha256, useGETForHashedQueries: transport === "http" }),
    transport === "http" ? new HttpLink(options) : new BatchHttpLink({ ...options, batchMax: 5 }),
  ]);
  return new ApolloClient({ link, cache: new InMemoryCache(), defaultOptions: { query: { fetchPolicy: "network-only" } } });
}

async function step(transport, documents) {
  const requests = [];
  const apollo = client(transport, requests);
  const answers = await Promise.all(documents.map((text) => apollo.query({ query: gql(text) })));
  return { data: answers.map((answer) => answer.data), requests };
}

// One batch of eleven operations, one more than the server takes: what each query rejects with.
async function oversized() {
  const link = new BatchHttpLink({ uri: url, headers: { authorization: `Bearer ${token}` }, batchMax: 11 });
  const apollo = new ApolloClient({ link, cache: new InMemoryCache() });
  const queries = Array.from({ length: 11 }, (_, i) => gql(`query Over${nonce}${i} { taskStats { total } }`));
  const outcomes = await Promise.allSettled(queries.map((query) => apollo.query({ query, fetchPolicy: "network-only" })));
  return outcomes.map((outcome) => {
    const error = outcome.reason?.networkError;
    return { name: error?.name, statusCode: error?.statusCode, message: error?.result?.errors?.[0]?.message };
  });
}

const STATS = `query Stats${nonce} { taskStats { total pending } }`;
const TITLES = `query Titles${nonce} { tasks(first: 5) { nodes { title } } }`;
console.log(
  JSON.stringify({
    first: await step("http", [STATS]),
    again: await step("http", [STATS]),
    batch: await step("batch", [STATS, TITLES]),
    oversized: await oversized(),
  }),
);
