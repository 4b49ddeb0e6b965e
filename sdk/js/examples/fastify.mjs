// Fastify (pino inside): spread pinoOptions into the logger options.
// npm install fastify @lipservice/sdk
import Fastify from "fastify";
import { configureAdaptiveLogging } from "@lipservice/sdk";
import { pinoOptions } from "@lipservice/sdk/pino";

const lipservice = configureAdaptiveLogging({
  serviceName: "search-gateway",
  // Offline: a policy file decides; nothing is fetched or sent.
  policy: new URL("./policy.json", import.meta.url).pathname,
});

const app = Fastify({ logger: { level: "info", ...pinoOptions(lipservice) } });
app.get("/search", async (request) => {
  request.log.info({ q: request.query.q }, "search");
  return { hits: [] };
});
app.addHook("onClose", () => lipservice.shutdown());
await app.listen({ port: 3001 });
