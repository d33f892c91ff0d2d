"""Releases and resets that fall due with time take effect when they fall due: every
reader computes them from the stored dates and its clock, whether the daily job has
tidied the address or not. (The analysis reads are in test_analysis_pipeline.py, the
recipient pages in test_landing_pages.py.)"""

import pytest

from tests.integration.conftest import ApiCall
from tests.integration.helpers import seed_overdue_counter, seed_released_by_time

ADDRESS = "full.mailbox@example.com"


def verdict(api: ApiCall, address: str, message_class: str) -> tuple[str, str | None]:
    response = api(
        "POST",
        "/v1/checks",
        json_body={
            "items": [
                {
                    "profileId": "p1",
                    "address": address,
                    "channel": "email",
                    "messageClass": message_class,
                }
            ]
        },
    )
    assert response["statusCode"] == 200, response["body"]
    (result,) = response["json"]["results"]
    return result["verdict"], result["reason"]


@pytest.mark.parametrize("message_class", ["marketing", "transactional"])
def test_checks_allow_a_mailbox_full_quarantine_once_its_release_date_passed(
    api: ApiCall, message_class: str
) -> None:
    seed_released_by_time(ADDRESS, released_days_ago=1)
    seed_released_by_time("still.full@example.com", released_days_ago=-1)

    assert verdict(api, ADDRESS, message_class) == ("allowed", None)
    assert verdict(api, "still.full@example.com", message_class) == (
        "blocked",
        "address_quarantined",
    )


def test_an_address_read_after_its_release_date_is_valid(api: ApiCall) -> None:
    seed_released_by_time(ADDRESS)

    read = api("GET", f"/v1/addresses/email/{ADDRESS}")["json"]

    assert (read["status"], read["errorStatus"], read["errorCount"], read["releaseAt"]) == (
        "valid",
        "valid",
        0,
        None,
    )


def test_a_counter_past_its_reset_window_reads_as_reset(api: ApiCall) -> None:
    seed_overdue_counter(ADDRESS, days_ago=26)
    seed_overdue_counter("recent@example.com", days_ago=3)

    overdue = api("GET", f"/v1/addresses/email/{ADDRESS}")["json"]
    recent = api("GET", "/v1/addresses/email/recent@example.com")["json"]

    assert (overdue["status"], overdue["errorCount"], overdue["lastErrorAt"]) == ("valid", 0, None)
    assert (recent["status"], recent["errorCount"]) == ("erroneous", 4)


def test_lists_leave_out_what_time_released(api: ApiCall) -> None:
    seed_released_by_time(ADDRESS)
    seed_released_by_time("still.full@example.com", released_days_ago=-1)
    seed_overdue_counter("overdue@example.com")
    seed_overdue_counter("recent@example.com", days_ago=3)

    quarantined = api("GET", "/v1/addresses", query={"status": "quarantine"})["json"]
    erroneous = api("GET", "/v1/addresses", query={"status": "erroneous"})["json"]

    assert [i["address"] for i in quarantined["items"]] == ["still.full@example.com"]
    assert [i["address"] for i in erroneous["items"]] == ["recent@example.com"]


def test_a_profiles_export_shows_its_address_as_it_is_now(api: ApiCall) -> None:
    api("PUT", "/v1/profiles/p1", json_body={"addresses": {"email": ADDRESS}, "locale": "en"})
    seed_released_by_time(ADDRESS)

    exported = api("GET", "/v1/profiles/p1/export")["json"]

    assert [(a["address"], a["status"]) for a in exported["addresses"]] == [(ADDRESS, "valid")]
