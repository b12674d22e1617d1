"""Tests of the Python bridge against a real hookd (started here from dist/, on a temp database).

Run: npm run build && /usr/bin/python3 -m unittest discover -s clients/python/tests -v
(npm test runs them through test/python-bridge.test.ts).
"""

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..")))

from hookd import HookdError, Session  # noqa: E402

# Run from an installed copy (PYTHONPATH=<target>): follows a log and, in a thread, waits for the
# outcome, printing one JSON object a line as each arrives. It counts the calls that would poll.
FOLLOWER = r"""
import json, sys, threading
import hookd
from hookd import Session
calls = {"log_lines": 0, "get_execution": 0}
for name in calls:
    def counted(self, *args, _name=name, _orig=getattr(Session, name), **kwargs):
        calls[_name] += 1
        return _orig(self, *args, **kwargs)
    setattr(Session, name, counted)
url, key, execution = sys.argv[1:4]
session = Session(url=url, api_key=key, timeout=30)
out = lambda obj: print(json.dumps(obj), flush=True)
out({"module": hookd.__file__})
waiter = threading.Thread(target=lambda: out({"waited": session.wait_execution(execution, timeout=60)["status"]}))
waiter.start()
for line in session.follow_log(execution):
    out({"line": line["text"], "seq": line["seq"]})
waiter.join()
out({"calls": calls})
"""

KEY = "hkd_python_bridge_test_key_0001"
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class Hookd(object):
    """A real hookd process on a free port and a temp data dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="hookd-py-")
        env = dict(os.environ, HOOKD_DATA_DIR=os.path.join(self.dir, "data"), PORT="0", HOST="127.0.0.1", HOOKD_BOOTSTRAP_ADMIN_KEY=KEY)
        self.proc = subprocess.Popen(["node", os.path.join(REPO, "dist", "src", "cli.js"), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.url = None
        timer = threading.Timer(30, self.proc.kill)
        timer.start()
        try:
            for line in self.proc.stdout:
                m = re.search(r"listening on (http://\S+/graphql)", line)
                if m:
                    self.url = m.group(1)
                    break
        finally:
            timer.cancel()
        if not self.url:
            raise RuntimeError("hookd did not start")
        # Keep draining its output so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


class SessionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hookd = Hookd()
        cls.session = Session(url=cls.hookd.url, api_key=KEY, timeout=30)
        cls.root = os.path.join(cls.hookd.dir, "projects")
        os.makedirs(os.path.join(cls.root, "moon", "comp", "v001"))
        examples = os.path.join(REPO, "examples", "hooks")
        s = cls.session
        s.create("volume", {"code": "projects", "paths": {"linux": cls.root, "mac": cls.root}})
        pre = "%s %s --root %s --volume projects ${PATH_JSON_INPUT} ${PATH_JSON_OUTPUT}" % (PY, os.path.join(examples, "pre_publish.py"), cls.root)
        ingest = "%s %s ${PATH_JSON_INPUT}" % (PY, os.path.join(examples, "publish.py"))
        for hook, line in (("PRE_PUBLISH_SERVER", pre), ("PUBLISH_SERVER", ingest), ("POST_DONE_SERVER", "/bin/echo done ${PATH_JSON_INPUT}")):
            s.query("mutation($h: HookPoint!, $l: String!) { setHookConfig(input: { hook: $h, enabled: true, commands: { linux: $l, mac: $l } }) { hook } }", {"h": hook, "l": line})

    @classmethod
    def tearDownClass(cls):
        cls.hookd.stop()

    def test_environment_and_missing_key(self):
        old = dict(os.environ)
        try:
            os.environ["HOOKD_URL"] = self.hookd.url.replace("/graphql", "")
            os.environ["HOOKD_API_KEY"] = KEY
            s = Session()
            self.assertEqual(s.url, self.hookd.url)
            self.assertEqual(s.query("{ me { email } }")["me"]["email"], "admin@localhost")
            del os.environ["HOOKD_API_KEY"]
            with self.assertRaises(HookdError) as ctx:
                Session()
            self.assertEqual(ctx.exception.code, "UNAUTHENTICATED")
        finally:
            os.environ.clear()
            os.environ.update(old)

    def test_errors_carry_code_and_message(self):
        with self.assertRaises(HookdError) as ctx:
            Session(url=self.hookd.url, api_key="hkd_wrong_key_000000000000").query("{ me { email } }")
        self.assertEqual(ctx.exception.code, "UNAUTHENTICATED")
        self.assertIn("invalid API key", ctx.exception.message)
        with self.assertRaises(HookdError) as ctx:
            self.session.create("queue", {"code": "bad code"})
        self.assertEqual(ctx.exception.code, "BAD_USER_INPUT")
        self.assertIn("input.code", ctx.exception.message)
        with self.assertRaises(HookdError) as ctx:
            Session(url="http://127.0.0.1:9/graphql", api_key=KEY, timeout=2).query("{ me { email } }")
        self.assertEqual(ctx.exception.code, "NETWORK")

    def test_prepublish_publish_and_follow_the_ingest(self):
        s = self.session
        comp = {"id": str(uuid.uuid4()), "filename": "moon_comp_v002", "is_dir": True, "files": [{"filename": "moon_comp.%d.exr" % f, "size": 100, "is_dir": False} for f in (1001, 1002)]}
        bad = {"id": str(uuid.uuid4()), "filename": "final.mov", "is_dir": False, "size": 5}
        verdict = s.prepublish([comp, bad])
        self.assertEqual(verdict["state"], "VALIDATED")
        self.assertTrue(verdict["comment"])
        self.assertTrue(verdict["time_report"])
        self.assertEqual([x["value"] for x in verdict["statuses"]], ["pending_review", "final"])
        good, rejected = verdict["files"]
        self.assertEqual(good["size"], 200, "directory size computed")
        self.assertTrue(good["can_publish"])
        self.assertEqual(good["path"], os.path.join(self.root, "moon", "comp", "v002"))
        self.assertEqual(good["ident"], "moon comp v002")
        self.assertTrue(rejected["rejected"])

        with self.assertRaises(HookdError) as ctx:
            s.publish(verdict["id"], [{"id": bad["id"], "comment": "x", "time_report": 1}])
        self.assertEqual(ctx.exception.code, "BAD_USER_INPUT")

        published = s.publish(verdict["id"], [{"id": comp["id"], "comment": "first pass", "time_report": 3600, "metadata": {"artist": "py"}}])
        self.assertEqual(published["state"], "SUBMITTED")
        job = published["job"]
        os.makedirs(good["path"])
        done = s.update_job_status(job["id"], "done")
        self.assertEqual(done["status"], "DONE")
        self.assertEqual(s.get_publish(verdict["id"])["state"], "PUBLISHED")
        executions, _ = s.find_executions(hook="publish-server", job=job["id"])
        self.assertEqual(len(executions), 1)
        lines = [l["text"] for l in s.follow_log(executions[0]["id"])]
        self.assertEqual(lines, ["ingested moon comp v002 -> %s.publish.json" % good["path"]])
        with open(good["path"] + ".publish.json") as f:
            self.assertEqual(json.load(f)["comment"], "first pass")

    def test_create_job_update_status_and_executions(self):
        s = self.session
        job = s.create("job", {"name": "py job", "source": "user:admin@localhost", "destination": "volume:projects", "tasks": [{"source": "/a/x.exr", "destination": "volume=projects/moon/x.exr", "size": 10}]})
        self.assertEqual(job["status"], "SUBMITTED")
        self.assertEqual(job["code"], "py_job")
        self.assertEqual(s.update_job_status(job["id"], "running", "halfway")["message"], "halfway")
        s.update_job_status(job["id"], "DONE")
        executions, cursor = s.find_executions(hook="POST_DONE_SERVER", job=job["id"])
        self.assertIsNone(cursor)
        execution = s.wait_execution(executions[0]["id"], timeout=30)
        self.assertEqual(execution["status"], "SUCCEEDED")
        self.assertEqual(execution["jobId"], job["id"])
        self.assertTrue(s.log_lines(execution["id"])[0]["text"].startswith("done /"))
        self.assertEqual(s.get_job(job["id"])["status"], "DONE")
        with self.assertRaises(HookdError) as ctx:
            s.update_job_status(job["id"], "RUNNING")
        self.assertEqual(ctx.exception.code, "CONFLICT")

    def test_trigger_hook_wait_and_follow_log_while_running(self):
        s = self.session
        script = os.path.join(self.hookd.dir, "slow.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nfor i in 1 2 3 4 5; do echo line $i; sleep 0.1; done\n")
        os.chmod(script, 0o755)
        s.query('mutation($l: String!) { setHookConfig(input: { hook: POST_FAILED_SERVER, enabled: true, commands: { linux: $l } }) { hook } }', {"l": script + " ${PATH_JSON_INPUT}"})
        [finished] = s.trigger_hook("post-failed-server", {"code": "from python"}, wait=True)
        self.assertEqual(finished["status"], "SUCCEEDED")
        self.assertEqual(finished["input"]["code"], "from python")
        [running] = s.trigger_hook("POST_FAILED_SERVER", wait=False)
        self.assertEqual([l["text"] for l in s.follow_log(running["id"])], ["line %d" % i for i in range(1, 6)])
        self.assertEqual(s.get_execution(running["id"])["status"], "SUCCEEDED")
        page, cursor = s.find_executions(hook="POST_FAILED_SERVER", first=1)
        self.assertEqual(len(page), 1)
        self.assertIsNotNone(cursor)
        more, _ = s.find_executions(hook="POST_FAILED_SERVER", first=1, after=cursor)
        self.assertNotEqual(more[0]["id"], page[0]["id"])

    def test_installed_copy_follows_a_live_log_over_sse_and_waits_for_the_outcome(self):
        s = self.session
        work = tempfile.mkdtemp(prefix="hookd-pip-", dir=self.hookd.dir)
        # Built from a copy, so the build leaves nothing in the repository; offline (--no-index).
        source = os.path.join(work, "src")
        shutil.copytree(os.path.join(REPO, "clients", "python"), source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
        target = os.path.join(work, "site")
        pip = subprocess.run([PY, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--target", target, source], capture_output=True, text=True, timeout=180)
        self.assertEqual(pip.returncode, 0, pip.stdout + pip.stderr)
        self.assertTrue(os.path.exists(os.path.join(target, "hookd", "py.typed")))

        release = os.path.join(work, "release")
        script = os.path.join(work, "live.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nfor i in 1 2 3 4 5; do echo live $i; sleep 0.05; done\nwhile [ ! -e %s ]; do sleep 0.05; done\necho released\n" % release)
        os.chmod(script, 0o755)
        s.query('mutation($l: String!) { setHookConfig(input: { hook: POST_SUBMIT_CLIENT, enabled: true, commands: { linux: $l } }) { hook } }', {"l": script + " ${PATH_JSON_INPUT}"})
        server = s.query("{ settings { defaultExecutionServer { id } } }")["settings"]["defaultExecutionServer"]["id"]
        [running] = s.query(
            "mutation($s: ID) { triggerHook(input: { hook: POST_SUBMIT_CLIENT, executionServer: $s, wait: false }) { id } }", {"s": server}
        )["triggerHook"]
        # Run where the repository's copy is not importable: only the installed one is.
        env = dict(os.environ, PYTHONPATH=target)
        child = subprocess.Popen([PY, "-c", FOLLOWER, self.hookd.url, KEY, running["id"]], cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        timer = threading.Timer(60, child.kill)
        timer.start()
        try:
            read = lambda: json.loads(child.stdout.readline() or "null")
            self.assertEqual(read()["module"], os.path.join(target, "hookd", "__init__.py"))
            lines = [read() for _ in range(5)]
            self.assertEqual(lines, [{"line": "live %d" % i, "seq": i} for i in range(1, 6)])
            # Every line arrived while the hook still runs; the waiter has not answered.
            self.assertEqual(s.get_execution(running["id"])["status"], "RUNNING")
            time.sleep(1.0)
            with open(release, "w"):
                pass
            rest = [read() for _ in range(3)]
        finally:
            timer.cancel()
        child.wait(timeout=30)
        errors = child.stderr.read()
        child.stdout.close()
        child.stderr.close()
        self.assertEqual(child.returncode, 0, errors)
        self.assertIn({"line": "released", "seq": 6}, rest)
        self.assertIn({"waited": "SUCCEEDED"}, rest)
        # Over the event stream: no logLines polling, and the waiter read the execution only
        # before and after its stream (a 0.25 s poll would have read it a few times a second).
        calls = rest[-1]["calls"]
        self.assertEqual(calls["log_lines"], 0)
        self.assertLessEqual(calls["get_execution"], 3, calls)

    def test_outsource_example_with_a_standard_key_and_mark_done(self):
        s = self.session
        user = s.create("user", {"email": "vendor-%s@example.com" % uuid.uuid4().hex[:6], "role": "STANDARD"})
        key = s.query("mutation($id: ID!) { createApiKey(user: $id) { secret } }", {"id": user["id"]})["createApiKey"]["secret"]
        os.makedirs(os.path.join(self.root, "sun", "comp", "v001"))
        delivery = os.path.join(self.hookd.dir, "sun_comp_v002")
        os.makedirs(delivery)
        for frame in (1001, 1002):
            with open(os.path.join(delivery, "sun_comp.%d.exr" % frame), "wb") as f:
                f.write(b"x" * 10)
        example = os.path.join(REPO, "clients", "python", "examples", "outsource_publish.py")
        env = dict(os.environ, HOOKD_URL=self.hookd.url, HOOKD_API_KEY=key)
        run = subprocess.run([PY, example, delivery, "--comment", "fixed the flicker", "--time", "3600", "--mark-done"], env=env, capture_output=True, text=True, timeout=120)
        # The bytes were not copied to the destination, so the ingest fails: the vendor is told
        # that, and why there is no log to show, and the script ends without a traceback.
        self.assertNotIn("Traceback", run.stderr)
        self.assertIn("submitted: upload job publish_sun_comp_v002", run.stdout)
        self.assertIn("its log is visible to the studio's administrators and auditors only", run.stdout)
        # A STANDARD vendor is told that the ingest failed, not the hook's stderr (that is for the studio).
        self.assertIn("publish FAILED: publish-server could not ingest the upload (an administrator can see why in the hook's execution)", run.stdout)
        self.assertNotIn("last stderr", run.stdout)
        self.assertEqual(run.returncode, 1, run.stdout + run.stderr)

    def test_a_refused_job_carries_the_hooks_message_and_only_that(self):
        s = self.session
        says = os.path.join(self.hookd.dir, "says-no.py")
        with open(says, "w") as f:
            f.write('#!%s\nimport json, sys\nprint("token=s3cr3t", file=sys.stderr)\njson.dump({"message": "Names may not contain \'bad\'.\\nRename it."}, open(sys.argv[2], "w"))\nsys.exit(1)\n' % PY)
        os.chmod(says, 0o755)
        # A queue of its own: the other tests' jobs are not refused.
        s.create("queue", {"code": "says-no-py"})
        s.query(
            'mutation($l: String!) { setQueueHook(input: { queue: "says-no-py", hook: PRE_SUBMIT_SERVER, mode: OVERRIDE, enabled: true, commands: { linux: $l } }) { id } }',
            {"l": says + " ${PATH_JSON_INPUT} ${PATH_JSON_OUTPUT}"},
        )
        email = "refused-%s@example.com" % uuid.uuid4().hex[:6]
        user = s.create("user", {"email": email, "role": "STANDARD"})
        key = s.query("mutation($id: ID!) { createApiKey(user: $id) { secret } }", {"id": user["id"]})["createApiKey"]["secret"]
        job = {"name": "bad delivery", "queue": "says-no-py", "source": "user:" + email, "destination": "user:" + email, "tasks": [{"source": "/a", "destination": "/b", "size": 1}]}
        with self.assertRaises(HookdError) as ctx:
            Session(url=self.hookd.url, api_key=key, timeout=30).create("job", job)
        self.assertEqual(ctx.exception.code, "HOOK_FAILED")
        self.assertEqual(ctx.exception.hook, "PRE_SUBMIT_SERVER")
        self.assertEqual(ctx.exception.hook_message, "Names may not contain 'bad'.\nRename it.")
        self.assertEqual(str(ctx.exception), "HOOK_FAILED: pre-submit-server refused the job: Names may not contain 'bad'.\nRename it.")
        self.assertNotIn("s3cr3t", repr(ctx.exception.errors))
        # Without the message field (a hookd before it, or another error), both are None.
        with self.assertRaises(HookdError) as ctx:
            s.create("queue", {"code": "bad code"})
        self.assertIsNone(ctx.exception.hook_message)

    def test_raw_query_and_unknown_entity(self):
        self.assertEqual(self.session.query("{ queues { code } }")["queues"][0]["code"], "default")
        with self.assertRaises(HookdError) as ctx:
            self.session.create("spaceship", {})
        self.assertEqual(ctx.exception.code, "BAD_USER_INPUT")



class _FakeStreams(http.server.BaseHTTPRequestHandler):
    """A hookd stand-in whose event streams break off once, mid-way, to test resuming."""

    requests = []  # the (path, variables) of every request, in order

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
        variables = body.get("variables") or {}
        type(self).requests.append((self.path, variables))
        if self.path == "/graphql":
            # get_execution: running until a stream has been resumed.
            resumed = sum(1 for p, _ in type(self).requests if p == "/graphql/stream") >= 2
            answer = json.dumps({"data": {"execution": {"id": "e1", "status": "SUCCEEDED" if resumed else "RUNNING"}}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        after = variables.get("after", 0)
        if after > 100:
            # wait_execution's stream: it breaks off once, then says the execution finished.
            events = [] if len([r for r in type(self).requests if r[1].get("after", 0) > 100]) == 1 else [{"lines": [], "finished": {"status": "SUCCEEDED"}}]
        elif after < 2:
            events = [{"lines": [{"seq": 1, "text": "a"}], "finished": None}, {"lines": [{"seq": 2, "text": "b"}], "finished": None}]
        else:
            events = [{"lines": [{"seq": 3, "text": "c"}], "finished": None}, {"lines": [], "finished": {"status": "SUCCEEDED"}}]
        self.wfile.write(b":\n\n")
        for event in events:
            self.wfile.write(("event: next\ndata: %s\n\n" % json.dumps({"data": {"executionLog": event}})).encode())
        if events and events[-1]["finished"]:
            self.wfile.write(b"event: complete\ndata:\n\n")
        # Otherwise the connection just ends, as when a proxy or the network drops it.


class StreamResumeTest(unittest.TestCase):
    def setUp(self):
        _FakeStreams.requests = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeStreams)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.session = Session(url="http://127.0.0.1:%d/graphql" % self.server.server_address[1], api_key="hkd_fake", timeout=5)

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def test_follow_log_resumes_after_the_last_seq_when_the_stream_drops(self):
        self.assertEqual([(l["seq"], l["text"]) for l in self.session.follow_log("e1")], [(1, "a"), (2, "b"), (3, "c")])
        self.assertEqual([v["after"] for p, v in _FakeStreams.requests if p == "/graphql/stream"], [0, 2])

    def test_wait_execution_reconnects_when_the_stream_drops(self):
        self.assertEqual(self.session.wait_execution("e1", timeout=10)["status"], "SUCCEEDED")
        # The status is read again after the drop (it may have finished meanwhile), then the stream resumes.
        self.assertEqual([p for p, _ in _FakeStreams.requests], ["/graphql", "/graphql/stream", "/graphql", "/graphql/stream", "/graphql"])


if __name__ == "__main__":
    unittest.main()
