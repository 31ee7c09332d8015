"""The schedules' HTTP API, and how the bells hang off the relay application.

``GET /api/v1/schedules`` (any valid token: the web page shows every user the next
bells) lists the schedules and the next runs; everything else needs the ``schedule``
scope:

- ``POST /api/v1/schedules`` (a JSON schedule, as a ``[[schedule]]`` table; 201; 409
  if the name is taken), ``PUT /api/v1/schedules/{name}`` (make or replace),
  ``DELETE`` (204). A schedule of the config cannot be changed here (409: the file is
  the truth for it). The token must be allowed the schedule's channel and target as if
  it were to talk there (``schedule`` without ``talk`` is enough: scheduling is not
  talking live), so the scope grants no channel the token lacks. An API schedule's
  ``audio`` names a file in the data directory's ``sounds`` folder (a bare file name):
  a token never makes the relay read another file of its host.
- ``POST /api/v1/schedules/{name}/ring`` rings it now (202 with the page id; 409 if
  its channel is busy: a bell rung by hand does not wait), ``/pause``, ``/resume``
  (200 with the schedule; kept across restarts).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from polyptt.relay.bells import persist
from polyptt.relay.bells.runner import Bells, NoSuchSchedule, ScheduleConflict
from polyptt.relay.bells.timetable import Schedule, parse_schedule
from polyptt.relay.security import grant_of, json_error
from polyptt.relay.state import RELAY
from polyptt.relay.wire import SCHEDULES_PATH

__all__ = ["setup"]

#: Where an API schedule's ``audio`` files are, in the data directory.
SOUNDS = "sounds"
_NAME = SCHEDULES_PATH + "/{name}"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup(app: web.Application) -> None:
    """Give the relay its `Bells` (``relay.bells``), their tables, routes and task."""
    relay = app[RELAY]
    relay.db.schema(*persist.SCHEMA)
    relay.bells = Bells(relay, relay.settings.config.schedules)
    app.add_routes(
        [
            web.get(SCHEDULES_PATH, list_schedules),
            web.post(SCHEDULES_PATH, _scoped(create)),
            web.get(_NAME, _scoped(show, scope=None)),
            web.put(_NAME, _scoped(replace)),
            web.delete(_NAME, _scoped(delete)),
            web.post(_NAME + "/ring", _scoped(ring)),
            web.post(_NAME + "/pause", _scoped(pause)),
            web.post(_NAME + "/resume", _scoped(resume)),
        ]
    )
    app.cleanup_ctx.append(_running)


async def _running(app: web.Application) -> AsyncIterator[None]:
    bells: Bells = app[RELAY].bells
    await bells.start()
    yield
    await bells.stop()


def _scoped(handler: Handler, scope: str | None = "schedule") -> Handler:
    """`handler` for tokens with `scope`; a missing schedule is 404, a conflict 409."""

    async def checked(request: web.Request) -> web.StreamResponse:
        grant, _ = grant_of(request)
        if scope is not None and scope not in grant.scopes:
            return json_error(403, f"this token lacks the '{scope}' scope")
        try:
            return await handler(request)
        except NoSuchSchedule:
            return json_error(404, f"no schedule named {request.match_info.get('name')!r}")
        except ScheduleConflict as exc:
            return json_error(409, str(exc))

    return checked


def _bells(request: web.Request) -> Bells:
    bells: Bells = request.app[RELAY].bells
    return bells


async def list_schedules(request: web.Request) -> web.StreamResponse:
    bells = _bells(request)
    count = request.query.get("count", "10")
    if not count.isdigit() or not 1 <= int(count) <= 100:
        return json_error(400, "count must be a whole number from 1 to 100")
    return web.json_response({"schedules": bells.schedules(), "next": bells.next_runs(int(count))})


async def show(request: web.Request) -> web.StreamResponse:
    bells = _bells(request)
    return web.json_response(bells.describe(bells.get(request.match_info["name"])))


async def create(request: web.Request) -> web.StreamResponse:
    schedule = await _body(request)
    if isinstance(schedule, web.Response):
        return schedule
    bells = _bells(request)
    entry = await bells.put(schedule, create=True)
    return web.json_response(bells.describe(entry), status=201)


async def replace(request: web.Request) -> web.StreamResponse:
    schedule = await _body(request, request.match_info["name"])
    if isinstance(schedule, web.Response):
        return schedule
    bells = _bells(request)
    entry = await bells.put(schedule)
    return web.json_response(bells.describe(entry))


async def delete(request: web.Request) -> web.StreamResponse:
    await _bells(request).delete(request.match_info["name"])
    return web.Response(status=204)


async def ring(request: web.Request) -> web.StreamResponse:
    from polyptt.relay import requests

    try:
        page = await _bells(request).ring(request.match_info["name"])
    except requests.Refused as exc:
        answer = {"error": exc.message, "channel": exc.channel, "caller_id": exc.caller_id}
        return web.json_response(answer, status=exc.status)
    return web.json_response({"page": page}, status=202)


async def pause(request: web.Request) -> web.StreamResponse:
    bells = _bells(request)
    await bells.pause(request.match_info["name"])
    return web.json_response(bells.describe(bells.get(request.match_info["name"])))


async def resume(request: web.Request) -> web.StreamResponse:
    bells = _bells(request)
    await bells.resume(request.match_info["name"])
    return web.json_response(bells.describe(bells.get(request.match_info["name"])))


async def _body(request: web.Request, name: str | None = None) -> Schedule | web.Response:
    """The request's JSON schedule, checked against the token's rights; or the 400/403."""
    grant, _ = grant_of(request)
    try:
        data: Any = json.loads(await request.read())
    except ValueError:
        return json_error(400, "send the schedule as a JSON object")
    if not isinstance(data, dict):
        return json_error(400, "send the schedule as a JSON object")
    if name is not None:
        data.setdefault("name", name)
        if data["name"] != name:
            return json_error(400, f"the body names {data['name']!r}, the path {name!r}")
    audio = data.get("audio")
    if isinstance(audio, str) and (Path(audio).name != audio or audio.startswith(".")):
        return json_error(400, f"audio must be a file name in the data directory's '{SOUNDS}'")
    try:
        schedule = parse_schedule(data, _sounds(request))
    except ValueError as exc:
        return json_error(400, str(exc))
    may = dataclasses.replace(grant, scopes=grant.scopes | {"talk"})
    refusal = may.refusal(schedule.channel, schedule.target)
    if refusal is None and schedule.sites is not None:  # polyptt.relay.sites
        refusal = grant.site_refusal(
            frozenset(schedule.sites), request.app[RELAY].settings.config.site
        )
    if refusal is not None:
        return json_error(403, refusal.replace("may not talk", "may not page"))
    targets = request.app[RELAY].settings.config.targets
    if schedule.target is not None and schedule.target not in targets:
        return json_error(400, f"no target named {schedule.target!r}")
    return schedule


def _sounds(request: web.Request) -> Path:
    data = request.app[RELAY].settings.data
    return (data or Path.cwd()) / SOUNDS
