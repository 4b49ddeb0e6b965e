"""Flask with structlog: the processor drops sampled-out events before rendering; errors always pass.

Run with `flask --app flask_app run`. Without LIPSERVICE_URL and POSTHOG_PROJECT_TOKEN it runs offline with the
policy file next to this module (a `lipservice.policy/v1` document; optional fields may be left out).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import structlog
from flask import Flask
from lipservice_sdk import configure_adaptive_logging
from lipservice_sdk.structlog_processor import lipservice_processor

logging.basicConfig(level=logging.INFO, format="%(message)s")
configure_adaptive_logging(
    "shop-flask",
    lipservice_url=os.environ.get("LIPSERVICE_URL"),
    api_key=os.environ.get("LIPSERVICE_API_KEY"),
    posthog_token=os.environ.get("POSTHOG_PROJECT_TOKEN"),
    policy=Path(__file__).with_name("policy.json"),
    install_logging=False,  # structlog writes straight to stdout below; the processor does the sampling
)
structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        lipservice_processor,  # after add_log_level, before the renderer
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.JSONRenderer(),
    ],
    logger_factory=structlog.PrintLoggerFactory(),
)

app = Flask(__name__)
log = structlog.get_logger("shop.flask")


@app.get("/health")
def health() -> str:
    log.info("health check", path="/health")  # a typical pattern to sample at a low rate
    return "ok"


@app.get("/checkout/<int:order_id>")
def checkout(order_id: int) -> str:
    structlog.contextvars.bind_contextvars(trace_id=f"{order_id:032x}")  # one request, one sampling decision
    log.info("checkout started", order_id=order_id)
    if order_id % 13 == 0:
        log.error("payment declined", order_id=order_id)
    return "done"
