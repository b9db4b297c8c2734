"""Transforms a SAM template to CloudFormation with aws-sam-translator, offline.

Usage: python3 sam_translate.py TEMPLATE [Name=Value ...]

Prints the CloudFormation template as JSON. Name=Value pairs are parameter
values. The managed-policy loader is a stub, so no AWS call is made: the
translator only needs it for policies named by managed-policy name, which
template.yaml does not use. Local CodeUri paths are replaced by S3 URIs first,
as `sam deploy` does after uploading the built code (the translator accepts
nothing else).
"""

import json
import os
import sys

# Pseudo parameters (AWS::Region, AWS::Partition) come from the boto session;
# fix them so that the output does not depend on the machine's AWS config.
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_REGION"] = "us-east-1"
os.environ.setdefault("AWS_CONFIG_FILE", os.devnull)
os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", os.devnull)

from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402


class StubManagedPolicyLoader(ManagedPolicyLoader):
    """Answers from a fixed map instead of listing IAM's managed policies."""

    POLICIES = {
        "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "AWSLambdaSQSQueueExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
        "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    }

    def __init__(self):
        super().__init__(iam_client=None)

    def load(self):
        return dict(self.POLICIES)


def as_packaged(template):
    """Points each function's local CodeUri at S3, as `sam package` would."""
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.setdefault("Properties", {})
        uri = props.get("CodeUri", template.get("Globals", {}).get("Function", {}).get("CodeUri"))
        if isinstance(uri, str) and not uri.startswith("s3://"):
            props["CodeUri"] = f"s3://jobwatch-artifacts/{logical_id}.zip"


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        template = yaml_parse(f.read())
    params = {}
    for arg in argv[2:]:
        name, sep, value = arg.partition("=")
        if not sep:
            print(f"sam_translate: {arg!r} is not Name=Value", file=sys.stderr)
            return 2
        params[name] = value
    as_packaged(template)
    out = transform(template, params, StubManagedPolicyLoader())
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
