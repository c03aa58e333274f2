#!/usr/bin/env python3
"""Regenerates the incident data under testdata/incident/ (committed; python3 is needed only
to regenerate). Payloads are real sample documents from ../shared/corpus/samples.

The incident: on 2020-03-16..18 a live sink hit the BigQuery API rate limit while looking up
table metadata and wrote perfectly good records to error output (error_type SinkError) instead
of failing. The same error output also holds genuinely bad records (ParsePayload). Some of the
rate-limited records had in fact been written before the exception (duplicates of live rows).

  error/<YYYY-MM-DD>/<HH>/output-<n>.ndjson.gz   the error output
  live/<YYYY-MM-DD>.ndjson.gz                    what the sink did write to the live tables
  expected.json                                  counts the tests assert
"""
import base64, gzip, json, os, random, shutil, sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "..", "shared", "corpus", "samples")
DAYS = ["2020-03-16", "2020-03-17", "2020-03-18"]
HOURS = ["04", "11", "17", "22"]
DOCTYPES = [  # namespace, doctype, version, sample
    ("contextual-services", "topsites-click", "1", "contextual-services/topsites-click.1.event.pass.json"),
    ("contextual-services", "quicksuggest-impression", "1", "contextual-services/quicksuggest-impression.1.event.pass.json"),
    ("telemetry", "event", "4", "telemetry/event.4.sample.pass.json"),
]
RATE_LIMIT = {
    "error_type": "SinkError",
    "error_message": "com.google.cloud.bigquery.BigQueryException: Exceeded rate limits: too many api requests per "
                     "user per method for this user_id. For more information, see "
                     "https://cloud.google.com/bigquery/docs/troubleshoot-quotas",
    "exception_class": "com.google.cloud.bigquery.BigQueryException",
    "stack_trace": "com.google.cloud.bigquery.BigQueryException: Exceeded rate limits\n\tat com.google.cloud."
                   "bigquery.spi.v2.HttpBigQueryRpc.translate(HttpBigQueryRpc.java:115)",
}
PARSE_ERROR = {
    "error_type": "ParsePayload",
    "error_message": "com.fasterxml.jackson.core.JsonParseException: Unexpected character ('<' (code 60))",
    "exception_class": "com.fasterxml.jackson.core.JsonParseException",
    "stack_trace": "com.fasterxml.jackson.core.JsonParseException: Unexpected character",
}

rng = random.Random(20200316)


def uuid():
    return "%08x-%04x-4%03x-%04x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
                                           0x8000 | rng.getrandbits(14), rng.getrandbits(48))


def message(ns, dt, v, doc, day, hour, doc_id, gzip_payload, extra=None):
    ts = "%sT%s:%02d:%02d.%06dZ" % (day, hour, rng.randrange(60), rng.randrange(60), rng.randrange(10**6))
    body = json.dumps(doc, separators=(",", ":")).encode()
    if gzip_payload:
        body = gzip.compress(body, mtime=0)
    attrs = {
        "document_namespace": ns, "document_type": dt, "document_version": v, "document_id": doc_id,
        "submission_timestamp": ts, "normalized_channel": rng.choice(["release", "release", "beta", "nightly"]),
        "sample_id": str(rng.randrange(100)), "normalized_country_code": rng.choice(["DE", "US", "FR", "BR"]),
        "geo_country": "US", "uri": "/submit/%s/%s/%s/%s" % (ns, dt, v, doc_id),
    }
    attrs.update(extra or {})
    return {"attributeMap": attrs, "payload": base64.b64encode(body).decode()}


def write_gz(path, messages):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        for m in messages:
            f.write((json.dumps(m, separators=(",", ":"), sort_keys=True) + "\n").encode())


def main():
    samples = {}
    for ns, dt, v, rel in DOCTYPES:
        with open(os.path.join(CORPUS, rel)) as f:
            samples[(ns, dt)] = json.load(f)
    for sub in ("error", "live"):
        shutil.rmtree(os.path.join(HERE, sub), ignore_errors=True)
    expected = {"days": DAYS, "tables": {}, "error_output": {}}
    for day in DAYS:
        live, errors = [], {h: [] for h in HOURS}
        counts = {"rate_limited_good": 0, "rate_limited_bad_payload": 0, "parse_errors": 0}
        for ns, dt, v, _ in DOCTYPES:
            table = "%s_live.%s_v%s" % (ns.replace("-", "_"), dt.replace("-", "_"), v)
            stats = expected["tables"].setdefault(table, {})
            n_live, n_error, n_dup = (10, 20, 3) if ns != "telemetry" else (4, 8, 2)
            ids = [uuid() for _ in range(n_live + n_error)]
            for i in range(n_live):
                live.append(message(ns, dt, v, samples[(ns, dt)], day, rng.choice(HOURS), ids[i], False))
            for i in range(n_error):
                doc_id = ids[n_live + i] if i >= n_dup else ids[i]  # the first n_dup were also written
                hour = rng.choice(HOURS)  # error output is foldered by submission hour
                errors[hour].append(message(ns, dt, v, samples[(ns, dt)], day, hour, doc_id, i % 3 == 0, RATE_LIMIT))
            counts["rate_limited_good"] += n_error
            stats[day] = {"live_rows_before": n_live, "error_records": n_error, "duplicates": n_dup,
                          "stable_rows_after": n_live + n_error - n_dup}
        # Genuinely bad records: a payload that is not JSON (ParsePayload) and a rate-limited
        # record whose gzip payload is truncated (the replay must send it back to error output).
        bad = message("contextual-services", "topsites-click", "1", {}, day, "11", uuid(), False, PARSE_ERROR)
        bad["payload"] = base64.b64encode(b"<html>502 Bad Gateway</html>").decode()
        errors["11"].append(bad)
        counts["parse_errors"] += 1
        trunc = message("contextual-services", "topsites-click", "1", samples[("contextual-services", "topsites-click")],
                        day, "17", uuid(), True, RATE_LIMIT)
        raw = base64.b64decode(trunc["payload"])
        trunc["payload"] = base64.b64encode(raw[: len(raw) // 2]).decode()
        errors["17"].append(trunc)
        counts["rate_limited_bad_payload"] += 1
        for h, msgs in errors.items():
            rng.shuffle(msgs)
            write_gz(os.path.join(HERE, "error", day, h, "output-%s-%s.ndjson.gz" % (day.replace("-", ""), h)), msgs)
        write_gz(os.path.join(HERE, "live", day + ".ndjson.gz"), live)
        expected["error_output"][day] = counts
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
