#!/usr/bin/env python3
"""An Ombud process agent: runs arrive on stdin, answers leave on stdout, one JSON
object per line (docs/worker-protocol.md). It stays warm between messages."""
import json, os, sys

def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()

def call(name, arguments):
    send({"type": "tool_call", "id": name, "name": name, "arguments": arguments})
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("type") == "tool_result" and message.get("id") == name:
            return message["result"]
    sys.exit(0)

answered = 0  # messages this worker has answered since it started
for line in sys.stdin:
    run = json.loads(line)
    if run.get("type") != "run":
        continue
    text = " ".join(m["text"] for m in run["messages"])
    answered += len(run["messages"])
    if "status" in text.lower():
        mine = call("list_my_complaints", {}).get("complaints", [])
        reply = f"You have {len(mine)} open complaint(s)."
    else:
        made = call("create_complaint", {"description": text})
        reply = f"Registered as {made['number']}." if "number" in made else f"Sorry: {made['error']}"
    send({"type": "reply", "text": f"{reply} (worker {os.getpid()}, message {answered})"})
    send({"type": "done", "state": {"answered": answered}})
