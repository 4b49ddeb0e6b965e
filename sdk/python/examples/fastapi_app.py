"""FastAPI: configure LipService in the lifespan, shut it down (flushing what is queued) when the app stops.

Run with `uvicorn fastapi_app:app`. uvicorn's access logger does not propagate to the root logger, so it is listed
as a target of its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from lipservice_sdk import configure_adaptive_logging

log = logging.getLogger("shop.api")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    logging.basicConfig(level=logging.INFO)
    handle = configure_adaptive_logging(
        "shop-api",
        lipservice_url=os.environ.get("LIPSERVICE_URL"),
        api_key=os.environ.get("LIPSERVICE_API_KEY"),
        posthog_token=os.environ.get("POSTHOG_PROJECT_TOKEN"),
        logger=[None, "uvicorn.access"],
    )
    yield
    handle.shutdown(timeout=3.0)


app = FastAPI(lifespan=lifespan)


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    log.info("Item %d read", item_id)  # high volume: sampled by the policy
    if item_id < 0:
        log.error("Negative item id %d requested", item_id)  # errors are always kept
        raise HTTPException(status_code=400, detail="negative id")
    return {"item_id": item_id}
