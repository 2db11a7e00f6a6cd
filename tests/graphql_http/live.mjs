// Apollo Client's GraphQLWsLink (graphql-ws) against a live server: a subscription beside an HTTP
// link, as a front end splits them. Prints one JSON object: the event of a task created through
// Apollo's own mutation, and the close code once the session is logged out (4401: final, so the
// client does not retry with a token that cannot work). Usage: node live.mjs URL TOKEN REFRESH
import { ApolloClient, HttpLink, InMemoryCache, gql, split } from "@apollo/client/core/index.js";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions/index.js";
import { getMainDefinition } from "@apollo/client/utilities/index.js";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, refreshToken] = process.argv.slice(2);
const headers = { authorization: `Bearer ${token}` };
const closed = new Promise((resolve) => {
  globalThis.onSocketClosed = resolve;
});
const sockets = createClient({
  url: url.replace(/^http/, "ws"),
  webSocketImpl: WebSocket,
  connectionParams: () => headers, // a function: a reconnect would ask for a fresh token
  on: { closed: (event) => globalThis.onSocketClosed(event.code) },
});
const isSubscription = ({ query }) => {
  const definition = getMainDefinition(query);
  return definition.kind === "OperationDefinition" && definition.operation === "subscription";
};
const apollo = new ApolloClient({
  link: split(isSubscription, new GraphQLWsLink(sockets), new HttpLink({ uri: url, headers })),
  cache: new InMemoryCache(),
});

const events = [];
const idle = () => {};
let wake = idle; // set only while nextEvent waits: an event that comes between waits is queued
apollo.subscribe({ query: gql`subscription { taskEvents { kind taskId version } }` }).subscribe({
  next: ({ data }) => {
    events.push(data.taskEvents);
    wake();
  },
  error: (error) => events.push({ error: String(error) }),
});
const nextEvent = (ms) =>
  new Promise((resolve) => {
    const timer = setTimeout(() => {
      wake = idle;
      resolve(null);
    }, ms);
    wake = () => {
      wake = idle;
      clearTimeout(timer);
      resolve(events.shift());
    };
    if (events.length) wake();
  });
const create = async (title) => {
  const mutation = gql`mutation ($title: String!) { createTask(input: { title: $title }) { id } }`;
  const { data } = await apollo.mutate({ mutation, variables: { title } });
  return data.createTask.id;
};

// The protocol acknowledges no subscribe: write until an event shows the subscription is live.
for (let attempt = 0; ; attempt++) {
  const primer = await create(`primer ${attempt}`);
  let event;
  while ((event = await nextEvent(500)) && event.taskId !== primer);
  if (event) break;
  if (attempt > 30) throw new Error("the subscription never started");
}
const taskId = await create("from Apollo");
const event = await nextEvent(10000);
await fetch(url.replace(/\/graphql$/, "/api/auth/logout"), {
  method: "POST",
  headers: { ...headers, "content-type": "application/json" },
  body: JSON.stringify({ refresh_token: refreshToken }),
});
const closeCode = await Promise.race([closed, new Promise((r) => setTimeout(() => r(null), 10000))]);
console.log(JSON.stringify({ taskId, event, closeCode }));
sockets.dispose();
process.exit(0);
