"""The JSON job and result shared by this folder's scripts (see ../doc.go).

A script reads one job on stdin:

  {"mode": "produce" | "consume", "bootstrap": "127.0.0.1:9092", "topic": "t",
   "group": "g", "timeout_s": 30,
   "records": [{"partition": 0, "key": "<hex>"|null, "value": "<hex>"|null,
                "headers": [["name", "<hex>"]], "timestamp": <unix ms>}],   # produce
   "count": 50}                                                           # consume

"produce" sends every record to its partition and reports, in produce order,
{"partition", "offset", "error"} for each. "consume" joins the group, reads exactly
`count` records, commits synchronously what it read, closes, and reports the records in
read order and the offsets the client says the group committed. The script prints one
JSON result on stdout:

  {"delivered": [...], "consumed": [<record as above, plus "offset">],
   "committed": [{"partition": 0, "offset": 12}], "errors": ["..."]}

The Go test does all the checking; a script only reports.
"""

import json
import sys
import time


def unhex(s):
    return None if s is None else bytes.fromhex(s)


def tohex(b):
    return None if b is None else bytes(b).hex()


def read_job():
    job = json.load(sys.stdin)
    job["deadline"] = time.monotonic() + job["timeout_s"]
    return job


def left(job):
    """Seconds left before the job's deadline, never negative."""
    return max(0.0, job["deadline"] - time.monotonic())


def record(partition, offset, key, value, headers, timestamp):
    return {
        "partition": partition,
        "offset": offset,
        "key": tohex(key),
        "value": tohex(value),
        "headers": [[k, tohex(v)] for k, v in (headers or [])],
        "timestamp": timestamp,
    }


def new_result():
    return {"delivered": [], "consumed": [], "committed": [], "errors": []}


def emit(result):
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
