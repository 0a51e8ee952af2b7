"""Runs a self-test's checks in order, prints `ok`/`FAIL` per check and the
closing `N passed, N failed` line, then stops what the test started."""

import sys
import traceback


def run(checks, *servers):
    passed = failed = 0
    try:
        for check in checks:
            try:
                check()
                passed += 1
                print(f"ok   {check.__name__}", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL {check.__name__}", flush=True)
                traceback.print_exc(file=sys.stdout)
    finally:
        for server in servers:
            if server is not None:
                server.stop()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
