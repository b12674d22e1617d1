#!/usr/bin/env python3
"""pre-publish-server hook: validates what a vendor proposes to publish.

Usage (the hook's command line):
    pre_publish.py --root /mnt/projects --volume projects ${PATH_JSON_INPUT} ${PATH_JSON_OUTPUT}

Naming convention: each delivery is a directory <project>_<task>_v<NNN> holding a complete image
sequence name.<frame>.<ext>, optionally previews (.mov, .mp4) and assets. The project must exist
under --root, the version must be the next one after what is already there, and approved
deliveries go to volume=<volume>/<project>/<task>/v<NNN>.

Standard library only; Python 3.8+.
"""
import argparse
import json
import os
import re
import sys

NAME = re.compile(r"^(?P<project>[a-z0-9]+)_(?P<task>[a-z0-9]+)_v(?P<version>\d{3})$")
FRAME = re.compile(r"^(?P<base>[^.]+)\.(?P<frame>\d{4,})\.(?P<ext>[A-Za-z0-9]+)$")
IMAGES = {"exr", "dpx", "tif", "tiff", "png", "jpg"}
PREVIEWS = {"mov", "mp4"}
ASSETS = {"json", "txt", "nk", "ma", "mb", "blend", "abc", "usd", "usda"}


def existing_versions(root, project, task):
    folder = os.path.join(root, project, task)
    if not os.path.isdir(folder):
        return []
    return sorted(int(d[1:]) for d in os.listdir(folder) if re.match(r"^v\d{3}$", d))


def frame_gaps(frames):
    """Ranges of missing frames, as text: ['1003-1004', '1010']."""
    gaps = []
    for a, b in zip(frames, frames[1:]):
        if b - a > 1:
            gaps.append("%d" % (a + 1) if b - a == 2 else "%d-%d" % (a + 1, b - 1))
    return gaps


def judge(entry, root, volume):
    """The answer for one top-level entry."""
    answer = {"id": entry["id"]}
    name = entry["filename"]
    match = NAME.match(name)
    if not entry.get("is_dir"):
        answer.update(rejected=True, warning="deliver a version directory named <project>_<task>_v<NNN>, not a single file")
        return answer
    if not match:
        answer.update(rejected=True, warning="'%s' does not follow <project>_<task>_v<NNN> (e.g. moon_comp_v001)" % name)
        return answer
    project, task, version = match.group("project"), match.group("task"), int(match.group("version"))
    answer["ident"] = "%s %s v%03d" % (project, task, version)
    if not os.path.isdir(os.path.join(root, project)):
        answer.update(rejected=True, warning="unknown project '%s'" % project)
        return answer
    versions = existing_versions(root, project, task)
    expected = (versions[-1] + 1) if versions else 1
    if version != expected:
        answer.update(rejected=True, warning="v%03d is not the next version of %s %s: expected v%03d" % (version, project, task, expected))
        return answer

    frames, warnings, unexpected = {}, [], []
    for f in entry.get("files") or []:
        fname = f.get("filename", "")
        m = FRAME.match(fname)
        ext = fname.rsplit(".", 1)[-1].lower() if "." in fname else ""
        if m and m.group("ext").lower() in IMAGES:
            frames.setdefault((m.group("base"), m.group("ext").lower()), []).append(int(m.group("frame")))
        elif ext in PREVIEWS or ext in ASSETS:
            continue
        else:
            unexpected.append(fname)
    if not frames:
        answer.update(rejected=True, warning="no image sequence (name.<frame>.<ext>) in %s" % name)
        return answer
    for (base, ext), numbers in sorted(frames.items()):
        numbers.sort()
        gaps = frame_gaps(numbers)
        if gaps:
            warnings.append("%s.%s: frames missing: %s" % (base, ext, ", ".join(gaps)))
    if unexpected:
        warnings.append("unexpected files: %s" % ", ".join(sorted(unexpected)))
    answer["path"] = "volume=%s/%s/%s/v%03d" % (volume, project, task, version)
    answer["comment_label"] = "What changed in v%03d?" % version
    if warnings:
        answer["warning"] = "; ".join(warnings)
    # Unexpected file types need a look before approval: the upload is allowed, publishing is not.
    answer["can_publish"] = not unexpected
    answer["can_upload"] = True
    answer["info"] = "%d frame(s) in %d sequence(s)" % (sum(len(v) for v in frames.values()), len(frames))
    return answer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, help="local path of the projects volume")
    parser.add_argument("--volume", default="projects", help="code of that volume in hookd")
    parser.add_argument("input")
    parser.add_argument("output")
    args = parser.parse_args()
    with open(args.input) as f:
        data = json.load(f)
    answer = {
        "guidelines": "<p>Deliver one directory per version: <b>&lt;project&gt;_&lt;task&gt;_v&lt;NNN&gt;</b> with a complete image sequence.</p>",
        "comment": True,
        "time_report": True,
        "metadata": False,
        "statuses": [
            {"label": "Pending review", "value": "pending_review", "default": True},
            {"label": "Final", "value": "final"},
        ],
        "files": [judge(entry, args.root, args.volume) for entry in data["files"]],
    }
    with open(args.output, "w") as f:
        json.dump(answer, f, indent=2)
    for a in answer["files"]:
        print("%s: %s%s" % (a["id"], "rejected" if a.get("rejected") else ("approved" if a.get("can_publish") else "upload only"), (" (%s)" % a["warning"]) if a.get("warning") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
