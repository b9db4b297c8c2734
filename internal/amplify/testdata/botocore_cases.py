"""Prints, for every AmplifyBackend operation in botocore's own model, what
botocore sends and what boto3 parses, as one JSON document on stdout.

For each operation: an input with every member set (PascalCase, as in the
boto3 Request Syntax), the request botocore serializes for it (method,
escaped path, body, content type), a response body with every output member
set (wire names), and the output boto3 parses from that body. The Go test
replays each case through our client and compares.
"""
import json
import sys

import botocore.session
from botocore import xform_name
from botocore.parsers import RestJSONParser


def example(shape, name, wire):
    """A value for shape with every member set; wire=True uses wire names."""
    t = shape.type_name
    if t == "structure":
        out = {}
        for mname, mshape in shape.members.items():
            key = mshape.serialization.get("name", mname) if wire else mname
            out[key] = example(mshape, mname, wire)
        return out
    if t == "list":
        return [example(shape.member, name, wire)]
    if t == "string":
        if shape.enum:
            return shape.enum[-1]
        # Body strings go through JSON as they are, "/" and "%" included.
        return name + " v/1+%"
    if t == "boolean":
        return True
    if t in ("integer", "long"):
        lo = shape.metadata.get("min", 1)
        return max(lo, 3) if shape.metadata.get("max", 100) >= 3 else lo
    if t == "double":
        return 1.5
    raise SystemExit("unhandled shape type %s" % t)


def label_example(name):
    """A value for a member bound to a URI label (or named like one: our
    client holds those to the label rules too) that our client accepts (no
    "/", "%", whitespace or control characters; app ids lowercase letters
    and digits) and that still needs escaping: reserved and non-ASCII
    characters, next to unreserved ones that must stay as they are."""
    if name == "AppId":
        return "d1abc23def"
    return name + ".v1~+:@!\u00e9"


def main():
    session = botocore.session.get_session()
    client = session.create_client(
        "amplifybackend",
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    )
    model = client.meta.service_model
    captured = {}

    def capture(request, **kwargs):
        captured["req"] = request
        raise StopIteration  # never send

    client.meta.events.register("before-send.amplifybackend.*", capture)
    label_members = {
        mname
        for op_name in model.operation_names
        if model.operation_model(op_name).input_shape
        for mname, mshape in model.operation_model(op_name).input_shape.members.items()
        if mshape.serialization.get("location") == "uri"
    }
    cases = []
    for op_name in model.operation_names:
        op = model.operation_model(op_name)
        params = example(op.input_shape, op_name, False) if op.input_shape else {}
        for mname in params:
            if mname in label_members:
                params[mname] = label_example(mname)
        try:
            getattr(client, xform_name(op_name))(**params)
        except StopIteration:
            pass
        req = captured.pop("req")
        url = req.url.split("amazonaws.com", 1)[1]
        body = req.body
        if isinstance(body, bytes):
            body = body.decode()
        response_body = example(op.output_shape, op_name, True) if op.output_shape else {}
        parsed = RestJSONParser().parse(
            {"status_code": 200, "headers": {}, "body": json.dumps(response_body).encode()},
            op.output_shape,
        )
        parsed.pop("ResponseMetadata", None)
        members = sorted(op.input_shape.members) if op.input_shape else []
        cases.append({
            "operation": op_name,
            "snakeName": xform_name(op_name),
            "input": params,
            "inputMembers": members,
            "method": req.method,
            "path": url,
            "body": body or "",
            "contentType": (req.headers.get("Content-Type") or b"").decode() if isinstance(req.headers.get("Content-Type"), bytes) else (req.headers.get("Content-Type") or ""),
            "authorization": req.headers["Authorization"].decode() if isinstance(req.headers["Authorization"], bytes) else req.headers["Authorization"],
            "responseBody": response_body,
            "output": parsed,
        })
    json.dump({"operations": cases}, sys.stdout)


if __name__ == "__main__":
    main()
