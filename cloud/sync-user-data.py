#!/usr/bin/env python3
"""Copy cloud/aws/user-data.yaml into meshgate.cfn.yaml and cloud/azure/user-data.yaml
into meshgate.arm.json, verbatim.

WHAT IT CREATES: nothing new; it rewrites the embedded user data of those two templates
in place (run it after editing a user-data.yaml). WHAT IT GRANTS: nothing; no network.
tests/system/t_cloud_templates.sh fails while the copies differ.

Usage: cloud/sync-user-data.py [--check]   (--check: only report, exit 1 on a difference)
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CFN = os.path.join(HERE, "aws", "meshgate.cfn.yaml")
ARM = os.path.join(HERE, "azure", "meshgate.arm.json")
# the literal block in the stack: "Fn::Base64: !Sub", "- |", the text, then the map
CFN_START = "        Fn::Base64: !Sub\n          - |\n"
CFN_END = "          - MESHGATE_CONNECT: !Ref ConnectionString\n"
CFN_INDENT = " " * 12


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def cfn_synced(text, user_data):
    start = text.index(CFN_START) + len(CFN_START)
    end = text.index(CFN_END, start)
    body = "".join(CFN_INDENT + line if line.strip() else "\n"
                   for line in user_data.splitlines(True))
    return text[:start] + body + text[end:]


def arm_synced(text, user_data):
    doc = json.loads(text)
    doc["variables"]["userData"] = user_data
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] and not check:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    jobs = [(CFN, cfn_synced, os.path.join(HERE, "aws", "user-data.yaml")),
            (ARM, arm_synced, os.path.join(HERE, "azure", "user-data.yaml"))]
    differ = False
    for path, sync, ud in jobs:
        old = read(path)
        new = sync(old, read(ud))
        if new == old:
            continue
        differ = True
        if check:
            print(f"{os.path.relpath(path)}: embedded user data differs from {os.path.relpath(ud)}")
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
            print(f"updated {os.path.relpath(path)}")
    return 1 if check and differ else 0


if __name__ == "__main__":
    sys.exit(main())
