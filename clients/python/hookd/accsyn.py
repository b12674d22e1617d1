"""The original product's Python API, over hookd: a script written for it runs by changing only
its import::

    from hookd.accsyn import Session, AccsynException   # instead of: from accsyn_api import ...

Scoped to hooks, jobs, queues, users and publishing. Answers use the original's snake_case keys
and forms (``source_hr``, ``created`` as a datetime, job statuses ``waiting``/``running``/
``done``/``failed``). What hookd cannot do (shares, file operations, deliveries, ...) raises
AccsynException saying it is not supported by hookd; nothing is ignored silently.

Standard library only (Python 3.8+). The call-by-call mapping is in the repository README
("hookd.accsyn"); the JSON hooks receive is in docs/hook-payloads.md.
"""

# Annotations stay unevaluated and say Text, not str: Session has a method named ``str`` (as the
# original's has), which a type checker would read there instead of the builtin.
from __future__ import annotations

import copy
import datetime
import json
import os
import re
import socket
import sys
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, Tuple

from .session import DEFAULT_URL, HookdError
from .session import Session as _Bridge
from .session import _with_dir_sizes

# An entity or an answer, in the original's form.
Json = Dict[Text, Any]

__all__ = ["Session", "AccsynException"]

DEFAULT_PORT = 4000

# GraphQL JobStatus -> the original's words (docs/hook-payloads.md has the same mapping).
JOB_STATUS_WORDS = {"SUBMITTED": "waiting", "RUNNING": "running", "DONE": "done", "FAILED": "failed"}
# What update("job", id, {"status": ...}) can ask for, and the hookd status it reports.
JOB_STATUS_UPDATES = {"running": "RUNNING", "done": "DONE", "failed": "FAILED"}

JOB_FIELDS = """id code name status size source sourceHr destination destinationHr engine tasks message failCount
  settings hooks { hook data } createdAt updatedAt queue { id code name } user { id email } metadata { external }"""
QUEUE_FIELDS = "id code name priority default status description createdAt metadata { external }"
USER_FIELDS = "id email role createdAt metadata { external }"
PUBLISH_FIELDS = "id state answer entries { id path } job { %s }" % JOB_FIELDS

JOB_TYPES = ("job", "transfer")
# The original's job specification keys hookd understands (anything else is refused, by name).
JOB_KEYS = {"code", "name", "source", "destination", "tasks", "metadata", "settings", "hooks", "queue", "parent", "client", "engine", "allow_duplicates", "id"}
TASK_KEYS = {"id", "source", "destination", "size", "metadata", "filename", "is_dir"}

NOT_SUPPORTED = {
    "ls": "file listings",
    "getsize": "file sizes",
    "exists": "file checks",
    "mkdir": "file operations",
    "rename": "file operations",
    "mv": "file operations",
    "rm": "file operations",
    "update_many": "tasks as entities",
    "delete_many": "tasks as entities",
    "get_session_key": "session keys",
    "create_session_key": "session keys",
    "get_api_key": "reading API keys back (they are stored hashed)",
    "integration": "integrations",
    "download": "downloads",
    "upload": "uploads",
}


class AccsynException(Exception):
    """Every failure: hookd's refusals (``code`` is hookd's error code), transport errors, and
    what hookd does not support (``code`` NOT_SUPPORTED). ``hook_message``: what a refusing
    hook said to the user (HOOK_FAILED), else None."""

    def __init__(self, message: Text, code: Optional[Text] = None, hook_message: Optional[Text] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hook_message = hook_message


def _not_supported(what, hint=""):
    return AccsynException("%s is not supported by hookd%s" % (what, (": " + hint) if hint else ""), "NOT_SUPPORTED")


def _date(iso):
    """GraphQL's ISO date ('...Z') as the original's API hands dates over: a naive UTC datetime."""
    if iso is None:
        return None
    return datetime.datetime.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")


# -- the original's query form ---------------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:(\()|(\))|(!=|<>|=)|"([^"]*)"|\'([^\']*)\'|([^\s()=!<>"\']+))')


def parse_query(query: Text) -> Tuple[Text, Optional[Any]]:
    """'<entitytype> [WHERE <expression>]' -> (entitytype, tree or None). The expression has
    attr=value, attr!=value (or <>), AND, OR and parentheses, as in the original; values may be
    quoted to hold spaces. Trees are ("and"|"or", left, right) or ("=="|"!=", attr, value)."""
    if not isinstance(query, str) or not query.strip():
        raise AccsynException("the query must be a non-empty text like 'job WHERE code=x'")
    m = re.match(r"^\s*(\w+)\s*(?:\s(?:where|WHERE|Where)\s+(.*))?$", query, re.S)
    if not m:
        raise AccsynException("cannot read the query '%s': expected '<entitytype> WHERE <attribute>=<value> ...'" % query)
    entitytype, expression = m.group(1).lower(), m.group(2)
    if expression is None or not expression.strip():
        return entitytype, None
    tokens: List[Tuple[Text, Optional[Text]]] = []
    pos = 0
    while pos < len(expression):
        t = _TOKEN.match(expression, pos)
        if not t or t.end() == pos:
            if expression[pos:].strip() == "":
                break
            raise AccsynException("cannot read the query at '%s' (column %d)" % (expression[pos:], pos + 1))
        pos = t.end()
        if t.group(1):
            tokens.append(("(", None))
        elif t.group(2):
            tokens.append((")", None))
        elif t.group(3):
            tokens.append(("op", "!=" if t.group(3) in ("!=", "<>") else "=="))
        elif t.group(4) is not None or t.group(5) is not None:
            tokens.append(("word", t.group(4) if t.group(4) is not None else t.group(5)))
        else:
            word = t.group(6)
            tokens.append(("and", None) if word.lower() == "and" else ("or", None) if word.lower() == "or" else ("word", word))
    tree, rest = _parse_or(tokens, query)
    if rest:
        raise AccsynException("cannot read the query '%s': unexpected '%s'" % (query, rest[0][1] or rest[0][0]))
    return entitytype, tree


def _parse_or(tokens, query):
    left, tokens = _parse_and(tokens, query)
    while tokens and tokens[0][0] == "or":
        right, tokens = _parse_and(tokens[1:], query)
        left = ("or", left, right)
    return left, tokens


def _parse_and(tokens, query):
    left, tokens = _parse_term(tokens, query)
    while tokens and tokens[0][0] == "and":
        right, tokens = _parse_term(tokens[1:], query)
        left = ("and", left, right)
    return left, tokens


def _parse_term(tokens, query):
    if tokens and tokens[0][0] == "(":
        tree, tokens = _parse_or(tokens[1:], query)
        if not tokens or tokens[0][0] != ")":
            raise AccsynException("cannot read the query '%s': a '(' is not closed" % query)
        return tree, tokens[1:]
    if len(tokens) >= 3 and tokens[0][0] == "word" and tokens[1][0] == "op" and tokens[2][0] == "word":
        return (tokens[1][1], tokens[0][1], tokens[2][1]), tokens[3:]
    raise AccsynException("cannot read the query '%s': expected <attribute>=<value> or <attribute>!=<value>" % query)


def _matches(tree, entity, aliases):
    if tree is None:
        return True
    op = tree[0]
    if op == "and":
        return _matches(tree[1], entity, aliases) and _matches(tree[2], entity, aliases)
    if op == "or":
        return _matches(tree[1], entity, aliases) or _matches(tree[2], entity, aliases)
    attr, value = tree[1], tree[2]
    if attr not in aliases:
        raise AccsynException("cannot query on '%s' here; hookd has: %s" % (attr, ", ".join(sorted(aliases))), "BAD_USER_INPUT")
    # An attribute matches its raw value or its human readable forms (user=<id> or user=<email>).
    candidates = [entity.get(k) for k in aliases[attr]]
    found = any(c is not None and str(c).lower() == value.lower() for c in candidates)
    return found if op == "==" else not found


def _hr_target(hr):
    """'user:lars@edit.com' -> 'lars@edit.com' (the original's destination=stockholm style)."""
    return hr.split(":", 1)[1] if isinstance(hr, str) and ":" in hr else hr


JOB_ALIASES = {
    "id": ["id"],
    "code": ["code"],
    "name": ["name"],
    "status": ["status"],
    "user": ["user", "user_hr"],
    "queue": ["queue", "queue_hr", "uri"],
    "parent": ["parent", "parent_hr", "uri"],
    "source": ["source", "source_hr", "_source_target"],
    "destination": ["destination", "destination_hr", "_destination_target"],
    "engine": ["engine"],
}
QUEUE_ALIASES = {"id": ["id"], "code": ["code"], "name": ["name"], "status": ["status"], "priority": ["priority"]}
USER_ALIASES = {"id": ["id"], "code": ["code"], "email": ["code"], "clearance": ["clearance"], "role": ["clearance"]}


class Session(object):
    """A session with hookd, with the original Session's constructor.

    The URL is $HOOKD_URL, else http://<hostname>:<port>/graphql when ``hostname`` is given
    (port 4000 by default), else http://127.0.0.1:4000/graphql. The key is ``api_key``, else
    $HOOKD_API_KEY, else $ACCSYN_API_KEY. ``username`` (or $ACCSYN_API_USER), when given, must be
    the key's user. ``workspace`` is accepted and not needed (hookd serves one workspace).
    ``proxy`` is an HTTP proxy URL; ``verbose`` prints each call to stderr (or appends it to
    ``path_logfile``; ``pretty_json`` indents it); ``timeout`` is seconds per call;
    ``connect_timeout`` is accepted (the one ``timeout`` covers connecting too).
    """

    def __init__(
        self,
        workspace: Optional[Text] = None,
        username: Optional[Text] = None,
        api_key: Optional[Text] = None,
        hostname: Optional[Text] = None,
        port: Optional[int] = None,
        proxy: Optional[Text] = None,
        verbose: bool = False,
        pretty_json: bool = False,
        path_logfile: Optional[Text] = None,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        domain: Optional[Text] = None,
    ) -> None:
        self._workspace = workspace or domain or os.environ.get("ACCSYN_WORKSPACE")
        self._verbose = verbose
        self._logfile = path_logfile
        self._pretty = pretty_json
        self._last_message = None
        url = os.environ.get("HOOKD_URL")
        if not url:
            url = "http://%s:%s/graphql" % (hostname, port or DEFAULT_PORT) if hostname else DEFAULT_URL
        api_key = api_key or os.environ.get("HOOKD_API_KEY") or os.environ.get("ACCSYN_API_KEY")
        if not api_key:
            raise AccsynException("Please supply your API key (api_key=) or set HOOKD_API_KEY or ACCSYN_API_KEY!", "UNAUTHENTICATED")
        try:
            self._bridge = _Bridge(url=url, api_key=api_key, timeout=float(timeout) if timeout else 120.0)
        except HookdError as err:
            raise AccsynException(err.message, err.code)
        if proxy:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy, "https": proxy}))
            self._bridge._opener = opener
        # The original authenticates at construction and raises when it cannot.
        me = self._query("{ me { id email role } }")["me"]
        username = username or os.environ.get("ACCSYN_API_USER")
        if username and username.strip().lower() != me["email"]:
            raise AccsynException("the API key belongs to %s, not to %s" % (me["email"], username), "UNAUTHENTICATED")
        self._me = me
        self._username = me["email"]
        # prepublish() remembers which hookd publish each entry id belongs to, so that the
        # publish job the original's client then creates submits that publish.
        self._publish_of_entry: Dict[Text, Text] = {}

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def username(self) -> Text:
        return self._username

    @property
    def role(self) -> Text:
        return self._me["role"].lower()

    def _query(self, document, variables=None):
        if self._verbose:
            line = "hookd.accsyn: %s %s\n" % (" ".join(document.split())[:200], json.dumps(variables or {}, indent=2 if self._pretty else None)[:2000])
            if self._logfile:
                with open(self._logfile, "a") as f:
                    f.write(line)
            else:
                sys.stderr.write(line)
        try:
            return self._bridge.query(document, variables)
        except HookdError as err:
            self._last_message = err.message
            raise AccsynException("%s: %s" % (err.code, err.message), err.code, err.hook_message)

    def get_last_message(self) -> Optional[Text]:
        """The error message of the last call that failed."""
        return self._last_message

    def login(self) -> bool:
        return True

    def logout(self) -> bool:
        return True

    @staticmethod
    def get_hostname() -> Text:
        return socket.gethostname()

    @staticmethod
    def str(d: Any, indent: Optional[int] = 4) -> Text:
        return json.dumps(d, default=lambda o: o.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(o, (datetime.date, datetime.datetime)) else str(o), indent=indent) if d is not None else ""

    dump = str

    def __getattr__(self, name: Text) -> Callable[..., Any]:
        if name in NOT_SUPPORTED:
            def refuse(*args, **kwargs):
                raise _not_supported("%s (%s)" % (name, NOT_SUPPORTED[name]), "hookd runs hooks, jobs, queues, users and publishes; it does not move or list files")
            return refuse
        raise AttributeError("hookd.accsyn.Session has no '%s' (not part of hookd's scope: hooks, jobs, queues, users, publishing)" % name)

    # -- publish -------------------------------------------------------------------------------

    def prepublish(self, files: Sequence[Json], client: Optional[Text] = None, hostname: Optional[Text] = None, ip: Optional[Text] = None, metadata: Optional[Json] = None) -> Json:
        """Runs pre-publish on the entries (id, filename, size, is_dir, files) and returns the
        script's answer as it wrote it: its keys only (no null keys added), each of its files
        entries merged over the entry as sent (so directories keep their nested files)."""
        sent = _with_dir_sizes(files)
        data = self._query(
            "mutation($input: PrePublishInput!) { prePublish(input: $input) { id answer } }",
            {"input": {"files": sent, "client": client, "hostname": hostname or socket.gethostname(), "ip": ip, "metadata": metadata}},
        )["prePublish"]
        answer = copy.deepcopy(data["answer"])
        by_id = {str(e.get("id")): e for e in sent}
        merged = []
        for entry in answer.get("files") or []:
            base = dict(by_id.get(str(entry.get("id")), {}))
            base.update(entry)
            if "files" in by_id.get(str(entry.get("id")), {}) and "files" not in entry:
                base["files"] = by_id[str(entry["id"])]["files"]
            merged.append(base)
            self._publish_of_entry[str(entry.get("id"))] = data["id"]
        answer["files"] = merged
        return answer

    def publish(self, files: Sequence[Json], *args: Any, **kwargs: Any) -> Json:
        """The original's docs call pre-publish ``session.publish(files)``: the same as prepublish()."""
        return self.prepublish(files, *args, **kwargs)

    def _submit_publish(self, publish_id, job_data):
        """The publish job of the original's client: submits the hookd publish the entries belong to."""
        hook = next(h for h in job_data["hooks"] if _hook_name(h.get("when")) == "publish-server")
        answered = {str(f.get("id")): f for f in (hook.get("data") or {}).get("files") or []}
        ids = [str(t.get("id")) for t in job_data.get("tasks") or [] if isinstance(t, dict) and t.get("id")] or list(answered)
        entries = []
        for entry_id in ids:
            f = answered.get(entry_id, {})
            entries.append({"id": entry_id, "comment": f.get("comment"), "status": f.get("status"), "timeReport": f.get("time_report"), "metadata": f.get("metadata")})
        data = self._query("mutation($input: SubmitPublishInput!) { submitPublish(input: $input) { %s } }" % PUBLISH_FIELDS, {"input": {"publishId": publish_id, "entries": entries}})
        return self._job(data["submitPublish"]["job"])

    # -- create --------------------------------------------------------------------------------

    def create(self, entitytype: Text, data: Any, entitytype_id: Optional[Text] = None, allow_duplicates: bool = True) -> Json:
        """Creates a job ("job", "Job", "transfer": the original's job specification), a queue
        or a user. Returns the entity in the original's form."""
        kind = (entitytype or "").strip().lower()
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                if os.path.exists(data):
                    with open(data) as f:
                        data = json.load(f)
                else:
                    raise AccsynException("cannot build the data: not JSON, nor the path of a JSON file")
        if kind in JOB_TYPES:
            if isinstance(data, list):
                data = {"tasks": data}
            return self._create_job(data)
        if kind == "queue":
            return self._create_queue(data)
        if kind == "user":
            return self._create_user(data)
        raise _not_supported("creating a '%s'" % entitytype, "hookd creates jobs (job, transfer), queues and users")

    def _create_job(self, data):
        if not isinstance(data, dict) or not data:
            raise AccsynException("the job specification must be a non-empty dict")
        unknown = sorted(set(data) - JOB_KEYS)
        if unknown:
            raise _not_supported("the job key%s %s" % ("s" if len(unknown) > 1 else "", ", ".join("'%s'" % k for k in unknown)), "hookd takes %s" % ", ".join(sorted(JOB_KEYS)))
        hooks = data.get("hooks") or []
        if not isinstance(hooks, list):
            raise AccsynException("hooks must be a list of {when, data}")
        for h in hooks:
            if _hook_name(h.get("when")) == "publish-server":
                ids = [str(t.get("id")) for t in data.get("tasks") or [] if isinstance(t, dict) and t.get("id")]
                ids = ids or [str(f.get("id")) for f in (h.get("data") or {}).get("files") or []]
                publishes = {self._publish_of_entry.get(i) for i in ids}
                if ids and len(publishes) == 1 and None not in publishes:
                    return self._submit_publish(publishes.pop(), data)
        source_party, source_path, source_client = self._party(data.get("source"), "source")
        dest_party, dest_path, dest_client = self._party(data.get("destination"), "destination")
        tasks_in = data.get("tasks")
        if tasks_in is None:
            if source_path is None:
                raise AccsynException("the job needs tasks, or a source path")
            tasks_in = [{"source": data["source"]}]
            source_path = None
        if isinstance(tasks_in, dict):
            tasks_in = [dict(v, id=v.get("id", k)) if isinstance(v, dict) else v for k, v in sorted(tasks_in.items())]
        tasks = []
        client = data.get("client") or source_client or dest_client
        for i, t in enumerate(tasks_in):
            if isinstance(t, str):
                t = {"source": t}
            if not isinstance(t, dict):
                raise AccsynException("tasks[%d] must be a path or a dict {source, destination, size, metadata}" % i)
            unknown = sorted(set(t) - TASK_KEYS)
            if unknown:
                raise _not_supported("the task key%s %s" % ("s" if len(unknown) > 1 else "", ", ".join("'%s'" % k for k in unknown)), "tasks take %s" % ", ".join(sorted(TASK_KEYS)))
            if not t.get("source"):
                raise AccsynException("tasks[%d] needs a source" % i)
            _, src, src_client = self._party(t["source"], "tasks[%d].source" % i, path_only=True)
            client = client or src_client
            if t.get("destination"):
                _, dst, dst_client = self._party(t["destination"], "tasks[%d].destination" % i, path_only=True)
                client = client or dst_client
            elif dest_path is not None:
                # Mirrored paths: the task goes into the job's destination folder.
                dst = dest_path.rstrip("/") + "/" + os.path.basename(src.rstrip("/\\"))
            else:
                raise _not_supported("a task without a destination path (tasks[%d])" % i, "the receiver choosing a download location; give each task, or the job, a destination path")
            size = t.get("size")
            if size is None:
                size = _local_size(src)
            task = {"source": src, "destination": dst, "size": int(size)}
            if t.get("metadata") is not None:
                task["metadata"] = t["metadata"]
            tasks.append(task)
        me = "user:%s" % self._me["id"]
        submit = {
            "name": data.get("name") or data.get("code") or os.path.basename(tasks[0]["source"].rstrip("/\\")) or "job",
            "source": source_party or me,
            "destination": dest_party or me,
            "tasks": tasks,
        }
        if data.get("code"):
            submit["code"] = data["code"]
        if data.get("queue") or data.get("parent"):
            submit["queue"] = self._queue_code(data.get("queue") or data.get("parent"))
        if client:
            submit["client"] = client
        if data.get("engine"):
            submit["engine"] = data["engine"]
        if data.get("metadata") is not None:
            submit["metadata"] = _metadata_pair(data["metadata"])
        if data.get("settings") is not None:
            if not isinstance(data["settings"], dict):
                raise AccsynException("settings must be a dict")
            submit["settings"] = data["settings"]
        if hooks:
            submit["hooks"] = [{"when": h.get("when"), "data": h.get("data") or {}} for h in hooks]
        return self._job(self._query("mutation($input: SubmitJobInput!) { submitJob(input: $input) { %s } }" % JOB_FIELDS, {"input": submit})["submitJob"])

    def _party(self, value, field, path_only=False):
        """A party or path in the original's forms -> (hookd party ident, hookd path, client id).
        'share=projects/x' and 'volume=projects/x' are volume paths; 'client=<id>:/path' a path on
        that client; an email a user; '<type>:<id>' a raw party ident; '/abs/path' a path."""
        if value is None:
            return None, None, None
        if not isinstance(value, str) or not value.strip():
            raise AccsynException("%s must be a text (a path or a party)" % field)
        value = value.strip()
        m = re.match(r"^client=([^:]+):(.+)$", value)
        if m:
            return ("client:%s" % m.group(1)), m.group(2), m.group(1)
        m = re.match(r"^(share|volume)=([^/]+)(/.*)?$", value)
        if m:
            return "volume:%s" % m.group(2), "volume=%s%s" % (m.group(2), m.group(3) or ""), None
        if re.match(r"^(folder|collection|home)=", value):
            raise _not_supported("shared folders, collections and homes ('%s')" % value, "use a volume (volume=<code>/<path>)")
        if value.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", value) or value.startswith("\\\\"):
            return None, value, None
        if path_only:
            m = re.match(r"^[^@\s:]+@[^\s:]+:(.+)$", value)
            if m:
                return None, m.group(1), None
            raise AccsynException("%s: '%s' is not a path hookd can use (absolute, or volume=<code>/<path>)" % (field, value))
        if re.match(r"^[^@\s:]+@[^\s:]+$", value):
            return "user:%s" % value, None, None
        if re.match(r"^(user|volume|client|server):.+$", value):
            return value, None, None
        raise _not_supported("the party '%s' in %s" % (value, field), "hookd knows users (email or user:<id>), volumes, clients and servers")

    def _queue_code(self, ident):
        for q in self._query("{ queues { id code name } }")["queues"]:
            if ident in (q["id"], q["code"], q["name"]):
                return q["code"]
        raise AccsynException("no queue has id, code or name '%s'" % ident, "NOT_FOUND")

    def _create_queue(self, data):
        allowed = {"code", "name", "priority", "description", "metadata", "status", "default", "type"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise _not_supported("the queue key%s %s" % ("s" if len(unknown) > 1 else "", ", ".join("'%s'" % k for k in unknown)))
        q = {k: data[k] for k in ("code", "name", "priority", "description", "default") if k in data}
        if "status" in data:
            q["status"] = str(data["status"]).upper()
        if "metadata" in data:
            q["metadata"] = _metadata_pair(data["metadata"])
        return _queue(self._query("mutation($input: CreateQueueInput!) { createQueue(input: $input) { %s } }" % QUEUE_FIELDS, {"input": q})["createQueue"])

    def _create_user(self, data):
        email = data.get("email") or data.get("code")
        role = (data.get("clearance") or data.get("role") or "standard").upper()
        unknown = sorted(set(data) - {"email", "code", "clearance", "role", "metadata"})
        if unknown:
            raise _not_supported("the user key%s %s" % ("s" if len(unknown) > 1 else "", ", ".join("'%s'" % k for k in unknown)))
        u = {"email": email, "role": role}
        if "metadata" in data:
            u["metadata"] = _metadata_pair(data["metadata"])
        return _user(self._query("mutation($input: CreateUserInput!) { createUser(input: $input) { %s } }" % USER_FIELDS, {"input": u})["createUser"])

    # -- query ---------------------------------------------------------------------------------

    def find(
        self,
        query: Text,
        attributes: Optional[Sequence[Text]] = None,
        finished: Optional[bool] = None,
        offline: Optional[bool] = None,
        archived: Optional[bool] = None,
        limit: Optional[int] = None,
        skip: Optional[int] = None,
        create: bool = False,
        update: bool = False,
    ) -> List[Json]:
        """Entities matching the original's query form ('job WHERE code=x AND status!=failed').
        hookd keeps every job, so ``finished`` and ``archived`` need not be given: finished and
        archived jobs are always among the answers."""
        entitytype, tree = parse_query(query)
        if entitytype in JOB_TYPES:
            entities, aliases = self._all_jobs(), JOB_ALIASES
        elif entitytype == "queue":
            entities, aliases = [_queue(q) for q in self._query("{ queues { %s } }" % QUEUE_FIELDS)["queues"]], QUEUE_ALIASES
        elif entitytype == "user":
            entities, aliases = [_user(u) for u in self._query("{ users { %s } }" % USER_FIELDS)["users"]], USER_ALIASES
        else:
            raise _not_supported("finding '%s'" % entitytype, "hookd finds jobs (job, transfer), queues and users")
        found = [e for e in entities if _matches(tree, e, aliases)]
        found = found[int(skip or 0):]
        if limit:
            found = found[: int(limit)]
        out = []
        for e in found:
            e = {k: v for k, v in e.items() if not k.startswith("_")}
            if attributes:
                e = {k: v for k, v in e.items() if k in attributes or k == "id"}
            out.append(e)
        return out

    def find_one(self, query: Text, attributes: Optional[Sequence[Text]] = None, finished: Optional[bool] = None, offline: Optional[bool] = None, archived: Optional[bool] = None) -> Optional[Json]:
        found = self.find(query, attributes=attributes, limit=1)
        return found[0] if found else None

    def get_entity(self, entitytype: Text, entityid: Text, attributes: Optional[Sequence[Text]] = None) -> Optional[Json]:
        kind = (entitytype or "").strip().lower()
        if kind in JOB_TYPES:
            try:
                return self._job(self._query("query($id: ID!) { job(id: $id) { %s } }" % JOB_FIELDS, {"id": entityid})["job"])
            except AccsynException as err:
                if err.code == "NOT_FOUND":
                    return None
                raise
        if kind in ("queue", "user"):
            return self.find_one("%s WHERE id=\"%s\"" % (kind, entityid))
        raise _not_supported("getting a '%s'" % entitytype, "hookd gets jobs (job, transfer), queues and users")

    def _all_jobs(self):
        jobs, after = [], None
        while True:
            page = self._query(
                "query($after: String) { jobs(first: 100, after: $after) { nodes { %s } pageInfo { hasNextPage endCursor } } }" % JOB_FIELDS,
                {"after": after},
            )["jobs"]
            jobs.extend(self._job(j) for j in page["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                return jobs
            after = page["pageInfo"]["endCursor"]

    @staticmethod
    def _job(j):
        finished = j["status"] in ("DONE", "FAILED")
        job = {
            "id": j["id"],
            "code": j["code"],
            "name": j["name"],
            "status": JOB_STATUS_WORDS.get(j["status"], j["status"].lower()),
            "created": _date(j["createdAt"]),
            "modified": _date(j["updatedAt"]),
            "finished": _date(j["updatedAt"]) if finished else None,
            "source": j["source"],
            "source_hr": j["sourceHr"],
            "destination": j["destination"],
            "destination_hr": j["destinationHr"],
            "size": j["size"],
            "progress": 100 if j["status"] == "DONE" else 0,
            "user": (j.get("user") or {}).get("id"),
            "user_hr": (j.get("user") or {}).get("email"),
            "queue": j["queue"]["id"],
            "queue_hr": j["queue"]["name"],
            "parent": j["queue"]["id"],
            "parent_hr": j["queue"]["name"],
            "uri": j["queue"]["code"],
            "engine": j["engine"],
            "engine_hr": j["engine"],
            "metadata": (j.get("metadata") or {}).get("external") or {},
            "settings": j.get("settings") or {},
            "hooks": [{"when": "hook-job-" + h["hook"].lower().replace("_", "-"), "data": h["data"]} for h in j.get("hooks") or []],
            "tasks": {str(i): t for i, t in enumerate(j.get("tasks") or [])},
            "message": j.get("message"),
        }
        job["_source_target"] = _hr_target(job["source_hr"])
        job["_destination_target"] = _hr_target(job["destination_hr"])
        return job

    # -- update and delete -----------------------------------------------------------------------

    def update(self, entitytype: Text, entityid: Text, data: Json) -> Json:
        """Job: {"status": "running" | "done" | "failed"} reports a status (done and failed fire
        their hooks); a failed job set to "waiting" or "running" is retried. Queue: name,
        priority, description, status (waiting/paused), metadata."""
        kind = (entitytype or "").strip().lower()
        if not isinstance(data, dict) or not data:
            raise AccsynException("the update data must be a non-empty dict")
        if kind in JOB_TYPES:
            unknown = sorted(set(data) - {"status"})
            if unknown:
                raise _not_supported("updating the job key%s %s" % ("s" if len(unknown) > 1 else "", ", ".join("'%s'" % k for k in unknown)), "a job's status is what hookd updates")
            status = str(data["status"]).lower()
            current = self.get_entity("job", entityid)
            if current is None:
                raise AccsynException("no job has id '%s'" % entityid, "NOT_FOUND")
            if current["status"] == "failed" and status in ("waiting", "running"):
                return self._job(self._query("mutation($id: ID!) { retryJob(id: $id) { %s } }" % JOB_FIELDS, {"id": entityid})["retryJob"])
            if status not in JOB_STATUS_UPDATES:
                raise _not_supported("the job status '%s'" % status, "hookd jobs can be reported running, done or failed (and a failed one retried with waiting)")
            return self._job(
                self._query("mutation($id: ID!, $s: JobStatus!) { updateJobStatus(id: $id, status: $s) { %s } }" % JOB_FIELDS, {"id": entityid, "s": JOB_STATUS_UPDATES[status]})["updateJobStatus"]
            )
        if kind == "queue":
            queue = self.get_entity("queue", entityid)
            if queue is None:
                raise AccsynException("no queue has id '%s'" % entityid, "NOT_FOUND")
            unknown = sorted(set(data) - {"name", "priority", "description", "status", "metadata", "default"})
            if unknown:
                raise _not_supported("updating the queue key%s %s" % ("s" if len(unknown) > 1 else "", ", ".join("'%s'" % k for k in unknown)))
            q: Json = {k: data[k] for k in ("name", "priority", "description", "default") if k in data}
            if "status" in data:
                q["status"] = str(data["status"]).upper()
            if "metadata" in data:
                q["metadata"] = _metadata_pair(data["metadata"])
            return _queue(self._query("mutation($code: String!, $input: UpdateQueueInput!) { updateQueue(code: $code, input: $input) { %s } }" % QUEUE_FIELDS, {"code": queue["code"], "input": q})["updateQueue"])
        raise _not_supported("updating a '%s'" % entitytype, "hookd updates jobs and queues")

    update_one = update

    def delete(self, entitytype: Text, entityid: Text) -> bool:
        kind = (entitytype or "").strip().lower()
        if kind == "queue":
            queue = self.get_entity("queue", entityid)
            if queue is None:
                raise AccsynException("no queue has id '%s'" % entityid, "NOT_FOUND")
            self._query("mutation($code: String!) { deleteQueue(code: $code) { id } }", {"code": queue["code"]})
            return True
        raise _not_supported("deleting a '%s'" % entitytype, "hookd keeps jobs for audit; it deletes queues")

    delete_one = delete


def _hook_name(when):
    return str(when or "").strip().lower().replace("_", "-").replace("hook-job-", "", 1)


def _metadata_pair(metadata):
    """The original's flat metadata dict is hookd's external (public) metadata; a dict with just
    'internal' and/or 'external' is taken as hookd's pair."""
    if not isinstance(metadata, dict):
        raise AccsynException("metadata must be a dict")
    if metadata and set(metadata) <= {"internal", "external"} and all(isinstance(v, dict) for v in metadata.values()):
        return metadata
    return {"external": metadata}


def _local_size(path):
    """A task's size when not given: measured when the path is on this machine, else 0."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    return 0


def _queue(q):
    return {
        "id": q["id"],
        "code": q["code"],
        "name": q["name"],
        "priority": q["priority"],
        "default": q["default"],
        "status": q["status"].lower(),
        "description": q.get("description"),
        "created": _date(q.get("createdAt")),
        "metadata": (q.get("metadata") or {}).get("external") or {},
    }


def _user(u):
    return {
        "id": u["id"],
        "code": u["email"],
        "clearance": u["role"].lower(),
        "created": _date(u.get("createdAt")),
        "metadata": (u.get("metadata") or {}).get("external") or {},
    }
