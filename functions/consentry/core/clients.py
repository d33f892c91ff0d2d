"""AWS clients made by botocore's own session, for the functions that need one at every
request and nothing of boto3 but the client.

`boto3.client` builds a botocore client from a botocore session; for EventBridge and
SESv2 it adds nothing else. Importing boto3 loads its resource layer, its S3 transfer
manager and, through them, multiprocessing: about 16 ms on the functions' runtime, an
eighth of `import boto3` itself, at every cold start, for nothing these clients use.
botocore is loaded already (pynamodb's connection is made of it), and so are the
credential chain and the X-Ray patch, which both hook botocore.

The data bucket keeps boto3 (consentry.core.bucket): its managed transfers
(`upload_fileobj`, `download_fileobj`) are boto3's.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def client(service: str, region: str) -> Any:
    """The `service` client of `region`, one per execution environment."""
    return _session().create_client(service, region_name=region)
