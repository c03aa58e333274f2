#!/usr/bin/env python3
"""Regenerates the incident data under testdata/incident/ (committed; python3 is needed only
to regenerate). Payloads are real sample documents from ../shared/corpus/samples.

The incident: on 2020-03-16..18 the live sink (gcp-ingestion's ingestion-sink) hit the BigQuery
API rate limit while looking up table metadata and, after its retries, wrote perfectly good
records to its error output instead of failing. ingestion-sink writes a failed message
unchanged (no error attributes) in its default OUTPUT_FORMAT `raw`: every attribute a top-level
field, then `payload` in base64 (PubsubMessageToObjectNode.Raw). Some of the rate-limited
records had in fact been written before the exception (duplicates of live rows). The same error
output holds a record whose gzip payload is truncated (the replay sends it back to error
output) and, per day, one org-mozilla-fenix record that failed for another reason and is not
part of this replay (the plans select the incident's namespaces with `where`).

error-beam/ holds the same messages as the Beam Sink (ingestion-beam) writes its error output:
`{"attributeMap":{...},"payload":"..."}` with FailureMessage's error attributes (error_type,
error_message, exception_class, stack_trace). A replay of either must end in the same tables.

  error/<YYYY-MM-DD>/<HH>/output-<n>.ndjson.gz        the live sink's error output (raw)
  error-beam/<YYYY-MM-DD>/<HH>/output-<n>.ndjson.gz   the same as the Beam Sink writes it
  live/<YYYY-MM-DD>.ndjson.gz                         what the sink did write to the live tables
  expected.json                                       counts the tests assert
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
OTHER = ("org-mozilla-fenix", "baseline", "1", "glean/glean.1.baseline.pass.json")


def beam_sink_error(table):
    """FailureMessage's attributes for KeyByBigQueryTableDestination's table lookup failure."""
    return {
        "error_type": "KeyByBigQueryTableDestination",
        "error_message": "java.lang.IllegalArgumentException: Resolved destination table does not exist: "
                         "moz-fx-data-shared-prod:" + table,
        "exception_class": "java.lang.IllegalArgumentException",
        "stack_trace": "[com.mozilla.telemetry.transforms.KeyByBigQueryTableDestination.getTableDestination("
                       "KeyByBigQueryTableDestination.java:121), com.mozilla.telemetry.transforms."
                       "KeyByBigQueryTableDestination.lambda$expand$3f1d8e1c$1(KeyByBigQueryTableDestination.java:135)]",
    }

rng = random.Random(20200316)


def uuid():
    return "%08x-%04x-4%03x-%04x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
                                           0x8000 | rng.getrandbits(14), rng.getrandbits(48))


def table_of(ns, dt, v):
    return "%s_live.%s_v%s" % (ns.replace("-", "_"), dt.replace("-", "_"), v)


def message(ns, dt, v, doc, day, hour, doc_id, gzip_payload):
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
    return {"attributeMap": attrs, "payload": base64.b64encode(body).decode()}


def raw_line(m):
    """ingestion-sink's OUTPUT_FORMAT raw: the attributes, then payload (left out when empty)."""
    out = dict(m["attributeMap"])
    out.pop("payload", None)
    if m["payload"]:
        out["payload"] = m["payload"]
    return json.dumps(out, separators=(",", ":"))


def beam_line(m):
    """The Beam Sink's error output: the message plus FailureMessage's error attributes."""
    a = m["attributeMap"]
    attrs = dict(a, **beam_sink_error(table_of(a["document_namespace"], a["document_type"], a["document_version"])))
    return json.dumps({"attributeMap": attrs, "payload": m["payload"]}, separators=(",", ":"), sort_keys=True)


def write_gz(path, messages, shape=lambda m: json.dumps(m, separators=(",", ":"), sort_keys=True)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        for m in messages:
            f.write((shape(m) + "\n").encode())


def main():
    samples = {}
    for ns, dt, v, rel in DOCTYPES + [OTHER]:
        with open(os.path.join(CORPUS, rel)) as f:
            samples[(ns, dt)] = json.load(f)
    for sub in ("error", "error-beam", "live"):
        shutil.rmtree(os.path.join(HERE, sub), ignore_errors=True)
    expected = {"days": DAYS, "tables": {}, "error_output": {}}
    for day in DAYS:
        live, errors = [], {h: [] for h in HOURS}
        counts = {"rate_limited_good": 0, "rate_limited_bad_payload": 0, "other_namespace": 0}
        for ns, dt, v, _ in DOCTYPES:
            table = table_of(ns, dt, v)
            stats = expected["tables"].setdefault(table, {})
            n_live, n_error, n_dup = (10, 20, 3) if ns != "telemetry" else (4, 8, 2)
            ids = [uuid() for _ in range(n_live + n_error)]
            for i in range(n_live):
                live.append(message(ns, dt, v, samples[(ns, dt)], day, rng.choice(HOURS), ids[i], False))
            for i in range(n_error):
                doc_id = ids[n_live + i] if i >= n_dup else ids[i]  # the first n_dup were also written
                hour = rng.choice(HOURS)  # error output is foldered by submission hour
                errors[hour].append(message(ns, dt, v, samples[(ns, dt)], day, hour, doc_id, i % 3 == 0))
            counts["rate_limited_good"] += n_error
            stats[day] = {"live_rows_before": n_live, "error_records": n_error, "duplicates": n_dup,
                          "stable_rows_after": n_live + n_error - n_dup}
        # A record of another namespace, not part of this replay, and a rate-limited record whose
        # gzip payload is truncated (the replay must send it back to error output).
        ns, dt, v, _ = OTHER
        errors["11"].append(message(ns, dt, v, samples[(ns, dt)], day, "11", uuid(), True))
        counts["other_namespace"] += 1
        trunc = message("contextual-services", "topsites-click", "1", samples[("contextual-services", "topsites-click")],
                        day, "17", uuid(), True)
        raw = base64.b64decode(trunc["payload"])
        trunc["payload"] = base64.b64encode(raw[: len(raw) // 2]).decode()
        errors["17"].append(trunc)
        counts["rate_limited_bad_payload"] += 1
        for h, msgs in errors.items():
            rng.shuffle(msgs)
            name = "output-%s-%s.ndjson.gz" % (day.replace("-", ""), h)
            write_gz(os.path.join(HERE, "error", day, h, name), msgs, raw_line)
            write_gz(os.path.join(HERE, "error-beam", day, h, name), msgs, beam_line)
        write_gz(os.path.join(HERE, "live", day + ".ndjson.gz"), live)
        expected["error_output"][day] = counts
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
