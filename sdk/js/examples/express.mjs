// Express with pino: sampled request logs, every error kept, kept lines also sent to PostHog.
// npm install express pino @lipservice/sdk
import express from "express";
import pino from "pino";
import { configureAdaptiveLogging } from "@lipservice/sdk";
import { pinoOptions } from "@lipservice/sdk/pino";

const lipservice = configureAdaptiveLogging({
  serviceName: "checkout-api",
  lipserviceUrl: process.env.LIPSERVICE_URL,
  apiKey: process.env.LIPSERVICE_API_KEY,
  posthogToken: process.env.POSTHOG_PROJECT_TOKEN,
  posthogHost: "https://eu.i.posthog.com",
});
const logger = pino({ ...pinoOptions(lipservice), level: "debug" });

const app = express();
app.use((req, res, next) => {
  // A child's trace id groups a request's lines (the active OpenTelemetry span wins when there is one).
  req.log = logger.child({ trace_id: req.get("x-request-id") });
  res.on("finish", () => req.log.info({ "http.status_code": res.statusCode }, "%s %s %d", req.method, req.path, res.statusCode));
  next();
});
app.get("/orders/:id", (req, res) => {
  req.log.debug("loading order %s", req.params.id);
  res.json({ id: req.params.id });
});

const server = app.listen(3000);
process.on("SIGTERM", async () => {
  server.close();
  await lipservice.shutdown(3_000); // send what is queued, within 3 s
  process.exit(0);
});
