"""The hookd Session: GraphQL over HTTP, and live logs over server-sent events, with the standard library."""

import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

DEFAULT_URL = "http://127.0.0.1:4000/graphql"
FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED")
# Where hookd serves subscriptions as server-sent events, under the GraphQL URL.
STREAM_SUFFIX = "/stream"
# GraphQL's largest Int: executionLog(after:) past every line, for a wait that needs the outcome only.
MAX_SEQ = 2147483647
# hookd sends a comment every 12 s on an idle stream: a read that waits longer means the stream is gone.
STREAM_READ_TIMEOUT = 30.0
# Reconnections in a row that opened no stream before giving up: with the back-off, about 17 s,
# long enough for hookd to restart.
STREAM_RETRIES = 10

LOG_SUBSCRIPTION = """subscription($id: ID!, $after: Int) { executionLog(executionId: $id, after: $after) {
  lines { seq stream text at } finished { status } } }"""

Json = Dict[str, Any]

EXECUTION_FIELDS = """id hook scriptName status exitCode signal error skipReason waitingFor queue jobId publishId
  attempt command argv input output logLineCount droppedBytes createdAt startedAt finishedAt durationMs"""
TASK_PAGE = 1000
JOB_FIELDS = """id code name status size source sourceHr destination destinationHr engine taskCount tasks(first: %d) message failCount
  createdAt updatedAt queue { code name } user { email }""" % TASK_PAGE
ENTRY_FIELDS = "id filename isDir size ident canPublish rejected canUpload warning info commentLabel path"
ENTRY_PAGE = 1000
PUBLISH_FIELDS = """id state guidelines commentRequired timeReportRequired metadataRequired
  statuses { label value default }
  entryCount entries(first: %d) { %s }
  error job { id code status }""" % (ENTRY_PAGE, ENTRY_FIELDS)


class HookdError(Exception):
    """A GraphQL or transport error. ``code`` is hookd's error code (BAD_USER_INPUT,
    UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, HOOK_FAILED, ...) or TIMEOUT / NETWORK.

    On HOOK_FAILED, ``hook`` names the hook point that refused (PRE_SUBMIT_SERVER, ...) and
    ``hook_message`` is what that hook said to the user (plain text, or None when it said nothing)."""

    def __init__(self, code: str, message: str, errors: Optional[List[Json]] = None, hook: Optional[str] = None, hook_message: Optional[str] = None) -> None:
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.errors = errors or []
        self.hook = hook
        self.hook_message = hook_message


class _StreamDropped(Exception):
    """The event stream ended before its last event (network, proxy, server restart): resume it."""


class _NoStream(Exception):
    """This hookd serves no event streams (an older version): poll instead."""


def _hook_enum(hook: str) -> str:
    """Accepts the dashed name scripts know ('post-done-server') or the enum (POST_DONE_SERVER)."""
    return hook.replace("-", "_").upper()


def _with_dir_sizes(entries: Sequence[Json]) -> List[Json]:
    """Directory sizes are the sum of their files, computed when absent (as the original did)."""
    out = []
    for entry in entries:
        entry = dict(entry)
        if entry.get("is_dir"):
            entry["files"] = _with_dir_sizes(entry.get("files") or [])
            if entry.get("size") is None:
                entry["size"] = sum(f.get("size") or 0 for f in entry["files"])
        out.append(entry)
    return out


class Session(object):
    """A connection to hookd. ``url`` defaults to $HOOKD_URL (or http://127.0.0.1:4000/graphql),
    ``api_key`` to $HOOKD_API_KEY; ``timeout`` is seconds per HTTP request."""

    # An opener set on the session (hookd.accsyn's proxy) takes the place of urlopen.
    _opener: Optional[urllib.request.OpenerDirector] = None

    def __init__(self, url: Optional[str] = None, api_key: Optional[str] = None, timeout: float = 60.0) -> None:
        url = url or os.environ.get("HOOKD_URL") or DEFAULT_URL
        self.url = url if url.rstrip("/").endswith("/graphql") else url.rstrip("/") + "/graphql"
        self.api_key = api_key or os.environ.get("HOOKD_API_KEY")
        if not self.api_key:
            raise HookdError("UNAUTHENTICATED", "no API key: pass api_key= or set HOOKD_API_KEY")
        self.timeout = timeout

    # -- the raw call ----------------------------------------------------------------------

    def query(self, document: str, variables: Optional[Json] = None, timeout: Optional[float] = None) -> Any:
        """Runs any GraphQL document; returns its ``data`` or raises HookdError."""
        body = json.dumps({"query": document, "variables": variables or {}}).encode("utf-8")
        request = urllib.request.Request(
            self.url,
            data=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer %s" % self.api_key},
            method="POST",
        )
        try:
            with self._open(request, timeout or self.timeout) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as err:
            # GraphQL errors come with 4xx statuses too (401 for a bad key): read the body.
            try:
                payload = json.loads(err.read().decode("utf-8"))
            except ValueError:
                raise HookdError("HTTP_%d" % err.code, err.reason)
        except (socket.timeout, TimeoutError):
            raise HookdError("TIMEOUT", "no answer from %s within %s s" % (self.url, timeout or self.timeout))
        except urllib.error.URLError as err:
            if isinstance(err.reason, (socket.timeout, TimeoutError)):
                raise HookdError("TIMEOUT", "no answer from %s within %s s" % (self.url, timeout or self.timeout))
            raise HookdError("NETWORK", "cannot reach %s: %s" % (self.url, err.reason))
        return _data_of(payload)

    def _open(self, request: urllib.request.Request, timeout: float) -> Any:
        return (self._opener.open if self._opener else urllib.request.urlopen)(request, timeout=timeout)

    # -- subscriptions as server-sent events ------------------------------------------------------

    def subscribe(self, document: str, variables: Optional[Json] = None, timeout: Optional[float] = None) -> Iterator[Any]:
        """Runs a GraphQL subscription over server-sent events (POST <url>/stream); yields the
        ``data`` of each event until the subscription completes. Raises HookdError on a GraphQL
        error, and NETWORK when the stream breaks off (``follow_log`` resumes by itself)."""
        try:
            for data in self._stream(document, variables, timeout or STREAM_READ_TIMEOUT):
                yield data
        except _StreamDropped as err:
            raise HookdError("NETWORK", "the event stream from %s%s broke off: %s" % (self.url, STREAM_SUFFIX, err))
        except _NoStream:
            raise HookdError("NOT_FOUND", "%s%s serves no subscriptions (hookd older than its server-sent events)" % (self.url, STREAM_SUFFIX))

    def _stream(self, document: str, variables: Optional[Json], read_timeout: float, on_open: Optional[Callable[[], None]] = None) -> Iterator[Any]:
        """The events of one subscription: the event stream read line by line (text/event-stream:
        ``event:`` and ``data:`` lines, a blank line ends an event, ``:`` lines keep it alive)."""
        body = json.dumps({"query": document, "variables": variables or {}}).encode("utf-8")
        request = urllib.request.Request(
            self.url + STREAM_SUFFIX,
            data=body,
            headers={"Content-Type": "application/json", "Accept": "text/event-stream", "Authorization": "Bearer %s" % self.api_key},
            method="POST",
        )
        try:
            response = self._open(request, read_timeout)
        except urllib.error.HTTPError as err:
            if err.code in (404, 405):
                raise _NoStream()
            try:
                payload = json.loads(err.read().decode("utf-8"))
            except ValueError:
                raise HookdError("HTTP_%d" % err.code, err.reason)
            _data_of(payload)
            raise HookdError("HTTP_%d" % err.code, err.reason)
        except (socket.timeout, TimeoutError, urllib.error.URLError, ConnectionError) as err:
            raise _StreamDropped(str(getattr(err, "reason", err)))
        with response:
            if on_open is not None:
                on_open()
            event: Optional[str] = None
            data: List[str] = []
            while True:
                try:
                    raw = response.readline()
                except (socket.timeout, TimeoutError, http.client.HTTPException, OSError) as err:
                    raise _StreamDropped(str(err) or type(err).__name__)
                if not raw:
                    raise _StreamDropped("the connection closed before the subscription completed")
                line = raw.decode("utf-8").rstrip("\r\n")
                if line == "":
                    if event == "complete":
                        return
                    if event == "next" and data:
                        yield _data_of(json.loads("\n".join(data)))
                    event, data = None, []
                elif line.startswith(":"):
                    continue
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "event":
                        event = value
                    elif field == "data":
                        data.append(value)

    # -- publish -----------------------------------------------------------------------------

    def prepublish(self, files: Sequence[Json], client: Optional[str] = None, hostname: Optional[str] = None, ip: Optional[str] = None, metadata: Optional[Json] = None) -> Json:
        """Asks the pre-publish hook about ``files`` (entries with id, filename, size, is_dir,
        files). Returns the verdict with the original product's key names: id, guidelines,
        comment, time_report, metadata, statuses and files (id, filename, ident, can_publish,
        rejected, can_upload, warning, info, comment_label, path)."""
        data = self.query(
            "mutation($input: PrePublishInput!) { prePublish(input: $input) { %s } }" % PUBLISH_FIELDS,
            {"input": {"files": _with_dir_sizes(files), "client": client, "hostname": hostname or socket.gethostname(), "ip": ip, "metadata": metadata}},
        )
        return self._verdict(self._all_entries(data["prePublish"]))

    def publish(self, publish_id: str, entries: Sequence[Json]) -> Json:
        """Submits entries ({id, comment, status, time_report, metadata}) of a validated publish;
        returns it with its upload job."""
        submitted = [
            {"id": e["id"], "comment": e.get("comment"), "status": e.get("status"), "timeReport": e.get("time_report"), "metadata": e.get("metadata")}
            for e in entries
        ]
        data = self.query(
            "mutation($input: SubmitPublishInput!) { submitPublish(input: $input) { %s } }" % PUBLISH_FIELDS,
            {"input": {"publishId": publish_id, "entries": submitted}},
        )
        return self._verdict(self._all_entries(data["submitPublish"]))

    def get_publish(self, publish_id: str) -> Json:
        return self._verdict(self._all_entries(self.query("query($id: ID!) { publish(id: $id) { %s } }" % PUBLISH_FIELDS, {"id": publish_id})["publish"]))

    def _all_entries(self, p: Json) -> Json:
        """hookd answers entries a page at a time: reads the rest of a large publish's."""
        entries = list(p["entries"])
        while len(entries) < p["entryCount"]:
            page = self.query(
                "query($id: ID!, $after: Int!) { publish(id: $id) { entries(first: %d, after: $after) { %s } } }" % (ENTRY_PAGE, ENTRY_FIELDS),
                {"id": p["id"], "after": len(entries)},
            )["publish"]["entries"]
            if not page:
                break
            entries.extend(page)
        return dict(p, entries=entries)

    @staticmethod
    def _verdict(p: Json) -> Json:
        return {
            "id": p["id"],
            "state": p["state"],
            "guidelines": p["guidelines"],
            "comment": p["commentRequired"],
            "time_report": p["timeReportRequired"],
            "metadata": p["metadataRequired"],
            "statuses": [{"label": s["label"], "value": s["value"], "default": s["default"]} for s in p["statuses"]],
            "files": [
                {
                    "id": e["id"],
                    "filename": e["filename"],
                    "is_dir": e["isDir"],
                    "size": e["size"],
                    "ident": e["ident"],
                    "can_publish": e["canPublish"],
                    "rejected": e["rejected"],
                    "can_upload": e["canUpload"],
                    "warning": e["warning"],
                    "info": e["info"],
                    "comment_label": e["commentLabel"],
                    "path": e["path"],
                }
                for e in p["entries"]
            ],
            "error": p.get("error"),
            "job": p.get("job"),
        }

    # -- jobs and other entities ---------------------------------------------------------------

    def create(self, entitytype: str, data: Json) -> Json:
        """Creates an entity, as the original ``Session.create``: "job" submits a job (keys:
        name, code, queue, source, destination, tasks [{source, destination, size}], client,
        engine, metadata); "user" (email, role), "queue" (code, ...), "volume" (code, ...)."""
        if entitytype == "job":
            return self.query("mutation($input: SubmitJobInput!) { submitJob(input: $input) { %s } }" % JOB_FIELDS, {"input": data})["submitJob"]
        if entitytype == "user":
            return self.query("mutation($input: CreateUserInput!) { createUser(input: $input) { id email role } }", {"input": data})["createUser"]
        if entitytype == "queue":
            return self.query("mutation($input: CreateQueueInput!) { createQueue(input: $input) { id code name priority default status } }", {"input": data})["createQueue"]
        if entitytype == "volume":
            return self.query("mutation($input: CreateVolumeInput!) { createVolume(input: $input) { id code name } }", {"input": data})["createVolume"]
        raise HookdError("BAD_USER_INPUT", "cannot create '%s': use job, user, queue or volume (or query() for anything else)" % entitytype)

    def update_job_status(self, job_id: str, status: str, message: Optional[str] = None) -> Json:
        """Reports RUNNING, DONE or FAILED for a job (DONE and FAILED fire their hooks)."""
        return self.query(
            "mutation($id: ID!, $status: JobStatus!, $message: String) { updateJobStatus(id: $id, status: $status, message: $message) { %s } }" % JOB_FIELDS,
            {"id": job_id, "status": status.upper(), "message": message},
        )["updateJobStatus"]

    def get_job(self, job_id: str) -> Json:
        job = self.query("query($id: ID!) { job(id: $id) { %s } }" % JOB_FIELDS, {"id": job_id})["job"]
        # hookd answers tasks a page at a time: read the rest of a large job's.
        while len(job["tasks"]) < job["taskCount"]:
            page = self.query(
                "query($id: ID!, $after: Int!) { job(id: $id) { tasks(first: %d, after: $after) } }" % TASK_PAGE,
                {"id": job_id, "after": len(job["tasks"])},
            )["job"]["tasks"]
            if not page:
                break
            job["tasks"].extend(page)
        return job

    # -- executions ------------------------------------------------------------------------------

    def trigger_hook(self, hook: str, payload: Optional[Json] = None, queue: Optional[str] = None, wait: bool = True) -> List[Json]:
        """Runs a hook with ``payload`` merged over a sample (ADMIN). Returns the executions."""
        return self.query(
            "mutation($input: TriggerHookInput!) { triggerHook(input: $input) { %s } }" % EXECUTION_FIELDS,
            {"input": {"hook": _hook_enum(hook), "payload": payload or {}, "queue": queue, "wait": wait}},
            timeout=None if not wait else max(self.timeout, 660),
        )["triggerHook"]

    def find_executions(
        self,
        hook: Optional[str] = None,
        status: Optional[str] = None,
        queue: Optional[str] = None,
        job: Optional[str] = None,
        since: Optional[str] = None,
        first: int = 50,
        after: Optional[str] = None,
    ) -> Tuple[List[Json], Optional[str]]:
        """Executions, newest first, filtered. Returns (executions, next_cursor or None)."""
        flt = {k: v for k, v in {"hook": hook and _hook_enum(hook), "status": status and status.upper(), "queue": queue, "job": job, "since": since}.items() if v is not None}
        data = self.query(
            "query($filter: ExecutionFilterInput, $first: Int, $after: String) { executions(filter: $filter, first: $first, after: $after) { nodes { %s } pageInfo { hasNextPage endCursor } } }" % EXECUTION_FIELDS,
            {"filter": flt, "first": first, "after": after},
        )["executions"]
        return data["nodes"], (data["pageInfo"]["endCursor"] if data["pageInfo"]["hasNextPage"] else None)

    def get_execution(self, execution_id: str) -> Json:
        return self.query("query($id: ID!) { execution(id: $id) { %s } }" % EXECUTION_FIELDS, {"id": execution_id})["execution"]

    def log_lines(self, execution_id: str, after: int = 0, first: int = 1000) -> List[Json]:
        """Log lines with seq > after: [{seq, stream, text, at}]."""
        return self.query(
            "query($id: ID!, $after: Int, $first: Int) { execution(id: $id) { logLines(after: $after, first: $first) { seq stream text at } } }",
            {"id": execution_id, "after": after, "first": first},
        )["execution"]["logLines"]

    def wait_execution(self, execution_id: str, timeout: Optional[float] = None, poll_interval: float = 0.25) -> Json:
        """Waits until the execution finished; returns it. Raises HookdError TIMEOUT after
        ``timeout`` s. It listens to the execution's event stream (no polling), reconnecting when
        the stream breaks; ``poll_interval`` is used only with a hookd that serves no streams."""
        deadline = None if timeout is None else time.monotonic() + timeout
        execution = self.get_execution(execution_id)
        failures = 0

        def reset() -> None:
            # A stream that opened is progress: only drops in a row, with no stream between, give up.
            nonlocal failures
            failures = 0

        while execution["status"] not in FINISHED:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise HookdError("TIMEOUT", "execution %s still %s after %s s" % (execution_id, execution["status"], timeout))
            read_timeout = STREAM_READ_TIMEOUT if remaining is None else max(0.1, min(STREAM_READ_TIMEOUT, remaining))
            try:
                # after=MAX_SEQ: no lines, only the final event (at once when it already finished).
                for data in self._stream(LOG_SUBSCRIPTION, {"id": execution_id, "after": MAX_SEQ}, read_timeout, on_open=reset):
                    if data["executionLog"]["finished"] is not None:
                        break
            except _NoStream:
                return self._poll_execution(execution_id, deadline, timeout, poll_interval)
            except _StreamDropped:
                failures += 1
                if failures > STREAM_RETRIES:
                    raise HookdError("NETWORK", "the event stream of execution %s broke off %d times in a row" % (execution_id, failures))
                time.sleep(min(2.0, 0.1 * 2 ** failures))
            # The stored execution, with every field (the stream's final event says only that it ended).
            execution = self.get_execution(execution_id)
        return execution

    def _poll_execution(self, execution_id: str, deadline: Optional[float], timeout: Optional[float], poll_interval: float) -> Json:
        while True:
            execution = self.get_execution(execution_id)
            if execution["status"] in FINISHED:
                return execution
            if deadline is not None and time.monotonic() > deadline:
                raise HookdError("TIMEOUT", "execution %s still %s after %s s" % (execution_id, execution["status"], timeout))
            time.sleep(poll_interval)

    def follow_log(self, execution_id: str, after: int = 0, poll_interval: float = 0.25) -> Iterator[Json]:
        """Yields log lines ({seq, stream, text, at}) as they arrive until the execution has
        finished and every line was read. It reads the execution's event stream (server-sent
        events, no WebSocket library needed) and, when the stream breaks off, reconnects after
        the last ``seq`` it saw, so no line is lost or repeated. ``poll_interval`` is used only
        with a hookd that serves no streams."""
        failures = 0

        def reset() -> None:
            # A stream that opened is progress: only drops in a row, with no stream between, give up.
            nonlocal failures
            failures = 0

        while True:
            try:
                for data in self._stream(LOG_SUBSCRIPTION, {"id": execution_id, "after": after}, STREAM_READ_TIMEOUT, on_open=reset):
                    log = data["executionLog"]
                    for line in log["lines"]:
                        after = line["seq"]
                        yield line
                    if log["finished"] is not None:
                        return
                return
            except _NoStream:
                for line in self._poll_log(execution_id, after, poll_interval):
                    yield line
                return
            except _StreamDropped as err:
                failures += 1
                if failures > STREAM_RETRIES:
                    raise HookdError("NETWORK", "the log stream of execution %s broke off %d times in a row (last seq %d): %s" % (execution_id, failures, after, err))
                time.sleep(min(2.0, 0.1 * 2 ** failures))

    def _poll_log(self, execution_id: str, after: int, poll_interval: float) -> Iterator[Json]:
        """follow_log for a hookd without event streams: logLines with the last seq seen."""
        while True:
            lines = self.log_lines(execution_id, after=after)
            for line in lines:
                after = line["seq"]
                yield line
            if lines:
                continue
            if self.get_execution(execution_id)["status"] in FINISHED:
                # Drain: lines stored just before the status changed.
                while True:
                    rest = self.log_lines(execution_id, after=after)
                    if not rest:
                        return
                    for line in rest:
                        after = line["seq"]
                        yield line
            time.sleep(poll_interval)


def _data_of(payload: Json) -> Any:
    """The ``data`` of a GraphQL answer, or HookdError with the first error's code and message."""
    errors = payload.get("errors")
    if errors:
        first = errors[0]
        extensions = first.get("extensions") or {}
        code = extensions.get("code", "ERROR")
        raise HookdError(code, first.get("message", "unknown error"), errors, extensions.get("hook"), extensions.get("hookMessage"))
    return payload.get("data")
