"""The local stack: `python -m infra.local` (`make run`).

One process: moto's server on 127.0.0.1 holding every resource of template.yaml in
memory, the template's functions run in-process behind moto's Lambda invoke, an SQS
poller for each SQS event source, and an HTTP server that turns each request into an
API Gateway proxy event for the same `lambda_handler` that runs on AWS. Nothing here
re-implements product logic: it only wires.

Modules: `template` (load and resolve template.yaml), `resources` (create them in
moto), `environment` (the process environment), `aws` (moto's server and its
switches), `lambdas` (invoke routing, context), `sqs` (event-source pollers),
`http_adapter` (proxy events), `demo` (seed data and links), `__main__` (arguments
and wiring).
"""
