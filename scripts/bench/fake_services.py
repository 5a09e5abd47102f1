#!/usr/bin/env python3
"""Fake Nylas and CRMs for calsync's backfill benchmarks (scripts/bench-backfill-memory,
scripts/bench-backfill-hubspot).

  fake_services.py [EVENTS] [LATENCY_MS]

One grant with one calendar holding N events, listed in pages of `limit` and generated on the
fly (the fake holds no event list, so its own memory does not grow with N). CRMs on the same
port: a generic REST CRM (any other path) that answers every create with a new id, and HubSpot's
meeting endpoints under /crm/ (single create/update/archive, batch upsert/update/archive by the
unique property `calsync_event_id`, the property read, owners). Every CRM request waits
LATENCY_MS (default 0) before its answer, as a remote CRM would; requests are served
concurrently. Loopback only. Prints the port it listens on, then serves until killed.
GET /_stats answers the counts (`requests` per CRM method and path, event ids with their ids).
"""
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

EVENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
LATENCY = (int(sys.argv[2]) if len(sys.argv) > 2 else 0) / 1000
NOW = int(time.time())
FIRST_START = NOW - 80 * 86_400
GRANT = "g-bench"
CALENDAR = "cal-bench"
LOCK = threading.Lock()
STATS = {"creates": 0, "updates": 0, "deletes": 0, "event_pages": 0, "requests": {}}
# HubSpot meetings: event id -> meeting id (the unique property's values).
MEETINGS = {}
MEETINGS_PATH = "/crm/objects/2026-03/meetings"


def count_request(method, path):
    """Counts a CRM request by method and path (meeting ids folded into `{id}`)."""
    if path.startswith(MEETINGS_PATH + "/") and path.rsplit("/", 1)[-1].isdigit():
        path = MEETINGS_PATH + "/{id}"
    key = f"{method} {path}"
    with LOCK:
        STATS["requests"][key] = STATS["requests"].get(key, 0) + 1
    time.sleep(LATENCY)


def hubspot_meeting(event_id, created):
    """A meeting of a batch answer: created or found by the unique property."""
    with LOCK:
        meeting_id = MEETINGS.get(event_id)
        new = meeting_id is None
        if new:
            meeting_id = str(100_000 + len(MEETINGS))
            MEETINGS[event_id] = meeting_id
            STATS["creates" if created else "updates"] += 1
        else:
            STATS["updates"] += 1
    return {"id": meeting_id, "new": new, "properties": {"calsync_event_id": event_id},
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z",
            "archived": False}


def event(i):
    start = FIRST_START + i * 60
    return {
        "id": f"evt-{i:07d}",
        "object": "event",
        "grant_id": GRANT,
        "calendar_id": CALENDAR,
        "title": f"Customer call {i}",
        "description": "Discovery call with the buyer's team; agenda in the invite.",
        "status": "confirmed",
        "busy": True,
        "ical_uid": f"bench-{i}@seller.example",
        "created_at": NOW - 90 * 86_400,
        "updated_at": NOW - 86_400,
        "when": {"object": "timespan", "start_time": start, "end_time": start + 1_800},
        "participants": [
            {"email": f"buyer{i % 500}@customer.example", "name": "Buyer", "status": "yes"},
            {"email": "rep@seller.example", "name": "Rep", "status": "yes"},
        ],
        "organizer": {"email": "rep@seller.example", "name": "Rep"},
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go out as separate writes: without NODELAY, Nagle's algorithm and
        # the client's delayed ACK would add ~40 ms to every answer.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def drain(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/_stats":
            with LOCK:
                return self.answer(200, dict(STATS, meetings=len(MEETINGS)))
        if url.path.startswith("/crm/"):
            return self.hubspot_get(url.path, query)
        if url.path == "/v3/grants":
            offset = int(query.get("offset", 0))
            data = [] if offset else [
                {"id": GRANT, "grant_status": "valid", "email": "rep@seller.example", "provider": "google"}
            ]
            return self.answer(200, {"request_id": "r", "data": data, "limit": 100, "offset": offset})
        if url.path == f"/v3/grants/{GRANT}":
            return self.answer(200, {"request_id": "r", "data": {"id": GRANT, "grant_status": "valid", "email": "rep@seller.example"}})
        if url.path == f"/v3/grants/{GRANT}/calendars":
            return self.answer(200, {"request_id": "r", "data": [
                {"id": CALENDAR, "name": "Work", "is_primary": True, "read_only": False, "is_owned_by_user": True}
            ]})
        if url.path == f"/v3/grants/{GRANT}/events":
            if query.get("calendar_id") != CALENDAR or query.get("master_event_id"):
                return self.answer(200, {"request_id": "r", "data": []})
            limit = int(query.get("limit", 50))
            offset = int(query.get("page_token", 0))
            end = min(offset + limit, EVENTS)
            with LOCK:
                STATS["event_pages"] += 1
            body = {"request_id": "r", "data": [event(i) for i in range(offset, end)]}
            if end < EVENTS:
                body["next_cursor"] = str(end)
            return self.answer(200, body)
        with LOCK:
            STATS["unknown_gets"] = STATS.get("unknown_gets", 0) + 1
            STATS["last_unknown_get"] = url.path
        self.answer(404, {"error": {"type": "not_found", "message": url.path}})

    def hubspot_get(self, path, query):
        count_request("GET", path)
        if path == "/crm/v3/properties/meetings/calsync_event_id":
            return self.answer(200, {"name": "calsync_event_id", "label": "calsync event id",
                                     "type": "string", "fieldType": "text",
                                     "groupName": "meetinginformation", "hasUniqueValue": True,
                                     "options": []})
        if path == "/crm/owners/2026-03":
            email = query.get("email", "")
            return self.answer(200, {"results": [{"id": "77", "email": email, "userId": 7}]})
        if path == MEETINGS_PATH:
            return self.answer(200, {"results": []})
        self.answer(404, {"status": "error", "category": "OBJECT_NOT_FOUND", "message": path})

    def hubspot_post(self, path, body):
        count_request("POST", path)
        inputs = body.get("inputs", [])
        if path == MEETINGS_PATH + "/batch/upsert":
            results = [hubspot_meeting(i["id"], created=True) for i in inputs]
            return self.answer(200, {"status": "COMPLETE", "results": results})
        if path == MEETINGS_PATH + "/batch/update":
            with LOCK:
                STATS["updates"] += len(inputs)
            results = [{"id": i["id"], "properties": {}} for i in inputs]
            return self.answer(200, {"status": "COMPLETE", "results": results})
        if path == MEETINGS_PATH + "/batch/archive":
            with LOCK:
                STATS["deletes"] += len(inputs)
            return self.answer_empty()
        if path == MEETINGS_PATH + "/search":
            return self.answer(200, {"total": 0, "results": []})
        if path == MEETINGS_PATH:
            event_id = body.get("properties", {}).get("calsync_event_id", "")
            meeting = hubspot_meeting(event_id, created=True)
            return self.answer(201, {"id": meeting["id"], "properties": meeting["properties"]})
        self.answer(404, {"status": "error", "category": "OBJECT_NOT_FOUND", "message": path})

    def answer_empty(self):
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        if self.path.startswith("/crm/"):
            return self.hubspot_post(urlparse(self.path).path, json.loads(self.drain() or b"{}"))
        self.drain()
        with LOCK:
            STATS["creates"] += 1
            record = STATS["creates"]
        self.answer(201, {"id": f"m-{record}"})

    def do_PUT(self):
        self.drain()
        if self.path.startswith("/crm/"):
            count_request(self.command, urlparse(self.path).path)
        with LOCK:
            STATS["updates"] += 1
        self.answer(200, {"id": self.path.rsplit("/", 1)[-1]})

    do_PATCH = do_PUT

    def do_DELETE(self):
        if self.path.startswith("/crm/"):
            count_request("DELETE", urlparse(self.path).path)
        with LOCK:
            STATS["deletes"] += 1
        self.answer_empty()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
