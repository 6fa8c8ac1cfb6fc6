#!/usr/bin/env python3
"""A worker for Ombud's tests: `sleep` never answers, `crash` exits mid-run,
`probe <port> <path>` tries a TCP connection to 127.0.0.1:<port> and reading
<path> and says how both went; anything else is echoed with the worker's pid."""
import json, os, socket, sys, time

def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()

for line in sys.stdin:
    run = json.loads(line)
    if run.get("type") != "run":
        continue
    text = " ".join(m["text"] for m in run["messages"]).strip()
    words = text.split()
    if text == "sleep":
        time.sleep(3600)
    elif text == "crash":
        sys.stderr.write("probe worker: crashing on purpose\n")
        sys.stderr.flush()
        os._exit(3)
    elif words[:1] == ["probe"]:
        try:
            with socket.create_connection(("127.0.0.1", int(words[1])), timeout=2):
                net = "connected"
        except OSError as e:
            net = f"no network ({e.__class__.__name__})"
        try:
            with open(words[2], "rb") as f:
                data = f"read {len(f.read(16))} bytes"
        except OSError as e:
            data = f"cannot read ({e.__class__.__name__})"
        reply = f"{net}; {data}; env {sorted(k for k in os.environ if k.startswith('OMBUD'))}"
        send({"type": "reply", "text": reply})
    else:
        send({"type": "reply", "text": f"echo {text} from {os.getpid()}"})
    send({"type": "done"})
