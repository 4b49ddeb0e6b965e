// Next.js route handler (app/api/checkout/route.ts) with winston; the handle is made once per server process.
// npm install winston @lipservice/sdk
import winston from "winston";
import { activeHandle, configureAdaptiveLogging } from "@lipservice/sdk";
import { lipserviceFormat } from "@lipservice/sdk/winston";

const lipservice =
  activeHandle() ??
  configureAdaptiveLogging({
    serviceName: "storefront",
    lipserviceUrl: process.env.LIPSERVICE_URL,
    apiKey: process.env.LIPSERVICE_API_KEY,
    posthogToken: process.env.POSTHOG_PROJECT_TOKEN,
  });

const logger = winston.createLogger({
  level: "debug",
  // The LipService format first, before any format that colours or rewrites the level.
  format: winston.format.combine(lipserviceFormat(lipservice), winston.format.timestamp(), winston.format.json()),
  transports: [new winston.transports.Console()],
});

export const runtime = "nodejs"; // the SDK's Node entry needs Node, not the edge runtime

export async function POST(request: Request): Promise<Response> {
  const traceId = request.headers.get("traceparent")?.split("-")[1];
  logger.debug("checkout started", { trace_id: traceId });
  try {
    const cart = (await request.json()) as { items: unknown[] };
    logger.info(`checkout of ${cart.items.length} items`, { trace_id: traceId });
    return Response.json({ ok: true });
  } catch (error) {
    logger.error("checkout failed", { trace_id: traceId, error });
    return Response.json({ ok: false }, { status: 500 });
  }
}
