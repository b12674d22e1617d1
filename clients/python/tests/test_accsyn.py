"""Tests of hookd.accsyn (the original product's Python API over hookd) against a real hookd.

The job specifications and calls are written from what the original's public documentation
describes (jobs, transfers, publish, queries). Run with the bridge's tests:
npm run build && /usr/bin/python3 -m unittest discover -s clients/python/tests -v
"""

import datetime
import json
import os
import sys
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..")))
sys.path.insert(0, HERE)

from hookd.accsyn import AccsynException, Session, parse_query  # noqa: E402
from test_session import KEY, PY, Hookd  # noqa: E402

# Approves what it is asked about the way the original's publish documentation shows: a plain
# file may be uploaded with a warning, a directory is a verified publish; writes each input it
# gets to <out>/<hook>.<n>.json.
SCRIPT = r'''#!%s
import json, os, sys
d = json.load(open(sys.argv[1]))
out = os.environ.get("OUT") or %r
# Named by execution id (time-ordered), written aside and renamed: a reader never sees half a file.
dst = os.path.join(out, "%%s.%%s.json" %% (d["hook"], os.environ["HOOKD_EXECUTION_ID"]))
json.dump(d, open(dst + ".tmp", "w"))
os.rename(dst + ".tmp", dst)
if d["hook"] == "pre-publish-server":
    files = []
    for f in d["files"]:
        if f["is_dir"]:
            files.append({"id": f["id"], "ident": "abcd1234", "can_publish": True, "info": "Verified publish, please enter comment and time report", "path": "volume=projects/publish/" + f["filename"]})
        else:
            files.append({"id": f["id"], "warning": "Will be uploaded but not published", "can_upload": True, "path": "volume=projects/upload/" + f["filename"]})
    json.dump({"files": files, "time_report": True, "comment": True, "guidelines": "..", "tasks": ["proj_task001_v001", "proj2_sq0010_sh0010_lighting_v0002"]}, open(sys.argv[2], "w"))
'''


class AccsynTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hookd = Hookd()
        cls.out = os.path.join(cls.hookd.dir, "out")
        os.makedirs(cls.out)
        cls.root = os.path.join(cls.hookd.dir, "projects")
        os.makedirs(cls.root)
        script = os.path.join(cls.hookd.dir, "hook.py")
        with open(script, "w") as f:
            f.write(SCRIPT % (PY, cls.out))
        os.chmod(script, 0o755)
        os.environ["HOOKD_URL"] = cls.hookd.url
        os.environ["ACCSYN_API_KEY"] = KEY
        cls.session = Session(workspace="acmevfx", username="admin@localhost")
        s = cls.session._bridge
        s.create("volume", {"code": "projects", "paths": {"linux": cls.root, "mac": cls.root}})
        for hook in ("PRE_PUBLISH_SERVER", "PUBLISH_SERVER", "POST_SUBMIT_SERVER"):
            line = "%s ${PATH_JSON_INPUT}%s" % (script, " ${PATH_JSON_OUTPUT}" if hook == "PRE_PUBLISH_SERVER" else "")
            s.query("mutation($h: HookPoint!, $l: String!) { setHookConfig(input: { hook: $h, enabled: true, commands: { linux: $l, mac: $l } }) { hook } }", {"h": hook, "l": line})

    @classmethod
    def tearDownClass(cls):
        os.environ.pop("HOOKD_URL", None)
        os.environ.pop("ACCSYN_API_KEY", None)
        cls.hookd.stop()

    def inputs(self, hook):
        names = sorted(f for f in os.listdir(self.out) if f.startswith(hook + ".") and f.endswith(".json"))
        out = []
        for name in names:
            with open(os.path.join(self.out, name)) as f:
                out.append(json.load(f))
        return out

    def input_of(self, hook, job_id, timeout=15):
        """The input ``hook`` got for the job; post-submit runs after the submit answers, so wait for it."""
        deadline = time.monotonic() + timeout
        while True:
            found = [d for d in self.inputs(hook) if d.get("id") == job_id]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                self.fail("%s did not run for job %s" % (hook, job_id))
            time.sleep(0.1)

    def test_session_arguments_and_environment(self):
        old = dict(os.environ)
        try:
            port = self.hookd.url.split(":")[2].split("/")[0]
            del os.environ["HOOKD_URL"]
            os.environ["ACCSYN_API_USER"] = "admin@localhost"
            # The original's arguments: hostname and port pick the server; the key from ACCSYN_API_KEY.
            s = Session(workspace="acmevfx", hostname="127.0.0.1", port=int(port), verbose=False, timeout=30)
            self.assertEqual(s.username, "admin@localhost")
            os.environ["ACCSYN_API_USER"] = "someone@else.example"
            with self.assertRaises(AccsynException) as ctx:
                Session(hostname="127.0.0.1", port=int(port))
            self.assertIn("belongs to admin@localhost", str(ctx.exception))
            del os.environ["ACCSYN_API_USER"]
            os.environ["HOOKD_URL"] = self.hookd.url
            with self.assertRaises(AccsynException) as ctx:
                Session(api_key="hkd_wrong_key_000000000000")
            self.assertEqual(ctx.exception.code, "UNAUTHENTICATED")
            del os.environ["ACCSYN_API_KEY"]
            os.environ.pop("HOOKD_API_KEY", None)
            with self.assertRaises(AccsynException):
                Session()
            os.environ["HOOKD_API_KEY"] = KEY
            self.assertEqual(Session().username, "admin@localhost")
            log = os.path.join(self.hookd.dir, "api.log")
            Session(verbose=True, path_logfile=log).find("queue")
            with open(log) as f:
                self.assertIn("hookd.accsyn: { queues {", f.read())
        finally:
            os.environ.clear()
            os.environ.update(old)

    def test_publish_as_the_original_documents_it(self):
        s = self.session
        first = str(uuid.uuid4())
        folder = str(uuid.uuid4())
        answer = s.prepublish([
            {"id": first, "filename": "first_file", "size": 10240, "is_dir": False},
            {"id": folder, "filename": "proj_task001_v001", "is_dir": True, "files": [{"filename": "file.0001.exr", "size": 1000000}, {"filename": "file.0002.exr", "size": 1000000}]},
        ])
        # The script's answer as written: its keys, none added, and the entries as sent.
        self.assertEqual(sorted(answer), ["comment", "files", "guidelines", "tasks", "time_report"])
        self.assertEqual(answer["tasks"], ["proj_task001_v001", "proj2_sq0010_sh0010_lighting_v0002"])
        plain, directory = answer["files"]
        self.assertEqual(plain, {"id": first, "filename": "first_file", "size": 10240, "is_dir": False, "warning": "Will be uploaded but not published", "can_upload": True, "path": "volume=projects/upload/first_file"})
        self.assertEqual(directory["files"], [{"filename": "file.0001.exr", "size": 1000000}, {"filename": "file.0002.exr", "size": 1000000}])
        self.assertEqual(directory["size"], 2000000)
        self.assertNotIn("warning", directory)
        self.assertEqual(directory["ident"], "abcd1234")

        # The user's input goes with each entry; then the job, with the publish data as a hook.
        for f in answer["files"]:
            f["comment"] = "first delivery"
            f["time_report"] = 3600
        job = s.create("job", {
            "code": "abcd1234_publish",
            "tasks": [{"id": first, "source": "/Volumes/NAS01/first_file"}, {"id": folder, "source": "/Volumes/NAS01/proj_task001_v001"}],
            "hooks": [{"when": "hook-job-publish-server", "data": {"files": answer["files"]}}],
        })
        self.assertEqual(job["status"], "waiting")
        self.assertIsInstance(job["created"], datetime.datetime)
        self.assertEqual(sorted(t["destination"]["path"] for t in job["tasks"].values()), [os.path.join(self.root, "publish", "proj_task001_v001"), os.path.join(self.root, "upload", "first_file")])
        done = s.update("job", job["id"], {"status": "done"})
        self.assertEqual(done["status"], "done")
        ingest = self.input_of("publish-server", job["id"])
        by_id = {f["id"]: f for f in ingest["files"]}
        self.assertEqual(by_id[first]["warning"], "Will be uploaded but not published")
        self.assertEqual(by_id[folder]["comment"], "first delivery")
        self.assertEqual(by_id[folder]["time_report"], 3600)
        self.assertEqual(by_id[folder]["path"], os.path.join(self.root, "publish", "proj_task001_v001"))
        self.assertEqual(by_id[folder]["v_hr"], "projects")

    def test_create_transfer_job_and_query_it(self):
        s = self.session
        # "A user downloads a file from a shared folder to their local computer."
        transfer = s.create("Transfer", {"source": "share=projects/thefilm/latest_edit.mov", "destination": "/Volumes/EDIT/from_client"})
        for key in ("id", "code", "name", "status", "created", "source", "source_hr", "destination", "destination_hr", "size", "user", "user_hr", "queue", "queue_hr", "metadata"):
            self.assertIn(key, transfer)
        self.assertEqual(transfer["code"], "latest_edit.mov")
        self.assertEqual(transfer["source_hr"], "projects")
        self.assertEqual(transfer["status"], "waiting")
        self.assertEqual(transfer["tasks"]["0"]["destination"]["path"], "/Volumes/EDIT/from_client/latest_edit.mov")
        self.assertEqual(transfer["tasks"]["0"]["source"]["path"], os.path.join(self.root, "thefilm", "latest_edit.mov"))

        found = s.find('Transfer WHERE name="latest_edit.mov"')
        self.assertEqual([j["id"] for j in found], [transfer["id"]])
        self.assertEqual(s.find_one("job WHERE code=latest_edit.mov AND status=waiting")["id"], transfer["id"])
        self.assertEqual(s.find_one("job WHERE user=admin@localhost AND code=latest_edit.mov")["id"], transfer["id"])
        self.assertIsNone(s.find_one("job WHERE code=latest_edit.mov AND status=done"))
        self.assertIn(transfer["id"], [j["id"] for j in s.find("job WHERE (code=latest_edit.mov AND source=projects) OR status<>waiting")])
        self.assertEqual(s.get_entity("Transfer", transfer["id"])["code"], "latest_edit.mov")
        self.assertIsNone(s.get_entity("job", "00000000-0000-0000-0000-000000000000"))
        self.assertEqual(s.update("Transfer", transfer["id"], {"status": "running"})["status"], "running")
        self.assertEqual(s.update("job", transfer["id"], {"status": "failed"})["status"], "failed")
        self.assertEqual(s.update("job", transfer["id"], {"status": "waiting"})["status"], "running", "a failed job set to waiting is retried")
        self.assertEqual(s.find_one("job WHERE id=%s" % transfer["id"], attributes=["status"]), {"id": transfer["id"], "status": "running"})
        with self.assertRaises(AccsynException) as ctx:
            s.find("job WHERE colour=blue")
        self.assertIn("cannot query on 'colour'", str(ctx.exception))

    def test_job_specification_with_task_metadata_settings_and_parties(self):
        s = self.session
        job = s.create("job", {
            "name": "Dailies to vendor",
            "source": "share=projects",
            "destination": "admin@localhost",
            "tasks": [
                {"source": "share=projects/dailies/a.mov", "destination": "/Users/vendor/dailies/a.mov", "size": 100, "metadata": {"shot": "sh010"}},
            ],
            "settings": {"transfer_speed_limit": 100, "task_bucketsize": 2},
            "metadata": {"project": "moon"},
        })
        self.assertEqual(job["settings"], {"transfer_speed_limit": 100, "task_bucketsize": 2})
        self.assertEqual(job["destination_hr"], "admin@localhost")
        self.assertEqual(job["metadata"], {"project": "moon"})
        hook_input = self.input_of("post-submit-server", job["id"])
        self.assertEqual(hook_input["settings"], {"transfer_speed_limit": 100, "task_bucketsize": 2})
        self.assertEqual(hook_input["tasks"]["0"]["metadata"], {"shot": "sh010"})
        self.assertEqual(hook_input["metadata"]["external"]["project"], "moon")
        self.assertEqual(hook_input["status"], "waiting")

    def test_queues_and_users(self):
        s = self.session
        queue = s.create("queue", {"code": "vfx", "priority": 700})
        self.assertEqual((queue["code"], queue["priority"], queue["status"]), ("vfx", 700, "waiting"))
        self.assertEqual(s.find_one("queue WHERE code=vfx")["id"], queue["id"])
        self.assertEqual(s.update("queue", queue["id"], {"status": "paused"})["status"], "paused")
        job = s.create("job", {"queue": "vfx", "tasks": [{"source": "/a/x.exr", "destination": "share=projects/x.exr", "size": 1}]})
        self.assertEqual(job["queue_hr"], "vfx")
        user = s.create("user", {"code": "lars@edit.com", "clearance": "standard"})
        self.assertEqual(s.find_one("user WHERE code=lars@edit.com")["clearance"], "standard")
        self.assertEqual(user["code"], "lars@edit.com")

    def test_what_hookd_cannot_do_says_so(self):
        s = self.session
        refusals = [
            lambda: s.ls("share=projects"),
            lambda: s.create("share", {"code": "x"}),
            lambda: s.find("delivery"),
            lambda: s.create("job", {"source": "folder=TO_VENDORS/x", "destination": "/tmp/x"}),
            lambda: s.create("job", {"source": "share=projects/a", "destination": "lars@edit.com"}),
            lambda: s.create("job", {"tasks": [{"source": "/a", "destination": "/b", "size": 1}], "status": "paused"}),
            lambda: s.update("job", s.find_one("job")["id"], {"status": "paused"}),
            lambda: s.delete("job", "x"),
        ]
        for refuse in refusals:
            with self.assertRaises(AccsynException) as ctx:
                refuse()
            self.assertIn("not supported by hookd", str(ctx.exception))
            self.assertEqual(ctx.exception.code, "NOT_SUPPORTED")

    def test_query_parser(self):
        self.assertEqual(parse_query("Job"), ("job", None))
        self.assertEqual(parse_query("job WHERE (user=5bfe AND source=hq) OR status<>failed"), ("job", ("or", ("and", ("==", "user", "5bfe"), ("==", "source", "hq")), ("!=", "status", "failed"))))
        self.assertEqual(parse_query('Job where code="x and y.png"'), ("job", ("==", "code", "x and y.png")))
        for bad in ("job WHERE code", "job WHERE (code=x", "job WHERE code=x AND", ""):
            with self.assertRaises(AccsynException):
                parse_query(bad)


if __name__ == "__main__":
    unittest.main()
