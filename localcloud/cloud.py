"""moto's server in this process, holding the template's table and signing key.

Server mode (not ``mock_aws``): the handlers, the stream poller and a test
process all reach the same AWS over real HTTP on loopback, the DynamoDB
Streams API included.  Every request passes ``AwsGate`` (awsgate.py):
DynamoDB's atomicity, which moto's threaded server lacks, and injected faults.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from localcloud.awsgate import AwsGate
from localcloud.events import REGION
from localcloud.template import signing_key_definitions, table_definition, table_ttl_attribute

STACK_NAME = "qrlogin-local"
# moto accepts any credentials; fixed fake ones keep a real AWS account out of reach.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "localcloud",
    "AWS_SECRET_ACCESS_KEY": "localcloud",
    "AWS_SESSION_TOKEN": "localcloud",
}


@dataclass(frozen=True)
class Resources:
    """Physical ids of what the template declares, as moto made them."""

    endpoint: str
    table_name: str
    table_arn: str
    stream_arn: str
    # Every KMS key the parameters make (SigningKey, and RsaSigningKey in kms mode): logical id -> ARN.
    key_arns: dict[str, str]

    @property
    def key_arn(self) -> str:
        """The signing key's ARN (SigningKey: the one key every mode makes)."""
        return self.key_arns["SigningKey"]


class LocalCloud:
    def __init__(self, template: dict[str, Any], host: str = "127.0.0.1") -> None:
        self.template = template
        self.host = host
        self.gate = AwsGate()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.resources: Resources | None = None

    def start(self, parameters: dict[str, str] | None = None) -> Resources:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per AWS call
        # What moto's ThreadedMotoServer does, with the gate in front of its application.
        self._server = make_server(self.host, 0, self.gate.wrap(DomainDispatcherApplication(create_backend_app)),
                                   threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        endpoint = f"http://{host}:{port}"
        dynamodb = client("dynamodb", endpoint)
        table_name = f"{STACK_NAME}-SessionsTable"
        table = dynamodb.create_table(**table_definition(self.template, table_name))["TableDescription"]
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"AttributeName": table_ttl_attribute(self.template), "Enabled": True},
        )
        kms = client("kms", endpoint)
        key_arns = {name: kms.create_key(**definition)["KeyMetadata"]["Arn"]
                    for name, definition in signing_key_definitions(self.template, parameters).items()}
        self.resources = Resources(
            endpoint=endpoint,
            table_name=table_name,
            table_arn=table["TableArn"],
            stream_arn=table["LatestStreamArn"],
            key_arns=key_arns,
        )
        return self.resources

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for moto, independent of the process environment."""
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )
