#!/usr/bin/env python3
"""Added latency of the webhook approval path, measured end to end.

Starts an approver on 127.0.0.1 that verifies the HMAC and answers `allow`
at once (signed, naming the request's id), then times (wall clock, N runs
each, detached from any terminal):
  - `guard -c 'aws s3 ls'` where `aws` is a no-op stub: guard asks the
    webhook, the approver answers, the command starts;
  - `guard -c true`: the allow path, no approval.
The difference of the medians is what the webhook path adds.

Usage: benches/webhook_latency.py [RUNS]   (needs a release build)
"""
import hashlib, hmac, http.server, json, os, statistics, subprocess, sys, tempfile, threading, time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 50
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUARD = os.path.join(ROOT, "target", "release", "guard")
SECRET = b"latency-bench-secret"


class Approver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        want = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, self.headers.get("X-Guard-Signature", "")):
            self.send_response(401)
            self.end_headers()
            return
        # The decision names the request it answers; guard refuses any other.
        asked = json.loads(body)
        out = json.dumps({"id": asked["id"], "decision": "allow", "approver": "bench"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Guard-Signature", "sha256=" + hmac.new(SECRET, out, hashlib.sha256).hexdigest())
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def main():
    if not os.access(GUARD, os.X_OK):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Approver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(os.path.join(tmp, "bin"))
        stub = os.path.join(tmp, "bin", "aws")
        with open(stub, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(stub, 0o755)
        secret = os.path.join(tmp, "secret")
        with open(secret, "wb") as f:
            f.write(SECRET)
        os.chmod(secret, 0o600)
        config = os.path.join(tmp, "config.yaml")
        with open(config, "w") as f:
            f.write(
                "approval:\n  tty: false\n  webhook:\n"
                f"    url: http://127.0.0.1:{server.server_address[1]}/approve\n"
                f"    secret_file: {secret}\n    timeout: 10s\n"
            )
        env = dict(os.environ, GUARD_CONFIG=config, GUARD_STATE_DIR=os.path.join(tmp, "state"),
                   PATH=os.path.join(tmp, "bin") + ":" + os.environ["PATH"])
        env.pop("GUARD_SESSION", None)

        def timed(line):
            samples = []
            for _ in range(RUNS + 3):
                t0 = time.perf_counter()
                r = subprocess.run([GUARD, "-c", line], env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
                samples.append(time.perf_counter() - t0)
                if r.returncode != 0:
                    sys.exit(f"{line!r} exited {r.returncode}: {r.stderr.decode()}")
            return statistics.median(samples[3:]) * 1000

        allow = timed("true")
        hook = timed("aws s3 ls")
    server.shutdown()
    print(f"runs per case:                   {RUNS}")
    print(f"guard -c true (allow path):      {allow:7.2f} ms median")
    print(f"guard -c 'aws s3 ls' (webhook):  {hook:7.2f} ms median")
    print(f"added by the webhook path:       {hook - allow:7.2f} ms")


if __name__ == "__main__":
    main()
