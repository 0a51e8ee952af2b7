"""The AWS Cloud Control API in front of moto, for payrun's `awscc` kinds.

Importing this module installs it (moto_launcher.py imports it): requests
whose X-Amz-Target starts with `CloudApiService.` are answered here, before
moto's dispatcher, which has no Cloud Control backend and answers them 500.
"""

import copy
import json
import os
import re
import secrets
import string
import struct
import sys
import threading
import time
import traceback
import uuid
import zlib
from datetime import datetime, timezone

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.utils import camelcase_to_underscores
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.iam.models import get_account_id_from
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.sns.models import Topic, sns_backends
from moto.sqs.constants import MAXIMUM_MESSAGE_LENGTH
from moto.sqs.models import Queue, sqs_backends
from moto.utilities.utils import get_partition

# ── Cloud Control API: an extension of moto, not moto ─────────────────────
# moto 5.2.5 has no Cloud Control backend (nothing for `cloudcontrolapi` in
# moto/backends.py or moto/backend_index.py): moto_server logs "Unable to
# find appropriate backend for cloudcontrolapi..." and answers 500. This
# front serves the eight operations of the Cloud Control API reference
# (docs.aws.amazon.com/cloudcontrolapi/latest/APIReference/Welcome.html;
# botocore's data/cloudcontrol/2021-09-30/service-2.json): awsJson1_0,
# `POST /` with `X-Amz-Target: CloudApiService.<Op>`, answers 200 with a
# JSON body, errors 400 with {"__type": <the exception's shape name>,
# "Message": ...}, timestamps as epoch seconds. It relies on these moto
# names:
#   moto/moto_server/werkzeug_app.py DomainDispatcherApplication.__call__,
#     the WSGI entry of moto.server.ThreadedMotoServer (and of moto_server),
#     wrapped here so Cloud Control requests never reach moto's dispatcher;
#   moto/iam/models.py get_account_id_from and moto/core DEFAULT_ACCOUNT_ID,
#     which moto/core/responses.py BaseResponse.get_current_account uses,
#     so a resource lands in the account the service's own API looks in;
#   the CloudFormationModel classes and backends named in the blocks below.
#
# Schemas. Each type's CloudFormation registry schema comes from payrun's
# embedded bundle, src/provider/awscc/schemas.bin (see bundle.rs there),
# read lazily, each schema once. A type not in it is TypeNotFoundException.
#
# Requests (API_ProgressEvent.html; the user guide's
# resource-operations-manage-requests.html). A write (Create, Update,
# Delete) is carried out at once, then its request reports IN_PROGRESS
# until PAYRUN_MOTO_CC_SECONDS (default 0.2, read at each write) have
# passed since the handler finished (the write's own answer is always
# IN_PROGRESS, as Cloud Control's is, even at 0), then its outcome:
# SUCCESS, or FAILED with the handler's ErrorCode and StatusMessage
# (handler error codes: docs.aws.amazon.com/cloudformation-cli/latest/
# userguide/resource-type-test-contract-errors.html). Cloud Control
# reports what the handler finds through the request, not as an exception
# of the call: a name already taken is a CREATE that FAILED with
# AlreadyExists. An error moto raises during a write is the handler's
# failure: a code with NotFound, NonExistent or DoesNotExist in it is
# NotFound, one with AlreadyExists or ResourceInUse AlreadyExists, any
# other service error InvalidRequest, anything else InternalFailure (its
# traceback on stderr). EventTime is when the request was made. An event
# carries the Identifier as soon as it is known ("may be available before
# the resource operation has reached a status of SUCCESS"). Its
# ResourceModel is what was sent (the desired state, the patched model)
# until it succeeds, then the model the resource has (write-only
# properties left out); ListResourceRequests always shows what was sent,
# which is what a caller looking for its own lost create matches on. A
# request of any kind answers GetResourceRequestStatus and
# ListResourceRequests (newest first, filtered by Operations and
# OperationStatuses, paged by MaxResults, default 20, and NextToken) for
# the life of the process; the seven-day expiry is not modelled.
#
# ClientToken (API_CreateResource.html: "A client token is valid for 36
# hours once used"). The same token with the same request (operation,
# TypeName, DesiredState or Identifier and PatchDocument, compared as JSON)
# answers the first request's event, whatever its status now, and does
# nothing more; with another request it is ClientTokenConflictException.
# Requests without a token are never matched. The 36 hours are not
# modelled.
#
# What is refused at once, as an exception of the call:
#   - a DesiredState that is not a JSON object, or not valid against the
#     schema: InvalidRequestException "Model validation failed (...)", with
#     the messages of the JSON-schema validator CloudFormation uses
#     ("#: extraneous key [X] is not permitted", "#: required key [X] not
#     found", "#/X: expected type: Integer, found: String"). The check
#     follows `type`, `properties`, `additionalProperties: false`,
#     `patternProperties`, `required`, `items` and local `$ref`s; it skips
#     oneOf/anyOf/allOf and the constraints cfn-lint's enhanced schemas
#     add (minimum, pattern, format...);
#   - read-only properties in a DesiredState: InvalidRequestException;
#   - an operation the type has no handler for (no `update` handler, no
#     `list`): UnsupportedActionException;
#   - UpdateResource of a resource that does not exist:
#     ResourceNotFoundException, since Cloud Control reads the resource to
#     apply the patch to it;
#   - a patch that is not RFC 6902 or does not apply (a `test` that fails, a
#     path that is not there): InvalidRequestException. Paths are relative
#     to the properties (/VisibilityTimeout, /Rules/0); add, remove, replace,
#     move, copy and test are served. A path without its leading slash is
#     taken as if it had one, as the user guide's own example
#     (resource-operations-update.html, `"path":"RetentionInDays"`) sends;
#   - a patch that changes a create-only property: NotUpdatableException,
#     "Invalid patch update: createOnlyProperties [/properties/QueueName]
#     cannot be updated". Chosen over a FAILED request because botocore
#     declares NotUpdatableException on UpdateResource ("One or more
#     properties included in this resource operation are defined as
#     create-only, and therefore can't be updated"), and because the live
#     service answers it so, with that message, before any handler runs
#     (reported in github.com/carina-rs/carina/issues/809). A patch that
#     changes a read-only property is refused likewise with "Invalid patch
#     update: readOnlyProperties [...] cannot be updated"; the live service
#     sends that as ValidationException (pulumi/pulumi-aws-native#941), a
#     shape botocore's model does not have, so this answers the modelled
#     InvalidRequestException. Only a change counts: a patch that leaves a
#     create-only value as it is goes through. The patched model is then
#     validated as a DesiredState is, except that required write-only
#     properties may be missing (a read never returns them);
#   - an Update or Delete while another write of the same resource is
#     still IN_PROGRESS: ConcurrentOperationException ("Another resource
#     operation is currently being performed on this resource").
#
# DeleteResource of a resource that does not exist answers a request that
# FAILED with ErrorCode NotFound. Cloud Control runs the delete handler,
# and the handler contract (docs.aws.amazon.com/cloudformation-cli/latest/
# userguide/resource-type-test-contract.html) has it fail with NotFound
# when the resource is not there; terraform-provider-awscc's waiter
# (internal/service/cloudcontrol/waiter.go) takes exactly that as a delete
# done, as payrun does (src/provider/aws/cloudcontrol.rs `delete`).
# GetResource of it is ResourceNotFoundException.
#
# Identifiers (resource-identifier.html): the values of the
# primaryIdentifier properties, in their order, joined with `|`.
# Secondary identifiers given as JSON are not served. CancelResourceRequest
# turns an IN_PROGRESS request CANCEL_COMPLETE (what its handler did
# stays done: a cancelled request is not rolled back); a finished one is
# ConcurrentModificationException (inferred: the only other error the
# operation declares).
#
# Where resources live. AWS::SQS::Queue, AWS::SNS::Topic,
# AWS::SNS::Subscription and AWS::DynamoDB::Table are moto's own (the
# blocks below): created, updated and deleted in moto's backends, so the
# service's API sees them, and read back from moto's models, so a change
# made through that API shows in GetResource. Every other type is kept by
# the front, in memory per account and region (the account as moto works
# it out; the region from the Authorization header's credential scope,
# else us-east-1): the model as given plus generated read-only properties
# (an Id as a uuid; a ...Name as the resource's name or id; an ...Arn or
# ...ARN as arn:<partition>:<service>:<region>:<account>:<resource>/<name
# or id>; a ...At or ...Time as an ISO timestamp; other strings as
# `<property>-<random>`; numbers 0; booleans false) and a generated name
# (`<Resource>-<12 random characters>`, as for moto's types when the name
# property is left out) for a primary-identifier property left out. A
# create whose identifier the front keeps already FAILS AlreadyExists.
# Tags are the schema's tag property like any other (a list of {Key,
# Value} for most types, a map for a few).

SCHEMAS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "provider", "awscc", "schemas.bin"
)
SCHEMAS_MAGIC = b"payrun-cfn-schemas 1\n"
CC_SECONDS = "PAYRUN_MOTO_CC_SECONDS"

_LOCK = threading.RLock()
_BUNDLE = {}  # "data": the file's bytes, "blob": where the blob starts, "types": name -> (offset, length)
_SCHEMAS = {}  # type name -> schema
_REQUESTS = {}  # request token -> request (see _record)
_REQUEST_ORDER = []  # request tokens, oldest first
_CLIENT_TOKENS = {}  # (account, region, client token) -> (fingerprint, request token)
_LAST_WRITE = {}  # (account, region, type, identifier) -> request token
_KEPT = {}  # (account, region, type) -> {identifier: model}
_MISSING = object()


class CloudControlError(Exception):
    """An answer of the call itself: HTTP `status`, `{"__type", "Message"}`."""

    def __init__(self, kind, message, status=400):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


class HandlerFailed(Exception):
    """What a resource handler reports: the request ends FAILED with `code`
    (a HandlerErrorCode) and `message`."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _already_exists(type_name, identifier):
    """The message of CloudFormation's handlers (CfnAlreadyExistsException)."""
    return f"Resource of type '{type_name}' with identifier '{identifier}' already exists."


def _not_found(type_name, identifier):
    return f"Resource of type '{type_name}' with identifier '{identifier}' was not found."


# ── Schemas ────────────────────────────────────────────────────────────────


def _schema(type_name):
    with _LOCK:
        if type_name in _SCHEMAS:
            return _SCHEMAS[type_name]
        if not _BUNDLE:
            with open(SCHEMAS, "rb") as f:
                data = f.read()
            if not data.startswith(SCHEMAS_MAGIC):
                raise RuntimeError(f"{SCHEMAS} does not start with {SCHEMAS_MAGIC!r}")
            (length,) = struct.unpack_from("<I", data, len(SCHEMAS_MAGIC))
            start = len(SCHEMAS_MAGIC) + 4
            index = json.loads(data[start : start + length])
            _BUNDLE.update(
                data=data,
                blob=start + length,
                types={name: (offset, size) for name, offset, size in index["types"]},
            )
        where = _BUNDLE["types"].get(type_name)
        if where is None:
            raise CloudControlError("TypeNotFoundException", f"The type '{type_name}' cannot be found.")
        start = _BUNDLE["blob"] + where[0]
        schema = json.loads(zlib.decompress(_BUNDLE["data"][start : start + where[1]]))
        _SCHEMAS[type_name] = schema
        return schema


def _paths(schema, key):
    """`/properties/A/B` entries of schema[key] as ("A", "B")."""
    return [tuple(p.split("/")[2:]) for p in schema.get(key, []) if p.startswith("/properties/")]


def _primary(schema):
    return [p[0] for p in _paths(schema, "primaryIdentifier")]


def _handler(schema, action, type_name):
    if action not in (schema.get("handlers") or {}):
        raise CloudControlError(
            "UnsupportedActionException",
            f"Resource type {type_name} does not support {action.upper()} action",
        )


def _resolve(schema, node):
    """`node` with a local `$ref` followed (its own other keywords kept)."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target = schema
        for part in node["$ref"][2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = dict(target, **{k: v for k, v in node.items() if k != "$ref"})
        seen += 1
        if seen > 32:
            break
    return node if isinstance(node, dict) else {}


def _get_path(model, parts):
    """The value at `parts` (a `*` stops there: the list itself), or _MISSING."""
    value = model
    for part in parts:
        if part == "*":
            return value
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _drop_path(model, parts):
    """Removes what `parts` names (every element for a `*`)."""
    if not parts or not isinstance(model, (dict, list)):
        return
    head, rest = parts[0], parts[1:]
    if head == "*" and isinstance(model, list):
        children = model
    elif isinstance(model, dict) and head in model:
        if not rest:
            del model[head]
            return
        children = [model[head]]
    else:
        return
    for child in children:
        _drop_path(child, rest)


def _readable(schema, model):
    """`model` as a read answers it: write-only properties left out."""
    model = copy.deepcopy(model)
    for parts in _paths(schema, "writeOnlyProperties"):
        _drop_path(model, list(parts))
    return model


# ── Validation ─────────────────────────────────────────────────────────────

_TYPE_NAMES = {
    "string": "String",
    "integer": "Integer",
    "number": "Number",
    "boolean": "Boolean",
    "array": "JSONArray",
    "object": "JSONObject",
    "null": "Null",
}


def _is_type(value, kind):
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(
        value,
        {"string": str, "boolean": bool, "array": list, "object": dict, "null": type(None)}.get(kind, object),
    )


def _found(value):
    for kind in ("boolean", "integer", "number", "string", "array", "object", "null"):
        if _is_type(value, kind):
            return _TYPE_NAMES[kind]
    return type(value).__name__


def _key_allowed(key, patterns):
    for pattern in patterns:
        try:
            if re.search(pattern, key):
                return True
        except re.error:  # \p{L} and friends: Python's re lacks them
            return True
    return False


def _violations(schema, node, value, where, out, optional=()):
    node = _resolve(schema, node)
    kinds = node.get("type")
    if kinds:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is_type(value, k) for k in kinds):
            wanted = _TYPE_NAMES.get(kinds[0], kinds[0]) if len(kinds) == 1 else f"one of {kinds}"
            out.append(f"{where}: expected type: {wanted}, found: {_found(value)}")
            return
    if isinstance(value, dict):
        props = node.get("properties") or {}
        if node.get("additionalProperties") is False:
            patterns = list((node.get("patternProperties") or {}).keys())
            for key in value:
                if key not in props and not _key_allowed(key, patterns):
                    out.append(f"{where}: extraneous key [{key}] is not permitted")
        for key in node.get("required") or []:
            if key not in value and key not in optional:
                out.append(f"{where}: required key [{key}] not found")
        for key, child in value.items():
            if key in props:
                _violations(schema, props[key], child, f"{where}/{key}", out)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, child in enumerate(value):
            _violations(schema, node["items"], child, f"{where}/{i}", out)


def _validate(schema, model, optional=()):
    if not isinstance(model, dict):
        raise CloudControlError(
            "InvalidRequestException",
            f"Model validation failed (#: expected type: JSONObject, found: {_found(model)})",
        )
    problems = []
    _violations(schema, schema, model, "#", problems, optional)
    if len(problems) == 1:
        raise CloudControlError("InvalidRequestException", f"Model validation failed ({problems[0]})")
    if problems:
        raise CloudControlError(
            "InvalidRequestException",
            f"Model validation failed (#: {len(problems)} schema violations found) " + "; ".join(problems),
        )


def _changed(schema, key, before, after):
    """The schema paths of `key` (readOnlyProperties, createOnlyProperties)
    whose value differs between the two models."""
    return [
        "/properties/" + "/".join(parts)
        for parts in _paths(schema, key)
        if _get_path(before, parts) != _get_path(after, parts)
    ]


# ── JSON Patch (RFC 6902) ──────────────────────────────────────────────────


class _PatchError(Exception):
    pass


def _pointer(path):
    if not isinstance(path, str):
        raise _PatchError(f"path {path!r} is not a string")
    if path and not path.startswith("/"):
        path = "/" + path
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    for part in parts:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            raise _PatchError(f"path /{'/'.join(parts)} does not exist")
    return doc


def _patch_add(doc, parts, value):
    if not parts:
        return value
    parent, key = _walk(doc, parts[:-1]), parts[-1]
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list) and key == "-":
        parent.append(value)
    elif isinstance(parent, list) and key.isdigit() and int(key) <= len(parent):
        parent.insert(int(key), value)
    else:
        raise _PatchError(f"cannot add at /{'/'.join(parts)}")
    return doc


def _patch_remove(doc, parts):
    if not parts:
        raise _PatchError("cannot remove the whole model")
    parent, key = _walk(doc, parts[:-1]), parts[-1]
    if isinstance(parent, dict) and key in parent:
        return parent.pop(key)
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent.pop(int(key))
    raise _PatchError(f"path /{'/'.join(parts)} does not exist")


def _apply_patch(model, operations):
    if not isinstance(operations, list):
        raise _PatchError("the patch document is not a JSON array")
    doc = copy.deepcopy(model)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise _PatchError(f"not a patch operation: {json.dumps(op)}")
        kind, path = op["op"], _pointer(op["path"])
        if kind in ("add", "replace", "test") and "value" not in op:
            raise _PatchError(f"{kind} at {op['path']} has no value")
        if kind == "add":
            doc = _patch_add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _patch_remove(doc, path)
        elif kind == "replace":
            _walk(doc, path)
            if path:
                _patch_remove(doc, path)
            doc = _patch_add(doc, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from"))
            value = _patch_remove(doc, source) if kind == "move" else copy.deepcopy(_walk(doc, source))
            doc = _patch_add(doc, path, value)
        elif kind == "test":
            if _walk(doc, path) != op["value"]:
                raise _PatchError(f"test at {op['path']} failed")
        else:
            raise _PatchError(f"unknown operation {kind!r}")
    if not isinstance(doc, dict):
        raise _PatchError("the patched model is not a JSON object")
    return doc


# ── Requests ───────────────────────────────────────────────────────────────


def _status(request):
    if request.get("cancelled"):
        return "CANCEL_COMPLETE"
    if time.time() < request["done_at"]:
        return "IN_PROGRESS"
    return request["outcome"]["OperationStatus"]


def _event(request, as_sent=False, starting=False):
    event = dict(request["event"])
    status = "IN_PROGRESS" if starting else _status(request)
    event["OperationStatus"] = status
    if status not in ("IN_PROGRESS", "CANCEL_COMPLETE"):
        event.update(request["outcome"])
        if as_sent and "ResourceModel" in request["event"]:
            event["ResourceModel"] = request["event"]["ResourceModel"]
    return {k: v for k, v in event.items() if v is not None}


def _fingerprint(operation, body):
    """The request as ClientToken compares it: JSON members as JSON."""
    parts = {"Operation": operation}
    for key, value in body.items():
        if key == "ClientToken":
            continue
        if key in ("DesiredState", "PatchDocument") and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        parts[key] = value
    return json.dumps(parts, sort_keys=True)


def _replayed(ctx, operation, body):
    """The first request's event when this is a retry of it (same
    ClientToken, same request); ClientTokenConflictException when the token
    started another request."""
    token = body.get("ClientToken")
    if not token:
        return None
    seen = _CLIENT_TOKENS.get((ctx["account"], ctx["region"], token))
    if seen is None:
        return None
    if seen[0] != _fingerprint(operation, body):
        raise CloudControlError(
            "ClientTokenConflictException",
            f"The client token {token} has already been used in another resource request.",
        )
    return {"ProgressEvent": _event(_REQUESTS[seen[1]])}


def _not_busy(ctx, type_name, identifier):
    token = _LAST_WRITE.get((ctx["account"], ctx["region"], type_name, identifier))
    if token and _status(_REQUESTS[token]) == "IN_PROGRESS":
        raise CloudControlError(
            "ConcurrentOperationException",
            f"Another Operation on resource [{identifier}] of type [{type_name}] is in progress (request {token})",
        )


def _record(ctx, api_operation, body, type_name, identifier, sent_model, run):
    """Runs the handler `run` (-> (identifier, model)) now and keeps its
    outcome for the request's events; the identifier it answers is in them
    from the first (a failed create has none)."""
    now = time.time()
    try:
        delay = max(0.0, float(os.environ.get(CC_SECONDS, "0.2")))
    except ValueError:
        delay = 0.2
    try:
        identifier, model = run()
        outcome = {"OperationStatus": "SUCCESS"}
        if model is not None:
            outcome["ResourceModel"] = json.dumps(model)
    except Exception as e:  # what the handler reports, through the request
        failure = e if isinstance(e, HandlerFailed) else _moto_failure(e)
        if failure.code == "InternalFailure":
            traceback.print_exc(file=sys.stderr)
        outcome = {"OperationStatus": "FAILED", "ErrorCode": failure.code, "StatusMessage": failure.message}
    token = str(uuid.uuid4())
    request = {
        "account": ctx["account"],
        "region": ctx["region"],
        "done_at": time.time() + delay,
        "event": {
            "TypeName": type_name,
            "Identifier": identifier,
            "RequestToken": token,
            "Operation": api_operation[: -len("Resource")].upper(),
            "EventTime": now,
            "ResourceModel": json.dumps(sent_model) if sent_model is not None else None,
        },
        "outcome": outcome,
    }
    _REQUESTS[token] = request
    _REQUEST_ORDER.append(token)
    if body.get("ClientToken"):
        _CLIENT_TOKENS[(ctx["account"], ctx["region"], body["ClientToken"])] = (
            _fingerprint(api_operation, body),
            token,
        )
    if identifier:
        _LAST_WRITE[(ctx["account"], ctx["region"], type_name, identifier)] = token
    return {"ProgressEvent": _event(request, starting=True)}


def _moto_failure(e):
    """A moto exception as the handler error a resource handler reports."""
    code = getattr(e, "error_type", None) or getattr(e, "code", None)
    code = code if isinstance(code, str) else type(e).__name__
    message = getattr(e, "message", None) or str(e)
    if any(word in code for word in ("NotFound", "NonExistent", "DoesNotExist")):
        return HandlerFailed("NotFound", f"{code}: {message}")
    if "AlreadyExists" in code or "ResourceInUse" in code:
        return HandlerFailed("AlreadyExists", f"{code}: {message}")
    if hasattr(e, "error_type") or hasattr(e, "code"):
        return HandlerFailed("InvalidRequest", f"{code}: {message}")
    return HandlerFailed("InternalFailure", f"{type(e).__name__}: {e}")


def _random_name(type_name, suffix=""):
    resource = type_name.split("::")[-1]
    tail = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))
    return f"{resource}-{tail}{suffix}"


def _tag_changes(before, after):
    """(tags to set, keys to remove) from two lists of {Key, Value}."""
    old = {t["Key"]: t["Value"] for t in before or []}
    new = {t["Key"]: t["Value"] for t in after or []}
    return {k: v for k, v in new.items() if old.get(k) != v}, [k for k in old if k not in new]


def _retag(current, wanted, tag, untag):
    """Moves a resource's tags from `current`'s to `wanted`'s: `tag` sets a
    {key: value} map, `untag` removes a list of keys."""
    to_set, to_remove = _tag_changes(current.get("Tags"), wanted.get("Tags"))
    if to_set:
        tag(to_set)
    if to_remove:
        untag(to_remove)


def _tag_list(tags):
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]


def _json_value(value):
    """A policy moto keeps as a JSON string, as the object Cloud Control
    answers."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _json_text(value):
    return value if isinstance(value, str) else json.dumps(value)


def _as_bool(value):
    return value if isinstance(value, bool) else str(value).lower() == "true"


# ── AWS::SQS::Queue on moto's SQS: an extension of moto, not moto ─────────
# Created with moto's CloudFormation model, moto/sqs/models.py
# Queue.create_from_cloudformation_json (as moto/cloudformation/parsing.py
# parse_and_create_resource calls it: the name, {"Properties": ...}, the
# account and region), which passes the schema's names to
# SQSBackend.create_queue as SQS attribute names, RedrivePolicy as the
# object it is in Cloud Control, and Tags as a list. The identifier (the
# primaryIdentifier QueueUrl) is Queue.physical_resource_id,
# https://sqs.<region>.amazonaws.com/<account>/<name>; Arn is
# get_cfn_attribute("Arn"). Read back from the Queue's attributes
# (visibility_timeout, redrive_policy, tags... which SQS's own
# SetQueueAttributes and TagQueue change), as the queue's attributes are in
# AWS::SQS::Queue: FIFO settings only on a FIFO queue, KMS settings only
# with a key, RedrivePolicy as an object. Updates go through
# SQSBackend.set_queue_attributes, tag_queue and untag_queue, since
# Queue.update_from_cloudformation_json changes only VisibilityTimeout and
# ReceiveMessageWaitTimeSeconds; a property the patch removes goes back to
# SQS's default. Queue._set_attributes also sets the access policy from its
# argument, so the queue's current Policy is passed along to keep it.
# Deleted with Queue.delete_from_cloudformation_json. A name already taken
# is AlreadyExists (SQS's CreateQueue would answer the existing queue).
# AWS::SQS::Queue schema: docs.aws.amazon.com/AWSCloudFormation/latest/
# TemplateReference/aws-resource-sqs-queue.html.

SQS_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)
SQS_DEFAULTS = {
    "ContentBasedDeduplication": False,
    "DeduplicationScope": "queue",
    "DelaySeconds": 0,
    "FifoThroughputLimit": "perQueue",
    "KmsDataKeyReusePeriodSeconds": 300,
    "KmsMasterKeyId": "",
    "MaximumMessageSize": MAXIMUM_MESSAGE_LENGTH,
    "MessageRetentionPeriod": 345600,
    "ReceiveMessageWaitTimeSeconds": 0,
    "RedriveAllowPolicy": None,
    "RedrivePolicy": "",
    "SqsManagedSseEnabled": True,
    "VisibilityTimeout": 30,
}


def _sqs(ctx):
    return sqs_backends[ctx["account"]][ctx["region"]]


def _queue_name(identifier):
    return identifier.rstrip("/").rsplit("/", 1)[-1]


def _sqs_create(ctx, desired):
    fifo = _as_bool(desired.get("FifoQueue", False))
    name = desired.get("QueueName") or _random_name("AWS::SQS::Queue", ".fifo" if fifo else "")[:80]
    if name in _sqs(ctx).queues:
        raise HandlerFailed("AlreadyExists", _already_exists("AWS::SQS::Queue", name))
    queue = Queue.create_from_cloudformation_json(name, {"Properties": desired}, ctx["account"], ctx["region"])
    return queue.physical_resource_id


def _sqs_read(ctx, identifier):
    queue = _sqs(ctx).queues.get(_queue_name(identifier))
    if queue is None or queue.physical_resource_id != identifier:
        return None
    model = {
        "QueueUrl": queue.physical_resource_id,
        "Arn": queue.get_cfn_attribute("Arn"),
        "QueueName": queue.name,
        "DelaySeconds": int(queue.delay_seconds),
        "MaximumMessageSize": int(queue.maximum_message_size),
        "MessageRetentionPeriod": int(queue.message_retention_period),
        "ReceiveMessageWaitTimeSeconds": int(queue.receive_message_wait_time_seconds),
        "VisibilityTimeout": int(queue.visibility_timeout),
        "SqsManagedSseEnabled": _as_bool(queue.sqs_managed_sse_enabled),
    }
    if queue.fifo_queue:
        model["FifoQueue"] = True
        model["ContentBasedDeduplication"] = _as_bool(queue.content_based_deduplication)
        model["DeduplicationScope"] = queue.deduplication_scope
        model["FifoThroughputLimit"] = queue.fifo_throughput_limit
    if queue.kms_master_key_id:
        model["KmsMasterKeyId"] = queue.kms_master_key_id
        model["KmsDataKeyReusePeriodSeconds"] = int(queue.kms_data_key_reuse_period_seconds)
    if queue.redrive_policy:
        model["RedrivePolicy"] = copy.deepcopy(queue.redrive_policy)
    allow = getattr(queue, "redrive_allow_policy", None)
    if allow:
        model["RedriveAllowPolicy"] = _json_value(allow)
    if queue.tags:
        model["Tags"] = _tag_list(queue.tags)
    return model


def _sqs_update(ctx, identifier, current, wanted):
    backend = _sqs(ctx)
    name = _queue_name(identifier)
    attributes = {}
    for key in SQS_ATTRIBUTES:
        if wanted.get(key, _MISSING) != current.get(key, _MISSING):
            value = wanted.get(key, SQS_DEFAULTS[key])
            attributes[key] = value
    if attributes:
        policy = backend.get_queue(name).policy
        if policy:
            attributes["Policy"] = policy
        backend.set_queue_attributes(name, attributes)
    _retag(
        current,
        wanted,
        lambda tags: backend.tag_queue(name, tags),
        lambda keys: backend.untag_queue(name, keys),
    )


def _sqs_delete(ctx, identifier):
    if _sqs_read(ctx, identifier) is None:
        raise HandlerFailed("NotFound", _not_found("AWS::SQS::Queue", identifier))
    Queue.delete_from_cloudformation_json(identifier, {"Properties": {}}, ctx["account"], ctx["region"])


def _sqs_list(ctx):
    return [q.physical_resource_id for q in _sqs(ctx).queues.values()]


# ── AWS::SNS::Topic and AWS::SNS::Subscription on moto's SNS: an extension
#    of moto, not moto ──────────────────────────────────────────────────────
# Topics are created with moto/sns/models.py Topic.create_from_cloudformation_json
# (SNSBackend.create_topic with the properties as attributes, then
# SNSBackend.subscribe for each inline Subscription); the identifier is
# Topic.physical_resource_id, the TopicArn. That model keeps Tags as a
# plain attribute, so the front sets the topic's tags (Topic._tags, which
# SNS's TagResource and ListTagsForResource use) itself. Read back as
# AWS::SNS::Topic's read handler does (aws-cloudformation-resource-
# providers-sns, aws-sns-topic ReadHandler/Translator): TopicName, the
# attributes set (DisplayName, KmsMasterKeyId, the policies...), the
# topic's subscriptions as Subscription [{Endpoint, Protocol}] and its
# tags. Updates go through SNSBackend.set_topic_attribute, subscribe,
# unsubscribe, tag_resource and untag_resource, since
# Topic.update_from_cloudformation_json deletes and recreates the topic
# (losing its subscriptions). Deleted with SNSBackend.delete_topic.
#
# moto has no CloudFormation model for AWS::SNS::Subscription: it is
# SNSBackend.subscribe / unsubscribe, its attributes through
# set_subscription_attributes (FilterPolicyScope before FilterPolicy, as
# moto reads the scope when it parses the policy), and it is read back from
# moto's Subscription (topic, protocol, endpoint, attributes); the policies
# moto keeps as JSON strings are answered as objects. ReplayPolicy, which
# moto's set_subscription_attributes refuses, is kept in the attributes as
# given. The same topic, protocol and endpoint subscribed already is
# AlreadyExists (SNS's Subscribe would answer the existing subscription).

SNS_TOPIC_ATTRIBUTES = (
    "ArchivePolicy",
    "ContentBasedDeduplication",
    "DataProtectionPolicy",
    "DeliveryStatusLogging",
    "DisplayName",
    "FifoThroughputScope",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
)
SNS_JSON = ("ArchivePolicy", "DataProtectionPolicy", "DeliveryPolicy", "FilterPolicy", "RedrivePolicy", "ReplayPolicy")
SNS_SUBSCRIPTION_ATTRIBUTES = (
    "FilterPolicyScope",
    "FilterPolicy",
    "DeliveryPolicy",
    "RawMessageDelivery",
    "RedrivePolicy",
    "ReplayPolicy",
    "SubscriptionRoleArn",
)


def _sns(ctx):
    return sns_backends[ctx["account"]][ctx["region"]]


def _topic_create(ctx, desired):
    fifo = _as_bool(desired.get("FifoTopic", False))
    name = desired.get("TopicName") or _random_name("AWS::SNS::Topic", ".fifo" if fifo else "")
    arn = f"arn:{get_partition(ctx['region'])}:sns:{ctx['region']}:{ctx['account']}:{name}"
    if arn in _sns(ctx).topics:
        raise HandlerFailed("AlreadyExists", _already_exists("AWS::SNS::Topic", arn))
    properties = {k: v for k, v in desired.items() if k not in ("Tags", "TopicName")}
    for key in SNS_JSON:
        if key in properties:
            properties[key] = _json_text(properties[key])
    topic = Topic.create_from_cloudformation_json(name, {"Properties": properties}, ctx["account"], ctx["region"])
    topic._tags = {t["Key"]: t["Value"] for t in desired.get("Tags") or []}
    return topic.physical_resource_id


def _topic_read(ctx, identifier):
    backend = _sns(ctx)
    topic = backend.topics.get(identifier)
    if topic is None:
        return None
    model = {"TopicArn": topic.arn, "TopicName": topic.name}
    for key in SNS_TOPIC_ATTRIBUTES:
        value = getattr(topic, camelcase_to_underscores(key), None)
        if key == "ContentBasedDeduplication":
            value = _as_bool(value) if topic.fifo_topic else None
        if value not in (None, "", [], {}):
            model[key] = _json_value(value) if key in SNS_JSON else value
    if topic.fifo_topic:
        model["FifoTopic"] = True
    subscriptions = [
        {"Endpoint": s.endpoint, "Protocol": s.protocol} for s in backend.subscriptions.values() if s.topic is topic
    ]
    if subscriptions:
        model["Subscription"] = subscriptions
    if topic._tags:
        model["Tags"] = _tag_list(topic._tags)
    return model


def _topic_update(ctx, identifier, current, wanted):
    backend = _sns(ctx)
    for key in SNS_TOPIC_ATTRIBUTES:
        if wanted.get(key, _MISSING) != current.get(key, _MISSING):
            value = wanted.get(key, "")
            if key in SNS_JSON and value != "":
                value = _json_text(value)
            backend.set_topic_attribute(identifier, camelcase_to_underscores(key), value)
    had = {(s["Protocol"], s["Endpoint"]) for s in current.get("Subscription") or []}
    wants = {(s["Protocol"], s.get("Endpoint")) for s in wanted.get("Subscription") or []}
    for protocol, endpoint in wants - had:
        backend.subscribe(identifier, endpoint, protocol)
    for sub in list(backend.subscriptions.values()):
        if sub.topic.arn == identifier and (sub.protocol, sub.endpoint) in had - wants:
            backend.unsubscribe(sub.arn)
    _retag(
        current,
        wanted,
        lambda tags: backend.tag_resource(identifier, tags),
        lambda keys: backend.untag_resource(identifier, keys),
    )


def _topic_delete(ctx, identifier):
    if identifier not in _sns(ctx).topics:
        raise HandlerFailed("NotFound", _not_found("AWS::SNS::Topic", identifier))
    _sns(ctx).delete_topic(identifier)


def _topic_list(ctx):
    return list(_sns(ctx).topics)


def _subscription_attribute(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return _json_text(value)


def _subscription_create(ctx, desired):
    backend = _sns(ctx)
    topic_arn, protocol, endpoint = desired["TopicArn"], desired["Protocol"], desired.get("Endpoint")
    if backend._find_subscription(topic_arn, endpoint, protocol):
        raise HandlerFailed(
            "AlreadyExists", f"{protocol} subscription of {endpoint} to {topic_arn} already exists."
        )
    subscription = backend.subscribe(topic_arn, endpoint, protocol)
    try:
        _subscription_set(backend, subscription, {}, desired)
    except Exception:
        backend.unsubscribe(subscription.arn)
        raise
    return subscription.arn


def _subscription_set(backend, subscription, current, wanted):
    for key in SNS_SUBSCRIPTION_ATTRIBUTES:
        if wanted.get(key, _MISSING) == current.get(key, _MISSING):
            continue
        value = wanted.get(key)
        if key == "ReplayPolicy":
            subscription.attributes[key] = None if value is None else _json_text(value)
        elif value is None:
            backend.set_subscription_attributes(subscription.arn, key, "false" if key == "RawMessageDelivery" else "")
        else:
            backend.set_subscription_attributes(subscription.arn, key, _subscription_attribute(value))


def _subscription_read(ctx, identifier):
    subscription = _sns(ctx).subscriptions.get(identifier)
    if subscription is None:
        return None
    attributes = subscription.attributes
    model = {
        "Arn": subscription.arn,
        "TopicArn": subscription.topic.arn,
        "Protocol": subscription.protocol,
        "Endpoint": subscription.endpoint,
        "RawMessageDelivery": _as_bool(attributes.get("RawMessageDelivery", False)),
    }
    for key in ("FilterPolicy", "DeliveryPolicy", "RedrivePolicy", "ReplayPolicy"):
        if attributes.get(key):
            model[key] = _json_value(attributes[key])
    if "FilterPolicy" in model:
        model["FilterPolicyScope"] = attributes.get("FilterPolicyScope") or "MessageAttributes"
    if attributes.get("SubscriptionRoleArn"):
        model["SubscriptionRoleArn"] = attributes["SubscriptionRoleArn"]
    return model


def _subscription_update(ctx, identifier, current, wanted):
    backend = _sns(ctx)
    _subscription_set(backend, backend.subscriptions[identifier], current, wanted)


def _subscription_delete(ctx, identifier):
    if identifier not in _sns(ctx).subscriptions:
        raise HandlerFailed("NotFound", _not_found("AWS::SNS::Subscription", identifier))
    _sns(ctx).unsubscribe(identifier)


def _subscription_list(ctx):
    return list(_sns(ctx).subscriptions)


# ── AWS::DynamoDB::Table on moto's DynamoDB: an extension of moto, not moto ─
# Created with moto/dynamodb/models/table.py Table.create_from_cloudformation_json
# (DynamoDBBackend.create_table from KeySchema, AttributeDefinitions,
# BillingMode, ProvisionedThroughput, the indexes, StreamSpecification,
# SSESpecification, Tags, DeletionProtectionEnabled); the identifier is
# Table.physical_resource_id, the TableName; Arn and StreamArn are the
# table's table_arn and its stream. That model hands SSESpecification to
# the Table as it is, but Table keeps DynamoDB's API shape ({Enabled,
# SSEType, KMSMasterKeyId}: Table.describe reads `Enabled`), so the
# front translates Cloud Control's {SSEEnabled, SSEType, KMSMasterKeyId}.
# PointInTimeRecoverySpecification goes through
# DynamoDBBackend.update_continuous_backups and TimeToLiveSpecification
# through update_time_to_live, which that model ignores. Read back from the
# Table (what DescribeTable, DescribeContinuousBackups and
# ListTagsOfResource show): SSESpecification {SSEEnabled, SSEType when set,
# KMSMasterKeyId unless it is the AWS managed key moto filled in
# (inferred: what was declared reads back the same)}, or {SSEEnabled:
# false}; PointInTimeRecoverySpecification {PointInTimeRecoveryEnabled,
# RecoveryPeriodInDays when on}; ProvisionedThroughput only when
# PROVISIONED. Updates go through DynamoDBBackend.update_table (attribute
# definitions, billing, throughput, global index Create/Update/Delete,
# deletion protection), update_continuous_backups, update_time_to_live,
# tag_resource and untag_resource; SSE and streams are set on the Table,
# as moto's update_table does neither (streams: moto refuses to change an
# enabled stream, where DynamoDB disables and enables). A changed KeySchema
# (conditionally create-only in the schema) or LocalSecondaryIndexes fail
# NotUpdatable, as DynamoDB cannot change them in place. Deleted with
# Table.delete_from_cloudformation_json (a table with deletion protection
# stays, InvalidRequest).

DYNAMODB_KEYS = ("AttributeName", "KeyType")


def _dynamodb(ctx):
    return dynamodb_backends[ctx["account"]][ctx["region"]]


def _native_sse(spec):
    if not spec or not spec.get("SSEEnabled"):
        return None
    native = {"Enabled": True}
    if spec.get("SSEType"):
        native["SSEType"] = spec["SSEType"]
    if spec.get("KMSMasterKeyId"):
        native["KMSMasterKeyId"] = spec["KMSMasterKeyId"]
    return native


def _table_create(ctx, desired):
    backend = _dynamodb(ctx)
    name = desired.get("TableName") or _random_name("AWS::DynamoDB::Table")
    if name in backend.tables:
        raise HandlerFailed("AlreadyExists", _already_exists("AWS::DynamoDB::Table", name))
    defined = {a.get("AttributeName") for a in desired.get("AttributeDefinitions") or []}
    if any(k.get("AttributeName") not in defined for k in desired.get("KeySchema") or []):
        raise HandlerFailed(
            "InvalidRequest",
            "One or more parameter values were invalid: "
            "Some index key attributes are not defined in AttributeDefinitions.",
        )
    properties = dict(desired)
    properties["SSESpecification"] = _native_sse(desired.get("SSESpecification"))
    table = Table.create_from_cloudformation_json(name, {"Properties": properties}, ctx["account"], ctx["region"])
    try:
        pitr = desired.get("PointInTimeRecoverySpecification")
        if pitr and pitr.get("PointInTimeRecoveryEnabled"):
            backend.update_continuous_backups(name, pitr)
        ttl = desired.get("TimeToLiveSpecification")
        if ttl:
            backend.update_time_to_live(name, ttl)
    except Exception:
        backend.tables.pop(name, None)
        raise
    return table.physical_resource_id


def _aws_managed_key(ctx):
    from moto.kms import kms_backends

    kms = kms_backends[ctx["account"]][ctx["region"]]
    if not kms.alias_exists("alias/aws/dynamodb"):
        return None
    return kms.describe_key("alias/aws/dynamodb").arn


def _gsi(index, provisioned):
    out = {
        "IndexName": index.name,
        "KeySchema": copy.deepcopy(index.schema),
        "Projection": copy.deepcopy(index.projection),
    }
    if provisioned:
        out["ProvisionedThroughput"] = {
            k: index.throughput[k] for k in ("ReadCapacityUnits", "WriteCapacityUnits") if k in index.throughput
        }
    return out


def _table_read(ctx, identifier):
    table = _dynamodb(ctx).tables.get(identifier)
    if table is None:
        return None
    billing = table.billing_mode or "PROVISIONED"
    model = {
        "TableName": table.name,
        "Arn": table.table_arn,
        "KeySchema": copy.deepcopy(table.schema),
        "AttributeDefinitions": copy.deepcopy(table.attr),
        "BillingMode": billing,
    }
    provisioned = billing == "PROVISIONED"
    if provisioned:
        model["ProvisionedThroughput"] = {
            k: table.throughput[k] for k in ("ReadCapacityUnits", "WriteCapacityUnits") if k in table.throughput
        }
    if table.global_indexes:
        model["GlobalSecondaryIndexes"] = [_gsi(i, provisioned) for i in table.global_indexes]
    if table.indexes:
        model["LocalSecondaryIndexes"] = [_gsi(i, False) for i in table.indexes]
    stream = table.stream_specification or {}
    if stream.get("StreamEnabled"):
        model["StreamSpecification"] = {"StreamViewType": stream.get("StreamViewType")}
        model["StreamArn"] = table.get_cfn_attribute("StreamArn")
    sse = table.sse_specification or {}
    if sse.get("Enabled"):
        spec = {"SSEEnabled": True}
        if sse.get("SSEType"):
            spec["SSEType"] = sse["SSEType"]
        key = sse.get("KMSMasterKeyId")
        if key and key != _aws_managed_key(ctx):
            spec["KMSMasterKeyId"] = key
        model["SSESpecification"] = spec
    else:
        model["SSESpecification"] = {"SSEEnabled": False}
    recovery = table.continuous_backups["PointInTimeRecoveryDescription"]
    pitr = {"PointInTimeRecoveryEnabled": recovery.get("PointInTimeRecoveryStatus") == "ENABLED"}
    if pitr["PointInTimeRecoveryEnabled"] and "RecoveryPeriodInDays" in recovery:
        pitr["RecoveryPeriodInDays"] = recovery["RecoveryPeriodInDays"]
    model["PointInTimeRecoverySpecification"] = pitr
    model["DeletionProtectionEnabled"] = bool(table.deletion_protection_enabled)
    if table.ttl.get("TimeToLiveStatus") == "ENABLED":
        model["TimeToLiveSpecification"] = {"AttributeName": table.ttl.get("AttributeName"), "Enabled": True}
    if table.tags:
        model["Tags"] = copy.deepcopy(table.tags)
    return model


def _gsi_updates(current, wanted):
    before = {i["IndexName"]: i for i in current or []}
    after = {i["IndexName"]: i for i in wanted or []}
    updates = [{"Delete": {"IndexName": n}} for n in before if n not in after]
    for name, index in after.items():
        if name not in before:
            updates.append({"Create": copy.deepcopy(index)})
        elif index != before[name]:
            if {k: index.get(k) for k in ("KeySchema", "Projection")} != {
                k: before[name].get(k) for k in ("KeySchema", "Projection")
            }:
                updates += [{"Delete": {"IndexName": name}}, {"Create": copy.deepcopy(index)}]
            else:
                updates.append({"Update": copy.deepcopy(index)})
    return updates


def _table_update(ctx, identifier, current, wanted):
    backend = _dynamodb(ctx)
    table = backend.tables[identifier]
    for key in ("KeySchema", "LocalSecondaryIndexes"):
        if wanted.get(key) != current.get(key):
            raise HandlerFailed("NotUpdatable", f"{key} of table {identifier} cannot be changed in place")
    differs = lambda key: wanted.get(key, _MISSING) != current.get(key, _MISSING)  # noqa: E731
    billing = wanted.get("BillingMode", "PROVISIONED")
    backend.update_table(
        name=identifier,
        attr_definitions=wanted.get("AttributeDefinitions") if differs("AttributeDefinitions") else None,
        global_index=_gsi_updates(current.get("GlobalSecondaryIndexes"), wanted.get("GlobalSecondaryIndexes")),
        throughput=copy.deepcopy(wanted.get("ProvisionedThroughput")) if differs("ProvisionedThroughput") else None,
        billing_mode=billing if differs("BillingMode") else None,
        stream_spec=None,
        deletion_protection_enabled=bool(wanted.get("DeletionProtectionEnabled", False))
        if differs("DeletionProtectionEnabled")
        else None,
        warm_throughput=None,
    )
    if differs("StreamSpecification"):
        table.latest_stream_label = None
        table.stream_shard = None
        table.set_stream_specification(copy.deepcopy(wanted.get("StreamSpecification")))
    if differs("PointInTimeRecoverySpecification"):
        backend.update_continuous_backups(
            identifier, wanted.get("PointInTimeRecoverySpecification") or {"PointInTimeRecoveryEnabled": False}
        )
    if differs("SSESpecification"):
        table.sse_specification = _native_sse(wanted.get("SSESpecification"))
        if table.sse_specification and "KMSMasterKeyId" not in table.sse_specification:
            table.sse_specification["KMSMasterKeyId"] = table._get_default_encryption_key(
                ctx["account"], ctx["region"]
            )
    if differs("TimeToLiveSpecification"):
        ttl = wanted.get("TimeToLiveSpecification") or {
            "AttributeName": table.ttl.get("AttributeName", ""),
            "Enabled": False,
        }
        backend.update_time_to_live(identifier, ttl)
    to_set, to_remove = _tag_changes(current.get("Tags"), wanted.get("Tags"))
    if to_set or to_remove:
        backend.untag_resource(table.table_arn, list(to_set) + to_remove)
    if to_set:
        backend.tag_resource(table.table_arn, to_set)


def _table_delete(ctx, identifier):
    if identifier not in _dynamodb(ctx).tables:
        raise HandlerFailed("NotFound", _not_found("AWS::DynamoDB::Table", identifier))
    Table.delete_from_cloudformation_json(identifier, {"Properties": {}}, ctx["account"], ctx["region"])


def _table_list(ctx):
    return list(_dynamodb(ctx).tables)


NATIVE = {
    "AWS::SQS::Queue": {
        "create": _sqs_create,
        "read": _sqs_read,
        "update": _sqs_update,
        "delete": _sqs_delete,
        "list": _sqs_list,
    },
    "AWS::SNS::Topic": {
        "create": _topic_create,
        "read": _topic_read,
        "update": _topic_update,
        "delete": _topic_delete,
        "list": _topic_list,
    },
    "AWS::SNS::Subscription": {
        "create": _subscription_create,
        "read": _subscription_read,
        "update": _subscription_update,
        "delete": _subscription_delete,
        "list": _subscription_list,
    },
    "AWS::DynamoDB::Table": {
        "create": _table_create,
        "read": _table_read,
        "update": _table_update,
        "delete": _table_delete,
        "list": _table_list,
    },
}


# ── Types the front keeps ──────────────────────────────────────────────────


def _kept(ctx, type_name):
    return _KEPT.setdefault((ctx["account"], ctx["region"], type_name), {})


def _identifier(schema, type_name, model):
    values = []
    for name in _primary(schema):
        value = model.get(name)
        if value in (None, ""):
            raise HandlerFailed("InvalidRequest", f"{type_name}: primary identifier property [{name}] has no value")
        values.append(str(value))
    return "|".join(values)


def _label(schema, type_name, model):
    """The name or id an ARN ends with."""
    resource = type_name.split("::")[-1]
    for key in ["Name", f"{resource}Name"] + _primary(schema) + ["Id"]:
        value = model.get(key)
        if isinstance(value, str) and value and not value.startswith("arn:"):
            return value
    return uuid.uuid4().hex


def _generated(ctx, schema, type_name, model):
    """`model` with the read-only properties (and a primary-identifier name
    left out) a handler would fill in."""
    model = copy.deepcopy(model)
    read_only = [p[0] for p in _paths(schema, "readOnlyProperties") if len(p) == 1]
    props = schema.get("properties") or {}

    def kind(name):
        kinds = _resolve(schema, props.get(name, {})).get("type")
        return kinds[0] if isinstance(kinds, list) and kinds else kinds

    for name in _primary(schema):
        if name not in read_only and name not in model and kind(name) == "string":
            model[name] = _random_name(type_name)
    later = []
    for name in read_only:
        if name in model:
            continue
        if kind(name) == "string" and (name == "Id" or name.endswith("Id")):
            model[name] = str(uuid.uuid4())
        else:
            later.append(name)
    _, service, resource = type_name.split("::")
    for name in later:
        value_kind = kind(name)
        if value_kind == "string":
            if name.endswith("Name"):
                model[name] = _label(schema, type_name, model)
            elif name.endswith(("Arn", "ARN")):
                model[name] = (
                    f"arn:{get_partition(ctx['region'])}:{service.lower()}:{ctx['region']}:{ctx['account']}:"
                    f"{resource.lower()}/{_label(schema, type_name, model)}"
                )
            elif name.endswith(("At", "Time", "Date", "Timestamp")):
                model[name] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            else:
                model[name] = f"{name}-{uuid.uuid4().hex[:12]}"
        elif value_kind in ("integer", "number"):
            model[name] = 0
        elif value_kind == "boolean":
            model[name] = False
    return model


# ── Operations ─────────────────────────────────────────────────────────────


def _member(body, name):
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise CloudControlError("InvalidRequestException", f"{name} is required")
    return value


def _json_member(body, name):
    try:
        return json.loads(_member(body, name))
    except ValueError as e:
        raise CloudControlError("InvalidRequestException", f"{name} is not valid JSON: {e}")


def _read(ctx, type_name, schema, identifier):
    """The resource's model as a read answers it, or None."""
    native = NATIVE.get(type_name)
    if native:
        model = native["read"](ctx, identifier)
    else:
        model = copy.deepcopy(_kept(ctx, type_name).get(identifier))
    return None if model is None else _readable(schema, model)


def create_resource(ctx, body):
    replay = _replayed(ctx, "CreateResource", body)
    if replay:
        return replay
    type_name = _member(body, "TypeName")
    schema = _schema(type_name)
    _handler(schema, "create", type_name)
    desired = _json_member(body, "DesiredState")
    _validate(schema, desired)
    given = [
        "/properties/" + "/".join(parts)
        for parts in _paths(schema, "readOnlyProperties")
        if _get_path(desired, parts) is not _MISSING
    ]
    if given:
        raise CloudControlError(
            "InvalidRequestException",
            f"Invalid request: readOnlyProperties [{', '.join(given)}] cannot be set in a DesiredState",
        )

    def run():
        native = NATIVE.get(type_name)
        if native:
            identifier = native["create"](ctx, copy.deepcopy(desired))
        else:
            model = _generated(ctx, schema, type_name, desired)
            identifier = _identifier(schema, type_name, model)
            kept = _kept(ctx, type_name)
            if identifier in kept:
                raise HandlerFailed("AlreadyExists", _already_exists(type_name, identifier))
            kept[identifier] = model
        return identifier, _read(ctx, type_name, schema, identifier)

    return _record(ctx, "CreateResource", body, type_name, None, desired, run)


def get_resource(ctx, body):
    type_name = _member(body, "TypeName")
    identifier = _member(body, "Identifier")
    schema = _schema(type_name)
    _handler(schema, "read", type_name)
    model = _read(ctx, type_name, schema, identifier)
    if model is None:
        raise CloudControlError("ResourceNotFoundException", _not_found(type_name, identifier))
    return {
        "TypeName": type_name,
        "ResourceDescription": {"Identifier": identifier, "Properties": json.dumps(model)},
    }


def update_resource(ctx, body):
    replay = _replayed(ctx, "UpdateResource", body)
    if replay:
        return replay
    type_name = _member(body, "TypeName")
    identifier = _member(body, "Identifier")
    schema = _schema(type_name)
    _handler(schema, "update", type_name)
    patch = _json_member(body, "PatchDocument")
    current = _read(ctx, type_name, schema, identifier)
    if current is None:
        raise CloudControlError("ResourceNotFoundException", _not_found(type_name, identifier))
    _not_busy(ctx, type_name, identifier)
    try:
        wanted = _apply_patch(current, patch)
    except _PatchError as e:
        raise CloudControlError("InvalidRequestException", f"Invalid patch document: {e}")
    create_only = _changed(schema, "createOnlyProperties", current, wanted)
    if create_only:
        raise CloudControlError(
            "NotUpdatableException",
            f"Invalid patch update: createOnlyProperties [{', '.join(create_only)}] cannot be updated",
        )
    read_only = _changed(schema, "readOnlyProperties", current, wanted)
    if read_only:
        raise CloudControlError(
            "InvalidRequestException",
            f"Invalid patch update: readOnlyProperties [{', '.join(read_only)}] cannot be updated",
        )
    _validate(schema, wanted, optional={p[0] for p in _paths(schema, "writeOnlyProperties") if len(p) == 1})

    def run():
        native = NATIVE.get(type_name)
        if native:
            native["update"](ctx, identifier, current, copy.deepcopy(wanted))
        else:
            kept = _kept(ctx, type_name)
            if identifier not in kept:
                raise HandlerFailed("NotFound", _not_found(type_name, identifier))
            kept[identifier] = copy.deepcopy(wanted)
        return identifier, _read(ctx, type_name, schema, identifier)

    return _record(ctx, "UpdateResource", body, type_name, identifier, wanted, run)


def delete_resource(ctx, body):
    replay = _replayed(ctx, "DeleteResource", body)
    if replay:
        return replay
    type_name = _member(body, "TypeName")
    identifier = _member(body, "Identifier")
    schema = _schema(type_name)
    _handler(schema, "delete", type_name)
    _not_busy(ctx, type_name, identifier)

    def run():
        native = NATIVE.get(type_name)
        if native:
            native["delete"](ctx, identifier)
        elif _kept(ctx, type_name).pop(identifier, None) is None:
            raise HandlerFailed("NotFound", _not_found(type_name, identifier))
        return identifier, None

    return _record(ctx, "DeleteResource", body, type_name, identifier, None, run)


def _page(items, body, default_size):
    try:
        start = int(body.get("NextToken") or 0)
    except ValueError:
        raise CloudControlError("InvalidRequestException", f"Invalid NextToken {body.get('NextToken')!r}")
    size = body.get("MaxResults") or default_size
    page = items[start : start + size]
    return page, (str(start + size) if start + size < len(items) else None)


def list_resources(ctx, body):
    type_name = _member(body, "TypeName")
    schema = _schema(type_name)
    _handler(schema, "list", type_name)
    wanted = _json_member(body, "ResourceModel") if body.get("ResourceModel") else {}
    if not isinstance(wanted, dict):
        raise CloudControlError("InvalidRequestException", "ResourceModel is not a JSON object")
    needed = ((schema["handlers"]["list"] or {}).get("handlerSchema") or {}).get("required") or []
    missing = [name for name in needed if name not in wanted]
    if missing:
        raise CloudControlError(
            "InvalidRequestException",
            f"Missing Or Invalid ResourceModel property in {type_name} list handler request input. "
            f"Required property: [{', '.join(missing)}]",
        )
    native = NATIVE.get(type_name)
    identifiers = native["list"](ctx) if native else list(_kept(ctx, type_name))
    found = []
    for identifier in identifiers:
        model = _read(ctx, type_name, schema, identifier)
        if model is not None and all(model.get(k) == v for k, v in wanted.items()):
            found.append({"Identifier": identifier, "Properties": json.dumps(model)})
    page, next_token = _page(found, body, 100)
    out = {"TypeName": type_name, "ResourceDescriptions": page}
    if next_token:
        out["NextToken"] = next_token
    return out


def _own_request(ctx, body):
    token = _member(body, "RequestToken")
    request = _REQUESTS.get(token)
    if request is None or (request["account"], request["region"]) != (ctx["account"], ctx["region"]):
        raise CloudControlError("RequestTokenNotFoundException", f"Request with token {token} was not found")
    return request


def get_resource_request_status(ctx, body):
    return {"ProgressEvent": _event(_own_request(ctx, body))}


def list_resource_requests(ctx, body):
    wanted = body.get("ResourceRequestStatusFilter") or {}
    operations = wanted.get("Operations")
    statuses = wanted.get("OperationStatuses")
    summaries = []
    for token in reversed(_REQUEST_ORDER):
        request = _REQUESTS[token]
        if (request["account"], request["region"]) != (ctx["account"], ctx["region"]):
            continue
        event = _event(request, as_sent=True)
        if operations and event["Operation"] not in operations:
            continue
        if statuses and event["OperationStatus"] not in statuses:
            continue
        summaries.append(event)
    page, next_token = _page(summaries, body, 20)
    out = {"ResourceRequestStatusSummaries": page}
    if next_token:
        out["NextToken"] = next_token
    return out


def cancel_resource_request(ctx, body):
    request = _own_request(ctx, body)
    status = _status(request)
    if status not in ("PENDING", "IN_PROGRESS"):
        raise CloudControlError(
            "ConcurrentModificationException",
            f"Request {request['event']['RequestToken']} is {status}; "
            "only PENDING or IN_PROGRESS requests can be cancelled",
        )
    request["cancelled"] = True
    return {"ProgressEvent": _event(request)}


OPERATIONS = {
    "CreateResource": create_resource,
    "GetResource": get_resource,
    "UpdateResource": update_resource,
    "DeleteResource": delete_resource,
    "ListResources": list_resources,
    "GetResourceRequestStatus": get_resource_request_status,
    "ListResourceRequests": list_resource_requests,
    "CancelResourceRequest": cancel_resource_request,
}


# ── The WSGI hook ──────────────────────────────────────────────────────────


def _context(environ):
    """The account and region of a request, as moto works them out
    (BaseResponse.get_current_account: MOTO_ACCOUNT_ID, then the
    x-moto-account-id header, then the access key's account)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    found = re.search(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/", auth)
    access_key, region = (found.group(1), found.group(2)) if found else (None, "us-east-1")
    account = (
        os.environ.get("MOTO_ACCOUNT_ID")
        or environ.get("HTTP_X_MOTO_ACCOUNT_ID")
        or (get_account_id_from(access_key) if access_key else DEFAULT_ACCOUNT_ID)
    )
    return {"account": account, "region": region}


def _answer(environ):
    operation = environ.get("HTTP_X_AMZ_TARGET", "").split(".", 1)[1]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        body = json.loads(raw or b"{}")
        if not isinstance(body, dict):
            raise ValueError("the body is not a JSON object")
    except ValueError as e:
        return 400, {"__type": "SerializationException", "Message": str(e)}
    serve = OPERATIONS.get(operation)
    if serve is None:
        return 400, {"__type": "UnknownOperationException", "Message": f"Unknown operation {operation}"}
    try:
        with _LOCK:
            return 200, serve(_context(environ), body)
    except CloudControlError as e:
        return e.status, {"__type": e.kind, "Message": e.message}
    except Exception as e:  # a bug here: say so rather than hang the caller
        traceback.print_exc(file=sys.stderr)
        return 500, {"__type": "ServiceInternalErrorException", "Message": f"{type(e).__name__}: {e}"}


_dispatch = DomainDispatcherApplication.__call__


def _call(self, environ, start_response):
    if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("CloudApiService."):
        return _dispatch(self, environ, start_response)
    status, payload = _answer(environ)
    body = json.dumps(payload).encode("utf-8")
    start_response(
        f"{status} {'OK' if status == 200 else 'Bad Request' if status == 400 else 'Internal Server Error'}",
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ],
    )
    return [body]


DomainDispatcherApplication.__call__ = _call
