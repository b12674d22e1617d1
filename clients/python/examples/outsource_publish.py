#!/usr/bin/env python3
"""An outsourcing vendor's publish: propose a local folder, show hookd's verdict, submit what was
accepted, and follow the ingest.

    HOOKD_URL=http://hookd.studio.example:4000 HOOKD_API_KEY=hkd_... \\
        python3 outsource_publish.py /path/to/moon_comp_v002 --comment "fixed the flicker" --time 3600

The bytes themselves move through your transfer engine; it reports the upload job DONE when they
have arrived, which starts the ingest. With --mark-done this script reports it instead (for a
demonstration, when the destination is reachable from here and the files were copied there) and
shows the ingest's log when the key may read it (ADMIN or an audit role; a vendor's STANDARD key
gets the outcome, and is told why there is no log).
Standard library only; Python 3.8+.
"""
import argparse
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hookd import HookdError, Session  # noqa: E402


def entry_for(path):
    """A publish entry for a file or a directory (directory sizes are summed by the bridge)."""
    name = os.path.basename(os.path.normpath(path))
    if os.path.isdir(path):
        children = [entry_for(os.path.join(path, n)) for n in sorted(os.listdir(path))]
        for child in children:
            child.pop("id", None)
        return {"id": str(uuid.uuid4()), "filename": name, "is_dir": True, "files": children}
    return {"id": str(uuid.uuid4()), "filename": name, "is_dir": False, "size": os.path.getsize(path)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="files or folders to publish")
    parser.add_argument("--comment", default="")
    parser.add_argument("--time", type=int, default=None, help="time spent, in seconds")
    parser.add_argument("--status", default=None, help="one of the offered statuses (default: the offered default)")
    parser.add_argument("--mark-done", action="store_true", help="report the upload job DONE (demonstration)")
    args = parser.parse_args()

    session = Session()
    entries = [entry_for(p) for p in args.paths]
    try:
        verdict = session.prepublish(entries)
    except HookdError as err:
        print("hookd refused the publish: %s" % err, file=sys.stderr)
        return 2
    if verdict["guidelines"]:
        print("Guidelines: %s" % verdict["guidelines"])
    accepted = []
    for f in verdict["files"]:
        state = "rejected" if f["rejected"] else "approved" if f["can_publish"] else "upload only" if f["can_upload"] else "not allowed"
        print("%-40s %-12s %s%s" % (f["filename"], state, f["path"] or "", ("  (%s)" % f["warning"]) if f["warning"] else ""))
        if not f["rejected"] and (f["can_publish"] or f["can_upload"]):
            accepted.append({"id": f["id"], "comment": args.comment, "status": args.status, "time_report": args.time})
    if not accepted:
        print("nothing to publish")
        return 1
    try:
        published = session.publish(verdict["id"], accepted)
    except HookdError as err:
        print("cannot submit: %s" % err.message, file=sys.stderr)
        return 2
    job = published["job"]
    print("submitted: upload job %s (%s)" % (job["code"], job["status"]))
    if not args.mark_done:
        print("your transfer engine uploads the files and reports the job done; then publish-server ingests them")
        return 0
    try:
        session.update_job_status(job["id"], "DONE")
    except HookdError as err:
        print("cannot report the upload done: %s" % err.message, file=sys.stderr)
        return 2
    # The ingest's log is for the studio's ADMINs and audit roles; a vendor (STANDARD) sees the
    # outcome only, so say so instead of failing on the executions it may not read.
    try:
        executions, _ = session.find_executions(hook="publish-server", job=job["id"])
    except HookdError as err:
        if err.code != "FORBIDDEN":
            raise
        executions = []
        print("ingest: its log is visible to the studio's administrators and auditors only; the outcome follows")
    for execution in executions:
        for line in session.follow_log(execution["id"]):
            print("ingest: %s" % line["text"])
    state = session.get_publish(verdict["id"])
    print("publish %s%s" % (state["state"], (": " + state["error"]) if state["error"] else ""))
    return 0 if state["state"] == "PUBLISHED" else 1


if __name__ == "__main__":
    sys.exit(main())
