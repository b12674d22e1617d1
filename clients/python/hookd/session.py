"""The hookd Session: GraphQL over HTTP with the standard library."""

import json
import os
import socket
import time
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:4000/graphql"
FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED")

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

    def __init__(self, code, message, errors=None, hook=None, hook_message=None):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.errors = errors or []
        self.hook = hook
        self.hook_message = hook_message


def _hook_enum(hook):
    """Accepts the dashed name scripts know ('post-done-server') or the enum (POST_DONE_SERVER)."""
    return hook.replace("-", "_").upper()


def _with_dir_sizes(entries):
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

    def __init__(self, url=None, api_key=None, timeout=60.0):
        url = url or os.environ.get("HOOKD_URL") or DEFAULT_URL
        self.url = url if url.rstrip("/").endswith("/graphql") else url.rstrip("/") + "/graphql"
        self.api_key = api_key or os.environ.get("HOOKD_API_KEY")
        if not self.api_key:
            raise HookdError("UNAUTHENTICATED", "no API key: pass api_key= or set HOOKD_API_KEY")
        self.timeout = timeout

    # -- the raw call ----------------------------------------------------------------------

    def query(self, document, variables=None, timeout=None):
        """Runs any GraphQL document; returns its ``data`` or raises HookdError."""
        body = json.dumps({"query": document, "variables": variables or {}}).encode("utf-8")
        request = urllib.request.Request(
            self.url,
            data=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer %s" % self.api_key},
            method="POST",
        )
        try:
            # An opener set on the session (hookd.accsyn's proxy) takes the place of urlopen.
            opener = getattr(self, "_opener", None)
            with (opener.open if opener else urllib.request.urlopen)(request, timeout=timeout or self.timeout) as response:
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
        errors = payload.get("errors")
        if errors:
            first = errors[0]
            extensions = first.get("extensions") or {}
            code = extensions.get("code", "ERROR")
            raise HookdError(code, first.get("message", "unknown error"), errors, extensions.get("hook"), extensions.get("hookMessage"))
        return payload.get("data")

    # -- publish -----------------------------------------------------------------------------

    def prepublish(self, files, client=None, hostname=None, ip=None, metadata=None):
        """Asks the pre-publish hook about ``files`` (entries with id, filename, size, is_dir,
        files). Returns the verdict with the original product's key names: id, guidelines,
        comment, time_report, metadata, statuses and files (id, filename, ident, can_publish,
        rejected, can_upload, warning, info, comment_label, path)."""
        data = self.query(
            "mutation($input: PrePublishInput!) { prePublish(input: $input) { %s } }" % PUBLISH_FIELDS,
            {"input": {"files": _with_dir_sizes(files), "client": client, "hostname": hostname or socket.gethostname(), "ip": ip, "metadata": metadata}},
        )
        return self._verdict(self._all_entries(data["prePublish"]))

    def publish(self, publish_id, entries):
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

    def get_publish(self, publish_id):
        return self._verdict(self._all_entries(self.query("query($id: ID!) { publish(id: $id) { %s } }" % PUBLISH_FIELDS, {"id": publish_id})["publish"]))

    def _all_entries(self, p):
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
    def _verdict(p):
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

    def create(self, entitytype, data):
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

    def update_job_status(self, job_id, status, message=None):
        """Reports RUNNING, DONE or FAILED for a job (DONE and FAILED fire their hooks)."""
        return self.query(
            "mutation($id: ID!, $status: JobStatus!, $message: String) { updateJobStatus(id: $id, status: $status, message: $message) { %s } }" % JOB_FIELDS,
            {"id": job_id, "status": status.upper(), "message": message},
        )["updateJobStatus"]

    def get_job(self, job_id):
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

    def trigger_hook(self, hook, payload=None, queue=None, wait=True):
        """Runs a hook with ``payload`` merged over a sample (ADMIN). Returns the executions."""
        return self.query(
            "mutation($input: TriggerHookInput!) { triggerHook(input: $input) { %s } }" % EXECUTION_FIELDS,
            {"input": {"hook": _hook_enum(hook), "payload": payload or {}, "queue": queue, "wait": wait}},
            timeout=None if not wait else max(self.timeout, 660),
        )["triggerHook"]

    def find_executions(self, hook=None, status=None, queue=None, job=None, since=None, first=50, after=None):
        """Executions, newest first, filtered. Returns (executions, next_cursor or None)."""
        flt = {k: v for k, v in {"hook": hook and _hook_enum(hook), "status": status and status.upper(), "queue": queue, "job": job, "since": since}.items() if v is not None}
        data = self.query(
            "query($filter: ExecutionFilterInput, $first: Int, $after: String) { executions(filter: $filter, first: $first, after: $after) { nodes { %s } pageInfo { hasNextPage endCursor } } }" % EXECUTION_FIELDS,
            {"filter": flt, "first": first, "after": after},
        )["executions"]
        return data["nodes"], (data["pageInfo"]["endCursor"] if data["pageInfo"]["hasNextPage"] else None)

    def get_execution(self, execution_id):
        return self.query("query($id: ID!) { execution(id: $id) { %s } }" % EXECUTION_FIELDS, {"id": execution_id})["execution"]

    def log_lines(self, execution_id, after=0, first=1000):
        """Log lines with seq > after: [{seq, stream, text, at}]."""
        return self.query(
            "query($id: ID!, $after: Int, $first: Int) { execution(id: $id) { logLines(after: $after, first: $first) { seq stream text at } } }",
            {"id": execution_id, "after": after, "first": first},
        )["execution"]["logLines"]

    def wait_execution(self, execution_id, timeout=None, poll_interval=0.25):
        """Polls until the execution finished; returns it. Raises HookdError TIMEOUT after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            execution = self.get_execution(execution_id)
            if execution["status"] in FINISHED:
                return execution
            if deadline is not None and time.monotonic() > deadline:
                raise HookdError("TIMEOUT", "execution %s still %s after %s s" % (execution_id, execution["status"], timeout))
            time.sleep(poll_interval)

    def follow_log(self, execution_id, after=0, poll_interval=0.25):
        """Yields log lines as they arrive until the execution has finished and every line was
        read. It polls (logLines with the last seq seen), so it needs no WebSocket library."""
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
