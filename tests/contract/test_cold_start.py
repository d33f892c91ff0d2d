"""What importing a handler loads: what every request it serves needs, not what only some
requests do (those import it when they come). Each handler is imported as Lambda does,
in a fresh interpreter with the environment the template gives it (infra.runtime)."""

import json
import textwrap
from pathlib import Path

import pytest

from infra.local.template import load_template
from infra.runtime import ROOT, TEMPLATE, base_env, function_envs, run_fresh

ON_DEMAND = (
    "aws_xray_sdk",  # tracing is off
    "aws_lambda_powertools.event_handler.openapi.models",  # Swagger UI, 404/405 answers
    "aws_lambda_powertools.utilities.idempotency",  # operations that change something
    "aws_lambda_powertools.utilities.parameters",  # link keys, the profile-id key
    "boto3",  # S3's client is made at its first use; others from botocore (core.clients)
    "jinja2",  # pages
    "email_validator",  # addresses off the fast path
    "phonenumbers",
    "cryptography",  # sealed links
    "itsdangerous",  # links of before sealing
    "email.policy",  # multipart one-click unsubscribes
    "consentry.addresses.feedback",  # SES and SMS feedback, parsed
    # Powertools' resolvers and event classes we do not use (consentry.core.cold_start)
    "aws_lambda_powertools.event_handler.appsync",
    "aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event",
    "asyncio",
)
HANDLERS = sorted({module for module, _ in function_envs(load_template(TEMPLATE)).values()})
EVERY_REQUEST: dict[str, frozenset[str]] = {
    # every message; Powertools' batch processor loads asyncio for its async variant
    "quarantine.handler": frozenset({"consentry.addresses.feedback", "asyncio"}),
}
"""What a handler's every request needs of ON_DEMAND, so it may load it at init."""
ROUTES_ON_DEMAND = {
    "console.handler": ("console.routes.", {"console.routes.session"}),  # signing in
    "consent.handler": ("consent.routes.", set()),
    "landing.handler": ("landing.routes.", set()),
}
"""A handler's route modules, and those of them every request needs."""
CHANGES_ONLY = ("landing.signup", "consentry.privacy.erasure", "consentry.addresses.counting")
"""What only a landing page that changes something loads: confirmations of sign-ups,
an erasure (the quarantine's counting comes with both)."""
LANDING_VIEWS = ("landing.routes.assets", "landing.routes.preferences", "landing.routes.one_click")
SHAPES_AT_INIT: frozenset[str] = frozenset()  # a 410's body: with the profiles' shapes
SHAPES_OF_EVERY_SECTION = frozenset({"errors"})
"""What every section's routes load: the error shape their documented answers name (the
handler writes error bodies without it)."""
SHAPES_OF_SECTION = {
    # an export holds all three; an erased profile's answer is the 410's body
    "consent.routes.profiles": {"profiles", "addresses", "services", "erasure", "fields"},
    "consent.routes.services": {"services", "fields"},
    "consent.routes.checks": {"checks"},
    "consent.routes.imports": {"imports"},
    "consent.routes.addresses": {"addresses", "fields"},
    "consent.routes.links": {"links"},
    "consent.routes.analyses": {"analyses"},
    "consent.routes.metrics": {"metrics"},
}
"""The operator API's shapes (`consent.schemas.<section>`) a section's routes load."""
NO_PYDANTIC_AT_INIT = frozenset(
    {
        "publisher.handler",
        "suppression.handler",
        "quarantine.schedule",
        "analyze.plan",
        "analyze.snapshot",
        "analyze.count",
        "analyze.partition",
        "analyze.classify",
        "analyze.assemble",
        "analyze.summarize",
        "analyze.record_failure",
        "landing.handler",
        "consent.schedule",
        "consent.import_job",
        "console.handler",
        "quarantine.handler",
    }
)
"""The functions whose every value is plain (a stream record, the change it publishes or
asks of SES, the addresses a daily run settles), written by the steps themselves (the
plan, a task, a result: msgspec structs), built by the consent rules from what a
signed link or the tables hold (the landing, the services' daily end), read with
msgspec (SES's notifications, Plan's input) or by the import rules (an import's rows,
in a run kept apart from the API's operations), so their init does not load pydantic.
The landing loads it for an erasure request (not a sign-up); the publisher with the
fingerprints, for a batch with an address change; the console with the pages that
read or change through the API's logic (all but signing in and out). Summarize and
RecordFailure write the record as a plain document."""
ERASED_ADDRESS_READERS = frozenset({"analyze.plan"})
"""The steps that read erased addresses at every run (Plan's snapshot); Classify loads
their fingerprints only for a suppression that holds some."""
NO_PROFILE = "consentry.consent.rules"
"""The consent rules: a step that reads no profile takes only the contract's causes."""
NEEDS_NOT = {
    "analyze.count": ("pynamodb", "consentry.analysis.run", NO_PROFILE),  # a range, in S3
    "analyze.record_failure": ("consentry.analysis.run", NO_PROFILE),  # the error, the tally
    "analyze.partition": (NO_PROFILE,),  # the audience's ranges
    "analyze.assemble": (NO_PROFILE,),  # the shards' verdicts
    "analyze.summarize": (NO_PROFILE,),  # the shards' counts
    # an S3 object in, rows read by the import rules: no HTTP, no API command
    "consent.import_job": (
        "aws_lambda_powertools.event_handler",
        "consent.api",
        "consent.commands",
        "consent.logic.imports",
    ),
    "publisher.handler": ("aws_lambda_powertools.utilities.data_classes",),  # plain records
}
"""What no request of a handler reads (a table, the plan, profiles, HTTP routing), so it
must not load."""
SECTIONS_ONLY = (
    "consentry.consent.rules",
    "consentry.consent.tokens",
    "consentry.privacy.fingerprints",
    "consentry.addresses.counting",
    "consentry.addresses.status",
    "consentry.core.pagination",
    "consent.commands",
)
"""What some sections of the operator API need and the others do not (the consent
rules, links' tokens, erased addresses' fingerprints, the quarantine's policy, paging,
the models of what is sent and answered): loaded by the first request for such a
section, not at init."""


def loaded_after(code: str, module: str) -> dict[str, object]:
    """Run `code` (which prints JSON) in a fresh interpreter, in `module`'s environment."""
    env = {**base_env(), **dict(function_envs(load_template(TEMPLATE)).values())[module]}
    found: dict[str, object] = json.loads(run_fresh(code, env).splitlines()[-1])
    return found


@pytest.mark.parametrize("module", HANDLERS)
def test_a_handler_imports_nothing_that_only_some_requests_need(module: str) -> None:
    wanted = [name for name in ON_DEMAND if name not in EVERY_REQUEST.get(module, frozenset())]
    code = (
        f"import json, sys; import {module}; "
        f"print(json.dumps({{'loaded': [m for m in {wanted!r} if m in sys.modules]}}))"
    )

    assert loaded_after(code, module)["loaded"] == []


@pytest.mark.parametrize("module", sorted(ROUTES_ON_DEMAND))
def test_a_handler_imports_the_routes_of_a_section_at_its_first_request(module: str) -> None:
    prefix, every_request = ROUTES_ON_DEMAND[module]
    code = (
        f"import json, sys; import {module}; "
        f"print(json.dumps({{'loaded': sorted(m for m in sys.modules "
        f"if m.startswith({prefix!r}))}}))"
    )

    assert loaded_after(code, module)["loaded"] == sorted(every_request)


@pytest.mark.parametrize("routes", LANDING_VIEWS)
def test_a_landing_section_loads_nothing_only_changes_need(routes: str) -> None:
    code = (
        f"import json, sys; import landing.handler, {routes}; "
        f"print(json.dumps({{'loaded': [m for m in {CHANGES_ONLY!r} if m in sys.modules]}}))"
    )

    assert loaded_after(code, "landing.handler")["loaded"] == []


def test_a_sign_up_loads_no_pydantic() -> None:
    """A sign-up checks its address against erased addresses' fingerprints; what it
    finds is a plain value, so the landing's heaviest section loads no pydantic."""
    code = (
        "import json, sys; import landing.handler, landing.routes.subscribe, landing.signup; "
        "from consentry.privacy import fingerprints; "
        "print(json.dumps({'loaded': sorted(m for m in sys.modules if m.startswith('pydantic'))}))"
    )

    assert loaded_after(code, "landing.handler")["loaded"] == []


def test_every_section_of_the_operator_api_says_which_shapes_it_loads() -> None:
    routes = (ROOT / "functions" / "consent" / "routes").glob("*.py")

    assert set(SHAPES_OF_SECTION) == {f"consent.routes.{p.stem}" for p in routes} - {
        "consent.routes.__init__"
    }


def test_the_operator_api_loads_no_section_s_logic_at_init() -> None:
    code = (
        "import json, sys; import consent.handler; "
        f"print(json.dumps({{'loaded': [m for m in {SECTIONS_ONLY!r} if m in sys.modules]}}))"
    )

    assert loaded_after(code, "consent.handler")["loaded"] == []


@pytest.mark.parametrize("routes", sorted(SHAPES_OF_SECTION))
def test_a_section_of_the_operator_api_loads_its_own_shapes(routes: str) -> None:
    code = (
        f"import json, sys; import consent.handler; "
        f"at_init = sorted(m for m in sys.modules if m.startswith('consent.schemas.')); "
        f"import {routes}; "
        f"print(json.dumps({{'at_init': at_init, 'loaded': sorted(m for m in sys.modules "
        f"if m.startswith('consent.schemas.'))}}))"
    )

    found = loaded_after(code, "consent.handler")

    assert found["at_init"] == sorted(f"consent.schemas.{name}" for name in SHAPES_AT_INIT)
    expected = SHAPES_AT_INIT | SHAPES_OF_EVERY_SECTION | SHAPES_OF_SECTION[routes]
    assert found["loaded"] == sorted(f"consent.schemas.{name}" for name in expected)


@pytest.mark.parametrize("module", HANDLERS)
def test_a_handler_builds_no_model_of_ours_at_init(module: str) -> None:
    """Each model is built at its first use (`defer_build`); what every request uses
    that is built by our own code is a dataclass (the settings, the quarantine's
    policy), so no request's model is built before it comes."""
    code = f"""
import json, sys
import {module}
from pydantic import BaseModel
def subclasses(model):
    for subclass in model.__subclasses__():
        yield subclass
        yield from subclasses(subclass)
ours = ("consent", "consentry", "console", "landing", "analyze", "quarantine",
        "suppression", "publisher")
print(json.dumps({{"built": sorted({{model.__name__ for model in subclasses(BaseModel)
    if model.__pydantic_complete__ and model.__module__.split(".")[0] in ours}})}}))
"""

    built = loaded_after(code, module)["built"]

    assert built == []


@pytest.mark.parametrize("module", sorted(NO_PYDANTIC_AT_INIT))
def test_a_function_of_plain_values_loads_no_pydantic_at_init(module: str) -> None:
    code = (
        f"import json, sys; import {module}; "
        "print(json.dumps({'loaded': sorted(m for m in sys.modules if m.startswith('pydantic'))}))"
    )

    assert loaded_after(code, module)["loaded"] == []


@pytest.mark.parametrize(
    "module",
    [m for m in HANDLERS if m.startswith("analyze.") and m not in ERASED_ADDRESS_READERS],
)
def test_a_step_that_reads_no_erased_address_does_not_load_their_store(module: str) -> None:
    code = (
        f"import json, sys; import {module}; "
        "print(json.dumps({'loaded': 'consentry.privacy.fingerprints' in sys.modules}))"
    )

    assert loaded_after(code, module)["loaded"] is False


@pytest.mark.parametrize(("module", "unneeded"), sorted(NEEDS_NOT.items()))
def test_a_handler_loads_nothing_that_no_request_of_it_reads(
    module: str, unneeded: tuple[str, ...]
) -> None:
    code = (
        f"import json, sys; import {module}; "
        f"print(json.dumps({{'loaded': [m for m in {unneeded!r} if m in sys.modules]}}))"
    )

    assert loaded_after(code, module)["loaded"] == []


def test_the_operator_api_serves_swagger_ui_registered_at_its_first_request() -> None:
    code = """
import json, sys
from consent.handler import app
before = "aws_lambda_powertools.event_handler.openapi.models" in sys.modules
event = {"httpMethod": "GET", "path": "/v1/swagger", "resource": "/v1/swagger",
         "headers": {}, "multiValueHeaders": {},
         "requestContext": {"stage": "prod", "path": "/prod/v1/swagger"}}
response = app.resolve(event, None)
print(json.dumps({"before": before, "status": response["statusCode"],
                  "type": response["multiValueHeaders"]["Content-Type"][0],
                  "spec": '"/v1/profiles/{profileId}/consent"' in response["body"]}))
"""

    answer = loaded_after(code, "consent.handler")

    assert answer == {"before": False, "status": 200, "type": "text/html", "spec": True}


@pytest.mark.parametrize("module", HANDLERS)
def test_a_handler_loads_with_the_collector_paused_and_leaves_it_on(module: str) -> None:
    """`consentry.core.cold_start` first, `loaded()` last: no collection runs between
    them (each would walk every object the import has made, to free next to none), and
    what the import made is frozen, so the first collection after it has none to walk."""
    code = (
        "import gc, json, sys\n"
        "started = []\n"
        "def note(phase, info):\n"
        "    if phase == 'start':\n"
        # paused once the module has run to its gc.disable() (a collection may still
        # come while the import system reads the module itself, before its first line)
        "        module = sys.modules.get('consentry.core.cold_start')\n"
        "        paused = hasattr(module, '_WAS_ENABLED')\n"
        "        frozen = gc.get_freeze_count()\n"
        "        when = 'after' if frozen else 'during' if paused else 'before'\n"
        "        started.append(when)\n"
        "gc.callbacks.append(note)\n"
        f"import {module}\n"
        "left = sum(len(gc.get_objects(generation)) for generation in range(3))\n"
        "print(json.dumps({'before': started.count('before'), 'during': started.count('during'),\n"
        "                  'enabled': gc.isenabled(),\n"
        "                  'frozen': gc.get_freeze_count(), 'left': left}))\n"
    )

    found = loaded_after(code, module)

    assert (found["during"], found["enabled"]) == (0, True)
    assert isinstance(found["before"], int)
    assert found["before"] <= 1  # the module, its package and ours: a few hundred objects
    assert isinstance(found["frozen"], int)
    assert isinstance(found["left"], int)
    assert found["left"] * 20 < found["frozen"], found


POWERTOOLS_PACKAGES = (
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.data_classes",
)
POWERTOOLS_NAMES = """
import importlib, importlib.resources, json, sys
def named(value):
    if isinstance(value, type(sys)):
        return "module " + value.__name__
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', value)!s}"
found = {}
for package in %r:
    # a module of the package imported before its names: data classes' `event_source`
    # is a module and, in the package, the decorator that module holds
    importlib.import_module(package + ".event_source" if "data_classes" in package
                            else package + ".content_types")
    loaded = importlib.import_module(package)
    found[package] = {
        "names": {name: named(getattr(loaded, name)) for name in loaded.__all__},
        "doc": loaded.__doc__,
        "files": sorted(item.name for item in importlib.resources.files(package).iterdir()),
        "dir": sorted(set(dir(loaded)) & set(loaded.__all__)) == sorted(loaded.__all__),
        "private": hasattr(loaded, "_no_such_name"),
    }
print(json.dumps(found))
"""


def test_powertools_packages_loaded_without_their_init_offer_the_same_names() -> None:
    """Every name of both packages' `__all__` is the same class, function or module
    whether the package's `__init__` ran or the name was imported at its first use,
    even for a name that is also a module of the package; the docstring, the package's
    files and `dir()` are the same too."""
    env = base_env()
    as_shipped = json.loads(
        run_fresh(POWERTOOLS_NAMES % (POWERTOOLS_PACKAGES,), env).splitlines()[-1]
    )
    on_demand = json.loads(
        run_fresh(
            "from consentry.core import cold_start\n" + POWERTOOLS_NAMES % (POWERTOOLS_PACKAGES,),
            env,
        ).splitlines()[-1]
    )

    assert on_demand == as_shipped
    handlers, events = (as_shipped[package] for package in POWERTOOLS_PACKAGES)
    assert len(handlers["names"]) >= 15
    assert len(events["names"]) >= 40
    assert not events["names"]["event_source"].startswith("module ")  # the decorator
    assert len(handlers["files"]) > 10
    assert handlers["private"] is events["private"] is False


def test_powertools_package_inits_only_import_names() -> None:
    """What lets an unknown name be an AttributeError without running the `__init__`
    (`hasattr`, `getattr` with a default): a Powertools upgrade whose `__init__` does
    more is still served whole, and fails here so that we look at what it does."""
    code = f"""
import importlib, json
from consentry.core import cold_start
print(json.dumps([importlib.import_module(package).__spec__.loader.defines_more
                  for package in {POWERTOOLS_PACKAGES!r}]))
"""

    assert json.loads(run_fresh(code, base_env()).splitlines()[-1]) == [False, False]


def test_a_name_of_a_package_without_its_init_is_imported_at_its_first_use() -> None:
    code = """
import json, sys
from consentry.core import cold_start
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, content_types
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
import aws_lambda_powertools.event_handler as handlers
unknown = getattr(handlers, "_no_such_name", "default")
resolver = "aws_lambda_powertools.event_handler.appsync" in sys.modules
events = "aws_lambda_powertools.utilities.data_classes.sqs_event" in sys.modules
asyncio = "asyncio" in sys.modules
from aws_lambda_powertools.event_handler import AppSyncResolver
from aws_lambda_powertools.utilities.data_classes import SQSEvent
try:
    handlers.NoSuchResolver
    missing = "found"
except AttributeError:
    missing = "AttributeError"
print(json.dumps({
    "before": [resolver, events, asyncio, unknown],
    "after": [AppSyncResolver.__module__, SQSEvent.__module__],
    "module": content_types.__name__,
    "missing": missing,
}))
"""

    found = json.loads(run_fresh(code, base_env()).splitlines()[-1])

    assert found == {
        "before": [False, False, False, "default"],
        "after": [
            "aws_lambda_powertools.event_handler.appsync",
            "aws_lambda_powertools.utilities.data_classes.sqs_event",
        ],
        "module": "aws_lambda_powertools.event_handler.content_types",
        "missing": "AttributeError",
    }


def test_a_name_its_init_defines_itself_runs_the_whole_init_once(tmp_path: Path) -> None:
    """A package whose `__init__` also defines names (Powertools' two do not, today):
    those run the `__init__` at their first use, once; a module it imports while it
    runs sees what it has defined so far, as in any package; an unknown name is an
    AttributeError as before."""
    package = tmp_path / "sample"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from .parts import PART
            from . import extra
            RUNS = __import__("sample.counter").counter.bump()
            from .early import EARLY
            DEFINED = PART + 1
            """
        )
    )
    (package / "parts.py").write_text("PART = 41\n")
    (package / "extra.py").write_text("EXTRA = True\n")
    (package / "early.py").write_text(
        "import sample\nEARLY = (hasattr(sample, 'RUNS'), hasattr(sample, 'DEFINED'))\n"
    )
    (package / "counter.py").write_text(
        "count = 0\ndef bump():\n    global count\n    count += 1\n    return count\n"
    )
    code = f"""
import json, sys
sys.path.insert(0, {str(tmp_path)!r})
from consentry.core import cold_start
cold_start.NAMES_ON_DEMAND = cold_start.NAMES_ON_DEMAND | {{"sample"}}
import sample
part = sample.PART
init_ran = "sample.counter" in sys.modules
extra = sample.extra.EXTRA
first, again = sample.DEFINED, sample.RUNS
try:
    sample.UNKNOWN
    unknown = "found"
except AttributeError:
    unknown = "AttributeError"
print(json.dumps([part, init_ran, extra, first, again, sys.modules["sample.counter"].count,
                  sample.EARLY, unknown]))
"""

    found = json.loads(run_fresh(code, base_env()).splitlines()[-1])

    assert found == [41, False, True, 42, 1, 1, [True, False], "AttributeError"]
