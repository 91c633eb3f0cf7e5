"""Schemathesis hooks for ops/fuzz (loaded through SCHEMATHESIS_HOOKS=fuzz_hooks; ops/fuzz.py sets the variables).

They make generated requests reach past the first refusal, without changing what the document promises:

- Connection ids: random ids only ever reach the 404 branch, so half of the generated `{id}` path parameters are the
  ids of real connections the gate registered (BACKFILL_FUZZ_IDS): commands, resets, disconnects, message pages and
  event streams of real mailboxes get fuzzed too.
- Cursors: `after` is opaque (only a value the API handed out is valid), which no schema can generate. A positive
  case gets a real cursor (BACKFILL_FUZZ_MESSAGE_CURSORS, BACKFILL_FUZZ_CONNECTION_CURSORS) or none; negative cases
  keep their invalid one.
- POST /webhooks/graph: with `validationToken` the body is not read (Graph's validation request has none), which
  OpenAPI cannot say. A negative case is sent without the token, so its body is what gets judged; a positive case
  without a body gets a token, as Graph's validation request would.
- POST /webhooks/gmail: every other positive case is a real push: the URL secret the gate configured
  (BACKFILL_FUZZ_PUSH_TOKEN) and `message.data` the base64 of a notification for one of the gate's mailboxes or an
  unknown one (the document describes `data`'s content, which generators do not follow).
"""
import base64
import hashlib
import json
import os

import schemathesis
from hypothesis import strategies as st
from hypothesis.internal import lambda_sources

# Python 3.11's parser can raise SystemError ("AST constructor recursion depth mismatch") when Hypothesis parses a
# large module to name a lambda for a strategy's repr; the name only decorates messages, so do without it.
_describe_lambda = lambda_sources._lambda_description


def _lambda_description(f):
    try:
        return _describe_lambda(f)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _lambda_description


def _list(name):
    return [value for value in os.environ.get(name, "").split(",") if value]


IDS = _list("BACKFILL_FUZZ_IDS")
MESSAGE_CURSORS = _list("BACKFILL_FUZZ_MESSAGE_CURSORS")
CONNECTION_CURSORS = _list("BACKFILL_FUZZ_CONNECTION_CURSORS")
PUSH_TOKEN = os.environ.get("BACKFILL_FUZZ_PUSH_TOKEN", "")
GMAIL_ADDRESSES = _list("BACKFILL_FUZZ_GMAIL_ADDRESSES") + ["nobody@example.net"]


def _pick(values, seed):
    """A value chosen by the hash of `seed` (what was generated), so a seeded run stays reproducible."""
    digest = int(hashlib.sha256(repr(seed).encode()).hexdigest(), 16)
    return values[digest % len(values)]


@schemathesis.hook
def before_generate_path_parameters(context, strategy):
    operation = context.operation
    if not IDS or operation is None or "{id}" not in operation.path:
        return strategy
    return st.one_of(strategy, st.fixed_dictionaries({"id": st.sampled_from(IDS)}))


@schemathesis.hook
def map_case(context, case):
    path = case.operation.path
    positive = case.meta is None or case.meta.generation.mode.is_positive
    query = dict(case.query or {})
    changed = False

    if positive and "after" in query and path in ("/v1/connections", "/v1/connections/{id}/messages"):
        cursors = MESSAGE_CURSORS if path.endswith("/messages") else CONNECTION_CURSORS
        if cursors:
            query["after"] = _pick(cursors, query["after"])
        else:
            del query["after"]
        changed = True

    if path == "/webhooks/graph":
        if not positive and "validationToken" in query:
            del query["validationToken"]
            changed = True
        elif positive and not isinstance(case.body, dict) and "validationToken" not in query:
            query["validationToken"] = "fuzz validation token"
            changed = True

    if path == "/webhooks/gmail" and positive and PUSH_TOKEN and isinstance(case.body, dict) and _pick([True, False], case.body):
        notification = {"emailAddress": _pick(GMAIL_ADDRESSES, case.body), "historyId": 4242}
        message = dict(case.body.get("message") or {})
        message["data"] = base64.b64encode(json.dumps(notification).encode()).decode()
        case.body = dict(case.body, message=message)
        query["token"] = PUSH_TOKEN
        changed = True

    if changed:
        case.query = query
    return case
