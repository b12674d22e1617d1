#!/usr/bin/env python3
"""publish-server hook: ingests what a vendor published.

Usage (the hook's command line):
    publish.py ${PATH_JSON_INPUT}

For each published entry it writes a sidecar metadata file next to the delivered version
directory, <path>.publish.json, with who published it, the comment, the status, the time spent
and the metadata; a pipeline would also register the version in its production database here.
Fails (exit 1) when a delivered directory is missing, so the upload job fails and can be retried.

Standard library only; Python 3.8+.
"""
import json
import os
import sys


def main():
    with open(sys.argv[1]) as f:
        data = json.load(f)
    missing = []
    for entry in data["files"]:
        path = entry["path"]
        if not os.path.exists(path):
            missing.append(path)
            continue
        sidecar = path.rstrip("/\\") + ".publish.json"
        with open(sidecar, "w") as f:
            json.dump(
                {
                    "ident": entry.get("ident"),
                    "filename": entry["filename"],
                    "published_by": data["user_hr"],
                    "comment": entry.get("comment"),
                    "status": entry.get("status"),
                    "time_report": entry.get("time_report"),
                    "metadata": entry.get("metadata") or {},
                    "volume": entry.get("v_hr"),
                    "size": entry.get("size"),
                },
                f,
                indent=2,
            )
        print("ingested %s -> %s" % (entry.get("ident") or entry["filename"], sidecar))
    if missing:
        for path in missing:
            print("not delivered: %s" % path, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
